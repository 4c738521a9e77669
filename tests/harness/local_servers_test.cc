// Tests of the real-server harness itself: private servers in the configurations tests ask for,
// replica pairs and standbys, the shared fixture servers, and the process plumbing underneath.

#include "tests/harness/local_servers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "tests/harness/free_port.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/uri.h"
#include "tests/harness/wait.h"

namespace tandem::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

std::string ErrorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(MariaDbServer, StartsMisconfiguredWithStatementBinlogFormat) {
  TempDir dir;
  MariaDbOptions options;
  options.binlog_format = "STATEMENT";
  options.binlog_row_image = "MINIMAL";
  auto server = MariaDbServer::Start(dir.path(), options);
  EXPECT_THAT(server->QueryScalar("SELECT @@binlog_format"), Optional(std::string("STATEMENT")));
  EXPECT_THAT(server->QueryScalar("SELECT @@binlog_row_image"), Optional(std::string("MINIMAL")));
  EXPECT_THAT(server->QueryScalar("SELECT @@log_bin"), Optional(std::string("1")));
  EXPECT_THAT(server->QueryScalar("SELECT @@gtid_strict_mode"), Optional(std::string("1")));
  EXPECT_THAT(server->QueryScalar("SELECT @@server_id"), Optional(std::to_string(server->port())));
}

TEST(MariaDbServer, DefaultsToRowFullAndAFullyPrivilegedTandemAccount) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path());
  EXPECT_THAT(server->QueryScalar("SELECT @@binlog_format"), Optional(std::string("ROW")));
  EXPECT_THAT(server->QueryScalar("SELECT @@binlog_row_image"), Optional(std::string("FULL")));
  // No transaction of its own in the binary log: replicas start from a clean GTID history.
  EXPECT_THAT(server->QueryScalar("SELECT @@gtid_binlog_pos"), Optional(std::string("")));

  MySqlClient tandem = MySqlClient::ConnectUri(server->Uri());
  EXPECT_THAT(tandem.QueryScalar("SELECT CURRENT_USER()"), Optional(std::string("tandem@%")));
  ResultRows grants = tandem.Query("SHOW GRANTS");
  ASSERT_FALSE(grants.empty());
  EXPECT_THAT(grants[0][0].value_or(""), HasSubstr("GRANT ALL PRIVILEGES ON *.*"));
  EXPECT_THAT(grants[0][0].value_or(""), HasSubstr("WITH GRANT OPTION"));
  EXPECT_EQ(server->Uri("shop"),
            "mysql://tandem:tandem-secret@127.0.0.1:" + std::to_string(server->port()) + "/shop");
}

TEST(MariaDbServer, LogBinOffStartsWithoutBinaryLog) {
  TempDir dir;
  MariaDbOptions options;
  options.log_bin = false;
  auto server = MariaDbServer::Start(dir.path(), options);
  EXPECT_THAT(server->QueryScalar("SELECT @@log_bin"), Optional(std::string("0")));
}

TEST(MariaDbServer, ExecuteErrorNamesTheSqlAndTheServerMessage) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path());
  std::string error = ErrorOf([&] { server->Execute("SELECT * FROM mysql.no_such_table"); });
  EXPECT_THAT(error, HasSubstr("SELECT * FROM mysql.no_such_table"));
  EXPECT_THAT(error, HasSubstr("doesn't exist"));
}

TEST(MariaDbServer, StopEndsTheProcessAndDestructorRemovesTheDirectory) {
  TempDir dir;
  std::string server_dir;
  {
    auto server = MariaDbServer::Start(dir.path());
    server_dir = server->dir();
    const pid_t pid = server->pid();
    ASSERT_GT(pid, 0);
    server->Stop();
    EXPECT_EQ(server->pid(), 0);
    EXPECT_FALSE(ProcessStartTime(pid).has_value());
    EXPECT_TRUE(std::filesystem::exists(server_dir));
  }
  if (!KeepServerDirectories()) {
    EXPECT_FALSE(std::filesystem::exists(server_dir));
  }
}

TEST(MariaDbServer, ReplicaPairReplicatesARow) {
  TempDir dir;
  auto source = MariaDbServer::Start(dir.path());
  auto replica = MariaDbServer::Start(dir.path());
  source->Execute("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10))");
  replica->StartReplicaOf(*source);
  source->Execute("INSERT INTO d.t VALUES (1, '😀 one')");
  replica->WaitForReplicaCatchUp(*source);
  ResultRows rows = replica->Query("SELECT id, v FROM d.t");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(rows[0][1], "😀 one");
}

