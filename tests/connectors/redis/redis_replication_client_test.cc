// ReplicationClient against real redis-server 7 processes started privately (tests/harness
// RedisServer): full resyncs (disk-based and diskless), the command stream and its offsets,
// acknowledgements as the primary sees them, partial resyncs, and the refusals.
#include "connectors/redis/redis_replication_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "connectors/redis/rdb/rdb_parser.h"
#include "connectors/redis/redis_command.h"
#include "tests/connectors/redis/replication_test_support.h"
#include "tests/harness/free_port.h"
#include "tests/harness/local_servers.h"
#include "tests/harness/tls_certificates.h"

namespace tandem::connectors::redis {
namespace {

using engine::StatusCode;
using tandem::connectors::redis::testing::ConfigOf;
using tandem::connectors::redis::testing::CountingVisitor;
using tandem::connectors::redis::testing::DrainSnapshotBytes;
using tandem::connectors::redis::testing::InfoReplication;
using tandem::connectors::redis::testing::MasterReplOffset;
using tandem::testing::PollUntil;
using tandem::testing::RedisOptions;
using tandem::testing::RedisServer;
using tandem::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::string Resp(const std::vector<std::string>& argv) {
  std::string out;
  AppendEncodedCommand(argv, &out);
  return out;
}

class ReplicationClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir("tandem-redis-replication"); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::unique_ptr<RedisServer> StartServer(std::vector<std::string> extra_args = {}) {
    RedisOptions options;
    options.extra_args = std::move(extra_args);
    return RedisServer::Start(dir_->path(), options);
  }

  // Connected and through a full resync (snapshot drained), at the command stream.
  static std::unique_ptr<ReplicationClient> FullResync(const RedisServer& server,
                                                       PsyncOutcome* outcome = nullptr) {
    auto client = ReplicationClient::Connect(ConfigOf(server));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) {
      return nullptr;
    }
    auto psync = (*client)->Psync(std::nullopt);
    EXPECT_TRUE(psync.ok()) << psync.status().ToString();
    if (!psync.ok()) {
      return nullptr;
    }
    EXPECT_TRUE(psync->full_resync);
    std::string rdb = DrainSnapshotBytes(**client);
    EXPECT_EQ(rdb.substr(0, 5), "REDIS");
    engine::Status finished = (*client)->FinishSnapshot();
    EXPECT_TRUE(finished.ok()) << finished.ToString();
    if (outcome != nullptr) {
      *outcome = *psync;
    }
    return std::move(*client);
  }

  // Commands until the client's offset reaches `offset` (at most 10 s), PINGs left out.
  static std::vector<ReplicatedCommand> ReadUntilOffset(ReplicationClient& client, int64_t offset) {
    std::vector<ReplicatedCommand> commands;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (client.offset() < offset && std::chrono::steady_clock::now() < deadline) {
      auto next = client.NextCommand(100ms);
      EXPECT_TRUE(next.ok()) << next.status().ToString();
      if (!next.ok()) {
        break;
      }
      if (next->has_value() && (*next)->arguments[0] != "PING") {
        commands.push_back(std::move(**next));
      }
    }
    EXPECT_EQ(client.offset(), offset);
    return commands;
  }

  static std::vector<std::vector<std::string>> Arguments(
      const std::vector<ReplicatedCommand>& commands) {
    std::vector<std::vector<std::string>> out;
    for (const ReplicatedCommand& command : commands) {
      out.push_back(command.arguments);
    }
    return out;
  }

  static TempDir* dir_;
};

TempDir* ReplicationClientTest::dir_ = nullptr;

TEST_F(ReplicationClientTest, DiskBasedFullResyncThenCommandsAtTheSourcesOffset) {
  auto server = StartServer({"--repl-diskless-sync", "no"});
  server->Command({"SET", "before", "1"});
  PsyncOutcome outcome;
  auto client = FullResync(*server, &outcome);
  ASSERT_NE(client, nullptr);
  EXPECT_FALSE(outcome.diskless);
  EXPECT_EQ(outcome.replication_id, InfoReplication(*server, "master_replid"));
  server->Command({"SET", "k", "v"});
  server->Command({"DEL", "before"});
  auto commands = ReadUntilOffset(*client, MasterReplOffset(*server));
  EXPECT_THAT(Arguments(commands),
              ::testing::ElementsAre(std::vector<std::string>{"SELECT", "0"},
                                     std::vector<std::string>{"SET", "k", "v"},
                                     std::vector<std::string>{"DEL", "before"}));
  // offset_after counts each command's bytes exactly (no PING came between them).
  if (commands.size() == 3) {
    EXPECT_EQ(commands[2].offset_after - commands[1].offset_after,
              static_cast<int64_t>(Resp({"DEL", "before"}).size()));
  }
}

