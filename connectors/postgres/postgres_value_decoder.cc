#include "connectors/postgres/postgres_value_decoder.h"

#include <charconv>
#include <limits>
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

// A bounds-checked reader over one value's text.
class TextCursor {
 public:
  explicit TextCursor(std::string_view text) : text_(text) {}

  bool AtEnd() const { return position_ == text_.size(); }
  bool Consume(char c) {
    if (position_ < text_.size() && text_[position_] == c) {
      ++position_;
      return true;
    }
    return false;
  }
  bool ConsumeLiteral(std::string_view literal) {
    if (text_.substr(position_, literal.size()) == literal) {
      position_ += literal.size();
      return true;
    }
    return false;
  }
  bool Peek(char c) const { return position_ < text_.size() && text_[position_] == c; }
  // Reads between `min_digits` and `max_digits` decimal digits; false when fewer are there.
  // `count` receives how many were read.
  bool ReadDigits(int min_digits, int max_digits, int64_t* value, int* count = nullptr) {
    int digits = 0;
    int64_t result = 0;
    while (digits < max_digits && position_ < text_.size() && text_[position_] >= '0' &&
           text_[position_] <= '9') {
      result = result * 10 + (text_[position_] - '0');
      ++position_;
      ++digits;
    }
    if (digits < min_digits) {
      return false;
    }
    *value = result;
    if (count != nullptr) {
      *count = digits;
    }
    return true;
  }

 private:
  std::string_view text_;
  size_t position_ = 0;
};

struct CivilDate {
  int64_t year = 0;  // as printed (1 or more); BC years are flagged separately
  int64_t month = 0;
  int64_t day = 0;
};

// "YYYY-MM-DD" with a year of 4 or more digits.
bool ReadDate(TextCursor& cursor, CivilDate* date) {
  return cursor.ReadDigits(4, 9, &date->year) && cursor.Consume('-') &&
         cursor.ReadDigits(2, 2, &date->month) && cursor.Consume('-') &&
         cursor.ReadDigits(2, 2, &date->day) && date->month >= 1 && date->month <= 12 &&
         date->day >= 1 && date->day <= 31;
}

// "HH:MM:SS[.f{1,6}]" to microseconds since midnight; 24:00:00 is allowed (PostgreSQL's time).
bool ReadTimeOfDay(TextCursor& cursor, int64_t* micros) {
  int64_t hours = 0, minutes = 0, seconds = 0, fraction = 0;
  if (!cursor.ReadDigits(2, 2, &hours) || !cursor.Consume(':') ||
      !cursor.ReadDigits(2, 2, &minutes) || !cursor.Consume(':') ||
      !cursor.ReadDigits(2, 2, &seconds)) {
    return false;
  }
  if (cursor.Consume('.')) {
    int digits = 0;
    if (!cursor.ReadDigits(1, 6, &fraction, &digits)) {
      return false;
    }
    for (; digits < 6; ++digits) {
      fraction *= 10;
    }
  }
  if (hours > 24 || minutes > 59 || seconds > 59) {
    return false;
  }
  *micros = ((hours * 60 + minutes) * 60 + seconds) * kMicrosPerSecond + fraction;
  return *micros <= kMicrosPerDay;
}

// "+HH[:MM[:SS]]" or "-HH[:MM[:SS]]" to seconds east of UTC.
bool ReadUtcOffset(TextCursor& cursor, int64_t* seconds_east) {
  int sign = 0;
  if (cursor.Consume('+')) {
    sign = 1;
  } else if (cursor.Consume('-')) {
    sign = -1;
  } else {
    return false;
  }
  int64_t hours = 0, minutes = 0, seconds = 0;
  if (!cursor.ReadDigits(2, 2, &hours)) {
    return false;
  }
  if (cursor.Consume(':')) {
    if (!cursor.ReadDigits(2, 2, &minutes)) {
      return false;
    }
    if (cursor.Consume(':') && !cursor.ReadDigits(2, 2, &seconds)) {
      return false;
    }
  }
  *seconds_east = sign * ((hours * 60 + minutes) * 60 + seconds);
  return true;
}

std::string_view TypeName(uint32_t oid) {
  switch (oid) {
    case type_oid::kBool:
      return "boolean";
    case type_oid::kBytea:
      return "bytea";
    case type_oid::kInt2:
      return "smallint";
    case type_oid::kInt4:
      return "integer";
    case type_oid::kInt8:
      return "bigint";
    case type_oid::kOid:
      return "oid";
    case type_oid::kFloat4:
      return "real";
    case type_oid::kFloat8:
      return "double precision";
    case type_oid::kNumeric:
      return "numeric";
    case type_oid::kDate:
      return "date";
    case type_oid::kTime:
      return "time";
    case type_oid::kTimestamp:
      return "timestamp";
    case type_oid::kTimestampTz:
      return "timestamptz";
    case type_oid::kBit:
      return "bit";
    case type_oid::kVarbit:
      return "bit varying";
    default:
      return "value";
  }
}

