// RedisChangeStream against a real redis-server 7 (started privately by tests/harness): writes on
// the source come out as kBegin/kCommand/kCommit events with their keys, databases and positions;
// acknowledgements reach the source; HasReadThrough tells when the stream has caught up.
#include "connectors/redis/redis_change_stream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "connectors/redis/redis_connection.h"
#include "tests/connectors/redis/replication_test_support.h"
#include "tests/harness/local_servers.h"

namespace tandem::connectors::redis {
namespace {

using engine::ChangeEvent;
using engine::ChangeKind;
using engine::StatusCode;
using tandem::connectors::redis::testing::ConfigOf;
using tandem::connectors::redis::testing::DrainSnapshotBytes;
using tandem::connectors::redis::testing::InfoReplication;
using tandem::connectors::redis::testing::MasterReplOffset;
using tandem::testing::PollUntil;
using tandem::testing::RedisServer;
using tandem::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

using Args = std::vector<std::string>;

class RedisChangeStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir("tandem-redis-change-stream"); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    server_ = RedisServer::Start(dir_->path());
    auto client = ReplicationClient::Connect(ConfigOf(*server_));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto outcome = (*client)->Psync(std::nullopt);
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    DrainSnapshotBytes(**client);
    ASSERT_TRUE((*client)->FinishSnapshot().ok());
    replid_ = outcome->replication_id;
    auto connection = Connection::Open(ConfigOf(*server_));
    ASSERT_TRUE(connection.ok()) << connection.status().ToString();
    auto keys = CommandKeyTable::Load(**connection);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    EXPECT_GT(keys->size(), 200u);
    stream_ = std::make_unique<RedisChangeStream>(
        std::move(*client), engine::ReplicationOffset{replid_, outcome->offset, 0},
        std::move(*keys));
  }

  // Events (heartbeats left out) until the stream has read through the source's current offset.
  std::vector<ChangeEvent> ReadToTheEnd() {
    engine::Position end = engine::ReplicationOffset{replid_, MasterReplOffset(*server_), 0};
    std::vector<ChangeEvent> events;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto through = stream_->HasReadThrough(end);
      EXPECT_TRUE(through.ok()) << through.status().ToString();
      if (!through.ok() || *through) {
        break;
      }
      auto next = stream_->Next(100ms);
      EXPECT_TRUE(next.ok()) << next.status().ToString();
      if (!next.ok()) {
        break;
      }
      if (next->has_value() && (*next)->kind != ChangeKind::kHeartbeat) {
        events.push_back(std::move(**next));
      }
    }
    return events;
  }

  static const engine::ReplicationOffset& At(const ChangeEvent& event) {
    return std::get<engine::ReplicationOffset>(event.position);
  }

  static TempDir* dir_;
  std::unique_ptr<RedisServer> server_;
  std::string replid_;
  std::unique_ptr<RedisChangeStream> stream_;
};

TempDir* RedisChangeStreamTest::dir_ = nullptr;

// kind, command, database, keys of each event, as one readable line.
std::string Describe(const ChangeEvent& event) {
  std::string out(engine::ChangeKindName(event.kind));
  if (event.kind == ChangeKind::kCommand) {
    out += " db" + std::to_string(event.database) + " [";
    for (size_t i = 0; i < event.command.size(); ++i) {
      out += (i > 0 ? " " : "") + event.command[i];
    }
    out += "] keys=";
    if (!event.command_keys_known) {
      out += "?";
    }
    for (size_t i = 0; i < event.command_keys.size(); ++i) {
      out += (i > 0 ? "," : "") + event.command_keys[i];
    }
  }
  return out;
}

TEST_F(RedisChangeStreamTest, WritesBecomeTransactionsWithKeysAndDatabases) {
  server_->Command({"SET", "a", "1"});
  auto client = server_->Connect();
  client.Command({"MULTI"});
  client.Command({"SET", "b", "2"});
  client.Command({"INCR", "c"});
  client.Command({"EXEC"});
  server_->Command({"SET", "d", "4"}, 2);
  server_->Command({"EXPIRE", "a", "100"});
  server_->Command({"DEL", "a", "b"});
  server_->Command({"FLUSHDB"}, 2);

  std::vector<ChangeEvent> events = ReadToTheEnd();
  std::vector<std::string> described;
  for (const ChangeEvent& event : events) {
    described.push_back(Describe(event));
  }
  ASSERT_EQ(described.size(), 19u) << ::testing::PrintToString(described);
  EXPECT_EQ(described[1], "command db0 [SET a 1] keys=a");
  EXPECT_EQ(described[3], "begin");
  EXPECT_EQ(described[4], "command db0 [SET b 2] keys=b");
  EXPECT_EQ(described[5], "command db0 [INCR c] keys=c");
  EXPECT_EQ(described[6], "commit");
  EXPECT_EQ(described[8], "command db2 [SET d 4] keys=d");
  // Redis 7 propagates EXPIRE as PEXPIREAT with an absolute time.
  EXPECT_THAT(described[11], ::testing::StartsWith("command db0 [PEXPIREAT a "));
  EXPECT_THAT(described[11], ::testing::EndsWith("] keys=a"));
  EXPECT_EQ(described[14], "command db0 [DEL a b] keys=a,b");
  EXPECT_EQ(described[17], "command db2 [FLUSHDB] keys=?");

  // One transaction_sequence per source transaction, increasing; positions after each command.
  uint64_t sequence = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const ChangeEvent& event = events[i];
    if (event.kind == ChangeKind::kBegin) {
      EXPECT_EQ(event.transaction_sequence, sequence + 1) << described[i];
      sequence = event.transaction_sequence;
    } else {
      EXPECT_EQ(event.transaction_sequence, sequence) << described[i];
    }
    EXPECT_EQ(At(event).replication_id, replid_);
  }
  EXPECT_EQ(sequence, 6u);
  EXPECT_EQ(At(events[8]).database, 2);
  EXPECT_EQ(At(events[9]).database, 2);  // the commit after SET d in db 2
  EXPECT_EQ(At(events[11]).database, 0);
  EXPECT_EQ(At(events.back()).offset, MasterReplOffset(*server_));
  EXPECT_EQ(engine::Serialize(events.back().position),
            "redis:" + replid_ + ":" + std::to_string(MasterReplOffset(*server_)) + ";db=2");
  EXPECT_EQ(std::get<engine::ReplicationOffset>(stream_->position()), At(events.back()));
}

