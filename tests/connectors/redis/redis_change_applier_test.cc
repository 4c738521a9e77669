// RedisChangeApplier against a private redis-server: commands across databases commit with their
// checkpoint in one MULTI/EXEC; a command refused while queued applies nothing (checkpoint
// included); an error inside EXEC names the command; checkpoints round-trip and garbage is
// kCorruption; Rollback discards; ReadResumePosition picks the greatest of "<stream>" and
// "<stream>/<i>".
#include "connectors/redis/redis_change_applier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/change_pipeline.h"
#include "engine/connection_config.h"
#include "engine/position.h"
#include "tests/harness/files.h"
#include "tests/harness/redis_server.h"

namespace tandem::connectors::redis {
namespace {

using engine::ChangeEvent;
using engine::Checkpoint;
using engine::ReplicationOffset;
using engine::StatusCode;
using tandem::testing::RedisServer;
using tandem::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kReplicationId(40, 'a');

ChangeEvent Command(int database, std::vector<std::string> command,
                    std::vector<std::string> keys = {}) {
  ChangeEvent event;
  event.kind = engine::ChangeKind::kCommand;
  event.database = database;
  event.command = std::move(command);
  event.command_keys = std::move(keys);
  event.command_keys_known = true;
  return event;
}

Checkpoint At(const std::string& stream, int64_t offset, int database = 0, uint64_t sequence = 1,
              int64_t events = 1) {
  Checkpoint checkpoint;
  checkpoint.stream = stream;
  checkpoint.position = ReplicationOffset{kReplicationId, offset, database};
  checkpoint.transaction_sequence = sequence;
  checkpoint.events_applied = events;
  return checkpoint;
}

class RedisChangeApplierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir("tandem-redis-applier"); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    server_ = RedisServer::Start(dir_->path());
    applier_ = OpenApplier(0);
    ASSERT_NE(applier_, nullptr);
  }

  std::unique_ptr<RedisChangeApplier> OpenApplier(int database) {
    auto config = engine::ParseConnectionUri(server_->Uri(database), "--target", "");
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    if (!config.ok()) {
      return nullptr;
    }
    auto applier = RedisChangeApplier::Open(*config);
    EXPECT_TRUE(applier.ok()) << applier.status().ToString();
    return applier.ok() ? std::move(*applier) : nullptr;
  }

  // Begin, Apply(changes), Commit(checkpoint): the Commit's status (Begin/Apply must succeed).
  engine::Status Transaction(const std::vector<ChangeEvent>& changes,
                             const Checkpoint& checkpoint) {
    EXPECT_TRUE(applier_->Begin().ok());
    engine::Status applied = applier_->Apply(changes);
    EXPECT_TRUE(applied.ok()) << applied.ToString();
    return applier_->Commit(checkpoint);
  }

  std::optional<Checkpoint> MustReadCheckpoint(const std::string& stream) {
    auto checkpoint = applier_->ReadCheckpoint(stream);
    EXPECT_TRUE(checkpoint.ok()) << checkpoint.status().ToString();
    return checkpoint.ok() ? *checkpoint : std::nullopt;
  }

  static TempDir* dir_;
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisChangeApplier> applier_;
};

TempDir* RedisChangeApplierTest::dir_ = nullptr;

void ExpectSameCheckpoint(const std::optional<Checkpoint>& actual, const Checkpoint& expected) {
  ASSERT_TRUE(actual.has_value());
  EXPECT_EQ(actual->stream, expected.stream);
  EXPECT_EQ(engine::Serialize(actual->position), engine::Serialize(expected.position));
  EXPECT_EQ(actual->transaction_sequence, expected.transaction_sequence);
  EXPECT_EQ(actual->events_applied, expected.events_applied);
}

TEST_F(RedisChangeApplierTest, CommandsAcrossDatabasesCommitWithTheirCheckpoint) {
  Checkpoint first = At("redis-sync/0", 100, 2, 7, 4);
  ASSERT_TRUE(
      Transaction(
          {Command(0, {"SET", "a", "1"}, {"a"}), Command(1, {"RPUSH", "list", "x", "y"}, {"list"}),
           Command(2, {"INCR", "counter"}, {"counter"}), Command(1, {"SET", "b", "in one"}, {"b"})},
          first)
          .ok());
  EXPECT_EQ(server_->Command({"GET", "a"}, 0), "1");
  EXPECT_EQ(server_->Command({"LRANGE", "list", "0", "-1"}, 1), "x\ny");
  EXPECT_EQ(server_->Command({"GET", "counter"}, 2), "1");
  EXPECT_EQ(server_->Command({"GET", "b"}, 1), "in one");
  EXPECT_EQ(server_->Command({"EXISTS", "b"}, 0), "0");
  // The checkpoint lives in database 0, in tandem's namespace.
  EXPECT_EQ(server_->Command({"GET", "_tandem:checkpoint:redis-sync/0"}, 0),
            "redis:" + kReplicationId + ":100;db=2\n7\n4");
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), first);

  // The next transaction writes database 1 again although the commit ended in database 0.
  Checkpoint second = At("redis-sync/0", 180, 1, 8, 5);
  ASSERT_TRUE(Transaction({Command(1, {"INCRBY", "n", "5"}, {"n"})}, second).ok());
  EXPECT_EQ(server_->Command({"GET", "n"}, 1), "5");
  EXPECT_EQ(server_->Command({"EXISTS", "n"}, 0), "0");
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), second);
}

