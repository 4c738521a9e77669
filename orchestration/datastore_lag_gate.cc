#include "orchestration/datastore_lag_gate.h"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace tandem::orchestration {

DatastoreLagGate::DatastoreLagGate(DatastoreLink& link, Milliseconds max_lag)
    : link_(link), max_lag_(max_lag) {}

std::string DatastoreLagGate::name() const { return "lag " + link_.name(); }

GateReading DatastoreLagGate::Read(const std::string& name,
                                   const std::optional<lag::LagSnapshot>& snapshot,
                                   const std::string& why, Milliseconds max_lag) {
  GateReading reading;
  reading.name = name;
  reading.unit = "ms";
  reading.threshold = static_cast<double>(max_lag.count());
  reading.min_samples = 1;
  reading.verdict = GateVerdict::kInsufficient;
  if (!snapshot) {
    reading.detail = why.empty() ? "no lag measurement yet" : why;
    return reading;
  }
  const lag::LagSnapshot& lag = *snapshot;
  reading.samples = static_cast<int64_t>(lag.window.samples);
  reading.value = std::max(lag.window.p99_ms, lag.current_lag_ms);
  char figures[160];
  std::snprintf(figures, sizeof figures,
                "window p99 %.1f ms over %llu heartbeats, current lag %.1f ms, max %lld ms",
                lag.window.p99_ms, static_cast<unsigned long long>(lag.window.samples),
                lag.current_lag_ms, static_cast<long long>(max_lag.count()));
  reading.detail = figures;
  if (!lag.error.ok()) {
    reading.detail = "the lag measurement failed (" + lag.error.message() + "); reopening";
    return reading;
  }
  if (lag.current_lag_ms >= reading.threshold) {
    reading.verdict = GateVerdict::kFailing;
    if (lag.stalled) {
      reading.detail += "; " + lag.StallMessage();
    }
    return reading;
  }
  if (lag.window.samples == 0) {
    reading.detail += "; no heartbeat arrived in the window yet";
    return reading;
  }
  reading.verdict =
      lag.window.p99_ms < reading.threshold ? GateVerdict::kPassing : GateVerdict::kFailing;
  return reading;
}

GateReading DatastoreLagGate::Evaluate(std::chrono::steady_clock::time_point /*now*/) {
  std::string why;
  const std::optional<lag::LagSnapshot> snapshot = link_.Lag(&why);
  return Read(name(), snapshot, why, max_lag_);
}

}  // namespace tandem::orchestration
