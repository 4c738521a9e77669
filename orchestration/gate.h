// File: orchestration/gate.h
//
// A gate: one named condition a step must satisfy, measured over a window. Each gate is a small
// class in its own file (error_rate_gate.h, latency_gate.h, ...) so adding one is one file.
//
// A reading is one of:
//   passing       the measurement meets the threshold, with at least min_samples samples
//   failing       it does not, with at least min_samples samples: the controller aborts at once
//   insufficient  not enough samples yet to decide either way (a step cannot pass on it)
//
// Thread safety: a gate is evaluated by the controller thread only; gates that read shared
// measurements (TrafficMonitor, LagMonitor) take those objects' own locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace tandem::orchestration {

enum class GateVerdict { kPassing, kFailing, kInsufficient };
const char* GateVerdictName(GateVerdict verdict);  // "passing", "failing", "insufficient"

struct GateReading {
  std::string name;      // "error_rate", "latency_p95", "probe http://...", "lag orders", ...
  double value = 0;      // the measurement, in `unit`
  double threshold = 0;  // the limit it is compared against (value <= threshold passes, unless
                         // the gate's header says otherwise)
  int64_t samples = 0;
  int64_t min_samples = 0;
  std::string unit;    // "ratio", "ms", "rows", ...
  std::string detail;  // one line: how value and threshold were formed
  GateVerdict verdict = GateVerdict::kInsufficient;

  bool ok() const { return verdict == GateVerdict::kPassing; }
  // The common rule: insufficient below min_samples, failing when value > threshold, else passing.
  void DecideByThreshold();
  bool failing() const { return verdict == GateVerdict::kFailing; }
  // The contract's {name, value, threshold, samples, ok} plus min_samples, unit, verdict, detail.
  nlohmann::json ToJson() const;
  // "error_rate 0.0123 > 0.0010 (1234 samples): <detail>"
  std::string Describe() const;
};

class Gate {
 public:
  virtual ~Gate() = default;
  virtual std::string name() const = 0;
  // Measures as of `now` (steady clock).
  virtual GateReading Evaluate(std::chrono::steady_clock::time_point now) = 0;
};

}  // namespace tandem::orchestration
