// File: lag/metrics_http_server.h
//
// MetricsHttpServer: a minimal HTTP/1.1 server for a Prometheus scrape endpoint (--metrics-port).
//
//   GET /metrics   200, Content-Type: text/plain; version=0.0.4, body = render()
//   GET /          200, a one-line pointer to /metrics
//   other paths    404;  other methods 405;  a malformed or oversized request 400
// One request per connection (Connection: close), one connection at a time, each bounded by a
// 2-second socket timeout, so a stuck client cannot hold the server for long. It binds to
// 127.0.0.1 unless told otherwise: exposing metrics beyond the host is the caller's decision.
//
// Thread safety: Start() runs the server on its own thread, which calls `render` (so render must
// be safe to call from that thread). Stop() and the destructor may be called from any thread;
// they return once the server thread has exited.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "engine/status.h"

namespace tandem::lag {

class MetricsHttpServer {
 public:
  using Render = std::function<std::string()>;

  // Listens on `address` (an IPv4 literal) and `port` (0: any free port; see port()).
  // Errors: kInvalidArgument for a bad address; kUnavailable when the port is taken.
  static engine::Result<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                  uint16_t port, Render render);

  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The port it listens on.
  uint16_t port() const { return port_; }
  // Requests answered so far.
  uint64_t requests() const { return requests_.load(); }

  // Stops listening and joins the server thread. Idempotent.
  void Stop();

 private:
  MetricsHttpServer(int listen_fd, int wake_read_fd, int wake_write_fd, uint16_t port,
                    Render render);

  void Serve();
  void HandleConnection(int fd);

  // Constant after construction; closed by Stop().
  const int listen_fd_;
  const int wake_read_fd_;  // the server thread polls it; a byte written to it means "stop"
  const int wake_write_fd_;
  const uint16_t port_;
  const Render render_;

  std::atomic<uint64_t> requests_{0};
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace tandem::lag
