#include "orchestration/latency_gate.h"

#include <cstdio>
#include <optional>
#include <utility>

namespace tandem::orchestration {
namespace {

std::string Milliseconds(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f ms", value);
  return buffer;
}

const char* Source(const ResponseTimeSummary& summary) {
  return summary.from_log ? "httplog" : "show stat averages";
}

}  // namespace

LatencyGate::LatencyGate(const TrafficMonitor& monitor, TrafficBaseline baseline,
                         Statistic statistic, double max_increase, std::chrono::milliseconds slack,
                         int64_t min_samples, SteadyTime step_start)
    : monitor_(monitor),
      baseline_(std::move(baseline)),
      statistic_(statistic),
      max_increase_(max_increase),
      slack_(slack),
      min_samples_(min_samples),
      step_start_(step_start) {}

std::string LatencyGate::name() const {
  return statistic_ == Statistic::kMedian ? "latency_median" : "latency_p95";
}

double LatencyGate::Pick(const ResponseTimeSummary& summary) const {
  return statistic_ == Statistic::kMedian ? summary.median_ms : summary.p95_ms;
}

GateReading LatencyGate::Evaluate(SteadyTime now) {
  const TrafficWindow window = monitor_.Window(step_start_, now, min_samples_);
  GateReading reading;
  reading.name = name();
  reading.unit = "ms";
  reading.value = Pick(window.new_times);
  reading.samples = window.new_times.samples;
  reading.min_samples = min_samples_;

  const char* statistic = statistic_ == Statistic::kMedian ? "median" : "p95";
  std::optional<double> reference;
  std::string reference_text;
  if (baseline_.old_times.samples > 0) {
    reference = Pick(baseline_.old_times);
    reference_text = "baseline " + std::string(statistic) + " " + Milliseconds(*reference) + " (" +
                     std::to_string(baseline_.old_times.samples) + " samples, " +
                     Source(baseline_.old_times) + ")";
  } else if (window.old_times.samples > 0) {
    reference = Pick(window.old_times);
    reference_text = "no baseline times; old servers' " + std::string(statistic) +
                     " in the same window " + Milliseconds(*reference) + " (" +
                     std::to_string(window.old_times.samples) + " samples)";
  } else {
    reference_text = "no reference: neither the baseline nor the old servers have response times";
  }
  reading.threshold =
      reference.value_or(0) * (1 + max_increase_) + static_cast<double>(slack_.count());

  char factors[96];
  std::snprintf(factors, sizeof factors, " x %.3f + %lld ms", 1 + max_increase_,
                static_cast<long long>(slack_.count()));
  const double seconds = std::chrono::duration<double>(window.end - window.start).count();
  char span[32];
  std::snprintf(span, sizeof span, "%.1f s", seconds);
  reading.detail = "new " + std::string(statistic) + " " + Milliseconds(reading.value) + " over " +
                   span + " (" + Source(window.new_times) + "); threshold = " + reference_text +
                   (reference ? factors : "");

  if (const std::optional<engine::Status> error = monitor_.poll_error()) {
    reading.verdict = GateVerdict::kInsufficient;
    reading.detail =
        "HAProxy statistics unavailable (" + error->ToString() + "); " + reading.detail;
  } else if (!reference) {
    reading.verdict = GateVerdict::kInsufficient;
  } else {
    reading.DecideByThreshold();
  }
  return reading;
}

}  // namespace tandem::orchestration
