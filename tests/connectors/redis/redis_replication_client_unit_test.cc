// ReplicationClient against a scripted fake primary (tests/connectors/redis/fake_redis_server.h):
// the handshake and its refusals, disk-based and diskless snapshot transfers split anywhere, and
// the command stream's offsets and acknowledgements. No redis-server needed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "connectors/redis/redis_change_stream.h"
#include "connectors/redis/redis_command.h"
#include "connectors/redis/redis_replication_client.h"
#include "tests/connectors/redis/fake_redis_server.h"

namespace tandem::connectors::redis {
namespace {

using engine::StatusCode;
using testing::FakeServer;
using namespace std::chrono_literals;

constexpr char kPassword[] = "pw-Sekr1t-never-shown";
const std::string kReplid = "0123456789abcdef0123456789abcdef01234567";
const std::string kOtherReplid = "fedcba9876543210fedcba9876543210fedcba98";
const std::string kMark = "aabbccddeeff00112233445566778899aabbccdd";  // 40 bytes
// Not a parseable RDB: the client hands over bytes, whatever they are.
constexpr char kRdbBytes[] =
    "REDIS0011\xfa\x09redis-ver\x05"
    "7.2.4\xfe\x00\xff"
    "12345678";
const std::string kRdb(kRdbBytes, sizeof(kRdbBytes) - 1);

std::string Resp(const std::vector<std::string>& argv) {
  std::string out;
  AppendEncodedCommand(argv, &out);
  return out;
}

engine::ConnectionConfig ConfigFor(uint16_t port) {
  engine::ConnectionConfig config;
  config.engine = engine::EngineKind::kRedis;
  config.host = "127.0.0.1";
  config.port = port;
  config.password = kPassword;
  config.database = "0";
  config.tls.mode = engine::TlsMode::kDisable;
  config.connect_timeout = std::chrono::seconds(2);
  config.read_timeout = std::chrono::seconds(2);
  return config;
}

ReplicationClient::Options FastOptions() {
  ReplicationClient::Options options;
  options.reply_timeout = 2s;
  options.snapshot_start_timeout = 2s;
  options.stream_timeout = 3s;
  return options;
}

// The primary's side of the handshake up to (and including) the PSYNC command `psync`.
void AcceptHandshake(FakeServer& s, const std::vector<std::string>& psync) {
  ASSERT_TRUE(s.ReadUntil(Resp({"AUTH", kPassword}) + Resp({"PING"})));
  s.Write("+OK\r\n+PONG\r\n");
  ASSERT_TRUE(s.ReadUntil(Resp({"REPLCONF", "listening-port", "0"}) +
                          Resp({"REPLCONF", "capa", "eof", "capa", "psync2"})));
  s.Write("+OK\r\n+OK\r\n");
  // PSYNC comes only after the REPLCONF replies were read, as a real primary requires.
  ASSERT_TRUE(s.ReadUntil(Resp(psync)));
}

std::string Ack(int64_t offset) { return Resp({"REPLCONF", "ACK", std::to_string(offset)}); }

void ExpectClean(const engine::Status& status) {
  EXPECT_EQ(status.message().find(kPassword), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.message();
}

std::unique_ptr<ReplicationClient> ConnectTo(const FakeServer& server) {
  auto client = ReplicationClient::Connect(ConfigFor(server.port()), FastOptions());
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

std::string ReadAll(RdbByteSource& source, size_t size, size_t piece) {
  std::string out(size, '\0');
  for (size_t at = 0; at < size; at += piece) {
    size_t n = std::min(piece, size - at);
    engine::Status read = source.Read(out.data() + at, n);
    EXPECT_TRUE(read.ok()) << read.ToString();
    if (!read.ok()) {
      return {};
    }
  }
  return out;
}

TEST(ReplicationClient, DiskBasedTransferThenCommandsWithExactOffsets) {
  const std::string select = Resp({"SELECT", "0"});
  const std::string set = Resp({"SET", "k", "v"});
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("\n\n+FULLRESYNC " + kReplid + " 100\r\n\n\n\n");
    s.Write("$" + std::to_string(kRdb.size()) + "\r\n" + kRdb + select + set);
    EXPECT_TRUE(s.ReadUntil(Ack(0)));
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  auto outcome = client->Psync(std::nullopt);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(outcome->full_resync);
  EXPECT_FALSE(outcome->diskless);
  EXPECT_EQ(outcome->replication_id, kReplid);
  EXPECT_EQ(outcome->offset, 100);
  EXPECT_EQ(ReadAll(client->snapshot(), kRdb.size(), 4), kRdb);
  char extra = 0;
  engine::Status past = client->snapshot().Read(&extra, 1);
  EXPECT_EQ(past.code(), StatusCode::kCorruption);
  EXPECT_NE(past.message().find("ended early"), std::string::npos) << past.message();
  ASSERT_TRUE(client->FinishSnapshot().ok());
  EXPECT_EQ(client->offset(), 100);

  auto first = client->NextCommand(2s);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->arguments, (std::vector<std::string>{"SELECT", "0"}));
  EXPECT_EQ((*first)->offset_after, 100 + static_cast<int64_t>(select.size()));
  auto second = client->NextCommand(2s);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->arguments, (std::vector<std::string>{"SET", "k", "v"}));
  EXPECT_EQ((*second)->offset_after, 100 + static_cast<int64_t>(select.size() + set.size()));
  EXPECT_EQ(client->offset(), (*second)->offset_after);
  EXPECT_EQ(client->replication_id(), kReplid);
}

TEST(ReplicationClient, LargeDiskBasedTransferReadInOneCall) {
  std::string rdb = "REDIS0011";
  for (int i = 0; rdb.size() < 3'000'000; ++i) {
    rdb += static_cast<char>(i * 7);
  }
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("+FULLRESYNC " + kReplid + " 0\r\n$" + std::to_string(rdb.size()) + "\r\n");
    s.Write(rdb + Resp({"PING"}));
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(std::nullopt).ok());
  std::string head(5, '\0');
  ASSERT_TRUE(client->snapshot().Read(head.data(), head.size()).ok());
  EXPECT_EQ(head, "REDIS");
  std::string rest(rdb.size() - 5, '\0');
  ASSERT_TRUE(client->snapshot().Read(rest.data(), rest.size()).ok());
  EXPECT_EQ(head + rest, rdb);
  ASSERT_TRUE(client->FinishSnapshot().ok());
  auto ping = client->NextCommand(2s);
  ASSERT_TRUE(ping.ok() && ping->has_value()) << ping.status().ToString();
  EXPECT_EQ((*ping)->arguments, (std::vector<std::string>{"PING"}));
  EXPECT_EQ((*ping)->offset_after, 14);
}

// The diskless transfer written in pieces of every size from 1 byte: the end mark is split
// across reads in every possible way, and the byte source never hands any of it to the parser.
TEST(ReplicationClient, DisklessTransferWithTheEndMarkSplitAnywhere) {
  for (size_t piece : {1, 3, 7, 39, 40, 41, 1000}) {
    SCOPED_TRACE("piece " + std::to_string(piece));
    const std::string set = Resp({"SET", "after", "snapshot"});
    FakeServer server([&](FakeServer& s) {
      AcceptHandshake(s, {"PSYNC", "?", "-1"});
      s.Write("\n+FULLRESYNC " + kReplid + " 7\r\n\n");
      s.WriteInPieces("$EOF:" + kMark + "\r\n" + kRdb + kMark, piece, 1ms);
      // A diskless primary starts the stream on the replica's first ACK.
      EXPECT_TRUE(s.ReadUntil(Ack(0)));
      s.Write(set);
      s.WaitForHangUp();
    });
    auto client = ConnectTo(server);
    ASSERT_NE(client, nullptr);
    auto outcome = client->Psync(std::nullopt);
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    EXPECT_TRUE(outcome->diskless);
    EXPECT_EQ(ReadAll(client->snapshot(), kRdb.size(), 5), kRdb);
    char extra = 0;
    EXPECT_EQ(client->snapshot().Read(&extra, 1).code(), StatusCode::kCorruption);
    engine::Status finished = client->FinishSnapshot();
    ASSERT_TRUE(finished.ok()) << finished.ToString();
    auto command = client->NextCommand(2s);
    ASSERT_TRUE(command.ok() && command->has_value()) << command.status().ToString();
    EXPECT_EQ((*command)->offset_after, 7 + static_cast<int64_t>(set.size()));
  }
}

TEST(ReplicationClient, DisklessTransferEndingBeforeTheRdbIsCorruption) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("+FULLRESYNC " + kReplid + " 7\r\n$EOF:" + kMark + "\r\nREDIS00" + kMark);
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(std::nullopt).ok());
  char header[9];
  engine::Status read = client->snapshot().Read(header, sizeof(header));
  EXPECT_EQ(read.code(), StatusCode::kCorruption);
  EXPECT_NE(read.message().find("the RDB ended after 7 bytes"), std::string::npos)
      << read.message();
}

