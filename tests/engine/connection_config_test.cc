#include "engine/connection_config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace tandem::engine {
namespace {

TEST(ConnectionConfig, ParsesMySqlUriWithDefaults) {
  auto config = ParseConnectionUri("mysql://tandem:s3cret@db.example:3307/shop", "--source", "");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->engine, EngineKind::kMySql);
  EXPECT_EQ(config->user, "tandem");
  EXPECT_EQ(config->password, "s3cret");
  EXPECT_EQ(config->host, "db.example");
  EXPECT_EQ(config->port, 3307);
  EXPECT_EQ(config->database, "shop");
  EXPECT_EQ(config->tls.mode, TlsMode::kPrefer);
}

TEST(ConnectionConfig, DefaultPortsPerEngine) {
  EXPECT_EQ(ParseConnectionUri("mysql://u@h/d", "x", "")->port, 3306);
  EXPECT_EQ(ParseConnectionUri("postgres://u@h/d", "x", "")->port, 5432);
  EXPECT_EQ(ParseConnectionUri("postgresql://u@h/d", "x", "")->engine, EngineKind::kPostgres);
  EXPECT_EQ(ParseConnectionUri("redis://h", "x", "")->port, 6379);
}

TEST(ConnectionConfig, RedisDatabaseNumberAndPasswordOnly) {
  auto config = ParseConnectionUri("redis://:pw@127.0.0.1:6380/3", "--target", "");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->user, "");
  EXPECT_EQ(config->password, "pw");
  EXPECT_EQ(config->RedisDatabase(), 3);
  EXPECT_EQ(config->tls.mode, TlsMode::kDisable);
  EXPECT_EQ(ParseConnectionUri("rediss://h", "x", "")->tls.mode, TlsMode::kRequire);
}

TEST(ConnectionConfig, PercentDecodesUserPasswordAndDatabase) {
  auto config = ParseConnectionUri("postgres://us%40er:p%3Aw%2Fd@h/my%20db", "x", "");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->user, "us@er");
  EXPECT_EQ(config->password, "p:w/d");
  EXPECT_EQ(config->database, "my db");
}

TEST(ConnectionConfig, PasswordWithUnescapedAtUsesLastAt) {
  auto config = ParseConnectionUri("mysql://u:p@ss@h:1/d", "x", "");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->password, "p@ss");
  EXPECT_EQ(config->host, "h");
}

TEST(ConnectionConfig, Ipv6Host) {
  auto config = ParseConnectionUri("mysql://u@[::1]:3310/d", "x", "");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->host, "::1");
  EXPECT_EQ(config->port, 3310);
  EXPECT_EQ(config->Endpoint(), "[::1]:3310");
}

TEST(ConnectionConfig, TlsOptionsFromEachEnginesSpelling) {
  auto mysql = ParseConnectionUri("mysql://u@h/d?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem", "x", "");
  ASSERT_TRUE(mysql.ok()) << mysql.status().ToString();
  EXPECT_EQ(mysql->tls.mode, TlsMode::kVerifyFull);
  EXPECT_EQ(mysql->tls.ca_file, "/ca.pem");
  auto postgres = ParseConnectionUri(
      "postgres://u@h/d?sslmode=verify-ca&sslrootcert=/r&sslcert=/c&sslkey=/k", "x", "");
  ASSERT_TRUE(postgres.ok());
  EXPECT_EQ(postgres->tls.mode, TlsMode::kVerifyCa);
  EXPECT_EQ(postgres->tls.cert_file, "/c");
  EXPECT_EQ(postgres->tls.key_file, "/k");
  auto redis = ParseConnectionUri("redis://h/0?tls=require&connect_timeout=3", "x", "");
  ASSERT_TRUE(redis.ok());
  EXPECT_EQ(redis->tls.mode, TlsMode::kRequire);
  EXPECT_EQ(redis->connect_timeout.count(), 3);
}

TEST(ConnectionConfig, PasswordFromEnvironmentWhenUriHasNone) {
  ::setenv("TANDEM_TEST_PASSWORD_VAR", "from-env", 1);
  auto config = ParseConnectionUri("mysql://u@h/d", "x", "TANDEM_TEST_PASSWORD_VAR");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->password, "from-env");
  auto explicit_password = ParseConnectionUri("mysql://u:uri@h/d", "x", "TANDEM_TEST_PASSWORD_VAR");
  EXPECT_EQ(explicit_password->password, "uri");
  ::unsetenv("TANDEM_TEST_PASSWORD_VAR");
}

TEST(ConnectionConfig, RedactedNeverContainsPassword) {
  auto config = ParseConnectionUri("mysql://tandem:hunter2@h:1/shop?ssl-mode=REQUIRED", "x", "");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->Redacted(), "mysql://tandem@h:1/shop?tls=require");
  EXPECT_EQ(config->Redacted().find("hunter2"), std::string::npos);
}

struct BadUri {
  const char* uri;
  const char* expected_fragment;
};

class ConnectionConfigBadUri : public ::testing::TestWithParam<BadUri> {};

TEST_P(ConnectionConfigBadUri, IsInvalidArgumentNamingTheProblemWithoutPassword) {
  auto config = ParseConnectionUri(GetParam().uri, "--source", "");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = config.status().message();
  EXPECT_NE(message.find("--source"), std::string::npos) << message;
  EXPECT_NE(message.find(GetParam().expected_fragment), std::string::npos) << message;
  EXPECT_EQ(message.find("topsecret"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Examples, ConnectionConfigBadUri,
    ::testing::Values(BadUri{"localhost:3306", "no scheme"},
                      BadUri{"oracle://u:topsecret@h/d", "unknown scheme"},
                      BadUri{"mysql://u:topsecret@h:99999/d", "port"},
                      BadUri{"mysql://u:topsecret@h:abc/d", "port"},
                      BadUri{"mysql://u:topsecret@/d", "no host"},
                      BadUri{"mysql://:topsecret@h/d", "no user"},
                      BadUri{"redis://:topsecret@h/x", "Redis database"},
                      BadUri{"mysql://u:topsecret@h/d?sslmode=sometimes", "sometimes"},
                      BadUri{"mysql://u:topsecret@h/d?colour=blue", "unknown option"},
                      BadUri{"mysql://u:topsecret%zz@h/d", "malformed"},
                      BadUri{"postgres://u:topsecret@h/d?connect_timeout=0", "connect_timeout"}));

}  // namespace
}  // namespace tandem::engine
