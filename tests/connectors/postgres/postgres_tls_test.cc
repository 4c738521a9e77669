// TLS for real against PostgreSQL: a throwaway CA with server and client certificates
// (tests/harness/tls_certificates.h), a server with ssl=on whose pg_hba.conf refuses plain TCP for
// the role tls_only and demands a client certificate (cert authentication) from the role
// tandem_cert, and a plain server without TLS. The server certificate names only DNS:localhost,
// so verify-full passes for "localhost" and fails for "127.0.0.1", while verify-ca passes for both.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "connectors/postgres/postgres_connection.h"
#include "engine/connection_config.h"
#include "tests/harness/local_servers.h"
#include "tests/harness/tls_certificates.h"

namespace tandem::connectors::postgres {
namespace {

using engine::StatusCode;
using tandem::testing::PostgresServer;
using tandem::testing::TempDir;
using tandem::testing::TestCertificates;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "tandem-secret";
constexpr char kCertUser[] = "tandem_cert";  // the client certificate's CN
constexpr char kTlsOnlyUser[] = "tls_only";
constexpr char kTlsOnlyPassword[] = "tls-only-secret";

engine::Result<std::unique_ptr<PostgresConnection>> Connect(const std::string& uri) {
  TANDEM_ASSIGN_OR_RETURN(engine::ConnectionConfig config,
                          engine::ParseConnectionUri(uri, "--source", ""));
  return PostgresConnection::Connect(config);
}

// pg_stat_ssl for this session: "t TLSv1.3" or "f " for a plain one.
std::string SslState(PostgresConnection& connection) {
  auto result = connection.Query(
      "reading pg_stat_ssl",
      "SELECT ssl::text || ' ' || coalesce(version, '') FROM pg_stat_ssl WHERE pid = "
      "pg_backend_pid()");
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  if (!result.ok() || PQntuples(result->get()) != 1) {
    return "";
  }
  return PQgetvalue(result->get(), 0, 0);
}

void ExpectCleanFailure(const engine::Status& status, StatusCode code) {
  EXPECT_EQ(status.code(), code) << status.ToString();
  EXPECT_THAT(status.message(), Not(HasSubstr("\n")));
  EXPECT_THAT(status.message(), Not(HasSubstr(kPassword)));
  EXPECT_THAT(status.message(), Not(HasSubstr(kTlsOnlyPassword)));
}

class PostgresTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("tandem-pg-tls");
    certs_ = new TestCertificates(
        tandem::testing::MakeTestCertificates(dir_->path() + "/certs", {"localhost"}, kCertUser));
    // The server reads its key as `postgres` and wants it 0600 and owned by that account.
    if (std::optional<tandem::testing::RunAs> account = tandem::testing::PostgresAccount()) {
      tandem::testing::ChownTree(certs_->dir, *account);
    }
    tls_server_ =
        PostgresServer::Start(
            dir_->path(),
            {.wal_level = "minimal",
             .max_replication_slots = 0,
             .max_wal_senders = 0,
             .extra_settings = {"ssl = on", "ssl_cert_file = '" + certs_->server_cert + "'",
                                "ssl_key_file = '" + certs_->server_key + "'",
                                "ssl_ca_file = '" + certs_->ca_cert + "'"},
             .extra_hba_lines = {std::string("hostssl all ") + kCertUser + " 127.0.0.1/32 cert",
                                 std::string("hostnossl all ") + kTlsOnlyUser +
                                     " 127.0.0.1/32 reject"}})
            .release();
    plain_server_ = PostgresServer::Start(
                        dir_->path(),
                        {.wal_level = "minimal", .max_replication_slots = 0, .max_wal_senders = 0})
                        .release();
    tls_server_->Execute(std::string("CREATE ROLE ") + kCertUser + " LOGIN; CREATE ROLE " +
                         kTlsOnlyUser + " LOGIN PASSWORD '" + kTlsOnlyPassword + "'");
  }