TEST(ReplicationClient, DisklessBytesAfterTheRdbThatAreNotTheMarkAreCorruption) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("+FULLRESYNC " + kReplid + " 7\r\n$EOF:" + kMark + "\r\n" + kRdb +
            std::string(60, 'x') + kMark);
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(std::nullopt).ok());
  EXPECT_EQ(ReadAll(client->snapshot(), kRdb.size(), 100), kRdb);
  engine::Status finished = client->FinishSnapshot();
  EXPECT_EQ(finished.code(), StatusCode::kCorruption) << finished.ToString();
}

TEST(ReplicationClient, DiskBasedTransferLongerThanTheRdbIsCorruption) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("+FULLRESYNC " + kReplid + " 7\r\n$" + std::to_string(kRdb.size() + 3) + "\r\n" + kRdb +
            "xyz");
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(std::nullopt).ok());
  EXPECT_EQ(ReadAll(client->snapshot(), kRdb.size(), 100), kRdb);
  engine::Status finished = client->FinishSnapshot();
  EXPECT_EQ(finished.code(), StatusCode::kCorruption) << finished.ToString();
  EXPECT_NE(
      finished.message().find("announced as " + std::to_string(kRdb.size() + 3) +
                              " bytes, but its RDB ended after " + std::to_string(kRdb.size())),
      std::string::npos)
      << finished.message();
}

