// File: tests/connectors/redis/fake_redis_server.h
//
// FakeServer: a scripted stand-in for a Redis server in unit tests (no redis-server needed). It
// listens on 127.0.0.1 (an ephemeral port), accepts one client and runs a script with the socket
// on its own thread: read what the client sent (ReadUntil), write the bytes a server would
// (Write, WriteInPieces). Reads give up after 10 s so a failing test cannot hang.
//
// Thread safety: the script runs on the server's thread; port() is safe from the test's thread;
// the destructor joins the script.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>

namespace tandem::connectors::redis::testing {

// Accepts one client on 127.0.0.1 and runs `script` with its socket; the script's reads give up
// after 10 s so a failing test cannot hang.
class FakeServer {
 public:
  using Script = std::function<void(FakeServer& server)>;

  explicit FakeServer(Script script) : script_(std::move(script)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      pollfd entry{listen_fd_, POLLIN, 0};
      if (poll(&entry, 1, 10000) != 1) {
        return;
      }
      client_fd_ = accept(listen_fd_, nullptr, nullptr);
      if (client_fd_ >= 0) {
        script_(*this);
        close(client_fd_);
      }
    });
  }

  ~FakeServer() {
    thread_.join();
    close(listen_fd_);
  }

  uint16_t port() const { return port_; }

  // Reads until `marker` has arrived (true) or the client hung up / 10 s passed (false).
  bool ReadUntil(const std::string& marker) {
    while (received_.find(marker) == std::string::npos) {
      pollfd entry{client_fd_, POLLIN, 0};
      char buffer[4096];
      if (poll(&entry, 1, 10000) != 1) {
        return false;
      }
      ssize_t n = read(client_fd_, buffer, sizeof(buffer));
      if (n <= 0) {
        return false;
      }
      received_.append(buffer, static_cast<size_t>(n));
    }
    received_.erase(0, received_.find(marker) + marker.size());
    return true;
  }

  // Waits until the client hangs up (or 10 s).
  void WaitForHangUp() {
    while (ReadUntil("\x01never\x01")) {
    }
  }

  void Write(const std::string& bytes) {
    ASSERT_EQ(write(client_fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  // Writes `bytes` in pieces of `piece` bytes with a pause after each, so that the client's
  // reads see them split (a decoder must not care where).
  void WriteInPieces(const std::string& bytes, size_t piece,
                     std::chrono::milliseconds pause = std::chrono::milliseconds(2)) {
    for (size_t at = 0; at < bytes.size(); at += piece) {
      Write(bytes.substr(at, piece));
      std::this_thread::sleep_for(pause);
    }
  }

  // What arrived after the last marker ReadUntil found.
  const std::string& received() const { return received_; }

  // Answers tandem's login (AUTH, CLIENT SETNAME) with +OK each.
  void AcceptLogin() {
    ASSERT_TRUE(ReadUntil("tandem\r\n"));
    Write("+OK\r\n+OK\r\n");
  }

 private:
  Script script_;
  int listen_fd_ = -1;
  int client_fd_ = -1;
  uint16_t port_ = 0;
  std::string received_;
  std::thread thread_;
};

}  // namespace tandem::connectors::redis::testing
