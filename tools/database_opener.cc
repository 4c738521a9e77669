#include "tools/database_opener.h"

#include "connectors/mysql/mysql_database.h"
#include "connectors/postgres/postgres_database.h"
#include "connectors/redis/redis_database.h"

namespace tandem::tools {

engine::Result<std::unique_ptr<engine::Database>> OpenDatabase(
    const engine::ConnectionConfig& config) {
  auto upcast = [](auto result) -> engine::Result<std::unique_ptr<engine::Database>> {
    if (!result.ok()) {
      return result.status();
    }
    return std::unique_ptr<engine::Database>(std::move(*result));
  };
  switch (config.engine) {
    case engine::EngineKind::kMySql:
      return upcast(connectors::mysql::OpenMySqlDatabase(config));
    case engine::EngineKind::kPostgres:
      return upcast(connectors::postgres::OpenPostgresDatabase(config));
    case engine::EngineKind::kRedis:
      return upcast(connectors::redis::OpenRedisDatabase(config));
  }
  return engine::Internal("no connector for this engine");
}

}  // namespace tandem::tools
