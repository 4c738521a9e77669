// The Redis connector against real redis-server processes: the shared fixture servers where a
// test only reads, private servers (tests/harness RedisServer) where a test needs a particular
// configuration or writes keys that would disturb other tests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_database.h"
#include "tests/connectors/redis/redis_test_support.h"
#include "tests/harness/local_servers.h"

namespace tandem::connectors::redis {
namespace {

using engine::Role;
using engine::StatusCode;
using tandem::connectors::redis::testing::Codes;
using tandem::connectors::redis::testing::ConnectUri;
using tandem::connectors::redis::testing::FindCode;
using tandem::connectors::redis::testing::OpenUri;
using tandem::testing::RedisOptions;
using tandem::testing::RedisServer;
using tandem::testing::SharedServers;
using tandem::testing::Side;
using tandem::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string UserUri(const RedisServer& server, const std::string& user, const std::string& password,
                    int db = 0) {
  return "redis://" + user + ":" + password + "@127.0.0.1:" + std::to_string(server.port()) + "/" +
         std::to_string(db);
}

class RedisConnectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir("tandem-redis-connector"); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::unique_ptr<RedisServer> StartServer(RedisOptions options = {}) {
    return RedisServer::Start(dir_->path(), options);
  }

  // Assess(role) of the server behind `uri`; fails the test if it cannot be opened or assessed.
  static engine::Assessment AssessUri(const std::string& uri, Role role) {
    auto database = OpenUri(uri);
    EXPECT_TRUE(database.ok()) << database.status().ToString();
    if (!database.ok()) {
      return {};
    }
    auto assessment = (*database)->Assess(role);
    EXPECT_TRUE(assessment.ok()) << assessment.status().ToString();
    return assessment.ok() ? *assessment : engine::Assessment{};
  }

