// Connection against in-process fake servers: what happens when a server goes silent, hangs up,
// or speaks something other than RESP. No redis-server needed.
#include "connectors/redis/redis_connection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tests/connectors/redis/fake_redis_server.h"

namespace tandem::connectors::redis {
namespace {

using engine::StatusCode;

constexpr char kPassword[] = "pw-Sekr1t-never-shown";

using testing::FakeServer;

engine::ConnectionConfig ConfigFor(uint16_t port) {
  engine::ConnectionConfig config;
  config.engine = engine::EngineKind::kRedis;
  config.host = "127.0.0.1";
  config.port = port;
  config.password = kPassword;
  config.database = "0";
  config.tls.mode = engine::TlsMode::kDisable;
  config.connect_timeout = std::chrono::seconds(1);
  config.read_timeout = std::chrono::seconds(1);
  return config;
}

void ExpectNoPassword(const engine::Status& status) {
  EXPECT_EQ(status.message().find(kPassword), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.message();
}

TEST(RedisConnection, SilentServerDuringLoginFailsWithinConnectTimeout) {
  FakeServer server([](FakeServer& s) { s.WaitForHangUp(); });
  auto start = std::chrono::steady_clock::now();
  auto connection = Connection::Open(ConfigFor(server.port()));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kConnectionFailed);
  EXPECT_EQ(connection.status().message(),
            "cannot connect to redis://127.0.0.1:" + std::to_string(server.port()) +
                "/0: no reply to AUTH within 1 s (is it a Redis server? raise "
                "connect_timeout=S in the URI if it is slow)");
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  ExpectNoPassword(connection.status());
}

TEST(RedisConnection, SilentServerAfterLoginTimesOutThenTheConnectionIsUnusable) {
  FakeServer server([](FakeServer& s) {
    s.AcceptLogin();
    s.WaitForHangUp();
  });
  auto connection = Connection::Open(ConfigFor(server.port()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto start = std::chrono::steady_clock::now();
  auto reply = (*connection)->Command({"PING"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kTimeout);
  EXPECT_NE(reply.status().message().find("no reply from redis://127.0.0.1:" +
                                          std::to_string(server.port()) + "/0 to PING within 1 s"),
            std::string::npos)
      << reply.status().message();
  auto again = (*connection)->Command({"PING"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kConnectionFailed);
  EXPECT_NE(again.status().message().find("unusable after an earlier failure"), std::string::npos);
  ExpectNoPassword(again.status());
}

TEST(RedisConnection, ServerHangingUpMidReplyIsConnectionFailed) {
  FakeServer server([](FakeServer& s) {
    s.AcceptLogin();
    ASSERT_TRUE(s.ReadUntil("INFO\r\n"));
    s.Write("$100\r\nabc");
  });
  auto connection = Connection::Open(ConfigFor(server.port()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto reply = (*connection)->Command({"INFO"});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kConnectionFailed);
  EXPECT_NE(reply.status().message().find("while waiting for INFO (in the middle of its reply): "
                                          "the server closed the connection"),
            std::string::npos)
      << reply.status().message();
}

TEST(RedisConnection, BytesThatAreNotRespAreCorruption) {
  FakeServer server([](FakeServer& s) {
    s.AcceptLogin();
    ASSERT_TRUE(s.ReadUntil("PING\r\n"));
    s.Write("!garbage\r\n");
    s.WaitForHangUp();
  });
  auto connection = Connection::Open(ConfigFor(server.port()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto reply = (*connection)->Command({"PING"});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kCorruption);
  EXPECT_NE(reply.status().message().find("Protocol error"), std::string::npos);
}

TEST(RedisConnection, NonRedisServerIsConnectionFailed) {
  FakeServer server([](FakeServer& s) {
    s.Write("SSH-2.0-OpenSSH_9.2\r\n");
    s.WaitForHangUp();
  });
  auto connection = Connection::Open(ConfigFor(server.port()));
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kConnectionFailed);
  EXPECT_NE(connection.status().message().find("does not speak the Redis protocol"),
            std::string::npos)
      << connection.status().message();
  ExpectNoPassword(connection.status());
}

TEST(RedisConnection, RefusedPortNamesTheEndpoint) {
  uint16_t port = 0;
  {
    FakeServer server([](FakeServer&) {});
    port = server.port();
    // Connect once so the fake's thread ends; its listener closes with it.
    auto ignored = Connection::Open(ConfigFor(port));
    (void)ignored;
  }
  auto connection = Connection::Open(ConfigFor(port));
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kConnectionFailed);
  EXPECT_EQ(connection.status().message(),
            "cannot connect to redis://127.0.0.1:" + std::to_string(port) +
                "/0: connection refused (is the server running and listening on "
                "127.0.0.1:" +
                std::to_string(port) + "?)");
}

TEST(RedisConnection, UnresolvableHostIsConnectionFailed) {
  engine::ConnectionConfig config = ConfigFor(6379);
  config.host = "no-such-host.invalid";
  auto connection = Connection::Open(config);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kConnectionFailed);
  EXPECT_NE(connection.status().message().find("cannot resolve host 'no-such-host.invalid'"),
            std::string::npos)
      << connection.status().message();
}

TEST(RedisConnection, ErrorRepliesInAPipelineStayReplies) {
  FakeServer server([](FakeServer& s) {
    s.AcceptLogin();
    ASSERT_TRUE(s.ReadUntil("c\r\n"));
    s.Write("+OK\r\n-ERR no\r\n:3\r\n");
    s.WaitForHangUp();
  });
  auto connection = Connection::Open(ConfigFor(server.port()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto replies = (*connection)->Pipeline({{"SET", "a", "1"}, {"BAD"}, {"INCR", "c"}});
  ASSERT_TRUE(replies.ok()) << replies.status().ToString();
  EXPECT_EQ((*replies)[0], Reply::Status("OK"));
  EXPECT_EQ((*replies)[1], Reply::Error("ERR no"));
  EXPECT_EQ((*replies)[2], Reply::Integer(3));
  EXPECT_EQ((*connection)->pending_replies(), 0u);
}

TEST(RedisConnection, MisuseIsInternalNotAHang) {
  FakeServer server([](FakeServer& s) {
    s.AcceptLogin();
    s.WaitForHangUp();
  });
  auto connection = Connection::Open(ConfigFor(server.port()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_EQ((*connection)->Receive().status().code(), StatusCode::kInternal);
  EXPECT_EQ((*connection)->Send({}).code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace tandem::connectors::redis
