#include "connectors/redis/redis_reply_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::connectors::redis {
namespace {

// Every reply type once, nested arrays included, with a bulk string holding NUL, CR and LF.
const std::string kStream = std::string(
                                "+OK\r\n"
                                "-ERR unknown command\r\n"
                                ":-42\r\n"
                                "$5\r\nhello\r\n"
                                "$-1\r\n"
                                "*-1\r\n"
                                "*0\r\n"
                                "$0\r\n\r\n"
                                "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+s\r\n"
                                "$6\r\n") +
                            std::string("a\0\r\nb\xff", 6) + "\r\n";

std::vector<Reply> ExpectedReplies() {
  return {Reply::Status("OK"),
          Reply::Error("ERR unknown command"),
          Reply::Integer(-42),
          Reply::String("hello"),
          Reply::Nil(),
          Reply::Nil(),
          Reply::Array({}),
          Reply::String(""),
          Reply::Array({Reply::Integer(1), Reply::Array({Reply::String("a"), Reply::Nil()}),
                        Reply::Status("s")}),
          Reply::String(std::string("a\0\r\nb\xff", 6))};
}

std::vector<Reply> DrainAll(ReplyParser& parser) {
  std::vector<Reply> out;
  for (;;) {
    auto next = parser.Next();
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok() || !next->has_value()) {
      return out;
    }
    out.push_back(std::move(**next));
  }
}

TEST(RedisReplyParser, ParsesEveryReplyTypeFedWhole) {
  ReplyParser parser;
  ASSERT_TRUE(parser.Feed(kStream.data(), kStream.size()).ok());
  EXPECT_EQ(DrainAll(parser), ExpectedReplies());
  EXPECT_FALSE(parser.has_partial_input());
}

TEST(RedisReplyParser, ParsesEveryReplyTypeFedOneByteAtATime) {
  ReplyParser parser;
  std::vector<Reply> replies;
  for (char byte : kStream) {
    ASSERT_TRUE(parser.Feed(&byte, 1).ok());
    for (Reply& reply : DrainAll(parser)) {
      replies.push_back(std::move(reply));
    }
  }
  EXPECT_EQ(replies, ExpectedReplies());
}

TEST(RedisReplyParser, TruncatedReplyWaitsForMoreBytes) {
  ReplyParser parser;
  std::string partial = "*2\r\n$5\r\nhel";
  ASSERT_TRUE(parser.Feed(partial.data(), partial.size()).ok());
  auto next = parser.Next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  EXPECT_TRUE(parser.has_partial_input());
  std::string rest = "lo\r\n:7\r\n";
  ASSERT_TRUE(parser.Feed(rest.data(), rest.size()).ok());
  EXPECT_EQ(DrainAll(parser),
            std::vector<Reply>{Reply::Array({Reply::String("hello"), Reply::Integer(7)})});
  EXPECT_FALSE(parser.has_partial_input());
}

TEST(RedisReplyParser, ReadTypeByteAloneIsPartial) {
  ReplyParser parser;
  EXPECT_FALSE(parser.has_partial_input());
  ASSERT_TRUE(parser.Feed("$", 1).ok());
  EXPECT_TRUE(DrainAll(parser).empty());
  EXPECT_TRUE(parser.has_partial_input());
  ASSERT_TRUE(parser.Feed("2\r\nok\r\n", 7).ok());
  EXPECT_EQ(DrainAll(parser), std::vector<Reply>{Reply::String("ok")});
  EXPECT_FALSE(parser.has_partial_input());
}

TEST(RedisReplyParser, HalfReadArrayWhoseBytesAreAllConsumedIsPartial) {
  ReplyParser parser;
  std::string partial = "*2\r\n:1\r\n";
  ASSERT_TRUE(parser.Feed(partial.data(), partial.size()).ok());
  EXPECT_TRUE(DrainAll(parser).empty());
  EXPECT_TRUE(parser.has_partial_input());
}

TEST(RedisReplyParser, UnknownTypeByteIsCorruptionAndStaysFailed) {
  ReplyParser parser;
  std::string bad = "+OK\r\n!oops\r\n";
  ASSERT_TRUE(parser.Feed(bad.data(), bad.size()).ok());
  auto first = parser.Next();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(**first, Reply::Status("OK"));
  auto second = parser.Next();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), engine::StatusCode::kCorruption);
  EXPECT_NE(second.status().message().find("Protocol error"), std::string::npos);
  std::string more = "+OK\r\n";
  EXPECT_EQ(parser.Feed(more.data(), more.size()).code(), engine::StatusCode::kCorruption);
}

TEST(RedisReplyParser, CorruptionInsideAnArrayFreesThePartialReply) {
  // Run under ASan: the half-built array must be released by the parser, not leaked.
  ReplyParser parser;
  std::string bad = "*3\r\n$3\r\nabc\r\n*1\r\n:1\r\n?\r\n";
  ASSERT_TRUE(parser.Feed(bad.data(), bad.size()).ok());
  auto next = parser.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), engine::StatusCode::kCorruption);
}

TEST(RedisReplyParser, LargeBulkStringArrivingInChunks) {
  ReplyParser parser;
  std::string value(3 * 1024 * 1024 + 17, 'x');
  value[12345] = '\0';
  std::string wire = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  for (size_t offset = 0; offset < wire.size(); offset += 65536) {
    size_t size = std::min<size_t>(65536, wire.size() - offset);
    ASSERT_TRUE(parser.Feed(wire.data() + offset, size).ok());
    if (offset + size < wire.size()) {
      auto next = parser.Next();
      ASSERT_TRUE(next.ok());
      ASSERT_FALSE(next->has_value());
    }
  }
  EXPECT_EQ(DrainAll(parser), std::vector<Reply>{Reply::String(value)});
}

TEST(RedisReply, DebugStringShowsTypes) {
  Reply reply = Reply::Array({Reply::String("a"), Reply::Integer(2), Reply::Nil(),
                              Reply::Error("ERR x"), Reply::Array({})});
  EXPECT_EQ(reply.DebugString(), "[a, (integer) 2, (nil), (error) ERR x, []]");
}

}  // namespace
}  // namespace tandem::connectors::redis
