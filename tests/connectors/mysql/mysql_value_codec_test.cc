#include "connectors/mysql/mysql_value_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tandem::connectors::mysql {
namespace {

using engine::Value;
using engine::ValueKind;

ResultColumn Column(enum_field_types type, unsigned int flags = 0, unsigned int charset = 45,
                    unsigned long length = 0) {
  ResultColumn column;
  column.name = "c";
  column.type = type;
  column.flags = flags;
  column.charset = charset;
  column.length = length;
  return column;
}

MYSQL_TIME Time(unsigned year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                unsigned second, unsigned long micros, bool negative = false) {
  MYSQL_TIME time{};
  time.year = year;
  time.month = month;
  time.day = day;
  time.hour = hour;
  time.minute = minute;
  time.second = second;
  time.second_part = micros;
  time.neg = negative;
  return time;
}

TEST(MySqlNaturalKind, FollowsWireTypeFlagsAndCharset) {
  EXPECT_EQ(NaturalKind(Column(MYSQL_TYPE_LONG)), ValueKind::kInt);
  EXPECT_EQ(NaturalKind(Column(MYSQL_TYPE_LONGLONG, UNSIGNED_FLAG)), ValueKind::kUInt);
  EXPECT_EQ(NaturalKind(Column(MYSQL_TYPE_YEAR, UNSIGNED_FLAG)), ValueKind::kInt);
  EXPECT_EQ(NaturalKind(Column(MYSQL_TYPE_VAR_STRING)), ValueKind::kText);
  EXPECT_EQ(NaturalKind(Column(MYSQL_TYPE_BLOB, 0, 63)), ValueKind::kBytes);
  EXPECT_EQ(NaturalKind(Column(MYSQL_TYPE_NEWDECIMAL)), ValueKind::kDecimal);
  EXPECT_EQ(NaturalKind(Column(MYSQL_TYPE_BIT)), ValueKind::kBits);
  EXPECT_EQ(NaturalKind(Column(MYSQL_TYPE_GEOMETRY, 0, 63)), ValueKind::kBytes);
  ResultColumn json = Column(MYSQL_TYPE_BLOB);
  json.json = true;
  EXPECT_EQ(NaturalKind(json), ValueKind::kJson);
}

TEST(MySqlFetchBufferFor, RefusesWireTypesThatCannotProduceTheKind) {
  EXPECT_EQ(*FetchBufferFor(Column(MYSQL_TYPE_LONG, UNSIGNED_FLAG), ValueKind::kUInt),
            FetchBuffer::kUnsignedInteger);
  EXPECT_EQ(*FetchBufferFor(Column(MYSQL_TYPE_TIMESTAMP), ValueKind::kTimestamp),
            FetchBuffer::kTemporal);
  EXPECT_EQ(*FetchBufferFor(Column(MYSQL_TYPE_BLOB), ValueKind::kJson), FetchBuffer::kBytes);
  EXPECT_EQ(*FetchBufferFor(Column(MYSQL_TYPE_LONG), ValueKind::kOther), FetchBuffer::kBytes);
  const auto mismatch = FetchBufferFor(Column(MYSQL_TYPE_VAR_STRING), ValueKind::kInt);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(FetchBufferFor(Column(MYSQL_TYPE_DATETIME), ValueKind::kTimestamp).ok());
}

TEST(MySqlDecodeInteger, ExtremesAndSignedness) {
  EXPECT_EQ(*DecodeInteger(std::numeric_limits<uint64_t>::max(), true, ValueKind::kUInt),
            Value::UInt(18446744073709551615ULL));
  EXPECT_EQ(*DecodeInteger(static_cast<uint64_t>(std::numeric_limits<int64_t>::min()), false,
                           ValueKind::kInt),
            Value::Int(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(*DecodeInteger(2155, true, ValueKind::kInt), Value::Int(2155));  // YEAR
  EXPECT_FALSE(DecodeInteger(std::numeric_limits<uint64_t>::max(), true, ValueKind::kInt).ok());
  EXPECT_FALSE(DecodeInteger(static_cast<uint64_t>(-1), false, ValueKind::kUInt).ok());
}

TEST(MySqlDecodeTemporal, DatesTimesAndZeroValues) {
  EXPECT_EQ(*DecodeTemporal(Time(2024, 2, 29, 0, 0, 0, 0), ValueKind::kDate),
            Value::Date(2024, 2, 29));
  EXPECT_EQ(*DecodeTemporal(Time(0, 0, 0, 0, 0, 0, 0), ValueKind::kDate), Value::Date(0, 0, 0));
  EXPECT_EQ(*DecodeTemporal(Time(0, 0, 0, 0, 0, 0, 0), ValueKind::kDateTime),
            Value::DateTime(0, 0, 0, 0));
  EXPECT_EQ(*DecodeTemporal(Time(2024, 2, 29, 13, 45, 0, 1), ValueKind::kDateTime),
            Value::DateTime(2024, 2, 29, (13 * 3600 + 45 * 60) * 1000000ULL + 1));
  EXPECT_EQ(*DecodeTemporal(Time(0, 0, 0, 838, 59, 59, 0, true), ValueKind::kTime),
            Value::Time(-(838LL * 3600 + 59 * 60 + 59) * 1000000));
  EXPECT_EQ(*DecodeTemporal(Time(0, 0, 0, 100, 0, 0, 500000), ValueKind::kTime),
            Value::Time(100LL * 3600 * 1000000 + 500000));
}

TEST(MySqlDecodeTemporal, TimestampsAreUtcMicrosSinceEpoch) {
  EXPECT_EQ(*DecodeTemporal(Time(1970, 1, 1, 0, 0, 1, 0), ValueKind::kTimestamp),
            Value::Timestamp(1000000));
  EXPECT_EQ(*DecodeTemporal(Time(2038, 1, 19, 3, 14, 7, 999999), ValueKind::kTimestamp),
            Value::Timestamp(2147483647LL * 1000000 + 999999));
  EXPECT_EQ(*DecodeTemporal(Time(0, 0, 0, 0, 0, 0, 0), ValueKind::kTimestamp), Value::Timestamp(0));
}

TEST(MySqlDecodeBytes, BitsAreBigEndianWithTheFieldWidth) {
  const ResultColumn bit10 = Column(MYSQL_TYPE_BIT, 0, 63, 10);
  EXPECT_EQ(*DecodeBytes(std::string("\x02\xaa", 2), ValueKind::kBits, bit10),
            Value::Bits(0x2aa, 10));
  const ResultColumn bit64 = Column(MYSQL_TYPE_BIT, 0, 63, 64);
  EXPECT_EQ(*DecodeBytes(std::string(8, '\xff'), ValueKind::kBits, bit64),
            Value::Bits(std::numeric_limits<uint64_t>::max(), 64));
  EXPECT_FALSE(DecodeBytes(std::string(9, '\x01'), ValueKind::kBits, bit64).ok());
}

TEST(MySqlDecodeBytes, TextBytesDecimalJson) {
  const ResultColumn text = Column(MYSQL_TYPE_VAR_STRING);
  EXPECT_EQ(*DecodeBytes("caf\xc3\xa9 \xf0\x9f\x98\x80", ValueKind::kText, text),
            Value::Text("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_EQ(*DecodeBytes(std::string("\0\xff\0", 3), ValueKind::kBytes, text),
            Value::Bytes(std::string("\0\xff\0", 3)));
  EXPECT_EQ(*DecodeBytes("-12.345000", ValueKind::kDecimal, text), Value::Decimal("-12.345"));
  EXPECT_EQ(DecodeBytes("-12.345000", ValueKind::kDecimal, text)->text(), "-12.345");
  EXPECT_EQ(*DecodeBytes("{\"a\": 1}", ValueKind::kJson, text), Value::Json("{\"a\": 1}"));
}

TEST(MySqlTimeFromValue, EncodesEveryTemporalKind) {
  MYSQL_TIME date = TimeFromValue(Value::Date(2024, 2, 29));
  EXPECT_EQ(date.year, 2024u);
  EXPECT_EQ(date.month, 2u);
  EXPECT_EQ(date.day, 29u);
  EXPECT_EQ(date.time_type, MYSQL_TIMESTAMP_DATE);

  MYSQL_TIME time = TimeFromValue(Value::Time(-(838LL * 3600 + 59 * 60 + 59) * 1000000 - 5));
  EXPECT_TRUE(time.neg);
  EXPECT_EQ(time.day * 24 + time.hour, 838u);  // the protocol carries days beside hours
  EXPECT_LT(time.hour, 24u);
  EXPECT_EQ(time.minute, 59u);
  EXPECT_EQ(time.second, 59u);
  EXPECT_EQ(time.second_part, 5u);

  MYSQL_TIME timestamp = TimeFromValue(Value::Timestamp(2147483647LL * 1000000 + 999999));
  EXPECT_EQ(timestamp.year, 2038u);
  EXPECT_EQ(timestamp.month, 1u);
  EXPECT_EQ(timestamp.day, 19u);
  EXPECT_EQ(timestamp.hour, 3u);
  EXPECT_EQ(timestamp.minute, 14u);
  EXPECT_EQ(timestamp.second, 7u);
  EXPECT_EQ(timestamp.second_part, 999999u);

  // Round trip through the decoder.
  const Value datetime = Value::DateTime(1000, 1, 1, 86399999999ULL);
  EXPECT_EQ(*DecodeTemporal(TimeFromValue(datetime), ValueKind::kDateTime), datetime);
  const Value ts = Value::Timestamp(1709214300000001);
  EXPECT_EQ(*DecodeTemporal(TimeFromValue(ts), ValueKind::kTimestamp), ts);
}

TEST(MySqlParamBinder, BindsEachKindWithItsBufferType) {
  const std::vector<Value> params = {Value::Int(-5),
                                     Value::UInt(18446744073709551615ULL),
                                     Value::Decimal("1.50"),
                                     Value::Text("caf\xc3\xa9"),
                                     Value::Bytes(std::string("\0\x01", 2)),
                                     Value::Double(-0.0),
                                     Value::Float(1.5f),
                                     Value::DateTime(2024, 2, 29, 1),
                                     Value::Null()};
  ParamBinder binder(params);
  ASSERT_EQ(binder.size(), params.size());
  MYSQL_BIND* binds = binder.binds();
  EXPECT_EQ(binds[0].buffer_type, MYSQL_TYPE_LONGLONG);
  EXPECT_EQ(*static_cast<int64_t*>(binds[0].buffer), -5);
  EXPECT_EQ(binds[1].buffer_type, MYSQL_TYPE_LONGLONG);
  EXPECT_TRUE(binds[1].is_unsigned);
  EXPECT_EQ(*static_cast<uint64_t*>(binds[1].buffer), 18446744073709551615ULL);
  EXPECT_EQ(binds[2].buffer_type, MYSQL_TYPE_NEWDECIMAL);
  EXPECT_EQ(std::string(static_cast<char*>(binds[2].buffer), *binds[2].length), "1.5");
  EXPECT_EQ(binds[3].buffer_type, MYSQL_TYPE_STRING);
  EXPECT_EQ(binds[4].buffer_type, MYSQL_TYPE_BLOB);
  EXPECT_EQ(std::string(static_cast<char*>(binds[4].buffer), *binds[4].length),
            std::string("\0\x01", 2));
  EXPECT_EQ(binds[5].buffer_type, MYSQL_TYPE_DOUBLE);
  EXPECT_TRUE(std::signbit(*static_cast<double*>(binds[5].buffer)));
  EXPECT_EQ(binds[6].buffer_type, MYSQL_TYPE_FLOAT);
  EXPECT_EQ(*static_cast<float*>(binds[6].buffer), 1.5f);
  EXPECT_EQ(binds[7].buffer_type, MYSQL_TYPE_DATETIME);
  EXPECT_EQ(static_cast<MYSQL_TIME*>(binds[7].buffer)->second_part, 1u);
  EXPECT_EQ(binds[8].buffer_type, MYSQL_TYPE_NULL);
  EXPECT_TRUE(*binds[8].is_null);
}

}  // namespace
}  // namespace tandem::connectors::mysql
