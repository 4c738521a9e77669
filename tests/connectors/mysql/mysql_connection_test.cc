// Connection, server description and catalog of the MySQL connector against the shared servers.

#include <gtest/gtest.h>

#include <chrono>

#include "connectors/mysql/mysql_database.h"
#include "tests/connectors/mysql/mysql_test_util.h"
#include "tests/harness/free_port.h"

namespace tandem::connectors::mysql {
namespace {

using engine::StatusCode;
using engine::ValueKind;
using testing::Side;

class MySqlConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = testing::SharedServers::GetOrNull();
    if (servers_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS; run through ctest)";
    }
    port_ = servers_->mysql_port(Side::kSource);
  }

  std::string UriWith(const std::string& user_and_password, const std::string& database = "",
                      const std::string& query = "") const {
    return "mysql://" + user_and_password + "@127.0.0.1:" + std::to_string(port_) + "/" + database +
           query;
  }

  // Opens and expects failure with `code`; checks the message is one line naming the server and
  // never containing `password`.
  engine::Status ExpectOpenFails(const std::string& uri, StatusCode code,
                                 const std::string& password) {
    const engine::ConnectionConfig config = ConfigFor(uri);
    auto database = OpenMySqlDatabase(config);
    EXPECT_FALSE(database.ok());
    if (database.ok()) {
      return engine::Status::Ok();
    }
    const engine::Status status = database.status();
    EXPECT_EQ(status.code(), code) << status.ToString();
    EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(config.Redacted()), std::string::npos) << status.message();
    if (!password.empty()) {
      EXPECT_EQ(status.message().find(password), std::string::npos) << status.message();
    }
    return status;
  }

  const testing::SharedServers* servers_ = nullptr;
  uint16_t port_ = 0;
};

TEST_F(MySqlConnectionTest, WrongPasswordIsAuthenticationFailedWithoutThePassword) {
  const std::string password = "not-the-password-7731";
  const engine::Status status =
      ExpectOpenFails(UriWith("tandem:" + password), StatusCode::kAuthenticationFailed, password);
  EXPECT_NE(status.message().find("access denied for user 'tandem'"), std::string::npos)
      << status.message();
  EXPECT_FALSE(status.retryable());
}

TEST_F(MySqlConnectionTest, ClosedPortIsConnectionFailed) {
  const uint16_t closed = testing::PickFreePort();
  const std::string uri =
      "mysql://tandem:tandem-secret@127.0.0.1:" + std::to_string(closed) + "/shop";
  const engine::Status status =
      ExpectOpenFails(uri, StatusCode::kConnectionFailed, "tandem-secret");
  EXPECT_NE(status.message().find("is the server running and listening on 127.0.0.1:" +
                                  std::to_string(closed)),
            std::string::npos)
      << status.message();
  EXPECT_TRUE(status.retryable());
}

TEST_F(MySqlConnectionTest, UnknownHostIsConnectionFailed) {
  const engine::Status status =
      ExpectOpenFails("mysql://tandem:tandem-secret@no-such-host.invalid:3306/?connect_timeout=5",
                      StatusCode::kConnectionFailed, "tandem-secret");
  EXPECT_NE(status.message().find("unknown host 'no-such-host.invalid'"), std::string::npos)
      << status.message();
}

TEST_F(MySqlConnectionTest, UnknownDatabaseIsNotFound) {
  const engine::Status status =
      ExpectOpenFails(UriWith("tandem:tandem-secret", "no_such_database_for_tandem"),
                      StatusCode::kNotFound, "tandem-secret");
  EXPECT_NE(status.message().find("unknown database 'no_such_database_for_tandem'"),
            std::string::npos)
      << status.message();
}

