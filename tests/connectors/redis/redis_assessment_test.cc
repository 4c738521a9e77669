#include "connectors/redis/redis_assessment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::connectors::redis {
namespace {

using engine::Role;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

ServerState Healthy() {
  ServerState state;
  state.version = "7.0.15";
  state.version_number = 70015;
  state.redis_mode = "standalone";
  state.role = "master";
  state.repl_backlog_size = 256LL * 1024 * 1024;
  state.used_memory = 1 << 20;
  state.maxmemory_policy = "noeviction";
  state.rdb_last_bgsave_status = "ok";
  state.rdb_save = "3600 1";
  state.repl_diskless_sync = true;
  state.databases = 16;
  state.modules = std::vector<ModuleInfo>{};
  state.user = "tandem";
  state.permission_check = PermissionCheck::kDryRun;
  return state;
}

std::vector<std::string> Codes(const std::vector<engine::Finding>& findings) {
  std::vector<std::string> codes;
  for (const engine::Finding& finding : findings) {
    codes.push_back(finding.code);
  }
  return codes;
}

TEST(RedisAssessmentRules, HealthyPairHasNoFindings) {
  for (Role role : {Role::kSource, Role::kTarget}) {
    engine::Assessment assessment = EvaluateServerState(Healthy(), role);
    EXPECT_THAT(Codes(assessment.blockers), IsEmpty());
    EXPECT_THAT(Codes(assessment.warnings), IsEmpty());
  }
}

TEST(RedisAssessmentRules, FactsCarryIntegersForTheCallersComparisons) {
  ServerState state = Healthy();
  state.maxmemory = 100 << 20;
  state.keyspaces = {{0, 10, 2}, {3, 5, 0}};
  nlohmann::json facts = EvaluateServerState(state, Role::kSource).facts;
  EXPECT_EQ(facts["used_memory"], 1 << 20);
  EXPECT_EQ(facts["maxmemory"], 100 << 20);
  EXPECT_EQ(facts["version_number"], 70015);
  EXPECT_EQ(facts["databases"], 16);
  EXPECT_EQ(facts["keys"], 15);
  EXPECT_EQ(facts["keyspaces"][1]["database"], 3);
  EXPECT_EQ(facts["persistence"]["rdb_save"], "3600 1");
  EXPECT_EQ(facts["permission_check"], "acl dryrun");
  EXPECT_TRUE(facts["modules"].is_array());
  EXPECT_FALSE(facts.contains("master_host"));
}

TEST(RedisAssessmentRules, VersionBelowFourBlocksAndBelowSixWarns) {
  ServerState state = Healthy();
  state.version = "3.2.12";
  state.version_number = 30212;
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kSource).blockers),
              ElementsAre("redis_version_unsupported"));
  state.version = "5.0.14";
  state.version_number = 50014;
  engine::Assessment old = EvaluateServerState(state, Role::kSource);
  EXPECT_THAT(Codes(old.blockers), IsEmpty());
  EXPECT_THAT(Codes(old.warnings), ElementsAre("redis_version_old"));
  // The caller compares the target's version with the source's.
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kTarget).warnings), IsEmpty());
}

TEST(RedisAssessmentRules, ReplicaSourceWarnsAndReplicaTargetBlocks) {
  ServerState state = Healthy();
  state.role = "slave";
  state.master_host = "10.0.0.5";
  state.master_port = 6379;
  state.master_link_status = "up";
  engine::Assessment source = EvaluateServerState(state, Role::kSource);
  EXPECT_THAT(Codes(source.warnings), ElementsAre("redis_source_is_replica"));
  EXPECT_NE(source.warnings[0].message.find("10.0.0.5:6379"), std::string::npos);
  EXPECT_EQ(source.facts["master_link_status"], "up");
  engine::Assessment target = EvaluateServerState(state, Role::kTarget);
  EXPECT_THAT(Codes(target.blockers), ElementsAre("redis_target_is_replica"));
  EXPECT_EQ(target.blockers[0].fix, "REPLICAOF NO ONE on the target, or pick a standalone primary");
}

TEST(RedisAssessmentRules, NonEmptyTargetBlocksNamingTheDatabases) {
  ServerState state = Healthy();
  state.keyspaces = {{0, 3, 0}, {7, 2, 1}};
  engine::Assessment target = EvaluateServerState(state, Role::kTarget);
  ASSERT_THAT(Codes(target.blockers), ElementsAre("redis_target_not_empty"));
  EXPECT_NE(target.blockers[0].message.find("5 keys (3 in db0, 2 in db7)"), std::string::npos);
  EXPECT_EQ(target.blockers[0].fix, "FLUSHALL on the target, or pick an empty one");
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kSource).blockers), IsEmpty());
}

