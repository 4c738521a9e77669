// File: orchestration/duration.h
//
// Durations as plan files write them: a number and a unit, "250ms", "30s", "10m", "72h", also with
// a fraction ("1.5s") and combined from largest to smallest unit ("1h30m"). Whole milliseconds.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace tandem::orchestration {

using Milliseconds = std::chrono::milliseconds;

// Errors: kInvalidArgument saying what is wrong and the form expected ("a duration such as
// \"250ms\", \"30s\", \"10m\" or \"72h\""): empty text, no unit, an unknown unit, a negative
// value, a value that does not fit in 64-bit milliseconds, a sub-millisecond remainder.
engine::Result<Milliseconds> ParseDuration(std::string_view text);

// The shortest exact spelling that ParseDuration reads back: "250ms", "30s", "1h30m", "0s".
std::string FormatDuration(Milliseconds duration);

}  // namespace tandem::orchestration
