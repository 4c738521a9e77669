#include "orchestration/duration.h"

#include <array>
#include <cstdint>

namespace tandem::orchestration {
namespace {

constexpr const char* kExpectedForm =
    "write a duration such as \"250ms\", \"30s\", \"10m\" or \"72h\" (units may be combined from "
    "largest to smallest, e.g. \"1h30m\")";

struct Unit {
  std::string_view name;
  int64_t milliseconds;
};

// Largest first: a compound duration must use them in this order, each at most once.
constexpr std::array<Unit, 4> kUnits = {{{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

engine::Status Bad(std::string_view text, const std::string& problem) {
  return engine::InvalidArgument("\"" + std::string(text) + "\" " + problem + "; " + kExpectedForm);
}

}  // namespace

engine::Result<Milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) {
    return engine::InvalidArgument(std::string("the duration is empty; ") + kExpectedForm);
  }
  for (char c : text) {
    if (IsSpace(c)) {
      return Bad(text, "contains white space");
    }
  }
  if (text.front() == '-') {
    return Bad(text, "is negative");
  }
  int64_t total = 0;
  size_t next_unit = 0;  // index into kUnits of the largest unit still allowed
  size_t pos = 0;
  while (pos < text.size()) {
    // <digits>[.<digits>]
    const size_t number_begin = pos;
    int64_t whole = 0;
    bool whole_overflows = false;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (__builtin_mul_overflow(whole, 10, &whole) ||
          __builtin_add_overflow(whole, text[pos] - '0', &whole)) {
        whole_overflows = true;
      }
      ++pos;
    }
    if (pos == number_begin) {
      return Bad(text, "does not start with a number where one is expected (at \"" +
                           std::string(text.substr(pos)) + "\")");
    }
    std::string_view fraction;
    if (pos < text.size() && text[pos] == '.') {
      const size_t fraction_begin = ++pos;
      while (pos < text.size() && IsDigit(text[pos])) {
        ++pos;
      }
      if (pos == fraction_begin) {
        return Bad(text, "has a '.' without digits after it");
      }
      fraction = text.substr(fraction_begin, pos - fraction_begin);
    }
    const std::string_view number = text.substr(number_begin, pos - number_begin);
    // The unit: the letters that follow.
    const size_t unit_begin = pos;
    while (pos < text.size() && IsLetter(text[pos])) {
      ++pos;
    }
    const std::string_view unit_name = text.substr(unit_begin, pos - unit_begin);
    if (unit_name.empty()) {
      if (pos == text.size()) {
        return Bad(text, "has no unit after " + std::string(number));
      }
      return Bad(text, "has an unexpected character '" + std::string(1, text[pos]) + "'");
    }
    size_t unit_index = kUnits.size();
    for (size_t i = 0; i < kUnits.size(); ++i) {
      if (kUnits[i].name == unit_name) {
        unit_index = i;
      }
    }
    if (unit_index == kUnits.size()) {
      return Bad(text, "has an unknown unit \"" + std::string(unit_name) +
                           "\" (the units are ms, s, m and h)");
    }
    if (unit_index < next_unit) {
      return Bad(text, "repeats a unit or lists units out of order (\"" + std::string(unit_name) +
                           "\" comes after a smaller or equal unit)");
    }
    next_unit = unit_index + 1;
    const int64_t unit_ms = kUnits[unit_index].milliseconds;
    const std::string too_long = "is too long to count in 64-bit milliseconds";
    int64_t part = 0;
    if (whole_overflows || __builtin_mul_overflow(whole, unit_ms, &part)) {
      return Bad(text, too_long);
    }
    // The fraction, exactly: trailing zeros add nothing; more than 7 significant fraction digits
    // can never be a whole number of milliseconds (the largest unit is 2^7 * 3^2 * 5^5 ms).
    while (!fraction.empty() && fraction.back() == '0') {
      fraction.remove_suffix(1);
    }
    if (!fraction.empty()) {
      if (fraction.size() > 7) {
        return Bad(text, "is not a whole number of milliseconds");
      }
      int64_t numerator = 0;
      int64_t denominator = 1;
      for (char c : fraction) {
        numerator = numerator * 10 + (c - '0');
        denominator *= 10;
      }
      const int64_t scaled = numerator * unit_ms;  // < 10^7 * 3.6 * 10^6: no overflow
      if (scaled % denominator != 0) {
        return Bad(text, "is not a whole number of milliseconds");
      }
      if (__builtin_add_overflow(part, scaled / denominator, &part)) {
        return Bad(text, too_long);
      }
    }
    if (__builtin_add_overflow(total, part, &total)) {
      return Bad(text, too_long);
    }
  }
  return Milliseconds(total);
}

std::string FormatDuration(Milliseconds duration) {
  int64_t count = duration.count();
  if (count == 0) {
    return "0s";
  }
  std::string out;
  // Work on the magnitude as unsigned so that the smallest int64 does not overflow.
  uint64_t remaining = static_cast<uint64_t>(count);
  if (count < 0) {
    out = "-";
    remaining = ~remaining + 1;
  }
  for (const Unit& unit : kUnits) {
    const uint64_t unit_ms = static_cast<uint64_t>(unit.milliseconds);
    const uint64_t amount = remaining / unit_ms;
    remaining %= unit_ms;
    if (amount != 0) {
      out += std::to_string(amount);
      out += unit.name;
    }
  }
  return out;
}

}  // namespace tandem::orchestration
