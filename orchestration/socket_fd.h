// File: orchestration/socket_fd.h
//
// SocketFd: owns one file descriptor (a socket the orchestration's network clients open) and
// closes it when it goes; movable, not copyable. -1 owns nothing.
#pragma once

#include <unistd.h>

#include <utility>

namespace tandem::orchestration {

class SocketFd {
 public:
  explicit SocketFd(int fd) : fd_(fd) {}
  SocketFd(SocketFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  SocketFd& operator=(SocketFd&&) = delete;
  SocketFd(const SocketFd&) = delete;
  SocketFd& operator=(const SocketFd&) = delete;
  ~SocketFd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace tandem::orchestration
