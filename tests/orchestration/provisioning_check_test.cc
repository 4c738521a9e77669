// CompareSettings: phase 2's comparison of the target's settings with the source's, on the facts
// the connectors report, for each engine.
#include "orchestration/provisioning_check.h"

#include <gtest/gtest.h>

namespace tandem::orchestration {
namespace {

using nlohmann::json;

const engine::Finding* Find(const std::vector<engine::Finding>& findings,
                            const std::string& object) {
  for (const engine::Finding& finding : findings) {
    if (finding.object == object) return &finding;
  }
  return nullptr;
}

json MySqlFacts() {
  return {{"lower_case_table_names", 0},
          {"character_set_server", "utf8mb4"},
          {"collation_server", "utf8mb4_general_ci"},
          {"sql_mode", "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"},
          {"time_zone", "SYSTEM"},
          {"system_time_zone", "UTC"},
          {"max_allowed_packet", 16777216}};
}

TEST(ProvisioningCheck, EqualMySqlSettingsGiveNoFinding) {
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), MySqlFacts(), &found);
  EXPECT_TRUE(found.blockers.empty());
  EXPECT_TRUE(found.warnings.empty());
}

TEST(ProvisioningCheck, EachDifferingMySqlSettingIsABlockerWithItsFix) {
  json target = MySqlFacts();
  target["sql_mode"] = "";
  target["time_zone"] = "+02:00";
  target["character_set_server"] = "latin1";
  target["collation_server"] = "latin1_swedish_ci";
  target["lower_case_table_names"] = 1;
  target["max_allowed_packet"] = 1048576;
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), target, &found);
  EXPECT_EQ(found.blockers.size(), 6u);
  const engine::Finding* sql_mode = Find(found.blockers, "sql_mode");
  ASSERT_NE(sql_mode, nullptr);
  EXPECT_EQ(sql_mode->code, "mysql_setting_differs");
  EXPECT_NE(
      sql_mode->fix.find("SET GLOBAL sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'"),
      std::string::npos)
      << sql_mode->fix;
  const engine::Finding* zone = Find(found.blockers, "time_zone");
  ASSERT_NE(zone, nullptr);
  EXPECT_NE(zone->message.find("SYSTEM (UTC)"), std::string::npos) << zone->message;
  const engine::Finding* packet = Find(found.blockers, "max_allowed_packet");
  ASSERT_NE(packet, nullptr);
  EXPECT_NE(packet->fix.find("SET GLOBAL max_allowed_packet = 16777216"), std::string::npos);
  ASSERT_NE(Find(found.blockers, "lower_case_table_names"), nullptr);
}

TEST(ProvisioningCheck, ALargerMaxAllowedPacketOnTheTargetAndAMissingFactAreFine) {
  json target = MySqlFacts();
  target["max_allowed_packet"] = 67108864;
  target.erase("sql_mode");
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), target, &found);
  EXPECT_TRUE(found.blockers.empty()) << found.blockers.front().message;
}

TEST(ProvisioningCheck, SystemTimeZonesThatAgreeAreEqual) {
  json target = MySqlFacts();
  target["system_time_zone"] = "CET";
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), target, &found);
  ASSERT_EQ(found.blockers.size(), 1u);
  EXPECT_EQ(found.blockers[0].object, "time_zone");
  EXPECT_NE(found.blockers[0].fix.find("(UTC)"), std::string::npos) << found.blockers[0].fix;
}

TEST(ProvisioningCheck, PostgresEncodingCollationAndTimeZone) {
  const json source = {{"database", "shop"},
                       {"encoding", "UTF8"},
                       {"collate", "C.UTF-8"},
                       {"ctype", "C.UTF-8"},
                       {"time_zone", "UTC"}};
  json target = source;
  engine::Assessment same;
  CompareSettings(engine::EngineKind::kPostgres, source, target, &same);
  EXPECT_TRUE(same.blockers.empty());
  target["collate"] = "en_US.UTF-8";
  target["time_zone"] = "Europe/Berlin";
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kPostgres, source, target, &found);
  ASSERT_EQ(found.blockers.size(), 2u);
  const engine::Finding* collate = Find(found.blockers, "the database's LC_COLLATE");
  ASSERT_NE(collate, nullptr);
  EXPECT_NE(collate->fix.find("LC_COLLATE 'C.UTF-8'"), std::string::npos) << collate->fix;
  const engine::Finding* zone = Find(found.blockers, "TimeZone");
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(zone->fix,
            "ALTER DATABASE shop SET timezone = 'UTC'; (or ALTER SYSTEM SET timezone "
            "on the target)");
}

TEST(ProvisioningCheck, RedisDatabasesAndEvictionPolicy) {
  const json source = {{"databases", 16}, {"maxmemory", 0}, {"maxmemory_policy", "noeviction"}};
  json target = {{"databases", 4}, {"maxmemory", 1 << 30}, {"maxmemory_policy", "allkeys-lru"}};
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kRedis, source, target, &found);
  ASSERT_EQ(found.blockers.size(), 2u);
  EXPECT_NE(Find(found.blockers, "databases"), nullptr);
  const engine::Finding* policy = Find(found.blockers, "maxmemory-policy");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->fix,
            "CONFIG SET maxmemory-policy noeviction on the target, and the same in "
            "its redis.conf");
  // A differing policy that cannot evict (no maxmemory) is only a warning.
  target = {{"databases", 16}, {"maxmemory", 0}, {"maxmemory_policy", "volatile-lru"}};
  engine::Assessment warned;
  CompareSettings(engine::EngineKind::kRedis, source, target, &warned);
  EXPECT_TRUE(warned.blockers.empty());
  EXPECT_EQ(warned.warnings.size(), 1u);
}

}  // namespace
}  // namespace tandem::orchestration