// One INCR of `key` as source transaction `sequence` whose first command ends at `offset`.
ChangeEvent Increment(const std::string& key, uint64_t sequence, int64_t offset) {
  ChangeEvent event = Command(0, {"INCR", key}, {key});
  event.transaction_sequence = sequence;
  event.position = ReplicationOffset{kReplicationId, offset, 0};
  return event;
}

TEST_F(RedisChangeApplierTest, ReplayedTransactionsCommittedBeyondTheWatermarkApplyOnce) {
  auto config = engine::ParseConnectionUri(server_->Uri(0), "--target", "");
  ASSERT_TRUE(config.ok());
  // Worker 1 commits transactions 2 and 3 while the watermark (worker 0 still busy with
  // transaction 1) is at offset 100.
  auto first = RedisChangeApplier::Open(*config, "s");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE((*first)->Begin().ok());
  std::vector<ChangeEvent> ahead = {Increment("b", 2, 120), Increment("c", 3, 130)};
  ASSERT_TRUE((*first)->Apply(ahead).ok());
  ASSERT_TRUE((*first)->Commit(At("s/1", 100)).ok());
  EXPECT_EQ(server_->Command({"ZRANGE", "_tandem:applied:s", "0", "-1"}, 0), "120\n130");

  // A restart replays everything after the watermark: 1, 2 (split over two Apply calls), 3, 4.
  auto second = RedisChangeApplier::Open(*config, "s");
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE((*second)->Begin().ok());
  std::vector<ChangeEvent> replay = {Increment("a", 1, 110), Increment("b", 2, 120)};
  ChangeEvent second_half = Increment("b", 2, 125);
  std::vector<ChangeEvent> rest = {second_half, Increment("c", 3, 130), Increment("d", 4, 140)};
  ASSERT_TRUE((*second)->Apply(replay).ok());
  ASSERT_TRUE((*second)->Apply(rest).ok());
  ASSERT_TRUE((*second)->Commit(At("s/0", 140)).ok());
  for (const char* key : {"a", "b", "c", "d"}) {
    EXPECT_EQ(server_->Command({"GET", key}, 0), "1") << key << " applied more than once";
  }
  EXPECT_EQ((*second)->skipped_transactions(), 2);
  // Everything is at or below the new watermark: the record is trimmed.
  EXPECT_EQ(server_->Command({"ZCARD", "_tandem:applied:s"}, 0), "0");
}

TEST_F(RedisChangeApplierTest, EmptyTransactionRecordsTheCheckpoint) {
  // A heartbeat commit: no commands, only the checkpoint.
  Checkpoint checkpoint = At("redis-sync/0", 42);
  ASSERT_TRUE(Transaction({}, checkpoint).ok());
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), checkpoint);
  EXPECT_EQ(MustReadCheckpoint("never-written"), std::nullopt);
}

