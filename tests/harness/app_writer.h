// File: tests/harness/app_writer.h
//
// An application-like writer for cutover tests: inserts ids of its own, one after another at about
// `writes_per_second`, through one connection to 127.0.0.1:port (HAProxy's writer frontend),
// reconnecting after errors, and remembers what it saw: the ids acknowledged, the ids whose outcome
// is unknown (the connection broke during the insert), and the longest gap between two
// acknowledgements (the write pause the application felt). How it connects and inserts is the
// engine's (AppClient), so one writer serves MariaDB, PostgreSQL and Redis tests.
//
// Thread safety: the writer runs on a thread of its own, started by the constructor and joined by
// Stop() or the destructor; every accessor is safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace tandem::testing {

// How the application writes, per engine: one connection through HAProxy's writer frontend and
// the insert of one id on it.
struct AppClient {
  // Connects to 127.0.0.1:port (HAProxy) and returns the insert of one id on that connection.
  // Both throw on failure; after an insert threw, the connection is dropped.
  std::function<std::function<void(int)>(uint16_t port)> connect;
  // Whether an insert's error says the server refused it (not written); after any other error
  // (the connection broke, a timeout) its outcome is unknown.
  std::function<bool(const std::string& error)> refused;
};

class AppWriter {
 public:
  // Starts writing ids first_id, first_id + 1, ...; stops by itself after `run_for`.
  AppWriter(AppClient client, uint16_t port, int first_id, int writes_per_second = 300,
            std::chrono::milliseconds run_for = std::chrono::minutes(4));
  ~AppWriter();
  AppWriter(const AppWriter&) = delete;
  AppWriter& operator=(const AppWriter&) = delete;

  void Stop();
  int64_t acknowledged() const { return acknowledged_.load(); }
  std::set<int> acknowledged_ids() const;
  std::set<int> uncertain_ids() const;
  // The longest gap between two acknowledged inserts since the start or the last ResetGap().
  void ResetGap();
  std::chrono::milliseconds longest_gap() const;

 private:
  void Run();

  const AppClient client_;
  const uint16_t port_;
  const std::chrono::microseconds interval_;
  const std::chrono::milliseconds run_for_;
  int next_id_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acknowledged_{0};
  mutable std::mutex mu_;
  std::set<int> acked_, uncertain_;  // guarded by mu_
  std::chrono::milliseconds longest_gap_{0};
  std::thread thread_;
};

}  // namespace tandem::testing
