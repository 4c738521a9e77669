// File: connectors/mysql/binlog/table_map_event.h
//
// TABLE_MAP_EVENT: binds a table id to a table and describes its columns as the row events that
// follow (until the id is mapped again) encode them.
//
//   post-header (8 bytes; 6 when the format description says so: 4-byte table ids)
//   6    table_id
//   2    flags
//   body
//   1    schema name length, the name, 0x00
//   1    table name length, the name, 0x00
//   lenenc  column count n
//   n    column types (MYSQL_TYPE_*)
//   lenenc  metadata length, then per column its type's metadata:
//          FLOAT DOUBLE                  1  pack length (4 / 8)
//          BLOB GEOMETRY JSON            1  bytes of the length prefix (1..4)
//          VARCHAR VAR_STRING            2  max length in bytes (LE)
//          BIT                           2  bits % 8, whole bytes
//          NEWDECIMAL                    2  precision, scale
//          STRING (CHAR/BINARY/ENUM/SET) 2  real type, length (high bits of length folded into
//                                           the real type byte: MySQL's Field_string encoding)
//          TIME2 DATETIME2 TIMESTAMP2    1  fractional second precision 0..6
//          others                        0
//   (n+7)/8  nullability bitmap
//   rest optional metadata (MySQL 8.0 / MariaDB 10.5 binlog_row_metadata): TLV fields
//          type(1) length(lenenc) value. 1 signedness bitmap (numeric columns), 2 default
//          charset, 3 column charsets, 4 column names, 5 SET labels, 6 ENUM labels, 7 geometry
//          types, 8/9 primary key, 10/11 enum/set charsets, 12 visibility. Names and labels are
//          kept; the others are skipped.
//
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

// MYSQL_TYPE_* codes as they appear in the binlog (mysql_com.h; repeated so the decoder does not
// depend on a client library's header).
enum class ColumnType : uint8_t {
  kDecimal = 0,
  kTiny = 1,
  kShort = 2,
  kLong = 3,
  kFloat = 4,
  kDouble = 5,
  kNull = 6,
  kTimestamp = 7,
  kLongLong = 8,
  kInt24 = 9,
  kDate = 10,
  kTime = 11,
  kDateTime = 12,
  kYear = 13,
  kNewDate = 14,
  kVarchar = 15,
  kBit = 16,
  kTimestamp2 = 17,
  kDateTime2 = 18,
  kTime2 = 19,
  kJson = 245,
  kNewDecimal = 246,
  kEnum = 247,
  kSet = 248,
  kTinyBlob = 249,
  kMediumBlob = 250,
  kLongBlob = 251,
  kBlob = 252,
  kVarString = 253,
  kString = 254,
  kGeometry = 255,
};

std::string ColumnTypeName(ColumnType type);

// One column as the table map describes it.
struct BinlogColumn {
  ColumnType type = ColumnType::kNull;  // the real type: STRING's metadata may say ENUM or SET
  uint16_t metadata = 0;                // raw metadata (0, 1 or 2 bytes, LE)
  bool nullable = true;
  // Derived from the metadata, per type:
  uint32_t max_length = 0;  // VARCHAR/STRING: bytes; BLOB/JSON/GEOMETRY: length-prefix bytes;
                            // ENUM/SET: storage bytes; FLOAT/DOUBLE: pack length
  uint8_t precision = 0;    // NEWDECIMAL
  uint8_t scale = 0;        // NEWDECIMAL; TIME2/DATETIME2/TIMESTAMP2: fsp
  uint16_t bit_width = 0;   // BIT(n): n
  std::string name;         // from optional metadata, when present
};

struct TableMapEvent {
  uint64_t table_id = 0;
  uint16_t flags = 0;
  std::string schema;
  std::string table;
  std::vector<BinlogColumn> columns;
  bool has_column_names = false;
  std::vector<std::vector<std::string>> enum_labels;  // per ENUM column in order (optional meta)
  std::vector<std::vector<std::string>> set_labels;   // per SET column in order (optional meta)
};

// `body` is the event without header and checksum; `table_id_size` is 6 (or 4 for a format
// description whose TABLE_MAP post-header is 6 bytes). Errors: kCorruption naming the field and,
// once known, the table.
engine::Result<TableMapEvent> ParseTableMapEvent(std::string_view body, size_t table_id_size);

}  // namespace tandem::connectors::mysql::binlog
