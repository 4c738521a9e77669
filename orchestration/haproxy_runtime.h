// File: orchestration/haproxy_runtime.h
//
// A client of HAProxy's runtime API (the "stats socket" at admin level): a unix socket path or a
// "host:port" TCP address. Each call opens a connection, sends one command line in
// non-interactive mode, reads the reply until HAProxy closes, and closes; every step has a
// timeout, so an HAProxy that stops answering surfaces as kTimeout, never as a hang.
//
// Commands used: `show stat` (CSV; `-1 4 -1`: servers only, `-1 2 -1`: the backend line),
// `show servers state <backend>`, `get weight <b>/<s>`, `set weight <b>/<s> <n>`, `set server
// <b>/<s> state ready|drain|maint`, `shutdown sessions server <b>/<s>`. HAProxy answers a
// successful set with an empty reply and a refusal with a line of text, which becomes
// kFailedPrecondition with that text.
//
// Privileges: the socket must be declared with `level admin` (`set weight` needs it); a socket at
// `level operator` or `user` refuses it with "Permission denied", which becomes kPermissionDenied
// with the fix ("declare the stats socket with level admin").
//
// Thread safety: const methods, no shared state; safe to call from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/status.h"

namespace tandem::orchestration {

// One server's line of `show stat` (the fields the gates use).
struct HaproxyServerStats {
  std::string backend;         // pxname
  std::string server;          // svname
  std::string status;          // "UP", "DOWN", "MAINT", "DRAIN", "no check", "UP 1/3", ...
  int64_t weight = 0;          // current effective weight
  int64_t sessions_total = 0;  // stot
  int64_t http_1xx = 0, http_2xx = 0, http_3xx = 0, http_4xx = 0, http_5xx = 0, http_other = 0;
  int64_t connection_errors = 0;  // econ
  int64_t response_errors = 0;    // eresp
  double queue_time_ms = 0;       // qtime: average over the last 1024 requests
  double connect_time_ms = 0;     // ctime
  double response_time_ms = 0;    // rtime
  double total_time_ms = 0;       // ttime
  // Requests answered (sum of the hrsp_* counters).
  int64_t responses() const {
    return http_1xx + http_2xx + http_3xx + http_4xx + http_5xx + http_other;
  }
};

class HaproxyRuntime {
 public:
  // `address`: a unix socket path (contains '/') or "host:port". `timeout` bounds the connect,
  // each write and each read.
  explicit HaproxyRuntime(std::string address,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  const std::string& address() const { return address_; }

  // Sends `command` and returns the whole reply.
  // Errors: kConnectionFailed "HAProxy runtime API at <address>: <errno text>; check the
  // `stats socket` line of haproxy.cfg", kTimeout, kPermissionDenied (see above).
  engine::Result<std::string> Execute(const std::string& command) const;

  // The servers of `backend` from `show stat`. Errors: kNotFound "HAProxy has no backend
  // <backend>" when it has no server line for it; Execute's errors; kCorruption for a CSV it
  // cannot read.
  engine::Result<std::vector<HaproxyServerStats>> ShowStat(const std::string& backend) const;

  // The load-balancing algorithm of `backend` (the `algo` column of its BACKEND line in `show
  // stat`, e.g. "roundrobin", "static-rr", "leastconn", "source"; HAProxy 2.6 says "unknown" for
  // `balance random`). Errors: kNotFound as ShowStat; kFailedPrecondition when the column is
  // missing or empty (HAProxy fills it only for sockets at level operator or admin).
  engine::Result<std::string> BalanceAlgorithm(const std::string& backend) const;

  // The current weight of one server (`get weight`: "N (initial M)").
  // Errors: kNotFound "HAProxy backend <b> has no server <s>" ; Execute's errors.
  engine::Result<int64_t> GetWeight(const std::string& backend, const std::string& server) const;
  // 0..256. Errors: kNotFound as GetWeight; kFailedPrecondition with HAProxy's refusal.
  engine::Status SetWeight(const std::string& backend, const std::string& server,
                           int64_t weight) const;
  // `state`: "ready", "drain" or "maint".
  engine::Status SetServerState(const std::string& backend, const std::string& server,
                                const std::string& state) const;
  engine::Status ShutdownSessions(const std::string& backend, const std::string& server) const;

 private:
  std::string address_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tandem::orchestration
