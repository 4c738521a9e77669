// File: tests/harness/haproxy_server.h
//
// HaproxyServer: a private HAProxy (the `haproxy` in PATH, 2.6) for one test. It writes
// haproxy.cfg into its own server directory and runs `haproxy -f haproxy.cfg -db` (foreground) as
// a child, killed by PID when the object goes. The configuration:
//   global     stats socket <dir>/admin.sock level admin
//              [stats socket <dir>/user.sock level user]            (options.user_socket)
//              [stats socket 127.0.0.1:<port> level admin]         (options.admin_tcp_socket)
//              [log 127.0.0.1:<udp port> local0]                   (options.log_udp_port)
//   defaults   timeouts connect/client/server 5 s, retries 3, log global
//   per HTTP backend B:  frontend fe_B on 127.0.0.1:<free port>, mode http, option httplog,
//              default_backend B; backend B, mode http, balance <balance> (roundrobin),
//              retry-on conn-failure empty-response (a reused idle connection the server just
//              closed is retried, never a 503 answer), one `server <name> <host:port> weight <w>`
//              per server, without health checks unless `health_checks` (then `check inter 500`)
//   per TCP backend B:   the same with mode tcp, option tcplog, no retry-on (database writers)
// Readiness: Start() returns once the admin socket answers `show info` (bounded by
// startup_timeout, 10 s); a frontend port taken meanwhile is retried with new ports.
// HAProxy's stdout/stderr go to <dir>/haproxy.log.
//
// The runtime API client here (AdminCommand) is the harness's own, independent of
// orchestration/haproxy_runtime.h, so the fixture does not share bugs with the code under test.
//
// Lifetime: the destructor stops HAProxy (SIGTERM, SIGKILL after 5 s) and removes the directory
// (kept when TANDEM_TEST_KEEP_SERVER_DIRS is set). HAProxy dies with the test process.
//
// Thread safety: the const methods are safe for concurrent use. Stop() must not run concurrently
// with any other call.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/subprocess.h"

namespace tandem::testing {

struct HaproxyServerEntry {
  std::string name;     // HAProxy server name, e.g. "app-new-1"
  std::string address;  // "127.0.0.1:PORT" (TestHttpBackend::address())
  int64_t weight = 1;   // 0..256
};

struct HaproxyBackendSpec {
  std::string name;  // backend name, e.g. "app"; the frontend is "fe_<name>"
  std::vector<HaproxyServerEntry> servers;
  bool health_checks = false;          // `check inter 500` on every server (TCP connect checks)
  std::string balance = "roundrobin";  // the `balance` line, e.g. "static-rr"
};

struct HaproxyOptions {
  std::vector<HaproxyBackendSpec> http_backends;
  std::vector<HaproxyBackendSpec> tcp_backends;
  bool user_socket = false;              // also <dir>/user.sock at level user
  bool admin_tcp_socket = false;         // also 127.0.0.1:<free port> at level admin
  std::optional<uint16_t> log_udp_port;  // send httplog/tcplog lines to 127.0.0.1:<port> (UDP)
  std::string name;                      // subdirectory of parent_dir; "" = unique name
  std::chrono::milliseconds startup_timeout{10'000};
};

class HaproxyServer {
 public:
  // Writes the configuration into a new directory under `parent_dir` (created if missing), starts
  // HAProxy and returns once the admin socket answers. Throws std::invalid_argument for invalid
  // options (an empty or duplicate name, a server without host:port, a weight outside 0..256) and
  // std::runtime_error for a start failure (with the tail of haproxy.log).
  static std::unique_ptr<HaproxyServer> Start(const std::string& parent_dir,
                                              const HaproxyOptions& options);

  HaproxyServer(const HaproxyServer&) = delete;
  HaproxyServer& operator=(const HaproxyServer&) = delete;
  ~HaproxyServer();

  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return process_.pid(); }  // 0 once stopped

  // <dir>/admin.sock (level admin).
  const std::string& admin_socket_path() const { return admin_socket_path_; }
  // <dir>/user.sock (level user). Throws std::logic_error unless options.user_socket.
  const std::string& user_socket_path() const;
  // "127.0.0.1:PORT" (level admin). Throws std::logic_error unless options.admin_tcp_socket.
  std::string admin_tcp_address() const;

  // The 127.0.0.1 port of the frontend of `backend` (HTTP or TCP). Throws std::out_of_range
  // naming the backend if there is none.
  uint16_t frontend_port(const std::string& backend) const;
  // "http://127.0.0.1:PORT" for an HTTP backend's frontend.
  std::string frontend_url(const std::string& backend) const;

  // Sends one runtime API command over the admin socket and returns the reply (2 s timeouts).
  // Throws std::runtime_error on a connection failure or timeout.
  std::string AdminCommand(const std::string& command) const;

  // SIGTERM, SIGKILL after 5 s. Idempotent; keeps the directory.
  void Stop();

 private:
  HaproxyServer() = default;

  std::string dir_;
  std::string config_path_;
  std::string log_path_;
  std::string admin_socket_path_;
  std::string user_socket_path_;  // "" unless options.user_socket
  uint16_t admin_tcp_port_ = 0;   // 0 unless options.admin_tcp_socket
  std::map<std::string, uint16_t> frontend_ports_;
  ChildProcess process_;
};

}  // namespace tandem::testing
