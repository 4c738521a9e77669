// CommandKeyTable on hand-built COMMAND replies (the Redis 7 shape, and Redis 6's shorter one):
// fixed key positions, the movable-key rules, subcommands, and the barriers.
#include "connectors/redis/redis_command_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace tandem::connectors::redis {
namespace {

using engine::StatusCode;
using ::testing::ElementsAre;
using ::testing::Optional;

using Args = std::vector<std::string>;

// A Redis 7 COMMAND entry: [name, arity, flags, first, last, step, acl categories, tips,
// key specs, subcommands].
Reply Entry(const std::string& name, int arity, std::vector<std::string> flags, int first, int last,
            int step, std::vector<Reply> subcommands = {}) {
  std::vector<Reply> flag_replies;
  for (std::string& flag : flags) {
    flag_replies.push_back(Reply::Status(std::move(flag)));
  }
  return Reply::Array({Reply::String(name), Reply::Integer(arity),
                       Reply::Array(std::move(flag_replies)), Reply::Integer(first),
                       Reply::Integer(last), Reply::Integer(step),
                       Reply::Array({Reply::Status("@write")}), Reply::Array({}), Reply::Array({}),
                       Reply::Array(std::move(subcommands))});
}

// Entries as Redis 7.2 reports them.
Reply Redis7Commands() {
  return Reply::Array({
      Entry("set", -3, {"write", "denyoom"}, 1, 1, 1),
      Entry("get", 2, {"readonly", "fast"}, 1, 1, 1),
      Entry("mset", -3, {"write", "denyoom"}, 1, -1, 2),
      Entry("rename", 3, {"write"}, 1, 2, 1),
      Entry("del", -2, {"write"}, 1, -1, 1),
      Entry("pexpireat", -3, {"write", "fast"}, 1, 1, 1),
      Entry("zunionstore", -4, {"write", "denyoom", "movablekeys"}, 1, 1, 1),
      Entry("zinterstore", -4, {"write", "denyoom", "movablekeys"}, 1, 1, 1),
      Entry("sort", -2, {"write", "denyoom", "movablekeys"}, 1, 0, 1),
      Entry("lmpop", -4, {"write", "movablekeys"}, 0, 0, 0),
      Entry("blmpop", -5, {"write", "movablekeys", "blocking"}, 0, 0, 0),
      Entry("xread", -4, {"readonly", "blocking", "movablekeys"}, 0, 0, 0),
      Entry("georadius", -6, {"write", "denyoom", "movablekeys"}, 1, 1, 1),
      Entry("flushdb", -1, {"write"}, 0, 0, 0),
      Entry("swapdb", 3, {"write", "fast"}, 0, 0, 0),
      Entry("eval", -3, {"noscript", "stale", "skip_monitor", "movablekeys"}, 0, 0, 0),
      Entry("migrate", -6, {"write", "movablekeys"}, 3, 3, 1),
      Entry("select", 2, {"loading", "stale", "fast"}, 0, 0, 0),
      Entry("xgroup", -2, {}, 0, 0, 0,
            {Entry("xgroup|create", -5, {"write", "denyoom"}, 2, 2, 1),
             Entry("xgroup|destroy", 4, {"write"}, 2, 2, 1)}),
  });
}

CommandKeyTable Table() {
  auto table = CommandKeyTable::FromCommandReply(Redis7Commands());
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  return std::move(table).value();
}

TEST(CommandKeyTable, ReadsEveryCommandAndSubcommand) { EXPECT_EQ(Table().size(), 21u); }

TEST(CommandKeyTable, FixedPositions) {
  CommandKeyTable table = Table();
  EXPECT_THAT(table.Keys({"SET", "k", "v", "EX", "10"}), Optional(ElementsAre("k")));
  EXPECT_THAT(table.Keys({"MSET", "a", "1", "b", "2", "c", "3"}),
              Optional(ElementsAre("a", "b", "c")));
  EXPECT_THAT(table.Keys({"RENAME", "from", "to"}), Optional(ElementsAre("from", "to")));
  EXPECT_THAT(table.Keys({"DEL", "x", "y", "z"}), Optional(ElementsAre("x", "y", "z")));
  EXPECT_THAT(table.Keys({"PEXPIREAT", "k", "1700000000000"}), Optional(ElementsAre("k")));
}

TEST(CommandKeyTable, NamesCompareCaseInsensitively) {
  CommandKeyTable table = Table();
  EXPECT_THAT(table.Keys({"set", "Key", "v"}), Optional(ElementsAre("Key")));
  EXPECT_THAT(table.Keys({"sEt", "k", "v"}), Optional(ElementsAre("k")));
  EXPECT_THAT(table.Keys({"xGroup", "CREATE", "stream", "g", "$"}),
              Optional(ElementsAre("stream")));
  EXPECT_THAT(table.Keys({"SORT", "src", "store", "dst"}), Optional(ElementsAre("src", "dst")));
}

TEST(CommandKeyTable, MovableKeyRules) {
  CommandKeyTable table = Table();
  EXPECT_THAT(table.Keys({"ZUNIONSTORE", "dest", "2", "a", "b", "WEIGHTS", "1", "2"}),
              Optional(ElementsAre("dest", "a", "b")));
  EXPECT_THAT(table.Keys({"ZINTERSTORE", "dest", "1", "a"}), Optional(ElementsAre("dest", "a")));
  EXPECT_THAT(table.Keys({"SORT", "list", "LIMIT", "0", "10", "ALPHA", "STORE", "out"}),
              Optional(ElementsAre("list", "out")));
  EXPECT_THAT(table.Keys({"SORT", "list"}), Optional(ElementsAre("list")));
  EXPECT_THAT(table.Keys({"SORT", "list", "BY", "nosort", "GET", "#", "STORE", "out"}),
              Optional(ElementsAre("list", "out")));
  EXPECT_THAT(table.Keys({"LMPOP", "2", "l1", "l2", "LEFT", "COUNT", "3"}),
              Optional(ElementsAre("l1", "l2")));
  EXPECT_THAT(table.Keys({"BLMPOP", "0.5", "1", "l1", "RIGHT"}), Optional(ElementsAre("l1")));
  EXPECT_THAT(table.Keys({"XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"}),
              Optional(ElementsAre("s1", "s2")));
  EXPECT_THAT(table.Keys({"GEORADIUS", "geo", "15", "37", "200", "km", "STORE", "out"}),
              Optional(ElementsAre("geo", "out")));
}

TEST(CommandKeyTable, MalformedMovableCallsAreUnknown) {
  CommandKeyTable table = Table();
  EXPECT_EQ(table.Keys({"ZUNIONSTORE", "dest", "5", "a", "b"}), std::nullopt);
  EXPECT_EQ(table.Keys({"ZUNIONSTORE", "dest", "x", "a", "b"}), std::nullopt);
  EXPECT_EQ(table.Keys({"LMPOP", "0", "l1", "LEFT"}), std::nullopt);
  EXPECT_EQ(table.Keys({"XREAD", "STREAMS", "s1", "s2", "0"}), std::nullopt);
}

// BY and GET patterns read keys SORT does not declare: ordered against everything.
TEST(CommandKeyTable, SortWithPatternsIsUnknown) {
  CommandKeyTable table = Table();
  EXPECT_EQ(table.Keys({"SORT", "list", "BY", "weight_*", "STORE", "out"}), std::nullopt);
  EXPECT_EQ(table.Keys({"SORT", "list", "GET", "object_*", "STORE", "out"}), std::nullopt);
}

TEST(CommandKeyTable, SubcommandsTakeTheirOwnSpec) {
  CommandKeyTable table = Table();
  EXPECT_THAT(table.Keys({"XGROUP", "CREATE", "mystream", "group", "$", "MKSTREAM"}),
              Optional(ElementsAre("mystream")));
  EXPECT_THAT(table.Keys({"XGROUP", "DESTROY", "mystream", "group"}),
              Optional(ElementsAre("mystream")));
  EXPECT_EQ(table.Keys({"XGROUP", "HELP"}), std::nullopt);
}

TEST(CommandKeyTable, BarriersAndUnknownCommandsHaveNoKeys) {
  CommandKeyTable table = Table();
  EXPECT_EQ(table.Keys({"FLUSHDB"}), std::nullopt);
  EXPECT_EQ(table.Keys({"FLUSHDB", "ASYNC"}), std::nullopt);
  EXPECT_EQ(table.Keys({"SWAPDB", "0", "1"}), std::nullopt);
  EXPECT_EQ(table.Keys({"EVAL", "return 1", "1", "k"}), std::nullopt);
  EXPECT_EQ(table.Keys({"MIGRATE", "host", "6379", "k", "0", "1000"}), std::nullopt);
  EXPECT_EQ(table.Keys({"SELECT", "2"}), std::nullopt);
  // A key of another database: the writeset could not order it against that database's writes.
  EXPECT_EQ(table.Keys({"MOVE", "k", "3"}), std::nullopt);
  EXPECT_EQ(table.Keys({"COPY", "a", "b", "DB", "3"}), std::nullopt);
  EXPECT_EQ(table.Keys({"NOSUCHCOMMAND", "k"}), std::nullopt);
  EXPECT_EQ(table.Keys({}), std::nullopt);
}

TEST(CommandKeyTable, CallsOfTheWrongArityAreUnknown) {
  CommandKeyTable table = Table();
  EXPECT_EQ(table.Keys({"SET", "k"}), std::nullopt);
  EXPECT_EQ(table.Keys({"RENAME", "a", "b", "c"}), std::nullopt);
}

// Redis 6 entries stop after the ACL categories and give containers their own key spec.
TEST(CommandKeyTable, Redis6ShapeIsAccepted) {
  auto entry = [](const std::string& name, int arity, int first, int last, int step) {
    return Reply::Array({Reply::String(name), Reply::Integer(arity),
                         Reply::Array({Reply::Status("write")}), Reply::Integer(first),
                         Reply::Integer(last), Reply::Integer(step),
                         Reply::Array({Reply::Status("@write")})});
  };
  auto table = CommandKeyTable::FromCommandReply(
      Reply::Array({entry("set", -3, 1, 1, 1), entry("xgroup", -2, 2, 2, 1)}));
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_THAT(table->Keys({"SET", "k", "v"}), Optional(ElementsAre("k")));
  EXPECT_THAT(table->Keys({"XGROUP", "CREATE", "s", "g", "$"}), Optional(ElementsAre("s")));
}

TEST(CommandKeyTable, RepliesOfAnotherShapeAreCorruption) {
  EXPECT_EQ(CommandKeyTable::FromCommandReply(Reply::Status("OK")).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(CommandKeyTable::FromCommandReply(Reply::Array({Reply::Integer(1)})).status().code(),
            StatusCode::kCorruption);
  Reply bad_arity = Reply::Array({Entry("set", -3, {}, 1, 1, 1)});
  bad_arity.elements[0].elements[1] = Reply::String("-3");
  auto table = CommandKeyTable::FromCommandReply(bad_arity);
  EXPECT_EQ(table.status().code(), StatusCode::kCorruption);
  EXPECT_NE(table.status().message().find("entry 0"), std::string::npos)
      << table.status().message();
}

}  // namespace
}  // namespace tandem::connectors::redis
