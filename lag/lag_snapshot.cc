#include "lag/lag_snapshot.h"

#include <cmath>
#include <cstdio>

namespace tandem::lag {
namespace {

double MicrosToMillis(uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

// Milliseconds rounded to the microsecond, so reports do not carry float noise.
double Round3(double millis) { return static_cast<double>(std::llround(millis * 1000.0)) / 1000.0; }

nlohmann::json SummaryJson(const LagSummary& summary) {
  return {{"samples", summary.samples},        {"p50_ms", Round3(summary.p50_ms)},
          {"p90_ms", Round3(summary.p90_ms)},  {"p99_ms", Round3(summary.p99_ms)},
          {"max_ms", Round3(summary.max_ms)},  {"min_ms", Round3(summary.min_ms)},
          {"mean_ms", Round3(summary.mean_ms)}};
}

std::string FormatMillis(double millis) {
  char text[32];
  if (millis >= 10000) {
    std::snprintf(text, sizeof text, "%.1f s", millis / 1000.0);
  } else {
    std::snprintf(text, sizeof text, "%.0f ms", millis);
  }
  return text;
}

}  // namespace

LagSummary LagSummary::Of(const LatencyHistogram& histogram) {
  LagSummary summary;
  summary.samples = histogram.count();
  summary.p50_ms = MicrosToMillis(histogram.PercentileMicros(0.50));
  summary.p90_ms = MicrosToMillis(histogram.PercentileMicros(0.90));
  summary.p99_ms = MicrosToMillis(histogram.PercentileMicros(0.99));
  summary.max_ms = MicrosToMillis(histogram.max_micros());
  summary.min_ms = MicrosToMillis(histogram.min_micros());
  summary.mean_ms = histogram.mean_micros() / 1000.0;
  return summary;
}

std::string LagSnapshot::StallMessage() const {
  if (!stalled) {
    return "";
  }
  std::string message = "the heartbeat stopped arriving: sequence " +
                        std::to_string(heartbeats_seen + 1) + ", written " +
                        FormatMillis(oldest_unseen_age_ms) + " ago, is not visible on the target";
  if (since_last_arrival_ms) {
    message += "; the last heartbeat arrived " + FormatMillis(*since_last_arrival_ms) + " ago";
  } else {
    message += "; no heartbeat has arrived since the start";
  }
  return message;
}

nlohmann::json LagSnapshot::ToJson() const {
  nlohmann::json json = SummaryJson(overall);
  json["writer_id"] = writer_id;
  json["source"] = source;
  json["target"] = target;
  json["elapsed_s"] = Round3(std::chrono::duration<double>(elapsed).count());
  json["interval_ms"] = Round3(std::chrono::duration<double, std::milli>(interval).count());
  json["heartbeats_written"] = heartbeats_written;
  json["heartbeats_seen"] = heartbeats_seen;
  json["beats_skipped"] = beats_skipped;
  nlohmann::json window_json = SummaryJson(window);
  window_json["length_s"] = std::chrono::duration<double>(window_length).count();
  json["window"] = std::move(window_json);
  json["current_lag_ms"] = Round3(current_lag_ms);
  json["last_lag_ms"] = Round3(last_lag_ms);
  json["oldest_unseen_age_ms"] = Round3(oldest_unseen_age_ms);
  json["since_last_arrival_ms"] =
      since_last_arrival_ms ? nlohmann::json(Round3(*since_last_arrival_ms)) : nlohmann::json();
  json["stalled"] = stalled;
  if (stalled) {
    json["stall"] = StallMessage();
  }
  json["measurement_error_ms"] = Round3(measurement_error_ms);
  json["measurement_error_p50_ms"] = Round3(measurement_error_p50_ms);
  json["max_measurement_error_ms"] = Round3(max_measurement_error_ms);
  json["polls"] = polls;
  json["poll_period_ms"] = Round3(poll_period_ms);
  json["read_round_trip_ms"] = Round3(read_round_trip_ms);
  json["write_round_trip"] = SummaryJson(write_round_trip);
  if (transient_errors > 0) {
    json["transient_errors"] = transient_errors;
  }
  if (regressions > 0) {
    json["regressions"] = regressions;
  }
  if (positional) {
    nlohmann::json measures = nlohmann::json::array();
    for (const auto& measure : positional->measures) {
      measures.push_back(
          {{"name", measure.name}, {"behind", measure.behind}, {"unit", measure.unit}});
    }
    json["positional"] = {{"kind", positional->kind},
                          {"source_position", positional->source_position},
                          {"target_position", positional->target_position},
                          {"measures", std::move(measures)},
                          {"notes", positional->notes}};
  } else {
    json["positional"] = nullptr;
    if (!positional_error.empty()) {
      json["positional_error"] = positional_error;
    }
  }
  if (!error.ok()) {
    json["error"] = error.ToString();
  }
  return json;
}

}  // namespace tandem::lag
