#include "connectors/redis/redis_heartbeat.h"

#include <utility>

#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_info.h"

namespace tandem::connectors::redis {
namespace {

std::string Where(const engine::ConnectionConfig& config, const std::string& key) {
  return config.Redacted() + " (key " + key + ")";
}

class RedisHeartbeatWriter : public engine::HeartbeatWriter {
 public:
  RedisHeartbeatWriter(std::unique_ptr<Connection> connection, engine::HeartbeatWriterId writer_id)
      : connection_(std::move(connection)), key_(HeartbeatKey(writer_id)) {}

  engine::Status Prepare() override {
    TANDEM_ASSIGN_OR_RETURN(Reply info, connection_->Command({"INFO", "replication"}));
    const InfoFields fields = InfoFields::Parse(info.text);
    if (fields.Get("role").value_or("master") != "master") {
      return engine::FailedPrecondition("the source " + connection_->server() +
                                        " is a replica: the heartbeat must be written on the "
                                        "master it replicates from");
    }
    return engine::Status::Ok();
  }

  engine::Status Write(const engine::Heartbeat& beat) override {
    return connection_
        ->Command({"SET", key_, std::to_string(beat.sequence) + " " + std::to_string(beat.sent_ns),
                   "PX", "3600000"})
        .status();
  }

  engine::Status Remove() override { return connection_->Command({"DEL", key_}).status(); }

  std::string Describe() const override { return Where(connection_->config(), key_); }

 private:
  std::unique_ptr<Connection> connection_;
  const std::string key_;
};

class RedisHeartbeatReader : public engine::HeartbeatReader {
 public:
  RedisHeartbeatReader(std::unique_ptr<Connection> connection, engine::HeartbeatWriterId writer_id)
      : connection_(std::move(connection)), key_(HeartbeatKey(writer_id)) {}

  engine::Status Prepare() override { return engine::Status::Ok(); }

  engine::Result<std::optional<int64_t>> ReadSequence() override {
    TANDEM_ASSIGN_OR_RETURN(Reply value, connection_->Command({"GET", key_}));
    if (value.is_nil()) {
      return std::optional<int64_t>();
    }
    std::optional<int64_t> sequence = ParseHeartbeatValue(value.text);
    if (!sequence) {
      return engine::Corruption("the heartbeat key " + key_ + " on " + connection_->server() +
                                " does not hold '<seq> <sent_ns>': something else wrote it");
    }
    return sequence;
  }

  std::string Describe() const override { return Where(connection_->config(), key_); }

 private:
  std::unique_ptr<Connection> connection_;
  const std::string key_;
};

}  // namespace

std::string HeartbeatKey(engine::HeartbeatWriterId writer_id) {
  return "_tandem:heartbeat:" + std::to_string(writer_id);
}

std::optional<int64_t> ParseHeartbeatValue(std::string_view value) {
  const size_t space = value.find(' ');
  if (space == std::string_view::npos || !ParseInt64(value.substr(space + 1))) {
    return std::nullopt;
  }
  std::optional<int64_t> sequence = ParseInt64(value.substr(0, space));
  if (!sequence || *sequence <= 0) {
    return std::nullopt;
  }
  return sequence;
}

engine::Result<std::unique_ptr<engine::HeartbeatWriter>> OpenRedisHeartbeatWriter(
    const engine::ConnectionConfig& source, engine::HeartbeatWriterId writer_id) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, Connection::Open(source));
  return std::unique_ptr<engine::HeartbeatWriter>(
      new RedisHeartbeatWriter(std::move(connection), writer_id));
}

engine::Result<std::unique_ptr<engine::HeartbeatReader>> OpenRedisHeartbeatReader(
    const engine::ConnectionConfig& target, engine::HeartbeatWriterId writer_id) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, Connection::Open(target));
  return std::unique_ptr<engine::HeartbeatReader>(
      new RedisHeartbeatReader(std::move(connection), writer_id));
}

}  // namespace tandem::connectors::redis