  static TempDir* dir_;
};

TempDir* RedisConnectorTest::dir_ = nullptr;

// ---- Shared servers (read only) ----

TEST_F(RedisConnectorTest, SharedServersDescribeThemselvesPingAndTellTime) {
  const SharedServers* servers = SharedServers::GetOrNull();
  if (servers == nullptr) {
    GTEST_SKIP() << "needs TANDEM_TEST_SERVERS (run through ctest)";
  }
  for (Side side : {Side::kSource, Side::kTarget}) {
    auto database = OpenUri(servers->redis_uri(side));
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    auto server = (*database)->DescribeServer();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    EXPECT_EQ(server->product, "Redis");
    EXPECT_GE(server->version_number, 70000);
    EXPECT_THAT(server->version, ::testing::StartsWith("7."));
    auto ping = (*database)->Ping();
    ASSERT_TRUE(ping.ok()) << ping.status().ToString();
    EXPECT_GT(ping->count(), 0);
    EXPECT_LT(*ping, std::chrono::seconds(1));
    auto micros = (*database)->ServerTimeMicros();
    ASSERT_TRUE(micros.ok()) << micros.status().ToString();
    int64_t local = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    EXPECT_LT(std::abs(*micros - local), 5'000'000) << "same host, so the clocks agree";
  }
}

TEST_F(RedisConnectorTest, SharedSourceHasNoModuleBlockerAndIntegerMemoryFacts) {
  const SharedServers* servers = SharedServers::GetOrNull();
  if (servers == nullptr) {
    GTEST_SKIP() << "needs TANDEM_TEST_SERVERS (run through ctest)";
  }
  engine::Assessment source = AssessUri(servers->redis_uri(Side::kSource), Role::kSource);
  EXPECT_THAT(Codes(source.blockers), Not(Contains("redis_module_loaded")));
  EXPECT_THAT(Codes(source.blockers), Not(Contains("redis_missing_permission")));
  EXPECT_EQ(source.facts["modules"], nlohmann::json::array());
  EXPECT_TRUE(source.facts["used_memory"].is_number_integer());
  EXPECT_GT(source.facts["used_memory"].get<int64_t>(), 0);
  EXPECT_TRUE(source.facts["maxmemory"].is_number_integer());
  EXPECT_EQ(source.facts["role"], "master");
  EXPECT_EQ(source.facts["databases"], 16);
  EXPECT_EQ(source.facts["permission_check"], "acl dryrun");
}

// ---- Assessment on private servers ----

TEST_F(RedisConnectorTest, KeyspaceCountsAreExactInSeveralDatabases) {
  auto server = StartServer();
  for (int i = 0; i < 5; ++i) {
    server->Command({"SET", "k" + std::to_string(i), "v"}, 0);
  }
  server->Command({"EXPIRE", "k0", "3600"}, 0);
  server->Command({"EXPIRE", "k1", "3600"}, 0);
  for (int i = 0; i < 7; ++i) {
    server->Command({"HSET", "h" + std::to_string(i), "f", "v"}, 3);
  }
  server->Command({"RPUSH", "last", "x"}, 15);
  server->Command({"PEXPIRE", "last", "3600000"}, 15);

  auto database = OpenUri(server->Uri(3));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  auto keyspaces = (*database)->DescribeKeyspaces();
  ASSERT_TRUE(keyspaces.ok()) << keyspaces.status().ToString();
  ASSERT_EQ(keyspaces->size(), 3u);
  EXPECT_EQ((*keyspaces)[0].database, 0);
  EXPECT_EQ((*keyspaces)[0].keys, 5);
  EXPECT_EQ((*keyspaces)[0].keys_with_expiry, 2);
  EXPECT_EQ((*keyspaces)[1].database, 3);
  EXPECT_EQ((*keyspaces)[1].keys, 7);
  EXPECT_EQ((*keyspaces)[1].keys_with_expiry, 0);
  EXPECT_EQ((*keyspaces)[2].database, 15);
  EXPECT_EQ((*keyspaces)[2].keys, 1);
  EXPECT_EQ((*keyspaces)[2].keys_with_expiry, 1);

  engine::Assessment source = AssessUri(server->Uri(), Role::kSource);
  EXPECT_EQ(source.facts["keys"], 13);
  EXPECT_EQ(source.facts["keyspaces"][1]["database"], 3);
}

TEST_F(RedisConnectorTest, NonEmptyTargetIsBlockedUntilFlushed) {
  auto server = StartServer();
  server->Command({"SET", "left-over", "1"}, 2);
  engine::Assessment target = AssessUri(server->Uri(), Role::kTarget);
  const engine::Finding* blocker = FindCode(target.blockers, "redis_target_not_empty");
  ASSERT_NE(blocker, nullptr) << nlohmann::json(target.blockers).dump();
  EXPECT_THAT(blocker->message, HasSubstr("1 keys (1 in db2)"));
  EXPECT_EQ(blocker->fix, "FLUSHALL on the target, or pick an empty one");

  server->Command({"FLUSHALL"});
  target = AssessUri(server->Uri(), Role::kTarget);
  EXPECT_THAT(Codes(target.blockers), IsEmpty());
  EXPECT_THAT(Codes(target.warnings), IsEmpty());
  EXPECT_EQ(target.facts["maxmemory"], 0);
  EXPECT_EQ(target.facts["databases"], 16);
}

TEST_F(RedisConnectorTest, ReplicaTargetIsBlockedAndReplicaSourceWarned) {
  auto primary = StartServer();
  auto replica = StartServer();
  replica->StartReplicaOf(*primary);
  engine::Assessment target = AssessUri(replica->Uri(), Role::kTarget);
  EXPECT_THAT(Codes(target.blockers), Contains("redis_target_is_replica"));
  engine::Assessment source = AssessUri(replica->Uri(), Role::kSource);
  EXPECT_THAT(Codes(source.warnings), Contains("redis_source_is_replica"));
  EXPECT_EQ(source.facts["master_link_status"], "up");
  EXPECT_EQ(source.facts["master_port"], primary->port());
}

TEST_F(RedisConnectorTest, EvictingMaxmemoryPolicyWarns) {
  auto server =
      StartServer({.extra_args = {"--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"}});
  engine::Assessment source = AssessUri(server->Uri(), Role::kSource);
  const engine::Finding* warning = FindCode(source.warnings, "redis_eviction_policy");
  ASSERT_NE(warning, nullptr) << nlohmann::json(source.warnings).dump();
  EXPECT_THAT(warning->message, HasSubstr("allkeys-lru with maxmemory 100.0 MiB"));
  EXPECT_EQ(source.facts["maxmemory"], 100 * 1024 * 1024);
  EXPECT_EQ(source.facts["maxmemory_policy"], "allkeys-lru");
  EXPECT_THAT(Codes(AssessUri(server->Uri(), Role::kTarget).warnings),
              Contains("redis_eviction_policy"));
}

TEST_F(RedisConnectorTest, DefaultServerIsAReadySourceWithASmallBacklogWarning) {
  auto server = StartServer();
  engine::Assessment source = AssessUri(server->Uri(), Role::kSource);
  EXPECT_THAT(Codes(source.blockers), IsEmpty());
  // Redis's default repl-backlog-size is 1mb.
  EXPECT_THAT(Codes(source.warnings), ElementsAre("redis_small_repl_backlog"));
  EXPECT_EQ(source.facts["repl_backlog_size"], 1024 * 1024);
  EXPECT_EQ(source.facts["persistence"]["rdb_save"], "");
  EXPECT_EQ(source.facts["persistence"]["aof_enabled"], false);
  EXPECT_EQ(source.facts["repl_diskless_sync"], true);
  EXPECT_EQ(source.facts["user"], "default");

  server->Command({"CONFIG", "SET", "repl-backlog-size", "256mb"});
  EXPECT_THAT(Codes(AssessUri(server->Uri(), Role::kSource).warnings), IsEmpty());
}

TEST_F(RedisConnectorTest, LoadedModuleBlocksTheSource) {
  auto server = StartServer({.extra_args = {"--loadmodule", TANDEM_TEST_REDIS_MODULE}});
  engine::Assessment source = AssessUri(server->Uri(), Role::kSource);
  const engine::Finding* blocker = FindCode(source.blockers, "redis_module_loaded");
  ASSERT_NE(blocker, nullptr) << nlohmann::json(source.blockers).dump();
  EXPECT_EQ(blocker->object, "module tandemtest");
  EXPECT_THAT(blocker->fix, HasSubstr("MODULE UNLOAD tandemtest"));
  EXPECT_EQ(source.facts["modules"][0]["name"], "tandemtest");
  // A module on the target is a fact, not a finding.
  engine::Assessment target = AssessUri(server->Uri(), Role::kTarget);
  EXPECT_THAT(Codes(target.blockers), IsEmpty());
  EXPECT_EQ(target.facts["modules"][0]["name"], "tandemtest");
}

TEST_F(RedisConnectorTest, UserWithoutSyncAndPsyncIsBlockedByDryRun) {
  auto server = StartServer();
  server->Command(
      {"ACL", "SETUSER", "limited", "on", ">lp", "~*", "&*", "+@all", "-psync", "-sync"});
  engine::Assessment source = AssessUri(UserUri(*server, "limited", "lp"), Role::kSource);
  const engine::Finding* blocker = FindCode(source.blockers, "redis_missing_permission");
  ASSERT_NE(blocker, nullptr) << nlohmann::json(source.blockers).dump();
  EXPECT_EQ(blocker->object, "user limited");
  EXPECT_THAT(blocker->message, HasSubstr("may not run sync, psync on the source"));
  EXPECT_EQ(blocker->fix, "ACL SETUSER limited +sync +psync");
  EXPECT_EQ(source.facts["permission_check"], "acl dryrun");
  // Applying the fix clears the blocker.
  server->Command({"ACL", "SETUSER", "limited", "+sync", "+psync"});
  engine::Assessment fixed = AssessUri(UserUri(*server, "limited", "lp"), Role::kSource);
  EXPECT_EQ(FindCode(fixed.blockers, "redis_missing_permission"), nullptr);
}

TEST_F(RedisConnectorTest, PermissionsComeFromGetUserWhenDryRunIsDenied) {
  auto server = StartServer();
  server->Command(
      {"ACL", "SETUSER", "nodry", "on", ">np", "~*", "&*", "+@all", "-acl|dryrun", "-replconf"});
  engine::Assessment source = AssessUri(UserUri(*server, "nodry", "np"), Role::kSource);
  EXPECT_EQ(source.facts["permission_check"], "acl getuser");
  const engine::Finding* blocker = FindCode(source.blockers, "redis_missing_permission");
  ASSERT_NE(blocker, nullptr) << nlohmann::json(source.blockers).dump();
  EXPECT_EQ(blocker->fix, "ACL SETUSER nodry +replconf");
}

TEST_F(RedisConnectorTest, UserThatMayNotInspectGetsWarningsNotFailures) {
  auto server = StartServer();
  // May read data and INFO, nothing administrative: no ACL, no CONFIG, no MODULE, no CLIENT.
  server->Command({"ACL", "SETUSER", "reader", "on", ">rp", "~*", "&*", "-@all", "+@read", "+info",
                   "+ping", "+select"});
  engine::Assessment source = AssessUri(UserUri(*server, "reader", "rp"), Role::kSource);
  EXPECT_THAT(Codes(source.blockers), IsEmpty());
  EXPECT_THAT(Codes(source.warnings), Contains("redis_permissions_unchecked"));
  EXPECT_THAT(Codes(source.warnings), Contains("redis_config_unreadable"));
  // MODULE LIST is refused, INFO modules still answers.
  EXPECT_THAT(Codes(source.warnings), Not(Contains("redis_modules_unchecked")));
  EXPECT_EQ(source.facts["permission_check"], "unchecked");
  EXPECT_TRUE(source.facts["databases"].is_null());
}

TEST_F(RedisConnectorTest, TargetUserLimitedToSomeKeysIsBlocked) {
  auto server = StartServer();
  server->Command({"ACL", "SETUSER", "appwriter", "on", ">ap", "~app:*", "+@all"});
  engine::Assessment target = AssessUri(UserUri(*server, "appwriter", "ap"), Role::kTarget);
  const engine::Finding* blocker = FindCode(target.blockers, "redis_missing_permission");
  ASSERT_NE(blocker, nullptr) << nlohmann::json(target.blockers).dump();
  EXPECT_EQ(blocker->fix, "ACL SETUSER appwriter +restore +del +set +pexpireat ~*");
  EXPECT_THAT(blocker->message, HasSubstr("(on every key)"));

  server->Command({"ACL", "SETUSER", "full", "on", ">fp", "~*", "&*", "+@all"});
  engine::Assessment full = AssessUri(UserUri(*server, "full", "fp"), Role::kTarget);
  EXPECT_THAT(Codes(full.blockers), IsEmpty());
  EXPECT_EQ(full.facts["user"], "full");
}

// ---- Connection errors ----

TEST_F(RedisConnectorTest, WrongPasswordIsAuthenticationFailedWithoutThePassword) {
  auto server = StartServer();
  server->Command({"ACL", "SETUSER", "someone", "on", ">right-one", "~*", "+@all"});
  const std::string uri = "redis://:Wr0ng-Passw0rd@127.0.0.1:" + std::to_string(server->port());
  for (const std::string& bad : {uri + "/0", UserUri(*server, "someone", "Wr0ng-Passw0rd")}) {
    auto database = OpenUri(bad);
    ASSERT_FALSE(database.ok());
    EXPECT_EQ(database.status().code(), StatusCode::kAuthenticationFailed);
    EXPECT_THAT(database.status().message(), Not(HasSubstr("Wr0ng-Passw0rd")));
    EXPECT_THAT(database.status().message(), HasSubstr("WRONGPASS"));
    EXPECT_THAT(database.status().message(), HasSubstr("check the user name and password"));
    EXPECT_THAT(database.status().message(), Not(HasSubstr("\n")));
  }
  auto database = OpenUri(uri + "/0");
  EXPECT_THAT(database.status().message(),
              ::testing::StartsWith("redis://127.0.0.1:" + std::to_string(server->port()) +
                                    "/0 refused AUTH: WRONGPASS"));
}

TEST_F(RedisConnectorTest, MissingPasswordIsAuthenticationFailedSayingWhereToPutIt) {
  auto server = StartServer();
  auto database = OpenUri("redis://127.0.0.1:" + std::to_string(server->port()) + "/0");
  ASSERT_FALSE(database.ok());
  EXPECT_EQ(database.status().code(), StatusCode::kAuthenticationFailed);
  EXPECT_THAT(database.status().message(), HasSubstr("NOAUTH"));
  EXPECT_THAT(database.status().message(), HasSubstr("redis://:PASSWORD@host:port/N"));
}

TEST_F(RedisConnectorTest, PasswordForAServerWithoutOneIsAuthenticationFailed) {
  auto server = StartServer({.password = ""});
  auto database =
      OpenUri("redis://:unexpected-pw@127.0.0.1:" + std::to_string(server->port()) + "/0");
  ASSERT_FALSE(database.ok());
  EXPECT_EQ(database.status().code(), StatusCode::kAuthenticationFailed);
  EXPECT_THAT(database.status().message(), HasSubstr("remove the password"));
  EXPECT_THAT(database.status().message(), Not(HasSubstr("unexpected-pw")));
  // Without the password it connects.
  EXPECT_TRUE(OpenUri("redis://127.0.0.1:" + std::to_string(server->port()) + "/0").ok());
}

TEST_F(RedisConnectorTest, ClosedPortIsConnectionFailed) {
  auto server = StartServer();
  const std::string uri = server->Uri();
  server->Stop();
  auto database = OpenUri(uri);
  ASSERT_FALSE(database.ok());
  EXPECT_EQ(database.status().code(), StatusCode::kConnectionFailed);
  EXPECT_THAT(database.status().message(),
              HasSubstr("connection refused (is the server running and listening on 127.0.0.1:" +
                        std::to_string(server->port()) + "?)"));
  EXPECT_THAT(database.status().message(), Not(HasSubstr(server->password())));
}

TEST_F(RedisConnectorTest, DatabaseBeyondTheServersCountIsNotFound) {
  auto server = StartServer();
  auto database = OpenUri(server->Uri(16));
  ASSERT_FALSE(database.ok());
  EXPECT_EQ(database.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(database.status().message(), HasSubstr("DB index is out of range"));
  EXPECT_THAT(database.status().message(), HasSubstr("/16"));
}

TEST_F(RedisConnectorTest, UserWhoMayNotSelectIsPermissionDenied) {
  auto server = StartServer();
  server->Command({"ACL", "SETUSER", "noselect", "on", ">ns", "~*", "+@all", "-select"});
  auto database = OpenUri(UserUri(*server, "noselect", "ns", 1));
  ASSERT_FALSE(database.ok());
  EXPECT_EQ(database.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(database.status().message(), HasSubstr("ACL SETUSER noselect +select"));
  // Database 0 needs no SELECT.
  EXPECT_TRUE(OpenUri(UserUri(*server, "noselect", "ns", 0)).ok());
}

TEST_F(RedisConnectorTest, ServerGoneMidSessionIsConnectionFailed) {
  auto server = StartServer();
  auto database = OpenUri(server->Uri());
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  server->Stop();
  auto ping = (*database)->Ping();
  ASSERT_FALSE(ping.ok());
  EXPECT_EQ(ping.status().code(), StatusCode::kConnectionFailed);
  EXPECT_THAT(ping.status().message(), HasSubstr("lost the connection to"));
  EXPECT_TRUE(ping.status().retryable());
}

TEST_F(RedisConnectorTest, BlockedCommandTimesOutAfterReadTimeout) {
  auto server = StartServer();
  auto connection = ConnectUri(server->Uri() + "?read_timeout=1");
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto start = std::chrono::steady_clock::now();
  auto reply = (*connection)->Command({"BLPOP", "tandem:never", "30"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kTimeout);
  EXPECT_THAT(reply.status().message(), HasSubstr("to BLPOP within 1 s"));
}

TEST_F(RedisConnectorTest, ClientIsNamedTandem) {
  auto server = StartServer();
  auto connection = ConnectUri(server->Uri(5));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto name = (*connection)->Command({"CLIENT", "GETNAME"});
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(name->text, "tandem");
  auto info = (*connection)->Command({"CLIENT", "INFO"});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_THAT(info->text, HasSubstr(" db=5 "));
}

// ---- Pipelining ----

TEST_F(RedisConnectorTest, TenThousandPipelinedCommandsAreFast) {
  auto server = StartServer();
  auto connection = ConnectUri(server->Uri());
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  constexpr int kCommands = 10000;
  const std::string value(1024, 'v');  // 10 MiB each way: more than the socket buffers hold
  std::vector<Argv> sets;
  std::vector<Argv> gets;
  for (int i = 0; i < kCommands; ++i) {
    sets.push_back({"SET", "key:" + std::to_string(i), value + std::to_string(i)});
    gets.push_back({"GET", "key:" + std::to_string(i)});
  }
  auto start = std::chrono::steady_clock::now();
  auto set_replies = (*connection)->Pipeline(sets);
  ASSERT_TRUE(set_replies.ok()) << set_replies.status().ToString();
  auto get_replies = (*connection)->Pipeline(gets);
  ASSERT_TRUE(get_replies.ok()) << get_replies.status().ToString();
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(set_replies->size(), static_cast<size_t>(kCommands));
  ASSERT_EQ(get_replies->size(), static_cast<size_t>(kCommands));
  for (int i = 0; i < kCommands; ++i) {
    ASSERT_EQ((*set_replies)[i], Reply::Status("OK")) << i;
    ASSERT_EQ((*get_replies)[i], Reply::String(value + std::to_string(i))) << i;
  }
  // Typically well under 0.5 s on loopback; one round trip per command would take seconds.
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_EQ(server->Command({"DBSIZE"}), std::to_string(kCommands));
}

TEST_F(RedisConnectorTest, SendAndReceiveInterleaveWithErrorRepliesInPlace) {
  auto server = StartServer();
  auto connection = ConnectUri(server->Uri());
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  ASSERT_TRUE((*connection)->Send({"SET", "s", "text"}).ok());
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE((*connection)->Send({"INCR", i == 5000 ? "s" : "counter"}).ok());
  }
  EXPECT_EQ((*connection)->pending_replies(), 10001u);
  auto first = (*connection)->Receive();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, Reply::Status("OK"));
  int64_t expected = 0;
  for (int i = 0; i < 10000; ++i) {
    auto reply = (*connection)->Receive();
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    if (i == 5000) {
      EXPECT_TRUE(reply->is_error());
      EXPECT_THAT(reply->text, HasSubstr("not an integer"));
    } else {
      ASSERT_EQ(*reply, Reply::Integer(++expected));
    }
  }
  EXPECT_EQ((*connection)->pending_replies(), 0u);
  auto error = (*connection)->Command({"INCR", "s"});
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(error.status().message(), HasSubstr("refused INCR: ERR value is not an integer"));
  // An error reply leaves the connection usable.
  EXPECT_TRUE((*connection)->Command({"PING"}).ok());
}

}  // namespace
}  // namespace tandem::connectors::redis
