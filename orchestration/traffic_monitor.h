// File: orchestration/traffic_monitor.h
//
// TrafficMonitor: what phase 4's HTTP gates measure, for one HAProxy backend split into old and
// new servers.
//   poller thread    every `poll_interval` (250 ms) reads `show stat` for the backend and keeps
//                    the per-side counter totals (responses, 5xx, connection and response errors)
//                    with their steady-clock time, in a ring bounded by `history`
//   log thread       when a `log` address is given, receives HAProxy's httplog lines over UDP
//                    (syslog, RFC 3164 or 5424 framing) and records each request's total active
//                    time Ta (the %TR/%Tw/%Tc/%Tr/%Ta field) for the server named in %b/%s; lines
//                    of other backends are ignored, lines it cannot read are counted
// Without a log address, response times come from `show stat`'s rtime (HAProxy's average over the
// server's last 1024 requests), weighted by each server's requests in the window: coarser, and
// documented as such in the gate's detail.
//
// Windows: Window(since, now, min_new) covers [start, now] where start is the later of `since`
// and now - recent_span (30 s), moved earlier (never before `since`) until it holds min_new
// responses at the new servers or reaches `since`. Error counts are counter deltas over it;
// response times are the samples inside it.
//
// Statistics, precisely:
//   counts       a window's counts are the difference between the cumulative per-side totals of
//                two polls: the first poll at or after the window's start (so traffic from
//                before a step never counts for it; up to one poll_interval at the start is
//                missed instead) and the last poll at or before its end. Window().start is that
//                first poll's time. responses = the sum of the hrsp_* counters of the side's
//                servers; errors = hrsp_5xx + econ + eresp. A server counter that decreases
//                between two polls (HAProxy reloaded or restarted) counts as a restart of all of
//                that server's counters: the delta of that poll is the new value, never negative.
//   times (log)  one sample per httplog line of a side's server whose Tr and Ta are both >= 0
//                (a request aborted before the server answered has no response time, but its
//                line still counts as received); the value is Ta, the total active time in ms.
//                median and p95 are nearest-rank percentiles over the window's samples: the
//                value at rank ceil(q * n) of the sorted samples (exact, nth_element).
//   times (stat) without a log address: each poll adds, per server, (responses since the last
//                poll) x rtime to the side's running sum; a window's time is that sum's delta
//                divided by the responses' delta: the request-weighted mean of HAProxy's
//                1024-request averages. median_ms = p95_ms = that mean; samples = responses.
//
// Memory: the counter ring holds at most history / poll_interval entries; response-time samples
// older than `history` are dropped, and at most 2,000,000 are kept (the oldest dropped first,
// counted).
//
// Thread safety: all public methods are safe from any thread. Stop() (and the destructor) end
// both threads within one poll or one receive timeout (100 ms).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "orchestration/haproxy_runtime.h"

namespace tandem::orchestration {

using SteadyTime = std::chrono::steady_clock::time_point;

struct TrafficMonitorOptions {
  std::string backend;
  std::vector<std::string> old_servers;
  std::vector<std::string> new_servers;
  std::optional<std::string> log_address;  // "host:port" to bind (UDP)
  std::chrono::milliseconds poll_interval{250};
  std::chrono::milliseconds recent_span{30'000};
  std::chrono::milliseconds history{3'600'000};
};

// Percentiles of a set of response times, in milliseconds.
struct ResponseTimeSummary {
  int64_t samples = 0;
  double median_ms = 0;
  double p95_ms = 0;
  bool from_log =
      false;  // per-request times from httplog (else show stat's averages: p95 = median)
};

struct SideCounts {
  int64_t responses = 0;
  int64_t errors = 0;  // 5xx responses plus connection and response errors
  double error_rate() const { return responses > 0 ? static_cast<double>(errors) / responses : 0; }
};

struct TrafficWindow {
  SteadyTime start, end;
  SideCounts old_side, new_side;
  ResponseTimeSummary old_times, new_times;
};

struct TrafficBaseline {
  SideCounts old_side;
  ResponseTimeSummary old_times;
  std::chrono::milliseconds span{0};