TEST(ReplicationClient, TruncatedTransferIsCorruptionWhenTheParserWantsMore) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("+FULLRESYNC " + kReplid + " 7\r\n$20\r\nREDIS0011abcdefghijk");
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(std::nullopt).ok());
  std::string out(30, '\0');
  engine::Status read = client->snapshot().Read(out.data(), out.size());
  EXPECT_EQ(read.code(), StatusCode::kCorruption);
  EXPECT_NE(read.message().find("ended early"), std::string::npos) << read.message();
}

// A primary that drops the link mid-transfer (e.g. its client-output-buffer-limit for replicas)
// is a retryable connection failure, not a corrupt snapshot.
TEST(ReplicationClient, ConnectionClosedMidTransferIsConnectionFailed) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("+FULLRESYNC " + kReplid + " 7\r\n$100\r\nREDIS0011");
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(std::nullopt).ok());
  std::string out(100, '\0');
  engine::Status read = client->snapshot().Read(out.data(), out.size());
  EXPECT_EQ(read.code(), StatusCode::kConnectionFailed) << read.ToString();
  EXPECT_NE(read.message().find("the server closed the connection"), std::string::npos)
      << read.message();
  ExpectClean(read);
}

TEST(ReplicationClient, ContinueKeepsTheReplicationIdAndResumesAfterTheOffset) {
  const std::string set = Resp({"SET", "k", "v"});
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "501"});
    s.Write("+CONTINUE\r\n" + set);
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  auto outcome = client->Psync(engine::ReplicationOffset{kReplid, 500, 3});
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_FALSE(outcome->full_resync);
  EXPECT_EQ(outcome->replication_id, kReplid);
  EXPECT_EQ(outcome->offset, 500);
  auto command = client->NextCommand(2s);
  ASSERT_TRUE(command.ok() && command->has_value()) << command.status().ToString();
  EXPECT_EQ((*command)->offset_after, 500 + static_cast<int64_t>(set.size()));
}

TEST(ReplicationClient, ContinueWithANewReplicationIdSwitchesToIt) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "43"});
    s.Write("+CONTINUE " + kOtherReplid + "\r\n");
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  auto outcome = client->Psync(engine::ReplicationOffset{kReplid, 42, 0});
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->replication_id, kOtherReplid);
  EXPECT_EQ(client->replication_id(), kOtherReplid);
  EXPECT_EQ(client->offset(), 42);
}