TEST_F(RedisChangeApplierTest, CommandRefusedWhileQueuedAppliesNothing) {
  Checkpoint before = At("redis-sync/0", 10);
  ASSERT_TRUE(Transaction({Command(0, {"SET", "kept", "old"})}, before).ok());

  engine::Status unknown = Transaction(
      {Command(0, {"SET", "x", "secret-value"}, {"x"}), Command(1, {"NOSUCHCOMMAND", "k"}, {"k"}),
       Command(0, {"SET", "kept", "new"}, {"kept"})},
      At("redis-sync/0", 20));
  EXPECT_EQ(unknown.code(), StatusCode::kFailedPrecondition) << unknown.ToString();
  EXPECT_THAT(unknown.message(), HasSubstr("NOSUCHCOMMAND"));
  EXPECT_THAT(unknown.message(), HasSubstr("nothing of the transaction was applied"));
  EXPECT_THAT(unknown.message(), Not(HasSubstr("secret-value")));
  EXPECT_THAT(unknown.message(), Not(HasSubstr("tandem-secret")));
  EXPECT_EQ(unknown.message().find('\n'), std::string::npos);
  EXPECT_EQ(server_->Command({"EXISTS", "x"}, 0), "0");
  EXPECT_EQ(server_->Command({"GET", "kept"}, 0), "old");
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), before);

  // Wrong arity is refused while queuing too.
  engine::Status arity =
      Transaction({Command(2, {"SET", "y", "1"}), Command(2, {"GET"})}, At("redis-sync/0", 30));
  EXPECT_EQ(arity.code(), StatusCode::kFailedPrecondition) << arity.ToString();
  EXPECT_THAT(arity.message(), HasSubstr("GET"));
  EXPECT_EQ(server_->Command({"EXISTS", "y"}, 2), "0");
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), before);

  // The applier is still usable, and knows nothing was selected by the aborted transactions.
  Checkpoint after = At("redis-sync/0", 40);
  ASSERT_TRUE(Transaction({Command(0, {"SET", "z", "1"})}, after).ok());
  EXPECT_EQ(server_->Command({"GET", "z"}, 0), "1");
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), after);
}

TEST_F(RedisChangeApplierTest, ErrorInsideExecNamesTheCommandAndKey) {
  server_->Command({"SET", "was-a-list", "string on the target"}, 1);
  Checkpoint checkpoint = At("redis-sync/0", 55, 1);
  engine::Status status = Transaction({Command(1, {"SET", "other", "v"}, {"other"}),
                                       Command(1, {"LPUSH", "was-a-list", "x"}, {"was-a-list"})},
                                      checkpoint);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("LPUSH on key 'was-a-list'"));
  EXPECT_THAT(status.message(), HasSubstr("WRONGTYPE"));
  EXPECT_THAT(status.message(), HasSubstr("diverged"));
  EXPECT_THAT(status.message(), HasSubstr("tandem verify"));
  EXPECT_EQ(status.message().find('\n'), std::string::npos);
  // Redis does not roll back the rest of an EXEC: the other command and the checkpoint applied.
  EXPECT_EQ(server_->Command({"GET", "other"}, 1), "v");
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), checkpoint);
}

TEST_F(RedisChangeApplierTest, CommandRefusedWithoutAbortingIsReportedAsDivergence) {
  // A nested MULTI is refused but does not abort the transaction: EXEC runs the rest.
  Checkpoint checkpoint = At("redis-sync/0", 66);
  engine::Status status = Transaction(
      {Command(0, {"SET", "a", "1"}), Command(0, {"MULTI"}), Command(0, {"SET", "b", "2"})},
      checkpoint);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("refused MULTI"));
  EXPECT_THAT(status.message(), HasSubstr("diverged"));
  EXPECT_EQ(server_->Command({"GET", "a"}, 0), "1");
  EXPECT_EQ(server_->Command({"GET", "b"}, 0), "2");
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), checkpoint);
}

TEST_F(RedisChangeApplierTest, RollbackDiscardsTheTransaction) {
  ASSERT_TRUE(applier_->Begin().ok());
  ASSERT_TRUE(applier_->Apply(std::vector<ChangeEvent>{Command(1, {"SET", "gone", "1"})}).ok());
  ASSERT_TRUE(applier_->Rollback().ok());
  EXPECT_EQ(server_->Command({"EXISTS", "gone"}, 1), "0");
  EXPECT_TRUE(applier_->Rollback().ok());  // nothing open: a no-op

  // The discarded SELECT 1 never took effect: a write to database 0 lands in database 0.
  ASSERT_TRUE(Transaction({Command(0, {"SET", "here", "0"})}, At("redis-sync/0", 5)).ok());
  EXPECT_EQ(server_->Command({"GET", "here"}, 0), "0");
  EXPECT_EQ(server_->Command({"EXISTS", "here"}, 1), "0");
}

TEST_F(RedisChangeApplierTest, ApplierOnAnotherDatabaseKeepsCheckpointsInDatabaseZero) {
  std::unique_ptr<RedisChangeApplier> applier = OpenApplier(3);
  ASSERT_NE(applier, nullptr);
  auto none = applier->ReadCheckpoint("redis-sync/0");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, std::nullopt);
  ASSERT_TRUE(applier->Begin().ok());
  ASSERT_TRUE(applier->Apply(std::vector<ChangeEvent>{Command(3, {"SET", "k3", "v"})}).ok());
  Checkpoint checkpoint = At("redis-sync/0", 77, 3);
  ASSERT_TRUE(applier->Commit(checkpoint).ok());
  EXPECT_EQ(server_->Command({"GET", "k3"}, 3), "v");
  EXPECT_EQ(server_->Command({"EXISTS", "_tandem:checkpoint:redis-sync/0"}, 0), "1");
  EXPECT_EQ(server_->Command({"EXISTS", "_tandem:checkpoint:redis-sync/0"}, 3), "0");
  auto read = applier->ReadCheckpoint("redis-sync/0");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ExpectSameCheckpoint(*read, checkpoint);
}