TEST(RedisAssessmentRules, EvictionPolicyWarnsOnlyWhenMaxmemoryIsSet) {
  ServerState state = Healthy();
  state.maxmemory_policy = "allkeys-lru";
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kSource).warnings), IsEmpty());
  state.maxmemory = 100 << 20;
  engine::Assessment source = EvaluateServerState(state, Role::kSource);
  ASSERT_THAT(Codes(source.warnings), ElementsAre("redis_eviction_policy"));
  EXPECT_NE(source.warnings[0].message.find("allkeys-lru with maxmemory 100.0 MiB"),
            std::string::npos);
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kTarget).warnings),
              ElementsAre("redis_eviction_policy"));
}

TEST(RedisAssessmentRules, EveryModuleOnTheSourceBlocks) {
  ServerState state = Healthy();
  state.modules = std::vector<ModuleInfo>{{"search", "20604"}, {"ReJSON", "20407"}};
  engine::Assessment source = EvaluateServerState(state, Role::kSource);
  ASSERT_THAT(Codes(source.blockers), ElementsAre("redis_module_loaded", "redis_module_loaded"));
  EXPECT_EQ(source.blockers[1].object, "module ReJSON");
  EXPECT_EQ(source.facts["modules"][0]["name"], "search");
  // On the target a module harms nothing tandem writes: a fact only.
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kTarget).blockers), IsEmpty());
  state.modules.reset();
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kSource).warnings),
              ElementsAre("redis_modules_unchecked"));
}

TEST(RedisAssessmentRules, DeniedCommandsBlockWithAGrantStatement) {
  ServerState state = Healthy();
  state.denied_commands = {"sync", "psync"};
  engine::Assessment source = EvaluateServerState(state, Role::kSource);
  ASSERT_THAT(Codes(source.blockers), ElementsAre("redis_missing_permission"));
  EXPECT_EQ(source.blockers[0].object, "user tandem");
  EXPECT_EQ(source.blockers[0].fix, "ACL SETUSER tandem +sync +psync");
  state.denied_commands = {"restore"};
  engine::Assessment target = EvaluateServerState(state, Role::kTarget);
  ASSERT_THAT(Codes(target.blockers), ElementsAre("redis_missing_permission"));
  EXPECT_EQ(target.blockers[0].fix, "ACL SETUSER tandem +restore ~*");
}

TEST(RedisAssessmentRules, UncheckablePermissionsWarn) {
  ServerState state = Healthy();
  state.permission_check = PermissionCheck::kUnchecked;
  state.permission_problem = "ACL GETUSER: NOPERM ...";
  engine::Assessment source = EvaluateServerState(state, Role::kSource);
  ASSERT_THAT(Codes(source.warnings), ElementsAre("redis_permissions_unchecked"));
  EXPECT_NE(source.warnings[0].message.find("sync, psync, replconf"), std::string::npos);
}

TEST(RedisAssessmentRules, SmallBacklogAndFailingBgsaveWarnOnTheSource) {
  ServerState state = Healthy();
  state.repl_backlog_size = 1 << 20;
  state.rdb_last_bgsave_status = "err";
  state.repl_diskless_sync = false;
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kSource).warnings),
              ElementsAre("redis_small_repl_backlog", "redis_bgsave_failing"));
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kTarget).warnings), IsEmpty());
  state.repl_diskless_sync = true;  // a diskless full resync does not BGSAVE to disk
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kSource).warnings),
              ElementsAre("redis_small_repl_backlog"));
}

TEST(RedisAssessmentRules, ClusterNodeBlocksBothSides) {
  ServerState state = Healthy();
  state.cluster_enabled = true;
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kSource).blockers),
              ElementsAre("redis_cluster_mode"));
  EXPECT_THAT(Codes(EvaluateServerState(state, Role::kTarget).blockers),
              ElementsAre("redis_cluster_mode"));
}

TEST(RedisAssessmentRules, RefusedConfigGetWarnsAndLeavesNulls) {
  ServerState state = Healthy();
  state.rdb_save.reset();
  state.repl_diskless_sync.reset();
  state.databases.reset();
  state.config_problem = "NOPERM this user has no permissions to run the 'config|get' command";
  engine::Assessment assessment = EvaluateServerState(state, Role::kTarget);
  EXPECT_THAT(Codes(assessment.warnings), ElementsAre("redis_config_unreadable"));
  EXPECT_TRUE(assessment.facts["databases"].is_null());
  EXPECT_TRUE(assessment.facts["persistence"]["rdb_save"].is_null());
}

}  // namespace
}  // namespace tandem::connectors::redis
