#include "lag/latency_histogram.h"

#include <gtest/gtest.h>

#include <random>

namespace tandem::lag {
namespace {

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGapsOrOverlap) {
  uint64_t expected_lower = 0;
  for (int i = 0; i < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::BucketLowerBound(i), expected_lower) << i;
    ASSERT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::BucketLowerBound(i)), i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::BucketUpperBound(i)), i);
    expected_lower = LatencyHistogram::BucketUpperBound(i) + 1;
  }
  EXPECT_EQ(expected_lower - 1, LatencyHistogram::kMaxMicros);
}

TEST(LatencyHistogram, BucketWidthIsWithinOnePart128) {
  for (int i = LatencyHistogram::kLinearBuckets; i < LatencyHistogram::kBucketCount; ++i) {
    uint64_t width =
        LatencyHistogram::BucketUpperBound(i) - LatencyHistogram::BucketLowerBound(i) + 1;
    ASSERT_LE(width * 128, LatencyHistogram::BucketLowerBound(i)) << i;
  }
}

TEST(LatencyHistogram, PercentilesMatchExactOnesWithinHalfAPercent) {
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> distribution(8.0, 1.5);  // median ~3 ms, long tail
  std::vector<uint64_t> samples;
  LatencyHistogram histogram;
  for (int i = 0; i < 100000; ++i) {
    uint64_t micros = static_cast<uint64_t>(distribution(random));
    samples.push_back(micros);
    histogram.RecordMicros(micros);
  }
  std::sort(samples.begin(), samples.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    uint64_t exact = samples[static_cast<size_t>(std::ceil(q * samples.size())) - 1];
    uint64_t estimate = histogram.PercentileMicros(q);
    EXPECT_NEAR(static_cast<double>(estimate), static_cast<double>(exact), exact * 0.005 + 1)
        << "q=" << q;
  }
  EXPECT_EQ(histogram.max_micros(), samples.back());
  EXPECT_EQ(histogram.min_micros(), samples.front());
  EXPECT_EQ(histogram.PercentileMicros(1.0), samples.back());
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (uint64_t v : {3, 7, 7, 200}) histogram.RecordMicros(v);
  EXPECT_EQ(histogram.PercentileMicros(0.5), 7u);
  EXPECT_EQ(histogram.PercentileMicros(0.0), 3u);
  EXPECT_EQ(histogram.count(), 4u);
  EXPECT_DOUBLE_EQ(histogram.mean_micros(), 54.25);
}

TEST(LatencyHistogram, HugeValuesAreClampedAndCounted) {
  LatencyHistogram histogram;
  histogram.RecordMicros(UINT64_MAX);
  EXPECT_EQ(histogram.clamped(), 1u);
  EXPECT_EQ(histogram.max_micros(), LatencyHistogram::kMaxMicros);
}

TEST(LatencyHistogram, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.RecordMicros(1000);
  b.RecordMicros(3000);
  b.RecordMicros(5000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min_micros(), 1000u);
  EXPECT_EQ(a.max_micros(), 5000u);
  EXPECT_NEAR(static_cast<double>(a.PercentileMicros(0.5)), 3000, 30);
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.PercentileMicros(0.5), 0u);
}

TEST(LatencyHistogram, MemoryIsFixed) { EXPECT_LT(sizeof(LatencyHistogram), 48u * 1024); }

}  // namespace
}  // namespace tandem::lag
