#include "lag/metrics_http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

namespace tandem::lag {
namespace {

// Sends `request` to 127.0.0.1:port and returns everything the server answers.
std::string Exchange(uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return "connect failed";
  }
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) {
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

TEST(MetricsHttpServer, ServesTheRenderedMetrics) {
  std::atomic<int> renders{0};
  auto server = MetricsHttpServer::Start("127.0.0.1", 0, [&] {
    ++renders;
    return std::string("tandem_lag_up 1\n");
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_NE((*server)->port(), 0);
  const std::string response =
      Exchange((*server)->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(response.find("Content-Length: 16\r\n"), std::string::npos);
  EXPECT_NE(response.find("\r\n\r\ntandem_lag_up 1\n"), std::string::npos);
  EXPECT_EQ(renders.load(), 1);
  EXPECT_EQ((*server)->requests(), 1u);
}

TEST(MetricsHttpServer, AnswersOtherPathsAndMethodsWithErrors) {
  auto server = MetricsHttpServer::Start("127.0.0.1", 0, [] { return std::string(); });
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(Exchange((*server)->port(), "GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Exchange((*server)->port(), "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0),
            0u);
  EXPECT_EQ(Exchange((*server)->port(), "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
}

TEST(MetricsHttpServer, ATakenPortIsUnavailableAndABadAddressInvalid) {
  auto first = MetricsHttpServer::Start("127.0.0.1", 0, [] { return std::string(); });
  ASSERT_TRUE(first.ok());
  auto second = MetricsHttpServer::Start("127.0.0.1", (*first)->port(), [] { return ""; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), engine::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("--metrics-port"), std::string::npos);
  auto bad = MetricsHttpServer::Start("localhost:1", 0, [] { return std::string(); });
  EXPECT_EQ(bad.status().code(), engine::StatusCode::kInvalidArgument);
}

TEST(MetricsHttpServer, StopsPromptlyWhileIdle) {
  auto server = MetricsHttpServer::Start("127.0.0.1", 0, [] { return std::string(); });
  ASSERT_TRUE(server.ok());
  const auto before = std::chrono::steady_clock::now();
  (*server)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(500));
  (*server)->Stop();  // idempotent
}

}  // namespace
}  // namespace tandem::lag
