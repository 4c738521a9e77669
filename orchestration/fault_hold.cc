#include "orchestration/fault_hold.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace tandem::orchestration {
namespace {

constexpr std::array<std::string_view, 4> kPoints = {"writes.switching", "writes.switched",
                                                     "dns.updating", "dns.updated"};
constexpr Milliseconds kLongestHold = std::chrono::minutes(10);

std::string KnownPoints() {
  std::string known;
  for (std::string_view point : kPoints) {
    if (!known.empty()) known += ", ";
    known += point;
  }
  return known;
}

}  // namespace

engine::Result<FaultHold> ParseFaultHold(std::string_view text) {
  const std::string form = std::string(kFaultHoldVariable) +
                           " must be \"<point>=<duration>\" such as \"dns.updated=30s\"";
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    return engine::InvalidArgument(form + ", not \"" + std::string(text) + "\"");
  }
  FaultHold hold;
  hold.point = std::string(text.substr(0, equals));
  bool known = false;
  for (std::string_view point : kPoints) known = known || point == hold.point;
  if (!known) {
    return engine::InvalidArgument(std::string(kFaultHoldVariable) + ": no fault point \"" +
                                   hold.point + "\"; the points are " + KnownPoints());
  }
  auto duration = ParseDuration(text.substr(equals + 1));
  if (!duration.ok()) {
    return engine::InvalidArgument(std::string(kFaultHoldVariable) + ": " +
                                   duration.status().message());
  }
  if (*duration > kLongestHold) {
    return engine::InvalidArgument(std::string(kFaultHoldVariable) + ": a hold of " +
                                   FormatDuration(*duration) + " is longer than the 10m allowed");
  }
  hold.duration = *duration;
  return hold;
}

engine::Status CheckFaultHoldEnvironment() {
  const char* text = std::getenv(kFaultHoldVariable);
  if (text == nullptr) return engine::Status::Ok();
  return ParseFaultHold(text).status();
}

void HoldAtFaultPoint(std::string_view point) {
  const char* text = std::getenv(kFaultHoldVariable);
  if (text == nullptr) return;
  auto hold = ParseFaultHold(text);
  if (!hold.ok() || hold->point != point) return;
  std::fprintf(stderr, "tandem: fault hold at %s for %s (%s)\n", hold->point.c_str(),
               FormatDuration(hold->duration).c_str(), kFaultHoldVariable);
  std::fflush(stderr);
  std::this_thread::sleep_for(hold->duration);
}

}  // namespace tandem::orchestration
