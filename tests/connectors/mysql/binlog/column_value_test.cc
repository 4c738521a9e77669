// Byte-level tests of the column, decimal, temporal, JSON and small-event decoders on bytes built
// by hand from the formats documented in their headers.

#include "connectors/mysql/binlog/column_value.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "connectors/mysql/binlog/compressed_payload.h"
#include "connectors/mysql/binlog/decimal_value.h"
#include "connectors/mysql/binlog/gtid_events.h"
#include "connectors/mysql/binlog/mysql_json.h"
#include "connectors/mysql/binlog/query_event.h"
#include "connectors/mysql/binlog/temporal_value.h"

namespace tandem::connectors::mysql::binlog {
namespace {

using engine::Value;
using engine::ValueKind;

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(ByteReader, ShortReadIsCorruptionNamingTheField) {
  const std::string data = Bytes({1, 2, 3});
  ByteReader reader(data, "test event");
  auto value = reader.U32("length");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), engine::StatusCode::kCorruption);
  EXPECT_NE(value.status().message().find("test event"), std::string::npos);
  EXPECT_NE(value.status().message().find("length"), std::string::npos);
  EXPECT_EQ(reader.offset(), 0u);  // nothing consumed
}

TEST(ByteReader, PackedIntegersOfEveryWidth) {
  const std::string data =
      Bytes({0xfa, 0xfc, 0x34, 0x12, 0xfd, 0x56, 0x34, 0x12, 0xfe, 1, 0, 0, 0, 0, 0, 0, 0x80});
  ByteReader reader(data, "packed");
  EXPECT_EQ(*reader.PackedInt("a"), 0xfau);
  EXPECT_EQ(*reader.PackedInt("b"), 0x1234u);
  EXPECT_EQ(*reader.PackedInt("c"), 0x123456u);
  EXPECT_EQ(*reader.PackedInt("d"), 0x8000000000000001u);
  EXPECT_TRUE(reader.empty());
  const std::string null_marker = Bytes({0xfb});
  ByteReader bad(null_marker, "packed");
  EXPECT_FALSE(bad.PackedInt("e").ok());
}

TEST(DecimalValue, DocumentedExamples) {
  // MySQL's documentation: 1234567890.1234 as DECIMAL(14,4).
  const std::string positive = Bytes({0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2});
  ByteReader reader(positive, "decimal");
  EXPECT_EQ(*ReadDecimal(reader, 14, 4), "1234567890.1234");
  // -1234567890.1234: every byte inverted.
  std::string negative = positive;
  for (char& c : negative) c = static_cast<char>(~c);
  ByteReader negative_reader(negative, "decimal");
  EXPECT_EQ(*ReadDecimal(negative_reader, 14, 4), "-1234567890.1234");
  EXPECT_EQ(DecimalBinarySize(20, 6), 10u);
  EXPECT_EQ(DecimalBinarySize(65, 30), 30u);
}

TEST(DecimalValue, GroupOutOfRangeIsCorruption) {
  // DECIMAL(9,0): one 4-byte group; 0x3B9ACA00 = 1,000,000,000 does not fit 9 digits.
  const std::string data = Bytes({0x80 | 0x3B, 0x9A, 0xCA, 0x00});
  ByteReader reader(data, "decimal");
  auto value = ReadDecimal(reader, 9, 0);
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), engine::StatusCode::kCorruption);
}

TEST(TemporalValue, Time2NegativeWithFractionBorrows) {
  // -00:00:01.5 as TIME(3): intpart -2 (after borrow) stored as 0x800000 - 2, fraction
  // 0x10000 - 5000.
  const std::string data = Bytes({0x7F, 0xFF, 0xFE, 0xEC, 0x78});
  ByteReader reader(data, "time");
  EXPECT_EQ(*ReadTime2(reader, 3), Value::Time(-1500000));
}

