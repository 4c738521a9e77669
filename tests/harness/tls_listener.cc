#include "tests/harness/tls_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <stdexcept>

#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/wait.h"

namespace tandem::testing {

using std::chrono::milliseconds;

bool AcceptsConnections(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

TlsListener::TlsListener(const std::string& cert, const std::string& key, const std::string& log) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = PickFreePort();
    SpawnOptions options;
    options.argv = {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port_),
                    "-cert",   cert,       "-key",    key,
                    "-www"};
    options.log_path = log;
    child_ = ChildProcess::Spawn(options);
    if (PollUntil(milliseconds(10000),
                  [&] { return !child_.Running() || AcceptsConnections(port_); }) &&
        child_.Running()) {
      return;
    }
    child_.Stop(SIGKILL, milliseconds(2000));
    if (!IsPortConflict(ReadFileTail(log))) {
      break;
    }
  }
  throw std::runtime_error("openssl s_server did not start: " + ReadFileTail(log));
}

TlsListener::~TlsListener() { child_.Stop(SIGTERM, milliseconds(2000)); }

}  // namespace tandem::testing
