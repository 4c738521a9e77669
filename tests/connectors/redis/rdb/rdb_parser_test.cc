// RdbParser on hand-built RDB files: every opcode and every value encoding, payloads (what DUMP
// returns) and pieces, the refusals (module data, newer versions, checksum), and robustness:
// every prefix of a valid file is kCorruption, and any byte changed at any offset gives a clean
// status, never a crash (the ASan job runs this).
#include "connectors/redis/rdb/rdb_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tests/connectors/redis/rdb/rdb_test_builders.h"

namespace tandem::connectors::redis {
namespace {

using engine::Status;
using engine::StatusCode;
using rdb_test::Entry;
using rdb_test::RdbBuilder;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

struct Piece {
  RdbKeyHeader header;
  RdbValuePiece piece;
};

struct Value {
  RdbKeyHeader header;
  std::string payload;
};

class RecordingVisitor : public RdbVisitor {
 public:
  Status OnAux(std::string_view name, std::string_view value) override {
    aux.emplace_back(name, value);
    return Status::Ok();
  }
  Status OnSelectDatabase(int database) override {
    databases.push_back(database);
    return Status::Ok();
  }
  Status OnValue(const RdbKeyHeader& header, std::string_view payload) override {
    values.push_back({header, std::string(payload)});
    return fail_on_value;
  }
  Status OnValuePiece(const RdbKeyHeader& header, const RdbValuePiece& piece) override {
    pieces.push_back({header, piece});
    return Status::Ok();
  }
  Status OnFunctionLibrary(std::string_view code) override {
    functions.emplace_back(code);
    return Status::Ok();
  }
  Status OnEnd() override {
    ended = true;
    return Status::Ok();
  }

  // The elements of every piece of `key`, in order.
  std::vector<std::string> Elements(const std::string& key) const {
    std::vector<std::string> out;
    for (const Piece& piece : pieces) {
      if (piece.header.key == key) {
        out.insert(out.end(), piece.piece.elements.begin(), piece.piece.elements.end());
      }
    }
    return out;
  }
  std::vector<double> Scores(const std::string& key) const {
    std::vector<double> out;
    for (const Piece& piece : pieces) {
      if (piece.header.key == key) {
        out.insert(out.end(), piece.piece.scores.begin(), piece.piece.scores.end());
      }
    }
    return out;
  }
  const Value* FindValue(const std::string& key) const {
    for (const Value& value : values) {
      if (value.header.key == key) {
        return &value;
      }
    }
    return nullptr;
  }

