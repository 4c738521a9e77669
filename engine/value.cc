#include "engine/value.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "engine/civil_time.h"

namespace tandem::engine {

std::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kUInt:
      return "uint";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kDouble:
      return "double";
    case ValueKind::kDecimal:
      return "decimal";
    case ValueKind::kText:
      return "text";
    case ValueKind::kBytes:
      return "bytes";
    case ValueKind::kDate:
      return "date";
    case ValueKind::kTime:
      return "time";
    case ValueKind::kDateTime:
      return "datetime";
    case ValueKind::kTimestamp:
      return "timestamp";
    case ValueKind::kJson:
      return "json";
    case ValueKind::kBits:
      return "bits";
    case ValueKind::kUuid:
      return "uuid";
    case ValueKind::kInterval:
      return "interval";
    case ValueKind::kOther:
      return "other";
  }
  return "unknown";
}

Value Value::Bool(bool value) {
  Value v;
  v.kind_ = ValueKind::kBool;
  v.int_ = value ? 1 : 0;
  return v;
}
Value Value::Int(int64_t value) {
  Value v;
  v.kind_ = ValueKind::kInt;
  v.int_ = value;
  return v;
}
Value Value::UInt(uint64_t value) {
  Value v;
  v.kind_ = ValueKind::kUInt;
  v.uint_ = value;
  return v;
}
Value Value::Float(float value) {
  Value v;
  v.kind_ = ValueKind::kFloat;
  v.double_ = static_cast<double>(value);
  return v;
}
Value Value::Double(double value) {
  Value v;
  v.kind_ = ValueKind::kDouble;
  v.double_ = value;
  return v;
}
Value Value::Decimal(std::string_view text) {
  Value v;
  v.kind_ = ValueKind::kDecimal;
  v.text_ = CanonicalDecimal(text);
  return v;
}
Value Value::Text(std::string value) {
  Value v;
  v.kind_ = ValueKind::kText;
  v.text_ = std::move(value);
  return v;
}
Value Value::Bytes(std::string value) {
  Value v;
  v.kind_ = ValueKind::kBytes;
  v.text_ = std::move(value);
  return v;
}
Value Value::Date(int year, int month, int day) {
  Value v;
  v.kind_ = ValueKind::kDate;
  v.int_ = static_cast<int64_t>(year) * 10000 + month * 100 + day;
  return v;
}
Value Value::Time(int64_t microseconds) {
  Value v;
  v.kind_ = ValueKind::kTime;
  v.int_ = microseconds;
  return v;
}
Value Value::DateTime(int year, int month, int day, uint64_t microseconds_of_day) {
  Value v;
  v.kind_ = ValueKind::kDateTime;
  v.int_ = static_cast<int64_t>(year) * 10000 + month * 100 + day;
  v.uint_ = microseconds_of_day;
  return v;
}
Value Value::Timestamp(int64_t microseconds_since_epoch_utc) {
  Value v;
  v.kind_ = ValueKind::kTimestamp;
  v.int_ = microseconds_since_epoch_utc;
  return v;
}
Value Value::Json(std::string text) {
  Value v;
  v.kind_ = ValueKind::kJson;
  v.text_ = std::move(text);
  return v;
}
Value Value::Bits(uint64_t bits, int width) {
  Value v;
  v.kind_ = ValueKind::kBits;
  v.uint_ = bits;
  v.int_ = width;
  return v;
}
Value Value::Uuid(std::string text) {
  Value v;
  v.kind_ = ValueKind::kUuid;
  v.text_ = std::move(text);
  return v;
}
Value Value::Interval(std::string text) {
  Value v;
  v.kind_ = ValueKind::kInterval;
  v.text_ = std::move(text);
  return v;
}
Value Value::Other(std::string text) {
  Value v;
  v.kind_ = ValueKind::kOther;
  v.text_ = std::move(text);
  return v;
}

namespace {

std::string FormatDate(int64_t yyyymmdd) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04" PRId64 "-%02" PRId64 "-%02" PRId64, yyyymmdd / 10000,
                (yyyymmdd / 100) % 100, yyyymmdd % 100);
  return buffer;
}

std::string FormatTimeOfDay(uint64_t micros) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%06" PRIu64,
                micros / uint64_t{3600000000}, (micros / uint64_t{60000000}) % 60,
                (micros / uint64_t{1000000}) % 60, micros % uint64_t{1000000});
  return buffer;
}

}  // namespace

std::string Value::ToDisplayString() const {
  switch (kind_) {
    case ValueKind::kNull:
      return "NULL";
    case ValueKind::kBool:
      return int_ ? "true" : "false";
    case ValueKind::kInt:
      return std::to_string(int_);
    case ValueKind::kUInt:
      return std::to_string(uint_);
    case ValueKind::kFloat:
    case ValueKind::kDouble: {
      char buffer[40];
      std::snprintf(buffer, sizeof buffer, "%.17g", double_);
      return buffer;
    }
    case ValueKind::kBytes: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "0x";
      for (unsigned char c : text_) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
      return out;
    }
    case ValueKind::kDate:
      return FormatDate(int_);
    case ValueKind::kTime: {
      uint64_t magnitude = int_ < 0 ? static_cast<uint64_t>(-int_) : static_cast<uint64_t>(int_);
      return (int_ < 0 ? "-" : "") + FormatTimeOfDay(magnitude);
    }
    case ValueKind::kDateTime:
      return FormatDate(int_) + " " + FormatTimeOfDay(uint_);
    case ValueKind::kTimestamp: {
      int64_t seconds = int_ >= 0 ? int_ / 1000000 : -((-int_ + 999999) / 1000000);
      int64_t micros = int_ - seconds * 1000000;
      int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
      int64_t second_of_day = seconds - days * 86400;
      int64_t year, month, day;
      CivilFromDays(days, &year, &month, &day);
      return FormatDate(year * 10000 + month * 100 + day) + " " +
             FormatTimeOfDay(static_cast<uint64_t>(second_of_day * 1000000 + micros)) + "+00";
    }
    case ValueKind::kBits:
      return "b'" + [this] {
        std::string bits;
        for (int i = static_cast<int>(int_) - 1; i >= 0; --i) {
          bits.push_back(((uint_ >> i) & 1) ? '1' : '0');
        }
        return bits;
      }() + "'";
    case ValueKind::kDecimal:
    case ValueKind::kText:
    case ValueKind::kJson:
    case ValueKind::kUuid:
    case ValueKind::kInterval:
    case ValueKind::kOther:
      return text_;
  }
  return text_;
}

std::string CanonicalDecimal(std::string_view text) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  std::string integer_part;
  std::string fraction_part;
  bool seen_point = false;
  bool seen_digit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      (seen_point ? fraction_part : integer_part).push_back(c);
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      return std::string(text);  // NaN, Infinity, exponent forms: not a plain decimal
    }
  }
  if (!seen_digit) {
    return std::string(text);
  }
  size_t first_nonzero = integer_part.find_first_not_of('0');
  integer_part = first_nonzero == std::string::npos ? "0" : integer_part.substr(first_nonzero);
  while (!fraction_part.empty() && fraction_part.back() == '0') {
    fraction_part.pop_back();
  }
  std::string out;
  if (negative && !(integer_part == "0" && fraction_part.empty())) {
    out.push_back('-');
  }
  out += integer_part;
  if (!fraction_part.empty()) {
    out += "." + fraction_part;
  }
  return out;
}

}  // namespace tandem::engine
