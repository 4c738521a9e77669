// File: connectors/mysql/mysql_value_codec.h
//
// Conversion between engine::Value and the binary protocol of the MySQL C API (prepared
// statements), both ways:
//
// Decoding a result column. Each column is fetched into one buffer type, chosen from the wire type
// the server announces (MYSQL_FIELD) and the logical kind wanted (from the catalog, or the
// column's natural kind for ad-hoc queries):
//
//   wire type (MYSQL_TYPE_*)               buffer          Value
//   TINY SHORT INT24 LONG LONGLONG YEAR    int64 / uint64  Int, or UInt for UNSIGNED columns
//                                                          (YEAR is always Int)
//   FLOAT / DOUBLE                         float / double  Float / Double, bit-exact (-0.0 kept)
//   DECIMAL NEWDECIMAL                     bytes           Decimal (canonical text)
//   DATE                                   MYSQL_TIME      Date; zero date = Date(0,0,0)
//   TIME                                   MYSQL_TIME      Time: signed µs, beyond ±24 h
//   DATETIME                               MYSQL_TIME      DateTime (date, µs of the day)
//   TIMESTAMP                              MYSQL_TIME      Timestamp: µs since the epoch; the
//                                                          session time zone is UTC, so the
//                                                          fields are UTC. The zero timestamp
//                                                          (stored as 0) is Timestamp(0).
//   BIT                                    bytes           Bits: big-endian bytes, width = the
//                                                          field length (n of BIT(n))
//   strings, blobs, ENUM, SET, JSON        bytes           Text (UTF-8), Bytes when the column's
//                                                          charset is binary (63), Json, Uuid
//   GEOMETRY                               bytes           Bytes (SRID + WKB)
//   anything, when kOther is wanted        bytes           Other: the server's text form
//
// Encoding a parameter (key bounds): Int/UInt/Bool/Bits -> LONGLONG, Float -> FLOAT, Double ->
// DOUBLE, Decimal -> NEWDECIMAL text (so the server compares as decimals, not doubles), Text, Json,
// Uuid, Other -> STRING (connection charset utf8mb4), Bytes -> BLOB (binary, compared bytewise),
// Date/Time/DateTime/Timestamp -> MYSQL_TIME, Null -> NULL.
//
// Thread safety: pure functions and value types; a ParamBinder belongs to one thread.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/value.h"

namespace tandem::connectors::mysql {

// What the server says about one result column.
struct ResultColumn {
  std::string name;
  enum_field_types type = MYSQL_TYPE_NULL;
  unsigned int flags = 0;
  unsigned int charset = 0;  // 63 = binary
  unsigned long length = 0;  // display length; the width n for BIT(n)
  bool json = false;         // MYSQL_TYPE_JSON, or MariaDB's extended metadata format "json"

  static ResultColumn FromField(const MYSQL_FIELD& field);
  bool is_unsigned() const { return (flags & UNSIGNED_FLAG) != 0; }
  bool is_binary_charset() const { return charset == 63; }
};

// The buffer a column is fetched into.
enum class FetchBuffer { kSignedInteger, kUnsignedInteger, kFloat, kDouble, kTemporal, kBytes };

// The kind a column's values have when nothing else is known (ad-hoc queries).
engine::ValueKind NaturalKind(const ResultColumn& column);

// The buffer to fetch `column` into so it decodes as `kind`.
// Errors: kFailedPrecondition when the wire type cannot produce `kind` (the table changed since it
// was described).
engine::Result<FetchBuffer> FetchBufferFor(const ResultColumn& column, engine::ValueKind kind);

// Decoders, one per buffer. `kind` is what FetchBufferFor was given.
// An integer fetched into the int64 buffer; `raw` holds its bits (reinterpret as signed when the
// column is signed). Errors: kCorruption when an unsigned value does not fit a wanted kInt.
engine::Result<engine::Value> DecodeInteger(uint64_t raw, bool is_unsigned, engine::ValueKind kind);
engine::Result<engine::Value> DecodeTemporal(const MYSQL_TIME& time, engine::ValueKind kind);
// Errors: kCorruption when a BIT value is longer than 8 bytes.
engine::Result<engine::Value> DecodeBytes(std::string bytes, engine::ValueKind kind,
                                          const ResultColumn& column);

// The MYSQL_TIME a temporal Value is sent as. REQUIRES: value.kind() is kDate, kTime, kDateTime or
// kTimestamp.
MYSQL_TIME TimeFromValue(const engine::Value& value);

// Owns the MYSQL_BIND array for a list of parameter Values and the storage it points into.
// The Values are copied, so they need not outlive the binder. Not copyable or movable: the binds
// point into the binder.
class ParamBinder {
 public:
  explicit ParamBinder(const std::vector<engine::Value>& params);
  ParamBinder(const ParamBinder&) = delete;
  ParamBinder& operator=(const ParamBinder&) = delete;

  // nullptr when there are no parameters. Valid while the binder lives.
  MYSQL_BIND* binds() { return binds_.empty() ? nullptr : binds_.data(); }
  size_t size() const { return binds_.size(); }

 private:
  struct Storage {
    int64_t integer = 0;
    float float_value = 0;
    double double_value = 0;
    MYSQL_TIME time{};
    std::string bytes;
    unsigned long length = 0;
    my_bool is_null = 0;
  };
  // Sized once in the constructor; never reallocated, so binds_ may point into it.
  std::vector<Storage> storage_;
  std::vector<MYSQL_BIND> binds_;
};

}  // namespace tandem::connectors::mysql
