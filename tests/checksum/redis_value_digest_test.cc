// Unit tests of the client-side Redis value digest and the repair script's argument quoting.
#include "checksum/redis_value_digest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checksum/redis_repair.h"
#include "checksum/redis_verifier.h"

namespace tandem::checksum {
namespace {

std::string DigestOf(const std::string& type, const std::vector<std::vector<std::string>>& pages) {
  ValueDigest digest(type);
  for (const auto& page : pages) {
    EXPECT_TRUE(digest.Add(page).ok());
  }
  return digest.Finish();
}

TEST(RedisValueDigest, HashIgnoresPairOrderAndPageBoundaries) {
  EXPECT_EQ(DigestOf("hash", {{"a", "1", "b", "2", "c", "3"}}),
            DigestOf("hash", {{"c", "3"}, {"a", "1", "b", "2"}}));
}

TEST(RedisValueDigest, HashFieldValueBoundaryMatters) {
  EXPECT_NE(DigestOf("hash", {{"ab", "c"}}), DigestOf("hash", {{"a", "bc"}}));
}

TEST(RedisValueDigest, ChangedHashValueDiffers) {
  EXPECT_NE(DigestOf("hash", {{"a", "1", "b", "2"}}), DigestOf("hash", {{"a", "1", "b", "3"}}));
}

TEST(RedisValueDigest, SetIgnoresMemberOrder) {
  EXPECT_EQ(DigestOf("set", {{"1", "2", "3"}}), DigestOf("set", {{"3"}, {"1", "2"}}));
  EXPECT_NE(DigestOf("set", {{"1", "2", "3"}}), DigestOf("set", {{"1", "2"}}));
}

TEST(RedisValueDigest, ListOrderMatters) {
  EXPECT_NE(DigestOf("list", {{"a", "b"}}), DigestOf("list", {{"b", "a"}}));
  EXPECT_EQ(DigestOf("list", {{"a", "b", "c"}}), DigestOf("list", {{"a"}, {"b", "c"}}));
  EXPECT_NE(DigestOf("list", {{"ab", "c"}}), DigestOf("list", {{"a", "bc"}}));
}

TEST(RedisValueDigest, StringPiecesConcatenate) {
  EXPECT_EQ(DigestOf("string", {{"hello world"}}), DigestOf("string", {{"hello "}, {"world"}}));
  EXPECT_NE(DigestOf("string", {{"hello"}}), DigestOf("string", {{"hellO"}}));
}

TEST(RedisValueDigest, ScoresCompareAsDoublesNotText) {
  EXPECT_EQ(DigestOf("zset", {{"m", "1.1"}}), DigestOf("zset", {{"m", "1.1000000000000001"}}));
  EXPECT_EQ(DigestOf("zset", {{"m", "-0"}}), DigestOf("zset", {{"m", "0"}}));
  EXPECT_EQ(DigestOf("zset", {{"m", "inf"}}), DigestOf("zset", {{"m", "INF"}}));
  EXPECT_NE(DigestOf("zset", {{"m", "1"}}), DigestOf("zset", {{"m", "1.0000000000000002"}}));
  EXPECT_EQ(DigestOf("zset", {{"a", "1", "b", "2"}}), DigestOf("zset", {{"b", "2"}, {"a", "1"}}));
}

TEST(RedisValueDigest, MalformedPagesAreCorruption) {
  ValueDigest odd("hash");
  EXPECT_EQ(odd.Add({"a", "1", "b"}).code(), engine::StatusCode::kCorruption);
  ValueDigest score("zset");
  EXPECT_EQ(score.Add({"m", "not-a-number"}).code(), engine::StatusCode::kCorruption);
}

TEST(RedisValueDigest, GroupsDigestEmptyForNoGroups) {
  EXPECT_EQ(GroupsDigest({}), "");
  EXPECT_NE(GroupsDigest({"g1"}), GroupsDigest({"g2"}));
}

TEST(RedisRepair, QuotesBinaryForRedisCli) {
  EXPECT_EQ(QuoteRedisArgument("plain"), "\"plain\"");
  EXPECT_EQ(QuoteRedisArgument(std::string("a\0b\xff\"\\\n", 7)), "\"a\\x00b\\xff\\\"\\\\\\n\"");
}

TEST(RedisReport, KeyNamesAreTextOrBytes) {
  EXPECT_EQ(RedisKeyValue("user:1").kind(), engine::ValueKind::kText);
  EXPECT_EQ(RedisKeyValue("caf\xc3\xa9").kind(), engine::ValueKind::kText);
  EXPECT_EQ(RedisKeyValue(std::string("a\0b", 3)).kind(), engine::ValueKind::kBytes);
  EXPECT_EQ(RedisKeyValue("\xff\xfe").kind(), engine::ValueKind::kBytes);
  EXPECT_EQ(RedisKeyValue("\xff\xfe").text(), "\xff\xfe");
}

}  // namespace
}  // namespace tandem::checksum
