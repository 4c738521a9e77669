// File: connectors/mysql/binlog/decimal_value.h
//
// DECIMAL(P,S) in the binlog (and InnoDB) binary form. The integer part has P-S digits and the
// fraction S digits; each is cut into groups of 9 digits stored as 4-byte big-endian integers,
// with the left-over digits of the integer part first and those of the fraction last, in the
// fewest bytes that hold them:
//
//   left-over digits  0 1 2 3 4 5 6 7 8
//   bytes             0 1 1 2 2 3 3 4 4
//
// The top bit of the first byte is set for non-negative numbers; a negative number has every
// byte inverted. DECIMAL(20,6): 14 integer digits = 5 left over (3 bytes) + one group (4 bytes),
// 6 fraction digits (3 bytes): 10 bytes in all.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "connectors/mysql/binlog/byte_reader.h"
#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

// Bytes a DECIMAL(precision, scale) value takes.
size_t DecimalBinarySize(int precision, int scale);

// Reads one value and returns it as decimal text ("-12.500000"; canonicalise with
// engine::CanonicalDecimal). Errors: kCorruption (short, or a group above 999999999).
engine::Result<std::string> ReadDecimal(ByteReader& reader, int precision, int scale);

}  // namespace tandem::connectors::mysql::binlog
