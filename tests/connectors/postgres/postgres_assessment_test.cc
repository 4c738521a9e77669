// Integration tests: Assess(Role) finds every PostgreSQL blocker and warning on servers
// misconfigured on purpose (private servers started by the test: wal_level=replica, no free slot,
// no WAL sender, a standby), on roles and tables set up wrong in a scratch database, and reports a
// correctly configured shared pair ready.
#include <gtest/gtest.h>

#include <string>

#include "tests/connectors/postgres/postgres_test_support.h"

namespace tandem::postgres_test {
namespace {

using engine::Assessment;
using engine::Role;
using testing::PostgresServer;
using testing::Side;
using testing::TempDir;

Assessment AssessOrFail(engine::SqlDatabase& database, Role role) {
  auto assessment = database.Assess(role);
  EXPECT_TRUE(assessment.ok()) << assessment.status().ToString();
  return assessment.ok() ? *assessment : Assessment();
}

// A private server's URI for the tandem account (superuser, REPLICATION).
std::string PrivateUri(const PostgresServer& server) { return server.Uri("tandem"); }

TEST(PostgresAssessmentPrivateServer, WalLevelReplicaIsABlockerAndAStandbyCannotBeATarget) {
  TempDir dir("pg-assess");
  auto primary = PostgresServer::Start(dir.path(), {.wal_level = "replica"});
  auto tandem = Open(PrivateUri(*primary));
  ASSERT_NE(tandem, nullptr);
  Assessment source = AssessOrFail(*tandem, Role::kSource);
  const engine::Finding* wal_level = FindFinding(source.blockers, "postgres_wal_level", "server");
  ASSERT_NE(wal_level, nullptr) << Describe(source.blockers);
  EXPECT_NE(wal_level->message.find("replica"), std::string::npos);
  EXPECT_NE(wal_level->fix.find("ALTER SYSTEM SET wal_level = logical"), std::string::npos);
  EXPECT_EQ(source.facts["settings"]["wal_level"], "replica");
  EXPECT_EQ(FindFinding(source.blockers, "postgres_missing_replication"), nullptr);

  Assessment target = AssessOrFail(*tandem, Role::kTarget);
  EXPECT_TRUE(target.blockers.empty()) << Describe(target.blockers);
  EXPECT_NE(FindFinding(target.warnings, "postgres_target_wal_level"), nullptr)
      << Describe(target.warnings);

  auto standby = PostgresServer::StartStandbyOf(*primary, dir.path());
  auto on_standby = Open(PrivateUri(*standby));
  ASSERT_NE(on_standby, nullptr);
  Assessment standby_target = AssessOrFail(*on_standby, Role::kTarget);
  EXPECT_NE(FindFinding(standby_target.blockers, "postgres_target_in_recovery", "server"), nullptr)
      << Describe(standby_target.blockers);
  EXPECT_EQ(standby_target.facts["in_recovery"], true);
  Assessment standby_source = AssessOrFail(*on_standby, Role::kSource);
  EXPECT_NE(FindFinding(standby_source.blockers, "postgres_source_in_recovery"), nullptr)
      << Describe(standby_source.blockers);
}

TEST(PostgresAssessmentPrivateServer, NoFreeSlotNoSenderAndAnInactiveSlot) {
  TempDir dir("pg-assess");
  auto server = PostgresServer::Start(
      dir.path(), {.wal_level = "logical", .max_replication_slots = 1, .max_wal_senders = 0});
  auto tandem = Open(PrivateUri(*server));
  ASSERT_NE(tandem, nullptr);
  Assessment before = AssessOrFail(*tandem, Role::kSource);
  EXPECT_NE(FindFinding(before.blockers, "postgres_max_wal_senders"), nullptr)
      << Describe(before.blockers);
  EXPECT_EQ(FindFinding(before.blockers, "postgres_max_replication_slots"), nullptr)
      << Describe(before.blockers);
  EXPECT_EQ(FindFinding(before.blockers, "postgres_wal_level"), nullptr);

  // A slot nobody reads, then WAL written after it: the slot holds that WAL back.
  server->Execute("SELECT pg_create_logical_replication_slot('stale_slot', 'pgoutput')");
  server->Execute(
      "CREATE TABLE filler (id int PRIMARY KEY, v text);"
      "INSERT INTO filler SELECT g, repeat('x', 500) FROM generate_series(1, 2000) g");
  Assessment after = AssessOrFail(*tandem, Role::kSource);
  const engine::Finding* full = FindFinding(after.blockers, "postgres_max_replication_slots");
  ASSERT_NE(full, nullptr) << Describe(after.blockers);
  EXPECT_NE(full->message.find("all 1"), std::string::npos) << full->message;
  const engine::Finding* inactive =
      FindFinding(after.warnings, "postgres_inactive_slot", "slot stale_slot");
  ASSERT_NE(inactive, nullptr) << Describe(after.warnings);
  EXPECT_NE(inactive->fix.find("pg_drop_replication_slot('stale_slot')"), std::string::npos);
  const nlohmann::json& slots = after.facts["replication_slots"];
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0]["name"], "stale_slot");
  EXPECT_EQ(slots[0]["plugin"], "pgoutput");
  EXPECT_EQ(slots[0]["active"], false);
  EXPECT_GT(slots[0]["retained_wal_bytes"].get<int64_t>(), 100000);
  EXPECT_EQ(after.facts["replication_slots_in_use"], 1);
}

class PostgresAssessmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = Shared();
    if (servers_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS)";
    }
  }
  const testing::SharedServers* servers_ = nullptr;
};

TEST_F(PostgresAssessmentTest, CorrectlyConfiguredSharedPairIsReady) {
  ScratchDatabase source(*servers_, Side::kSource, "pgassess_ready");
  ScratchDatabase target(*servers_, Side::kTarget, "pgassess_ready");
  source.Execute(
      "CREATE TABLE orders (id bigint PRIMARY KEY, note text);"
      "CREATE TABLE by_identity (a int NOT NULL, b text);"
      "CREATE UNIQUE INDEX by_identity_a ON by_identity (a);"
      "ALTER TABLE by_identity REPLICA IDENTITY USING INDEX by_identity_a;"
      "INSERT INTO orders VALUES (1, 'x')");
  target.Execute("CREATE TABLE orders (id bigint PRIMARY KEY, note text)");

  auto on_source = Open(source.Uri());
  ASSERT_NE(on_source, nullptr);
  Assessment assessment = AssessOrFail(*on_source, Role::kSource);
  EXPECT_TRUE(assessment.blockers.empty()) << Describe(assessment.blockers);
  EXPECT_EQ(FindFinding(assessment.warnings, "postgres_replica_identity_full"), nullptr);
  const nlohmann::json& facts = assessment.facts;
  EXPECT_EQ(facts["product"], "PostgreSQL");
  EXPECT_EQ(facts["version"].get<std::string>().substr(0, 3), "15.");
  EXPECT_GE(facts["version_number"].get<int>(), 150000);
  EXPECT_EQ(facts["settings"]["wal_level"], "logical");
  EXPECT_TRUE(facts["settings"].contains("max_replication_slots"));
  EXPECT_TRUE(facts["settings"].contains("max_wal_senders"));
  EXPECT_EQ(facts["table_count"], 2);
  EXPECT_EQ(facts["tables_without_primary_key"], 1);
  EXPECT_GT(facts["database_bytes"].get<int64_t>(), 0);
  // The server's zone (from its configuration), not the UTC tandem's sessions run in.
  EXPECT_FALSE(facts.value("time_zone", "").empty()) << facts.dump();
  EXPECT_EQ(facts["database"], source.name());
  EXPECT_EQ(facts["replication"], true);
  EXPECT_TRUE(facts["replication_slots"].is_array());
  EXPECT_EQ(facts.dump().find("tandem-secret"), std::string::npos);

  auto on_target = Open(target.Uri());
  ASSERT_NE(on_target, nullptr);
  Assessment target_assessment = AssessOrFail(*on_target, Role::kTarget);
  EXPECT_TRUE(target_assessment.blockers.empty()) << Describe(target_assessment.blockers);
  EXPECT_EQ(target_assessment.facts["in_recovery"], false);
  EXPECT_EQ(target_assessment.facts["table_count"], 1);
}