TEST_F(RedisChangeApplierTest, LargeTransactionIsPipelined) {
  // Far more than the connection's send buffer and the socket buffers hold at once.
  std::vector<ChangeEvent> changes;
  const std::string value(200, 'v');
  for (int i = 0; i < 20000; ++i) {
    changes.push_back(Command(i % 3, {"RPUSH", "big", value}, {"big"}));
  }
  Checkpoint checkpoint = At("redis-sync/0", 900, 1, 3, 20000);
  ASSERT_TRUE(Transaction(changes, checkpoint).ok());
  EXPECT_EQ(server_->Command({"LLEN", "big"}, 0), "6667");
  EXPECT_EQ(server_->Command({"LLEN", "big"}, 1), "6667");
  EXPECT_EQ(server_->Command({"LLEN", "big"}, 2), "6666");
  ExpectSameCheckpoint(MustReadCheckpoint("redis-sync/0"), checkpoint);
}

TEST_F(RedisChangeApplierTest, ReadResumePositionTakesTheGreatestRow) {
  // An initial copy's row "<stream>" and two workers' rows "<stream>/<i>".
  ASSERT_TRUE(Transaction({}, At("redis-sync", 100, 0, 1, 10)).ok());
  ASSERT_TRUE(Transaction({}, At("redis-sync/0", 250, 4, 5, 7)).ok());
  ASSERT_TRUE(Transaction({}, At("redis-sync/1", 200, 0, 4, 3)).ok());
  auto resume = engine::ReadResumePosition(*applier_, "redis-sync");
  ASSERT_TRUE(resume.ok()) << resume.status().ToString();
  ASSERT_TRUE(resume->has_value());
  EXPECT_EQ(engine::Serialize((*resume)->position), "redis:" + kReplicationId + ":250;db=4");
  EXPECT_EQ((*resume)->events_applied, 20);

  auto none = engine::ReadResumePosition(*applier_, "other-sync");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
}

TEST_F(RedisChangeApplierTest, GarbageCheckpointIsCorruption) {
  server_->Command({"SET", "_tandem:checkpoint:bad", "not a checkpoint"}, 0);
  auto read = applier_->ReadCheckpoint("bad");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(read.status().message(), HasSubstr("_tandem:checkpoint:bad"));
}

TEST_F(RedisChangeApplierTest, ApplyDdlIsUnsupported) {
  ChangeEvent ddl;
  ddl.kind = engine::ChangeKind::kDdl;
  ddl.statement = "CREATE TABLE t (a int)";
  EXPECT_EQ(applier_->ApplyDdl(ddl, At("redis-sync/0", 1)).code(), StatusCode::kUnsupported);
}

TEST(RedisCheckpointValue, RoundTripsThroughTheSetCommand) {
  Checkpoint checkpoint = At("redis-sync/3", 123456789012, 9, 42, 1000);
  Argv set = CheckpointWriteCommand(checkpoint);
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set[0], "SET");
  EXPECT_EQ(set[1], CheckpointKey("redis-sync/3"));
  EXPECT_EQ(set[1], "_tandem:checkpoint:redis-sync/3");
  EXPECT_TRUE(std::string_view(set[1]).starts_with(kTandemKeyPrefix));
  auto parsed = ParseCheckpointValue("redis-sync/3", set[2]);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ExpectSameCheckpoint(*parsed, checkpoint);
}

TEST(RedisCheckpointValue, GarbageIsCorruption) {
  const std::string position = "redis:" + kReplicationId + ":5";
  for (const std::string& garbage : std::vector<std::string>{
           std::string(), std::string("x"), position, position + "\n1", "nonsense\n1\n1",
           position + "\nabc\n1", position + "\n1\n", position + "\n-1\n1", position + "\n1\n1\n1",
           position + "\n1\n1x"}) {
    auto parsed = ParseCheckpointValue("s", garbage);
    ASSERT_FALSE(parsed.ok()) << garbage;
    EXPECT_EQ(parsed.status().code(), StatusCode::kCorruption) << garbage;
    EXPECT_THAT(parsed.status().message(), HasSubstr("_tandem:checkpoint:s")) << garbage;
  }
}

}  // namespace
}  // namespace tandem::connectors::redis
