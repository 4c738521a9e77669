// Integration tests: connecting (errors mapped to the right StatusCode, one line, never the
// password), server description, ping and clock, and the read timeout (server-side
// statement_timeout and the client-side silence timeout with cancel).
#include "connectors/postgres/postgres_connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "connectors/postgres/postgres_database.h"
#include "tests/connectors/postgres/postgres_test_support.h"
#include "tests/harness/free_port.h"

namespace tandem::postgres_test {
namespace {

using connectors::postgres::OpenPostgresDatabase;
using connectors::postgres::PostgresConnection;
using engine::StatusCode;
using testing::Side;

class PostgresConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = Shared();
    if (servers_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS)";
    }
  }

  // Opens `uri`, expects `code`, and checks the message is one line, names the server and does
  // not contain `secret`.
  void ExpectOpenFails(const std::string& uri, StatusCode code, const std::string& secret) {
    const engine::ConnectionConfig config = Config(uri);
    auto database = OpenPostgresDatabase(config);
    ASSERT_FALSE(database.ok());
    const engine::Status status = database.status();
    EXPECT_EQ(status.code(), code) << status.ToString();
    EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.message();
    EXPECT_EQ(status.message().find(secret), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(config.Redacted()), std::string::npos) << status.message();
  }

  const testing::SharedServers* servers_ = nullptr;
};

TEST_F(PostgresConnectionTest, OpensAndDescribesTheServer) {
  auto database = Open(servers_->postgres_source_uri());
  ASSERT_NE(database, nullptr);
  auto info = database->DescribeServer();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->product, "PostgreSQL");
  EXPECT_EQ(info->version.substr(0, 3), "15.");
  EXPECT_GE(info->version_number, 150000);
  EXPECT_LT(info->version_number, 160000);
}

TEST_F(PostgresConnectionTest, PingMeasuresARoundTrip) {
  auto database = Open(servers_->postgres_source_uri());
  ASSERT_NE(database, nullptr);
  auto rtt = database->Ping();
  ASSERT_TRUE(rtt.ok()) << rtt.status().ToString();
  EXPECT_GT(rtt->count(), 0);
  EXPECT_LT(*rtt, std::chrono::seconds(5));
}

TEST_F(PostgresConnectionTest, ServerClockIsUtcMicroseconds) {
  auto database = Open(servers_->postgres_source_uri());
  ASSERT_NE(database, nullptr);
  const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto server = database->ServerTimeMicros();
  const auto after = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  // Same host: the server's clock lies between the two local readings (1 ms slack for rounding).
  EXPECT_GE(*server, before - 1000);
  EXPECT_LE(*server, after + 1000);
  // Microsecond precision: over a few readings, not every value is a whole millisecond.
  bool sub_millisecond = *server % 1000 != 0;
  for (int i = 0; i < 5 && !sub_millisecond; ++i) {
    auto again = database->ServerTimeMicros();
    ASSERT_TRUE(again.ok());
    sub_millisecond = *again % 1000 != 0;
  }
  EXPECT_TRUE(sub_millisecond);
}

TEST_F(PostgresConnectionTest, WrongPasswordIsAuthenticationFailedWithoutThePassword) {
  const std::string password = "Wr0ng-Passw0rd-xyzzy";
  const std::string uri = "postgres://tandem:" + password +
                          "@127.0.0.1:" + std::to_string(servers_->postgres_port(Side::kSource)) +
                          "/tandem";
  ExpectOpenFails(uri, StatusCode::kAuthenticationFailed, password);
}

TEST_F(PostgresConnectionTest, UnknownUserIsAuthenticationFailed) {
  const std::string uri = "postgres://no_such_user_xyz:whatever-pw@127.0.0.1:" +
                          std::to_string(servers_->postgres_port(Side::kSource)) + "/tandem";
  ExpectOpenFails(uri, StatusCode::kAuthenticationFailed, "whatever-pw");
}

TEST_F(PostgresConnectionTest, ClosedPortIsConnectionFailed) {
  const uint16_t port = testing::PickFreePort();  // nothing listens there
  const std::string uri =
      "postgres://tandem:tandem-secret@127.0.0.1:" + std::to_string(port) + "/tandem";
  ExpectOpenFails(uri, StatusCode::kConnectionFailed, "tandem-secret");
  auto database = OpenPostgresDatabase(Config(uri));
  ASSERT_FALSE(database.ok());
  EXPECT_NE(database.status().message().find("connection refused"), std::string::npos)
      << database.status().message();
}

TEST_F(PostgresConnectionTest, UnknownDatabaseIsNotFound) {
  ExpectOpenFails(servers_->postgres_source_uri("no_such_database_xyz"), StatusCode::kNotFound,
                  "tandem-secret");
}

TEST_F(PostgresConnectionTest, MissingConnectPrivilegeIsPermissionDenied) {
  ScratchRole role(*servers_, Side::kSource, "pgconn_noconnect");
  ScratchDatabase database(*servers_, Side::kSource, "pgconn_noconnect");
  database.Execute("REVOKE CONNECT ON DATABASE " + database.name() + " FROM PUBLIC");
  ExpectOpenFails(database.UriFor(role.name(), role.password()), StatusCode::kPermissionDenied,
                  role.password());
}

TEST_F(PostgresConnectionTest, RequiredTlsAgainstAPlainServerIsConnectionFailed) {
  ExpectOpenFails(servers_->postgres_source_uri() + "?sslmode=require",
                  StatusCode::kConnectionFailed, "tandem-secret");
}

