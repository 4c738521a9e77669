#include "tests/harness/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>

namespace tandem::testing {

uint16_t PickFreePort() {
  static std::mutex mu;
  static std::set<uint16_t>* handed_out = new std::set<uint16_t>();  // guarded by mu
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      int error = errno;
      close(fd);
      throw std::runtime_error(std::string("cannot bind a free port on 127.0.0.1: ") +
                               std::strerror(error));
    }
    close(fd);
    uint16_t port = ntohs(address.sin_port);
    std::lock_guard<std::mutex> lock(mu);
    if (handed_out->insert(port).second) {
      return port;
    }
  }
  throw std::runtime_error("no free TCP port found on 127.0.0.1 after 100 attempts");
}

bool IsPortConflict(const std::string& log_tail) {
  for (const char* pattern :
       {"Address already in use", "Bind on TCP/IP port", "could not bind IPv4 address",
        "could not create any TCP/IP sockets", "Could not create server TCP listening socket"}) {
    if (log_tail.find(pattern) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace tandem::testing
