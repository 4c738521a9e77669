// File: orchestration/latency_gate.h
//
// LatencyGate: the new servers' response time during a traffic step may exceed the baseline's
// (the old servers before the first step) by at most `max_increase` as a fraction, plus `slack`
// (the plan's max_latency_increase and latency_slack).
//
//   window     monitor.Window(step_start, now, min_samples) (orchestration/traffic_monitor.h)
//   value      the new servers' median (gate "latency_median") or 95th percentile
//              ("latency_p95") response time in the window, unit "ms"
//   threshold  reference * (1 + max_increase) + slack, where reference is the baseline's same
//              statistic; a baseline without response times (no traffic while it was measured)
//              falls back on the old servers' statistic in the same window
//   samples    the new servers' response times in the window: one per request with httplog
//              lines (from_log), else the responses behind show stat's averages
//   verdict    insufficient while samples < min_samples, while there is no reference, or while the
//              monitor cannot read HAProxy's statistics (detail says which); failing when
//              value > threshold; else passing
//
// Why the median and the 95th percentile: on a small, shared machine (two cores running HAProxy,
// the applications and tandem) single requests stall for scheduling or a page fault now and then.
// One such request moves the median not at all and the p95 only if stalls exceed 5% of
// requests, while the p99 or the maximum would swing with them and fail healthy steps. A new
// server that is slower for every request moves the median; one that is slow for a minority of
// requests (a cold cache, one bad dependency) moves the p95. The slack keeps a 1 ms service
// from failing on a 0.2 ms difference that is within timer resolution.
//
// Without httplog lines the times come from show stat's 1024-request averages, so both
// statistics are that mean (the detail says "show stat averages"): coarser, but it still catches
// a server that is slower throughout.
//
// Thread safety: owned by the controller thread; the monitor must outlive the gate.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "orchestration/gate.h"
#include "orchestration/traffic_monitor.h"

namespace tandem::orchestration {

class LatencyGate : public Gate {
 public:
  enum class Statistic { kMedian, kP95 };

  // REQUIRES: max_increase >= 0, slack >= 0, min_samples >= 0.
  LatencyGate(const TrafficMonitor& monitor, TrafficBaseline baseline, Statistic statistic,
              double max_increase, std::chrono::milliseconds slack, int64_t min_samples,
              SteadyTime step_start);

  // "latency_median" or "latency_p95".
  std::string name() const override;
  GateReading Evaluate(SteadyTime now) override;

 private:
  double Pick(const ResponseTimeSummary& summary) const;

  // Constant after construction.
  const TrafficMonitor& monitor_;
  const TrafficBaseline baseline_;
  const Statistic statistic_;
  const double max_increase_;
  const std::chrono::milliseconds slack_;
  const int64_t min_samples_;
  const SteadyTime step_start_;
};

}  // namespace tandem::orchestration
