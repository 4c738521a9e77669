// Unit tests (no server) for connectors/postgres/postgres_errors.h: libpq connection messages and
// SQLSTATEs become the right StatusCode and a one-line message without the password.
#include "connectors/postgres/postgres_errors.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::connectors::postgres {
namespace {

using engine::ConnectionConfig;
using engine::StatusCode;

constexpr char kPassword[] = "s3cr3t-Pa55";

ConnectionConfig Config() {
  auto config = engine::ParseConnectionUri(
      std::string("postgres://tandem:") + kPassword + "@127.0.0.1:5999/shop", "--source", "");
  EXPECT_TRUE(config.ok());
  return *config;
}

void ExpectOneLineWithoutPassword(const engine::Status& status) {
  EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find(kPassword), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("postgres://tandem@127.0.0.1:5999/shop"), std::string::npos)
      << status.message();
}

TEST(PostgresConnectError, RefusedPortIsConnectionFailedWithAHint) {
  auto status = ConnectError(Config(),
                             "connection to server at \"127.0.0.1\", port 5999 failed: Connection "
                             "refused\n\tIs the server running on that host and accepting TCP/IP "
                             "connections?\n");
  EXPECT_EQ(status.code(), StatusCode::kConnectionFailed);
  EXPECT_EQ(status.message(),
            "cannot connect to postgres://tandem@127.0.0.1:5999/shop: connection refused (is the "
            "server running and listening on 127.0.0.1:5999?)");
  ExpectOneLineWithoutPassword(status);
}

TEST(PostgresConnectError, WrongPasswordIsAuthenticationFailed) {
  auto status = ConnectError(Config(),
                             "connection to server at \"127.0.0.1\", port 5999 failed: FATAL:  "
                             "password authentication failed for user \"tandem\"\n");
  EXPECT_EQ(status.code(), StatusCode::kAuthenticationFailed);
  ExpectOneLineWithoutPassword(status);
}

TEST(PostgresConnectError, MissingPasswordAndHbaAndRoleAreAuthenticationFailed) {
  EXPECT_EQ(ConnectError(Config(),
                         "connection to server at \"127.0.0.1\", port 5999 failed: "
                         "fe_sendauth: no password supplied\n")
                .code(),
            StatusCode::kAuthenticationFailed);
  EXPECT_EQ(ConnectError(Config(),
                         "connection to server at \"127.0.0.1\", port 5999 failed: "
                         "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user "
                         "\"tandem\", database \"shop\", no encryption\n")
                .code(),
            StatusCode::kAuthenticationFailed);
  EXPECT_EQ(ConnectError(Config(), "FATAL:  role \"nobody\" does not exist\n").code(),
            StatusCode::kAuthenticationFailed);
}

TEST(PostgresConnectError, UnknownDatabaseIsNotFound) {
  auto status = ConnectError(Config(),
                             "connection to server at \"127.0.0.1\", port 5999 failed: FATAL:  "
                             "database \"shop\" does not exist\n");
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("database \"shop\" does not exist"), std::string::npos);
  ExpectOneLineWithoutPassword(status);
}

TEST(PostgresConnectError, NoConnectPrivilegeIsPermissionDenied) {
  auto status = ConnectError(Config(),
                             "connection to server at \"127.0.0.1\", port 5999 failed: FATAL:  "
                             "permission denied for database \"shop\"\nDETAIL:  User does not "
                             "have CONNECT privilege.\n");
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("GRANT CONNECT ON DATABASE"), std::string::npos);
  ExpectOneLineWithoutPassword(status);
}

TEST(PostgresConnectError, TimeoutAndUnknownHostAreConnectionFailed) {
  auto timeout = ConnectError(Config(),
                              "connection to server at \"10.255.255.1\", port 5432 "
                              "failed: timeout expired\n");
  EXPECT_EQ(timeout.code(), StatusCode::kConnectionFailed);
  EXPECT_NE(timeout.message().find("no answer within 10 s"), std::string::npos);
  auto host = ConnectError(Config(),
                           "could not translate host name \"nohost\" to address: Name "
                           "or service not known\n");
  EXPECT_EQ(host.code(), StatusCode::kConnectionFailed);
  ExpectOneLineWithoutPassword(host);
}

TEST(PostgresConnectError, TooManyClientsIsUnavailable) {
  EXPECT_EQ(ConnectError(Config(),
                         "connection to server at \"127.0.0.1\", port 5999 failed: "
                         "FATAL:  sorry, too many clients already\n")
                .code(),
            StatusCode::kUnavailable);
}

TEST(PostgresConnectError, EchoedPasswordIsScrubbed) {
  auto status = ConnectError(Config(), std::string("FATAL:  something odd about ") + kPassword);
  ExpectOneLineWithoutPassword(status);
  EXPECT_NE(status.message().find("***"), std::string::npos);
}

TEST(PostgresStatusCodeForSqlState, MapsClasses) {
  EXPECT_EQ(StatusCodeForSqlState("28P01", ""), StatusCode::kAuthenticationFailed);
  EXPECT_EQ(StatusCodeForSqlState("28000", ""), StatusCode::kAuthenticationFailed);
  EXPECT_EQ(StatusCodeForSqlState("3D000", ""), StatusCode::kNotFound);
  EXPECT_EQ(StatusCodeForSqlState("42P01", ""), StatusCode::kNotFound);
  EXPECT_EQ(StatusCodeForSqlState("42501", ""), StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusCodeForSqlState("57014", "canceling statement due to statement timeout"),
            StatusCode::kTimeout);
  EXPECT_EQ(StatusCodeForSqlState("57014", "canceling statement due to user request"),
            StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("08006", ""), StatusCode::kConnectionFailed);
  EXPECT_EQ(StatusCodeForSqlState("57P01", ""), StatusCode::kConnectionFailed);
  EXPECT_EQ(StatusCodeForSqlState("53300", ""), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("40P01", ""), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("25006", ""), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeForSqlState("0A000", ""), StatusCode::kUnsupported);
  EXPECT_EQ(StatusCodeForSqlState("22P02", ""), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("42601", ""), StatusCode::kInternal);
  EXPECT_EQ(StatusCodeForSqlState("", ""), StatusCode::kConnectionFailed);
}

TEST(PostgresStatementError, NamesContextServerAndFix) {
  auto status = StatementError(Config(), "reading shop.orders", "42501",
                               "permission denied for table orders", "");
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(),
            "reading shop.orders on postgres://tandem@127.0.0.1:5999/shop failed: permission "
            "denied for table orders (SQLSTATE 42501) (grant the missing privilege to \"tandem\")");
}

TEST(PostgresStatementError, TimeoutSaysWhichSettingToRaise) {
  auto status = StatementError(Config(), "pinging", "57014",
                               "canceling statement due to statement timeout", "");
  EXPECT_EQ(status.code(), StatusCode::kTimeout);
  EXPECT_NE(status.message().find("read_timeout=60 s"), std::string::npos);
}

TEST(PostgresOneLine, JoinsLinesAndCollapsesSpace) {
  EXPECT_EQ(OneLine("  a\n\tb  c \n"), "a; b c");
  EXPECT_EQ(OneLine("\n\n"), "");
}

TEST(PostgresScrubSecret, ReplacesEveryOccurrence) {
  EXPECT_EQ(ScrubSecret("pw pw", "pw"), "*** ***");
  EXPECT_EQ(ScrubSecret("nothing", ""), "nothing");
}

}  // namespace
}  // namespace tandem::connectors::postgres
