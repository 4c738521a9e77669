// File: connectors/postgres/postgres_value_decoder.h
//
// Turns PostgreSQL's text output of one value into an engine::Value, choosing the logical kind
// by the value's (base) type OID and type modifier. The session settings of PostgresConnection
// (TimeZone=UTC, DateStyle=ISO, IntervalStyle=postgres, extra_float_digits=3, bytea_output=hex)
// fix the text forms this decoder reads:
//
//   type (OID)                          text form                          Value
//   int2 (21), int4 (23), int8 (20)     -12                                Int
//   oid (26)                            4000000000                         UInt
//   numeric (1700)                      -1.50, NaN, Infinity               Decimal (canonical;
//                                                                          NaN/Infinity as text)
//   float4 (700)                        1.1, -0, NaN, Infinity, 1e+30      Float (shortest exact)
//   float8 (701)                        same                               Double
//   bool (16)                           t / f                              Bool
//   text (25), varchar (1043),          the characters, bpchar with its    Text
//   bpchar (1042), name (19), "char"    padding
//   bytea (17)                          \x00ff (hex) or escape form        Bytes (raw)
//   date (1082)                         2024-02-29                         Date
//                                       infinity, -infinity, ... BC        Other (text)
//   time (1083)                         13:45:00.000001, 24:00:00          Time (µs)
//   timestamp (1114)                    2024-02-29 13:45:00.000001         DateTime
//                                       infinity, -infinity, ... BC        Other (text)
//   timestamptz (1184)                  2024-02-29 13:45:00.000001+00      Timestamp (UTC µs;
//                                       (any offset, BC years accepted)    infinity: Other)
//   interval (1186)                     1 year 2 mons 00:00:01.5           Interval (text)
//   json (114), jsonb (3802)            the document                       Json
//   uuid (2950)                         36 lower-case characters           Uuid
//   bit (1560), varbit (1562)           0101                               Bits when the declared
//                                                                          width is 1..64, else
//                                                                          Other
//   arrays, enums, ranges, timetz, money, geometric, network, every other type
//                                       the server's text form             Other
//
// Domains never reach the decoder: the server describes a domain column by its base type and
// modifier, and the catalog resolves domains the same way before calling PostgresValueKind.
//
// Thread safety: stateless functions; safe for concurrent use.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/status.h"
#include "engine/value.h"

namespace tandem::connectors::postgres {

// Type OIDs the decoder knows (pg_type.dat; fixed across server versions).
namespace type_oid {
inline constexpr uint32_t kBool = 16;
inline constexpr uint32_t kBytea = 17;
inline constexpr uint32_t kChar = 18;
inline constexpr uint32_t kName = 19;
inline constexpr uint32_t kInt8 = 20;
inline constexpr uint32_t kInt2 = 21;
inline constexpr uint32_t kInt4 = 23;
inline constexpr uint32_t kText = 25;
inline constexpr uint32_t kOid = 26;
inline constexpr uint32_t kJson = 114;
inline constexpr uint32_t kFloat4 = 700;
inline constexpr uint32_t kFloat8 = 701;
inline constexpr uint32_t kBpchar = 1042;
inline constexpr uint32_t kVarchar = 1043;
inline constexpr uint32_t kDate = 1082;
inline constexpr uint32_t kTime = 1083;
inline constexpr uint32_t kTimestamp = 1114;
inline constexpr uint32_t kTimestampTz = 1184;
inline constexpr uint32_t kInterval = 1186;
inline constexpr uint32_t kTimeTz = 1266;
inline constexpr uint32_t kBit = 1560;
inline constexpr uint32_t kVarbit = 1562;
inline constexpr uint32_t kNumeric = 1700;
inline constexpr uint32_t kUuid = 2950;
inline constexpr uint32_t kJsonb = 3802;
}  // namespace type_oid

// The kind of the values of a column whose base type is `oid` with modifier `type_modifier`
// (atttypmod; -1 when none). For date and timestamp columns this is the kind of ordinary values:
// infinities and BC dates decode to kOther.
engine::ValueKind PostgresValueKind(uint32_t oid, int32_t type_modifier);

// Decodes `text`, the text output of a non-NULL value of type `oid` with `type_modifier`.
// Errors: kCorruption when the text is not what the server prints for that type; the message
// names the type and quotes (a prefix of) the text.
engine::Result<engine::Value> DecodePostgresText(uint32_t oid, int32_t type_modifier,
                                                 std::string_view text);

}  // namespace tandem::connectors::postgres
