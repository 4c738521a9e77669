// TLS for real against MariaDB: a throwaway CA with server and client certificates
// (tests/harness/tls_certificates.h), a mariadbd that requires secure transport
// (--require-secure-transport=ON) and a plain one without TLS. The server certificate names only
// DNS:localhost, so verify-full passes for "localhost" and fails for "127.0.0.1".
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_database.h"
#include "engine/connection_config.h"
#include "tests/harness/local_servers.h"
#include "tests/harness/tls_certificates.h"

namespace tandem::connectors::mysql {
namespace {

using engine::StatusCode;
using tandem::testing::MariaDbServer;
using tandem::testing::TempDir;
using tandem::testing::TestCertificates;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "tandem-secret";
constexpr char kX509User[] = "tandem_x509";
constexpr char kX509Password[] = "x509-secret";

engine::Result<std::unique_ptr<MySqlConnection>> Connect(const std::string& uri) {
  TANDEM_ASSIGN_OR_RETURN(engine::ConnectionConfig config,
                          engine::ParseConnectionUri(uri, "--source", ""));
  return MySqlConnection::Open(config);
}

// The session's TLS cipher ("" for a plain connection).
std::string Cipher(MySqlConnection& connection) {
  auto rows = connection.QueryText("SHOW SESSION STATUS LIKE 'Ssl_cipher'", "reading Ssl_cipher");
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (!rows.ok() || rows->size() != 1 || (*rows)[0].size() != 2 || !(*rows)[0][1]) {
    return "";
  }
  return *(*rows)[0][1];
}

// A failed connection's status: the expected code, one line, and no password in it.
void ExpectCleanFailure(const engine::Status& status, StatusCode code) {
  EXPECT_EQ(status.code(), code) << status.ToString();
  EXPECT_THAT(status.message(), Not(HasSubstr("\n")));
  EXPECT_THAT(status.message(), Not(HasSubstr(kPassword)));
  EXPECT_THAT(status.message(), Not(HasSubstr(kX509Password)));
}

class MySqlTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("tandem-mysql-tls");
    certs_ = new TestCertificates(
        tandem::testing::MakeTestCertificates(dir_->path() + "/certs", {"localhost"}));
    tls_server_ =
        MariaDbServer::Start(
            dir_->path(),
            {.log_bin = false,
             .extra_args = {"--ssl-cert=" + certs_->server_cert, "--ssl-key=" + certs_->server_key,
                            "--ssl-ca=" + certs_->ca_cert, "--require-secure-transport=ON"}})
            .release();
    plain_server_ = MariaDbServer::Start(dir_->path(), {.log_bin = false}).release();
    tls_server_->Execute(std::string("CREATE USER '") + kX509User + "'@'%' IDENTIFIED BY '" +
                         kX509Password + "' REQUIRE X509; GRANT SELECT ON *.* TO '" + kX509User +
                         "'@'%'");
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

  // mysql://tandem:tandem-secret@HOST:PORT?connect_timeout=5&QUERY
  static std::string UriFor(const MariaDbServer& server, const std::string& host,
                            const std::string& query) {
    return "mysql://tandem:" + std::string(kPassword) + "@" + host + ":" +
           std::to_string(server.port()) + "?connect_timeout=5&" + query;
  }
  static std::string TlsUri(const std::string& host, const std::string& query) {
    return UriFor(*tls_server_, host, query);
  }
  static std::string X509Uri(const std::string& query) {
    return "mysql://" + std::string(kX509User) + ":" + kX509Password +
           "@localhost:" + std::to_string(tls_server_->port()) + "?connect_timeout=5&" + query;
  }
  static std::string Ca() { return certs_->ca_cert; }
  static std::string ClientCertificate() {
    return "ssl-cert=" + certs_->client_cert + "&ssl-key=" + certs_->client_key;
  }

