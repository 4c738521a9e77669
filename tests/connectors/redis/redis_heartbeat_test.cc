#include "connectors/redis/redis_heartbeat.h"

#include <gtest/gtest.h>

namespace tandem::connectors::redis {
namespace {

TEST(RedisHeartbeat, KeyNamesTheWriter) { EXPECT_EQ(HeartbeatKey(42), "_tandem:heartbeat:42"); }

TEST(RedisHeartbeat, ValueIsSequenceThenSendTime) {
  EXPECT_EQ(ParseHeartbeatValue("17 123456789"), 17);
  EXPECT_EQ(ParseHeartbeatValue("17"), std::nullopt);
  EXPECT_EQ(ParseHeartbeatValue("x 1"), std::nullopt);
  EXPECT_EQ(ParseHeartbeatValue("0 1"), std::nullopt);
  EXPECT_EQ(ParseHeartbeatValue("5 y"), std::nullopt);
  EXPECT_EQ(ParseHeartbeatValue(""), std::nullopt);
}

}  // namespace
}  // namespace tandem::connectors::redis
