#include "orchestration/error_rate_gate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace tandem::orchestration {
namespace {

std::string Rate(const SideCounts& counts) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%lld/%lld = %.5f", static_cast<long long>(counts.errors),
                static_cast<long long>(counts.responses), counts.error_rate());
  return buffer;
}

std::string Number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.5f", value);
  return buffer;
}

}  // namespace

ErrorRateGate::ErrorRateGate(const TrafficMonitor& monitor, TrafficBaseline baseline,
                             double max_increase, int64_t min_requests, SteadyTime step_start)
    : monitor_(monitor),
      baseline_(std::move(baseline)),
      max_increase_(max_increase),
      min_requests_(min_requests),
      step_start_(step_start) {}

GateReading ErrorRateGate::Evaluate(SteadyTime now) {
  const TrafficWindow window = monitor_.Window(step_start_, now, min_requests_);
  GateReading reading;
  reading.name = name();
  reading.unit = "ratio";
  reading.value = window.new_side.error_rate();
  reading.samples = window.new_side.responses;
  reading.min_samples = min_requests_;

  const bool have_old = window.old_side.responses > 0;
  const bool have_baseline = baseline_.old_side.responses > 0;
  double reference = 0;
  const char* reference_name = "0 (neither old nor baseline saw requests)";
  if (have_old && have_baseline) {
    reference = std::min(window.old_side.error_rate(), baseline_.old_side.error_rate());
    reference_name = "min(old, baseline)";
  } else if (have_old) {
    reference = window.old_side.error_rate();
    reference_name = "old";
  } else if (have_baseline) {
    reference = baseline_.old_side.error_rate();
    reference_name = "baseline";
  }
  reading.threshold = reference + max_increase_;

  const double seconds = std::chrono::duration<double>(window.end - window.start).count();
  char span[32];
  std::snprintf(span, sizeof span, "%.1f s", seconds);
  reading.detail =
      "new " + Rate(window.new_side) + " over " + span + "; old (same window) " +
      (window.old_side.responses > 0 ? Rate(window.old_side) : "no responses") + "; baseline " +
      (baseline_.old_side.responses > 0 ? Rate(baseline_.old_side) : "no responses") +
      "; threshold = " + reference_name + " " + Number(reference) + " + " + Number(max_increase_);

  if (const std::optional<engine::Status> error = monitor_.poll_error()) {
    reading.verdict = GateVerdict::kInsufficient;
    reading.detail =
        "HAProxy statistics unavailable (" + error->ToString() + "); " + reading.detail;
  } else {
    reading.DecideByThreshold();
  }
  return reading;
}

}  // namespace tandem::orchestration