  // {"old_responses", "old_errors", "old_times": {"samples", "median_ms", "p95_ms", "from_log"},
  // "span_ms"}: what the controller journals.
  nlohmann::json ToJson() const;
  // The inverse of ToJson. A key that is missing or not of its type (a journal from another
  // version) reads as zero / false.
  static TrafficBaseline FromJson(const nlohmann::json& json);
};

// One httplog line, as HAProxy's `option httplog` writes it after the syslog header:
//   <client ip:port> [<accept date>] <frontend>[~] <backend>/<server>
//   <TR>/<Tw>/<Tc>/<Tr>/<Ta> <status> <bytes> ...
// A timer is -1 when the request never reached that stage (aborted, no server); Ta may carry a
// '+' (option logasap). The syslog framing may be RFC 3164 ("<134>Nov 26 02:30:00 [host]
// haproxy[123]: ..."), RFC 5424 ("<134>1 2026-11-26T02:30:00+00:00 host haproxy 123 - - ...",
// structured data "-" or [...]) or none (HAProxy's `format raw`).
struct HttplogLine {
  std::string frontend;  // without the TLS '~'
  std::string backend;
  std::string server;            // "<NOSRV>" when no server was chosen
  std::optional<int64_t> ta_ms;  // total active time; nullopt when Tr or Ta is -1
  int status = -1;               // -1 when the connection was aborted before a status
};

// Parses one received datagram (trailing newlines ignored). Returns nullopt for anything that is
// not an httplog line (the caller counts it as unreadable).
std::optional<HttplogLine> ParseHttplogLine(std::string_view datagram);

class TrafficMonitor {
 public:
  // Checks the backend and every named server exist (one `show stat`), binds the log socket when
  // given, and starts the threads.
  // Errors: HaproxyRuntime's; kNotFound naming a server absent from the backend; kInvalidArgument
  // / kFailedPrecondition when the log address cannot be bound (in use, bad address);
  // kInvalidArgument for options it cannot work with (no backend, no old or no new server, a
  // server named on both sides, a poll interval or recent span <= 0, a history shorter than one
  // poll interval).
  static engine::Result<std::unique_ptr<TrafficMonitor>> Start(
      const HaproxyRuntime& haproxy, const TrafficMonitorOptions& options);
  ~TrafficMonitor();
  void Stop();

  // The last poll's error (HAProxy went away), if the poller is failing; gates report it.
  std::optional<engine::Status> poll_error() const;

  TrafficWindow Window(SteadyTime since, SteadyTime now, int64_t min_new_responses) const;

  // The old servers' figures over [start, end] (both within the kept history): error counts from
  // the counter ring, response times from the samples (or show stat's averages) in that span.
  // The controller journals the result and hands it to the gates, so a resumed run reuses it.
  TrafficBaseline MeasureBaseline(SteadyTime start, SteadyTime end) const;

  // Counters for metrics and the live view.
  int64_t log_lines_received() const;
  int64_t log_lines_unreadable() const;
  // Response-time samples dropped because the 2,000,000 cap was reached.
  int64_t response_times_dropped() const;

  // --- Test-only API: a monitor without threads or sockets, fed by hand through the same code
  // paths the poller and the log thread use. ---
  static std::unique_ptr<TrafficMonitor> ForTesting(const TrafficMonitorOptions& options);
  // One poll at `at`: `show stat`'s servers of the backend, or its error.
  void RecordPollForTesting(SteadyTime at,
                            const engine::Result<std::vector<HaproxyServerStats>>& poll);
  // One datagram received at `at`.
  void RecordDatagramForTesting(SteadyTime at, std::string_view datagram);

 private:
  struct State;
  explicit TrafficMonitor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace tandem::orchestration