TEST_F(MySqlConnectionTest, DatabaseWithoutPrivilegeIsPermissionDenied) {
  ScratchDatabase db(*servers_, Side::kSource, "mysql_conn_denied");
  const std::string user = testing::UniqueName("nobody");
  servers_->ExecuteMySql(Side::kSource,
                         "CREATE USER '" + user + "'@'%' IDENTIFIED BY 'nobody-pass-1'");
  const engine::Status status = ExpectOpenFails(UriWith(user + ":nobody-pass-1", db.name()),
                                                StatusCode::kPermissionDenied, "nobody-pass-1");
  EXPECT_NE(status.message().find("has no access to database '" + db.name() + "'"),
            std::string::npos)
      << status.message();
  servers_->ExecuteMySql(Side::kSource, "DROP USER '" + user + "'@'%'");
}

TEST_F(MySqlConnectionTest, RequiredTlsIsRefusedWhenTheServerHasNone) {
  const auto have_ssl = servers_->QueryMySql(Side::kSource, "SELECT @@have_ssl");
  if (!have_ssl.empty() && have_ssl[0][0] == std::optional<std::string>("YES")) {
    GTEST_SKIP() << "the shared server offers TLS";
  }
  const engine::Status status =
      ExpectOpenFails(UriWith("tandem:tandem-secret", "", "?ssl-mode=REQUIRED"),
                      StatusCode::kConnectionFailed, "tandem-secret");
  EXPECT_NE(status.message().find("TLS"), std::string::npos) << status.message();
  // Preferred (the default) and disabled fall back to plain TCP.
  EXPECT_NO_THROW(OpenOrThrow(UriWith("tandem:tandem-secret", "", "?ssl-mode=PREFERRED")));
  EXPECT_NO_THROW(OpenOrThrow(UriWith("tandem:tandem-secret", "", "?ssl-mode=DISABLED")));
}

TEST_F(MySqlConnectionTest, DescribesServerPingsAndReadsTheClock) {
  auto database = OpenOrThrow(servers_->mysql_source_uri());
  const auto info = database->DescribeServer();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->product, "MariaDB");
  EXPECT_NE(info->version.find("MariaDB"), std::string::npos);
  EXPECT_GE(info->version_number, 100300);

  const auto ping = database->Ping();
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_GT(ping->count(), 0);
  EXPECT_LT(*ping, std::chrono::seconds(5));

  const int64_t before = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const auto server_time = database->ServerTimeMicros();
  const int64_t after = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  ASSERT_TRUE(server_time.ok()) << server_time.status().ToString();
  // Same machine, same clock: within the call, give or take rounding.
  EXPECT_GE(*server_time, before - 1000);
  EXPECT_LE(*server_time, after + 1000);
  EXPECT_NE(*server_time % 1000000, 0);  // microseconds, not whole seconds (1 in 10^6 flakes)
}

