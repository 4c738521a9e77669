#include "tests/harness/haproxy_server.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>
#include <stdexcept>

#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/server_process.h"

namespace tandem::testing {
namespace {

constexpr std::chrono::milliseconds kAdminTimeout{2000};
constexpr std::chrono::seconds kStopGrace{5};

// HAProxy proxy and server names: letters, digits, '-', '_', '.' and ':'.
void CheckName(const std::string& what, const std::string& name) {
  if (name.empty()) {
    throw std::invalid_argument("HaproxyOptions: empty " + what + " name");
  }
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
    if (!allowed) {
      throw std::invalid_argument("HaproxyOptions: " + what + " name '" + name +
                                  "' has a character HAProxy does not accept; use letters, "
                                  "digits, '-', '_', '.' or ':'");
    }
  }
}

void CheckOptions(const HaproxyOptions& options) {
  std::set<std::string> backends;
  for (const auto* list : {&options.http_backends, &options.tcp_backends}) {
    for (const HaproxyBackendSpec& backend : *list) {
      CheckName("backend", backend.name);
      if (!backends.insert(backend.name).second) {
        throw std::invalid_argument("HaproxyOptions: backend '" + backend.name +
                                    "' is declared twice");
      }
      if (backend.servers.empty()) {
        throw std::invalid_argument("HaproxyOptions: backend '" + backend.name +
                                    "' has no servers");
      }
      std::set<std::string> servers;
      for (const HaproxyServerEntry& server : backend.servers) {
        CheckName("server", server.name);
        if (!servers.insert(server.name).second) {
          throw std::invalid_argument("HaproxyOptions: backend '" + backend.name +
                                      "' declares server '" + server.name + "' twice");
        }
        if (server.address.empty() || server.address.find(':') == std::string::npos) {
          throw std::invalid_argument("HaproxyOptions: server '" + server.name +
                                      "' needs an address host:port, not '" + server.address + "'");
        }
        if (server.weight < 0 || server.weight > 256) {
          throw std::invalid_argument("HaproxyOptions: server '" + server.name + "' weight " +
                                      std::to_string(server.weight) + " is outside 0..256");
        }
      }
    }
  }
}

void AppendBackend(std::ostringstream& cfg, const HaproxyBackendSpec& backend, bool http,
                   uint16_t port) {
  const char* mode = http ? "http" : "tcp";
  cfg << "\nfrontend fe_" << backend.name << "\n"
      << "    mode " << mode << "\n"
      << "    bind 127.0.0.1:" << port << "\n"
      << "    option " << (http ? "httplog" : "tcplog") << "\n"
      << "    default_backend " << backend.name << "\n"
      << "\nbackend " << backend.name << "\n"
      << "    mode " << mode << "\n"
      << "    balance " << backend.balance << "\n";
  if (http) {
    // A request sent on a reused idle connection the server closed at the same moment is retried
    // on another connection; a 5xx answer is never retried.
    cfg << "    retry-on conn-failure empty-response\n";
  }
  for (const HaproxyServerEntry& server : backend.servers) {
    cfg << "    server " << server.name << " " << server.address << " weight " << server.weight
        << (backend.health_checks ? " check inter 500" : "") << "\n";
  }
}

// Waits for `events` on `fd` until `deadline`; throws naming `what` on timeout or error.
void WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline,
             const std::string& what) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw std::runtime_error(what + ": timed out");
    }
    pollfd pfd{fd, events, 0};
    const int n = poll(&pfd, 1, static_cast<int>(left.count()));
    if (n > 0) {
      return;
    }
    if (n < 0 && errno != EINTR) {
      throw std::runtime_error(what + ": poll: " + std::strerror(errno));
    }
  }
}

// One runtime API command over a unix socket, reply read until HAProxy closes.
std::string UnixSocketCommand(const std::string& path, const std::string& command) {
  const std::string what = "HAProxy admin socket " + path + " (" + command + ")";
  const auto deadline = std::chrono::steady_clock::now() + kAdminTimeout;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    throw std::runtime_error(what + ": socket: " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    throw std::runtime_error(what + ": path too long");
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      throw std::runtime_error(what + ": connect: " + std::strerror(errno));
    }
    WaitFor(fd, POLLOUT, deadline, what);
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      throw std::runtime_error(what + ": connect: " + std::strerror(error));
    }
  }
  const std::string line = command + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    WaitFor(fd, POLLOUT, deadline, what);
    const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR && errno != EAGAIN) {
      throw std::runtime_error(what + ": send: " + std::strerror(errno));
    }
    sent += n > 0 ? static_cast<size_t>(n) : 0;
  }
  std::string reply;
  char buffer[16384];
  for (;;) {
    WaitFor(fd, POLLIN, deadline, what);
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) {
      return reply;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      throw std::runtime_error(what + ": recv: " + std::strerror(errno));
    }
    reply.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

