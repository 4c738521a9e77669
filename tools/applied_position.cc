#include "tools/applied_position.h"

#include <memory>

#include "connectors/mysql/mysql_change_applier.h"
#include "connectors/postgres/postgres_change_applier.h"
#include "connectors/redis/redis_change_applier.h"
#include "engine/change_pipeline.h"

namespace tandem::tools {

namespace {

engine::Result<std::unique_ptr<engine::ChangeApplier>> OpenApplier(
    const engine::ConnectionConfig& target) {
  switch (target.engine) {
    case engine::EngineKind::kPostgres:
      return connectors::postgres::OpenPostgresChangeApplier(target);
    case engine::EngineKind::kRedis: {
      TANDEM_ASSIGN_OR_RETURN(auto applier, connectors::redis::RedisChangeApplier::Open(target));
      return std::unique_ptr<engine::ChangeApplier>(std::move(applier));
    }
    case engine::EngineKind::kMySql:
      break;
  }
  return connectors::mysql::OpenMySqlChangeApplier(target);
}

}  // namespace

engine::Result<AppliedPositionReader> OpenAppliedPositionReader(
    const engine::ConnectionConfig& target, const std::string& stream) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<engine::ChangeApplier> opened, OpenApplier(target));
  std::shared_ptr<engine::ChangeApplier> applier = std::move(opened);
  return AppliedPositionReader([applier, stream]() -> engine::Result<engine::Position> {
    TANDEM_ASSIGN_OR_RETURN(auto checkpoint, engine::ReadResumePosition(*applier, stream));
    if (!checkpoint) return engine::Position{};
    return checkpoint->position;
  });
}

}  // namespace tandem::tools