// Every byte counts, GETACK and PING included; GETACK is answered at once with what was
// acknowledged (never with what was merely received) and not returned.
TEST(ReplicationClient, OffsetsCountEveryByteAndGetAckIsAnsweredWithTheAcknowledgedOffset) {
  const std::vector<std::vector<std::string>> stream = {
      {"SELECT", "2"},
      {"SET", "a", std::string("bin\r\n\0ary", 9)},
      {"REPLCONF", "GETACK", "*"},
      {"PING"},
      {"MULTI"},
      {"INCR", "counter"},
      {"EXEC"}};
  std::string head = Resp(stream[0]) + Resp(stream[1]) + Resp(stream[2]);
  std::string tail;
  for (size_t i = 3; i < stream.size(); ++i) {
    tail += Resp(stream[i]);
  }
  std::atomic<bool> got_ack{false};
  std::atomic<int64_t> ack_wait_ms{-1};
  {
    FakeServer server([&](FakeServer& s) {
      AcceptHandshake(s, {"PSYNC", kReplid, "1001"});
      s.Write("+CONTINUE\r\n");
      // The client's first wait sends the periodic ACK (nothing acknowledged yet: 0); the next
      // periodic one is a second away, so an ACK 900 sooner answers the GETACK.
      EXPECT_TRUE(s.ReadUntil(Ack(0)));
      auto sent = std::chrono::steady_clock::now();
      s.WriteInPieces(head, 5, 0ms);
      got_ack = s.ReadUntil(Ack(900));
      ack_wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - sent)
                        .count();
      s.Write(tail);
      s.WaitForHangUp();
    });
    auto client = ConnectTo(server);
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->Psync(engine::ReplicationOffset{kReplid, 1000, 0}).ok());
    int64_t expected = 1000;
    for (const auto& argv : stream) {
      expected += static_cast<int64_t>(Resp(argv).size());
      if (argv[0] == "REPLCONF") {
        continue;
      }
      auto command = client->NextCommand(3s);
      ASSERT_TRUE(command.ok() && command->has_value()) << command.status().ToString();
      EXPECT_EQ((*command)->arguments, argv);
      EXPECT_EQ((*command)->offset_after, expected);
      if (argv[0] == "SET") {
        client->SetAcknowledged(900);
      }
    }
    EXPECT_EQ(client->offset(), 1000 + static_cast<int64_t>(head.size() + tail.size()));
    auto idle = client->NextCommand(50ms);
    ASSERT_TRUE(idle.ok()) << idle.status().ToString();
    EXPECT_FALSE(idle->has_value());
  }  // the client hangs up, then the server's script ends
  EXPECT_TRUE(got_ack);
  EXPECT_LT(ack_wait_ms, 700);
}

TEST(ReplicationClient, AcknowledgedOffsetIsSentOnceASecond) {
  std::atomic<bool> got_ack{false};
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "11"});
    s.Write("+CONTINUE\r\n");
    got_ack = s.ReadUntil(Ack(777));
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(engine::ReplicationOffset{kReplid, 10, 0}).ok());
  // Something arrives only in the first call's first moments: the first ACK goes out at once
  // (nothing acknowledged yet: 0), the next a second later with what was acknowledged meanwhile.
  auto first = client->NextCommand(10ms);
  ASSERT_TRUE(first.ok());
  client->SetAcknowledged(777);
  auto start = std::chrono::steady_clock::now();
  while (!got_ack && std::chrono::steady_clock::now() - start < 3s) {
    auto idle = client->NextCommand(100ms);
    ASSERT_TRUE(idle.ok()) << idle.status().ToString();
    EXPECT_FALSE(idle->has_value());
  }
  EXPECT_TRUE(got_ack);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 800ms);
}

TEST(ReplicationClient, LargeValueSplitAcrossManyReads) {
  std::string value(3'000'000, 'v');
  for (size_t i = 0; i < value.size(); i += 997) {
    value[i] = static_cast<char>(i);
  }
  const std::string set = Resp({"SET", "big", value});
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "1"});
    s.Write("+CONTINUE\r\n");
    s.WriteInPieces(set, 100'000, 1ms);
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(engine::ReplicationOffset{kReplid, 0, 0}).ok());
  auto command = client->NextCommand(5s);
  ASSERT_TRUE(command.ok() && command->has_value()) << command.status().ToString();
  EXPECT_EQ((*command)->arguments[2], value);
  EXPECT_EQ((*command)->offset_after, static_cast<int64_t>(set.size()));
}

