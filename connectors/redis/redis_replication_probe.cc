#include "connectors/redis/redis_replication_probe.h"

#include <string>
#include <utility>

#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_info.h"

namespace tandem::connectors::redis {
namespace {

// The value of `name` in a slaveN line
// "ip=127.0.0.1,port=6380,state=online,offset=42,lag=0".
std::string ReplicaLineField(const std::string& line, const std::string& name) {
  size_t start = 0;
  while (start < line.size()) {
    size_t end = line.find(',', start);
    if (end == std::string::npos) {
      end = line.size();
    }
    const std::string pair = line.substr(start, end - start);
    if (pair.rfind(name + "=", 0) == 0) {
      return pair.substr(name.size() + 1);
    }
    start = end + 1;
  }
  return "";
}

class RedisReplicationProbe : public engine::ReplicationProbe {
 public:
  RedisReplicationProbe(std::unique_ptr<Connection> source, std::unique_ptr<Connection> target)
      : source_(std::move(source)), target_(std::move(target)) {}

  engine::Result<engine::PositionalLag> Read() override {
    TANDEM_ASSIGN_OR_RETURN(Reply target_reply, target_->Command({"INFO", "replication"}));
    TANDEM_ASSIGN_OR_RETURN(Reply source_reply, source_->Command({"INFO", "replication"}));
    const InfoFields target = InfoFields::Parse(target_reply.text);
    const InfoFields source = InfoFields::Parse(source_reply.text);
    const std::string source_id = source.Get("master_replid").value_or("");
    if (target.Get("role").value_or("") == "slave" &&
        (target.GetInt("master_sync_in_progress").value_or(0) == 1 ||
         target.Get("master_link_status").value_or("") != "up") &&
        target.Get("master_replid").value_or("") != source_id) {
      // Until its first sync completes a replica still shows its own replication id; ask again.
      return engine::Unavailable("the target " + target_->server() +
                                 " is still synchronising with its master");
    }
    if (target.Get("role").value_or("") != "slave" ||
        target.Get("master_replid").value_or("") != source_id) {
      return engine::FailedPrecondition(
          "the target " + target_->server() + " is not a replica of the source " +
          source_->server() + " (role " + target.Get("role").value_or("?") + ", replication id " +
          target.Get("master_replid").value_or("?") + "; the source's is " + source_id + ")");
    }
    const int64_t source_offset = source.GetInt("master_repl_offset").value_or(0);
    const int64_t target_offset = target.GetInt("slave_repl_offset").value_or(0);
    engine::PositionalLag lag;
    lag.kind = "redis";
    lag.source_position = source_id + ":" + std::to_string(source_offset);
    lag.target_position = source_id + ":" + std::to_string(target_offset);
    lag.measures.push_back(
        {"processed", std::max<int64_t>(0, source_offset - target_offset), "bytes"});
    const std::string port = std::to_string(target_->config().port);
    const int64_t replicas = source.GetInt("connected_slaves").value_or(0);
    for (int64_t i = 0; i < replicas; ++i) {
      const std::string line = source.Get("slave" + std::to_string(i)).value_or("");
      if (ReplicaLineField(line, "port") == port) {
        if (auto acknowledged = ParseInt64(ReplicaLineField(line, "offset"))) {
          lag.measures.push_back(
              {"acknowledged", std::max<int64_t>(0, source_offset - *acknowledged), "bytes"});
        }
        break;
      }
    }
    const std::string link = target.Get("master_link_status").value_or("");
    if (link != "up") {
      lag.notes.push_back("the replica's link to its master is " + link);
    }
    return lag;
  }

 private:
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> target_;
};

}  // namespace

engine::Result<std::unique_ptr<engine::ReplicationProbe>> OpenRedisReplicationProbe(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target) {
  TANDEM_ASSIGN_OR_RETURN(auto source_connection, Connection::Open(source));
  TANDEM_ASSIGN_OR_RETURN(auto target_connection, Connection::Open(target));
  return std::unique_ptr<engine::ReplicationProbe>(
      new RedisReplicationProbe(std::move(source_connection), std::move(target_connection)));
}

}  // namespace tandem::connectors::redis
