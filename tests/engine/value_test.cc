#include "engine/value.h"

#include <gtest/gtest.h>

#include "engine/civil_time.h"
#include "engine/key_range.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::engine {
namespace {

TEST(CanonicalDecimal, EqualNumbersHaveOneSpelling) {
  EXPECT_EQ(CanonicalDecimal("001.500"), "1.5");
  EXPECT_EQ(CanonicalDecimal("+1.50"), "1.5");
  EXPECT_EQ(CanonicalDecimal("1.5"), "1.5");
  EXPECT_EQ(CanonicalDecimal("-0.000"), "0");
  EXPECT_EQ(CanonicalDecimal("0.000100"), "0.0001");
  EXPECT_EQ(CanonicalDecimal("-12.000000"), "-12");
  EXPECT_EQ(CanonicalDecimal(".5"), "0.5");
  EXPECT_EQ(CanonicalDecimal("12345678901234567890.123456"), "12345678901234567890.123456");
}

TEST(CanonicalDecimal, NonDecimalTextIsKept) {
  EXPECT_EQ(CanonicalDecimal("NaN"), "NaN");
  EXPECT_EQ(CanonicalDecimal("1e5"), "1e5");
  EXPECT_EQ(CanonicalDecimal(""), "");
}

TEST(Value, EqualityIsByKindAndPayload) {
  EXPECT_EQ(Value::Decimal("1.50"), Value::Decimal("1.5"));
  EXPECT_NE(Value::Text(""), Value::Null());
  EXPECT_NE(Value::Text("a"), Value::Bytes("a"));
  EXPECT_NE(Value::Int(1), Value::UInt(1));
  EXPECT_NE(Value::DateTime(2024, 1, 1, 1), Value::DateTime(2024, 1, 1, 2));
}

TEST(Value, DisplayStrings) {
  EXPECT_EQ(Value::Null().ToDisplayString(), "NULL");
  EXPECT_EQ(Value::Bytes(std::string("\0\xff", 2)).ToDisplayString(), "0x00ff");
  EXPECT_EQ(Value::Date(2024, 2, 29).ToDisplayString(), "2024-02-29");
  EXPECT_EQ(Value::DateTime(2024, 2, 29, 49500000001ULL).ToDisplayString(),
            "2024-02-29 13:45:00.000001");
  EXPECT_EQ(Value::Time(-(3600LL * 1000000 * 30 + 1)).ToDisplayString(), "-30:00:00.000001");
  EXPECT_EQ(Value::Timestamp(0).ToDisplayString(), "1970-01-01 00:00:00.000000+00");
  EXPECT_EQ(Value::Timestamp(-1).ToDisplayString(), "1969-12-31 23:59:59.999999+00");
  EXPECT_EQ(Value::Bits(5, 4).ToDisplayString(), "b'0101'");
  EXPECT_EQ(Value::Double(0.1).ToDisplayString(), "0.10000000000000001");
}

TEST(CivilTime, DaysRoundTripAcrossEras) {
  for (int64_t days : {-719468LL, -1LL, 0LL, 1LL, 11016LL, 19782LL, 2932896LL}) {
    int64_t year = 0, month = 0, day = 0;
    CivilFromDays(days, &year, &month, &day);
    EXPECT_EQ(DaysFromCivil(year, month, day), days);
  }
  int64_t year = 0, month = 0, day = 0;
  CivilFromDays(-1, &year, &month, &day);
  EXPECT_EQ(year * 10000 + month * 100 + day, 19691231);
}

TEST(KeyRange, ToStringShowsBoundKinds) {
  KeyRange range;
  EXPECT_EQ(range.ToString(), "(-inf, +inf)");
  range.lower = KeyBound{{Value::Int(1)}, false};
  range.upper = KeyBound{{Value::Int(9)}, true};
  EXPECT_EQ(range.ToString(), "(1, 9]");
  range.lower = KeyBound{{Value::Int(1), Value::Text("a")}, true};
  EXPECT_EQ(range.ToString(), "[(1,a), 9]");
}

TEST(TableSchema, IdentifyingKeyPrefersPrimaryThenNotNullUnique) {
  TableSchema schema;
  schema.columns = {{"a"}, {"b"}};
  EXPECT_EQ(schema.IdentifyingKey(), nullptr);
  schema.keys.push_back({"u_nullable", {1}, false, false});
  EXPECT_EQ(schema.IdentifyingKey(), nullptr);
  schema.keys.push_back({"u", {1}, false, true});
  EXPECT_EQ(schema.IdentifyingKey()->name, "u");
  schema.keys.push_back({"PRIMARY", {0}, true, true});
  EXPECT_EQ(schema.IdentifyingKey()->name, "PRIMARY");
  EXPECT_EQ(schema.ColumnIndex("b"), 1);
  EXPECT_EQ(schema.ColumnIndex("zz"), -1);
}

Result<int> Half(int value) {
  if (value % 2 != 0) {
    return InvalidArgument(std::to_string(value) + " is odd");
  }
  return value / 2;
}

Result<int> Quarter(int value) {
  TANDEM_ASSIGN_OR_RETURN(int half, Half(value));
  TANDEM_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckQuarter(int value) {
  TANDEM_RETURN_IF_ERROR_CONTEXT(Quarter(value), "quartering " + std::to_string(value));
  return Status::Ok();
}

TEST(Status, MacrosPropagateErrorsWithContext) {
  EXPECT_EQ(*Quarter(8), 2);
  Status status = CheckQuarter(6);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "quartering 6: 3 is odd");
  EXPECT_TRUE(CheckQuarter(4).ok());
}

TEST(Status, RetryableCodes) {
  EXPECT_TRUE(ConnectionFailed("x").retryable());
  EXPECT_TRUE(Timeout("x").retryable());
  EXPECT_FALSE(AuthenticationFailed("x").retryable());
  EXPECT_FALSE(Corruption("x").retryable());
}

}  // namespace
}  // namespace tandem::engine