TEST_F(ReplicationClientTest, DisklessFullResyncThenCommands) {
  auto server = StartServer({"--repl-diskless-sync", "yes"});
  server->Command({"SET", "before", "1"});
  PsyncOutcome outcome;
  auto client = FullResync(*server, &outcome);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(outcome.diskless);
  server->Command({"SET", "k", "v"}, 3);
  auto commands = ReadUntilOffset(*client, MasterReplOffset(*server));
  EXPECT_THAT(Arguments(commands),
              ::testing::ElementsAre(std::vector<std::string>{"SELECT", "3"},
                                     std::vector<std::string>{"SET", "k", "v"}));
}

// The snapshot through RdbParser (connectors/redis/rdb), both transfer kinds.
TEST_F(ReplicationClientTest, SnapshotParsesToItsEndInBothTransferKinds) {
  for (const char* diskless : {"no", "yes"}) {
    SCOPED_TRACE(std::string("repl-diskless-sync ") + diskless);
    auto server = StartServer({"--repl-diskless-sync", diskless});
    for (int i = 0; i < 100; ++i) {
      server->Command({"SET", "key:" + std::to_string(i), std::string(100, 'x')});
    }
    server->Command({"RPUSH", "list", "a", "b", "c"}, 1);
    auto client = ReplicationClient::Connect(ConfigOf(*server));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto outcome = (*client)->Psync(std::nullopt);
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    CountingVisitor visitor;
    RdbParser parser;
    auto summary = parser.Parse((*client)->snapshot(), visitor);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_TRUE(visitor.ended);
    EXPECT_EQ(visitor.keys, 101);
    engine::Status finished = (*client)->FinishSnapshot();
    ASSERT_TRUE(finished.ok()) << finished.ToString();
    server->Command({"SET", "after", "1"});
    auto commands = ReadUntilOffset(**client, MasterReplOffset(*server));
    ASSERT_FALSE(commands.empty());
    EXPECT_EQ(commands.back().arguments, (std::vector<std::string>{"SET", "after", "1"}));
  }
}

TEST_F(ReplicationClientTest, AcknowledgedOffsetShowsInTheSourcesInfo) {
  auto server = StartServer();
  auto client = FullResync(*server);
  ASSERT_NE(client, nullptr);
  server->Command({"SET", "a", "1"});
  server->Command({"SET", "b", "2"});
  auto commands = ReadUntilOffset(*client, MasterReplOffset(*server));
  ASSERT_GE(commands.size(), 2u);
  // Acknowledge the first SET only: the primary must show that, not what was received.
  int64_t acknowledged = commands[commands.size() - 2].offset_after;
  client->SetAcknowledged(acknowledged);
  std::string slave;
  bool shown = PollUntil(3s, [&] {
    auto next = client->NextCommand(50ms);
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    slave = InfoReplication(*server, "slave0");
    return slave.find(",offset=" + std::to_string(acknowledged) + ",") != std::string::npos;
  });
  EXPECT_TRUE(shown) << slave;
  EXPECT_THAT(slave, HasSubstr("state=online"));
}

TEST_F(ReplicationClientTest, PartialResyncContinuesExactlyAfterTheOffset) {
  auto server = StartServer();
  PsyncOutcome outcome;
  auto first = FullResync(*server, &outcome);
  ASSERT_NE(first, nullptr);
  server->Command({"SET", "one", "1"});
  ReadUntilOffset(*first, MasterReplOffset(*server));
  const int64_t resume = first->offset();
  first.reset();
  server->Command({"SET", "two", "2"});
  server->Command({"INCR", "three"});

  auto second = ReplicationClient::Connect(ConfigOf(*server));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto continued = (*second)->Psync(engine::ReplicationOffset{outcome.replication_id, resume, 0});
  ASSERT_TRUE(continued.ok()) << continued.status().ToString();
  EXPECT_FALSE(continued->full_resync);
  EXPECT_EQ(continued->offset, resume);
  EXPECT_EQ((*second)->offset(), resume);
  // The very next bytes are the next command (a PING of the primary may come first).
  int64_t offset = resume;
  std::vector<std::vector<std::string>> seen;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    auto next = (*second)->NextCommand(100ms);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (!next->has_value()) {
      continue;
    }
    offset += static_cast<int64_t>(Resp((*next)->arguments).size());
    EXPECT_EQ((*next)->offset_after, offset);
    if ((*next)->arguments[0] != "PING") {
      seen.push_back((*next)->arguments);
    }
  }
  EXPECT_THAT(seen, ::testing::ElementsAre(std::vector<std::string>{"SET", "two", "2"},
                                           std::vector<std::string>{"INCR", "three"}));
  EXPECT_EQ(offset, MasterReplOffset(*server));
}

