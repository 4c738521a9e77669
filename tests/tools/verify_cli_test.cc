// `tandem verify` end to end against the shared servers: the JSON contract and exit codes, repair
// statements that make the next run pass, a killed run resumed with --state, and bad input
// (unknown table, table missing on one side, column sets that differ, no privileges, a server
// that is not there), each a clear line or report entry and exit 2, never a hang.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

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

void ExpectOneLineError(const CommandOutcome& outcome, const std::string& fragment) {
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.out << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  EXPECT_NE(outcome.err.find(fragment), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.err.find("tandem-secret"), std::string::npos) << outcome.err;
}

// A database with the same keyed table on both MariaDB servers.
class MySqlPair {
 public:
  explicit MySqlPair(const SharedServers& servers, int rows = 200)
      : servers_(servers), name_(UniqueName("vcli")) {
    for (Side side : {Side::kSource, Side::kTarget}) {
      servers_.ExecuteMySql(side, "CREATE DATABASE `" + name_ + "`");
      servers_.ExecuteMySql(side, "CREATE TABLE `" + name_ +
                                      "`.orders (id BIGINT PRIMARY KEY, total DECIMAL(10,2), "
                                      "note VARCHAR(20), at DATETIME(6)) ENGINE=InnoDB");
      servers_.ExecuteMySql(side, "INSERT INTO `" + name_ +
                                      "`.orders SELECT seq, seq / 4, "
                                      "CONCAT('it''s \\\\ ', seq), '2024-02-29 12:00:00.5' FROM `" +
                                      name_ + "`.seq_1_to_" + std::to_string(rows));
    }
  }
  ~MySqlPair() {
    for (Side side : {Side::kSource, Side::kTarget}) {
      try {
        servers_.ExecuteMySql(side, "DROP DATABASE IF EXISTS `" + name_ + "`");
      } catch (...) {
      }
    }
  }
  const std::string& name() const { return name_; }
  std::string source() const { return servers_.mysql_source_uri(name_); }
  std::string target() const { return servers_.mysql_target_uri(name_); }

 private:
  const SharedServers& servers_;
  std::string name_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST(VerifyCli, ConsistentPairIsExitZeroWithTheJsonContract) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  TempDir dir;
  CommandOutcome outcome =
      RunTandem({"verify", "--source", pair.source(), "--target", pair.target(), "--format", "json",
                 "--report", dir.path() + "/report.json"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  json report = ParseJson(outcome);
  EXPECT_TRUE(report.at("consistent").get<bool>());
  ASSERT_EQ(report.at("tables").size(), 1u);
  const json& table = report["tables"][0];
  EXPECT_EQ(table.at("table"), pair.name() + ".orders");
  EXPECT_EQ(table.at("source_rows"), 200);
  EXPECT_EQ(table.at("target_rows"), 200);
  EXPECT_GE(table.at("chunks").get<int>(), 1);
  EXPECT_TRUE(table.at("skipped").empty());
  EXPECT_TRUE(table.at("differences").empty());
  EXPECT_TRUE(report.at("as_of").at("source").is_string());
  EXPECT_TRUE(report.at("as_of").at("target").is_string());
  EXPECT_TRUE(report.at("elapsed_s").is_number());
  EXPECT_EQ(json::parse(ReadFile(dir.path() + "/report.json")), report);
  EXPECT_EQ(outcome.out.find("tandem-secret"), std::string::npos);
}

TEST(VerifyCli, DifferencesAreExitOneAndRepairSqlMakesTheNextRunPass) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  const std::string t = "`" + pair.name() + "`.orders";
  servers->ExecuteMySql(Side::kTarget, "DELETE FROM " + t +
                                           " WHERE id = 3; "
                                           "INSERT INTO " +
                                           t +
                                           " VALUES (5000, 1, 'x', NULL); "
                                           "UPDATE " +
                                           t +
                                           " SET note = NULL WHERE id = 7; "
                                           "UPDATE " +
                                           t +
                                           " SET at = at + INTERVAL 1 MICROSECOND, "
                                           "total = 0 WHERE id = 150");
  TempDir dir;
  const std::string repair = dir.path() + "/repair.sql";
  CommandOutcome outcome =
      RunTandem({"verify", "--source", pair.source(), "--target", pair.target(), "--format", "json",
                 "--repair-sql", repair, "--chunk-rows", "50"});
  EXPECT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  json report = ParseJson(outcome);
  EXPECT_FALSE(report.at("consistent").get<bool>());
  const json& differences = report["tables"][0]["differences"];
  std::multiset<std::string> found;
  for (const json& difference : differences) {
    std::string line =
        difference.at("kind").get<std::string>() + " " + difference.at("key").at("id").dump();
    for (const json& column : difference.at("columns")) {
      line += " " + column.get<std::string>();
    }
    found.insert(line);
  }
  EXPECT_EQ(found, (std::multiset<std::string>{"missing 3", "extra 5000", "changed 7 note",
                                               "changed 150 total at"}));
  const std::string statements = ReadFile(repair);
  EXPECT_NE(statements.find("INSERT INTO"), std::string::npos) << statements;
  servers->ExecuteMySql(Side::kTarget, statements);
  outcome = RunTandem({"verify", "--source", pair.source(), "--target", pair.target()});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  EXPECT_NE(outcome.out.find("CONSISTENT"), std::string::npos) << outcome.out;
}

TEST(VerifyCli, KilledRunResumesFromItsState) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers, 4000);
  TempDir dir;
  const std::string state = dir.path() + "/state.json";
  // One row per chunk, one thread: thousands of chunks, seconds of work; killed after the first
  // chunks are recorded.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(TANDEM_BINARY_PATH, "tandem", "verify", "--source", pair.source().c_str(), "--target",
          pair.target().c_str(), "--threads", "1", "--chunk-rows", "1", "--state", state.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  struct stat info {};
  while (stat(state.c_str(), &info) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";

  CommandOutcome outcome =
      RunTandem({"verify", "--source", pair.source(), "--target", pair.target(), "--threads", "1",
                 "--chunk-rows", "1000", "--state", state, "--format", "json"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  json report = ParseJson(outcome);
  const json& table = report["tables"][0];
  const int resumed = table.at("resumed_chunks").get<int>();
  EXPECT_GT(resumed, 0);
  EXPECT_LT(resumed, 4000);
  EXPECT_EQ(table.at("source_rows"), 4000);
  // The rest took few chunks of 1000: finished chunks were not compared again.
  EXPECT_LE(table.at("chunks").get<int>() - resumed, 6);
}

TEST(VerifyCli, UnknownTableIsOneLineExitTwo) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  ExpectOneLineError(RunTandem({"verify", "--source", pair.source(), "--target", pair.target(),
                                "--table", pair.name() + ".nope"}),
                     pair.name() + ".nope does not exist on the source");
  ExpectOneLineError(RunTandem({"verify", "--source", pair.source(), "--target", pair.target(),
                                "--table", "nodot"}),
                     "must be schema.table");
}

TEST(VerifyCli, TableMissingOnTargetAndDifferentColumnsAreReportedExitTwo) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  servers->ExecuteMySql(Side::kSource,
                        "CREATE TABLE `" + pair.name() + "`.only_source (id INT PRIMARY KEY)");
  servers->ExecuteMySql(Side::kTarget, "ALTER TABLE `" + pair.name() + "`.orders ADD extra INT");
  CommandOutcome outcome = RunTandem(
      {"verify", "--source", pair.source(), "--target", pair.target(), "--format", "json"});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.out << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  json report = ParseJson(outcome);
  EXPECT_FALSE(report.at("consistent").get<bool>());
  std::map<std::string, std::string> reasons;
  for (const json& table : report.at("tables")) {
    ASSERT_EQ(table.at("skipped").size(), 1u) << table.dump();
    reasons[table.at("table")] = table["skipped"][0].at("reason");
  }
  EXPECT_NE(reasons[pair.name() + ".only_source"].find("missing on the target"), std::string::npos);
  EXPECT_NE(reasons[pair.name() + ".orders"].find("only the target has extra"), std::string::npos);
}

