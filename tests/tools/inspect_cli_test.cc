// `tandem inspect` end to end against real servers: the binary as a user runs it, its exit codes,
// its JSON contract, and blockers found on servers misconfigured on purpose.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/harness/local_servers.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {
namespace {

using nlohmann::json;

json ParseJson(const CommandOutcome& outcome) {
  json document = json::parse(outcome.out, nullptr, false);
  EXPECT_FALSE(document.is_discarded()) << outcome.out << outcome.err;
  return document;
}

std::vector<std::string> Codes(const json& findings) {
  std::vector<std::string> codes;
  for (const json& finding : findings) {
    codes.push_back(finding.at("code").get<std::string>());
    for (const char* key : {"object", "message", "fix"}) {
      EXPECT_FALSE(finding.at(key).get<std::string>().empty()) << finding.dump();
    }
  }
  return codes;
}

bool Contains(const std::vector<std::string>& codes, const std::string& code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

void ExpectOneLineError(const CommandOutcome& outcome, const std::string& fragment) {
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.out << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  EXPECT_NE(outcome.err.find(fragment), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.err.find("tandem-secret"), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.err.find("wrong-password"), std::string::npos) << outcome.err;
}

// Replaces the password in a harness URI.
std::string WithPassword(std::string uri, const std::string& password) {
  size_t at = uri.find("tandem-secret");
  EXPECT_NE(at, std::string::npos) << uri;
  return uri.replace(at, std::string("tandem-secret").size(), password);
}

// A database on both MariaDB servers with the same keyed table: a pair that is ready.
class MySqlPair {
 public:
  explicit MySqlPair(const SharedServers& servers) : servers_(servers), name_(UniqueName("insp")) {
    for (Side side : {Side::kSource, Side::kTarget}) {
      servers_.ExecuteMySql(side, "CREATE DATABASE `" + name_ + "`");
      servers_.ExecuteMySql(side, "CREATE TABLE `" + name_ +
                                      "`.orders (id BIGINT PRIMARY KEY, total DECIMAL(10,2), "
                                      "note VARCHAR(20)) ENGINE=InnoDB");
    }
  }
  ~MySqlPair() {
    for (Side side : {Side::kSource, Side::kTarget}) {
      servers_.ExecuteMySql(side, "DROP DATABASE IF EXISTS `" + name_ + "`");
    }
  }
  const std::string& name() const { return name_; }

 private:
  const SharedServers& servers_;
  std::string name_;
};

TEST(InspectCli, MySqlPairThatMatchesIsReady) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  CommandOutcome outcome =
      RunTandem({"inspect", "--source", servers->mysql_source_uri(pair.name()), "--target",
                 servers->mysql_target_uri(pair.name()), "--format", "json"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  json report = ParseJson(outcome);
  for (const char* key : {"ready", "blockers", "warnings", "source", "target"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_TRUE(report["ready"].get<bool>());
  EXPECT_TRUE(report["blockers"].empty()) << report["blockers"].dump();
  EXPECT_EQ(report["target"]["tables_compared"], 1);
  EXPECT_TRUE(report["target"].contains("clock_difference_ms"));
  EXPECT_GT(report["source"]["round_trip_ms"].get<double>(), 0);
  EXPECT_EQ(outcome.out.find("tandem-secret"), std::string::npos);
}

TEST(InspectCli, TextOutputSaysReady) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  CommandOutcome outcome = RunTandem({"inspect", "--source", servers->mysql_source_uri(pair.name()),
                                      "--target", servers->mysql_target_uri(pair.name())});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("READY"), std::string::npos) << outcome.out;
}

TEST(InspectCli, PasswordFromEnvironment) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  std::string source = WithPassword(servers->mysql_source_uri(pair.name()), "");
  source.replace(source.find("tandem:@"), 8, "tandem@");
  CommandOutcome outcome = RunTandem({"inspect", "--source", source, "--format", "json"},
                                     {"TANDEM_SOURCE_PASSWORD=tandem-secret"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
}

TEST(InspectCli, MySqlSchemaDifferencesAndMissingKeysAreBlockers) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  const std::string db = "`" + pair.name() + "`";
  servers->ExecuteMySql(Side::kSource, "CREATE TABLE " + db + ".no_key (a INT, b TEXT)");
  servers->ExecuteMySql(Side::kTarget, "ALTER TABLE " + db + ".orders DROP COLUMN note");
  servers->ExecuteMySql(Side::kTarget, "ALTER TABLE " + db + ".orders MODIFY total DECIMAL(12,2)");
  CommandOutcome outcome =
      RunTandem({"inspect", "--source", servers->mysql_source_uri(pair.name()), "--target",
                 servers->mysql_target_uri(pair.name()), "--format", "json"});
  ASSERT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  json report = ParseJson(outcome);
  EXPECT_FALSE(report["ready"].get<bool>());
  std::vector<std::string> blockers = Codes(report["blockers"]);
  EXPECT_TRUE(Contains(blockers, "mysql_table_without_key")) << report["blockers"].dump(2);
  EXPECT_TRUE(Contains(blockers, "schema_missing_column")) << report["blockers"].dump(2);
  EXPECT_TRUE(Contains(blockers, "schema_type_mismatch")) << report["blockers"].dump(2);
  EXPECT_TRUE(Contains(Codes(report["warnings"]), "schema_missing_table"))
      << report["warnings"].dump(2);
}

TEST(InspectCli, MariaDbWithStatementBinlogIsNotReady) {
  TempDir dir;
  MariaDbOptions options;
  options.binlog_format = "STATEMENT";
  auto server = MariaDbServer::Start(dir.path(), options);
  CommandOutcome outcome = RunTandem({"inspect", "--source", server->Uri(), "--format", "json"});
  ASSERT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  EXPECT_TRUE(Contains(Codes(ParseJson(outcome)["blockers"]), "mysql_binlog_format"))
      << outcome.out;
}

TEST(InspectCli, PostgresWithReplicaWalLevelIsNotReady) {
  TempDir dir;
  PostgresOptions options;
  options.wal_level = "replica";
  auto server = PostgresServer::Start(dir.path(), options);
  CommandOutcome outcome = RunTandem({"inspect", "--source", server->Uri(), "--format", "json"});
  ASSERT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  EXPECT_TRUE(Contains(Codes(ParseJson(outcome)["blockers"]), "postgres_wal_level")) << outcome.out;
}

TEST(InspectCli, PostgresPairThatMatchesIsReady) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  const std::string db = UniqueName("insp");
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecutePostgres(side, "CREATE DATABASE " + db + " OWNER tandem", "postgres");
    servers->ExecutePostgres(
        side, "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2))", db);
  }
  CommandOutcome outcome =
      RunTandem({"inspect", "--source", servers->postgres_source_uri(db), "--target",
                 servers->postgres_target_uri(db), "--format", "json"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  json report = ParseJson(outcome);
  EXPECT_TRUE(report["blockers"].empty()) << report["blockers"].dump(2);
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecutePostgres(side, "DROP DATABASE " + db + " WITH (FORCE)", "postgres");
  }
}

TEST(InspectCli, RedisPairEmptyTargetIsReadyAndNonEmptyTargetIsNot) {
  TempDir dir;
  auto source = RedisServer::Start(dir.path());
  auto target = RedisServer::Start(dir.path());
  source->Command({"SET", "k", "v"});
  CommandOutcome ready = RunTandem(
      {"inspect", "--source", source->Uri(), "--target", target->Uri(), "--format", "json"});
  EXPECT_EQ(ready.exit_code, 0) << ready.out << ready.err;
  target->Command({"SET", "left-over", "x"}, 3);
  CommandOutcome not_ready = RunTandem(
      {"inspect", "--source", source->Uri(), "--target", target->Uri(), "--format", "json"});
  ASSERT_EQ(not_ready.exit_code, 1) << not_ready.out << not_ready.err;
  EXPECT_TRUE(Contains(Codes(ParseJson(not_ready)["blockers"]), "redis_target_not_empty"))
      << not_ready.out;
}

TEST(InspectCli, RedisAgainstSqlIsRefused) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  ExpectOneLineError(RunTandem({"inspect", "--source", servers->redis_source_uri(), "--target",
                                servers->mysql_target_uri()}),
                     "Redis pairs only with Redis");
}

TEST(InspectCli, WrongPasswordsAreOneLineExitTwoWithoutThePassword) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  for (const std::string& uri : {WithPassword(servers->mysql_source_uri(), "wrong-password"),
                                 WithPassword(servers->postgres_source_uri(), "wrong-password"),
                                 WithPassword(servers->redis_source_uri(), "wrong-password")}) {
    CommandOutcome outcome = RunTandem({"inspect", "--source", uri});
    ExpectOneLineError(outcome, "source");
    EXPECT_TRUE(outcome.err.find("password") != std::string::npos ||
                outcome.err.find("authentication") != std::string::npos ||
                outcome.err.find("denied") != std::string::npos)
        << outcome.err;
  }
}

TEST(InspectCli, UnknownDatabaseIsOneLineExitTwo) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  ExpectOneLineError(RunTandem({"inspect", "--source", servers->mysql_source_uri("no_such_db")}),
                     "no_such_db");
  ExpectOneLineError(RunTandem({"inspect", "--source", servers->postgres_source_uri("no_such_db")}),
                     "no_such_db");
  ExpectOneLineError(RunTandem({"inspect", "--target", servers->mysql_target_uri("no_such_db"),
                                "--source", servers->mysql_source_uri()}),
                     "no_such_db");
}

}  // namespace
}  // namespace tandem::testing
