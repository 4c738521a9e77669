// File: lag/lag_gate.h
//
// LagGate: the decision "the target trails by less than max_lag, continuously, for hold_for,
// within duration", taken from successive LagSnapshots. The orchestrator's phase-3 gate and
// `tandem lag --max-lag --for` both use it.
//
// The condition holds at an observation when
//   - the window has at least one sample and its p99 is below max_lag, and
//   - the current lag (which includes the age of the oldest heartbeat not yet seen, so a stopped
//     replication breaks the condition even though it produces no samples) is below max_lag.
// Verdicts, final once reached:
//   kPassed         the condition held at every observation for hold_for
//   kFailed         duration ran out, or too little of it is left for hold_for to pass
//   kCannotMeasure  no heartbeat arrived within first_heartbeat_timeout (the target is not
//                   replicating from this source, replication is stopped, or it trails by more),
//                   or the monitor failed (a server went away)
// Between observations the condition is assumed to have held: observe often (every 100 ms) and
// let the window's p99 carry what happened in between.
//
// Times come in as arguments, so tests drive the gate with invented times.
//
// Thread safety: not synchronised; owned by the thread that feeds it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "lag/lag_clock.h"
#include "lag/lag_snapshot.h"

namespace tandem::lag {

struct LagGateOptions {
  std::chrono::nanoseconds max_lag{0};   // the p99 must stay below this (> 0)
  std::chrono::nanoseconds hold_for{0};  // for this long (>= 0)
  std::chrono::nanoseconds duration{0};  // within this long from the start (>= hold_for)
  // No heartbeat at all by then means the lag cannot be measured. Clamped to duration.
  std::chrono::nanoseconds first_heartbeat_timeout = std::chrono::seconds(10);
};

enum class LagGateVerdict { kWaiting, kPassed, kFailed, kCannotMeasure };

// "waiting", "passed", "failed", "cannot measure".
const char* LagGateVerdictName(LagGateVerdict verdict);

class LagGate {
 public:
  // `start` is when the measurement started. REQUIRES: Validate(options).ok().
  LagGate(const LagGateOptions& options, LagTime start);

  // kInvalidArgument naming what is wrong (max_lag not positive, hold_for longer than duration).
  static engine::Status Validate(const LagGateOptions& options);

  // Takes the figures as of `now` and returns the verdict (final once not kWaiting).
  LagGateVerdict Observe(const LagSnapshot& snapshot, LagTime now);

  LagGateVerdict verdict() const { return verdict_; }
  // One sentence explaining the verdict (or, while waiting, the state): which figure against which
  // threshold, how long the condition has held, why it cannot be measured.
  const std::string& reason() const { return reason_; }
  // How long the condition has held so far (at the last observation); 0 when it does not hold.
  std::chrono::nanoseconds held() const { return held_; }
  // The longest stretch it held.
  std::chrono::nanoseconds longest_held() const { return longest_held_; }

 private:
  const LagGateOptions options_;
  const LagTime start_;
  LagGateVerdict verdict_ = LagGateVerdict::kWaiting;
  std::string reason_;
  std::optional<LagTime> holding_since_;
  std::chrono::nanoseconds held_{0};
  std::chrono::nanoseconds longest_held_{0};
  std::string last_breach_;  // why the condition last did not hold
};

}  // namespace tandem::lag
