#include "connectors/mysql/mysql_error.h"

#include <errmsg.h>
#include <gtest/gtest.h>
#include <mysqld_error.h>

#include "engine/connection_config.h"

namespace tandem::connectors::mysql {
namespace {

using engine::StatusCode;

engine::ConnectionConfig Config() {
  engine::ConnectionConfig config;
  config.engine = engine::EngineKind::kMySql;
  config.user = "tandem";
  config.password = "s3cret-pass";
  config.host = "127.0.0.1";
  config.port = 3307;
  config.database = "shop";
  return config;
}

void ExpectOneLineWithoutPassword(const engine::Status& status) {
  EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find("s3cret-pass"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("mysql://tandem@127.0.0.1:3307/shop"), std::string::npos)
      << status.message();
}

TEST(MySqlConnectErrorStatus, RefusedPortIsConnectionFailedWithHint) {
  const auto status = ConnectErrorStatus(
      {CR_CONNECTION_ERROR, "HY000", "Can't connect to server on '127.0.0.1' (111)"}, Config());
  EXPECT_EQ(status.code(), StatusCode::kConnectionFailed);
  EXPECT_EQ(status.message(),
            "cannot connect to mysql://tandem@127.0.0.1:3307/shop: connection refused (is the "
            "server running and listening on 127.0.0.1:3307? is a firewall in the way?)");
  EXPECT_TRUE(status.retryable());
}

TEST(MySqlConnectErrorStatus, NonBlockingConnectErrnoStillNamesTheEndpoint) {
  // Connector/C reports EINPROGRESS (115) for a refused non-blocking connect.
  const auto status = ConnectErrorStatus(
      {CR_CONNECTION_ERROR, "HY000", "Can't connect to server on '127.0.0.1' (115)"}, Config());
  EXPECT_EQ(status.code(), StatusCode::kConnectionFailed);
  EXPECT_NE(status.message().find("no server answered on 127.0.0.1:3307"), std::string::npos);
  ExpectOneLineWithoutPassword(status);
}

TEST(MySqlConnectErrorStatus, HandshakeTimeoutSaysSo) {
  const auto status = ConnectErrorStatus(
      {CR_SERVER_LOST, "HY000",
       "Lost connection to server at 'handshake: reading initial communication packet', system "
       "error: 110"},
      Config());
  EXPECT_EQ(status.code(), StatusCode::kConnectionFailed);
  EXPECT_NE(status.message().find("no answer within 10 s"), std::string::npos);
}

TEST(MySqlConnectErrorStatus, UnknownHostNamesTheHost) {
  const auto status = ConnectErrorStatus(
      {CR_UNKNOWN_HOST, "HY000", "Unknown server host 'db.invalid' (-2)"}, Config());
  EXPECT_EQ(status.code(), StatusCode::kConnectionFailed);
  EXPECT_NE(status.message().find("unknown host '127.0.0.1'"), std::string::npos);
}

TEST(MySqlConnectErrorStatus, AccessDeniedIsAuthenticationFailed) {
  const auto status =
      ConnectErrorStatus({ER_ACCESS_DENIED_ERROR, "28000",
                          "Access denied for user 'tandem'@'localhost' (using password: YES)"},
                         Config());
  EXPECT_EQ(status.code(), StatusCode::kAuthenticationFailed);
  EXPECT_FALSE(status.retryable());
  ExpectOneLineWithoutPassword(status);
}

TEST(MySqlConnectErrorStatus, UnknownDatabaseIsNotFound) {
  const auto status =
      ConnectErrorStatus({ER_BAD_DB_ERROR, "42000", "Unknown database 'shop'"}, Config());
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("unknown database 'shop'"), std::string::npos);
  ExpectOneLineWithoutPassword(status);
}

TEST(MySqlConnectErrorStatus, DatabaseAccessDeniedIsPermissionDenied) {
  const auto status = ConnectErrorStatus(
      {ER_DBACCESS_DENIED_ERROR, "42000", "Access denied for user 'tandem'@'%' to database 'shop'"},
      Config());
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("GRANT SELECT ON `shop`.* TO 'tandem'@'%'"), std::string::npos);
}

TEST(MySqlConnectErrorStatus, ServerTextNeverCarriesThePassword) {
  const auto status = ConnectErrorStatus(
      {1234, "HY000", "odd failure mentioning s3cret-pass\nover two lines"}, Config());
  ExpectOneLineWithoutPassword(status);
  EXPECT_NE(status.message().find("***"), std::string::npos);
}

TEST(MySqlQueryErrorStatus, MapsServerErrors) {
  const auto config = Config();
  EXPECT_EQ(QueryErrorStatus({ER_NO_SUCH_TABLE, "42S02", "Table 'shop.t' doesn't exist"}, config,
                             "reading shop.t")
                .code(),
            StatusCode::kNotFound);
  EXPECT_EQ(QueryErrorStatus({ER_TABLEACCESS_DENIED_ERROR, "42000", "SELECT command denied"},
                             config, "reading shop.t")
                .code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(
      QueryErrorStatus({CR_SERVER_LOST, "HY000", "Lost connection"}, config, "reading").code(),
      StatusCode::kConnectionFailed);
  EXPECT_EQ(
      QueryErrorStatus({ER_LOCK_WAIT_TIMEOUT, "HY000", "Lock wait timeout"}, config, "x").code(),
      StatusCode::kUnavailable);
  EXPECT_EQ(QueryErrorStatus({ER_STATEMENT_TIMEOUT, "70100", "Query execution was interrupted"},
                             config, "x")
                .code(),
            StatusCode::kTimeout);
  EXPECT_EQ(
      QueryErrorStatus({ER_OPTION_PREVENTS_STATEMENT, "HY000", "--read-only"}, config, "x").code(),
      StatusCode::kFailedPrecondition);
  EXPECT_EQ(QueryErrorStatus({ER_PARSE_ERROR, "42000", "syntax"}, config, "x").code(),
            StatusCode::kInternal);
}

TEST(MySqlQueryErrorStatus, MessageNamesActionAndServer) {
  const auto status = QueryErrorStatus({ER_NO_SUCH_TABLE, "42S02", "Table 'shop.t' doesn't exist"},
                                       Config(), "reading shop.t (1, 5]");
  EXPECT_EQ(status.message(),
            "reading shop.t (1, 5] on mysql://tandem@127.0.0.1:3307/shop: Table 'shop.t' doesn't "
            "exist (error 1146)");
}

TEST(MySqlOneLineWithoutSecret, ShortPasswordsAreNotMasked) {
  EXPECT_EQ(OneLineWithoutSecret("a\tb\nc", "abc"), "a b c");
  EXPECT_EQ(OneLineWithoutSecret("xx hunter2 yy hunter2", "hunter2"), "xx *** yy ***");
  EXPECT_EQ(OneLineWithoutSecret("trailing\n", ""), "trailing");
}

}  // namespace
}  // namespace tandem::connectors::mysql
