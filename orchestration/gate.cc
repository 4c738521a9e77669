#include "orchestration/gate.h"

#include <cmath>
#include <cstdio>

namespace tandem::orchestration {
namespace {

// Integers as integers, small fractions with three significant digits, the rest with two
// decimals: "1234", "0.00025", "12.35".
std::string FormatNumber(double value) {
  char buffer[64];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  } else if (std::fabs(value) < 1) {
    std::snprintf(buffer, sizeof buffer, "%.3g", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f", value);
  }
  return buffer;
}

}  // namespace

const char* GateVerdictName(GateVerdict verdict) {
  switch (verdict) {
    case GateVerdict::kPassing:
      return "passing";
    case GateVerdict::kFailing:
      return "failing";
    case GateVerdict::kInsufficient:
      return "insufficient";
  }
  return "insufficient";
}

nlohmann::json GateReading::ToJson() const {
  return nlohmann::json{{"name", name},
                        {"value", value},
                        {"threshold", threshold},
                        {"samples", samples},
                        {"ok", ok()},
                        {"min_samples", min_samples},
                        {"unit", unit},
                        {"verdict", GateVerdictName(verdict)},
                        {"detail", detail}};
}

std::string GateReading::Describe() const {
  const std::string unit_suffix = unit.empty() || unit == "ratio" ? "" : " " + unit;
  std::string text = name + " " + FormatNumber(value) + unit_suffix;
  switch (verdict) {
    case GateVerdict::kPassing:
      text += " <= " + FormatNumber(threshold) + unit_suffix + " (" + std::to_string(samples) +
              " samples)";
      break;
    case GateVerdict::kFailing:
      text += " > " + FormatNumber(threshold) + unit_suffix + " (" + std::to_string(samples) +
              " samples)";
      break;
    case GateVerdict::kInsufficient:
      text += " vs " + FormatNumber(threshold) + unit_suffix + " (" + std::to_string(samples) +
              " of " + std::to_string(min_samples) + " samples, insufficient)";
      break;
  }
  if (!detail.empty()) {
    text += ": " + detail;
  }
  return text;
}

void GateReading::DecideByThreshold() {
  if (samples < min_samples) {
    verdict = GateVerdict::kInsufficient;
  } else if (value > threshold) {
    verdict = GateVerdict::kFailing;
  } else {
    verdict = GateVerdict::kPassing;
  }
}

}  // namespace tandem::orchestration