TEST(PostgresServer, StartsWithWalLevelReplica) {
  TempDir dir;
  PostgresOptions options;
  options.wal_level = "replica";
  options.extra_settings = {"max_connections = 50"};
  auto server = PostgresServer::Start(dir.path(), options);
  EXPECT_THAT(server->QueryScalar("SHOW wal_level"), Optional(std::string("replica")));
  EXPECT_THAT(server->QueryScalar("SHOW max_connections"), Optional(std::string("50")));
  EXPECT_THAT(server->QueryScalar("SHOW fsync"), Optional(std::string("off")));
  EXPECT_FALSE(server->is_standby());
}

TEST(PostgresServer, TandemAccountIsASuperuserThatOwnsItsDatabase) {
  TempDir dir;
  auto server = PostgresServer::Start(dir.path());
  EXPECT_THAT(server->QueryScalar("SHOW wal_level"), Optional(std::string("logical")));
  PostgresClient tandem = PostgresClient::ConnectUri(server->Uri());
  EXPECT_THAT(tandem.QueryScalar("SELECT current_user"), Optional(std::string("tandem")));
  EXPECT_THAT(tandem.QueryScalar(
                  "SELECT rolsuper AND rolreplication FROM pg_roles WHERE rolname = 'tandem'"),
              Optional(std::string("t")));
  EXPECT_THAT(tandem.QueryScalar("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname "
                                 "= 'tandem'"),
              Optional(std::string("tandem")));
  EXPECT_EQ(server->Uri(), "postgres://tandem:tandem-secret@127.0.0.1:" +
                               std::to_string(server->port()) + "/tandem");
  // A wrong password is refused over TCP (scram-sha-256), so tests of auth failures are real.
  PostgresConnectOptions wrong;
  wrong.port = server->port();
  wrong.user = "tandem";
  wrong.password = "wrong";
  wrong.database = "tandem";
  EXPECT_THAT(ErrorOf([&] { PostgresClient::Connect(wrong); }),
              HasSubstr("password authentication failed"));
}

TEST(PostgresServer, StandbyReplaysARow) {
  TempDir dir;
  auto primary = PostgresServer::Start(dir.path());
  auto standby =
      PostgresServer::StartStandbyOf(*primary, dir.path(), {"recovery_min_apply_delay = 0"});
  EXPECT_TRUE(standby->is_standby());
  EXPECT_THAT(standby->QueryScalar("SELECT pg_is_in_recovery()"), Optional(std::string("t")));
  primary->Execute("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'één')");
  standby->WaitForStandbyCatchUp(*primary);
  EXPECT_THAT(standby->QueryScalar("SELECT v FROM t WHERE id = 1"), Optional(std::string("één")));
}

TEST(PostgresServer, ParentDirectoryThePostgresAccountCannotReachIsRefusedClearly) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "only root switches to the postgres account";
  }
  TempDir dir;
  const std::string closed = dir.path() + "/closed";
  ASSERT_EQ(mkdir(closed.c_str(), 0700), 0);
  std::string error = ErrorOf([&] { PostgresServer::Start(closed + "/inner"); });
  EXPECT_THAT(error, HasSubstr("not searchable"));
  EXPECT_THAT(error, HasSubstr(closed));
}

TEST(RedisServer, ReplicaPairReplicatesAKey) {
  TempDir dir;
  auto source = RedisServer::Start(dir.path());
  auto replica = RedisServer::Start(dir.path());
  replica->StartReplicaOf(*source);
  source->Command({"SET", "greeting", "hello 😀"}, 2);
  source->Command({"RPUSH", "list", "a", "b"});
  replica->WaitForReplicaCatchUp(*source);
  EXPECT_EQ(replica->Command({"GET", "greeting"}, 2), "hello 😀");
  EXPECT_EQ(replica->Command({"LRANGE", "list", "0", "-1"}), "a\nb");
  EXPECT_EQ(replica->Command({"GET", "missing"}), "(nil)");
}

TEST(RedisServer, RequiresThePasswordAndReportsErrorReplies) {
  TempDir dir;
  auto server = RedisServer::Start(dir.path());
  EXPECT_EQ(server->Uri(3),
            "redis://:tandem-secret@127.0.0.1:" + std::to_string(server->port()) + "/3");
  RedisConnectOptions anonymous;
  anonymous.port = server->port();
  RedisClient client = RedisClient::Connect(anonymous);
  EXPECT_THAT(ErrorOf([&] { client.Command({"GET", "k"}); }), HasSubstr("NOAUTH"));
  EXPECT_THAT(ErrorOf([&] { server->Command({"NOSUCHCOMMAND"}); }), HasSubstr("unknown command"));
}