TEST(TemporalValue, DateTime2AndTimestamp2) {
  // 2024-02-29 13:45:07.000001 DATETIME(6): ym = 2024*13+2, ymd = ym<<5|29, hms = 13<<12|45<<6|7.
  const uint64_t ymd = (2024ull * 13 + 2) << 5 | 29;
  const uint64_t packed = (ymd << 17 | (13u << 12 | 45u << 6 | 7u)) + 0x8000000000ull;
  std::string data;
  for (int i = 4; i >= 0; --i) data.push_back(static_cast<char>((packed >> (8 * i)) & 0xff));
  data += Bytes({0x00, 0x00, 0x01});
  ByteReader reader(data, "datetime");
  EXPECT_EQ(*ReadDateTime2(reader, 6),
            Value::DateTime(2024, 2, 29, (13 * 3600 + 45 * 60 + 7) * 1000000ull + 1));
  const std::string ts = Bytes({0x65, 0x00, 0x00, 0x00, 0x63});  // 1694498816 s + 0.99
  ByteReader ts_reader(ts, "timestamp");
  EXPECT_EQ(*ReadTimestamp2(ts_reader, 2), Value::Timestamp(1694498816ll * 1000000 + 990000));
}

TEST(TemporalValue, OutOfRangeFieldsAreCorruption) {
  const std::string bad_fraction = Bytes({0x65, 0x00, 0x00, 0x00, 0x64});  // 100 hundredths
  ByteReader reader(bad_fraction, "timestamp");
  EXPECT_FALSE(ReadTimestamp2(reader, 2).ok());
  const std::string bad_month = Bytes({0xFF, 0x01, 0x00});  // month 15
  ByteReader date_reader(bad_month, "date");
  EXPECT_FALSE(ReadDate(date_reader).ok());
}

BinlogColumn MakeColumn(ColumnType type, uint32_t max_length = 0) {
  BinlogColumn column;
  column.type = type;
  column.max_length = max_length;
  return column;
}

engine::Column Catalog(std::string name, std::string type, ValueKind kind,
                       std::string charset = "") {
  engine::Column column;
  column.name = std::move(name);
  column.declared_type = std::move(type);
  column.kind = kind;
  column.charset = std::move(charset);
  return column;
}

TEST(ColumnValue, EnumAndSetLabelsComeFromTheDeclaredType) {
  auto labels = ParseEnumLabels("enum('a','it''s','x,y')");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (std::vector<std::string>{"a", "it's", "x,y"}));
  EXPECT_FALSE(ParseEnumLabels("enum('a'").ok());

  auto plan = PlanColumn(MakeColumn(ColumnType::kSet, 1),
                         Catalog("s", "set('r','g','b')", ValueKind::kText));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const std::string members = Bytes({0x05});
  ByteReader reader(members, "set");
  EXPECT_EQ(*ReadColumnValue(reader, *plan), Value::Text("r,b"));
  const std::string beyond = Bytes({0x08});
  ByteReader beyond_reader(beyond, "set");
  EXPECT_FALSE(ReadColumnValue(beyond_reader, *plan).ok());

  auto enum_plan =
      PlanColumn(MakeColumn(ColumnType::kEnum, 1), Catalog("e", "enum('a','b')", ValueKind::kText));
  ASSERT_TRUE(enum_plan.ok());
  const std::string index3 = Bytes({3});
  ByteReader enum_reader(index3, "enum");
  EXPECT_FALSE(ReadColumnValue(enum_reader, *enum_plan).ok());
}

TEST(ColumnValue, StringLongerThanItsMaximumIsCorruption) {
  auto plan = PlanColumn(MakeColumn(ColumnType::kVarchar, 10),
                         Catalog("v", "varchar(10)", ValueKind::kText, "utf8mb4"));
  ASSERT_TRUE(plan.ok());
  const std::string data = Bytes({11}) + std::string(11, 'x');
  ByteReader reader(data, "varchar");
  auto value = ReadColumnValue(reader, *plan);
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.status().message().find("`v`"), std::string::npos);
}

TEST(ColumnValue, SignedIntegersAreSignExtended) {
  auto plan =
      PlanColumn(MakeColumn(ColumnType::kInt24), Catalog("m", "mediumint", ValueKind::kInt));
  ASSERT_TRUE(plan.ok());
  const std::string data = Bytes({0xFF, 0xFF, 0xFF});
  ByteReader reader(data, "int24");
  EXPECT_EQ(*ReadColumnValue(reader, *plan), Value::Int(-1));
  auto unsigned_plan = PlanColumn(MakeColumn(ColumnType::kInt24),
                                  Catalog("m", "mediumint unsigned", ValueKind::kUInt));
  ByteReader unsigned_reader(data, "int24");
  EXPECT_EQ(*ReadColumnValue(unsigned_reader, *unsigned_plan), Value::UInt(16777215));
}

