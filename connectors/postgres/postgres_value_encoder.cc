#include "connectors/postgres/postgres_value_encoder.h"

#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/civil_time.h"

namespace tandem::connectors::postgres {
namespace {

using engine::CivilFromDays;
using engine::DaysFromCivil;
using engine::Result;
using engine::Value;
using engine::ValueKind;

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

template <typename Float>
std::string FormatFloat(Float value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value < 0 ? "-Infinity" : "Infinity";
  }
  char buffer[64];
  // Shortest representation that parses back to exactly `value` (so -0 stays "-0").
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)error;  // 64 characters always suffice for a float or double
  return std::string(buffer, end);
}

std::string FormatDate(int64_t year, int64_t month, int64_t day) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04" PRId64 "-%02" PRId64 "-%02" PRId64, year, month, day);
  return buffer;
}

std::string FormatTimeOfDay(int64_t micros) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%06" PRId64,
                micros / (3600 * kMicrosPerSecond), (micros / (60 * kMicrosPerSecond)) % 60,
                (micros / kMicrosPerSecond) % 60, micros % kMicrosPerSecond);
  return buffer;
}

// Floor division and modulo for negative µs counts.
int64_t FloorDiv(int64_t value, int64_t divisor) {
  int64_t quotient = value / divisor;
  if ((value % divisor != 0) && ((value < 0) != (divisor < 0))) {
    --quotient;
  }
  return quotient;
}

}  // namespace

Result<Param> EncodePostgresParam(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kNull:
      return Param();
    case ValueKind::kBool:
      return Param(value.int_value() != 0 ? "t" : "f");
    case ValueKind::kInt:
      return Param(std::to_string(value.int_value()));
    case ValueKind::kUInt:
      return Param(std::to_string(value.uint_value()));
    case ValueKind::kFloat:
      return Param(FormatFloat(static_cast<float>(value.double_value())));
    case ValueKind::kDouble:
      return Param(FormatFloat(value.double_value()));
    case ValueKind::kDecimal:
    case ValueKind::kText:
    case ValueKind::kJson:
    case ValueKind::kUuid:
    case ValueKind::kInterval:
    case ValueKind::kOther:
      if (value.text().find('\0') != std::string::npos) {
        return engine::InvalidArgument(
            "a text value with a NUL character cannot be sent to PostgreSQL");
      }
      return Param(value.text());
    case ValueKind::kBytes: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string text = "\\x";
      text.reserve(2 + value.text().size() * 2);
      for (unsigned char c : value.text()) {
        text.push_back(kHex[c >> 4]);
        text.push_back(kHex[c & 15]);
      }
      return Param(std::move(text));
    }
    case ValueKind::kDate: {
      const int64_t packed = value.int_value();
      if (packed == 0) {
        return engine::InvalidArgument("the zero date 0000-00-00 has no PostgreSQL equivalent");
      }
      return Param(FormatDate(packed / 10000, (packed / 100) % 100, packed % 100));
    }
    case ValueKind::kTime: {
      const int64_t micros = value.int_value();
      return Param(micros < 0 ? "-" + FormatTimeOfDay(-micros) : FormatTimeOfDay(micros));
    }
    case ValueKind::kDateTime: {
      const int64_t packed = value.int_value();
      return Param(FormatDate(packed / 10000, (packed / 100) % 100, packed % 100) + " " +
                   FormatTimeOfDay(static_cast<int64_t>(value.uint_value())));
    }
    case ValueKind::kTimestamp: {
      const int64_t micros = value.int_value();
      const int64_t days = FloorDiv(micros, kMicrosPerDay);
      const int64_t micros_of_day = micros - days * kMicrosPerDay;
      int64_t year = 0, month = 0, day = 0;
      CivilFromDays(days, &year, &month, &day);
      std::string text = FormatDate(year > 0 ? year : 1 - year, month, day) + " " +
                         FormatTimeOfDay(micros_of_day) + "+00";
      if (year <= 0) {
        text += " BC";
      }
      return Param(std::move(text));
    }
    case ValueKind::kBits: {
      std::string text;
      for (int64_t bit = value.int_value() - 1; bit >= 0; --bit) {
        text.push_back(((value.uint_value() >> bit) & 1) != 0 ? '1' : '0');
      }
      return Param(std::move(text));
    }
  }
  return engine::Internal("unknown value kind");
}

}  // namespace tandem::connectors::postgres