TEST_F(PostgresAssessmentTest, TablesWithoutPrimaryKeyByReplicaIdentity) {
  ScratchDatabase database(*servers_, Side::kSource, "pgassess_keys");
  database.Execute(
      "CREATE TABLE keyed (id int PRIMARY KEY);"
      "CREATE TABLE no_key (a int, b text);"
      "CREATE TABLE unique_only (a int NOT NULL, b text);"
      "CREATE UNIQUE INDEX unique_only_a ON unique_only (a);"
      "CREATE TABLE full_identity (a int, b text);"
      "ALTER TABLE full_identity REPLICA IDENTITY FULL;"
      "CREATE TABLE nothing_identity (id int PRIMARY KEY);"
      "ALTER TABLE nothing_identity REPLICA IDENTITY NOTHING;"
      "CREATE TABLE keyed_full (id int PRIMARY KEY);"
      "ALTER TABLE keyed_full REPLICA IDENTITY FULL");
  auto tandem = Open(database.Uri());
  ASSERT_NE(tandem, nullptr);
  Assessment assessment = AssessOrFail(*tandem, Role::kSource);

  const engine::Finding* no_key =
      FindFinding(assessment.blockers, "postgres_table_without_key", "public.no_key");
  ASSERT_NE(no_key, nullptr) << Describe(assessment.blockers);
  EXPECT_NE(no_key->fix.find("REPLICA IDENTITY FULL"), std::string::npos);
  EXPECT_NE(no_key->fix.find("ADD PRIMARY KEY"), std::string::npos);

  const engine::Finding* unique_only =
      FindFinding(assessment.blockers, "postgres_table_without_key", "public.unique_only");
  ASSERT_NE(unique_only, nullptr) << Describe(assessment.blockers);
  EXPECT_NE(unique_only->fix.find("REPLICA IDENTITY USING INDEX \"unique_only_a\""),
            std::string::npos)
      << unique_only->fix;

  EXPECT_EQ(FindFinding(assessment.blockers, "postgres_table_without_key", "public.full_identity"),
            nullptr);
  EXPECT_NE(
      FindFinding(assessment.warnings, "postgres_replica_identity_full", "public.full_identity"),
      nullptr)
      << Describe(assessment.warnings);
  EXPECT_NE(FindFinding(assessment.blockers, "postgres_replica_identity_nothing",
                        "public.nothing_identity"),
            nullptr)
      << Describe(assessment.blockers);
  for (const char* fine : {"public.keyed", "public.keyed_full"}) {
    for (const auto& finding : assessment.blockers) {
      EXPECT_NE(finding.object, fine) << finding.code;
    }
    for (const auto& finding : assessment.warnings) {
      EXPECT_NE(finding.object, fine) << finding.code;
    }
  }
  EXPECT_EQ(assessment.facts["tables_without_primary_key"], 3);
}

TEST_F(PostgresAssessmentTest, PartitionsWithoutKeyAreReportedOnTheLeaves) {
  ScratchDatabase database(*servers_, Side::kSource, "pgassess_parts");
  database.Execute(
      "CREATE TABLE readings (at date, v int) PARTITION BY RANGE (at);"
      "CREATE TABLE readings_2024 PARTITION OF readings"
      "  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')");
  auto tandem = Open(database.Uri());
  ASSERT_NE(tandem, nullptr);
  Assessment assessment = AssessOrFail(*tandem, Role::kSource);
  EXPECT_NE(FindFinding(assessment.blockers, "postgres_table_without_key", "public.readings_2024"),
            nullptr)
      << Describe(assessment.blockers);
  EXPECT_EQ(FindFinding(assessment.blockers, "postgres_table_without_key", "public.readings"),
            nullptr);
  EXPECT_EQ(assessment.facts["table_count"], 1);
}

