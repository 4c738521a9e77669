// TLS for real: a throwaway CA, server and client certificates made with the openssl command in
// the test's temporary directory (tests/harness/tls_certificates.h), and a redis-server listening
// on a TLS port that requires client certificates (tls-auth-clients yes). The server certificate
// names only DNS:localhost, so verify-full must pass for "localhost" and fail for "127.0.0.1",
// while verify-ca passes for both.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "connectors/redis/redis_connection.h"
#include "tests/connectors/redis/redis_test_support.h"
#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/local_servers.h"
#include "tests/harness/tls_certificates.h"

namespace tandem::connectors::redis {
namespace {

using engine::StatusCode;
using tandem::connectors::redis::testing::ConnectUri;
using tandem::connectors::redis::testing::OpenUri;
using tandem::testing::RedisServer;
using tandem::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

class RedisTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("tandem-redis-tls");
    certs_ = dir_->path() + "/certs";
    tandem::testing::MakeTestCertificates(certs_, {"localhost"});
    server_ = StartTlsServer(&tls_port_).release();
  }

  // A redis-server with a plain port (the harness checks readiness there) and a TLS port that
  // requires client certificates.
  static std::unique_ptr<RedisServer> StartTlsServer(uint16_t* tls_port) {
    *tls_port = tandem::testing::PickFreePort();
    return RedisServer::Start(
        dir_->path(),
        {.extra_args = {"--tls-port", std::to_string(*tls_port), "--tls-cert-file",
                        certs_ + "/server.crt", "--tls-key-file", certs_ + "/server.key",
                        "--tls-ca-cert-file", certs_ + "/ca.crt", "--tls-auth-clients", "yes"}});
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  // A URI for the TLS port. `query` is appended after "?"; the client certificate is added unless
  // `client_certificate` is false.
  static std::string TlsUri(const std::string& host, const std::string& query,
                            bool client_certificate = true, uint16_t port = 0) {
    std::string uri = "redis://:" + server_->password() + "@" + host + ":" +
                      std::to_string(port != 0 ? port : tls_port_) + "/0?connect_timeout=5&" +
                      query;
    if (client_certificate) {
      uri += "&tls-cert=" + certs_ + "/client.crt&tls-key=" + certs_ + "/client.key";
    }
    return uri;
  }

  static std::string Ca() { return certs_ + "/ca.crt"; }

  static TempDir* dir_;
  static std::string certs_;
  static uint16_t tls_port_;
  static RedisServer* server_;
};

TempDir* RedisTlsTest::dir_ = nullptr;
std::string RedisTlsTest::certs_;
uint16_t RedisTlsTest::tls_port_ = 0;
RedisServer* RedisTlsTest::server_ = nullptr;

TEST_F(RedisTlsTest, VerifyFullByCertificateNameConnects) {
  auto connection = ConnectUri(TlsUri("localhost", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_TRUE((*connection)->tls());
  EXPECT_EQ((*connection)->tls_protocol(), "TLSv1.3");
  auto pong = (*connection)->Command({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status().ToString();
  EXPECT_EQ(pong->text, "PONG");

  auto database = OpenUri(TlsUri("localhost", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  auto assessment = (*database)->Assess(engine::Role::kTarget);
  ASSERT_TRUE(assessment.ok()) << assessment.status().ToString();
  EXPECT_EQ(assessment->facts["tls_protocol"], "TLSv1.3");
}

TEST_F(RedisTlsTest, WrongCaFailsNamingTheCertificateProblem) {
  const std::string other_ca = certs_ + "/other-ca.crt";
  auto connection = ConnectUri(TlsUri("localhost", "tls=verify-full&tls-ca=" + other_ca));
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kConnectionFailed);
  // Redis sends its CA along with its certificate, so OpenSSL finds a self-signed root it does not
  // trust; a server sending only its own certificate yields "unable to get local issuer".
  EXPECT_THAT(connection.status().message(),
              ::testing::AnyOf(HasSubstr("verification failed: self-signed certificate in "
                                         "certificate chain"),
                               HasSubstr("verification failed: unable to get local issuer")));
  EXPECT_THAT(connection.status().message(),
              HasSubstr("(check that tls-ca (" + other_ca +
                        ") is the CA that signed the server's certificate)"));
  EXPECT_THAT(connection.status().message(), HasSubstr("cannot connect to redis://localhost:"));
  EXPECT_THAT(connection.status().message(), Not(HasSubstr(server_->password())));
}

TEST_F(RedisTlsTest, VerifyFullChecksTheHostAndVerifyCaDoesNot) {
  auto by_address = ConnectUri(TlsUri("127.0.0.1", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_FALSE(by_address.ok());
  EXPECT_EQ(by_address.status().code(), StatusCode::kConnectionFailed);
  EXPECT_THAT(by_address.status().message(),
              HasSubstr("TLS certificate verification failed: IP address mismatch (the server's "
                        "certificate is not issued for 127.0.0.1"));
  EXPECT_THAT(by_address.status().message(), HasSubstr("tls=verify-ca"));

  auto verify_ca = ConnectUri(TlsUri("127.0.0.1", "tls=verify-ca&tls-ca=" + Ca()));
  EXPECT_TRUE(verify_ca.ok()) << verify_ca.status().ToString();
}

TEST_F(RedisTlsTest, RequireVerifiesNothingAndRedissImpliesIt) {
  auto required = ConnectUri(TlsUri("127.0.0.1", "tls=require"));
  ASSERT_TRUE(required.ok()) << required.status().ToString();
  EXPECT_TRUE((*required)->tls());
  std::string rediss = TlsUri("127.0.0.1", "");
  rediss.replace(0, 5, "rediss");
  auto implied = ConnectUri(rediss);
  ASSERT_TRUE(implied.ok()) << implied.status().ToString();
  EXPECT_TRUE((*implied)->tls());
}

TEST_F(RedisTlsTest, PreferUsesTlsOnATlsPortAndPlainTcpOnAPlainPort) {
  auto on_tls_port = ConnectUri(TlsUri("127.0.0.1", "tls=prefer"));
  ASSERT_TRUE(on_tls_port.ok()) << on_tls_port.status().ToString();
  EXPECT_TRUE((*on_tls_port)->tls());
  auto on_plain_port = ConnectUri(server_->Uri() + "?tls=prefer");
  ASSERT_TRUE(on_plain_port.ok()) << on_plain_port.status().ToString();
  EXPECT_FALSE((*on_plain_port)->tls());
  EXPECT_TRUE((*on_plain_port)->Command({"PING"}).ok());
}

TEST_F(RedisTlsTest, PlainClientOnTheTlsPortFailsWithAHint) {
  auto connection = ConnectUri(TlsUri("127.0.0.1", "tls=disable", false));
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kConnectionFailed);
  EXPECT_THAT(connection.status().message(),
              HasSubstr("if the server accepts only TLS, use rediss:// or tls=require"));
  EXPECT_THAT(connection.status().message(), Not(HasSubstr(server_->password())));
}

TEST_F(RedisTlsTest, TlsClientOnAPlainPortFails) {
  auto connection = ConnectUri(server_->Uri() + "?tls=require&connect_timeout=2");
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kConnectionFailed);
  EXPECT_THAT(connection.status().message(), HasSubstr("TLS"));
}

TEST_F(RedisTlsTest, MissingClientCertificateIsRefused) {
  auto connection = ConnectUri(
      TlsUri("localhost", "tls=verify-full&tls-ca=" + Ca(), /*client_certificate=*/false));
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kConnectionFailed);
  // The server's "certificate required" alert may arrive, or be lost in a connection reset.
  EXPECT_THAT(connection.status().message(), HasSubstr("certificate"));
  EXPECT_THAT(connection.status().message(), HasSubstr("give tls-cert and tls-key"));
}

TEST_F(RedisTlsTest, UnreadableCaFileIsInvalidArgument) {
  auto connection =
      ConnectUri(TlsUri("localhost", "tls=verify-full&tls-ca=" + certs_ + "/missing.crt"));
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(connection.status().message(), HasSubstr(certs_ + "/missing.crt"));
}

TEST_F(RedisTlsTest, PipelineOverTlsMovesMegabytesBothWays) {
  auto connection = ConnectUri(TlsUri("localhost", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  const std::string value(1024, 't');
  std::vector<Argv> sets;
  std::vector<Argv> gets;
  for (int i = 0; i < 10000; ++i) {
    sets.push_back({"SET", "tls:" + std::to_string(i), value + std::to_string(i)});
    gets.push_back({"GET", "tls:" + std::to_string(i)});
  }
  auto set_replies = (*connection)->Pipeline(sets);
  ASSERT_TRUE(set_replies.ok()) << set_replies.status().ToString();
  auto get_replies = (*connection)->Pipeline(gets);
  ASSERT_TRUE(get_replies.ok()) << get_replies.status().ToString();
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ((*get_replies)[i], Reply::String(value + std::to_string(i))) << i;
  }
  EXPECT_TRUE((*connection)->Command({"FLUSHALL"}).ok());
}

TEST_F(RedisTlsTest, ServerGoneMidSessionIsConnectionFailedNotSigpipe) {
  uint16_t port = 0;
  auto server = StartTlsServer(&port);
  auto connection = ConnectUri(TlsUri("localhost", "tls=verify-full&tls-ca=" + Ca(), true, port));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  server->Stop();
  // Megabytes into a socket whose peer is gone: the writes fail with EPIPE, which must come back
  // as an error rather than a SIGPIPE that ends the test process.
  std::vector<Argv> sets(5000, Argv{"SET", "k", std::string(1024, 'x')});
  auto replies = (*connection)->Pipeline(sets);
  ASSERT_FALSE(replies.ok());
  EXPECT_EQ(replies.status().code(), StatusCode::kConnectionFailed);
  EXPECT_THAT(replies.status().message(), HasSubstr("lost the connection to redis://localhost:"))
      << replies.status().message();
}

}  // namespace
}  // namespace tandem::connectors::redis
