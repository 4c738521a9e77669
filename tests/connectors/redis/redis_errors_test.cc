#include "connectors/redis/redis_errors.h"

#include <gtest/gtest.h>

namespace tandem::connectors::redis {
namespace {

using engine::StatusCode;

TEST(RedisErrorReplyCode, MapsRedisErrorsToTheMostSpecificCode) {
  EXPECT_EQ(ErrorReplyCode("NOAUTH Authentication required."), StatusCode::kAuthenticationFailed);
  EXPECT_EQ(ErrorReplyCode("WRONGPASS invalid username-password pair or user is disabled."),
            StatusCode::kAuthenticationFailed);
  EXPECT_EQ(ErrorReplyCode("ERR invalid password"), StatusCode::kAuthenticationFailed);
  EXPECT_EQ(ErrorReplyCode("ERR AUTH <password> called without any password configured for the "
                           "default user. Are you sure your configuration is correct?"),
            StatusCode::kAuthenticationFailed);
  EXPECT_EQ(ErrorReplyCode("ERR Client sent AUTH, but no password is set"),
            StatusCode::kAuthenticationFailed);
  EXPECT_EQ(ErrorReplyCode("NOPERM this user has no permissions to run the 'psync' command"),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReplyCode("ERR DB index is out of range"), StatusCode::kNotFound);
  EXPECT_EQ(ErrorReplyCode("ERR invalid DB index"), StatusCode::kNotFound);
  EXPECT_EQ(ErrorReplyCode("LOADING Redis is loading the dataset in memory"),
            StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReplyCode("BUSY Redis is busy running a script."), StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReplyCode("ERR max number of clients reached"), StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReplyCode("READONLY You can't write against a read only replica."),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReplyCode("MOVED 3999 127.0.0.1:6381"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReplyCode("ERR unknown command 'CONFIG', with args beginning with: "),
            StatusCode::kUnsupported);
  EXPECT_EQ(ErrorReplyCode("WRONGTYPE Operation against a key holding the wrong kind of value"),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReplyCode("ERR syntax error"), StatusCode::kFailedPrecondition);
}

TEST(RedisErrorReplyToStatus, NamesServerCommandAndAGrantForTheDeniedCommand) {
  engine::Status status = ErrorReplyToStatus(
      "NOPERM this user has no permissions to run the 'config|get' command",
      {"CONFIG", "GET", "maxmemory"}, "redis://reader@127.0.0.1:6379/0", "reader");
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(),
            "redis://reader@127.0.0.1:6379/0 refused CONFIG GET: NOPERM this user has no "
            "permissions to run the 'config|get' command (grant it: ACL SETUSER reader "
            "+config|get)");
}

TEST(RedisErrorReplyToStatus, NeverRepeatsTheArgumentsOfAuth) {
  engine::Status status =
      ErrorReplyToStatus("WRONGPASS invalid username-password pair or user is disabled.",
                         {"AUTH", "tandem", "s3cret-pw"}, "redis://tandem@h:1/0", "tandem");
  EXPECT_EQ(status.code(), StatusCode::kAuthenticationFailed);
  EXPECT_EQ(status.message().find("s3cret-pw"), std::string::npos);
  EXPECT_NE(status.message().find("refused AUTH: WRONGPASS"), std::string::npos);
}

TEST(RedisErrorReplyToStatus, KeyPermissionSuggestsAllKeys) {
  engine::Status status = ErrorReplyToStatus("NOPERM No permissions to access a key", {"GET", "k"},
                                             "redis://h:1/0", "");
  EXPECT_NE(status.message().find("ACL SETUSER default ~*"), std::string::npos);
}

TEST(RedisDeniedCommand, ExtractsTheQuotedCommand) {
  EXPECT_EQ(DeniedCommand("NOPERM this user has no permissions to run the 'psync' command"),
            "psync");
  EXPECT_EQ(DeniedCommand("NOPERM this user has no permissions to run the 'config' command or "
                          "its subcommand"),
            "config");
  EXPECT_EQ(DeniedCommand("NOPERM No permissions to access a key"), "");
}

}  // namespace
}  // namespace tandem::connectors::redis
