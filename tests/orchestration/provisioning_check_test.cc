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
  return {{"database", "shop"},
          {"lower_case_table_names", 0},
          {"database_charset", "utf8mb4"},
          {"database_collation", "utf8mb4_general_ci"},
          {"character_set_server", "utf8mb4"},
          {"collation_server", "utf8mb4_general_ci"},
          {"sql_mode", "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"},
          {"time_zone", "SYSTEM"},
          {"system_time_zone", "UTC"},
          {"time_zone_offsets_minutes", {0, 0}},
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
  target["sql_mode"] = "NO_ENGINE_SUBSTITUTION,ANSI_QUOTES";
  target["time_zone"] = "+02:00";
  target["time_zone_offsets_minutes"] = {120, 120};
  target["database_charset"] = "latin1";
  target["database_collation"] = "latin1_swedish_ci";
  target["lower_case_table_names"] = 1;
  target["max_allowed_packet"] = 1048576;
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), target, &found);
  EXPECT_EQ(found.blockers.size(), 6u);
  const engine::Finding* sql_mode = Find(found.blockers, "sql_mode");
  ASSERT_NE(sql_mode, nullptr);
  EXPECT_EQ(sql_mode->code, "mysql_setting_differs");
  EXPECT_NE(sql_mode->message.find("the target lacks STRICT_TRANS_TABLES"), std::string::npos)
      << sql_mode->message;
  EXPECT_NE(sql_mode->message.find("the target adds ANSI_QUOTES"), std::string::npos)
      << sql_mode->message;
  EXPECT_NE(
      sql_mode->fix.find("SET GLOBAL sql_mode = 'NO_ENGINE_SUBSTITUTION,STRICT_TRANS_TABLES'"),
      std::string::npos)
      << sql_mode->fix;
  const engine::Finding* zone = Find(found.blockers, "time_zone");
  ASSERT_NE(zone, nullptr);
  EXPECT_NE(zone->message.find("SYSTEM (UTC), UTC+00:00 in January"), std::string::npos)
      << zone->message;
  EXPECT_NE(zone->fix.find("SET GLOBAL time_zone = '+00:00' on the target"), std::string::npos)
      << zone->fix;
  const engine::Finding* charset = Find(found.blockers, "database_charset");
  ASSERT_NE(charset, nullptr);
  EXPECT_EQ(charset->fix,
            "ALTER DATABASE `shop` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci on the target");
  const engine::Finding* packet = Find(found.blockers, "max_allowed_packet");
  ASSERT_NE(packet, nullptr);
  EXPECT_NE(packet->fix.find("SET GLOBAL max_allowed_packet = 16777216"), std::string::npos);
  ASSERT_NE(Find(found.blockers, "lower_case_table_names"), nullptr);
}

TEST(ProvisioningCheck, ServerDefaultsAndAdministrativeSqlModeFlagsAreWarnings) {
  json target = MySqlFacts();
  target["character_set_server"] = "latin1";
  // MariaDB's default carries NO_AUTO_CREATE_USER, which MySQL 8.0 removed: not about data.
  target["sql_mode"] = "STRICT_TRANS_TABLES,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION";
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), target, &found);
  EXPECT_TRUE(found.blockers.empty()) << found.blockers.front().message;
  EXPECT_NE(Find(found.warnings, "character_set_server"), nullptr);
  EXPECT_NE(Find(found.warnings, "sql_mode"), nullptr);
  // The same flags in another order are the same mode.
  target = MySqlFacts();
  target["sql_mode"] = "NO_ENGINE_SUBSTITUTION,STRICT_TRANS_TABLES";
  engine::Assessment reordered;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), target, &reordered);
  EXPECT_TRUE(reordered.blockers.empty());
  EXPECT_TRUE(reordered.warnings.empty());
}

TEST(ProvisioningCheck, ALargerMaxAllowedPacketOnTheTargetAndAMissingFactAreFine) {
  json target = MySqlFacts();
  target["max_allowed_packet"] = 67108864;
  target.erase("sql_mode");
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), target, &found);
  EXPECT_TRUE(found.blockers.empty()) << found.blockers.front().message;
}

