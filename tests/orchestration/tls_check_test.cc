// Phase 5's TLS check against real TLS listeners (`openssl s_server`, bound to 127.0.0.1) serving
// certificates of a throwaway test CA valid for two days: the good case, each refusal (host name,
// expiry, unknown CA, self-signed), and the failures before a certificate is seen (nothing
// listening, a listener that never answers, a listener that does not speak TLS, bad input).

#include "orchestration/tls_check.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/tls_certificates.h"
#include "tests/harness/tls_listener.h"
#include "tests/harness/wait.h"

namespace tandem::orchestration {
namespace {

using engine::StatusCode;
using std::chrono::milliseconds;

constexpr char kHost[] = "tls.tandem.test";

// Owns a socket descriptor.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// A TCP socket bound to 127.0.0.1 on a port the kernel picks; listening when `listen_backlog` > 0.
// Returns the socket and sets `port`.
std::unique_ptr<Socket> BindLoopback(int listen_backlog, uint16_t& port) {
  auto socket_fd = std::make_unique<Socket>(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (socket_fd->get() < 0) {
    throw std::runtime_error("socket failed");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(socket_fd->get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(socket_fd->get(), reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      (listen_backlog > 0 && listen(socket_fd->get(), listen_backlog) != 0)) {
    throw std::runtime_error("cannot bind a loopback socket");
  }
  port = ntohs(address.sin_port);
  return socket_fd;
}

// One certificate set and two listeners for the whole suite: one serving the server certificate
// (SANs tls.tandem.test and 127.0.0.1, signed by the test CA), one serving the self-signed "other"
// CA certificate.
class TlsCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir("tls-check");
    certs_ = new testing::TestCertificates(
        testing::MakeTestCertificates(dir_->path() + "/certs", {kHost, "127.0.0.1"}));
    server_ = new testing::TlsListener(certs_->server_cert, certs_->server_key,
                                       dir_->path() + "/s_server.log");
    self_signed_ = new testing::TlsListener(certs_->other_ca_cert, certs_->dir + "/other-ca.key",
                                            dir_->path() + "/s_server_self_signed.log");
  }

  static void TearDownTestSuite() {
    delete self_signed_;
    self_signed_ = nullptr;
    delete server_;
    server_ = nullptr;
    delete certs_;
    certs_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(self_signed_, nullptr);
  }

  // The options of a check that passes: the right host, the test CA.
  static TlsCheckOptions GoodOptions() {
    TlsCheckOptions options;
    options.host = kHost;
    options.address = server_->address();
    options.ca_file = certs_->ca_cert;
    options.timeout = milliseconds(5000);
    return options;
  }

  // The served certificate as a passing check sees it.
  static TlsCertificateInfo ServedCertificate() {
    TlsCheckOptions options = GoodOptions();
    options.warn_days = 0;
    engine::Result<TlsCheckResult> result = CheckTls(options);
    if (!result.ok()) {
      throw std::runtime_error("the good check failed: " + result.status().ToString());
    }
    return result->leaf;
  }

  // Expects a refusal naming the certificate: its subject, issuer and both dates.
  static void ExpectRefusalWithDetails(const engine::Result<TlsCheckResult>& result,
                                       const std::string& reason) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition)
        << result.status().ToString();
    const std::string& message = result.status().message();
    EXPECT_NE(message.find(reason), std::string::npos) << message;
    const TlsCertificateInfo served = ServedCertificate();
    EXPECT_NE(message.find("subject CN=" + std::string(kHost)), std::string::npos) << message;
    EXPECT_NE(message.find("issuer CN=tandem test CA"), std::string::npos) << message;
    EXPECT_NE(message.find("valid " + served.not_before + " to " + served.not_after),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }

  static testing::TempDir* dir_;
  static testing::TestCertificates* certs_;
  static testing::TlsListener* server_;
  static testing::TlsListener* self_signed_;
};

testing::TempDir* TlsCheckTest::dir_ = nullptr;
testing::TestCertificates* TlsCheckTest::certs_ = nullptr;
testing::TlsListener* TlsCheckTest::server_ = nullptr;
testing::TlsListener* TlsCheckTest::self_signed_ = nullptr;

TEST_F(TlsCheckTest, GoodCertificatePassesWithItsDetails) {
  TlsCheckOptions options = GoodOptions();
  options.warn_days = 1;
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->protocol.rfind("TLSv1.", 0), 0u) << result->protocol;
  EXPECT_EQ(result->leaf.subject, "CN=" + std::string(kHost));
  EXPECT_EQ(result->leaf.issuer, "CN=tandem test CA");
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  EXPECT_TRUE(std::regex_match(result->leaf.not_before, iso)) << result->leaf.not_before;
  EXPECT_TRUE(std::regex_match(result->leaf.not_after, iso)) << result->leaf.not_after;
  EXPECT_LT(result->leaf.not_before, result->leaf.not_after);
  // Valid for two days from its creation moments ago.
  EXPECT_GT(result->leaf.days_left, 1.9);
  EXPECT_LE(result->leaf.days_left, 2.0);
  EXPECT_TRUE(result->warnings.empty()) << result->warnings.front();
}

TEST_F(TlsCheckTest, CertificateExpiringWithinWarnDaysPassesWithAWarning) {
  TlsCheckOptions options = GoodOptions();  // warn_days 14; the certificate has two days left
  ASSERT_EQ(options.warn_days, 14);
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_NE(result->warnings[0].find("certificate of " + std::string(kHost)), std::string::npos)
      << result->warnings[0];
  EXPECT_NE(result->warnings[0].find("expires in"), std::string::npos) << result->warnings[0];
  EXPECT_NE(result->warnings[0].find(result->leaf.not_after), std::string::npos)
      << result->warnings[0];
}

TEST_F(TlsCheckTest, DaysLeftAreCountedFromTheJudgingMoment) {
  TlsCheckOptions options = GoodOptions();
  options.warn_days = 1;
  options.at = std::chrono::system_clock::now() + std::chrono::hours(36);
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_GT(result->leaf.days_left, 0.4);
  EXPECT_LE(result->leaf.days_left, 0.5);
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_NE(result->warnings[0].find("expires in 1"), std::string::npos) << result->warnings[0];
}

TEST_F(TlsCheckTest, IpAddressAsHostMatchesTheIpSubjectAltName) {
  TlsCheckOptions options = GoodOptions();
  options.host = "127.0.0.1";
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->leaf.subject, "CN=" + std::string(kHost));
}

