// File: engine/value.h
//
// Value: one typed column value as tandem moves it between engines, and Row: the values of one
// row in column order. Connectors produce Values from their wire formats; checksum/ hashes them
// through a canonical encoding; appliers write them back. The kinds are logical types, chosen so
// that equal values from different engines are equal Values:
//
//   kind        payload                                         from (MySQL / PostgreSQL)
//   kNull       -                                               NULL
//   kBool       int_value 0/1                                   BOOLEAN (pg), BIT(1) stays kBits
//   kInt        int_value                                       signed integers, YEAR
//   kUInt       uint_value                                      unsigned integers
//   kFloat      double_value (the float widened exactly)        FLOAT / real
//   kDouble     double_value                                    DOUBLE / double precision
//   kDecimal    text: canonical decimal, see CanonicalDecimal   DECIMAL / numeric
//   kText       text: UTF-8 bytes, exactly as stored            CHAR/VARCHAR/TEXT, ENUM/SET labels
//   kBytes      text: raw bytes                                 BINARY/BLOB / bytea
//   kDate       int_value: year*10000 + month*100 + day         DATE (zero date = 0)
//   kTime       int_value: signed microseconds                  TIME (may exceed 24 h in MySQL)
//   kDateTime   int_value: yyyymmdd, uint_value: µs of the day  DATETIME / timestamp (no zone)
//   kTimestamp  int_value: µs since 1970-01-01 00:00:00 UTC     TIMESTAMP / timestamptz
//   kJson       text: the JSON document as text                 JSON / json, jsonb
//   kBits       uint_value: the bits, text: width as digits     BIT(n)
//   kUuid       text: 36-char lower-case form                   uuid
//   kInterval   text: as the server prints it                   interval, arrays, other types
//   kOther      text: the server's text form, type in the column's declared type
//
// Thread safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::engine {

enum class ValueKind : uint8_t {
  kNull,
  kBool,
  kInt,
  kUInt,
  kFloat,
  kDouble,
  kDecimal,
  kText,
  kBytes,
  kDate,
  kTime,
  kDateTime,
  kTimestamp,
  kJson,
  kBits,
  kUuid,
  kInterval,
  kOther,
};

std::string_view ValueKindName(ValueKind kind);

class Value {
 public:
  Value() = default;  // NULL

  static Value Null() { return Value(); }
  static Value Bool(bool value);
  static Value Int(int64_t value);
  static Value UInt(uint64_t value);
  static Value Float(float value);
  static Value Double(double value);
  // `text` is a decimal number as a server prints it; stored in canonical form.
  static Value Decimal(std::string_view text);
  static Value Text(std::string value);
  static Value Bytes(std::string value);
  // A calendar date; 0/0/0 is MySQL's zero date.
  static Value Date(int year, int month, int day);
  static Value Time(int64_t microseconds);
  static Value DateTime(int year, int month, int day, uint64_t microseconds_of_day);
  static Value Timestamp(int64_t microseconds_since_epoch_utc);
  static Value Json(std::string text);
  static Value Bits(uint64_t bits, int width);
  static Value Uuid(std::string text);
  static Value Interval(std::string text);
  static Value Other(std::string text);

  ValueKind kind() const { return kind_; }
  bool is_null() const { return kind_ == ValueKind::kNull; }
  int64_t int_value() const { return int_; }
  uint64_t uint_value() const { return uint_; }
  double double_value() const { return double_; }
  const std::string& text() const { return text_; }

  // A readable rendering for reports and repair statements: numbers and temporal values in ISO
  // forms ("2024-02-29 13:45:00.000001"), text as is, bytes as hex ("0x00ff"), NULL as "NULL".
  std::string ToDisplayString() const;

  friend bool operator==(const Value&, const Value&) = default;

 private:
  ValueKind kind_ = ValueKind::kNull;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  double double_ = 0;
  std::string text_;
};

using Row = std::vector<Value>;

// Canonical decimal text: no leading '+', no leading zeros before the point (but "0.5"), no
// trailing zeros after it, no point when there is no fraction, and "-0" written "0". So "001.500",
// "1.5" and "+1.50" are all "1.5". Text that is not a plain decimal number is returned unchanged.
std::string CanonicalDecimal(std::string_view text);

}  // namespace tandem::engine
