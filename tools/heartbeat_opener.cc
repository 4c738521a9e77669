#include "tools/heartbeat_opener.h"

#include "connectors/mysql/mysql_heartbeat.h"
#include "connectors/mysql/mysql_replication_probe.h"
#include "connectors/postgres/postgres_heartbeat.h"
#include "connectors/postgres/postgres_replication_probe.h"
#include "connectors/redis/redis_heartbeat.h"
#include "connectors/redis/redis_replication_probe.h"

namespace tandem::tools {

engine::Result<std::unique_ptr<engine::HeartbeatWriter>> OpenHeartbeatWriter(
    const engine::ConnectionConfig& source, engine::HeartbeatWriterId writer_id) {
  switch (source.engine) {
    case engine::EngineKind::kMySql:
      return connectors::mysql::OpenMySqlHeartbeatWriter(source, writer_id);
    case engine::EngineKind::kPostgres:
      return connectors::postgres::OpenPostgresHeartbeatWriter(source, writer_id);
    case engine::EngineKind::kRedis:
      return connectors::redis::OpenRedisHeartbeatWriter(source, writer_id);
  }
  return engine::Internal("no heartbeat writer for this engine");
}

engine::Result<std::unique_ptr<engine::HeartbeatReader>> OpenHeartbeatReader(
    const engine::ConnectionConfig& target, engine::HeartbeatWriterId writer_id) {
  switch (target.engine) {
    case engine::EngineKind::kMySql:
      return connectors::mysql::OpenMySqlHeartbeatReader(target, writer_id);
    case engine::EngineKind::kPostgres:
      return connectors::postgres::OpenPostgresHeartbeatReader(target, writer_id);
    case engine::EngineKind::kRedis:
      return connectors::redis::OpenRedisHeartbeatReader(target, writer_id);
  }
  return engine::Internal("no heartbeat reader for this engine");
}

engine::Result<std::unique_ptr<engine::ReplicationProbe>> OpenReplicationProbe(
    const engine::ConnectionConfig& source, const engine::ConnectionConfig& target) {
  if (source.engine != target.engine) {
    return engine::Unsupported(std::string("no native replication from ") +
                               std::string(engine::EngineKindName(source.engine)) + " to " +
                               std::string(engine::EngineKindName(target.engine)) +
                               ": positional lag is not shown");
  }
  switch (source.engine) {
    case engine::EngineKind::kMySql:
      return connectors::mysql::OpenMySqlReplicationProbe(source, target);
    case engine::EngineKind::kPostgres:
      return connectors::postgres::OpenPostgresReplicationProbe(source, target);
    case engine::EngineKind::kRedis:
      return connectors::redis::OpenRedisReplicationProbe(source, target);
  }
  return engine::Internal("no replication probe for this engine");
}

}  // namespace tandem::tools
