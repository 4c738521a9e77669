// Unit tests (no server) for connectors/postgres/postgres_value_encoder.h: parameter texts, and
// that every value the decoder produces survives encode -> decode unchanged (so a key read by
// ReadRange can bound the next range exactly).
#include "connectors/postgres/postgres_value_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "connectors/postgres/postgres_value_decoder.h"

namespace tandem::connectors::postgres {
namespace {

using engine::StatusCode;
using engine::Value;

std::string Encode(const Value& value) {
  auto param = EncodePostgresParam(value);
  EXPECT_TRUE(param.ok()) << param.status().ToString();
  EXPECT_TRUE(param.ok() && param->has_value());
  return param.ok() && param->has_value() ? **param : "";
}

TEST(PostgresValueEncoder, NullIsSqlNull) {
  auto param = EncodePostgresParam(Value::Null());
  ASSERT_TRUE(param.ok());
  EXPECT_FALSE(param->has_value());
}

TEST(PostgresValueEncoder, ScalarTexts) {
  EXPECT_EQ(Encode(Value::Bool(true)), "t");
  EXPECT_EQ(Encode(Value::Int(-42)), "-42");
  EXPECT_EQ(Encode(Value::UInt(18446744073709551615ULL)), "18446744073709551615");
  EXPECT_EQ(Encode(Value::Decimal("001.500")), "1.5");
  EXPECT_EQ(Encode(Value::Text("it's \"quoted\"")), "it's \"quoted\"");
}

TEST(PostgresValueEncoder, FloatsUseShortestExactDigits) {
  EXPECT_EQ(Encode(Value::Float(1.1f)), "1.1");
  EXPECT_EQ(Encode(Value::Double(0.1)), "0.1");
  EXPECT_EQ(Encode(Value::Double(-0.0)), "-0");
  EXPECT_EQ(Encode(Value::Double(std::numeric_limits<double>::quiet_NaN())), "NaN");
  EXPECT_EQ(Encode(Value::Float(-std::numeric_limits<float>::infinity())), "-Infinity");
}

TEST(PostgresValueEncoder, BytesAsHex) {
  EXPECT_EQ(Encode(Value::Bytes(std::string("\x00\xff\x10", 3))), "\\x00ff10");
  EXPECT_EQ(Encode(Value::Bytes("")), "\\x");
}

TEST(PostgresValueEncoder, TemporalTexts) {
  EXPECT_EQ(Encode(Value::Date(2024, 2, 29)), "2024-02-29");
  EXPECT_EQ(Encode(Value::Time(1)), "00:00:00.000001");
  EXPECT_EQ(Encode(Value::Time(-3600000000LL)), "-01:00:00.000000");
  EXPECT_EQ(Encode(Value::DateTime(2024, 2, 29, 1)), "2024-02-29 00:00:00.000001");
  EXPECT_EQ(Encode(Value::Timestamp(0)), "1970-01-01 00:00:00.000000+00");
  EXPECT_EQ(Encode(Value::Timestamp(-1)), "1969-12-31 23:59:59.999999+00");
  EXPECT_EQ(Encode(Value::Timestamp(1709214300000001LL)), "2024-02-29 13:45:00.000001+00");
}

TEST(PostgresValueEncoder, TimestampBeforeChristUsesBcSuffix) {
  const int64_t first_day_ad = -719162;
  EXPECT_EQ(Encode(Value::Timestamp((first_day_ad - 1) * 86400LL * 1000000)),
            "0001-12-31 00:00:00.000000+00 BC");
}

TEST(PostgresValueEncoder, Bits) {
  EXPECT_EQ(Encode(Value::Bits(21, 5)), "10101");
  EXPECT_EQ(Encode(Value::Bits(1, 4)), "0001");
}

TEST(PostgresValueEncoder, RefusesWhatPostgresCannotHold) {
  EXPECT_EQ(EncodePostgresParam(Value::Text(std::string("a\0b", 3))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodePostgresParam(Value::Date(0, 0, 0)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PostgresValueEncoder, DecodedValuesRoundTrip) {
  // (type OID, modifier, server text) as the server prints them.
  const std::vector<std::tuple<uint32_t, int32_t, std::string>> samples = {
      {type_oid::kInt8, -1, "-9223372036854775808"},
      {type_oid::kNumeric, -1, "123456789012345678901234567890.000000000000000000000001"},
      {type_oid::kNumeric, -1, "NaN"},
      {type_oid::kFloat4, -1, "1.1"},
      {type_oid::kFloat4, -1, "-0"},
      {type_oid::kFloat4, -1, "1e-45"},
      {type_oid::kFloat8, -1, "0.30000000000000004"},
      {type_oid::kFloat8, -1, "-Infinity"},
      {type_oid::kBool, -1, "f"},
      {type_oid::kText, -1, "h\xC3\xA9 \xF0\x9F\x98\x80"},
      {type_oid::kBpchar, 14, "ab        "},
      {type_oid::kBytea, -1, "\\x00ff00"},
      {type_oid::kDate, -1, "0001-01-01"},
      {type_oid::kDate, -1, "294276-12-31"},
      {type_oid::kTime, 10, "23:59:59.999999"},
      {type_oid::kTimestamp, -1, "2024-02-29 13:45:00.000001"},
      {type_oid::kTimestampTz, -1, "2024-02-29 13:45:00.000001+00"},
      {type_oid::kTimestampTz, -1, "1900-03-01 00:00:00.5+00"},
      {type_oid::kTimestampTz, -1, "4713-01-01 00:00:00+00 BC"},
      {type_oid::kUuid, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
      {type_oid::kJsonb, -1, "{\"a\": 1}"},
      {type_oid::kBit, 5, "00101"},
      {type_oid::kInterval, -1, "1 day 02:00:00"},
      {1007, -1, "{1,2}"},
  };
  for (const auto& [oid, modifier, text] : samples) {
    auto value = DecodePostgresText(oid, modifier, text);
    ASSERT_TRUE(value.ok()) << text << ": " << value.status().ToString();
    auto param = EncodePostgresParam(*value);
    ASSERT_TRUE(param.ok() && param->has_value()) << text;
    auto again = DecodePostgresText(oid, modifier, **param);
    ASSERT_TRUE(again.ok()) << text << " -> " << **param << ": " << again.status().ToString();
    if (value->kind() == engine::ValueKind::kFloat || value->kind() == engine::ValueKind::kDouble) {
      EXPECT_TRUE(again->double_value() == value->double_value() ||
                  (std::isnan(again->double_value()) && std::isnan(value->double_value())))
          << text;
      EXPECT_EQ(std::signbit(again->double_value()), std::signbit(value->double_value())) << text;
    } else {
      EXPECT_EQ(*again, *value) << text << " -> " << **param;
    }
  }
}

}  // namespace
}  // namespace tandem::connectors::postgres