TEST(ReplicationClient, GarbageInTheCommandStreamIsCorruption) {
  for (const std::string& garbage :
       {std::string("+OK\r\n"), std::string("*2\r\n$3\r\nSET\r\n:5\r\n"),
        std::string("*1\r\n$4\r\nPINGxx"), std::string("*0\r\n"),
        std::string("*99999999999999999999999\r\n")}) {
    SCOPED_TRACE(garbage);
    FakeServer server([&](FakeServer& s) {
      AcceptHandshake(s, {"PSYNC", kReplid, "1"});
      s.Write("+CONTINUE\r\n" + Resp({"PING"}) + garbage);
      s.WaitForHangUp();
    });
    auto client = ConnectTo(server);
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->Psync(engine::ReplicationOffset{kReplid, 0, 0}).ok());
    auto ping = client->NextCommand(2s);
    ASSERT_TRUE(ping.ok() && ping->has_value()) << ping.status().ToString();
    auto bad = client->NextCommand(2s);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kCorruption) << bad.status().ToString();
    EXPECT_NE(bad.status().message().find("at offset 14"), std::string::npos)
        << bad.status().message();
  }
}

TEST(ReplicationClient, SilencePastTheStreamTimeoutIsConnectionFailed) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "1"});
    s.Write("+CONTINUE\r\n");
    s.WaitForHangUp();
  });
  auto options = FastOptions();
  options.stream_timeout = 300ms;
  auto client = ReplicationClient::Connect(ConfigFor(server.port()), options);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Psync(engine::ReplicationOffset{kReplid, 0, 0}).ok());
  auto start = std::chrono::steady_clock::now();
  auto next = (*client)->NextCommand(5s);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), StatusCode::kConnectionFailed);
  EXPECT_NE(next.status().message().find("for 300 ms"), std::string::npos)
      << next.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(ReplicationClient, LoadingAndNoMasterLinkAreUnavailable) {
  for (const std::string& reply :
       {std::string("-LOADING Redis is loading the dataset in memory"),
        std::string("-NOMASTERLINK Can't SYNC while not connected with my master")}) {
    FakeServer server([&](FakeServer& s) {
      AcceptHandshake(s, {"PSYNC", "?", "-1"});
      s.Write(reply + "\r\n");
      s.WaitForHangUp();
    });
    auto client = ConnectTo(server);
    ASSERT_NE(client, nullptr);
    auto outcome = client->Psync(std::nullopt);
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.status().code(), StatusCode::kUnavailable) << outcome.status().ToString();
    EXPECT_TRUE(outcome.status().retryable());
    EXPECT_NE(outcome.status().message().find("redis://127.0.0.1:" + std::to_string(server.port()) +
                                              "/0 refused PSYNC: " + reply.substr(1)),
              std::string::npos)
        << outcome.status().message();
    ExpectClean(outcome.status());
  }
}

TEST(ReplicationClient, ErrRefusalIsFailedPrecondition) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("-ERR Can't SYNC while not connected with my master\r\n");
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  auto outcome = client->Psync(std::nullopt);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(outcome.status().message().find("does not accept tandem as a replica"),
            std::string::npos)
      << outcome.status().message();
  ExpectClean(outcome.status());
}

TEST(ReplicationClient, NoPermForReplconfIsPermissionDeniedWithTheGrant) {
  FakeServer server([&](FakeServer& s) {
    ASSERT_TRUE(s.ReadUntil(Resp({"PING"})));
    s.Write("+OK\r\n+PONG\r\n");
    ASSERT_TRUE(s.ReadUntil("psync2\r\n"));
    s.Write(
        "-NOPERM User default has no permissions to run the 'replconf' command\r\n"
        "-NOPERM User default has no permissions to run the 'replconf' command\r\n");
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  auto outcome = client->Psync(std::nullopt);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(outcome.status().message().find("refused REPLCONF: NOPERM"), std::string::npos)
      << outcome.status().message();
  EXPECT_NE(outcome.status().message().find("ACL SETUSER default +psync +replconf +ping"),
            std::string::npos)
      << outcome.status().message();
}

TEST(ReplicationClient, WrongPasswordIsAuthenticationFailedWithoutThePassword) {
  FakeServer server([&](FakeServer& s) {
    ASSERT_TRUE(s.ReadUntil(Resp({"PING"})));
    s.Write(
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        "-NOAUTH Authentication required.\r\n");
    s.WaitForHangUp();
  });
  auto client = ReplicationClient::Connect(ConfigFor(server.port()), FastOptions());
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kAuthenticationFailed);
  EXPECT_NE(client.status().message().find("refused AUTH: WRONGPASS"), std::string::npos)
      << client.status().message();
  ExpectClean(client.status());
}

TEST(ReplicationClient, SilentServerDuringLoginIsConnectionFailed) {
  FakeServer server([](FakeServer& s) { s.WaitForHangUp(); });
  auto config = ConfigFor(server.port());
  config.connect_timeout = std::chrono::seconds(1);
  auto client = ReplicationClient::Connect(config, FastOptions());
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kConnectionFailed);
  EXPECT_NE(client.status().message().find("no reply to AUTH within 1 s"), std::string::npos)
      << client.status().message();
}

