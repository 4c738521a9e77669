// File: tests/harness/http_load.h
//
// HttpLoad: a paced HTTP load generator for traffic tests. `threads` workers, each with its own
// keep-alive httplib::Client to host:port, send GET <path> so that together they make
// `requests_per_second` (each worker paces itself at rate / threads on an absolute schedule; a
// worker that falls behind by more than one interval skips ahead instead of bursting). Every
// answer is counted by status class and by the backend that served it (the X-Backend header, else
// the body of a 2xx, else "" — e.g. HAProxy's own 503 when no server is available); a request
// that gets no response (connection refused, timeout) counts as an error.
//
// Windows: Snapshot() returns cumulative counts; a test takes two snapshots and subtracts them
// (`later - earlier`) to get one window's counts.
//
// Lifetime: Start() returns at once; Stop() (and the destructor) ends the workers within one
// request timeout (2 s).
//
// Thread safety: Snapshot() and the Wait* calls are safe from any thread; Start/Stop must not run
// concurrently with each other.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tandem::testing {

struct HttpLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // REQUIRED
  std::string path = "/";
  int threads = 8;
  double requests_per_second = 400;         // total over all threads; <= 0 = as fast as possible
  std::chrono::milliseconds timeout{2000};  // connect, read and write timeouts of each client
};

struct HttpLoadCounts {
  int64_t requests = 0;   // sent (responses + errors)
  int64_t responses = 0;  // answered, any status
  int64_t status_1xx = 0, status_2xx = 0, status_3xx = 0, status_4xx = 0, status_5xx = 0;
  int64_t errors = 0;                             // no response
  std::map<std::string, int64_t> by_backend;      // responses per serving backend name
  std::map<std::string, int64_t> by_backend_5xx;  // 5xx responses per serving backend name

  // Field-wise difference: the counts of the window between two snapshots.
  HttpLoadCounts operator-(const HttpLoadCounts& earlier) const;
  // Responses served by any of `backends`, and that as a percentage (0..100) of all responses
  // (0 when there are none).
  int64_t ResponsesFrom(const std::vector<std::string>& backends) const;
  double PercentFrom(const std::vector<std::string>& backends) const;
  // "requests=.. responses=.. 2xx=.. 5xx=.. errors=.. app-old-1=.. ..." for test failure messages.
  std::string ToString() const;
};

class HttpLoad {
 public:
  explicit HttpLoad(HttpLoadOptions options);
  HttpLoad(const HttpLoad&) = delete;
  HttpLoad& operator=(const HttpLoad&) = delete;
  ~HttpLoad();

  // Starts the workers. Throws std::logic_error if already running or port is 0.
  void Start();
  // Idempotent.
  void Stop();

  HttpLoadCounts Snapshot() const;

  // Waits until the cumulative response count reaches `responses` or `timeout` passes; returns
  // whether it did.
  bool WaitForResponses(int64_t responses, std::chrono::milliseconds timeout) const;

 private:
  void Worker(int index);
  void Record(int status, const std::string& backend);
  void RecordError();

  // Constant after construction.
  const HttpLoadOptions options_;

  // Owned by the thread calling Start/Stop.
  std::vector<std::thread> workers_;

  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  HttpLoadCounts counts_;  // guarded by mu_
};

}  // namespace tandem::testing