std::unique_ptr<HaproxyServer> HaproxyServer::Start(const std::string& parent_dir,
                                                    const HaproxyOptions& options) {
  CheckOptions(options);
  MakeDirectories(parent_dir, 0755);
  std::unique_ptr<HaproxyServer> server(new HaproxyServer());
  server->dir_ = NewServerDirectory(parent_dir, "haproxy", options.name);
  server->config_path_ = server->dir_ + "/haproxy.cfg";
  server->log_path_ = server->dir_ + "/haproxy.log";
  server->admin_socket_path_ = server->dir_ + "/admin.sock";
  if (options.user_socket) {
    server->user_socket_path_ = server->dir_ + "/user.sock";
    CheckUnixSocketPath(server->user_socket_path_);
  }
  CheckUnixSocketPath(server->admin_socket_path_);
  MakeDirectories(server->dir_, 0755);

  for (int attempt = 1;; ++attempt) {
    server->frontend_ports_.clear();
    std::ostringstream cfg;
    cfg << "global\n"
        << "    stats socket " << server->admin_socket_path_ << " level admin\n";
    if (options.user_socket) {
      cfg << "    stats socket " << server->user_socket_path_ << " level user\n";
    }
    server->admin_tcp_port_ = 0;
    if (options.admin_tcp_socket) {
      server->admin_tcp_port_ = PickFreePort();
      cfg << "    stats socket 127.0.0.1:" << server->admin_tcp_port_ << " level admin\n";
    }
    cfg << "    stats timeout 10s\n";
    if (options.log_udp_port.has_value()) {
      cfg << "    log 127.0.0.1:" << *options.log_udp_port << " local0\n";
    }
    cfg << "\ndefaults\n"
        << "    timeout connect 5s\n"
        << "    timeout client 5s\n"
        << "    timeout server 5s\n"
        << "    retries 3\n";
    if (options.log_udp_port.has_value()) {
      cfg << "    log global\n";
    }
    for (const HaproxyBackendSpec& backend : options.http_backends) {
      const uint16_t port = PickFreePort();
      server->frontend_ports_[backend.name] = port;
      AppendBackend(cfg, backend, /*http=*/true, port);
    }
    for (const HaproxyBackendSpec& backend : options.tcp_backends) {
      const uint16_t port = PickFreePort();
      server->frontend_ports_[backend.name] = port;
      AppendBackend(cfg, backend, /*http=*/false, port);
    }
    WriteFileAtomically(server->config_path_, cfg.str());
    // A previous attempt's "Address already in use" must not classify this attempt's failure.
    unlink(server->log_path_.c_str());

    SpawnOptions spawn;
    spawn.argv = {"haproxy", "-f", server->config_path_, "-db"};
    spawn.log_path = server->log_path_;
    spawn.working_dir = server->dir_;
    const std::string admin_socket = server->admin_socket_path_;
    LaunchOutcome outcome = LaunchServer(
        spawn, "haproxy in " + server->dir_, options.startup_timeout,
        [&admin_socket] {
          return UnixSocketCommand(admin_socket, "show info").find("Name: HAProxy") !=
                 std::string::npos;
        },
        &server->process_);
    if (outcome == LaunchOutcome::kReady) {
      return server;
    }
    if (attempt == kPortAttempts) {
      throw std::runtime_error("haproxy in " + server->dir_ + ": a port was still in use after " +
                               std::to_string(kPortAttempts) + " attempts");
    }
  }
}

HaproxyServer::~HaproxyServer() {
  Stop();
  if (!KeepServerDirectories() && !dir_.empty()) {
    try {
      RemoveTree(dir_);
    } catch (const std::exception&) {
      // Best effort in a destructor.
    }
  }
}

const std::string& HaproxyServer::user_socket_path() const {
  if (user_socket_path_.empty()) {
    throw std::logic_error("HaproxyServer: no user-level socket; set HaproxyOptions::user_socket");
  }
  return user_socket_path_;
}

std::string HaproxyServer::admin_tcp_address() const {
  if (admin_tcp_port_ == 0) {
    throw std::logic_error(
        "HaproxyServer: no TCP admin socket; set HaproxyOptions::admin_tcp_socket");
  }
  return "127.0.0.1:" + std::to_string(admin_tcp_port_);
}

uint16_t HaproxyServer::frontend_port(const std::string& backend) const {
  auto it = frontend_ports_.find(backend);
  if (it == frontend_ports_.end()) {
    throw std::out_of_range("HaproxyServer: no frontend for backend '" + backend + "'");
  }
  return it->second;
}

std::string HaproxyServer::frontend_url(const std::string& backend) const {
  return "http://127.0.0.1:" + std::to_string(frontend_port(backend));
}

std::string HaproxyServer::AdminCommand(const std::string& command) const {
  return UnixSocketCommand(admin_socket_path_, command);
}

void HaproxyServer::Stop() { process_.Stop(SIGTERM, kStopGrace); }

}  // namespace tandem::testing