TEST_F(ReplicationClientTest, OffsetOlderThanTheBacklogGetsAFullResync) {
  auto server = StartServer({"--repl-backlog-size", "16384"});
  PsyncOutcome outcome;
  auto first = FullResync(*server, &outcome);
  ASSERT_NE(first, nullptr);
  const int64_t resume = first->offset();
  first.reset();
  for (int i = 0; i < 100; ++i) {
    server->Command({"SET", "filler:" + std::to_string(i), std::string(500, 'f')});
  }
  ASSERT_GT(MasterReplOffset(*server) - resume, 16384 * 2);
  auto second = ReplicationClient::Connect(ConfigOf(*server));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto again = (*second)->Psync(engine::ReplicationOffset{outcome.replication_id, resume, 0});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->full_resync);
  std::string rdb = DrainSnapshotBytes(**second);
  EXPECT_EQ(rdb.substr(0, 5), "REDIS");
  ASSERT_TRUE((*second)->FinishSnapshot().ok());
}

TEST_F(ReplicationClientTest, WrongPasswordIsAuthenticationFailed) {
  auto server = StartServer();
  auto config = ConfigOf(*server);
  config.password = "Wr0ng-Passw0rd";
  auto client = ReplicationClient::Connect(config);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kAuthenticationFailed);
  EXPECT_THAT(client.status().message(), HasSubstr("WRONGPASS"));
  EXPECT_THAT(client.status().message(), Not(HasSubstr("Wr0ng-Passw0rd")));
}

TEST_F(ReplicationClientTest, UserWithoutPsyncIsPermissionDenied) {
  auto server = StartServer();
  server->Command({"ACL", "SETUSER", "nopsync", "on", ">np", "~*", "&*", "+@all", "-psync"});
  auto client = ReplicationClient::Connect(
      ConfigOf("redis://nopsync:np@127.0.0.1:" + std::to_string(server->port()) + "/0"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto outcome = (*client)->Psync(std::nullopt);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(outcome.status().message(), HasSubstr("refused PSYNC: NOPERM"));
  EXPECT_THAT(outcome.status().message(), HasSubstr("ACL SETUSER nopsync +psync +replconf +ping"));
  EXPECT_THAT(outcome.status().message(), Not(HasSubstr(":np@")));
}

TEST_F(ReplicationClientTest, ReplicaWithoutALinkToItsPrimaryIsUnavailable) {
  auto server = StartServer();
  // Port 1: nothing listens there, so the link never comes up.
  server->Command({"REPLICAOF", "127.0.0.1", "1"});
  auto client = ReplicationClient::Connect(ConfigOf(*server));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto outcome = (*client)->Psync(std::nullopt);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kUnavailable) << outcome.status().ToString();
  EXPECT_THAT(outcome.status().message(), HasSubstr("NOMASTERLINK"));
}

// Over TLS (tls=verify-full, client certificate): the transfer and the stream are the same bytes;
// TLS may hold decrypted bytes that poll cannot see, which the client must read before waiting.
TEST_F(ReplicationClientTest, FullResyncAndStreamOverTls) {
  auto certs = tandem::testing::MakeTestCertificates(dir_->path() + "/certs", {"localhost"});
  uint16_t tls_port = tandem::testing::PickFreePort();
  auto server = StartServer({"--tls-port", std::to_string(tls_port), "--tls-cert-file",
                             certs.server_cert, "--tls-key-file", certs.server_key,
                             "--tls-ca-cert-file", certs.ca_cert, "--tls-auth-clients", "yes"});
  for (int i = 0; i < 2000; ++i) {
    server->Command({"SET", "key:" + std::to_string(i), std::string(200, 'v')});
  }
  auto client = ReplicationClient::Connect(
      ConfigOf("redis://:" + server->password() + "@localhost:" + std::to_string(tls_port) +
               "/0?tls=verify-full&tls-ca=" + certs.ca_cert + "&tls-cert=" + certs.client_cert +
               "&tls-key=" + certs.client_key));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto outcome = (*client)->Psync(std::nullopt);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  CountingVisitor visitor;
  RdbParser parser;
  auto summary = parser.Parse((*client)->snapshot(), visitor);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(visitor.keys, 2000);
  ASSERT_TRUE((*client)->FinishSnapshot().ok());
  server->Command({"SET", "over", "tls"});
  auto commands = ReadUntilOffset(**client, MasterReplOffset(*server));
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands.back().arguments, (std::vector<std::string>{"SET", "over", "tls"}));
}

}  // namespace
}  // namespace tandem::connectors::redis