TEST_F(PostgresAssessmentTest, RoleWithoutReplicationOrPrivileges) {
  ScratchRole role(*servers_, Side::kSource, "pgassess_plain");
  ScratchDatabase database(*servers_, Side::kSource, "pgassess_plain");
  database.Execute(
      "CREATE SCHEMA hidden;"
      "CREATE TABLE public.granted (id int PRIMARY KEY);"
      "CREATE TABLE public.not_granted (id int PRIMARY KEY);"
      "CREATE TABLE hidden.secret (id int PRIMARY KEY);"
      "GRANT SELECT ON public.granted TO " +
      role.name() +
      ";"
      "GRANT SELECT ON hidden.secret TO " +
      role.name());
  auto tandem = Open(database.UriFor(role.name(), role.password()));
  ASSERT_NE(tandem, nullptr);
  Assessment assessment = AssessOrFail(*tandem, Role::kSource);

  const engine::Finding* replication =
      FindFinding(assessment.blockers, "postgres_missing_replication", "role " + role.name());
  ASSERT_NE(replication, nullptr) << Describe(assessment.blockers);
  EXPECT_EQ(replication->fix, "ALTER ROLE \"" + role.name() + "\" REPLICATION;");
  EXPECT_EQ(assessment.facts["replication"], false);
  EXPECT_EQ(assessment.facts["superuser"], false);

  EXPECT_EQ(FindFinding(assessment.blockers, "postgres_missing_select", "public.granted"), nullptr);
  const engine::Finding* not_granted =
      FindFinding(assessment.blockers, "postgres_missing_select", "public.not_granted");
  ASSERT_NE(not_granted, nullptr) << Describe(assessment.blockers);
  EXPECT_EQ(not_granted->fix,
            "GRANT SELECT ON \"public\".\"not_granted\" TO \"" + role.name() + "\";");
  const engine::Finding* secret =
      FindFinding(assessment.blockers, "postgres_missing_select", "hidden.secret");
  ASSERT_NE(secret, nullptr) << Describe(assessment.blockers);
  EXPECT_NE(secret->fix.find("GRANT USAGE ON SCHEMA \"hidden\""), std::string::npos);

  EXPECT_NE(FindFinding(assessment.warnings, "postgres_cannot_create_publication"), nullptr)
      << Describe(assessment.warnings);

  // Granting what the findings ask for clears them.
  servers_->ExecutePostgres(Side::kSource, "ALTER ROLE " + role.name() + " REPLICATION",
                            "postgres");
  database.Execute("GRANT SELECT ON public.not_granted TO " + role.name() +
                   "; GRANT USAGE ON SCHEMA hidden TO " + role.name());
  Assessment fixed = AssessOrFail(*tandem, Role::kSource);
  EXPECT_TRUE(fixed.blockers.empty()) << Describe(fixed.blockers);
}

TEST_F(PostgresAssessmentTest, TargetRoleThatCannotCreateOrWrite) {
  ScratchRole role(*servers_, Side::kTarget, "pgassess_reader");
  ScratchDatabase database(*servers_, Side::kTarget, "pgassess_reader");
  // PostgreSQL 15 grants no CREATE on schema public or on the database to PUBLIC.
  database.Execute(
      "CREATE TABLE orders (id int PRIMARY KEY);"
      "GRANT SELECT ON orders TO " +
      role.name());
  auto tandem = Open(database.UriFor(role.name(), role.password()));
  ASSERT_NE(tandem, nullptr);
  Assessment assessment = AssessOrFail(*tandem, Role::kTarget);
  EXPECT_NE(FindFinding(assessment.blockers, "postgres_target_missing_create",
                        "database " + database.name()),
            nullptr)
      << Describe(assessment.blockers);
  const engine::Finding* write =
      FindFinding(assessment.blockers, "postgres_target_missing_write", "public.orders");
  ASSERT_NE(write, nullptr) << Describe(assessment.blockers);
  EXPECT_NE(write->fix.find("GRANT SELECT, INSERT, UPDATE, DELETE ON \"public\".\"orders\""),
            std::string::npos);

  database.Execute("GRANT CREATE ON DATABASE " + database.name() + " TO " + role.name() +
                   "; GRANT INSERT, UPDATE, DELETE ON orders TO " + role.name());
  Assessment fixed = AssessOrFail(*tandem, Role::kTarget);
  EXPECT_TRUE(fixed.blockers.empty()) << Describe(fixed.blockers);
}

TEST_F(PostgresAssessmentTest, ReadOnlyTargetIsABlocker) {
  ScratchDatabase database(*servers_, Side::kTarget, "pgassess_readonly");
  database.Execute("ALTER DATABASE " + database.name() + " SET default_transaction_read_only = on");
  auto tandem = Open(database.Uri());
  ASSERT_NE(tandem, nullptr);
  Assessment assessment = AssessOrFail(*tandem, Role::kTarget);
  EXPECT_NE(FindFinding(assessment.blockers, "postgres_target_read_only", "server"), nullptr)
      << Describe(assessment.blockers);
  EXPECT_EQ(assessment.facts["settings"]["default_transaction_read_only"], "on");
}

}  // namespace
}  // namespace tandem::postgres_test