engine::Status Undecodable(uint32_t oid, std::string_view text) {
  constexpr size_t kShown = 64;
  std::string shown(text.substr(0, kShown));
  if (text.size() > kShown) {
    shown += "...";
  }
  return engine::Corruption("cannot decode '" + shown + "' as a PostgreSQL " +
                            std::string(TypeName(oid)) + " (type OID " + std::to_string(oid) + ")");
}

bool IsInfinity(std::string_view text) { return text == "infinity" || text == "-infinity"; }

template <typename Number>
bool ParseInteger(std::string_view text, Number* value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

// PostgreSQL's float output: shortest exact digits, or NaN / Infinity / -Infinity.
template <typename Float>
bool ParseFloat(std::string_view text, Float* value) {
  if (text == "NaN") {
    *value = std::numeric_limits<Float>::quiet_NaN();
    return true;
  }
  if (text == "Infinity" || text == "-Infinity") {
    *value = text[0] == '-' ? -std::numeric_limits<Float>::infinity()
                            : std::numeric_limits<Float>::infinity();
    return true;
  }
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea in hex ("\x00ff") or, should a server still send it, escape form ("a\000\\").
bool DecodeBytea(std::string_view text, std::string* bytes) {
  bytes->clear();
  if (text.substr(0, 2) == "\\x") {
    std::string_view hex = text.substr(2);
    if (hex.size() % 2 != 0) {
      return false;
    }
    bytes->reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
      const int high = HexValue(hex[i]);
      const int low = HexValue(hex[i + 1]);
      if (high < 0 || low < 0) {
        return false;
      }
      bytes->push_back(static_cast<char>(high * 16 + low));
    }
    return true;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      bytes->push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      bytes->push_back('\\');
      ++i;
      continue;
    }
    if (i + 3 >= text.size()) {
      return false;  // a backslash needs three octal digits after it
    }
    int byte = 0;
    for (size_t j = i + 1; j <= i + 3; ++j) {
      if (text[j] < '0' || text[j] > '7') {
        return false;
      }
      byte = byte * 8 + (text[j] - '0');
    }
    if (byte > 255) {
      return false;
    }
    bytes->push_back(static_cast<char>(byte));
    i += 3;
  }
  return true;
}

Result<Value> DecodeDate(std::string_view text) {
  if (IsInfinity(text)) {
    return Value::Other(std::string(text));
  }
  TextCursor cursor(text);
  CivilDate date;
  if (!ReadDate(cursor, &date)) {
    return Undecodable(type_oid::kDate, text);
  }
  if (cursor.ConsumeLiteral(" BC") && cursor.AtEnd()) {
    return Value::Other(std::string(text));  // year*10000+... has no room for years before 1
  }
  if (!cursor.AtEnd()) {
    return Undecodable(type_oid::kDate, text);
  }
  return Value::Date(static_cast<int>(date.year), static_cast<int>(date.month),
                     static_cast<int>(date.day));
}

Result<Value> DecodeTime(std::string_view text) {
  TextCursor cursor(text);
  int64_t micros = 0;
  if (!ReadTimeOfDay(cursor, &micros) || !cursor.AtEnd()) {
    return Undecodable(type_oid::kTime, text);
  }
  return Value::Time(micros);
}

Result<Value> DecodeTimestamp(std::string_view text) {
  if (IsInfinity(text)) {
    return Value::Other(std::string(text));
  }
  TextCursor cursor(text);
  CivilDate date;
  int64_t micros = 0;
  if (!ReadDate(cursor, &date) || !cursor.Consume(' ') || !ReadTimeOfDay(cursor, &micros)) {
    return Undecodable(type_oid::kTimestamp, text);
  }
  if (cursor.ConsumeLiteral(" BC") && cursor.AtEnd()) {
    return Value::Other(std::string(text));  // see DecodeDate
  }
  if (!cursor.AtEnd()) {
    return Undecodable(type_oid::kTimestamp, text);
  }
  return Value::DateTime(static_cast<int>(date.year), static_cast<int>(date.month),
                         static_cast<int>(date.day), static_cast<uint64_t>(micros));
}

Result<Value> DecodeTimestampTz(std::string_view text) {
  if (IsInfinity(text)) {
    return Value::Other(std::string(text));
  }
  TextCursor cursor(text);
  CivilDate date;
  int64_t micros = 0;
  int64_t offset_seconds = 0;
  if (!ReadDate(cursor, &date) || !cursor.Consume(' ') || !ReadTimeOfDay(cursor, &micros) ||
      !ReadUtcOffset(cursor, &offset_seconds)) {
    return Undecodable(type_oid::kTimestampTz, text);
  }
  int64_t year = date.year;
  if (cursor.ConsumeLiteral(" BC")) {
    year = 1 - year;  // astronomical numbering: 1 BC is year 0
  }
  if (!cursor.AtEnd()) {
    return Undecodable(type_oid::kTimestampTz, text);
  }
  const int64_t days = DaysFromCivil(year, date.month, date.day);
  int64_t result = 0;
  // PostgreSQL's range (4713 BC to 294276 AD) can leave int64 µs since 1970 near the top end.
  if (__builtin_mul_overflow(days, kMicrosPerDay, &result) ||
      __builtin_add_overflow(result, micros, &result) ||
      __builtin_sub_overflow(result, offset_seconds * kMicrosPerSecond, &result)) {
    return Value::Other(std::string(text));
  }
  return Value::Timestamp(result);
}