  static void TearDownTestSuite() {
    delete tls_server_;
    tls_server_ = nullptr;
    delete plain_server_;
    plain_server_ = nullptr;
    delete certs_;
    certs_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  static std::string UriFor(const PostgresServer& server, const std::string& userinfo,
                            const std::string& host, const std::string& query) {
    return "postgres://" + userinfo + "@" + host + ":" + std::to_string(server.port()) +
           "/tandem?connect_timeout=5&" + query;
  }
  static std::string TlsUri(const std::string& host, const std::string& query) {
    return UriFor(*tls_server_, std::string("tandem:") + kPassword, host, query);
  }
  static std::string Ca() { return certs_->ca_cert; }
  static std::string ClientCertificate() {
    return "sslcert=" + certs_->client_cert + "&sslkey=" + certs_->client_key;
  }

  static TempDir* dir_;
  static TestCertificates* certs_;
  static PostgresServer* tls_server_;
  static PostgresServer* plain_server_;
};

TempDir* PostgresTlsTest::dir_ = nullptr;
TestCertificates* PostgresTlsTest::certs_ = nullptr;
PostgresServer* PostgresTlsTest::tls_server_ = nullptr;
PostgresServer* PostgresTlsTest::plain_server_ = nullptr;

TEST_F(PostgresTlsTest, VerifyFullByHostNameConnectsEncrypted) {
  auto connection = Connect(TlsUri("localhost", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_THAT(SslState(**connection), HasSubstr("true TLSv1."));

  auto libpq_spelling = Connect(TlsUri("localhost", "sslmode=verify-full&sslrootcert=" + Ca()));
  ASSERT_TRUE(libpq_spelling.ok()) << libpq_spelling.status().ToString();
  EXPECT_THAT(SslState(**libpq_spelling), HasSubstr("true TLSv1."));
}

TEST_F(PostgresTlsTest, WrongCaFailsNamingTheCertificateProblem) {
  auto connection = Connect(TlsUri("localhost", "tls=verify-full&tls-ca=" + certs_->other_ca_cert));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kConnectionFailed);
  EXPECT_THAT(connection.status().message(), HasSubstr("certificate verify failed"));
}

TEST_F(PostgresTlsTest, VerifyFullChecksTheHostAndVerifyCaDoesNot) {
  auto by_address = Connect(TlsUri("127.0.0.1", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_FALSE(by_address.ok());
  ExpectCleanFailure(by_address.status(), StatusCode::kConnectionFailed);
  EXPECT_THAT(by_address.status().message(), HasSubstr("127.0.0.1"));

  auto verify_ca = Connect(TlsUri("127.0.0.1", "tls=verify-ca&tls-ca=" + Ca()));
  ASSERT_TRUE(verify_ca.ok()) << verify_ca.status().ToString();
  EXPECT_THAT(SslState(**verify_ca), HasSubstr("true TLSv1."));
}

TEST_F(PostgresTlsTest, RequireAgainstATlsServerEncryptsWithoutVerifying) {
  auto connection = Connect(TlsUri("127.0.0.1", "tls=require"));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_THAT(SslState(**connection), HasSubstr("true TLSv1."));
}

TEST_F(PostgresTlsTest, RequireAgainstAPlainServerFails) {
  auto connection = Connect(
      UriFor(*plain_server_, std::string("tandem:") + kPassword, "127.0.0.1", "sslmode=require"));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kConnectionFailed);
  EXPECT_THAT(connection.status().message(), HasSubstr("SSL"));
}

TEST_F(PostgresTlsTest, PreferEncryptsWhenOfferedAndFallsBackToPlain) {
  auto on_tls_server = Connect(TlsUri("127.0.0.1", "tls=prefer"));
  ASSERT_TRUE(on_tls_server.ok()) << on_tls_server.status().ToString();
  EXPECT_THAT(SslState(**on_tls_server), HasSubstr("true TLSv1."));

  auto on_plain_server = Connect(
      UriFor(*plain_server_, std::string("tandem:") + kPassword, "127.0.0.1", "tls=prefer"));
  ASSERT_TRUE(on_plain_server.ok()) << on_plain_server.status().ToString();
  EXPECT_EQ(SslState(**on_plain_server), "false ");
}

TEST_F(PostgresTlsTest, DisableForARoleThatNeedsTlsFailsWithAHint) {
  auto connection = Connect(UriFor(*tls_server_, std::string(kTlsOnlyUser) + ":" + kTlsOnlyPassword,
                                   "127.0.0.1", "tls=disable"));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kAuthenticationFailed);
  EXPECT_THAT(connection.status().message(), HasSubstr("sslmode=require"));

  auto with_tls = Connect(UriFor(*tls_server_, std::string(kTlsOnlyUser) + ":" + kTlsOnlyPassword,
                                 "127.0.0.1", "tls=require"));
  ASSERT_TRUE(with_tls.ok()) << with_tls.status().ToString();
}

TEST_F(PostgresTlsTest, ClientCertificateLogsInWithCertAuthentication) {
  auto connection = Connect(UriFor(*tls_server_, kCertUser, "localhost",
                                   "tls=verify-full&tls-ca=" + Ca() + "&" + ClientCertificate()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_THAT(SslState(**connection), HasSubstr("true TLSv1."));
  auto client = (*connection)
                    ->Query("reading the client certificate",
                            "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ(std::string(PQgetvalue(client->get(), 0, 0)), std::string("/CN=") + kCertUser);
}

TEST_F(PostgresTlsTest, MissingClientCertificateFailsNamingIt) {
  auto connection =
      Connect(UriFor(*tls_server_, kCertUser, "localhost", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kAuthenticationFailed);
  EXPECT_THAT(connection.status().message(),
              AllOf(HasSubstr("certificate"), HasSubstr("sslcert"), HasSubstr("sslkey")));
}

TEST_F(PostgresTlsTest, MissingCaFileFailsNamingThePath) {
  const std::string missing = certs_->dir + "/missing.crt";
  auto connection = Connect(TlsUri("localhost", "tls=verify-full&tls-ca=" + missing));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kInvalidArgument);
  EXPECT_THAT(connection.status().message(), HasSubstr(missing));
}

}  // namespace
}  // namespace tandem::connectors::postgres
