// Unit tests (no server) for connectors/postgres/postgres_value_decoder.h: every text form the
// server prints under the connector's session settings, and the malformed ones it must refuse.
#include "connectors/postgres/postgres_value_decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace tandem::connectors::postgres {
namespace {

using engine::StatusCode;
using engine::Value;
using engine::ValueKind;

Value Decode(uint32_t oid, std::string_view text, int32_t type_modifier = -1) {
  auto value = DecodePostgresText(oid, type_modifier, text);
  EXPECT_TRUE(value.ok()) << value.status().ToString();
  return value.ok() ? *value : Value::Null();
}

StatusCode DecodeError(uint32_t oid, std::string_view text, int32_t type_modifier = -1) {
  auto value = DecodePostgresText(oid, type_modifier, text);
  return value.ok() ? StatusCode::kOk : value.status().code();
}

constexpr int64_t kMicrosPerDay = 86400LL * 1000000;

TEST(PostgresValueKind, MapsTypesToLogicalKinds) {
  EXPECT_EQ(PostgresValueKind(type_oid::kInt2, -1), ValueKind::kInt);
  EXPECT_EQ(PostgresValueKind(type_oid::kInt8, -1), ValueKind::kInt);
  EXPECT_EQ(PostgresValueKind(type_oid::kNumeric, 1310730), ValueKind::kDecimal);
  EXPECT_EQ(PostgresValueKind(type_oid::kFloat4, -1), ValueKind::kFloat);
  EXPECT_EQ(PostgresValueKind(type_oid::kFloat8, -1), ValueKind::kDouble);
  EXPECT_EQ(PostgresValueKind(type_oid::kBpchar, 14), ValueKind::kText);
  EXPECT_EQ(PostgresValueKind(type_oid::kName, -1), ValueKind::kText);
  EXPECT_EQ(PostgresValueKind(type_oid::kBytea, -1), ValueKind::kBytes);
  EXPECT_EQ(PostgresValueKind(type_oid::kDate, -1), ValueKind::kDate);
  EXPECT_EQ(PostgresValueKind(type_oid::kTime, 6), ValueKind::kTime);
  EXPECT_EQ(PostgresValueKind(type_oid::kTimeTz, -1), ValueKind::kOther);
  EXPECT_EQ(PostgresValueKind(type_oid::kTimestamp, -1), ValueKind::kDateTime);
  EXPECT_EQ(PostgresValueKind(type_oid::kTimestampTz, -1), ValueKind::kTimestamp);
  EXPECT_EQ(PostgresValueKind(type_oid::kInterval, -1), ValueKind::kInterval);
  EXPECT_EQ(PostgresValueKind(type_oid::kJson, -1), ValueKind::kJson);
  EXPECT_EQ(PostgresValueKind(type_oid::kJsonb, -1), ValueKind::kJson);
  EXPECT_EQ(PostgresValueKind(type_oid::kUuid, -1), ValueKind::kUuid);
  EXPECT_EQ(PostgresValueKind(type_oid::kBool, -1), ValueKind::kBool);
  EXPECT_EQ(PostgresValueKind(1007, -1), ValueKind::kOther);  // int4[]
}

TEST(PostgresValueKind, BitsUpTo64WideAreBitsWiderOrUnboundedAreOther) {
  EXPECT_EQ(PostgresValueKind(type_oid::kBit, 1), ValueKind::kBits);
  EXPECT_EQ(PostgresValueKind(type_oid::kBit, 64), ValueKind::kBits);
  EXPECT_EQ(PostgresValueKind(type_oid::kBit, 65), ValueKind::kOther);
  EXPECT_EQ(PostgresValueKind(type_oid::kVarbit, 10), ValueKind::kBits);
  EXPECT_EQ(PostgresValueKind(type_oid::kVarbit, -1), ValueKind::kOther);
}

TEST(PostgresValueDecoder, Integers) {
  EXPECT_EQ(Decode(type_oid::kInt2, "-32768"), Value::Int(-32768));
  EXPECT_EQ(Decode(type_oid::kInt4, "2147483647"), Value::Int(2147483647));
  EXPECT_EQ(Decode(type_oid::kInt8, "-9223372036854775808"),
            Value::Int(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(Decode(type_oid::kOid, "4294967295"), Value::UInt(4294967295ULL));
  EXPECT_EQ(DecodeError(type_oid::kInt4, "12a"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kInt8, ""), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kInt8, "9223372036854775808"), StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, NumericKeepsEveryDigitInCanonicalForm) {
  const std::string many = "-12345678901234567890123456789.123456789012345678901234567891";
  EXPECT_EQ(Decode(type_oid::kNumeric, many), Value::Decimal(many));
  EXPECT_EQ(Decode(type_oid::kNumeric, many).text(), many);
  EXPECT_EQ(Decode(type_oid::kNumeric, "12.500000").text(), "12.5");
  EXPECT_EQ(Decode(type_oid::kNumeric, "0.000000").text(), "0");
  EXPECT_EQ(Decode(type_oid::kNumeric, "-0.000100").text(), "-0.0001");
}

TEST(PostgresValueDecoder, NumericSpecialValuesKeepTheirText) {
  for (const char* special : {"NaN", "Infinity", "-Infinity"}) {
    Value value = Decode(type_oid::kNumeric, special);
    EXPECT_EQ(value.kind(), ValueKind::kDecimal);
    EXPECT_EQ(value.text(), special);
  }
}

TEST(PostgresValueDecoder, FloatsAreExact) {
  EXPECT_EQ(Decode(type_oid::kFloat4, "1.1"), Value::Float(1.1f));
  EXPECT_EQ(Decode(type_oid::kFloat4, "3.4028235e+38"),
            Value::Float(std::numeric_limits<float>::max()));
  EXPECT_EQ(Decode(type_oid::kFloat8, "0.1"), Value::Double(0.1));
  EXPECT_EQ(Decode(type_oid::kFloat8, "1.7976931348623157e+308"),
            Value::Double(std::numeric_limits<double>::max()));
  EXPECT_EQ(Decode(type_oid::kFloat8, "5e-324"),
            Value::Double(std::numeric_limits<double>::denorm_min()));
  EXPECT_EQ(DecodeError(type_oid::kFloat8, "1.5x"), StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, NegativeZeroKeepsItsSign) {
  Value float_zero = Decode(type_oid::kFloat4, "-0");
  EXPECT_EQ(float_zero.double_value(), 0.0);
  EXPECT_TRUE(std::signbit(float_zero.double_value()));
  Value double_zero = Decode(type_oid::kFloat8, "-0");
  EXPECT_TRUE(std::signbit(double_zero.double_value()));
}

TEST(PostgresValueDecoder, FloatSpecialValues) {
  EXPECT_TRUE(std::isnan(Decode(type_oid::kFloat8, "NaN").double_value()));
  EXPECT_TRUE(std::isnan(Decode(type_oid::kFloat4, "NaN").double_value()));
  EXPECT_EQ(Decode(type_oid::kFloat8, "Infinity").double_value(),
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(Decode(type_oid::kFloat4, "-Infinity").double_value(),
            -std::numeric_limits<double>::infinity());
  EXPECT_EQ(Decode(type_oid::kFloat4, "-Infinity").kind(), ValueKind::kFloat);
}

TEST(PostgresValueDecoder, Booleans) {
  EXPECT_EQ(Decode(type_oid::kBool, "t"), Value::Bool(true));
  EXPECT_EQ(Decode(type_oid::kBool, "f"), Value::Bool(false));
  EXPECT_EQ(DecodeError(type_oid::kBool, "true"), StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, TextIsKeptByteForByteWithBpcharPadding) {
  EXPECT_EQ(Decode(type_oid::kText, "h\xC3\xA9 \xF0\x9F\x98\x80"),
            Value::Text("h\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_EQ(Decode(type_oid::kBpchar, "ab        ", 14), Value::Text("ab        "));
  EXPECT_EQ(Decode(type_oid::kVarchar, ""), Value::Text(""));
}

TEST(PostgresValueDecoder, ByteaHexDecodesNulAndHighBytes) {
  EXPECT_EQ(Decode(type_oid::kBytea, "\\x00ff10"), Value::Bytes(std::string("\x00\xff\x10", 3)));
  EXPECT_EQ(Decode(type_oid::kBytea, "\\xDEADbeef"), Value::Bytes("\xde\xad\xbe\xef"));
  EXPECT_EQ(Decode(type_oid::kBytea, "\\x"), Value::Bytes(""));
}

TEST(PostgresValueDecoder, ByteaEscapeFormIsAlsoRead) {
  EXPECT_EQ(Decode(type_oid::kBytea, "a\\000\\\\b\\377"),
            Value::Bytes(std::string("a\x00\\b\xff", 5)));
}

TEST(PostgresValueDecoder, MalformedByteaIsCorruption) {
  EXPECT_EQ(DecodeError(type_oid::kBytea, "\\x0"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kBytea, "\\x0g"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kBytea, "a\\00"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kBytea, "a\\400"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kBytea, "\\"), StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, Dates) {
  EXPECT_EQ(Decode(type_oid::kDate, "2024-02-29"), Value::Date(2024, 2, 29));
  EXPECT_EQ(Decode(type_oid::kDate, "0001-01-01"), Value::Date(1, 1, 1));
  EXPECT_EQ(Decode(type_oid::kDate, "10000-12-31"), Value::Date(10000, 12, 31));
}

TEST(PostgresValueDecoder, DateInfinitiesAndBcAreOther) {
  EXPECT_EQ(Decode(type_oid::kDate, "infinity"), Value::Other("infinity"));
  EXPECT_EQ(Decode(type_oid::kDate, "-infinity"), Value::Other("-infinity"));
  EXPECT_EQ(Decode(type_oid::kDate, "0044-03-15 BC"), Value::Other("0044-03-15 BC"));
  EXPECT_EQ(Decode(type_oid::kTimestamp, "infinity"), Value::Other("infinity"));
  EXPECT_EQ(Decode(type_oid::kTimestamp, "0044-03-15 12:00:00 BC"),
            Value::Other("0044-03-15 12:00:00 BC"));
}

TEST(PostgresValueDecoder, MalformedDatesAreCorruption) {
  EXPECT_EQ(DecodeError(type_oid::kDate, "2024-13-01"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kDate, "2024-1-01"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kDate, "24-01-01"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kDate, "2024-01-01x"), StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, TimesWithMicroseconds) {
  EXPECT_EQ(Decode(type_oid::kTime, "13:45:00.000001"),
            Value::Time((13 * 3600 + 45 * 60) * 1000000LL + 1));
  EXPECT_EQ(Decode(type_oid::kTime, "00:00:00.5"), Value::Time(500000));
  EXPECT_EQ(Decode(type_oid::kTime, "24:00:00"), Value::Time(kMicrosPerDay));
  EXPECT_EQ(DecodeError(type_oid::kTime, "24:00:01"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kTime, "12:60:00"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kTime, "12:00:00.1234567"), StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, TimestampWithoutZoneIsDateTime) {
  EXPECT_EQ(Decode(type_oid::kTimestamp, "2024-02-29 13:45:00.000001"),
            Value::DateTime(2024, 2, 29, (13 * 3600 + 45 * 60) * 1000000ULL + 1));
  EXPECT_EQ(Decode(type_oid::kTimestamp, "1999-12-31 23:59:59"),
            Value::DateTime(1999, 12, 31, 86399 * 1000000ULL));
  EXPECT_EQ(DecodeError(type_oid::kTimestamp, "1999-12-31T23:59:59"), StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, TimestampTzIsUtcMicroseconds) {
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "1970-01-01 00:00:00+00"), Value::Timestamp(0));
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "1969-12-31 23:59:59.999999+00"), Value::Timestamp(-1));
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "2024-02-29 13:45:00.000001+00"),
            Value::Timestamp(1709214300000001LL));
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "2000-01-01 00:00:00.123456+00"),
            Value::Timestamp(946684800123456LL));
}

TEST(PostgresValueDecoder, TimestampTzHonoursAnyOffset) {
  // The session is UTC, but a server forced to another zone must still decode right.
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "2024-02-29 19:15:00.000001+05:30"),
            Value::Timestamp(1709214300000001LL));
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "1969-12-31 19:00:00-05"), Value::Timestamp(0));
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "1970-01-01 00:09:21+00:09:21"), Value::Timestamp(0));
}