TEST(VerifyCli, NoPrivilegesAndAbsentServerAreOneLineExitTwo) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  const std::string user = UniqueName("nopriv");
  servers->ExecuteMySql(Side::kTarget, "CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw'");
  std::string target = pair.target();
  target.replace(target.find("tandem:tandem-secret"), std::string("tandem:tandem-secret").size(),
                 user + ":pw");
  ExpectOneLineError(RunTandem({"verify", "--source", pair.source(), "--target", target}),
                     "target");
  servers->ExecuteMySql(Side::kTarget, "DROP USER '" + user + "'@'%'");

  // Nothing listens on port 1.
  ExpectOneLineError(RunTandem({"verify", "--source", pair.source(), "--target",
                                "mysql://tandem:tandem-secret@127.0.0.1:1/x"},
                               {}, std::chrono::seconds(30)),
                     "target");
}

TEST(VerifyCli, TableWithoutKeyIsComparedAsMultisetWithAWarning) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MySqlPair pair(*servers);
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecuteMySql(side, "CREATE TABLE `" + pair.name() +
                                    "`.log (msg VARCHAR(10)); INSERT INTO `" + pair.name() +
                                    "`.log VALUES ('a'), ('a'), ('b')");
  }
  servers->ExecuteMySql(Side::kTarget,
                        "DELETE FROM `" + pair.name() + "`.log WHERE msg = 'a' LIMIT 1");
  CommandOutcome outcome =
      RunTandem({"verify", "--source", pair.source(), "--target", pair.target(), "--table",
                 pair.name() + ".log", "--format", "json"});
  EXPECT_EQ(outcome.exit_code, 1) << outcome.out << outcome.err;
  json table = ParseJson(outcome)["tables"][0];
  EXPECT_FALSE(table.at("warnings").empty());
  ASSERT_EQ(table.at("differences").size(), 1u);
  EXPECT_EQ(table["differences"][0].at("kind"), "missing");
  EXPECT_EQ(table["differences"][0].at("key").at("msg"), "a");
}

}  // namespace
}  // namespace tandem::testing