TEST(SharedServers, AreReachableWithTheirUrisAndAdminAccess) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  for (Side side : {Side::kSource, Side::kTarget}) {
    SCOPED_TRACE(SideName(side));
    MySqlClient mysql = MySqlClient::ConnectUri(servers->mysql_uri(side));
    EXPECT_THAT(mysql.QueryScalar("SELECT CURRENT_USER()"), Optional(std::string("tandem@%")));
    EXPECT_THAT(servers->QueryMySql(side, "SELECT @@binlog_format")[0][0],
                Optional(std::string("ROW")));

    PostgresClient postgres = PostgresClient::ConnectUri(servers->postgres_uri(side));
    EXPECT_THAT(postgres.QueryScalar("SELECT current_user"), Optional(std::string("tandem")));
    EXPECT_THAT(servers->QueryPostgres(side, "SHOW wal_level")[0][0],
                Optional(std::string("logical")));

    RedisClient redis = RedisClient::ConnectUri(servers->redis_uri(side));
    EXPECT_EQ(redis.Command({"PING"}), "PONG");
    EXPECT_EQ(servers->RedisCommand(side, {"PING"}, 1), "PONG");
  }
  EXPECT_NE(servers->mysql_port(Side::kSource), servers->mysql_port(Side::kTarget));
  EXPECT_EQ(servers->mysql_source_uri("shop"), servers->mysql_uri(Side::kSource, "shop"));
}

TEST(SharedServers, SourceAndTargetAreIndependent) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  const std::string key = UniqueName("harness_independent");
  servers->RedisCommand(Side::kSource, {"SET", key, "1"});
  EXPECT_EQ(servers->RedisCommand(Side::kTarget, {"EXISTS", key}), "0");
  servers->RedisCommand(Side::kSource, {"DEL", key});

  const std::string db = UniqueName("harness_independent");
  servers->ExecuteMySql(Side::kSource, "CREATE DATABASE " + db);
  EXPECT_TRUE(servers->QueryMySql(Side::kTarget, "SHOW DATABASES LIKE '" + db + "'").empty());
  servers->ExecuteMySql(Side::kSource, "DROP DATABASE " + db);
}

TEST(SharedServers, MissingEnvFileIsAClearError) {
  EXPECT_THAT(ErrorOf([] { SharedServers::Load("/nonexistent/servers.env"); }),
              HasSubstr("tandem-test-servers start"));
}

TEST(Subprocess, RunCommandReportsExitStatusAndLogTail) {
  TempDir dir;
  SpawnOptions options;
  options.argv = {"sh", "-c", "echo something went wrong >&2; exit 3"};
  options.log_path = dir.path() + "/log";
  std::string error = ErrorOf([&] { RunCommand(options); });
  EXPECT_THAT(error, HasSubstr("exited with status 3"));
  EXPECT_THAT(error, HasSubstr("something went wrong"));
}

TEST(Subprocess, SpawnOfAMissingProgramThrows) {
  SpawnOptions options;
  options.argv = {"/nonexistent/program"};
  EXPECT_THAT(ErrorOf([&] { ChildProcess::Spawn(options); }), HasSubstr("/nonexistent/program"));
}

TEST(Subprocess, StopEscalatesToSigkillAfterTheGracePeriod) {
  SpawnOptions options;
  options.argv = {"sh", "-c", "trap '' TERM; while :; do sleep 1; done"};
  ChildProcess child = ChildProcess::Spawn(options);
  // Wait until the shell has installed its trap (it is running once /proc shows the sh image).
  ASSERT_TRUE(PollUntil(std::chrono::seconds(10), [&] { return ProcessStartTime(child.pid()); }));
  const auto started = std::chrono::steady_clock::now();
  child.Stop(SIGTERM, std::chrono::milliseconds(300));
  EXPECT_EQ(child.pid(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(Uri, ParsesAndBuildsTheContractForms) {
  ServerUri uri = ParseServerUri("mysql://tandem:p%40ss@127.0.0.1:3307/shop?ssl-mode=DISABLED");
  EXPECT_EQ(uri.scheme, "mysql");
  EXPECT_EQ(uri.user, "tandem");
  EXPECT_EQ(uri.password, "p@ss");
  EXPECT_EQ(uri.host, "127.0.0.1");
  EXPECT_EQ(uri.port, 3307);
  EXPECT_EQ(uri.path, "shop");
  EXPECT_EQ(BuildServerUri("redis", "", "pw", "127.0.0.1", 6380, "0"),
            "redis://:pw@127.0.0.1:6380/0");
  EXPECT_EQ(BuildServerUri("mysql", "u", "p", "h", 1, ""), "mysql://u:p@h:1");
  EXPECT_THROW(ParseServerUri("not a uri"), std::runtime_error);
}

TEST(FreePort, HandsOutDistinctPortsAndRecognisesBindFailures) {
  const uint16_t first = PickFreePort();
  const uint16_t second = PickFreePort();
  EXPECT_NE(first, second);
  EXPECT_TRUE(
      IsPortConflict("[ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: "
                     "Address already in use"));
  EXPECT_TRUE(IsPortConflict("LOG:  could not bind IPv4 address \"127.0.0.1\""));
  EXPECT_FALSE(IsPortConflict("ready for connections"));
}

}  // namespace
}  // namespace tandem::testing
