// File: connectors/postgres/postgres_value_encoder.h
//
// Turns an engine::Value into a PostgreSQL text-format parameter that the server converts back to
// the same value of the column's type: the inverse of postgres_value_decoder.h, so a key read by
// ReadRange and bound as a range limit compares equal to the row it came from.
//
//   Value        parameter text
//   Null         (SQL NULL)
//   Bool         t / f
//   Int, UInt    decimal digits
//   Float        shortest digits that round-trip the float; NaN, Infinity, -Infinity
//   Double       shortest digits that round-trip the double; NaN, Infinity, -Infinity
//   Decimal      the canonical decimal text
//   Text, Json, Uuid, Interval, Other
//                the text as is (text containing NUL is refused: PostgreSQL cannot store it)
//   Bytes        \x + lower-case hex
//   Date         YYYY-MM-DD (MySQL's zero date is refused)
//   Time         [-]HH:MM:SS.ffffff
//   DateTime     YYYY-MM-DD HH:MM:SS.ffffff
//   Timestamp    YYYY-MM-DD HH:MM:SS.ffffff+00, with " BC" for years before 1
//   Bits         the bits as 0/1 digits, as many as the width
//
// Thread safety: stateless functions; safe for concurrent use.
#pragma once

#include "connectors/postgres/postgres_param.h"
#include "engine/status.h"
#include "engine/value.h"

namespace tandem::connectors::postgres {

// Errors: kInvalidArgument for values PostgreSQL cannot represent (text with NUL, zero date).
engine::Result<Param> EncodePostgresParam(const engine::Value& value);

}  // namespace tandem::connectors::postgres
