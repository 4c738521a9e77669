// `tandem verify` for Redis end to end against private servers: the JSON contract, the repair
// script (applied with redis-cli, after which the next verify passes), and bad input (a bad URI,
// an unreachable server, a wrong password), each one line on stderr and exit 2.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/harness/free_port.h"
#include "tests/harness/local_servers.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {
namespace {

using nlohmann::json;

void ExpectOneLineError(const CommandOutcome& outcome, const std::string& fragment) {
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.out << outcome.err;
  EXPECT_EQ(LineCount(outcome.err), 1) << outcome.err;
  EXPECT_NE(outcome.err.find(fragment), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.err.find("tandem-secret"), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.err.find("wrong-secret"), std::string::npos) << outcome.err;
}

// "redis://:tandem-secret@127.0.0.1:PORT" without a database: every database is compared.
std::string AllDatabases(const RedisServer& server) {
  return "redis://:" + server.password() + "@127.0.0.1:" + std::to_string(server.port());
}

class RedisVerifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = RedisServer::Start(dir_.path());
    target_ = RedisServer::Start(dir_.path());
    RedisSampleDataOptions options;
    options.rows = 200;
    options.databases = {0, 1, 2};
    options.expire_at_unix_ms = DefaultSampleExpiryUnixMs();
    LoadRedisSampleData(source_->ConnectOptions(), options);
    LoadRedisSampleData(target_->ConnectOptions(), options);
  }

  CommandOutcome Verify(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        "verify",          "--source", AllDatabases(*source_), "--target", AllDatabases(*target_),
        "--recheck-delay", "0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunTandem(args, {}, std::chrono::seconds(120));
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> source_;
  std::unique_ptr<RedisServer> target_;
};

TEST_F(RedisVerifyCli, EqualServersExitZeroWithTheJsonContract) {
  CommandOutcome outcome = Verify({"--format", "json"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.out << outcome.err;
  json report = json::parse(outcome.out);
  EXPECT_EQ(report["consistent"], true);
  ASSERT_EQ(report["tables"].size(), 3u);
  EXPECT_EQ(report["tables"][0]["table"], "redis.db0");
  EXPECT_EQ(report["tables"][0]["source_rows"], 200);
  EXPECT_EQ(report["tables"][0]["types"]["stream"]["source"], 20);
  EXPECT_TRUE(report["as_of"]["source"].is_string());
  EXPECT_TRUE(report["elapsed_s"].is_number());
}

TEST_F(RedisVerifyCli, UriDatabaseLimitsTheComparison) {
  target_->Command({"DEL", "string:10"}, 1);
  CommandOutcome db0 = RunTandem(
      {"verify", "--source", source_->Uri(0), "--target", target_->Uri(0), "--format", "json"});
  ASSERT_EQ(db0.exit_code, 0) << db0.out << db0.err;
  EXPECT_EQ(json::parse(db0.out)["tables"].size(), 1u);
  CommandOutcome db1 = RunTandem({"verify", "--source", source_->Uri(1), "--target",
                                  target_->Uri(1), "--recheck-delay", "0.1"});
  EXPECT_EQ(db1.exit_code, 1) << db1.out << db1.err;
}

TEST_F(RedisVerifyCli, RepairScriptMakesTheNextVerifyPass) {
  const RedisServer& t = *target_;
  t.Command({"DEL", "string:10"}, 0);
  t.Command({"SET", "extra:key", "surplus"}, 1);
  t.Command({"HSET", "hash:103", "field-599", "changed"}, 2);
  t.Command({"LSET", "list:14", "0", "changed"}, 1);
  t.Command({"PEXPIRE", "session:19", "7200000"}, 1);
  t.Command({"PERSIST", "string:0"}, 0);
  t.Command({"DEL", "set:16"}, 2);
  t.Command({"SET", "set:16", "now a string"}, 2);
  t.Command({"SADD", std::string("intset:\0\xff:25", 12), "999999"}, 1);
  const std::string script = dir_.path() + "/repair.redis";
  for (const char* digest : {"values", "lua"}) {
    CommandOutcome first = Verify({"--format", "json", "--repair", script, "--digest", digest});
    ASSERT_EQ(first.exit_code, 1) << first.out << first.err;
    json report = json::parse(first.out);
    std::set<std::string> keys;
    for (const json& table : report["tables"]) {
      for (const json& difference : table["differences"]) {
        keys.insert(table["table"].get<std::string>() + " " +
                    difference["key"]["key"].get<std::string>() + " " +
                    difference["kind"].get<std::string>());
      }
    }
    EXPECT_EQ(keys,
              (std::set<std::string>{"redis.db0 string:10 missing", "redis.db1 extra:key extra",
                                     "redis.db2 hash:103 changed", "redis.db1 list:14 changed",
                                     "redis.db1 session:19 changed", "redis.db0 string:0 changed",
                                     "redis.db2 set:16 changed",
                                     "redis.db1 0x696e747365743a00ff3a3235 changed"}))
        << digest;
  }
  RunCommand(
      {.argv = {"sh", "-c",
                "redis-cli -h 127.0.0.1 -p " + std::to_string(t.port()) + " --no-auth-warning -a " +
                    t.password() + " < " + script + " > " + dir_.path() + "/repair.log 2>&1"}},
      std::chrono::seconds(60));
  const std::string log = ReadFile(dir_.path() + "/repair.log");
  EXPECT_EQ(log.find("ERR"), std::string::npos) << log;
  CommandOutcome second = Verify();
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(t.Command({"EXISTS", "extra:key"}, 1), "0");
}

TEST(RedisVerifyCliInput, BadUriIsOneLineAndExitTwo) {
  ExpectOneLineError(RunTandem({"verify", "--source", "redis://:x@127.0.0.1:notaport/0", "--target",
                                "redis://127.0.0.1:6379/0"}),
                     "--source");
}

TEST(RedisVerifyCliInput, UnreachableServerIsOneLineAndExitTwo) {
  const std::string uri =
      "redis://127.0.0.1:" + std::to_string(PickFreePort()) + "/0?connect_timeout=2";
  ExpectOneLineError(RunTandem({"verify", "--source", uri, "--target", uri}), "127.0.0.1");
}

TEST(RedisVerifyCliInput, WrongPasswordIsOneLineAndExitTwo) {
  TempDir dir;
  auto server = RedisServer::Start(dir.path());
  const std::string wrong =
      "redis://:wrong-secret@127.0.0.1:" + std::to_string(server->port()) + "/0";
  ExpectOneLineError(RunTandem({"verify", "--source", wrong, "--target", server->Uri(0)}),
                     "source");
}

}  // namespace
}  // namespace tandem::testing