TEST(ColumnValue, MismatchedAndUndecodableColumnsAreRefused) {
  auto mismatch =
      PlanColumn(MakeColumn(ColumnType::kLong), Catalog("c", "varchar(5)", ValueKind::kText));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().code(), engine::StatusCode::kFailedPrecondition);
  auto uuid =
      PlanColumn(MakeColumn(ColumnType::kString, 16), Catalog("u", "uuid", ValueKind::kUuid));
  ASSERT_FALSE(uuid.ok());
  EXPECT_EQ(uuid.status().code(), engine::StatusCode::kUnsupported);
  auto charset = PlanColumn(MakeColumn(ColumnType::kVarchar, 10),
                            Catalog("c", "varchar(5)", ValueKind::kText, "sjis"));
  ASSERT_FALSE(charset.ok());
  EXPECT_NE(charset.status().message().find("sjis"), std::string::npos);
}

TEST(ColumnValue, Latin1IsMySqlsCp1252) {
  EXPECT_EQ(Latin1ToUtf8("caf\xe9 \x80\x81"), "caf\xc3\xa9 \xe2\x82\xac\xc2\x81");
}

TEST(MySqlJson, DecodesNestedDocumentsInMySqlsTextForm) {
  // {"a": [1, true, "x"], "bb": null} as a small object.
  std::string array = Bytes({3, 0, 0, 0});  // count 3, size placeholder
  // array entries: int16 1 inline, literal true inline, string at offset
  array += Bytes({0x05, 1, 0, 0x04, 1, 0, 0x0c, 13, 0});
  array += Bytes({1, 'x'});
  array[2] = static_cast<char>(array.size());
  std::string object = Bytes({2, 0, 0, 0});
  // key entries (offset, length) then value entries (type, offset/inline)
  const size_t header = 4 + 2 * 4 + 2 * 3;
  object += Bytes({static_cast<int>(header), 0, 1, 0, static_cast<int>(header + 1), 0, 2, 0});
  object += Bytes({0x02, static_cast<int>(header + 3), 0, 0x04, 0, 0});
  object += "abb";
  object += array;
  object[2] = static_cast<char>(object.size());
  auto text = MySqlJsonToText(Bytes({0x00}) + object);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "{\"a\": [1, true, \"x\"], \"bb\": null}");
}

TEST(MySqlJson, ScalarsAndEscapes) {
  EXPECT_EQ(*MySqlJsonToText(Bytes({0x0c, 3, 'a', '"', '\n'})), "\"a\\\"\\n\"");
  std::string dbl = Bytes({0x0b});
  const double value = 2.5;
  dbl.append(reinterpret_cast<const char*>(&value), sizeof value);
  EXPECT_EQ(*MySqlJsonToText(dbl), "2.5");
  EXPECT_EQ(*MySqlJsonToText(Bytes({0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})), "-1");
}

TEST(MySqlJson, BadOffsetsAndDeepNestingAreCorruption) {
  // An array whose only element points past its end.
  EXPECT_FALSE(MySqlJsonToText(Bytes({0x02, 1, 0, 7, 0, 0x0c, 99, 0})).ok());
  EXPECT_FALSE(MySqlJsonToText(Bytes({0x0d})).ok());
  // A size too small for the element count and entries it announces.
  EXPECT_FALSE(MySqlJsonToText(Bytes({0x02, 5, 0, 1, 0})).ok());
  EXPECT_FALSE(MySqlJsonToText(Bytes({0x00, 1, 0, 5, 0, 0})).ok());
  // Single-element arrays nested `depth` deep around an empty array.
  auto nested = [](int depth) {
    std::string inner = Bytes({0, 0, 4, 0});
    for (int i = 0; i < depth; ++i) {
      const size_t size = 7 + inner.size();
      std::string outer =
          Bytes({1, 0, static_cast<int>(size & 0xff), static_cast<int>(size >> 8), 0x02, 7, 0});
      inner = outer + inner;
    }
    return Bytes({0x02}) + inner;
  };
  auto shallow = MySqlJsonToText(nested(3));
  ASSERT_TRUE(shallow.ok()) << shallow.status().ToString();
  EXPECT_EQ(*shallow, "[[[[]]]]");
  auto deep = MySqlJsonToText(nested(150));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nesting"), std::string::npos);
}

