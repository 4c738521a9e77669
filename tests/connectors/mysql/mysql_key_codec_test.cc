// The copy-progress key encoding: exact round trips of every value kind, and corrupt input turned
// into kCorruption, never a read past the end.

#include "connectors/mysql/mysql_key_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tandem::connectors::mysql {
namespace {

using engine::Row;
using engine::StatusCode;
using engine::Value;

Row EveryKind() {
  return {Value::Null(),
          Value::Bool(true),
          Value::Int(std::numeric_limits<int64_t>::min()),
          Value::UInt(std::numeric_limits<uint64_t>::max()),
          Value::Float(-0.1f),
          Value::Double(-0.0),
          Value::Double(std::numeric_limits<double>::denorm_min()),
          Value::Decimal("-12345678901234567890.0123456789"),
          Value::Text("a\xf0\x9f\x98\x80 "),
          Value::Bytes(std::string("\0\xff\0", 3)),
          Value::Date(0, 0, 0),
          Value::Date(2024, 2, 29),
          Value::Time(-(838LL * 3600 + 59 * 60 + 59) * 1000000),
          Value::DateTime(9999, 12, 31, 86399999999ULL),
          Value::Timestamp(1709214300123456),
          Value::Json("{\"a\": 1}"),
          Value::Bits(0x2aa, 10),
          Value::Uuid("123e4567-e89b-12d3-a456-426614174000"),
          Value::Interval("1 day"),
          Value::Other("2001:db8::1"),
          Value::Text("")};
}

TEST(MySqlKeyCodec, EveryKindRoundTripsExactly) {
  const Row key = EveryKind();
  auto decoded = DecodeKey(EncodeKey(key));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, key);
  EXPECT_TRUE(std::signbit((*decoded)[5].double_value()));  // -0.0 keeps its sign
}

TEST(MySqlKeyCodec, EmptyKeyIsEmpty) {
  auto decoded = DecodeKey(EncodeKey({}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(MySqlKeyCodec, EveryTruncationIsCorruptionNeverACrash) {
  const std::string bytes = EncodeKey(EveryKind());
  // Cutting inside a value must fail; cutting between values yields a shorter key, so the copier
  // never stores partial encodings (it writes whole values in one bound parameter).
  int failures = 0;
  for (size_t length = 0; length < bytes.size(); ++length) {
    auto decoded = DecodeKey(std::string_view(bytes).substr(0, length));
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
      ++failures;
    } else {
      EXPECT_LT(decoded->size(), EveryKind().size());
    }
  }
  EXPECT_GT(failures, static_cast<int>(bytes.size() / 2));
}

TEST(MySqlKeyCodec, UnknownKindIsCorruption) {
  auto decoded = DecodeKey(std::string("\x7f", 1));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  auto huge_text = DecodeKey(std::string("\x07\xff\xff\xff\xff", 5));  // kText, 4 GiB long
  ASSERT_FALSE(huge_text.ok());
  EXPECT_EQ(huge_text.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace tandem::connectors::mysql
