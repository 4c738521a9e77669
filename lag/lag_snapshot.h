// File: lag/lag_snapshot.h
//
// LagSnapshot: every figure of a lag measurement at one moment, as LagMonitor::Snapshot() hands it
// out; what `tandem lag` prints, what the gate decides on and what the metrics endpoint exposes.
//
// Terms:
//   sample             one heartbeat sequence seen on the target, with its lag
//   (lag/heartbeat_ledger.h) window             the samples of the last `window_length`
//   (lag/sliding_histogram.h) oldest unseen age  how long ago the oldest heartbeat not yet visible
//   on the target was written:
//                      a lower bound on its lag, which keeps growing while replication is stopped
//   current lag        max(lag of the newest sample, oldest unseen age)
//   stalled            a heartbeat has been pending for longer than `stall_after` and none arrived
//                      during that time: the heartbeat stopped arriving
//   measurement error  the p99 of the samples' error bounds (half the window in which each became
//                      visible): how much the observer's polling can have added or taken away;
//                      a descheduled observer thread widens single windows, so the median is
//                      reported beside it as the typical resolution
//
// Thread safety: a value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/heartbeat.h"
#include "engine/status.h"
#include "lag/latency_histogram.h"

namespace tandem::lag {

// Percentiles of a histogram in milliseconds (0 when it is empty).
struct LagSummary {
  uint64_t samples = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double min_ms = 0;
  double mean_ms = 0;

  static LagSummary Of(const LatencyHistogram& histogram);
};

struct LagSnapshot {
  engine::HeartbeatWriterId writer_id = 0;
  std::string source;  // where the heartbeat is written (HeartbeatWriter::Describe)
  std::string target;  // where it is read (HeartbeatReader::Describe)
  std::chrono::nanoseconds elapsed{0};   // since the monitor started
  std::chrono::nanoseconds interval{0};  // between heartbeat writes

  int64_t heartbeats_written = 0;  // sequences issued
  int64_t heartbeats_seen = 0;     // the highest sequence seen on the target
  uint64_t beats_skipped = 0;      // writes skipped because too many were unseen (bounded memory)
  uint64_t regressions = 0;        // target reads that went back to an older sequence
  uint64_t transient_errors = 0;   // writes or reads refused transiently and retried

  LagSummary overall;  // every sample since the start
  LagSummary window;   // the samples of the last window_length
  std::chrono::nanoseconds window_length{0};

  double last_lag_ms = 0;                       // lag of the newest sample
  double oldest_unseen_age_ms = 0;              // 0 when every written heartbeat has been seen
  double current_lag_ms = 0;                    // see the file comment
  std::optional<double> since_last_arrival_ms;  // nullopt until the first heartbeat arrived
  bool stalled = false;
  std::chrono::nanoseconds stall_after{0};

  double measurement_error_ms = 0;      // p99 of the samples' error bounds
  double measurement_error_p50_ms = 0;  // their median: the typical resolution
  double max_measurement_error_ms = 0;  // the largest error bound of any sample
  uint64_t polls = 0;                   // target reads
  double poll_period_ms = 0;            // mean time between the starts of two target reads
  double read_round_trip_ms = 0;        // mean duration of a target read
  LagSummary write_round_trip;          // durations of the heartbeat writes on the source

  std::optional<engine::PositionalLag> positional;  // the newest positional reading
  std::string positional_error;  // why there is none (empty when there is one, or none asked)

  // The first error of the writer or the observer; the monitor stops measuring after one.
  engine::Status error;

  // One sentence saying the heartbeat stopped arriving (which sequence, written how long ago,
  // when the last one arrived); empty when not stalled.
  std::string StallMessage() const;

  // The figures as JSON: samples, p50_ms, p90_ms, p99_ms, max_ms (overall), window {...},
  // current_lag_ms, measurement_error_ms, positional {...} and the rest, keys as the members.
  nlohmann::json ToJson() const;
};

}  // namespace tandem::lag
