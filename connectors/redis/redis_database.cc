#include "connectors/redis/redis_database.h"

#include <utility>

#include "connectors/redis/redis_assessment.h"
#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_info.h"
#include "connectors/redis/redis_keyspace_verification.h"
#include "connectors/redis/redis_write_freeze.h"

namespace tandem::connectors::redis {
namespace {

using engine::Result;

class RedisDatabase final : public engine::KeyValueDatabase {
 public:
  explicit RedisDatabase(std::unique_ptr<Connection> connection)
      : connection_(std::move(connection)),
        keyspace_verification_(connection_.get()),
        write_freeze_(connection_.get()) {}

  const engine::ConnectionConfig& config() const override { return connection_->config(); }

  Result<engine::ServerInfo> DescribeServer() override {
    TANDEM_ASSIGN_OR_RETURN(InfoFields info, Info("server"));
    engine::ServerInfo server;
    server.product = info.Get("server_name") == "valkey" ? "Valkey" : "Redis";
    server.version = info.Get("redis_version").value_or("");
    std::optional<int> number = ParseVersionNumber(server.version);
    if (!number.has_value()) {
      return engine::Corruption(connection_->server() +
                                " reported no readable redis_version in "
                                "INFO server ('" +
                                server.version + "')");
    }
    server.version_number = *number;
    return server;
  }

  Result<std::chrono::nanoseconds> Ping() override {
    auto start = std::chrono::steady_clock::now();
    TANDEM_ASSIGN_OR_RETURN(Reply reply, connection_->Command({"PING"}));
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (reply.text != "PONG") {
      return engine::Corruption(connection_->server() + " answered PING with '" +
                                reply.DebugString() + "' instead of PONG");
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed);
  }

  Result<int64_t> ServerTimeMicros() override {
    TANDEM_ASSIGN_OR_RETURN(Reply reply, connection_->Command({"TIME"}));
    if (reply.type != ReplyType::kArray || reply.elements.size() != 2) {
      return engine::Corruption(connection_->server() + " answered TIME with '" +
                                reply.DebugString() + "' instead of [seconds, microseconds]");
    }
    std::optional<int64_t> seconds = ParseInt64(reply.elements[0].text);
    std::optional<int64_t> micros = ParseInt64(reply.elements[1].text);
    if (!seconds.has_value() || !micros.has_value() || *micros < 0 || *micros >= 1000000) {
      return engine::Corruption(connection_->server() + " answered TIME with '" +
                                reply.DebugString() + "' instead of [seconds, microseconds]");
    }
    return *seconds * 1000000 + *micros;
  }

  Result<engine::Assessment> Assess(engine::Role role) override {
    TANDEM_ASSIGN_OR_RETURN(ServerState state, GatherServerState(*connection_, role));
    return EvaluateServerState(state, role);
  }

  Result<std::vector<engine::KeyspaceInfo>> DescribeKeyspaces() override {
    TANDEM_ASSIGN_OR_RETURN(InfoFields info, Info("keyspace"));
    auto keyspaces = ParseKeyspace(info);
    if (!keyspaces.ok()) {
      return keyspaces.status().WithContext(connection_->server());
    }
    return keyspaces;
  }

  engine::KeyspaceVerification* keyspace_verification() override { return &keyspace_verification_; }

  engine::WriteFreeze* write_freeze() override { return &write_freeze_; }

 private:
  Result<InfoFields> Info(const std::string& section) {
    TANDEM_ASSIGN_OR_RETURN(Reply reply, connection_->Command({"INFO", section}));
    return InfoFields::Parse(reply.text);
  }

  std::unique_ptr<Connection> connection_;           // never null
  RedisKeyspaceVerification keyspace_verification_;  // over connection_
  RedisWriteFreeze write_freeze_;                    // over connection_
};

}  // namespace

Result<std::unique_ptr<engine::KeyValueDatabase>> OpenRedisDatabase(
    const engine::ConnectionConfig& config) {
  if (config.engine != engine::EngineKind::kRedis) {
    return engine::InvalidArgument("OpenRedisDatabase was given " + config.Redacted() +
                                   ", which is not a redis:// URI");
  }
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, Connection::Open(config));
  return std::unique_ptr<engine::KeyValueDatabase>(new RedisDatabase(std::move(connection)));
}

}  // namespace tandem::connectors::redis