TEST_F(RedisChangeStreamTest, PositionIsNoneBeforeTheFirstEventAndIdleTimeGivesHeartbeats) {
  EXPECT_TRUE(std::holds_alternative<std::monostate>(stream_->position()));
  auto idle = stream_->Next(50ms);
  ASSERT_TRUE(idle.ok()) << idle.status().ToString();
  // Nothing was written: either nothing or a heartbeat (a PING of the primary).
  server_->Command({"SET", "x", "1"});
  std::vector<ChangeEvent> events = ReadToTheEnd();
  ASSERT_EQ(events.size(), 3u);
  auto after = stream_->Next(50ms);
  ASSERT_TRUE(after.ok());
  if (after->has_value()) {
    EXPECT_EQ((*after)->kind, ChangeKind::kHeartbeat);
  }
}

TEST_F(RedisChangeStreamTest, AcknowledgeReachesTheSource) {
  server_->Command({"SET", "a", "1"});
  server_->Command({"SET", "b", "2"});
  std::vector<ChangeEvent> events = ReadToTheEnd();
  ASSERT_EQ(events.size(), 6u);
  const engine::Position durable = events[2].position;  // the first SET's commit
  stream_->Acknowledge(durable);
  const int64_t offset = At(events[2]).offset;
  std::string slave;
  bool shown = PollUntil(3s, [&] {
    auto next = stream_->Next(50ms);
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    slave = InfoReplication(*server_, "slave0");
    return slave.find(",offset=" + std::to_string(offset) + ",") != std::string::npos;
  });
  EXPECT_TRUE(shown) << slave;
  // Positions of another history are not reported.
  stream_->Acknowledge(engine::ReplicationOffset{std::string(40, 'f'), offset + 1000, 0});
  auto next = stream_->Next(1200ms);
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(InfoReplication(*server_, "slave0"),
              HasSubstr(",offset=" + std::to_string(offset) + ","));
}

TEST_F(RedisChangeStreamTest, HasReadThroughComparesOffsetsAcrossReplicationIdsOnly) {
  // Redis's offsets go on when it changes its replication id (a failover, a new backlog): an end
  // read under another id is still a point of this stream's offsets.
  auto behind = stream_->HasReadThrough(engine::ReplicationOffset{std::string(40, 'f'), 0, 0});
  ASSERT_TRUE(behind.ok()) << behind.status().ToString();
  EXPECT_TRUE(*behind);
  auto ahead =
      stream_->HasReadThrough(engine::ReplicationOffset{std::string(40, 'f'), int64_t{1} << 50, 0});
  ASSERT_TRUE(ahead.ok());
  EXPECT_FALSE(*ahead);
  auto lsn = stream_->HasReadThrough(engine::Lsn{5});
  EXPECT_EQ(lsn.status().code(), StatusCode::kInvalidArgument);
}

// Many writes, so the grouping and offsets hold beyond a single read's worth of bytes.
TEST_F(RedisChangeStreamTest, ThousandsOfWritesArriveInOrder) {
  auto client = server_->Connect();
  std::vector<std::vector<std::string>> batch;
  for (int i = 0; i < 5000; ++i) {
    batch.push_back({"SET", "key:" + std::to_string(i), std::to_string(i)});
  }
  client.Pipeline(batch);
  std::vector<ChangeEvent> events = ReadToTheEnd();
  ASSERT_EQ(events.size(), 15000u);
  for (int i = 0; i < 5000; ++i) {
    const ChangeEvent& command = events[static_cast<size_t>(3 * i + 1)];
    ASSERT_EQ(command.kind, ChangeKind::kCommand);
    ASSERT_EQ(command.command, (Args{"SET", "key:" + std::to_string(i), std::to_string(i)}));
    ASSERT_EQ(command.command_keys, (Args{"key:" + std::to_string(i)}));
  }
}

}  // namespace
}  // namespace tandem::connectors::redis
