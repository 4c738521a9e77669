#include "connectors/redis/redis_command.h"

#include <gtest/gtest.h>

namespace tandem::connectors::redis {
namespace {

TEST(RedisCommandEncoding, EncodesBinarySafeBulkStrings) {
  std::string out = "prefix";
  AppendEncodedCommand({"SET", std::string("k\0y", 3), ""}, &out);
  EXPECT_EQ(out, std::string("prefix*3\r\n$3\r\nSET\r\n$3\r\nk") + '\0' + "y\r\n$0\r\n\r\n");
}

TEST(RedisCommandName, NamesContainerSubcommandsButNeverArguments) {
  EXPECT_EQ(CommandName({"config", "get", "maxmemory"}), "CONFIG GET");
  EXPECT_EQ(CommandName({"CLIENT", "setname", "tandem"}), "CLIENT SETNAME");
  EXPECT_EQ(CommandName({"get", "secret-key"}), "GET");
  EXPECT_EQ(CommandName({"AUTH", "user", "hunter2"}), "AUTH");
  EXPECT_EQ(CommandName({"ACL", "DRYRUN", "tandem", "PSYNC"}), "ACL DRYRUN");
  EXPECT_EQ(CommandName({}), "(empty command)");
}

}  // namespace
}  // namespace tandem::connectors::redis