TEST(PostgresValueDecoder, TimestampTzBeforeChristAndInfinity) {
  // 1 BC is the astronomical year 0, a leap year: its last day is the day before 0001-01-01.
  const int64_t first_day_ad = -719162;
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "0001-12-31 00:00:00+00 BC"),
            Value::Timestamp((first_day_ad - 1) * kMicrosPerDay));
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "0001-01-01 00:00:00+00 BC"),
            Value::Timestamp((first_day_ad - 366) * kMicrosPerDay));
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "infinity"), Value::Other("infinity"));
  EXPECT_EQ(Decode(type_oid::kTimestampTz, "-infinity"), Value::Other("-infinity"));
}

TEST(PostgresValueDecoder, MalformedTimestampTzIsCorruption) {
  EXPECT_EQ(DecodeError(type_oid::kTimestampTz, "2024-02-29 13:45:00"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kTimestampTz, "2024-02-29 13:45:00+0"), StatusCode::kCorruption);
  EXPECT_EQ(DecodeError(type_oid::kTimestampTz, "2024-02-29 13:45:00+00 AD"),
            StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, CorruptionMessageNamesTypeAndShortensText) {
  auto value = DecodePostgresText(type_oid::kTimestampTz, -1, std::string(200, 'x'));
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.status().message().find("timestamptz"), std::string::npos);
  EXPECT_LT(value.status().message().size(), 150u);
}

