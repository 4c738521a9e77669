// File: connectors/mysql/binlog/column_value.h
//
// One column of a row image, from the binlog's encoding to an engine::Value of exactly the kind
// and representation the connector's ReadRange gives the same column (mysql_value_codec.h), so a
// streamed row equals the row read back from the table.
//
//   binlog type (table map)          bytes                         Value (catalog kind)
//   TINY SHORT INT24 LONG LONGLONG   1 2 3 4 8 LE                  Int (sign-extended) / UInt
//   YEAR                             1: 0 or year-1900             Int (0 stays 0)
//   FLOAT / DOUBLE                   4 / 8 LE IEEE                 Float / Double, bit-exact
//   NEWDECIMAL                       decimal_value.h               Decimal (canonical text)
//   VARCHAR VAR_STRING               1 length byte if max < 256,   Text (UTF-8; latin1 columns
//                                    else 2; then the bytes        are converted), Bytes, Json
//   STRING (CHAR, BINARY)            1 length byte if max < 256,   Text (trailing spaces are not
//                                    else 2                        logged, as ReadRange drops
//                                                                  them); BINARY(n) Bytes padded
//                                                                  with 0x00 to n as the server
//                                                                  returns it
//   ENUM                             1-2 LE: index (0 = '')        Text: the label
//   SET                              1-8 LE: member bitmap         Text: labels joined by ','
//   BLOB TEXT (all sizes), GEOMETRY  1-4 LE length, then bytes     Text / Bytes / Json (MariaDB
//                                                                  JSON is LONGTEXT); GEOMETRY
//                                                                  Bytes (SRID + WKB)
//   JSON (MySQL)                     4 LE length, binary JSON      Json: MySQL's text form
//                                                                  (mysql_json.h)
//   BIT(n)                           (n+7)/8 BE                    Bits(value, n)
//   DATE TIME DATETIME TIMESTAMP     temporal_value.h              Date / Time / DateTime /
//   and their "2" forms                                            Timestamp
//
// Labels of ENUM and SET come from the catalog's declared type ("enum('a','b')"), so a stream
// needs the table's schema; so do the signedness of integers and the binary-ness of strings.
//
// Thread safety: ColumnPlan is immutable after PlanColumn; functions are pure.
#pragma once

#include <string>
#include <vector>

#include "connectors/mysql/binlog/byte_reader.h"
#include "connectors/mysql/binlog/table_map_event.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::connectors::mysql::binlog {

// How to decode one column: the binlog's description and the catalog's, matched.
struct ColumnPlan {
  BinlogColumn binlog;
  engine::ValueKind kind = engine::ValueKind::kOther;
  bool latin1 = false;              // Text held in latin1: converted to UTF-8
  std::vector<std::string> labels;  // ENUM / SET labels in declaration order
  uint32_t binary_pad_length = 0;   // BINARY(n): n (values are padded with 0x00 to it)
  std::string name;                 // for messages
};

// Matches the binlog column with the catalog column. Errors: kFailedPrecondition when they
// disagree (the table changed since the catalog was read: reload it), kUnsupported for a column
// the stream cannot decode faithfully (a character set other than utf8/utf8mb4/ascii/latin1/binary,
// MariaDB's UUID/INET types, the pre-5.0 DECIMAL), each naming the column.
engine::Result<ColumnPlan> PlanColumn(const BinlogColumn& binlog, const engine::Column& column);

// Reads one non-NULL value. Errors: kCorruption naming the column.
engine::Result<engine::Value> ReadColumnValue(ByteReader& reader, const ColumnPlan& plan);

// The labels of "enum('a','b')" / "set('x','y')" ('' inside a label is a quote).
// Errors: kCorruption when the declared type does not parse.
engine::Result<std::vector<std::string>> ParseEnumLabels(const std::string& declared_type);

// latin1 (MySQL's, i.e. cp1252 with the five undefined bytes mapped to C1 controls) to UTF-8.
std::string Latin1ToUtf8(std::string_view text);

}  // namespace tandem::connectors::mysql::binlog
