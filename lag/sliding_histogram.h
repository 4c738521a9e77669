// File: lag/sliding_histogram.h
//
// SlidingHistogram: the samples of the last `window`, kept as a ring of `slots` LatencyHistograms
// each covering window / slots of time. Window(now) merges the slot that holds `now` with the
// slots - 1 before it, so it covers between window - window / slots and window of the most recent
// past: old samples leave one slot at a time. Memory is fixed: slots LatencyHistograms (about
// 40 KiB each), whatever the sample rate.
//
// Time comes in as an argument (a LagTime), so tests drive it with invented times. Times are
// expected not to go backwards; a sample older than the ring is dropped.
//
// Thread safety: not synchronised; the owner serialises access (LagMonitor guards it by a mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "lag/lag_clock.h"
#include "lag/latency_histogram.h"

namespace tandem::lag {

class SlidingHistogram {
 public:
  // REQUIRES: slots >= 1 and window >= slots nanoseconds.
  SlidingHistogram(std::chrono::nanoseconds window, int slots);

  void Record(LagTime now, std::chrono::microseconds value);

  // The samples recorded in the window ending at `now`.
  LatencyHistogram Window(LagTime now) const;

  std::chrono::nanoseconds window() const { return window_; }

 private:
  struct Slot {
    int64_t id = -1;  // which slot_width_ interval of the clock it holds; -1 = never used
    LatencyHistogram histogram;
  };

  int64_t SlotId(LagTime time) const { return time.time_since_epoch() / slot_width_; }

  // Constant after construction.
  std::chrono::nanoseconds window_;
  std::chrono::nanoseconds slot_width_;

  std::vector<Slot> slots_;  // slot with id i lives at i % slots_.size()
};

}  // namespace tandem::lag
