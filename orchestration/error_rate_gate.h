// File: orchestration/error_rate_gate.h
//
// ErrorRateGate: the new servers' error rate during a traffic step may exceed the old servers'
// by at most `max_increase` (the plan's max_error_rate_increase).
//
//   window     monitor.Window(step_start, now, min_requests): the last 30 s of the step, widened
//              back towards the step's start until it holds min_requests responses at the new
//              servers (orchestration/traffic_monitor.h)
//   value      the new servers' error rate in the window: (5xx + connection errors + response
//              errors) / responses, unit "ratio"
//   threshold  reference + max_increase, where reference is the lower of the old servers' rate in
//              the same window and the baseline's rate, each used only when it has responses (a
//              side that saw no traffic says nothing); with neither, the reference is 0. Taking
//              the lower of the two means neither a bad baseline nor old servers suffering the
//              same outage can hide the new servers' errors.
//   samples    the new servers' responses in the window; min_samples = min_requests
//   verdict    insufficient while samples < min_requests or while the monitor cannot read
//              HAProxy's statistics (detail names the error; the controller's step timeout
//              decides); failing when value > threshold; else passing.
//
// Thread safety: owned by the controller thread; reads the monitor through its own lock. The
// monitor must outlive the gate.
#pragma once

#include <cstdint>
#include <string>

#include "orchestration/gate.h"
#include "orchestration/traffic_monitor.h"

namespace tandem::orchestration {

class ErrorRateGate : public Gate {
 public:
  // REQUIRES: max_increase >= 0, min_requests >= 0.
  ErrorRateGate(const TrafficMonitor& monitor, TrafficBaseline baseline, double max_increase,
                int64_t min_requests, SteadyTime step_start);

  std::string name() const override { return "error_rate"; }
  GateReading Evaluate(SteadyTime now) override;

 private:
  // Constant after construction.
  const TrafficMonitor& monitor_;
  const TrafficBaseline baseline_;
  const double max_increase_;
  const int64_t min_requests_;
  const SteadyTime step_start_;
};

}  // namespace tandem::orchestration
