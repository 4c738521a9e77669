#include "lag/lag_gate.h"

#include <algorithm>
#include <cstdio>

namespace tandem::lag {
namespace {

std::string Millis(double millis) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f ms", millis);
  return text;
}

std::string Seconds(std::chrono::nanoseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(duration).count());
  return text;
}

}  // namespace

const char* LagGateVerdictName(LagGateVerdict verdict) {
  switch (verdict) {
    case LagGateVerdict::kWaiting:
      return "waiting";
    case LagGateVerdict::kPassed:
      return "passed";
    case LagGateVerdict::kFailed:
      return "failed";
    case LagGateVerdict::kCannotMeasure:
      return "cannot measure";
  }
  return "unknown";
}

engine::Status LagGate::Validate(const LagGateOptions& options) {
  if (options.max_lag.count() <= 0) {
    return engine::InvalidArgument("the maximum lag must be positive");
  }
  if (options.hold_for.count() < 0) {
    return engine::InvalidArgument("the time the lag must hold must not be negative");
  }
  if (options.duration < options.hold_for) {
    return engine::InvalidArgument("the duration (" + Seconds(options.duration) +
                                   ") is shorter than the time the lag must hold (" +
                                   Seconds(options.hold_for) + "): the gate could never pass");
  }
  return engine::Status::Ok();
}

LagGate::LagGate(const LagGateOptions& options, LagTime start) : options_(options), start_(start) {
  reason_ = "waiting for the first heartbeat";
}

LagGateVerdict LagGate::Observe(const LagSnapshot& snapshot, LagTime now) {
  if (verdict_ != LagGateVerdict::kWaiting) {
    return verdict_;
  }
  const std::chrono::nanoseconds elapsed = now - start_;
  if (!snapshot.error.ok()) {
    verdict_ = LagGateVerdict::kCannotMeasure;
    reason_ = "the lag could not be measured: " + snapshot.error.ToString();
    return verdict_;
  }
  if (snapshot.heartbeats_seen == 0) {
    if (elapsed >= std::min(options_.first_heartbeat_timeout, options_.duration)) {
      verdict_ = LagGateVerdict::kCannotMeasure;
      reason_ = "no heartbeat written on the source became visible on the target within " +
                Seconds(elapsed) + " (" + std::to_string(snapshot.heartbeats_written) +
                " written): the target is not replicating from this source, replication is "
                "stopped, or it trails by more than that";
      return verdict_;
    }
    reason_ = "waiting for the first heartbeat (" + Seconds(elapsed) + ")";
    return verdict_;
  }

  const double max_ms = ToMillis(options_.max_lag);
  std::string breach;
  if (snapshot.window.samples == 0) {
    breach = "no heartbeat arrived in the last " + Seconds(snapshot.window_length);
  } else if (snapshot.window.p99_ms >= max_ms) {
    breach = "lag p99 " + Millis(snapshot.window.p99_ms) + " over the last " +
             Seconds(snapshot.window_length) + " is not below " + Millis(max_ms);
  }
  if (breach.empty() && snapshot.current_lag_ms >= max_ms) {
    breach =
        "the current lag " + Millis(snapshot.current_lag_ms) + " is not below " + Millis(max_ms);
  }
  if (snapshot.stalled) {
    breach = snapshot.StallMessage() + (breach.empty() ? "" : "; " + breach);
  }

  if (breach.empty()) {
    if (!holding_since_) {
      holding_since_ = now;
    }
    held_ = now - *holding_since_;
    longest_held_ = std::max(longest_held_, held_);
    if (held_ >= options_.hold_for) {
      verdict_ = LagGateVerdict::kPassed;
      reason_ = "lag p99 " + Millis(snapshot.window.p99_ms) + " (current " +
                Millis(snapshot.current_lag_ms) + ") stayed below " + Millis(max_ms) + " for " +
                Seconds(held_);
      return verdict_;
    }
    reason_ = "lag p99 " + Millis(snapshot.window.p99_ms) + " below " + Millis(max_ms) + " for " +
              Seconds(held_) + " of " + Seconds(options_.hold_for);
  } else {
    holding_since_.reset();
    held_ = std::chrono::nanoseconds(0);
    last_breach_ = breach;
    reason_ = breach;
  }

  const std::chrono::nanoseconds left = options_.duration - elapsed;
  const std::chrono::nanoseconds still_needed = options_.hold_for - held_;
  if (left <= std::chrono::nanoseconds(0) || (!holding_since_ && left < still_needed)) {
    verdict_ = LagGateVerdict::kFailed;
    reason_ = (holding_since_ ? "the lag held below " + Millis(max_ms) + " for only " +
                                    Seconds(held_) + " of the " + Seconds(options_.hold_for) +
                                    " required before the duration ran out"
                              : last_breach_) +
              " (longest stretch below the limit: " + Seconds(longest_held_) + " of " +
              Seconds(options_.hold_for) + " required, within " + Seconds(options_.duration) + ")";
  }
  return verdict_;
}

}  // namespace tandem::lag