TEST(ReplicationClient, SilenceBeforeTheSnapshotStartsIsTimeout) {
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.WaitForHangUp();
  });
  auto options = FastOptions();
  options.snapshot_start_timeout = 300ms;
  auto client = ReplicationClient::Connect(ConfigFor(server.port()), options);
  ASSERT_TRUE(client.ok());
  auto outcome = (*client)->Psync(std::nullopt);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kTimeout) << outcome.status().ToString();
}

// Throughput of the diskless byte source under the small reads a parser makes (lengths, type
// bytes, short strings) mixed with larger ones.
TEST(ReplicationClient, DisklessSnapshotReadsFast) {
  const size_t kBytes = size_t{64} << 20;
  std::string rdb(kBytes, '\0');
  for (size_t i = 0; i < rdb.size(); ++i) {
    rdb[i] = static_cast<char>(i * 31 + (i >> 12));
  }
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", "?", "-1"});
    s.Write("+FULLRESYNC " + kReplid + " 0\r\n$EOF:" + kMark + "\r\n");
    s.Write(rdb);
    s.Write(kMark);
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(std::nullopt).ok());
  std::string out(kBytes, '\0');
  auto start = std::chrono::steady_clock::now();
  size_t at = 0;
  for (size_t i = 0; at < kBytes; ++i) {
    size_t piece = std::min<size_t>(kBytes - at, i % 8 == 7 ? 300 : 1 + i % 9);
    ASSERT_TRUE(client->snapshot().Read(out.data() + at, piece).ok());
    at += piece;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(out == rdb);
  ASSERT_TRUE(client->FinishSnapshot().ok());
  double rate = static_cast<double>(kBytes) / seconds / (1 << 20);
  std::printf("read a %zu MiB diskless snapshot in small pieces in %.3f s: %.0f MiB/s\n",
              kBytes >> 20, seconds, rate);
  RecordProperty("mib_per_second", static_cast<int>(rate));
  EXPECT_GT(rate, 5);  // sanitizer builds run this too
}

// Decode rate of the command stream (the hot path): SETs as a busy primary propagates them.
TEST(ReplicationClient, CommandStreamDecodesFast) {
  constexpr int kCommands = 200'000;
  std::string bytes;
  for (int i = 0; i < kCommands; ++i) {
    bytes += Resp({"SET", "key:" + std::to_string(i), "value-" + std::to_string(i)});
  }
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "1"});
    s.Write("+CONTINUE\r\n" + bytes);
    s.WaitForHangUp();
  });
  auto client = ConnectTo(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Psync(engine::ReplicationOffset{kReplid, 0, 0}).ok());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCommands; ++i) {
    auto command = client->NextCommand(5s);
    ASSERT_TRUE(command.ok() && command->has_value()) << command.status().ToString();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(client->offset(), static_cast<int64_t>(bytes.size()));
  double rate = kCommands / seconds;
  std::printf("decoded %d commands in %.3f s: %.0f commands/s\n", kCommands, seconds, rate);
  RecordProperty("commands_per_second", static_cast<int>(rate));
  // Far below what a Release build does: sanitizer builds run this too.
  EXPECT_GT(rate, 20'000);
}

// ---- RedisChangeStream over the fake primary: grouping, SELECT, heartbeats, ACKs ----

CommandKeyTable SmallKeyTable() {
  auto entry = [](const std::string& name, int arity, int first, int last, int step) {
    return Reply::Array({Reply::String(name), Reply::Integer(arity), Reply::Array({}),
                         Reply::Integer(first), Reply::Integer(last), Reply::Integer(step)});
  };
  auto table = CommandKeyTable::FromCommandReply(Reply::Array(
      {entry("set", -3, 1, 1, 1), entry("incr", 2, 1, 1, 1), entry("flushall", -1, 0, 0, 0)}));
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  return std::move(table).value();
}

// A stream resumed (+CONTINUE) at offset 100 in database 5 of kReplid.
std::unique_ptr<RedisChangeStream> StreamOn(const FakeServer& server) {
  auto client = ConnectTo(server);
  if (client == nullptr) {
    return nullptr;
  }
  auto outcome = client->Psync(engine::ReplicationOffset{kReplid, 100, 5});
  EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
  return std::make_unique<RedisChangeStream>(
      std::move(client), engine::ReplicationOffset{kReplid, 100, 5}, SmallKeyTable());
}

std::vector<engine::ChangeEvent> NextEvents(RedisChangeStream& stream, size_t count) {
  std::vector<engine::ChangeEvent> events;
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (events.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto next = stream.Next(100ms);
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok()) {
      break;
    }
    if (next->has_value()) {
      events.push_back(std::move(**next));
    }
  }
  EXPECT_EQ(events.size(), count);
  return events;
}