Result<Value> DecodeBits(uint32_t oid, std::string_view text) {
  if (text.size() > 64) {
    return Value::Other(std::string(text));
  }
  uint64_t bits = 0;
  for (char c : text) {
    if (c != '0' && c != '1') {
      return Undecodable(oid, text);
    }
    bits = (bits << 1) | static_cast<uint64_t>(c - '0');
  }
  return Value::Bits(bits, static_cast<int>(text.size()));
}

}  // namespace

ValueKind PostgresValueKind(uint32_t oid, int32_t type_modifier) {
  switch (oid) {
    case type_oid::kBool:
      return ValueKind::kBool;
    case type_oid::kInt2:
    case type_oid::kInt4:
    case type_oid::kInt8:
      return ValueKind::kInt;
    case type_oid::kOid:
      return ValueKind::kUInt;
    case type_oid::kFloat4:
      return ValueKind::kFloat;
    case type_oid::kFloat8:
      return ValueKind::kDouble;
    case type_oid::kNumeric:
      return ValueKind::kDecimal;
    case type_oid::kText:
    case type_oid::kVarchar:
    case type_oid::kBpchar:
    case type_oid::kName:
    case type_oid::kChar:
      return ValueKind::kText;
    case type_oid::kBytea:
      return ValueKind::kBytes;
    case type_oid::kDate:
      return ValueKind::kDate;
    case type_oid::kTime:
      return ValueKind::kTime;
    case type_oid::kTimestamp:
      return ValueKind::kDateTime;
    case type_oid::kTimestampTz:
      return ValueKind::kTimestamp;
    case type_oid::kInterval:
      return ValueKind::kInterval;
    case type_oid::kJson:
    case type_oid::kJsonb:
      return ValueKind::kJson;
    case type_oid::kUuid:
      return ValueKind::kUuid;
    case type_oid::kBit:
    case type_oid::kVarbit:
      // The modifier of bit(n) and bit varying(n) is n; an unbounded varbit has -1.
      return type_modifier >= 1 && type_modifier <= 64 ? ValueKind::kBits : ValueKind::kOther;
    default:
      return ValueKind::kOther;
  }
}

Result<Value> DecodePostgresText(uint32_t oid, int32_t type_modifier, std::string_view text) {
  switch (PostgresValueKind(oid, type_modifier)) {
    case ValueKind::kBool:
      if (text == "t") return Value::Bool(true);
      if (text == "f") return Value::Bool(false);
      return Undecodable(oid, text);
    case ValueKind::kInt: {
      int64_t value = 0;
      if (!ParseInteger(text, &value)) return Undecodable(oid, text);
      return Value::Int(value);
    }
    case ValueKind::kUInt: {
      uint64_t value = 0;
      if (!ParseInteger(text, &value)) return Undecodable(oid, text);
      return Value::UInt(value);
    }
    case ValueKind::kFloat: {
      float value = 0;
      if (!ParseFloat(text, &value)) return Undecodable(oid, text);
      return Value::Float(value);
    }
    case ValueKind::kDouble: {
      double value = 0;
      if (!ParseFloat(text, &value)) return Undecodable(oid, text);
      return Value::Double(value);
    }
    case ValueKind::kDecimal:
      if (text.empty()) return Undecodable(oid, text);
      return Value::Decimal(text);  // NaN, Infinity, -Infinity stay as printed
    case ValueKind::kText:
      return Value::Text(std::string(text));
    case ValueKind::kBytes: {
      std::string bytes;
      if (!DecodeBytea(text, &bytes)) return Undecodable(oid, text);
      return Value::Bytes(std::move(bytes));
    }
    case ValueKind::kDate:
      return DecodeDate(text);
    case ValueKind::kTime:
      return DecodeTime(text);
    case ValueKind::kDateTime:
      return DecodeTimestamp(text);
    case ValueKind::kTimestamp:
      return DecodeTimestampTz(text);
    case ValueKind::kInterval:
      return Value::Interval(std::string(text));
    case ValueKind::kJson:
      return Value::Json(std::string(text));
    case ValueKind::kUuid:
      return Value::Uuid(std::string(text));
    case ValueKind::kBits:
      return DecodeBits(oid, text);
    case ValueKind::kNull:
    case ValueKind::kOther:
      break;
  }
  return Value::Other(std::string(text));
}

}  // namespace tandem::connectors::postgres