TEST_F(TlsCheckTest, WrongHostNameIsRefusedNamingTheHostAndTheCertificate) {
  TlsCheckOptions options = GoodOptions();
  options.host = "www.example.com";
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ExpectRefusalWithDetails(result, "does not match the host name www.example.com");
  EXPECT_NE(result.status().message().find("TLS at " + server_->address() + " for www.example.com"),
            std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, WrongIpAddressAsHostIsRefused) {
  TlsCheckOptions options = GoodOptions();
  options.host = "127.0.0.2";
  ExpectRefusalWithDetails(CheckTls(options), "does not match the host name 127.0.0.2");
}

TEST_F(TlsCheckTest, ExpiredCertificateIsRefused) {
  TlsCheckOptions options = GoodOptions();
  options.at = std::chrono::system_clock::now() + std::chrono::hours(24 * 3);
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ExpectRefusalWithDetails(result, "certificate has expired");
  EXPECT_NE(result.status().message().find("install a current certificate"), std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, NotYetValidCertificateIsRefused) {
  TlsCheckOptions options = GoodOptions();
  options.at = std::chrono::system_clock::now() - std::chrono::hours(24 * 3);
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ExpectRefusalWithDetails(result, "certificate is not yet valid");
  EXPECT_EQ(result.status().message().find("expired"), std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, CertificateOfAnotherCaIsRefusedAsUnknownCa) {
  TlsCheckOptions options = GoodOptions();
  options.ca_file = certs_->other_ca_cert;
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ExpectRefusalWithDetails(result, "unknown CA");
  EXPECT_NE(result.status().message().find(certs_->other_ca_cert), std::string::npos)
      << result.status().message();
  // Only the trust fails: the host name and the dates are fine.
  EXPECT_EQ(result.status().message().find("host name"), std::string::npos)
      << result.status().message();
  EXPECT_EQ(result.status().message().find("expired"), std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, TestCaIsUnknownToTheSystemStore) {
  TlsCheckOptions options = GoodOptions();
  options.ca_file.reset();
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ExpectRefusalWithDetails(result, "unknown CA");
  EXPECT_NE(result.status().message().find("system's CA store"), std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, SelfSignedCertificateIsRefused) {
  TlsCheckOptions options = GoodOptions();
  options.host = "some other CA";
  options.address = self_signed_->address();
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition) << result.status().ToString();
  const std::string& message = result.status().message();
  EXPECT_NE(message.find("self-signed"), std::string::npos) << message;
  EXPECT_NE(message.find("subject CN=some other CA, issuer CN=some other CA, valid "),
            std::string::npos)
      << message;
}

TEST_F(TlsCheckTest, UnreadableCaFileIsInvalidArgument) {
  TlsCheckOptions options = GoodOptions();
  options.ca_file = dir_->path() + "/missing-ca.pem";
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  EXPECT_NE(result.status().message().find("missing-ca.pem"), std::string::npos)
      << result.status().message();

  testing::WriteFileAtomically(dir_->path() + "/not-pem.txt", "this is not a certificate\n");
  options.ca_file = dir_->path() + "/not-pem.txt";
  result = CheckTls(options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  EXPECT_NE(result.status().message().find("no usable PEM certificate"), std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, NothingListeningIsConnectionFailed) {
  uint16_t port = 0;
  auto closed = BindLoopback(/*listen_backlog=*/0, port);  // bound, not listening: refuses
  TlsCheckOptions options = GoodOptions();
  options.address = "127.0.0.1:" + std::to_string(port);
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kConnectionFailed) << result.status().ToString();
  EXPECT_NE(result.status().message().find(options.address), std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, ListenerThatNeverAnswersTimesOutWithinTheTimeout) {
  uint16_t port = 0;
  auto silent = BindLoopback(/*listen_backlog=*/4, port);  // the kernel accepts; nobody answers
  TlsCheckOptions options = GoodOptions();
  options.address = "127.0.0.1:" + std::to_string(port);
  options.timeout = milliseconds(400);
  const auto start = std::chrono::steady_clock::now();
  engine::Result<TlsCheckResult> result = CheckTls(options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kTimeout) << result.status().ToString();
  EXPECT_GE(elapsed, milliseconds(400));
  EXPECT_LT(elapsed, milliseconds(400 + 1000));
}

TEST_F(TlsCheckTest, ListenerThatDoesNotSpeakTlsIsConnectionFailed) {
  uint16_t port = 0;
  auto listener = BindLoopback(/*listen_backlog=*/4, port);
  // Answers one connection like a plain HTTP server would, then closes it (bounded: 5 s).
  std::thread plain_server([fd = listener->get()] {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 5000) != 1) {
      return;
    }
    Socket connection(accept(fd, nullptr, nullptr));
    if (connection.get() < 0) {
      return;
    }
    const char reply[] = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    (void)send(connection.get(), reply, sizeof(reply) - 1, MSG_NOSIGNAL);
  });
  TlsCheckOptions options = GoodOptions();
  options.address = "127.0.0.1:" + std::to_string(port);
  engine::Result<TlsCheckResult> result = CheckTls(options);
  plain_server.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kConnectionFailed) << result.status().ToString();
  EXPECT_NE(result.status().message().find("TLS handshake failed"), std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, BadAddressOrHostIsInvalidArgument) {
  for (const std::string address :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:https", ":443",
        "::1:443", "[::1", "[::1]443", "[not-an-address]:443", "bad host:443"}) {
    TlsCheckOptions options = GoodOptions();
    options.address = address;
    engine::Result<TlsCheckResult> result = CheckTls(options);
    ASSERT_FALSE(result.ok()) << address;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument)
        << address << ": " << result.status().ToString();
  }
  // A host name too long for SNI (over 255 bytes) is refused as input, before any connection
  // (nothing listens at the address, so a connection attempt would say "connection failed").
  uint16_t port = 0;
  auto closed = BindLoopback(/*listen_backlog=*/0, port);
  for (const std::string& host : {std::string(), std::string(300, 'a') + ".example.com"}) {
    TlsCheckOptions options = GoodOptions();
    options.host = host;
    options.address = "127.0.0.1:" + std::to_string(port);
    engine::Result<TlsCheckResult> result = CheckTls(options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  }
  TlsCheckOptions options = GoodOptions();
  options.timeout = milliseconds(0);
  EXPECT_EQ(CheckTls(options).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TlsCheckTest, BracketedIpv6AddressIsAccepted) {
  uint16_t port = 0;
  auto closed = BindLoopback(/*listen_backlog=*/0, port);
  TlsCheckOptions options = GoodOptions();
  options.address = "[::1]:" + std::to_string(port);
  options.timeout = milliseconds(1000);
  engine::Result<TlsCheckResult> result = CheckTls(options);
  ASSERT_FALSE(result.ok());
  // Parsed and tried (nothing of ours listens on ::1), not rejected as input.
  EXPECT_NE(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  EXPECT_NE(result.status().message().find("TLS at [::1]:"), std::string::npos)
      << result.status().message();
}

TEST_F(TlsCheckTest, HostNameAddressIsResolved) {
  TlsCheckOptions options = GoodOptions();
  options.address = "localhost:" + server_->address().substr(server_->address().rfind(':') + 1);
  engine::Result<TlsCheckResult> result = CheckTls(options);
  // localhost may resolve to ::1 first, where nothing listens; the IPv4 address is tried next.
  ASSERT_TRUE(result.ok()) << result.status().ToString();
}

TEST_F(TlsCheckTest, LeavesNoOpenSslErrorsBehind) {
  TlsCheckOptions options = GoodOptions();
  options.ca_file = dir_->path() + "/not-pem-either.txt";
  testing::WriteFileAtomically(*options.ca_file, "garbage\n");
  ASSERT_FALSE(CheckTls(options).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
  options = GoodOptions();
  options.host = "www.example.com";
  ASSERT_FALSE(CheckTls(options).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(TlsCheckTest, ConcurrentChecksAgree) {
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (CheckTls(GoodOptions()).ok()) {
        ++passed;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(passed.load(), 4);
}

}  // namespace
}  // namespace tandem::orchestration