int64_t OffsetOf(const engine::ChangeEvent& event) {
  return std::get<engine::ReplicationOffset>(event.position).offset;
}

TEST(RedisChangeStreamUnit, CommandsSelectMultiAndPing) {
  const std::string set = Resp({"SET", "k", "v"});
  const std::string select = Resp({"SELECT", "1"});
  const std::string multi = Resp({"MULTI"});
  const std::string incr = Resp({"incr", "n"});
  const std::string flush = Resp({"FLUSHALL"});
  const std::string exec = Resp({"EXEC"});
  const std::string ping = Resp({"PING"});
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "101"});
    s.Write("+CONTINUE\r\n" + set + select + multi + incr + flush + exec + ping);
    s.WaitForHangUp();
  });
  auto stream = StreamOn(server);
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(stream->position()));
  auto events = NextEvents(*stream, 8);
  ASSERT_EQ(events.size(), 8u);
  using engine::ChangeKind;
  int64_t at = 100;
  EXPECT_EQ(events[0].kind, ChangeKind::kBegin);
  EXPECT_EQ(OffsetOf(events[0]), at);
  at += static_cast<int64_t>(set.size());
  EXPECT_EQ(events[1].kind, ChangeKind::kCommand);
  EXPECT_EQ(events[1].database, 5);
  EXPECT_EQ(events[1].command, (std::vector<std::string>{"SET", "k", "v"}));
  EXPECT_EQ(events[1].command_keys, (std::vector<std::string>{"k"}));
  EXPECT_TRUE(events[1].command_keys_known);
  EXPECT_EQ(events[2].kind, ChangeKind::kCommit);
  EXPECT_EQ(OffsetOf(events[2]), at);
  EXPECT_EQ(engine::Serialize(events[2].position),
            "redis:" + kReplid + ":" + std::to_string(at) + ";db=5");
  at += static_cast<int64_t>(select.size() + multi.size());
  EXPECT_EQ(events[3].kind, ChangeKind::kBegin);
  EXPECT_EQ(OffsetOf(events[3]), at);
  EXPECT_EQ(events[4].command, (std::vector<std::string>{"incr", "n"}));
  EXPECT_EQ(events[4].database, 1);
  EXPECT_EQ(events[5].command, (std::vector<std::string>{"FLUSHALL"}));
  EXPECT_FALSE(events[5].command_keys_known);
  at += static_cast<int64_t>(incr.size() + flush.size() + exec.size());
  EXPECT_EQ(events[6].kind, ChangeKind::kCommit);
  EXPECT_EQ(OffsetOf(events[6]), at);
  EXPECT_EQ(std::get<engine::ReplicationOffset>(events[6].position).database, 1);
  for (int i : {3, 4, 5, 6}) {
    EXPECT_EQ(events[static_cast<size_t>(i)].transaction_sequence, 2u);
  }
  EXPECT_EQ(events[0].transaction_sequence, 1u);
  at += static_cast<int64_t>(ping.size());
  EXPECT_EQ(events[7].kind, ChangeKind::kHeartbeat);
  EXPECT_EQ(OffsetOf(events[7]), at);
  EXPECT_EQ(std::get<engine::ReplicationOffset>(stream->position()).offset, at);
  auto through = stream->HasReadThrough(engine::ReplicationOffset{kReplid, at, 0});
  ASSERT_TRUE(through.ok());
  EXPECT_TRUE(*through);
  auto idle = stream->Next(20ms);
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(idle->has_value());
}

