// File: lag/lag_clock.h
//
// The one clock of a lag measurement: the process's monotonic clock. The heartbeat writer stamps
// each sequence with it and the observer notes with it when the sequence became visible, so a
// lag is a difference of two readings of the same clock in the same process: immune to clock
// skew between hosts and to wall-clock steps (NTP, DST) by construction. Pure classes take the
// time as an argument so tests drive them with invented times.
//
// Thread safety: std::chrono::steady_clock is safe for concurrent use.
#pragma once

#include <chrono>

namespace tandem::lag {

using LagClock = std::chrono::steady_clock;
using LagTime = LagClock::time_point;

// Milliseconds as a double, for reports: 1.25 ms.
inline double ToMillis(std::chrono::nanoseconds duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

}  // namespace tandem::lag