  std::vector<std::pair<std::string, std::string>> aux;
  std::vector<int> databases;
  std::vector<Value> values;
  std::vector<Piece> pieces;
  std::vector<std::string> functions;
  bool ended = false;
  Status fail_on_value;
};

engine::Result<RdbSummary> ParseBytes(const std::string& bytes, RecordingVisitor& visitor,
                                      RdbParserOptions options = {}) {
  RdbBufferSource source(bytes);
  RdbParser parser(options);
  return parser.Parse(source, visitor);
}

RdbParserOptions PieceOptions(size_t max_value_bytes = 0, size_t piece_elements = 1000) {
  RdbParserOptions options;
  options.max_value_bytes = max_value_bytes;
  options.piece_elements = piece_elements;
  return options;
}

Entry S(std::string text) { return Entry(std::move(text)); }
Entry I(int64_t value) { return Entry(value); }

std::string Id16(uint64_t ms, uint64_t seq) {
  std::string out;
  rdb_test::PutBigEndian(&out, ms, 8);
  rdb_test::PutBigEndian(&out, seq, 8);
  return out;
}

// A stream value of RDB type 15, 19 or 21: one node with two entries, one consumer group with
// one pending entry owned by one consumer.
std::string StreamValue(uint8_t type) {
  const std::string listpack =
      rdb_test::Listpack({I(2), I(0), I(1), S("field"), I(0), I(2), I(0), I(0), S("v1"), I(4), I(0),
                          I(1), I(0), I(1), S("other"), S("v2"), I(6)});
  std::string out =
      RdbBuilder::Length(1) + RdbBuilder::String(Id16(1000, 0)) + RdbBuilder::String(listpack);
  out += RdbBuilder::Length(2);                             // length
  out += RdbBuilder::Length(1001) + RdbBuilder::Length(0);  // last id
  if (type >= 19) {
    out += RdbBuilder::Length(1000) + RdbBuilder::Length(0);  // first id
    out += RdbBuilder::Length(0) + RdbBuilder::Length(0);     // max deleted id
    out += RdbBuilder::Length(2);                             // entries added
  }
  out += RdbBuilder::Length(1);  // groups
  out += RdbBuilder::String("group");
  out += RdbBuilder::Length(1000) + RdbBuilder::Length(0);  // group last id
  if (type >= 19) {
    out += RdbBuilder::Length(1);  // entries read
  }
  out += RdbBuilder::Length(1);  // PEL
  out += Id16(1000, 0);
  rdb_test::PutLittleEndian(&out, 1700000000000ULL, 8);  // delivery time
  out += RdbBuilder::Length(1);                          // delivery count
  out += RdbBuilder::Length(1);                          // consumers
  out += RdbBuilder::String("consumer");
  rdb_test::PutLittleEndian(&out, 1700000000001ULL, 8);  // seen time
  if (type >= 21) {
    rdb_test::PutLittleEndian(&out, 1700000000002ULL, 8);  // active time
  }
  out += RdbBuilder::Length(1) + Id16(1000, 0);  // consumer PEL
  return out;
}

// 64-bit module type id of a 9-character name and encoding version (module.c).
uint64_t ModuleId(const std::string& name, uint64_t version) {
  static const std::string kCharset =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint64_t id = 0;
  for (char c : name) {
    id = (id << 6) | kCharset.find(c);
  }
  return (id << 10) | version;
}

// One value of every kind the builders can make, with all opcodes: the input of the robustness
// tests.
std::string EverythingRdb() {
  RdbBuilder rdb;
  rdb.Aux("redis-ver", "7.2.4")
      .Raw("\xfa")
      .Raw(RdbBuilder::String("redis-bits"))
      .Raw(RdbBuilder::IntString(64, 1));
  rdb.Raw("\xf5").Raw(
      RdbBuilder::String("#!lua name=lib\nredis.register_function('f', "
                         "function() return 1 end)"));
  rdb.SelectDb(0).ResizeDb(20, 2);
  rdb.Value(0, "raw", RdbBuilder::String("hello"));
  rdb.ExpireMs(1900000000123).Value(0, "int8", RdbBuilder::IntString(-5, 1));
  rdb.ExpireSeconds(1900000000).Value(0, "int16", RdbBuilder::IntString(1000, 2));
  rdb.Raw("\xf8").Raw(RdbBuilder::Length(300)).Value(0, "int32", RdbBuilder::IntString(-70000, 4));
  rdb.Raw("\xf9\x05")
      .Value(0, "lzf",
             RdbBuilder::LzfString(std::string("\x00"
                                               "a\xe0\x14\x00",
                                               5),
                                   30));
  rdb.Value(1, "list", RdbBuilder::Length(2) + RdbBuilder::String("a") + RdbBuilder::String("b"));
  rdb.Value(2, "set", RdbBuilder::Length(2) + RdbBuilder::String("x") + RdbBuilder::String("y"));
  rdb.Value(3, "zset",
            RdbBuilder::Length(2) + RdbBuilder::String("m") + RdbBuilder::StringDouble("1.5") +
                RdbBuilder::String("n") + "\xfe");
  rdb.Value(4, "hash", RdbBuilder::Length(1) + RdbBuilder::String("f") + RdbBuilder::String("v"));
  rdb.Value(5, "zset2",
            RdbBuilder::Length(2) + RdbBuilder::String("p") + RdbBuilder::BinaryDouble(-2.25) +
                RdbBuilder::String("q") + RdbBuilder::BinaryDouble(HUGE_VAL));
  rdb.SelectDb(2);
  rdb.Value(9, "zipmap", RdbBuilder::String(rdb_test::Zipmap({{"zf", "zv"}}, 1)));
  rdb.Value(10, "ziplist", RdbBuilder::String(rdb_test::Ziplist({S("a"), I(7), I(-300)})));
  rdb.Value(11, "intset", RdbBuilder::String(rdb_test::Intset(2, {1, 2, 300})));
  rdb.Value(12, "zsetzl", RdbBuilder::String(rdb_test::Ziplist({S("m"), I(3), S("n"), S("2.5")})));
  rdb.Value(13, "hashzl", RdbBuilder::String(rdb_test::Ziplist({S("f"), S("v"), S("g"), I(9)})));
  rdb.Value(14, "quicklist",
            RdbBuilder::Length(2) + RdbBuilder::String(rdb_test::Ziplist({S("a"), S("b")})) +
                RdbBuilder::String(rdb_test::Ziplist({I(3)})));
  rdb.Value(15, "stream1", StreamValue(15));
  rdb.Value(16, "hashlp", RdbBuilder::String(rdb_test::Listpack({S("f"), S("v"), S("g"), I(-1)})));
  rdb.Value(17, "zsetlp",
            RdbBuilder::String(rdb_test::Listpack({S("m"), I(1), S("n"), S("-inf")})));
  rdb.Value(18, "quicklist2",
            RdbBuilder::Length(2) + RdbBuilder::Length(2) +
                RdbBuilder::String(rdb_test::Listpack({S("a"), I(2)})) + RdbBuilder::Length(1) +
                RdbBuilder::String("plain element"));
  rdb.Value(19, "stream2", StreamValue(19));
  rdb.Value(20, "setlp", RdbBuilder::String(rdb_test::Listpack({S("a"), S("b"), I(3)})));
  rdb.Value(21, "stream3", StreamValue(21));
  return rdb.Finish();
}

// ---- Header and opcodes ----

TEST(RdbParser, AuxSelectDbResizeDbAndSummary) {
  const std::string bytes = RdbBuilder(11)
                                .Aux("redis-ver", "7.2.4")
                                .Raw("\xfa")
                                .Raw(RdbBuilder::String("redis-bits"))
                                .Raw(RdbBuilder::IntString(64, 1))
                                .SelectDb(0)
                                .ResizeDb(1, 0)
                                .Value(0, "a", RdbBuilder::String("1"))
                                .SelectDb(5)
                                .Value(0, "b", RdbBuilder::String("2"))
                                .Finish();
  RecordingVisitor visitor;
  auto summary = ParseBytes(bytes, visitor);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->version, 11);
  EXPECT_EQ(summary->keys, 2);
  EXPECT_EQ(summary->bytes, static_cast<int64_t>(bytes.size()));
  EXPECT_TRUE(summary->checksum_checked);
  EXPECT_TRUE(visitor.ended);
  EXPECT_THAT(visitor.aux, ElementsAre(std::pair<std::string, std::string>("redis-ver", "7.2.4"),
                                       std::pair<std::string, std::string>("redis-bits", "64")));
  EXPECT_THAT(visitor.databases, ElementsAre(0, 5));
  ASSERT_EQ(visitor.values.size(), 2u);
  EXPECT_EQ(visitor.values[0].header.database, 0);
  EXPECT_EQ(visitor.values[1].header.database, 5);
  EXPECT_EQ(visitor.values[1].payload, RdbBuilder::ExpectedPayload(0, RdbBuilder::String("2"), 11));
}

TEST(RdbParser, ExpiryInMillisecondsAndSecondsAppliesToTheNextKeyOnly) {
  const std::string bytes = RdbBuilder()
                                .ExpireMs(1900000000123)
                                .Value(0, "ms", RdbBuilder::String("v"))
                                .ExpireSeconds(1900000000)
                                .Value(0, "s", RdbBuilder::String("v"))
                                .Value(0, "persistent", RdbBuilder::String("v"))
                                .Finish();
  RecordingVisitor visitor;
  ASSERT_TRUE(ParseBytes(bytes, visitor).ok());
  ASSERT_EQ(visitor.values.size(), 3u);
  EXPECT_EQ(visitor.values[0].header.expire_at_ms, 1900000000123);
  EXPECT_EQ(visitor.values[1].header.expire_at_ms, 1900000000000);
  EXPECT_EQ(visitor.values[2].header.expire_at_ms, std::nullopt);
}

TEST(RdbParser, IdleAndFreqAreConsumed) {
  const std::string bytes = RdbBuilder()
                                .Raw("\xf8")
                                .Raw(RdbBuilder::Length(100000))
                                .Value(0, "idle", RdbBuilder::String("v"))
                                .Raw("\xf9\x07")
                                .Value(0, "freq", RdbBuilder::String("w"))
                                .Finish();
  RecordingVisitor visitor;
  auto summary = ParseBytes(bytes, visitor);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  ASSERT_EQ(visitor.values.size(), 2u);
  EXPECT_EQ(visitor.values[1].payload, RdbBuilder::ExpectedPayload(0, RdbBuilder::String("w")));
}

TEST(RdbParser, Function2GoesToOnFunctionLibrary) {
  const std::string code = "#!lua name=mylib\nredis.register_function('f', function() end)";
  RecordingVisitor visitor;
  ASSERT_TRUE(
      ParseBytes(RdbBuilder().Raw("\xf5").Raw(RdbBuilder::String(code)).Finish(), visitor).ok());
  EXPECT_THAT(visitor.functions, ElementsAre(code));
}

TEST(RdbParser, PreReleaseFunctionOpcodeIsUnsupported) {
  RecordingVisitor visitor;
  auto summary =
      ParseBytes(RdbBuilder().Raw("\xf6").Raw(RdbBuilder::String("x")).Finish(), visitor);
  EXPECT_EQ(summary.status().code(), StatusCode::kUnsupported);
}

TEST(RdbParser, NothingIsReadBeyondTheChecksum) {
  const std::string bytes = RdbBuilder().Value(0, "k", RdbBuilder::String("v")).Finish();
  const std::string stream = bytes + "*1\r\n$4\r\nPING\r\n";
  RdbBufferSource source(stream);
  RecordingVisitor visitor;
  ASSERT_TRUE(RdbParser().Parse(source, visitor).ok());
  EXPECT_EQ(source.remaining(), stream.size() - bytes.size());
}

// ---- Refusals ----

TEST(RdbParser, NewerVersionIsUnsupported) {
  RecordingVisitor visitor;
  auto summary = ParseBytes(RdbBuilder(12).Finish(), visitor);
  EXPECT_EQ(summary.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(summary.status().message(), HasSubstr("RDB version 12"));
}

TEST(RdbParser, BadMagicAndVersionZeroAreCorruption) {
  RecordingVisitor visitor;
  EXPECT_EQ(ParseBytes("REDIT0010\xff", visitor).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ParseBytes("REDIS00x0\xff", visitor).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ParseBytes(RdbBuilder(0).Finish(), visitor).status().code(), StatusCode::kCorruption);
}

TEST(RdbParser, ModuleValueIsUnsupportedNamingTheModuleType) {
  for (uint8_t type : {6, 7}) {
    const std::string bytes =
        RdbBuilder().Value(type, "json", RdbBuilder::Length(ModuleId("ReJSON-RL", 3))).Finish();
    RecordingVisitor visitor;
    auto summary = ParseBytes(bytes, visitor);
    EXPECT_EQ(summary.status().code(), StatusCode::kUnsupported);
    EXPECT_THAT(summary.status().message(), HasSubstr("module type 'ReJSON-RL'"));
  }
}

TEST(RdbParser, ModuleAuxIsUnsupported) {
  const std::string bytes =
      RdbBuilder().Raw("\xf7").Raw(RdbBuilder::Length(ModuleId("graphdata", 1))).Finish();
  RecordingVisitor visitor;
  auto summary = ParseBytes(bytes, visitor);
  EXPECT_EQ(summary.status().code(), StatusCode::kUnsupported);
  EXPECT_THAT(summary.status().message(), HasSubstr("'graphdata'"));
}

TEST(RdbParser, ChecksumMismatchIsCorruptionAndZeroChecksumIsNotChecked) {
  std::string bytes = RdbBuilder().Value(0, "k", RdbBuilder::String("value")).Finish();
  std::string changed = bytes;
  changed[changed.size() - 12] = 'V';  // inside "value"
  RecordingVisitor visitor;
  auto summary = ParseBytes(changed, visitor);
  EXPECT_EQ(summary.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("checksum mismatch"));
  EXPECT_FALSE(visitor.ended);

  const std::string unchecked = RdbBuilder().Value(0, "k", RdbBuilder::String("v")).Finish(false);
  RecordingVisitor visitor2;
  summary = ParseBytes(unchecked, visitor2);
  ASSERT_TRUE(summary.ok());
  EXPECT_FALSE(summary->checksum_checked);
}

TEST(RdbParser, OldVersionWithoutChecksum) {
  const std::string bytes = RdbBuilder(4).Value(0, "k", RdbBuilder::String("v")).Finish();
  RecordingVisitor visitor;
  auto summary = ParseBytes(bytes, visitor);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_FALSE(summary->checksum_checked);
  EXPECT_EQ(visitor.values[0].payload, RdbBuilder::ExpectedPayload(0, RdbBuilder::String("v"), 4));
}

TEST(RdbParser, UnknownTypeIsCorruptionNamingTheOffset) {
  RecordingVisitor visitor;
  auto summary = ParseBytes(RdbBuilder().Raw("\x08").Finish(), visitor);
  EXPECT_EQ(summary.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("RDB byte 10"));
  EXPECT_THAT(summary.status().message(), HasSubstr("unknown opcode or value type 8"));
}

TEST(RdbParser, VisitorErrorIsReturnedUnchanged) {
  RecordingVisitor visitor;
  visitor.fail_on_value = engine::Timeout("target too slow");
  auto summary = ParseBytes(RdbBuilder().Value(0, "k", RdbBuilder::String("v")).Finish(), visitor);
  EXPECT_EQ(summary.status().code(), StatusCode::kTimeout);
  EXPECT_EQ(summary.status().message(), "target too slow");
}

TEST(RdbParser, NaNScoreIsCorruption) {
  const std::string bytes =
      RdbBuilder().Value(3, "z", RdbBuilder::Length(1) + RdbBuilder::String("m") + "\xfd").Finish();
  RecordingVisitor visitor;
  EXPECT_EQ(ParseBytes(bytes, visitor).status().code(), StatusCode::kCorruption);
}

TEST(RdbParser, BadQuicklistContainerIsCorruption) {
  const std::string bytes =
      RdbBuilder()
          .Value(18, "l", RdbBuilder::Length(1) + RdbBuilder::Length(3) + RdbBuilder::String("x"))
          .Finish();
  RecordingVisitor visitor;
  auto summary = ParseBytes(bytes, visitor);
  EXPECT_EQ(summary.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(summary.status().message(), HasSubstr("key \"l\""));
}

// ---- Values: payloads and decoded elements ----

// Parses a one-key RDB of `type` and `value_bytes` twice: whole (the payload must be the DUMP
// form) and with max_value_bytes 0 (returns the pieces' elements).
std::vector<std::string> PayloadAndElements(uint8_t type, const std::string& value_bytes,
                                            std::vector<double>* scores = nullptr) {
  const std::string bytes = RdbBuilder().Value(type, "key", value_bytes).Finish();
  RecordingVisitor whole;
  auto summary = ParseBytes(bytes, whole);
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(whole.values.size(), 1u);
  if (!whole.values.empty()) {
    EXPECT_EQ(whole.values[0].payload, RdbBuilder::ExpectedPayload(type, value_bytes));
    EXPECT_EQ(whole.values[0].header.rdb_type, type);
  }
  RecordingVisitor pieces;
  summary = ParseBytes(bytes, pieces, PieceOptions(0));
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_TRUE(pieces.values.empty());
  if (scores != nullptr) {
    *scores = pieces.Scores("key");
  }
  return pieces.Elements("key");
}

TEST(RdbParserValues, StringsInEveryEncoding) {
  EXPECT_THAT(PayloadAndElements(0, RdbBuilder::String("hello")), ElementsAre("hello"));
  EXPECT_THAT(PayloadAndElements(0, RdbBuilder::String("")), ElementsAre(""));
  EXPECT_THAT(PayloadAndElements(0, RdbBuilder::String(std::string(70000, 'b'))),
              ElementsAre(std::string(70000, 'b')));
  EXPECT_THAT(PayloadAndElements(0, RdbBuilder::IntString(-128, 1)), ElementsAre("-128"));
  EXPECT_THAT(PayloadAndElements(0, RdbBuilder::IntString(-32768, 2)), ElementsAre("-32768"));
  EXPECT_THAT(PayloadAndElements(0, RdbBuilder::IntString(INT32_MIN, 4)),
              ElementsAre("-2147483648"));
  EXPECT_THAT(PayloadAndElements(0, RdbBuilder::LzfString(std::string("\x00"
                                                                      "a\xe0\x14\x00",
                                                                      5),
                                                          30)),
              ElementsAre(std::string(30, 'a')));
}

TEST(RdbParserValues, KeyInSpecialEncodings) {
  const std::string bytes = RdbBuilder()
                                .Raw(std::string(1, '\0'))
                                .Raw(RdbBuilder::IntString(12345, 2))
                                .Raw(RdbBuilder::String("v"))
                                .Raw(std::string(1, '\0'))
                                .Raw(RdbBuilder::LzfString(std::string("\x00"
                                                                       "k\xe0\x14\x00",
                                                                       5),
                                                           30))
                                .Raw(RdbBuilder::String("w"))
                                .Finish();
  RecordingVisitor visitor;
  ASSERT_TRUE(ParseBytes(bytes, visitor).ok());
  ASSERT_EQ(visitor.values.size(), 2u);
  EXPECT_EQ(visitor.values[0].header.key, "12345");
  EXPECT_EQ(visitor.values[1].header.key, std::string(30, 'k'));
}

TEST(RdbParserValues, OldLinkedListSetAndHash) {
  EXPECT_THAT(PayloadAndElements(1, RdbBuilder::Length(3) + RdbBuilder::String("a") +
                                        RdbBuilder::IntString(5, 1) + RdbBuilder::String("c")),
              ElementsAre("a", "5", "c"));
  EXPECT_THAT(PayloadAndElements(
                  2, RdbBuilder::Length(2) + RdbBuilder::String("x") + RdbBuilder::String("y")),
              ElementsAre("x", "y"));
  EXPECT_THAT(PayloadAndElements(4, RdbBuilder::Length(2) + RdbBuilder::String("f") +
                                        RdbBuilder::String("v") + RdbBuilder::String("g") +
                                        RdbBuilder::String("w")),
              ElementsAre("f", "v", "g", "w"));
}

TEST(RdbParserValues, ZsetWithStringScoresIncludingInfinities) {
  std::vector<double> scores;
  EXPECT_THAT(PayloadAndElements(3,
                                 RdbBuilder::Length(3) + RdbBuilder::String("a") +
                                     RdbBuilder::StringDouble("1.5") + RdbBuilder::String("b") +
                                     "\xfe" + RdbBuilder::String("c") + "\xff",
                                 &scores),
              ElementsAre("a", "b", "c"));
  EXPECT_THAT(scores, ElementsAre(1.5, HUGE_VAL, -HUGE_VAL));
}

TEST(RdbParserValues, SkiplistZsetWithBinaryDoubles) {
  std::vector<double> scores;
  EXPECT_THAT(PayloadAndElements(5,
                                 RdbBuilder::Length(3) + RdbBuilder::String("a") +
                                     RdbBuilder::BinaryDouble(-0.125) + RdbBuilder::String("b") +
                                     RdbBuilder::BinaryDouble(1e300) + RdbBuilder::String("c") +
                                     RdbBuilder::BinaryDouble(-HUGE_VAL),
                                 &scores),
              ElementsAre("a", "b", "c"));
  EXPECT_THAT(scores, ElementsAre(-0.125, 1e300, -HUGE_VAL));
}

TEST(RdbParserValues, ListpackHashZsetAndSet) {
  EXPECT_THAT(PayloadAndElements(
                  16, RdbBuilder::String(rdb_test::Listpack({S("f"), S("v"), S("n"), I(-12)}))),
              ElementsAre("f", "v", "n", "-12"));
  std::vector<double> scores;
  EXPECT_THAT(PayloadAndElements(17,
                                 RdbBuilder::String(rdb_test::Listpack(
                                     {S("a"), I(1), S("b"), S("2.5"), S("c"), S("inf")})),
                                 &scores),
              ElementsAre("a", "b", "c"));
  EXPECT_THAT(scores, ElementsAre(1, 2.5, HUGE_VAL));
  EXPECT_THAT(PayloadAndElements(20, RdbBuilder::String(rdb_test::Listpack({S("m"), I(70000)}))),
              ElementsAre("m", "70000"));
}

TEST(RdbParserValues, IntsetSet) {
  EXPECT_THAT(PayloadAndElements(11, RdbBuilder::String(rdb_test::Intset(4, {-70000, 1, 70000}))),
              ElementsAre("-70000", "1", "70000"));
}

TEST(RdbParserValues, Quicklist2WithPackedAndPlainNodes) {
  const std::string big(10000, 'P');
  EXPECT_THAT(PayloadAndElements(18, RdbBuilder::Length(3) + RdbBuilder::Length(2) +
                                         RdbBuilder::String(rdb_test::Listpack({S("a"), I(1)})) +
                                         RdbBuilder::Length(1) + RdbBuilder::String(big) +
                                         RdbBuilder::Length(2) +
                                         RdbBuilder::String(rdb_test::Listpack({S("z")}))),
              ElementsAre("a", "1", big, "z"));
}

TEST(RdbParserValues, ZiplistEncodings) {
  EXPECT_THAT(PayloadAndElements(10, RdbBuilder::String(rdb_test::Ziplist({S("a"), I(-2)}))),
              ElementsAre("a", "-2"));
  std::vector<double> scores;
  EXPECT_THAT(
      PayloadAndElements(
          12, RdbBuilder::String(rdb_test::Ziplist({S("m"), I(3), S("n"), S("-1.25")})), &scores),
      ElementsAre("m", "n"));
  EXPECT_THAT(scores, ElementsAre(3, -1.25));
  EXPECT_THAT(PayloadAndElements(13, RdbBuilder::String(rdb_test::Ziplist({S("f"), I(100000)}))),
              ElementsAre("f", "100000"));
  EXPECT_THAT(PayloadAndElements(14, RdbBuilder::Length(2) +
                                         RdbBuilder::String(rdb_test::Ziplist({S("a")})) +
                                         RdbBuilder::String(rdb_test::Ziplist({S("b"), I(4)}))),
              ElementsAre("a", "b", "4"));
}

TEST(RdbParserValues, ZipmapHash) {
  EXPECT_THAT(
      PayloadAndElements(9, RdbBuilder::String(rdb_test::Zipmap({{"f", "v"}, {"g", ""}}, 3))),
      ElementsAre("f", "v", "g", ""));
}

TEST(RdbParserValues, HashEncodingWithOddEntriesIsCorruption) {
  const std::string bytes =
      RdbBuilder().Value(16, "h", RdbBuilder::String(rdb_test::Listpack({S("f")}))).Finish();
  RecordingVisitor visitor;
  EXPECT_EQ(ParseBytes(bytes, visitor).status().code(), StatusCode::kCorruption);
}

TEST(RdbParserValues, StreamsOfEveryVersionGoWholeEvenWithMaxZero) {
  for (uint8_t type : {15, 19, 21}) {
    const std::string value = StreamValue(type);
    const std::string bytes = RdbBuilder().Value(type, "stream", value).Finish();
    for (size_t max : {size_t{32} << 20, size_t{0}}) {
      RecordingVisitor visitor;
      auto summary = ParseBytes(bytes, visitor, PieceOptions(max));
      ASSERT_TRUE(summary.ok()) << summary.status().ToString();
      ASSERT_EQ(visitor.values.size(), 1u);
      EXPECT_TRUE(visitor.pieces.empty());
      EXPECT_EQ(visitor.values[0].header.kind, RdbValueKind::kStream);
      EXPECT_EQ(visitor.values[0].payload, RdbBuilder::ExpectedPayload(type, value));
    }
  }
}

TEST(RdbParserValues, StreamConsumerOwningUnknownPendingEntryIsCorruption) {
  std::string value = StreamValue(21);
  const std::string id = Id16(1000, 0);
  const size_t last = value.rfind(id);
  value.replace(last, id.size(), Id16(1000, 1));
  RecordingVisitor visitor;
  EXPECT_EQ(ParseBytes(RdbBuilder().Value(21, "s", value).Finish(), visitor).status().code(),
            StatusCode::kCorruption);
}

TEST(RdbParserValues, EmptyCollectionsAreSkipped) {
  const std::string bytes = RdbBuilder()
                                .Value(2, "empty-set", RdbBuilder::Length(0))
                                .Value(18, "empty-list", RdbBuilder::Length(0))
                                .Value(16, "empty-hash", RdbBuilder::String(rdb_test::Listpack({})))
                                .Value(0, "s", RdbBuilder::String("v"))
                                .Finish();
  for (size_t max : {size_t{32} << 20, size_t{0}}) {
    RecordingVisitor visitor;
    auto summary = ParseBytes(bytes, visitor, PieceOptions(max));
    ASSERT_TRUE(summary.ok());
    EXPECT_EQ(summary->keys, 1);
  }
}

// ---- Pieces ----

TEST(RdbParserPieces, LargeValuesArriveInPiecesOfPieceElements) {
  std::string list_value = RdbBuilder::Length(5);
  std::vector<std::string> expected_list;
  for (int node = 0; node < 5; ++node) {
    std::vector<Entry> entries;
    for (int i = 0; i < 7; ++i) {
      const std::string item = "item-" + std::to_string(node * 7 + i);
      entries.push_back(S(item));
      expected_list.push_back(item);
    }
    list_value += RdbBuilder::Length(2) + RdbBuilder::String(rdb_test::Listpack(entries));
  }
  std::string hash_value = RdbBuilder::Length(10);
  std::vector<std::string> expected_hash;
  std::string zset_value = RdbBuilder::Length(10);
  std::vector<std::string> expected_members;
  std::vector<double> expected_scores;
  for (int i = 0; i < 10; ++i) {
    hash_value += RdbBuilder::String("field-" + std::to_string(i)) +
                  RdbBuilder::String("value-" + std::to_string(i));
    expected_hash.push_back("field-" + std::to_string(i));
    expected_hash.push_back("value-" + std::to_string(i));
    zset_value +=
        RdbBuilder::String("member-" + std::to_string(i)) + RdbBuilder::BinaryDouble(i * 0.5);
    expected_members.push_back("member-" + std::to_string(i));
    expected_scores.push_back(i * 0.5);
  }
  const std::string bytes =
      RdbBuilder()
          .ExpireMs(1900000000000)
          .Value(18, "list", list_value)
          .Value(4, "hash", hash_value)
          .Value(5, "zset", zset_value)
          .Value(20, "small", RdbBuilder::String(rdb_test::Listpack({S("s")})))
          .Finish();
  RecordingVisitor visitor;
  auto summary = ParseBytes(bytes, visitor, PieceOptions(64, 3));
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->keys, 4);
  EXPECT_THAT(visitor.Elements("list"), ElementsAreArray(expected_list));
  EXPECT_THAT(visitor.Elements("hash"), ElementsAreArray(expected_hash));
  EXPECT_THAT(visitor.Elements("zset"), ElementsAreArray(expected_members));
  EXPECT_THAT(visitor.Scores("zset"), ElementsAreArray(expected_scores));
  ASSERT_EQ(visitor.values.size(), 1u);  // "small" stays a payload
  EXPECT_EQ(visitor.values[0].header.key, "small");
  for (const std::string key : {"list", "hash", "zset"}) {
    std::vector<const Piece*> pieces;
    for (const Piece& piece : visitor.pieces) {
      if (piece.header.key == key) {
        pieces.push_back(&piece);
      }
    }
    ASSERT_GE(pieces.size(), 3u) << key;
    const size_t per_unit = key == "hash" ? 2 : 1;
    for (size_t i = 0; i < pieces.size(); ++i) {
      EXPECT_EQ(pieces[i]->piece.first, i == 0) << key << " piece " << i;
      EXPECT_EQ(pieces[i]->piece.last, i + 1 == pieces.size()) << key << " piece " << i;
      EXPECT_GE(pieces[i]->piece.elements.size(), per_unit);
      EXPECT_LE(pieces[i]->piece.elements.size(), 3 * per_unit) << key << " piece " << i;
      if (i + 1 < pieces.size()) {
        EXPECT_EQ(pieces[i]->piece.elements.size(), 3 * per_unit) << key << " piece " << i;
      }
    }
    EXPECT_EQ(pieces[0]->header.expire_at_ms,
              key == "list" ? std::optional<int64_t>(1900000000000) : std::nullopt);
  }
}

TEST(RdbParserPieces, MaxZeroDeliversEveryValueAsPiecesAndStringsAsOnePiece) {
  RecordingVisitor visitor;
  auto summary = ParseBytes(EverythingRdb(), visitor, PieceOptions(0, 2));
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(visitor.values.size(), 3u);  // the three streams
  for (const Value& value : visitor.values) {
    EXPECT_EQ(value.header.kind, RdbValueKind::kStream);
  }
  EXPECT_THAT(visitor.Elements("int16"), ElementsAre("1000"));
  EXPECT_THAT(visitor.Elements("lzf"), ElementsAre(std::string(30, 'a')));
  EXPECT_THAT(visitor.Elements("quicklist2"), ElementsAre("a", "2", "plain element"));
  EXPECT_THAT(visitor.Elements("zipmap"), ElementsAre("zf", "zv"));
  EXPECT_EQ(summary->keys, 23);
}

TEST(RdbParserPieces, SwitchingMidValueKeepsEveryElementOfEveryEncoding) {
  std::string list = RdbBuilder::Length(30);
  std::string set = RdbBuilder::Length(30);
  std::string zset = RdbBuilder::Length(30);
  std::string quicklist = RdbBuilder::Length(10);
  for (int i = 0; i < 30; ++i) {
    list += RdbBuilder::String("list-" + std::to_string(i));
    set += RdbBuilder::IntString(i * 1000, 4);
    zset += RdbBuilder::String("z" + std::to_string(i)) +
            RdbBuilder::StringDouble(std::to_string(i) + ".25");
  }
  for (int node = 0; node < 10; ++node) {
    quicklist += RdbBuilder::String(rdb_test::Ziplist({S("q" + std::to_string(node)), I(node)}));
  }
  const std::string bytes = RdbBuilder()
                                .Value(1, "list", list)
                                .Value(2, "set", set)
                                .Value(3, "zset", zset)
                                .Value(14, "quicklist", quicklist)
                                .Finish();
  RecordingVisitor all_pieces;
  ASSERT_TRUE(ParseBytes(bytes, all_pieces, PieceOptions(0)).ok());
  for (size_t max : {size_t{1}, size_t{20}, size_t{100}}) {
    RecordingVisitor visitor;
    auto summary = ParseBytes(bytes, visitor, PieceOptions(max, 4));
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_TRUE(visitor.values.empty());
    for (const std::string key : {"list", "set", "zset", "quicklist"}) {
      EXPECT_EQ(visitor.Elements(key), all_pieces.Elements(key)) << key << " max " << max;
      EXPECT_EQ(visitor.Scores(key), all_pieces.Scores(key)) << key << " max " << max;
    }
    EXPECT_EQ(visitor.Elements("quicklist").size(), 20u);
  }
}

// ---- Robustness ----

TEST(RdbParserRobustness, EverythingParses) {
  RecordingVisitor visitor;
  auto summary = ParseBytes(EverythingRdb(), visitor);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->keys, 23);
  EXPECT_EQ(visitor.values.size(), 23u);
  EXPECT_TRUE(visitor.ended);
}

TEST(RdbParserRobustness, EveryPrefixIsCorruption) {
  const std::string bytes = EverythingRdb();
  for (size_t size = 0; size < bytes.size(); ++size) {
    for (size_t max : {size_t{32} << 20, size_t{0}, size_t{16}}) {
      RecordingVisitor visitor;
      auto summary = ParseBytes(bytes.substr(0, size), visitor, PieceOptions(max, 2));
      ASSERT_FALSE(summary.ok()) << "prefix " << size;
      ASSERT_EQ(summary.status().code(), StatusCode::kCorruption)
          << "prefix " << size << ": " << summary.status().ToString();
      ASSERT_FALSE(visitor.ended);
    }
  }
}

TEST(RdbParserRobustness, AnyByteChangedGivesACleanStatus) {
  std::string bytes = EverythingRdb();
  std::fill(bytes.end() - 8, bytes.end(), '\0');  // no checksum: the decoders must catch it
  int failures = 0;
  int successes = 0;
  for (size_t offset = 0; offset + 8 < bytes.size(); ++offset) {
    const auto original = static_cast<unsigned char>(bytes[offset]);
    // Bit flips, and the bytes that mean "end", "big length" and "LZF" in RDB lengths.
    for (unsigned replacement :
         {original ^ 0xFFu, original ^ 0x01u, original ^ 0x80u, 0x00u, 0xFFu, 0xC3u, 0x81u}) {
      if (replacement == original) {
        continue;
      }
      std::string changed = bytes;
      changed[offset] = static_cast<char>(replacement);
      for (size_t max : {size_t{32} << 20, size_t{0}, size_t{16}}) {
        RecordingVisitor visitor;
        auto summary = ParseBytes(changed, visitor, PieceOptions(max, 2));
        if (summary.ok()) {
          ++successes;
        } else {
          ++failures;
          ASSERT_TRUE(summary.status().code() == StatusCode::kCorruption ||
                      summary.status().code() == StatusCode::kUnsupported)
              << "offset " << offset << ": " << summary.status().ToString();
        }
      }
    }
  }
  EXPECT_GT(failures, 0);
  EXPECT_GT(successes, 0);
}

}  // namespace
}  // namespace tandem::connectors::redis
