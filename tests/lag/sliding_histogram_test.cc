#include "lag/sliding_histogram.h"

#include <gtest/gtest.h>

namespace tandem::lag {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A slot boundary, so slot arithmetic in the tests is easy to follow.
const LagTime kT0 = LagTime() + std::chrono::hours(1);

TEST(SlidingHistogram, WindowHoldsRecentSamples) {
  SlidingHistogram histogram(seconds(10), 10);
  histogram.Record(kT0, microseconds(1000));
  histogram.Record(kT0 + milliseconds(500), microseconds(3000));
  const LatencyHistogram window = histogram.Window(kT0 + milliseconds(900));
  EXPECT_EQ(window.count(), 2u);
  EXPECT_EQ(window.max_micros(), 3000u);
}

TEST(SlidingHistogram, SamplesLeaveTheWindowOneSlotAtATime) {
  SlidingHistogram histogram(seconds(10), 10);
  histogram.Record(kT0, microseconds(50000));              // slot 0
  histogram.Record(kT0 + seconds(5), microseconds(2000));  // slot 5
  EXPECT_EQ(histogram.Window(kT0 + milliseconds(9999)).count(), 2u);
  // At 10 s the window is slots 1..10: the 50 ms sample has left, the 2 ms one stays.
  const LatencyHistogram later = histogram.Window(kT0 + seconds(10));
  EXPECT_EQ(later.count(), 1u);
  EXPECT_EQ(later.max_micros(), 2000u);
  EXPECT_EQ(histogram.Window(kT0 + seconds(15)).count(), 0u);
}

TEST(SlidingHistogram, ASlotIsReusedAfterTheRingWraps) {
  SlidingHistogram histogram(seconds(10), 10);
  histogram.Record(kT0, microseconds(7000));
  // 10 s later the same ring position holds a new slot: the old sample must not come back.
  histogram.Record(kT0 + seconds(10), microseconds(1000));
  const LatencyHistogram window = histogram.Window(kT0 + seconds(10));
  EXPECT_EQ(window.count(), 1u);
  EXPECT_EQ(window.max_micros(), 1000u);
  // Long idle periods leave nothing stale either.
  EXPECT_EQ(histogram.Window(kT0 + seconds(1000)).count(), 0u);
}

TEST(SlidingHistogram, PercentilesComeFromTheWindowOnly) {
  SlidingHistogram histogram(seconds(2), 2);
  for (int i = 0; i < 100; ++i) {
    histogram.Record(kT0, microseconds(100000));  // 100 ms, slot 0
  }
  for (int i = 0; i < 100; ++i) {
    histogram.Record(kT0 + seconds(2), microseconds(1000));  // 1 ms, slot 2
  }
  const LatencyHistogram window = histogram.Window(kT0 + seconds(2));
  EXPECT_EQ(window.count(), 100u);
  EXPECT_EQ(window.PercentileMicros(0.99), 1000u);
}

}  // namespace
}  // namespace tandem::lag
