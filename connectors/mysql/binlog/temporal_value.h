// File: connectors/mysql/binlog/temporal_value.h
//
// Temporal column formats in row events, read into engine Values (the representations of
// engine/value.h, equal to what the connector's ReadRange returns for the same column):
//
//   type         bytes             layout
//   DATE         3 LE              day (5 bits) | month (4) << 5 | year << 9
//   TIME         3 LE signed       HHMMSS as a decimal number (old format, no fraction)
//   DATETIME     8 LE              YYYYMMDDhhmmss as a decimal number (old format)
//   TIMESTAMP    4 LE              seconds since the epoch (old format)
//   TIMESTAMP2   4 BE + frac       seconds since the epoch, then the fraction
//   DATETIME2    5 BE + frac       1 sign bit (1 = positive), 17 bits year*13+month, 5 day,
//                                  5 hour, 6 minute, 6 second; offset 0x8000000000
//   TIME2        3 BE + frac       1 sign bit, 1 unused, 10 bits hour, 6 minute, 6 second;
//                                  offset 0x800000; negative values with a fraction borrow
//   frac         (fsp+1)/2 BE      fsp 1-2: hundredths, 3-4: ten-thousandths, 5-6: µs (TIME2:
//                                  signed, part of the 6-byte packed value for fsp 5-6)
//
// Thread safety: pure functions.
#pragma once

#include "connectors/mysql/binlog/byte_reader.h"
#include "engine/status.h"
#include "engine/value.h"

namespace tandem::connectors::mysql::binlog {

// Each reads one value of its type (the table above; *Old: the pre-5.6 formats, *2: the ones with
// fractional seconds, `fsp` from the table map) from `reader` and advances it.
// Errors: kCorruption (ByteReader::Error) when the value is short or holds an out-of-range field.
engine::Result<engine::Value> ReadDate(ByteReader& reader);
engine::Result<engine::Value> ReadTimeOld(ByteReader& reader);
engine::Result<engine::Value> ReadDateTimeOld(ByteReader& reader);
engine::Result<engine::Value> ReadTimestampOld(ByteReader& reader);
engine::Result<engine::Value> ReadTimestamp2(ByteReader& reader, int fsp);
engine::Result<engine::Value> ReadDateTime2(ByteReader& reader, int fsp);
engine::Result<engine::Value> ReadTime2(ByteReader& reader, int fsp);

}  // namespace tandem::connectors::mysql::binlog
