#include "connectors/redis/redis_info.h"

#include <gtest/gtest.h>

namespace tandem::connectors::redis {
namespace {

TEST(RedisInfoFields, ParsesSectionsAndKeepsRepeatedFields) {
  InfoFields info = InfoFields::Parse(
      "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n# Modules\r\n"
      "module:name=search,ver=20604,api=1\r\nmodule:name=ReJSON,ver=20407,api=1\r\n"
      "no colon here\r\n");
  EXPECT_EQ(info.Get("redis_version"), "7.0.15");
  EXPECT_EQ(info.Get("missing"), std::nullopt);
  EXPECT_EQ(info.GetAll("module").size(), 2u);
  std::vector<ModuleInfo> modules = ModulesFromInfo(info);
  ASSERT_EQ(modules.size(), 2u);
  EXPECT_EQ(modules[0].name, "search");
  EXPECT_EQ(modules[0].version, "20604");
  EXPECT_EQ(modules[1].name, "ReJSON");
}

TEST(RedisInfoFields, GetIntRejectsNonNumbers) {
  InfoFields info = InfoFields::Parse("used_memory:1125528\nmaxmemory_human:0B\n");
  EXPECT_EQ(info.GetInt("used_memory"), 1125528);
  EXPECT_EQ(info.GetInt("maxmemory_human"), std::nullopt);
}

TEST(RedisVersionNumber, ComputesComparableNumbers) {
  EXPECT_EQ(ParseVersionNumber("7.0.15"), 70015);
  EXPECT_EQ(ParseVersionNumber("6.2.14"), 60214);
  EXPECT_EQ(ParseVersionNumber("3.2"), 30200);
  EXPECT_EQ(ParseVersionNumber("7"), 70000);
  EXPECT_EQ(ParseVersionNumber("255.255.255"), 999999);  // parts clamp at 99
  EXPECT_EQ(ParseVersionNumber("unknown"), std::nullopt);
}

TEST(RedisKeyspace, ReadsEveryDatabaseInOrder) {
  InfoFields info = InfoFields::Parse(
      "# Keyspace\r\ndb5:keys=3,expires=0,avg_ttl=0\r\ndb0:keys=12,expires=2,avg_ttl=5000\r\n");
  auto keyspaces = ParseKeyspace(info);
  ASSERT_TRUE(keyspaces.ok()) << keyspaces.status().ToString();
  ASSERT_EQ(keyspaces->size(), 2u);
  EXPECT_EQ((*keyspaces)[0].database, 0);
  EXPECT_EQ((*keyspaces)[0].keys, 12);
  EXPECT_EQ((*keyspaces)[0].keys_with_expiry, 2);
  EXPECT_EQ((*keyspaces)[1].database, 5);
  EXPECT_EQ((*keyspaces)[1].keys, 3);
}

TEST(RedisKeyspace, UnreadableCountIsCorruption) {
  auto keyspaces = ParseKeyspace(InfoFields::Parse("db0:keys=lots\r\n"));
  ASSERT_FALSE(keyspaces.ok());
  EXPECT_EQ(keyspaces.status().code(), engine::StatusCode::kCorruption);
  EXPECT_NE(keyspaces.status().message().find("db0:keys=lots"), std::string::npos);
}

TEST(RedisConfigReply, ReadsPairsAndRejectsOtherShapes) {
  auto config = ParseConfigReply(Reply::Array(
      {Reply::String("save"), Reply::String(""), Reply::String("databases"), Reply::String("16")}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->at("save"), "");
  EXPECT_EQ(config->at("databases"), "16");
  EXPECT_FALSE(ParseConfigReply(Reply::Array({Reply::String("odd")})).ok());
  EXPECT_FALSE(ParseConfigReply(Reply::Status("OK")).ok());
}

TEST(RedisMemorySize, UnderstandsRedisUnits) {
  EXPECT_EQ(ParseMemorySize("0"), 0);
  EXPECT_EQ(ParseMemorySize("1048576"), 1048576);
  EXPECT_EQ(ParseMemorySize("1mb"), 1048576);
  EXPECT_EQ(ParseMemorySize("1m"), 1000000);
  EXPECT_EQ(ParseMemorySize("2GB"), 2LL * 1024 * 1024 * 1024);
  EXPECT_EQ(ParseMemorySize("64kb"), 65536);
  EXPECT_EQ(ParseMemorySize("lots"), std::nullopt);
  EXPECT_EQ(ParseMemorySize("5tb"), std::nullopt);
}

TEST(RedisModuleList, ReadsNamesAndVersions) {
  Reply reply = Reply::Array({Reply::Array(
      {Reply::String("name"), Reply::String("search"), Reply::String("ver"), Reply::Integer(20604),
       Reply::String("path"), Reply::String("/x.so"), Reply::String("args"), Reply::Array({})})});
  auto modules = ParseModuleList(reply);
  ASSERT_TRUE(modules.ok());
  ASSERT_EQ(modules->size(), 1u);
  EXPECT_EQ((*modules)[0].name, "search");
  EXPECT_EQ((*modules)[0].version, "20604");
  auto empty = ParseModuleList(Reply::Array({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(ParseModuleList(Reply::Nil()).ok());
}

}  // namespace
}  // namespace tandem::connectors::redis