TEST(CompressedPayload, InflatesZlibAndRefusesBadHeaders) {
  const std::string plain = "INSERT INTO t VALUES (1), (2), (3), (4), (5)";
  uLongf size = compressBound(static_cast<uLong>(plain.size()));
  std::string compressed(size, '\0');
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(compressed.data()), &size,
                     reinterpret_cast<const Bytef*>(plain.data()), plain.size()),
            Z_OK);
  compressed.resize(size);
  const std::string payload = Bytes({0x81, static_cast<int>(plain.size())}) + compressed;
  EXPECT_EQ(*DecompressPayload(payload, "QUERY_COMPRESSED_EVENT"), plain);
  // Announced size off by one: refused.
  const std::string wrong = Bytes({0x81, static_cast<int>(plain.size() + 1)}) + compressed;
  EXPECT_EQ(DecompressPayload(wrong, "x").status().code(), engine::StatusCode::kCorruption);
  // Algorithm 1 (not zlib): unsupported.
  const std::string other = Bytes({0x91, static_cast<int>(plain.size())}) + compressed;
  EXPECT_EQ(DecompressPayload(other, "x").status().code(), engine::StatusCode::kUnsupported);
  EXPECT_FALSE(DecompressPayload(Bytes({0x85, 0, 0}), "x").ok());
}

TEST(GtidState, ParsesAppliesAndPrintsMariaDbAndMySqlSets) {
  auto state = GtidState::Parse("1-2-7, 0-1-42");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->ToString(), "0-1-42,1-2-7");
  state->Apply(MariaDbGtid{0, 3, 43});
  EXPECT_EQ(state->ToString(), "0-3-43,1-2-7");
  GtidListEvent list{{{0, 1, 40}, {0, 3, 50}, {2, 1, 1}}};
  state->Reset(list);
  EXPECT_EQ(state->ToString(), "0-3-50,2-1-1");
  auto mysql = GtidState::Parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42");
  ASSERT_TRUE(mysql.ok());
  EXPECT_EQ(mysql->ToString(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42");
  EXPECT_FALSE(GtidState::Parse("0-1").ok());
  EXPECT_TRUE(GtidState::Parse("")->empty());
}

TEST(QueryEvent, ClassifiesTransactionBoundariesAndDdl) {
  EXPECT_EQ(ClassifyStatement("BEGIN"), StatementClass::kBegin);
  EXPECT_EQ(ClassifyStatement("COMMIT"), StatementClass::kCommit);
  EXPECT_EQ(ClassifyStatement("ROLLBACK"), StatementClass::kRollback);
  EXPECT_EQ(ClassifyStatement("ROLLBACK TO SAVEPOINT s"), StatementClass::kOther);
  EXPECT_EQ(ClassifyStatement("/* x */ alter table t add c int"), StatementClass::kDdl);
  EXPECT_EQ(ClassifyStatement("DROP TABLE `t` /* generated by server */"), StatementClass::kDdl);
  EXPECT_EQ(ClassifyStatement("CREATE USER u"), StatementClass::kOther);
  EXPECT_EQ(ClassifyStatement("SAVEPOINT s"), StatementClass::kOther);
}

TEST(QueryEvent, SchemaWithoutTerminatorIsCorruption) {
  // thread id, exec time, schema length 1, error code, status length 0, "d", then not NUL.
  const std::string body = Bytes({1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 'd', 'x'});
  auto event = ParseQueryEvent(body, false);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.status().code(), engine::StatusCode::kCorruption);
  const std::string good = Bytes({1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 'd', 0}) + "BEGIN";
  auto parsed = ParseQueryEvent(good, false);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->schema, "d");
  EXPECT_EQ(parsed->query, "BEGIN");
}

}  // namespace
}  // namespace tandem::connectors::mysql::binlog