TEST_F(PostgresConnectionTest, NonPostgresConfigIsInvalidArgument) {
  auto database = OpenPostgresDatabase(Config("mysql://tandem@127.0.0.1:3306/shop"));
  EXPECT_EQ(database.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PostgresConnectionTest, SessionSettingsAreFixed) {
  auto connection = PostgresConnection::Connect(Config(servers_->postgres_source_uri()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto result =
      (*connection)
          ->Query("reading settings",
                  "SELECT current_setting('TimeZone'), current_setting('DateStyle'), "
                  "current_setting('extra_float_digits'), current_setting('bytea_output'), "
                  "current_setting('client_encoding'), current_setting('application_name'), "
                  "current_setting('statement_timeout')");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->String(0, 0), "UTC");
  EXPECT_EQ(result->String(0, 1), "ISO, MDY");
  EXPECT_EQ(result->String(0, 2), "3");
  EXPECT_EQ(result->String(0, 3), "hex");
  EXPECT_EQ(result->String(0, 4), "UTF8");
  EXPECT_EQ(result->String(0, 5), "tandem");
  EXPECT_EQ(result->String(0, 6), "1min");  // read_timeout's default, 60 s
}

TEST_F(PostgresConnectionTest, ParametersAreBoundNotSpliced) {
  auto connection = PostgresConnection::Connect(Config(servers_->postgres_source_uri()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto result = (*connection)
                    ->Query("echoing", "SELECT $1::text, $2::text IS NULL",
                            {std::string("'; SELECT 1; --"), std::nullopt});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->String(0, 0), "'; SELECT 1; --");
  EXPECT_TRUE(result->Bool(0, 1));
}

TEST_F(PostgresConnectionTest, StatementErrorsKeepTheConnectionUsable) {
  auto connection = PostgresConnection::Connect(Config(servers_->postgres_source_uri()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto missing = (*connection)->Query("reading", "SELECT * FROM no_such_table_xyz");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("42P01"), std::string::npos);
  auto again = (*connection)->Query("reading", "SELECT 1");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST_F(PostgresConnectionTest, SlowStatementHitsTheReadTimeout) {
  auto connection =
      PostgresConnection::Connect(Config(servers_->postgres_source_uri() + "?read_timeout=1"));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  const auto start = std::chrono::steady_clock::now();
  auto slow = (*connection)->Query("sleeping", "SELECT pg_sleep(10)");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(slow.status().code(), StatusCode::kTimeout) << slow.status().ToString();
  EXPECT_NE(slow.status().message().find("read_timeout"), std::string::npos);
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  auto again = (*connection)->Query("reading", "SELECT 1");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST_F(PostgresConnectionTest, SilentStreamIsCancelledAfterTheReadTimeout) {
  // Streamed reads have no server-side statement_timeout: the client's silence timeout must
  // cancel the statement itself and leave the connection usable.
  auto connection =
      PostgresConnection::Connect(Config(servers_->postgres_source_uri() + "?read_timeout=1"));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  int rows = 0;
  const auto start = std::chrono::steady_clock::now();
  engine::Status status =
      (*connection)
          ->Stream(
              "streaming",
              "SELECT g, pg_sleep(CASE WHEN g = 3 THEN 10 ELSE 0 END) FROM generate_series(1, 5) g",
              {}, [&](const connectors::postgres::PgResult&) -> engine::Result<bool> {
                ++rows;
                return true;
              });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.code(), StatusCode::kTimeout) << status.ToString();
  EXPECT_LE(rows, 2);  // the server may still hold rows 1-2 in its send buffer
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  auto again = (*connection)->Query("reading", "SELECT current_setting('statement_timeout')");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->String(0, 0), "1s");  // restored for ordinary statements
  auto backends =
      (*connection)
          ->Query("reading",
                  "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 5)%'"
                  " AND state = 'active' AND pid <> pg_backend_pid()");
  ASSERT_TRUE(backends.ok());
  EXPECT_EQ(backends->Int(0, 0), 0);
}

TEST_F(PostgresConnectionTest, ReadRangeBlockedByALockTimesOutAndRecovers) {
  ScratchDatabase database(*servers_, Side::kSource, "pgconn_lock");
  database.Execute("CREATE TABLE locked (id int PRIMARY KEY); INSERT INTO locked VALUES (1)");
  auto tandem = Open(database.Uri("?read_timeout=1"));
  ASSERT_NE(tandem, nullptr);
  auto schema = tandem->DescribeTable({"public", "locked"});
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();

  testing::PostgresClient holder = database.ConnectAdmin();
  holder.Execute("BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE");
  const auto start = std::chrono::steady_clock::now();
  engine::Status status =
      tandem->ReadRange(*schema, engine::KeyRange::All(), [](engine::Row&&) { return true; });
  EXPECT_EQ(status.code(), StatusCode::kTimeout) << status.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The catalog query is bounded by the server's statement_timeout while the lock is held.
  auto described = tandem->DescribeTable({"public", "locked"});
  EXPECT_EQ(described.status().code(), StatusCode::kTimeout) << described.status().ToString();
  holder.Execute("COMMIT");

  EXPECT_TRUE(tandem->Ping().ok());
  std::vector<engine::Row> rows = ReadAll(*tandem, *schema);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], engine::Value::Int(1));
}

}  // namespace
}  // namespace tandem::postgres_test