TEST_F(MySqlConnectionTest, CatalogOfTheSampleData) {
  ScratchDatabase db(*servers_, Side::kSource, "mysql_catalog");
  testing::LoadMySqlSampleData(servers_->mysql_source_uri(), {.rows = 20, .database = db.name()});
  db.Execute("CREATE VIEW {db}.a_view AS SELECT 1 AS one");
  auto database = OpenOrThrow(db.uri());

  const auto tables = database->ListTables("");
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  std::vector<std::string> names;
  for (const engine::TableId& id : *tables) {
    EXPECT_EQ(id.schema, db.name());
    names.push_back(id.name);
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"all_types", "customers", "events_log", "order_lines"}));

  const auto all_types = database->DescribeTable({db.name(), "all_types"});
  ASSERT_TRUE(all_types.ok()) << all_types.status().ToString();
  auto column = [&](const std::string& name) -> const engine::Column& {
    const int index = all_types->ColumnIndex(name);
    EXPECT_GE(index, 0) << name;
    return all_types->columns.at(static_cast<size_t>(index));
  };
  EXPECT_EQ(column("id").declared_type, "bigint(20) unsigned");
  EXPECT_EQ(column("id").kind, ValueKind::kUInt);
  EXPECT_FALSE(column("id").nullable);
  EXPECT_EQ(column("c_tinyint").kind, ValueKind::kInt);
  EXPECT_EQ(column("c_decimal").declared_type, "decimal(20,6)");
  EXPECT_EQ(column("c_decimal").kind, ValueKind::kDecimal);
  EXPECT_EQ(column("c_float").kind, ValueKind::kFloat);
  EXPECT_EQ(column("c_double").kind, ValueKind::kDouble);
  EXPECT_EQ(column("c_varchar").declared_type, "varchar(255)");
  EXPECT_EQ(column("c_varchar").charset, "utf8mb4");
  EXPECT_EQ(column("c_varchar").collation, "utf8mb4_general_ci");
  EXPECT_EQ(column("c_blob").kind, ValueKind::kBytes);
  EXPECT_EQ(column("c_blob").charset, "");
  EXPECT_EQ(column("c_json").kind, ValueKind::kJson);
  EXPECT_EQ(column("c_json").declared_type, "longtext");
  EXPECT_EQ(column("c_enum").declared_type, "enum('small','medium','large','x-large')");
  EXPECT_EQ(column("c_enum").kind, ValueKind::kText);
  EXPECT_EQ(column("c_bit").kind, ValueKind::kBits);
  EXPECT_EQ(column("c_time").kind, ValueKind::kTime);
  EXPECT_EQ(column("c_timestamp").kind, ValueKind::kTimestamp);
  EXPECT_EQ(column("c_year").kind, ValueKind::kInt);
  ASSERT_EQ(all_types->keys.size(), 1u);
  EXPECT_TRUE(all_types->keys[0].primary);
  EXPECT_EQ(all_types->keys[0].columns, std::vector<int>{0});
  EXPECT_GE(all_types->estimated_rows, 0);
  EXPECT_GT(all_types->data_bytes, 0);

  const auto order_lines = database->DescribeTable({db.name(), "order_lines"});
  ASSERT_TRUE(order_lines.ok());
  ASSERT_NE(order_lines->IdentifyingKey(), nullptr);
  EXPECT_EQ(order_lines->IdentifyingKey()->columns, (std::vector<int>{0, 1}));

  const auto events = database->DescribeTable({db.name(), "events_log"});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->IdentifyingKey(), nullptr);
  EXPECT_EQ(events->columns.at(4).kind, ValueKind::kJson);

  const auto missing = database->DescribeTable({db.name(), "no_such_table"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  const auto view = database->DescribeTable({db.name(), "a_view"});
  EXPECT_EQ(view.status().code(), StatusCode::kNotFound);
  const auto wrong_case = database->DescribeTable({db.name(), "ALL_TYPES"});
  EXPECT_EQ(wrong_case.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(database->ListTables("no_such_schema_for_tandem").status().code(),
            StatusCode::kNotFound);
}

TEST_F(MySqlConnectionTest, UniqueKeysAndTheirNullability) {
  ScratchDatabase db(*servers_, Side::kSource, "mysql_keys");
  db.Execute(
      "CREATE TABLE {db}.k (a INT NULL, b INT NOT NULL, c INT NOT NULL, d INT NULL, "
      "UNIQUE KEY z_nullable (a), UNIQUE KEY y_pair (c, b), KEY plain (d))");
  auto database = OpenOrThrow(db.uri());
  const auto table = database->DescribeTable({db.name(), "k"});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->keys.size(), 2u);
  EXPECT_EQ(table->keys[0].name, "y_pair");
  EXPECT_EQ(table->keys[0].columns, (std::vector<int>{2, 1}));
  EXPECT_TRUE(table->keys[0].all_not_null);
  EXPECT_EQ(table->keys[1].name, "z_nullable");
  EXPECT_FALSE(table->keys[1].all_not_null);
  ASSERT_NE(table->IdentifyingKey(), nullptr);
  EXPECT_EQ(table->IdentifyingKey()->name, "y_pair");
}

}  // namespace
}  // namespace tandem::connectors::mysql
