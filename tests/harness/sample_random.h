// File: tests/harness/sample_random.h
//
// The deterministic value generator behind the sample data sets (sample_data.h). A SampleRandom
// is keyed by (seed, stream name, index), so row N of a table gets the same values however the
// load is batched or ordered. splitmix64: tiny, fast, and stable across platforms and compilers
// (unlike std::uniform_int_distribution, whose output is implementation-defined).
//
// Thread safety: a SampleRandom is owned by one thread; the free functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::testing {

class SampleRandom {
 public:
  SampleRandom(uint64_t seed, std::string_view stream, uint64_t index);

  uint64_t Next();
  // Uniform in [low, high] (inclusive). REQUIRES: low <= high.
  int64_t Range(int64_t low, int64_t high);
  // True with probability percent / 100.
  bool Chance(int percent);
  // Uniform in [0, 1).
  double Unit();

  // Between min_chars and max_chars code points of mostly ASCII text with accented letters,
  // CJK, 4-byte emoji, quotes, backslashes, '%' and '_' mixed in; never NUL.
  std::string Text(int min_chars, int max_chars);
  // Only ASCII letters and spaces.
  std::string Words(int min_chars, int max_chars);
  // Random lowercase letters; compresses poorly (for TOAST).
  std::string Letters(int count);
  // Between min_bytes and max_bytes arbitrary bytes, NULs included.
  std::string Bytes(int min_bytes, int max_bytes);

 private:
  uint64_t state_;
};

// "YYYY-MM-DD" for a day number counted from 1970-01-01 (proleptic Gregorian).
std::string CivilDate(int64_t days_since_epoch);
// "HH:MM:SS.ffffff" for microseconds since midnight (may exceed 24 h for MariaDB TIME).
std::string TimeOfDay(int64_t microseconds, bool fraction = true);
// Lowercase hex of `bytes`.
std::string HexEncode(std::string_view bytes);
// "%.*g" formatting of a double with `digits` significant digits.
std::string FormatDouble(double value, int digits);

}  // namespace tandem::testing
