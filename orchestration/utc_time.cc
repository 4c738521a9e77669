#include "orchestration/utc_time.h"

#include <cstdio>
#include <ctime>

namespace tandem::orchestration {

using Clock = std::chrono::system_clock;

std::string FormatUtcTime(Clock::time_point time) {
  const std::time_t seconds = Clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::optional<Clock::time_point> ParseUtcTime(const std::string& text) {
  std::tm utc{};
  char zulu = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%c", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &zulu, &extra) != 7 ||
      zulu != 'Z') {
    return std::nullopt;
  }
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return Clock::from_time_t(timegm(&utc));
}

int64_t UnixSeconds(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

int64_t UnixSecondsUp(Clock::time_point time) {
  const auto since = time.time_since_epoch();
  const auto whole = std::chrono::duration_cast<std::chrono::seconds>(since);
  return whole.count() + (since > whole ? 1 : 0);
}

Clock::time_point FromUnixSeconds(int64_t seconds) {
  return Clock::time_point(std::chrono::seconds(seconds));
}

}  // namespace tandem::orchestration
