// File: connectors/mysql/binlog/mysql_json.h
//
// MySQL's binary JSON (the JSON column type of MySQL 5.7+, as stored and as logged in row events)
// to the text form MySQL prints: `{"a": 1, "b": [true, null]}` (", " and ": " separators, object
// keys in the stored order, which is sorted by length then bytes). MariaDB stores JSON as text
// and never produces this format.
//
//   value      type byte, then
//   0x00/0x01  small/large object: count (2/4 LE), size (2/4 LE), count key entries (offset
//              2/4, length 2), count value entries (type 1 + offset or inlined value 2/4),
//              keys, values. Offsets are from the first byte after the type byte.
//   0x02/0x03  small/large array: count, size, value entries, values
//   0x04       literal: 0x00 null, 0x01 true, 0x02 false
//   0x05..0x0a int16 uint16 int32 uint32 int64 uint64 (LE)
//   0x0b       double (LE IEEE)
//   0x0c       string: length as 7-bit groups (low first, high bit = more), UTF-8 bytes
//   0x0f       opaque: MySQL field type byte, length (7-bit groups), bytes (DECIMAL: precision,
//              scale, binary decimal; DATE/TIME/DATETIME/TIMESTAMP: 8-byte packed value)
//   Small containers inline literals and 16-bit integers in the value entry; large ones also
//   32-bit integers.
//
// Thread safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

// Errors: kCorruption for bytes that are not binary JSON (bad type, offset out of range, nesting
// deeper than 100).
engine::Result<std::string> MySqlJsonToText(std::string_view binary);

}  // namespace tandem::connectors::mysql::binlog