// Bytes consumed without an event (a SELECT, a GETACK) still move the resume point: the idle
// stream says so with a heartbeat.
TEST(RedisChangeStreamUnit, IdleAfterSelectGivesAHeartbeatAtTheNewOffset) {
  const std::string select = Resp({"SELECT", "3"});
  const std::string getack = Resp({"REPLCONF", "GETACK", "*"});
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "101"});
    s.Write("+CONTINUE\r\n" + select + getack);
    s.WaitForHangUp();
  });
  auto stream = StreamOn(server);
  ASSERT_NE(stream, nullptr);
  auto events = NextEvents(*stream, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, engine::ChangeKind::kHeartbeat);
  EXPECT_EQ(OffsetOf(events[0]), 100 + static_cast<int64_t>(select.size() + getack.size()));
  EXPECT_EQ(std::get<engine::ReplicationOffset>(events[0].position).database, 3);
}

TEST(RedisChangeStreamUnit, NestedMultiAndExecWithoutMultiAreCorruption) {
  for (const std::string& bad : {Resp({"MULTI"}) + Resp({"MULTI"}), Resp({"EXEC"})}) {
    FakeServer server([&](FakeServer& s) {
      AcceptHandshake(s, {"PSYNC", kReplid, "101"});
      s.Write("+CONTINUE\r\n" + bad);
      s.WaitForHangUp();
    });
    auto stream = StreamOn(server);
    ASSERT_NE(stream, nullptr);
    engine::Status failure;
    for (int i = 0; i < 3 && failure.ok(); ++i) {
      auto next = stream->Next(1s);
      if (!next.ok()) {
        failure = next.status();
      }
    }
    EXPECT_EQ(failure.code(), StatusCode::kCorruption) << failure.ToString();
  }
}

// Acknowledge from another thread reaches the primary through the reader thread's Next().
TEST(RedisChangeStreamUnit, AcknowledgeFromAnotherThreadIsSentByNext) {
  std::atomic<bool> got_ack{false};
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "101"});
    s.Write("+CONTINUE\r\n" + Resp({"SET", "k", "v"}));
    got_ack = s.ReadUntil(Ack(100 + static_cast<int64_t>(Resp({"SET", "k", "v"}).size())));
    s.WaitForHangUp();
  });
  auto stream = StreamOn(server);
  ASSERT_NE(stream, nullptr);
  auto events = NextEvents(*stream, 3);
  ASSERT_EQ(events.size(), 3u);
  std::thread acknowledger([&] {
    stream->Acknowledge(events[2].position);
    stream->Acknowledge(events[0].position);  // older: ignored
  });
  acknowledger.join();
  auto start = std::chrono::steady_clock::now();
  while (!got_ack && std::chrono::steady_clock::now() - start < 3s) {
    ASSERT_TRUE(stream->Next(100ms).ok());
  }
  EXPECT_TRUE(got_ack);
}

// Decode rate through the change stream (events with keys and positions), the reader's hot path.
TEST(RedisChangeStreamUnit, CommandsBecomeEventsFast) {
  constexpr int kCommands = 50'000;
  std::string bytes;
  for (int i = 0; i < kCommands; ++i) {
    bytes += Resp({"SET", "key:" + std::to_string(i), "value-" + std::to_string(i)});
  }
  FakeServer server([&](FakeServer& s) {
    AcceptHandshake(s, {"PSYNC", kReplid, "101"});
    s.Write("+CONTINUE\r\n" + bytes);
    s.WaitForHangUp();
  });
  auto stream = StreamOn(server);
  ASSERT_NE(stream, nullptr);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3 * kCommands; ++i) {
    auto next = stream->Next(5s);
    ASSERT_TRUE(next.ok() && next->has_value()) << next.status().ToString();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double rate = kCommands / seconds;
  std::printf("streamed %d commands (%d events) in %.3f s: %.0f commands/s\n", kCommands,
              3 * kCommands, seconds, rate);
  RecordProperty("commands_per_second", static_cast<int>(rate));
  EXPECT_GT(rate, 5'000);  // Debug and sanitizer builds run this too
}

}  // namespace
}  // namespace tandem::connectors::redis