TEST(ProvisioningCheck, TimeZonesAreComparedByTheirOffsetsNotTheirNames) {
  // SYSTEM on a UTC host and '+00:00' are the same zone.
  json target = MySqlFacts();
  target["time_zone"] = "+00:00";
  engine::Assessment same;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), target, &same);
  EXPECT_TRUE(same.blockers.empty()) << same.blockers.front().message;
  EXPECT_TRUE(same.warnings.empty());
  // Berlin against a fixed +01:00: equal in January, not in July.
  json source = MySqlFacts();
  source["time_zone"] = "Europe/Berlin";
  source["time_zone_offsets_minutes"] = {60, 120};
  target["time_zone"] = "+01:00";
  target["time_zone_offsets_minutes"] = {60, 60};
  engine::Assessment dst;
  CompareSettings(engine::EngineKind::kMySql, source, target, &dst);
  ASSERT_EQ(dst.blockers.size(), 1u);
  EXPECT_EQ(dst.blockers[0].object, "time_zone");
  EXPECT_NE(dst.blockers[0].fix.find("mysql_tzinfo_to_sql"), std::string::npos)
      << dst.blockers[0].fix;
  // A side that cannot convert (named zone without time zone tables): a warning, not a guess.
  target["time_zone_offsets_minutes"] = nullptr;
  engine::Assessment unknown;
  CompareSettings(engine::EngineKind::kMySql, source, target, &unknown);
  EXPECT_TRUE(unknown.blockers.empty());
  EXPECT_NE(Find(unknown.warnings, "time_zone"), nullptr);
}

TEST(ProvisioningCheck, PostgresEncodingCollationAndTimeZone) {
  const json source = {{"database", "shop-db"},
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
  EXPECT_NE(collate->fix.find("DROP DATABASE \"shop-db\"; CREATE DATABASE \"shop-db\""),
            std::string::npos)
      << collate->fix;
  EXPECT_NE(collate->fix.find("LC_COLLATE 'C.UTF-8'"), std::string::npos) << collate->fix;
  const engine::Finding* zone = Find(found.blockers, "TimeZone");
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(zone->fix, "ALTER DATABASE \"shop-db\" SET timezone = 'UTC' on the target");
}

TEST(ProvisioningCheck, RedisDatabasesAndEvictionPolicy) {
  const json source = {
      {"databases", 16},
      {"maxmemory", 0},
      {"maxmemory_policy", "noeviction"},
      {"keyspaces", {{{"database", 0}, {"keys", 10}}, {{"database", 5}, {"keys", 2}}}}};
  json target = {{"databases", 4}, {"maxmemory", 1 << 30}, {"maxmemory_policy", "allkeys-lru"}};
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kRedis, source, target, &found);
  ASSERT_EQ(found.blockers.size(), 2u);
  const engine::Finding* databases = Find(found.blockers, "databases");
  ASSERT_NE(databases, nullptr);
  EXPECT_NE(databases->message.find("db5"), std::string::npos) << databases->message;
  const engine::Finding* policy = Find(found.blockers, "maxmemory-policy");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->fix,
            "CONFIG SET maxmemory-policy noeviction on the target, and the same in "
            "its redis.conf");
  // Keys only in db0 fit a one-database target (a cluster, a managed Redis): a warning. A policy
  // that cannot evict (no maxmemory) is only a warning too.
  json db0_only = source;
  db0_only["keyspaces"] = {{{"database", 0}, {"keys", 10}}};
  target = {{"databases", 1}, {"maxmemory", 0}, {"maxmemory_policy", "volatile-lru"}};
  engine::Assessment warned;
  CompareSettings(engine::EngineKind::kRedis, db0_only, target, &warned);
  EXPECT_TRUE(warned.blockers.empty());
  EXPECT_EQ(warned.warnings.size(), 2u);
}

TEST(ProvisioningCheck, FactsAServerWouldNotShowAreNotCompared) {
  // CONFIG GET refused (an ACL user, a managed Redis): the facts are null.
  const json source = {
      {"databases", nullptr}, {"maxmemory", nullptr}, {"maxmemory_policy", nullptr}};
  const json target = {{"databases", 16}, {"maxmemory", 0}, {"maxmemory_policy", "noeviction"}};
  engine::Assessment found;
  CompareSettings(engine::EngineKind::kRedis, source, target, &found);
  CompareSettings(engine::EngineKind::kRedis, target, source, &found);
  json mysql = MySqlFacts();
  mysql["max_allowed_packet"] = nullptr;
  CompareSettings(engine::EngineKind::kMySql, MySqlFacts(), mysql, &found);
  EXPECT_TRUE(found.blockers.empty());
  EXPECT_TRUE(found.warnings.empty());
}

}  // namespace
}  // namespace tandem::orchestration