  static TempDir* dir_;
  static TestCertificates* certs_;
  static MariaDbServer* tls_server_;
  static MariaDbServer* plain_server_;
};

TempDir* MySqlTlsTest::dir_ = nullptr;
TestCertificates* MySqlTlsTest::certs_ = nullptr;
MariaDbServer* MySqlTlsTest::tls_server_ = nullptr;
MariaDbServer* MySqlTlsTest::plain_server_ = nullptr;

TEST_F(MySqlTlsTest, VerifyFullByHostNameConnectsEncrypted) {
  auto connection = Connect(TlsUri("localhost", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_THAT(Cipher(**connection), Not(""));

  // The MySQL spellings mean the same.
  auto mysql_spelling = Connect(TlsUri("localhost", "ssl-mode=VERIFY_IDENTITY&ssl-ca=" + Ca()));
  ASSERT_TRUE(mysql_spelling.ok()) << mysql_spelling.status().ToString();
  EXPECT_THAT(Cipher(**mysql_spelling), Not(""));
}

TEST_F(MySqlTlsTest, VerifyFullOpensTheDatabase) {
  auto database = OpenMySqlDatabase(*engine::ParseConnectionUri(
      TlsUri("localhost", "tls=verify-full&tls-ca=" + Ca()), "--source", ""));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
}

TEST_F(MySqlTlsTest, WrongCaFailsNamingTheCertificateProblem) {
  auto connection = Connect(TlsUri("localhost", "tls=verify-full&tls-ca=" + certs_->other_ca_cert));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kConnectionFailed);
  EXPECT_THAT(connection.status().message(), HasSubstr("TLS"));
  EXPECT_THAT(connection.status().message(), AnyOf(HasSubstr("certificate"), HasSubstr("issuer")));
}

TEST_F(MySqlTlsTest, VerifyFullByAddressFailsOnTheHostName) {
  auto connection = Connect(TlsUri("127.0.0.1", "tls=verify-full&tls-ca=" + Ca()));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kConnectionFailed);
  EXPECT_THAT(connection.status().message(),
              HasSubstr("the server's certificate was not issued for 127.0.0.1"));
}

// Connector/C 3.3 checks the host name whenever it verifies the certificate, so verify-ca is as
// strict as verify-full (documented in mysql_connection.h).
TEST_F(MySqlTlsTest, VerifyCaAlsoChecksTheHostName) {
  auto by_address = Connect(TlsUri("127.0.0.1", "tls=verify-ca&tls-ca=" + Ca()));
  ASSERT_FALSE(by_address.ok());
  ExpectCleanFailure(by_address.status(), StatusCode::kConnectionFailed);
  EXPECT_THAT(by_address.status().message(),
              HasSubstr("Connector/C checks the host name for VERIFY_CA"));

  auto by_name = Connect(TlsUri("localhost", "tls=verify-ca&tls-ca=" + Ca()));
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_THAT(Cipher(**by_name), Not(""));
}

TEST_F(MySqlTlsTest, RequireAgainstATlsServerEncryptsWithoutVerifying) {
  auto connection = Connect(TlsUri("127.0.0.1", "tls=require"));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_THAT(Cipher(**connection), Not(""));
}

TEST_F(MySqlTlsTest, RequireAgainstAPlainServerFails) {
  auto connection = Connect(UriFor(*plain_server_, "127.0.0.1", "ssl-mode=REQUIRED"));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kConnectionFailed);
  EXPECT_THAT(connection.status().message(), HasSubstr("TLS"));
}

TEST_F(MySqlTlsTest, PreferEncryptsWhenOfferedAndFallsBackToPlain) {
  auto on_tls_server = Connect(TlsUri("127.0.0.1", "tls=prefer"));
  ASSERT_TRUE(on_tls_server.ok()) << on_tls_server.status().ToString();
  EXPECT_THAT(Cipher(**on_tls_server), Not(""));

  auto on_plain_server = Connect(UriFor(*plain_server_, "127.0.0.1", "tls=prefer"));
  ASSERT_TRUE(on_plain_server.ok()) << on_plain_server.status().ToString();
  EXPECT_EQ(Cipher(**on_plain_server), "");
}

// MariaDB refuses a plain login under require_secure_transport with the same "access denied" as
// a wrong password, so the message names both causes.
TEST_F(MySqlTlsTest, DisableAgainstAServerRequiringTlsFailsWithAHint) {
  auto connection = Connect(TlsUri("127.0.0.1", "tls=disable"));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kAuthenticationFailed);
  EXPECT_THAT(connection.status().message(),
              HasSubstr("if the server requires TLS (require_secure_transport), use "
                        "ssl-mode=REQUIRED"));
}

TEST_F(MySqlTlsTest, ClientCertificateSatisfiesRequireX509) {
  auto connection = Connect(X509Uri("tls=verify-full&tls-ca=" + Ca() + "&" + ClientCertificate()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_THAT(Cipher(**connection), Not(""));
}

// The server answers with a plain "access denied" here too.
TEST_F(MySqlTlsTest, MissingClientCertificateFailsNamingIt) {
  auto connection = Connect(X509Uri("tls=verify-full&tls-ca=" + Ca()));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kAuthenticationFailed);
  EXPECT_THAT(connection.status().message(), AllOf(HasSubstr("ssl-cert"), HasSubstr("ssl-key")));
}

TEST_F(MySqlTlsTest, MissingCaFileFailsNamingThePath) {
  const std::string missing = certs_->dir + "/missing.crt";
  auto connection = Connect(TlsUri("localhost", "tls=verify-full&tls-ca=" + missing));
  ASSERT_FALSE(connection.ok());
  ExpectCleanFailure(connection.status(), StatusCode::kInvalidArgument);
  EXPECT_THAT(connection.status().message(), HasSubstr(missing));
}

}  // namespace
}  // namespace tandem::connectors::mysql