TEST(PostgresValueDecoder, Bits) {
  EXPECT_EQ(Decode(type_oid::kBit, "10101", 5), Value::Bits(21, 5));
  EXPECT_EQ(Decode(type_oid::kVarbit, "0001", 10), Value::Bits(1, 4));
  EXPECT_EQ(Decode(type_oid::kBit, std::string(64, '1'), 64), Value::Bits(~0ULL, 64));
  EXPECT_EQ(Decode(type_oid::kBit, std::string(65, '1'), 65), Value::Other(std::string(65, '1')));
  EXPECT_EQ(Decode(type_oid::kVarbit, "101", -1), Value::Other("101"));
  EXPECT_EQ(DecodeError(type_oid::kBit, "102", 3), StatusCode::kCorruption);
}

TEST(PostgresValueDecoder, JsonUuidIntervalAndOthersKeepTheServerText) {
  EXPECT_EQ(Decode(type_oid::kJsonb, "{\"a\": [1, 2]}"), Value::Json("{\"a\": [1, 2]}"));
  EXPECT_EQ(Decode(type_oid::kJson, "{\"a\":1,  \"a\":2}"), Value::Json("{\"a\":1,  \"a\":2}"));
  EXPECT_EQ(Decode(type_oid::kUuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
  EXPECT_EQ(Decode(type_oid::kInterval, "1 year 2 mons 3 days 04:05:06.7"),
            Value::Interval("1 year 2 mons 3 days 04:05:06.7"));
  EXPECT_EQ(Decode(type_oid::kTimeTz, "13:45:00+02"), Value::Other("13:45:00+02"));
  EXPECT_EQ(Decode(1007, "{1,2,NULL}"), Value::Other("{1,2,NULL}"));
}

}  // namespace
}  // namespace tandem::connectors::postgres
