// The RDB's embedded encodings on hand-built bytes: LZF, listpack, ziplist, intset, zipmap and the
// stream listpack layout, each decoded whole and refused (kCorruption, never a read past the end)
// when truncated or inconsistent.
#include "connectors/redis/rdb/rdb_encodings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/connectors/redis/rdb/rdb_test_builders.h"

namespace tandem::connectors::redis::rdb_internal {
namespace {

using engine::StatusCode;
using rdb_test::Entry;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::vector<std::string> Strings(const RdbEntryList& list) {
  std::vector<std::string> out;
  for (size_t i = 0; i < list.size(); ++i) {
    out.emplace_back(list[i]);
  }
  return out;
}

Entry S(std::string text) { return Entry(std::move(text)); }
Entry I(int64_t value) { return Entry(value); }

// ---- RdbEntryList ----

TEST(RdbEntryList, AddsStringsAndIntegersAndRemovesFromTheFront) {
  RdbEntryList list;
  list.Add("a");
  list.AddInteger(-42);
  list.Add("");
  list.Add("xyz");
  EXPECT_THAT(Strings(list), ElementsAre("a", "-42", "", "xyz"));
  list.RemoveFront(2);
  EXPECT_THAT(Strings(list), ElementsAre("", "xyz"));
  list.RemoveFront(2);
  EXPECT_TRUE(list.empty());
}

// ---- LZF ----

TEST(LzfDecompress, LiteralRun) {
  std::string out;
  ASSERT_TRUE(LzfDecompress(std::string("\x02"
                                        "abc",
                                        4),
                            3, &out)
                  .ok());
  EXPECT_EQ(out, "abc");
}

TEST(LzfDecompress, OverlappingBackReferenceRepeatsBytes) {
  // 'a', then a reference of 29 bytes at distance 1: long form (7 + 20 + 2).
  std::string out;
  ASSERT_TRUE(LzfDecompress(std::string("\x00"
                                        "a\xe0\x14\x00",
                                        5),
                            30, &out)
                  .ok());
  EXPECT_EQ(out, std::string(30, 'a'));
}

TEST(LzfDecompress, ShortBackReference) {
  // "abc", then 3 bytes ("abc") at distance 3: control (1 << 5) | 0, distance byte 2.
  std::string out;
  ASSERT_TRUE(LzfDecompress(std::string("\x02"
                                        "abc\x20\x02",
                                        6),
                            6, &out)
                  .ok());
  EXPECT_EQ(out, "abcabc");
}

TEST(LzfDecompress, ReferenceBeforeTheStartIsCorruption) {
  std::string out;
  const auto status = LzfDecompress(std::string("\x00"
                                                "a\x20\x05",
                                                4),
                                    4, &out);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_THAT(status.message(), HasSubstr("before the start"));
}

TEST(LzfDecompress, OutputLargerOrSmallerThanAnnouncedIsCorruption) {
  std::string out;
  EXPECT_EQ(LzfDecompress(std::string("\x02"
                                      "abc",
                                      4),
                          2, &out)
                .code(),
            StatusCode::kCorruption);
  EXPECT_EQ(LzfDecompress(std::string("\x02"
                                      "abc",
                                      4),
                          4, &out)
                .code(),
            StatusCode::kCorruption);
  EXPECT_EQ(LzfDecompress(std::string("\x00"
                                      "a\xe0\x14\x00",
                                      5),
                          29, &out)
                .code(),
            StatusCode::kCorruption);
}

TEST(LzfDecompress, InputEndingInsideARunIsCorruption) {
  std::string out;
  EXPECT_EQ(LzfDecompress(std::string("\x05"
                                      "abc",
                                      4),
                          6, &out)
                .code(),
            StatusCode::kCorruption);
  EXPECT_EQ(LzfDecompress(std::string("\x00"
                                      "a\x20",
                                      3),
                          4, &out)
                .code(),
            StatusCode::kCorruption);
  EXPECT_EQ(LzfDecompress(std::string("\x00"
                                      "a\xe0\x14",
                                      4),
                          30, &out)
                .code(),
            StatusCode::kCorruption);
}

// ---- Listpack ----

TEST(DecodeListpack, EveryEncoding) {
  const std::vector<Entry> entries = {S(""),
                                      S("short"),
                                      S(std::string(100, 'm')),
                                      S(std::string(5000, 'l')),
                                      I(0),
                                      I(127),
                                      I(128),
                                      I(-1),
                                      I(-4096),
                                      I(4095),
                                      I(-32768),
                                      I(32767),
                                      I(40000),
                                      I(-8388608),
                                      I(8388607),
                                      I(2147483647),
                                      I(-2147483648LL - 1),
                                      I(INT64_MIN),
                                      I(INT64_MAX)};
  RdbEntryList list;
  ASSERT_TRUE(DecodeListpack(rdb_test::Listpack(entries), &list).ok());
  EXPECT_THAT(Strings(list),
              ElementsAreArray(std::vector<std::string>{
                  "", "short", std::string(100, 'm'), std::string(5000, 'l'), "0", "127", "128",
                  "-1", "-4096", "4095", "-32768", "32767", "40000", "-8388608", "8388607",
                  "2147483647", "-2147483649", "-9223372036854775808", "9223372036854775807"}));
}

TEST(DecodeListpack, EmptyListpack) {
  RdbEntryList list;
  ASSERT_TRUE(DecodeListpack(rdb_test::Listpack({}), &list).ok());
  EXPECT_TRUE(list.empty());
}

TEST(DecodeListpack, UnknownCountIsAccepted) {
  std::string blob = rdb_test::Listpack({S("a"), S("b")});
  blob[4] = '\xff';
  blob[5] = '\xff';
  RdbEntryList list;
  ASSERT_TRUE(DecodeListpack(blob, &list).ok());
  EXPECT_THAT(Strings(list), ElementsAre("a", "b"));
}

TEST(DecodeListpack, WrongCountIsCorruption) {
  std::string blob = rdb_test::Listpack({S("a"), S("b")});
  blob[4] = 3;
  RdbEntryList list;
  const auto status = DecodeListpack(blob, &list);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_THAT(status.message(), HasSubstr("announces 3 entries but holds 2"));
}

TEST(DecodeListpack, WrongTotalBytesIsCorruption) {
  std::string blob = rdb_test::Listpack({S("a")});
  blob[0] = static_cast<char>(blob[0] + 1);
  RdbEntryList list;
  EXPECT_EQ(DecodeListpack(blob, &list).code(), StatusCode::kCorruption);
}

TEST(DecodeListpack, MissingEndByteIsCorruption) {
  std::string blob = rdb_test::Listpack({S("a")});
  blob.back() = 0;
  RdbEntryList list;
  EXPECT_EQ(DecodeListpack(blob, &list).code(), StatusCode::kCorruption);
}

TEST(DecodeListpack, BadBacklenIsCorruption) {
  std::string blob = rdb_test::Listpack({S("abc")});
  blob[6 + 4] = 9;  // the backlen of the 4-byte entry
  RdbEntryList list;
  const auto status = DecodeListpack(blob, &list);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_THAT(status.message(), HasSubstr("back length"));
}

TEST(DecodeListpack, InvalidEncodingByteIsCorruption) {
  std::string blob = rdb_test::Listpack({I(1)});
  blob[6] = '\xf5';
  RdbEntryList list;
  const auto status = DecodeListpack(blob, &list);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_THAT(status.message(), HasSubstr("invalid encoding byte 245"));
}

TEST(DecodeListpack, StringRunningPastTheEndIsCorruption) {
  std::string blob = rdb_test::Listpack({S("abc")});
  blob[6] = static_cast<char>(0x80 | 60);
  RdbEntryList list;
  EXPECT_EQ(DecodeListpack(blob, &list).code(), StatusCode::kCorruption);
}

TEST(DecodeListpack, EveryTruncationIsCorruption) {
  const std::string blob =
      rdb_test::Listpack({S("abc"), I(300), I(-70000), S(std::string(200, 'x')), I(5)});
  for (size_t size = 0; size < blob.size(); ++size) {
    RdbEntryList list;
    ASSERT_EQ(DecodeListpack(blob.substr(0, size), &list).code(), StatusCode::kCorruption)
        << "size " << size;
  }
}

// ---- Ziplist ----

TEST(DecodeZiplist, EveryEncoding) {
  const std::vector<Entry> entries = {S(""),
                                      S("short"),
                                      S(std::string(300, 'm')),
                                      S(std::string(20000, 'l')),
                                      I(0),
                                      I(12),
                                      I(13),
                                      I(-1),
                                      I(-128),
                                      I(127),
                                      I(-32768),
                                      I(32767),
                                      I(-8388608),
                                      I(8388607),
                                      I(2147483647),
                                      I(INT64_MIN),
                                      S("after a long one")};
  RdbEntryList list;
  const auto status = DecodeZiplist(rdb_test::Ziplist(entries), &list);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_THAT(Strings(list),
              ElementsAreArray(std::vector<std::string>{
                  "", "short", std::string(300, 'm'), std::string(20000, 'l'), "0", "12", "13",
                  "-1", "-128", "127", "-32768", "32767", "-8388608", "8388607", "2147483647",
                  "-9223372036854775808", "after a long one"}));
}

TEST(DecodeZiplist, EmptyZiplist) {
  RdbEntryList list;
  ASSERT_TRUE(DecodeZiplist(rdb_test::Ziplist({}), &list).ok());
  EXPECT_TRUE(list.empty());
}

TEST(DecodeZiplist, WrongPrevlenIsCorruption) {
  std::string blob = rdb_test::Ziplist({S("a"), S("b")});
  blob[10 + 3] = 5;  // second entry's prevlen (first entry is 3 bytes)
  RdbEntryList list;
  const auto status = DecodeZiplist(blob, &list);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_THAT(status.message(), HasSubstr("previous length"));
}

TEST(DecodeZiplist, WrongTailIsCorruption) {
  std::string blob = rdb_test::Ziplist({S("a"), S("b")});
  blob[4] = 10;
  RdbEntryList list;
  const auto status = DecodeZiplist(blob, &list);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_THAT(status.message(), HasSubstr("tail offset"));
}

TEST(DecodeZiplist, WrongCountAndBadEncodingAreCorruption) {
  std::string blob = rdb_test::Ziplist({S("a"), S("b")});
  blob[8] = 1;
  RdbEntryList list;
  EXPECT_EQ(DecodeZiplist(blob, &list).code(), StatusCode::kCorruption);
  blob = rdb_test::Ziplist({I(1)});
  blob[11] = '\xc1';
  EXPECT_EQ(DecodeZiplist(blob, &list).code(), StatusCode::kCorruption);
}

TEST(DecodeZiplist, EveryTruncationIsCorruption) {
  const std::string blob =
      rdb_test::Ziplist({S("abc"), I(300), I(-70000), S(std::string(300, 'x')), I(5)});
  for (size_t size = 0; size < blob.size(); ++size) {
    RdbEntryList list;
    ASSERT_EQ(DecodeZiplist(blob.substr(0, size), &list).code(), StatusCode::kCorruption)
        << "size " << size;
  }
}

// ---- Intset ----

TEST(DecodeIntset, EachWidth) {
  RdbEntryList list;
  ASSERT_TRUE(DecodeIntset(rdb_test::Intset(2, {-5, 0, 7, 32767}), &list).ok());
  ASSERT_TRUE(DecodeIntset(rdb_test::Intset(4, {-70000, 70000}), &list).ok());
  ASSERT_TRUE(DecodeIntset(rdb_test::Intset(8, {INT64_MIN, INT64_MAX}), &list).ok());
  EXPECT_THAT(Strings(list), ElementsAre("-5", "0", "7", "32767", "-70000", "70000",
                                         "-9223372036854775808", "9223372036854775807"));
}

TEST(DecodeIntset, UnsortedOrRepeatedIsCorruption) {
  RdbEntryList list;
  EXPECT_EQ(DecodeIntset(rdb_test::Intset(2, {3, 1}), &list).code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeIntset(rdb_test::Intset(2, {1, 1}), &list).code(), StatusCode::kCorruption);
}

TEST(DecodeIntset, BadWidthOrSizeIsCorruption) {
  RdbEntryList list;
  EXPECT_EQ(DecodeIntset(rdb_test::Intset(3, {1}), &list).code(), StatusCode::kCorruption);
  std::string blob = rdb_test::Intset(2, {1, 2});
  EXPECT_EQ(DecodeIntset(blob + "x", &list).code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeIntset(blob.substr(0, 9), &list).code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeIntset("abc", &list).code(), StatusCode::kCorruption);
}

// ---- Zipmap ----

TEST(DecodeZipmap, PairsWithFreeBytesAndLongValues) {
  RdbEntryList list;
  const auto status = DecodeZipmap(
      rdb_test::Zipmap({{"f1", "v1"}, {"f2", std::string(300, 'v')}, {"", ""}}, 2), &list);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_THAT(Strings(list), ElementsAre("f1", "v1", "f2", std::string(300, 'v'), "", ""));
}

TEST(DecodeZipmap, CountMismatchAndTrailingBytesAreCorruption) {
  RdbEntryList list;
  std::string blob = rdb_test::Zipmap({{"a", "b"}});
  blob[0] = 2;
  EXPECT_EQ(DecodeZipmap(blob, &list).code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeZipmap(rdb_test::Zipmap({{"a", "b"}}) + "z", &list).code(),
            StatusCode::kCorruption);
}

TEST(DecodeZipmap, EveryTruncationIsCorruption) {
  const std::string blob = rdb_test::Zipmap({{"field", "value"}, {"x", std::string(300, 'y')}}, 1);
  for (size_t size = 0; size < blob.size(); ++size) {
    RdbEntryList list;
    ASSERT_EQ(DecodeZipmap(blob.substr(0, size), &list).code(), StatusCode::kCorruption)
        << "size " << size;
  }
}

// ---- Stream listpacks ----

RdbEntryList StreamEntries(const std::vector<Entry>& entries) {
  RdbEntryList list;
  EXPECT_TRUE(DecodeListpack(rdb_test::Listpack(entries), &list).ok());
  return list;
}

TEST(ValidateStreamListpack, MasterEntrySameFieldsAndOwnFields) {
  // Master: 2 entries, 0 deleted, fields "a" "b"; entry 1 same fields (flag 2): values + lp-count
  // 2 + 3; entry 2 own fields (flag 0): 1 field, "c" "v", lp-count 1 + 3 + 1 + 1.
  const RdbEntryList entries =
      StreamEntries({I(2), I(0), I(2), S("a"), S("b"), I(0), I(2), I(0), I(0), S("1"), S("2"), I(5),
                     I(0), I(1), I(0), I(1), S("c"), S("v"), I(6)});
  const auto status = ValidateStreamListpack(entries);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateStreamListpack, InconsistenciesAreCorruption) {
  // Wrong lp-count.
  EXPECT_EQ(ValidateStreamListpack(
                StreamEntries({I(1), I(0), I(1), S("a"), I(0), I(2), I(0), I(0), S("1"), I(5)}))
                .code(),
            StatusCode::kCorruption);
  // Master terminator not 0.
  EXPECT_EQ(ValidateStreamListpack(
                StreamEntries({I(1), I(0), I(1), S("a"), I(1), I(2), I(0), I(0), S("1"), I(4)}))
                .code(),
            StatusCode::kCorruption);
  // Entry count larger than the entries present.
  EXPECT_EQ(ValidateStreamListpack(
                StreamEntries({I(2), I(0), I(1), S("a"), I(0), I(2), I(0), I(0), S("1"), I(4)}))
                .code(),
            StatusCode::kCorruption);
  // Trailing elements.
  EXPECT_EQ(ValidateStreamListpack(StreamEntries({I(1), I(0), I(1), S("a"), I(0), I(2), I(0), I(0),
                                                  S("1"), I(4), I(9)}))
                .code(),
            StatusCode::kCorruption);
  // A count that is not an integer.
  EXPECT_EQ(ValidateStreamListpack(StreamEntries({S("x")})).code(), StatusCode::kCorruption);
}

// ---- Numbers ----

TEST(ParseStrictInt64, CanonicalDecimalOnly) {
  int64_t value = 0;
  EXPECT_TRUE(ParseStrictInt64("0", &value));
  EXPECT_TRUE(ParseStrictInt64("-9223372036854775808", &value));
  EXPECT_EQ(value, INT64_MIN);
  for (const char* bad : {"", "-", "-0", "01", "+1", " 1", "1 ", "9223372036854775808", "1a"}) {
    EXPECT_FALSE(ParseStrictInt64(bad, &value)) << bad;
  }
}

TEST(ParseScore, NumbersAndInfinities) {
  double value = 0;
  ASSERT_TRUE(ParseScore("1.5", &value));
  EXPECT_EQ(value, 1.5);
  ASSERT_TRUE(ParseScore("-inf", &value));
  EXPECT_TRUE(std::isinf(value) && value < 0);
  ASSERT_TRUE(ParseScore("inf", &value));
  EXPECT_TRUE(std::isinf(value) && value > 0);
  EXPECT_FALSE(ParseScore("", &value));
  EXPECT_FALSE(ParseScore("1.5x", &value));
}

}  // namespace
}  // namespace tandem::connectors::redis::rdb_internal
