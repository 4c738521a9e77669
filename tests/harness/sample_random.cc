#include "tests/harness/sample_random.h"

#include <cinttypes>
#include <cstdio>

namespace tandem::testing {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Single code points, weighted towards ASCII by repetition.
constexpr const char* kTextPieces[] = {
    "a",  "b",  "c", "d", "e", "f", "g", "h", "i", "k",  "l",  "m", "n", "o",  "p",
    "r",  "s",  "t", "u", "w", "y", "z", "A", "M", "Q",  "Z",  "0", "1", "7",  "9",
    " ",  " ",  " ", " ", ".", ",", "-", "é", "ß", "ø",  "Ł",  "ñ", "ü", "日", "本",
    "語", "한", "Ж", "λ", "😀", "🚀", "🎉", "𝄞", "'", "\"", "\\", "%", "_", "\t", "\n"};
constexpr int kTextPieceCount = sizeof(kTextPieces) / sizeof(kTextPieces[0]);

}  // namespace

SampleRandom::SampleRandom(uint64_t seed, std::string_view stream, uint64_t index) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : stream) {
    h = (h ^ c) * 1099511628211ULL;
  }
  state_ = Mix(seed ^ Mix(h ^ Mix(index)));
}

uint64_t SampleRandom::Next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int64_t SampleRandom::Range(int64_t low, int64_t high) {
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  if (span == UINT64_MAX) {
    return static_cast<int64_t>(Next());
  }
  return static_cast<int64_t>(static_cast<uint64_t>(low) + Next() % (span + 1));
}

bool SampleRandom::Chance(int percent) { return static_cast<int>(Next() % 100) < percent; }

double SampleRandom::Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

std::string SampleRandom::Text(int min_chars, int max_chars) {
  const int count = static_cast<int>(Range(min_chars, max_chars));
  std::string result;
  for (int i = 0; i < count; ++i) {
    // Three quarters plain letters, the rest from the whole pool.
    if (Chance(75)) {
      result += static_cast<char>('a' + Next() % 26);
    } else {
      result += kTextPieces[Next() % kTextPieceCount];
    }
  }
  return result;
}

std::string SampleRandom::Words(int min_chars, int max_chars) {
  const int count = static_cast<int>(Range(min_chars, max_chars));
  std::string result;
  for (int i = 0; i < count; ++i) {
    result += (i > 0 && Chance(15)) ? ' ' : static_cast<char>('a' + Next() % 26);
  }
  return result;
}

std::string SampleRandom::Letters(int count) {
  std::string result(static_cast<size_t>(count), 'a');
  for (char& c : result) {
    c = static_cast<char>('a' + Next() % 26);
  }
  return result;
}

std::string SampleRandom::Bytes(int min_bytes, int max_bytes) {
  const int count = static_cast<int>(Range(min_bytes, max_bytes));
  std::string result(static_cast<size_t>(count), '\0');
  for (char& c : result) {
    // One byte in eight is NUL.
    c = Chance(12) ? '\0' : static_cast<char>(Next() & 0xff);
  }
  return result;
}

std::string CivilDate(int64_t days) {
  // Howard Hinnant's civil_from_days.
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t year = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  year += month <= 2 ? 1 : 0;
  char buffer[80];
  std::snprintf(buffer, sizeof(buffer), "%04" PRId64 "-%02" PRId64 "-%02" PRId64, year, month, day);
  return buffer;
}

std::string TimeOfDay(int64_t microseconds, bool fraction) {
  const bool negative = microseconds < 0;
  uint64_t us = static_cast<uint64_t>(negative ? -microseconds : microseconds);
  const uint64_t hours = us / 3600000000ULL;
  const uint64_t minutes = us / 60000000ULL % 60;
  const uint64_t seconds = us / 1000000ULL % 60;
  const uint64_t micros = us % 1000000ULL;
  char buffer[48];
  if (fraction) {
    std::snprintf(buffer, sizeof(buffer), "%s%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%06" PRIu64,
                  negative ? "-" : "", hours, minutes, seconds, micros);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%s%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
                  negative ? "-" : "", hours, minutes, seconds);
  }
  return buffer;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string result;
  result.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    result += kHex[c >> 4];
    result += kHex[c & 15];
  }
  return result;
}

std::string FormatDouble(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*g", digits, value);
  return buffer;
}

}  // namespace tandem::testing
