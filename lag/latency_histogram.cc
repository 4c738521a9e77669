#include "lag/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tandem::lag {

int LatencyHistogram::BucketIndex(uint64_t micros) {
  if (micros < kLinearBuckets) {
    return static_cast<int>(micros);
  }
  micros = std::min(micros, kMaxMicros);
  const int octave = std::bit_width(micros) - 1 - 8;  // 0 for [256, 512)
  const int shift = octave + 1;                       // 2^(octave+8) / 128 = 2^(octave+1)
  const int within = static_cast<int>((micros >> shift) - kBucketsPerOctave);
  return kLinearBuckets + octave * kBucketsPerOctave + within;
}

uint64_t LatencyHistogram::BucketLowerBound(int index) {
  if (index < kLinearBuckets) {
    return static_cast<uint64_t>(index);
  }
  const int octave = (index - kLinearBuckets) / kBucketsPerOctave;
  const int within = (index - kLinearBuckets) % kBucketsPerOctave;
  return static_cast<uint64_t>(kBucketsPerOctave + within) << (octave + 1);
}

uint64_t LatencyHistogram::BucketUpperBound(int index) {
  if (index < kLinearBuckets) {
    return static_cast<uint64_t>(index);
  }
  const int octave = (index - kLinearBuckets) / kBucketsPerOctave;
  return BucketLowerBound(index) + (uint64_t{1} << (octave + 1)) - 1;
}

void LatencyHistogram::Record(std::chrono::microseconds duration) {
  RecordMicros(duration.count() < 0 ? 0 : static_cast<uint64_t>(duration.count()));
}

void LatencyHistogram::RecordMicros(uint64_t micros) {
  if (micros > kMaxMicros) {
    micros = kMaxMicros;
    ++clamped_;
  }
  ++counts_[BucketIndex(micros)];
  ++count_;
  sum_ += static_cast<double>(micros);
  min_ = std::min(min_, micros);
  max_ = std::max(max_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBucketCount; ++i) {
    counts_[i] += other.counts_[i];
  }
  count_ += other.count_;
  clamped_ += other.clamped_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::Reset() { *this = LatencyHistogram(); }

uint64_t LatencyHistogram::PercentileMicros(double q) const {
  if (count_ == 0) {
    return 0;
  }
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the sample at quantile q, 1-based (nearest-rank definition).
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t middle = (BucketLowerBound(i) + BucketUpperBound(i)) / 2;
      return std::clamp(middle, min_, max_);
    }
  }
  return max_;
}

}  // namespace tandem::lag
