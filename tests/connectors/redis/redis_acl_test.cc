#include "connectors/redis/redis_acl.h"

#include <gtest/gtest.h>

namespace tandem::connectors::redis {
namespace {

const RequiredCommand& Command(engine::Role role, const std::string& name) {
  for (const RequiredCommand& command : RequiredCommands(role)) {
    if (command.name == name) {
      return command;
    }
  }
  ADD_FAILURE() << "no required command " << name;
  return RequiredCommands(role).front();
}

bool Allows(const std::string& rules, const std::string& name,
            engine::Role role = engine::Role::kSource) {
  return AclAllowsCommand(AclRuleSet{rules, {"~*"}}, Command(role, name));
}

TEST(RedisAclRules, AppliesRulesInOrder) {
  EXPECT_TRUE(Allows("+@all", "psync"));
  EXPECT_TRUE(Allows("allcommands", "psync"));
  EXPECT_FALSE(Allows("+@all -psync", "psync"));
  EXPECT_TRUE(Allows("+@all -psync", "sync"));
  EXPECT_FALSE(Allows("-@all +get", "psync"));
  EXPECT_TRUE(Allows("-@all +psync", "psync"));
  EXPECT_FALSE(Allows("+@all -@admin", "replconf"));
  EXPECT_TRUE(Allows("+@all -@admin +replconf", "replconf"));
  EXPECT_TRUE(Allows("-@all +@dangerous", "sync"));
  EXPECT_FALSE(Allows("+PSYNC nocommands", "psync"));
  EXPECT_FALSE(Allows("", "psync"));
  // SELECT moved from @keyspace (Redis 6) to @connection (Redis 7); either grants it.
  EXPECT_TRUE(Allows("-@all +@keyspace", "select", engine::Role::kTarget));
  EXPECT_TRUE(Allows("-@all +@connection", "select", engine::Role::kTarget));
}

TEST(RedisAclKeys, NeedsAReadWritePatternForEveryKey) {
  EXPECT_TRUE(AclAllowsAllKeys({"", {"~*"}}));
  EXPECT_TRUE(AclAllowsAllKeys({"", {"~app:*", "%RW~*"}}));
  EXPECT_FALSE(AclAllowsAllKeys({"", {"~app:*"}}));
  EXPECT_FALSE(AclAllowsAllKeys({"", {"%R~*"}}));
  EXPECT_FALSE(AclAllowsAllKeys({"", {}}));
}

TEST(RedisAclGetUser, ReadsRedis7RulesAndSelectors) {
  // ACL GETUSER sel after: ACL SETUSER sel on nopass ~app:* -@all +get (+psync ~*)
  Reply reply = Reply::Array({
      Reply::String("flags"),
      Reply::Array({Reply::String("on"), Reply::String("nopass")}),
      Reply::String("passwords"),
      Reply::Array({}),
      Reply::String("commands"),
      Reply::String("-@all +get"),
      Reply::String("keys"),
      Reply::String("~app:*"),
      Reply::String("channels"),
      Reply::String(""),
      Reply::String("selectors"),
      Reply::Array({Reply::Array({Reply::String("commands"), Reply::String("-@all +psync"),
                                  Reply::String("keys"), Reply::String("~*"),
                                  Reply::String("channels"), Reply::String("")})}),
  });
  auto user = ParseAclGetUser(reply);
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  ASSERT_EQ(user->rule_sets.size(), 2u);
  EXPECT_EQ(user->rule_sets[0].commands, "-@all +get");
  EXPECT_EQ(user->rule_sets[0].key_patterns, std::vector<std::string>{"~app:*"});
  EXPECT_EQ(user->rule_sets[1].commands, "-@all +psync");
  // PSYNC comes from the selector; SYNC and REPLCONF from nowhere.
  EXPECT_EQ(DeniedByRules(*user, RequiredCommands(engine::Role::kSource)),
            (std::vector<std::string>{"sync", "replconf"}));
}

TEST(RedisAclGetUser, ReadsRedis6KeyArraysAndAllkeysFlag) {
  Reply reply = Reply::Array({
      Reply::String("flags"),
      Reply::Array({Reply::String("on"), Reply::String("allkeys")}),
      Reply::String("passwords"),
      Reply::Array({}),
      Reply::String("commands"),
      Reply::String("+@all -del"),
      Reply::String("keys"),
      Reply::Array({}),
  });
  auto user = ParseAclGetUser(reply);
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_TRUE(AclAllowsAllKeys(user->rule_sets[0]));
  EXPECT_EQ(DeniedByRules(*user, RequiredCommands(engine::Role::kTarget)),
            std::vector<std::string>{"del"});
}

TEST(RedisAclDenied, KeyCommandsNeedEveryKey) {
  AclUser user{{AclRuleSet{"+@all", {"~app:*"}}}};
  EXPECT_EQ(DeniedByRules(user, RequiredCommands(engine::Role::kTarget)),
            (std::vector<std::string>{"restore", "del", "set", "pexpireat"}));
  EXPECT_TRUE(DeniedByRules(user, RequiredCommands(engine::Role::kSource)).empty());
}

TEST(RedisAclGetUser, NilIsNotFoundAndOtherShapesCorruption) {
  EXPECT_EQ(ParseAclGetUser(Reply::Nil()).status().code(), engine::StatusCode::kNotFound);
  EXPECT_EQ(ParseAclGetUser(Reply::Integer(1)).status().code(), engine::StatusCode::kCorruption);
}

}  // namespace
}  // namespace tandem::connectors::redis
