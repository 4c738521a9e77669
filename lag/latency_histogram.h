// File: lag/latency_histogram.h
//
// LatencyHistogram: counts of durations in log-linear buckets, HdrHistogram style, so that memory
// is fixed (about 40 KiB) whatever the number of samples, and every percentile is within 0.4% of
// the true value (with exact min and max). Durations are recorded in microseconds, from 0 to
// 2^43 µs (about 100 days); larger ones are clamped and counted as such.
//
// Bucket layout: values below 256 µs have a bucket each (exact); above that, every power-of-two
// range [2^k, 2^(k+1)) is cut into 128 equal buckets, so a bucket's width is at most 1/128 of its
// lower bound. A percentile reports the midpoint of the bucket it falls in (clamped to [min, max]).
//
// Thread safety: not synchronised; owned by one thread (the lag observer). Copy it to hand a
// snapshot to another thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace tandem::lag {

class LatencyHistogram {
 public:
  static constexpr int kLinearBuckets = 256;
  static constexpr int kBucketsPerOctave = 128;
  static constexpr int kOctaves = 35;  // 2^8 .. 2^43 µs
  static constexpr int kBucketCount = kLinearBuckets + kOctaves * kBucketsPerOctave;
  static constexpr uint64_t kMaxMicros = (uint64_t{1} << 43) - 1;

  void Record(std::chrono::microseconds duration);
  void RecordMicros(uint64_t micros);
  // Adds every sample of `other`.
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  // Samples that exceeded kMaxMicros and were clamped to it.
  uint64_t clamped() const { return clamped_; }
  // Exact extremes; 0 when empty.
  uint64_t min_micros() const { return count_ == 0 ? 0 : min_; }
  uint64_t max_micros() const { return max_; }
  double mean_micros() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }
  // The value at quantile q in [0, 1] (0.5 = median, 0.99 = p99); 0 when empty.
  uint64_t PercentileMicros(double q) const;

  // Bucket arithmetic, exposed for tests.
  static int BucketIndex(uint64_t micros);
  static uint64_t BucketLowerBound(int index);
  static uint64_t BucketUpperBound(int index);  // inclusive

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t clamped_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;  // for the mean; a double keeps it to 15 digits
};

}  // namespace tandem::lag
