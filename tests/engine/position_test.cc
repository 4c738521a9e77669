#include "engine/position.h"

#include <gtest/gtest.h>

#include "engine/change_event.h"

namespace tandem::engine {
namespace {

Position MustParse(std::string_view text) {
  Result<Position> position = ParsePosition(text);
  EXPECT_TRUE(position.ok()) << text << ": " << position.status().ToString();
  return position.ok() ? *position : Position{};
}

std::strong_ordering MustCompare(const Position& a, const Position& b) {
  Result<std::strong_ordering> order = Compare(a, b);
  EXPECT_TRUE(order.ok()) << order.status().ToString();
  return order.ok() ? *order : std::strong_ordering::equal;
}

TEST(Position, SerializeRoundTripsEveryEngine) {
  const std::vector<Position> positions = {
      Position{},
      BinlogPosition{"mariadb-bin.000003", 1234, ""},
      BinlogPosition{"mariadb-bin.000003", 4, "0-1-42,1-2-7"},
      BinlogPosition{"binlog.000001", 157, "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"},
      Lsn{0x16B3748},
      Lsn{0xFFFFFFFFFFFFFFFFull},
      ReplicationOffset{"8de1c6a3f26c2b5e1d1c6c4d0e2b3a4f5c6d7e8f", 987654321},
      ReplicationOffset{"8de1c6a3f26c2b5e1d1c6c4d0e2b3a4f5c6d7e8f", 42, 15},
  };
  for (const Position& position : positions) {
    const std::string text = Serialize(position);
    EXPECT_EQ(MustParse(text), position) << text;
  }
}

TEST(Position, TextFormsAreAsDocumented) {
  EXPECT_EQ(Serialize(BinlogPosition{"mariadb-bin.000003", 1234, "0-1-42,1-2-7"}),
            "mysql:mariadb-bin.000003:1234;gtid=0-1-42,1-2-7");
  EXPECT_EQ(Serialize(BinlogPosition{"mariadb-bin.000003", 1234, ""}),
            "mysql:mariadb-bin.000003:1234");
  EXPECT_EQ(Serialize(Lsn{0x16B3748}), "pg:0/16B3748");
  EXPECT_EQ(Serialize(ReplicationOffset{"abc", 7}), "redis:abc:7");
  EXPECT_EQ(Serialize(ReplicationOffset{"abc", 7, 3}), "redis:abc:7;db=3");
  EXPECT_EQ(Serialize(Position{}), "");
}

TEST(Position, MalformedTextIsInvalidArgument) {
  for (std::string_view text :
       {"mysql:bin.000001", "mysql::12", "mysql:bin.000001:12x", "mysql:bin.000001:-1",
        "mysql:bin.000001:5;gtid=", "pg:16B3748", "pg:0/xyz", "redis:abc", "redis::5",
        "redis:abc:5.5", "redis:abc:5;db=", "redis:abc:5;db=-1", "oracle:1", "mysql"}) {
    Result<Position> position = ParsePosition(text);
    ASSERT_FALSE(position.ok()) << text;
    EXPECT_EQ(position.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(Position, BinlogOrdersByFileNumberThenOffset) {
  const Position a = BinlogPosition{"bin.000009", 900, ""};
  const Position b = BinlogPosition{"bin.000010", 4, ""};
  const Position c = BinlogPosition{"bin.000010", 120, "0-1-5"};
  EXPECT_EQ(MustCompare(a, b), std::strong_ordering::less);
  EXPECT_EQ(MustCompare(b, c), std::strong_ordering::less);
  EXPECT_EQ(MustCompare(c, a), std::strong_ordering::greater);
  EXPECT_EQ(MustCompare(c, c), std::strong_ordering::equal);
  // The number, not the text: bin.999999 is before bin.1000000.
  EXPECT_EQ(MustCompare(BinlogPosition{"bin.999999", 4, ""}, BinlogPosition{"bin.1000000", 4, ""}),
            std::strong_ordering::less);
}

TEST(Position, UnorderablePositionsAreRefused) {
  auto refused = [](const Position& a, const Position& b) {
    Result<std::strong_ordering> order = Compare(a, b);
    return !order.ok() && order.status().code() == StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(
      refused(BinlogPosition{"a-bin.000001", 4, ""}, BinlogPosition{"b-bin.000001", 4, ""}));
  EXPECT_TRUE(refused(BinlogPosition{"a-bin.000001", 4, ""}, Lsn{5}));
  EXPECT_TRUE(refused(ReplicationOffset{"x", 1}, ReplicationOffset{"y", 2}));
  EXPECT_TRUE(refused(Lsn{1}, ReplicationOffset{"x", 1}));
}

TEST(Position, LsnAndRedisOffsetsOrderNumerically) {
  EXPECT_EQ(MustCompare(Lsn{0xFFFFFFFF}, Lsn{0x100000000}), std::strong_ordering::less);
  EXPECT_EQ(MustCompare(ReplicationOffset{"x", 10}, ReplicationOffset{"x", 9}),
            std::strong_ordering::greater);
}

TEST(Position, NoPositionOrdersBeforeEveryPosition) {
  EXPECT_EQ(MustCompare(Position{}, Lsn{0}), std::strong_ordering::less);
  EXPECT_EQ(MustCompare(BinlogPosition{"bin.000001", 4, ""}, Position{}),
            std::strong_ordering::greater);
  EXPECT_EQ(MustCompare(Position{}, Position{}), std::strong_ordering::equal);
}

TEST(Lsn, FormatsAndParsesAsPostgresPrintsThem) {
  EXPECT_EQ(FormatLsn(Lsn{0x16B3748}), "0/16B3748");
  EXPECT_EQ(FormatLsn(Lsn{(0x16ull << 32) | 0xB374D848}), "16/B374D848");
  Result<Lsn> parsed = ParseLsn("16/B374D848");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->value, (0x16ull << 32) | 0xB374D848);
  Result<Lsn> lower = ParseLsn("0/16b3748");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(lower->value, 0x16B3748u);
  for (std::string_view bad : {"", "0/", "/1", "1", "123456789/0", "0/123456789", "g/1", "1/-1"}) {
    EXPECT_FALSE(ParseLsn(bad).ok()) << bad;
  }
}

TEST(ChangeKind, NamesEveryKind) {
  EXPECT_EQ(ChangeKindName(ChangeKind::kBegin), "begin");
  EXPECT_EQ(ChangeKindName(ChangeKind::kInsert), "insert");
  EXPECT_EQ(ChangeKindName(ChangeKind::kUpdate), "update");
  EXPECT_EQ(ChangeKindName(ChangeKind::kDelete), "delete");
  EXPECT_EQ(ChangeKindName(ChangeKind::kCommit), "commit");
  EXPECT_EQ(ChangeKindName(ChangeKind::kDdl), "ddl");
  EXPECT_EQ(ChangeKindName(ChangeKind::kHeartbeat), "heartbeat");
}

TEST(ChangeEvent, ApproximateBytesGrowsWithItsRows) {
  ChangeEvent small;
  small.kind = ChangeKind::kInsert;
  small.after = {Value::Int(1)};
  ChangeEvent large = small;
  large.after.push_back(Value::Text(std::string(10'000, 'x')));
  EXPECT_GT(ApproximateBytes(large), ApproximateBytes(small) + 10'000);
}

}  // namespace
}  // namespace tandem::engine
