// File: tests/harness/test_http_backend.h
//
// TestHttpBackend: a tiny HTTP server standing in for one application server behind HAProxy.
// It listens on 127.0.0.1 at a free port and answers GET (and HEAD) on any path with
//   200, body = its name, header "X-Backend: <name>"
// so a load generator can tell which server answered. Faults are injected at run time:
//   SetFailureRatio(r)  that fraction of requests answer 503 (body and X-Backend as above). The
//                       spread is deterministic: request n (counted from 0 since the last
//                       SetFailureRatio) fails when floor((n + 1) * r) > floor(n * r), so any run
//                       of k requests holds k * r failures, rounded either way.
//   SetExtraDelay(d)    every request sleeps d before answering.
//
// Keep-alive: up to 1000 requests per connection, 2 s idle timeout; 64 worker threads, so ~16
// concurrent keep-alive connections (HAProxy's plus a load generator's) never queue.
//
// Lifetime: Start() binds and returns once the listener accepts connections (bounded, 10 s);
// Stop() closes the listener and joins the workers (bounded by the 2 s idle timeout plus a slow
// request's extra delay); the destructor stops.
//
// Thread safety: the setters and counters are safe from any thread at any time (atomics).
// Start/Stop must not run concurrently with each other.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace tandem::testing {

class TestHttpBackend {
 public:
  // `name`: the body and X-Backend value, e.g. "app-new-1" (use the HAProxy server name).
  explicit TestHttpBackend(std::string name);
  TestHttpBackend(const TestHttpBackend&) = delete;
  TestHttpBackend& operator=(const TestHttpBackend&) = delete;
  ~TestHttpBackend();

  // Binds 127.0.0.1:<free port> and starts serving. Throws std::runtime_error if no port can be
  // bound or the listener does not accept within 10 s. REQUIRES: not started.
  void Start();
  // Idempotent.
  void Stop();

  const std::string& name() const { return name_; }
  uint16_t port() const { return port_; }
  // "127.0.0.1:PORT": the address for an HAProxy `server` line.
  std::string address() const;

  // 0 <= ratio <= 1 (clamped). Resets the deterministic spread's request count.
  void SetFailureRatio(double ratio);
  void SetExtraDelay(std::chrono::milliseconds delay);

  // Requests answered since Start(): all of them, and the 503s among them.
  int64_t requests_served() const { return requests_served_.load(); }
  int64_t failures_served() const { return failures_served_.load(); }

 private:
  // Whether the next request fails, per the spread above.
  bool NextRequestFails();

  // Constant after construction / Start().
  const std::string name_;
  uint16_t port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::atomic<bool> listener_returned_{false};  // set by listener_ when listen_after_bind returns

  // Fault injection and counters (any thread).
  std::atomic<double> failure_ratio_{0};
  std::atomic<int64_t> failure_sequence_{0};
  std::atomic<int64_t> extra_delay_ms_{0};
  std::atomic<int64_t> requests_served_{0};
  std::atomic<int64_t> failures_served_{0};
};

}  // namespace tandem::testing
