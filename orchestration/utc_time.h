// File: orchestration/utc_time.h
//
// Wall-clock moments as the journal, status and messages print them: ISO 8601 in UTC to the
// second, "2026-11-26T06:01:41Z".
#pragma once

#include <chrono>
#include <string>

namespace tandem::orchestration {

std::string FormatUtcTime(std::chrono::system_clock::time_point time);

}  // namespace tandem::orchestration
