// File: orchestration/utc_time.h
//
// Wall-clock moments as the journal, status and messages hold them: ISO 8601 in UTC to the second,
// "2026-11-26T06:01:41Z", and whole Unix seconds (what journaled samples store).
//
// Thread safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace tandem::orchestration {

std::string FormatUtcTime(std::chrono::system_clock::time_point time);

// FormatUtcTime's form read back; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> ParseUtcTime(const std::string& text);

// Whole seconds since the Unix epoch, rounded down.
int64_t UnixSeconds(std::chrono::system_clock::time_point time);
// Rounded up: a moment journaled as "applied at" is never earlier than the real one.
int64_t UnixSecondsUp(std::chrono::system_clock::time_point time);
std::chrono::system_clock::time_point FromUnixSeconds(int64_t seconds);

}  // namespace tandem::orchestration
