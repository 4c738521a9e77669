#include "engine/change_pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "tests/engine/pipeline_fakes.h"

namespace tandem::engine {
namespace {

using std::chrono::milliseconds;
using testing::Delete;
using testing::FakeChangeStream;
using testing::FakeStore;
using testing::FakeStreamOptions;
using testing::FakeTarget;
using testing::HistoryEntry;
using testing::Insert;
using testing::KeyedTable;
using testing::R;
using testing::Script;
using testing::ScriptBuilder;
using testing::StartIndex;
using testing::Update;

PipelineOptions FastOptions(int workers = 4) {
  PipelineOptions options;
  options.stream_name = "test";
  options.workers = workers;
  options.poll_interval = milliseconds(5);
  options.stop_when_idle = true;
  return options;
}

FakeStore SerialApplication(const Script& script, std::shared_ptr<const TableSchema> defined) {
  FakeStore store;
  store.Define(std::move(defined));
  for (const ChangeEvent& event : script) {
    if (event.IsRowChange()) {
      store.Apply(event);
    }
  }
  return store;
}

// Runs one pipeline over `script` on `target`, from the target's resume position.
class Runner {
 public:
  Runner(FakeTarget& target, std::shared_ptr<const Script> script, PipelineOptions options)
      : target_(target), script_(std::move(script)), options_(std::move(options)) {}

  Status Run(FakeStreamOptions stream_options = {}) {
    auto reader = target_.NewApplier();
    Result<std::optional<Checkpoint>> resume = ReadResumePosition(*reader, options_.stream_name);
    if (!resume.ok()) {
      return resume.status();
    }
    Position start = *resume ? (*resume)->position : Position{};
    std::vector<std::unique_ptr<ChangeApplier>> appliers;
    for (int i = 0; i < options_.workers; ++i) {
      appliers.push_back(target_.NewApplier());
    }
    pipeline_ = std::make_unique<ChangePipeline>(
        options_, std::make_unique<FakeChangeStream>(script_, start, std::move(stream_options)),
        std::move(appliers));
    return pipeline_->Run();
  }

  // For Stop() from another thread: the pipeline of the current Run().
  ChangePipeline* pipeline() { return pipeline_.get(); }

 private:
  FakeTarget& target_;
  std::shared_ptr<const Script> script_;
  PipelineOptions options_;
  std::unique_ptr<ChangePipeline> pipeline_;
};

// Where each sequence was committed in the target's history (index of its kCommit/kDdl entry).
std::map<uint64_t, size_t> CommitIndex(const std::vector<HistoryEntry>& history) {
  std::map<uint64_t, size_t> index;
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].kind == HistoryEntry::kCommit || history[i].kind == HistoryEntry::kDdl) {
      for (uint64_t sequence : history[i].sequences) {
        index[sequence] = i;
      }
    }
  }
  return index;
}

// The order in which sequences were committed, sequences of one group in their apply order.
std::vector<uint64_t> CommitOrder(const std::vector<HistoryEntry>& history) {
  std::vector<uint64_t> order;
  for (const HistoryEntry& entry : history) {
    if (entry.kind == HistoryEntry::kCommit || entry.kind == HistoryEntry::kDdl) {
      order.insert(order.end(), entry.sequences.begin(), entry.sequences.end());
    }
  }
  return order;
}

Position ResumePosition(FakeTarget& target, const std::string& stream = "test") {
  auto applier = target.NewApplier();
  Result<std::optional<Checkpoint>> resume = ReadResumePosition(*applier, stream);
  EXPECT_TRUE(resume.ok()) << resume.status().ToString();
  return resume.ok() && *resume ? (*resume)->position : Position{};
}

// Polls `condition` until it holds or `deadline` passes.
bool WaitFor(const std::function<bool()>& condition, milliseconds deadline = milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return condition();
}

TEST(ChangePipeline, ConflictingTransactionsCommitInSourceOrder) {
  auto t = KeyedTable();
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, "hot", 0))});
  std::set<uint64_t> hot;
  for (int i = 1; i <= 40; ++i) {
    hot.insert(script.Transaction({Update(t, R(1, "hot", i - 1), R(1, "hot", i))}));
    script.Transaction({Insert(t, R(100 + i, "cold" + std::to_string(i), i))});
  }
  FakeTarget target;
  target.Define(t);
  // Uneven apply times, so a free-running pipeline would reorder them.
  target.SetApplyDelay([](uint64_t sequence) { return milliseconds((sequence * 7) % 4); });
  auto events = std::make_shared<Script>(script.events());
  Runner runner(target, events, FastOptions(4));
  ASSERT_TRUE(runner.Run().ok());

  std::vector<uint64_t> order;
  for (uint64_t sequence : CommitOrder(target.History())) {
    if (hot.contains(sequence)) {
      order.push_back(sequence);
    }
  }
  EXPECT_EQ(order.size(), hot.size());
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(target.Store(), SerialApplication(*events, t));
  EXPECT_EQ(target.UniqueCollisions(), 0);
  EXPECT_TRUE(target.Violations().empty()) << target.Violations().front();
}

// T2 gives up unique value 'a', T3 takes it. Keyed on the primary key alone they look independent
// and T3 would commit first while T2 is slow: the unique-key entry keeps them in order.
Script SwapScript(std::shared_ptr<const TableSchema> t) {
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, "a", 0)), Insert(t, R(2, "b", 0))});  // 1
  script.Transaction({Update(t, R(1, "a", 0), R(1, "c", 0))});             // 2: frees 'a'
  script.Transaction({Update(t, R(2, "b", 0), R(2, "a", 0))});             // 3: takes 'a'
  script.Transaction({Insert(t, R(3, "z", 0))});                           // 4: independent
  return script.Take();
}

// Transaction 1 (the two rows) is committed by a first run, so that 2 and 3 are scheduled against
// each other only; a second run resumes from its checkpoint and plays the rest.
void RunSwapSetupThenRest(FakeTarget& target, std::shared_ptr<const Script> events) {
  auto setup = std::make_shared<Script>(events->begin(), events->begin() + 4);
  ASSERT_EQ(setup->back().kind, ChangeKind::kCommit);
  Runner first(target, setup, FastOptions(4));
  ASSERT_TRUE(first.Run().ok());
  Runner rest(target, events, FastOptions(4));
  ASSERT_TRUE(rest.Run().ok());
}

TEST(ChangePipeline, UniqueValueSwapKeepsSourceOrder) {
  auto t = KeyedTable();
  FakeTarget target;
  target.Define(t);
  target.SetApplyDelay([](uint64_t sequence) { return milliseconds(sequence == 2 ? 150 : 0); });
  auto events = std::make_shared<Script>(SwapScript(t));
  RunSwapSetupThenRest(target, events);

  std::vector<uint64_t> order = CommitOrder(target.History());
  auto position_of = [&](uint64_t sequence) {
    return std::find(order.begin(), order.end(), sequence) - order.begin();
  };
  EXPECT_LT(position_of(2), position_of(3));
  EXPECT_EQ(target.UniqueCollisions(), 0);
  EXPECT_EQ(target.Store(), SerialApplication(*events, t));
}

// The control for the test above: the same history keyed on the primary key only (the events'
// schema hides the unique key; the target still enforces it) is reordered, which the fake target
// detects as a unique-key collision. So the test above would fail without unique-key entries.
TEST(ChangePipeline, PrimaryKeyOnlySchedulingWouldReorderTheSwap) {
  FakeTarget target;
  target.Define(KeyedTable());
  target.SetApplyDelay([](uint64_t sequence) { return milliseconds(sequence == 2 ? 150 : 0); });
  auto events = std::make_shared<Script>(SwapScript(KeyedTable("t", /*unique_key=*/false)));
  RunSwapSetupThenRest(target, events);
  std::vector<uint64_t> order = CommitOrder(target.History());
  auto position_of = [&](uint64_t sequence) {
    return std::find(order.begin(), order.end(), sequence) - order.begin();
  };
  EXPECT_GT(position_of(2), position_of(3));
  EXPECT_GT(target.UniqueCollisions(), 0);
}

TEST(ChangePipeline, IndependentTransactionsRunInParallel) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 8; ++i) {
    script.Transaction({Insert(t, R(i, "u" + std::to_string(i), i))});
  }
  FakeTarget target;
  target.Define(t);
  target.SetApplyDelay([](uint64_t) { return milliseconds(40); });
  auto events = std::make_shared<Script>(script.events());
  PipelineOptions options = FastOptions(4);
  options.max_group_transactions = 1;
  Runner runner(target, events, options);
  ASSERT_TRUE(runner.Run().ok());
  EXPECT_GE(target.MaxConcurrentTransactions(), 3);
  EXPECT_EQ(target.Store(), SerialApplication(*events, t));
}

TEST(ChangePipeline, GroupsTransactionsIntoOneCommitWhenBehind) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 200; ++i) {
    script.Transaction({Insert(t, R(i, std::nullopt, i))});
  }
  FakeTarget target;
  target.Define(t);
  target.SetCommitDelay(milliseconds(3));
  auto events = std::make_shared<Script>(script.events());
  PipelineOptions options = FastOptions(2);
  options.max_group_transactions = 16;
  options.max_apply_batch = 4;
  Runner runner(target, events, options);
  ASSERT_TRUE(runner.Run().ok());

  size_t commits = 0;
  size_t largest_group = 0;
  size_t largest_apply = 0;
  for (const HistoryEntry& entry : target.History()) {
    if (entry.kind == HistoryEntry::kCommit) {
      ++commits;
      largest_group = std::max(largest_group, entry.sequences.size());
    } else if (entry.kind == HistoryEntry::kApply) {
      largest_apply = std::max(largest_apply, entry.rows);
    }
  }
  EXPECT_LT(commits, 200u);
  EXPECT_GT(largest_group, 1u);
  EXPECT_LE(largest_group, 16u);
  EXPECT_GT(largest_apply, 1u);  // multi-row spans
  EXPECT_LE(largest_apply, 4u);
  EXPECT_EQ(runner.pipeline()->metrics().Snapshot().transactions_applied, 200);
  EXPECT_EQ(target.Store(), SerialApplication(*events, t));
  EXPECT_TRUE(target.Violations().empty());
}

TEST(ChangePipeline, LargeTransactionStreamsIntoOneTargetTransactionWithBoundedMemory) {
  auto t = KeyedTable();
  ScriptBuilder script;
  const uint64_t before = script.Transaction({Insert(t, R(1, "first", 0))});
  std::vector<ChangeEvent> rows;
  for (int i = 0; i < 3000; ++i) {
    rows.push_back(Insert(t, R(1000 + i, std::nullopt, i)));
  }
  const uint64_t large = script.Transaction(std::move(rows));
  const uint64_t after = script.Transaction({Update(t, R(1, "first", 0), R(1, "first", 1))});
  size_t large_bytes = 0;
  for (const ChangeEvent& event : script.events()) {
    large_bytes += event.transaction_sequence == large ? ApproximateBytes(event) : 0;
  }

  FakeTarget target;
  target.Define(t);
  auto events = std::make_shared<Script>(script.events());
  PipelineOptions options = FastOptions(3);
  options.max_transaction_bytes = 8 << 10;
  options.max_apply_batch = 100;
  Runner runner(target, events, options);
  ASSERT_TRUE(runner.Run().ok());

  ASSERT_GT(large_bytes, 20 * options.max_transaction_bytes);  // really too big to buffer
  PipelineMetricsSnapshot metrics = runner.pipeline()->metrics().Snapshot();
  EXPECT_EQ(metrics.streamed_transactions, 1);
  EXPECT_LE(metrics.peak_buffered_bytes, 2 * options.max_transaction_bytes + 4096);

  // One target transaction on one applier, in several Apply calls, opened after `before`
  // committed and committed before `after` began.
  std::vector<HistoryEntry> history = target.History();
  std::map<uint64_t, size_t> committed_at = CommitIndex(history);
  size_t applies = 0;
  size_t rows_applied = 0;
  std::set<int> appliers;
  size_t first_apply = history.size();
  size_t after_apply = 0;
  for (size_t i = 0; i < history.size(); ++i) {
    const HistoryEntry& entry = history[i];
    if (entry.kind == HistoryEntry::kApply && entry.sequences == std::vector<uint64_t>{large}) {
      ++applies;
      rows_applied += entry.rows;
      appliers.insert(entry.applier);
      first_apply = std::min(first_apply, i);
    }
    if (entry.kind == HistoryEntry::kApply && entry.sequences.front() == after) {
      after_apply = i;
    }
    if (entry.kind == HistoryEntry::kRollback) {
      ADD_FAILURE() << "unexpected rollback";
    }
  }
  EXPECT_GT(applies, 1u);
  EXPECT_EQ(rows_applied, 3000u);
  EXPECT_EQ(appliers.size(), 1u);
  EXPECT_EQ(history[committed_at[large]].sequences, std::vector<uint64_t>{large});
  EXPECT_LT(committed_at[before], first_apply);
  EXPECT_GT(after_apply, committed_at[large]);
  EXPECT_EQ(target.Store(), SerialApplication(*events, t));
  EXPECT_TRUE(target.Violations().empty());
}

TEST(ChangePipeline, DdlWaitsForEveryWorkerAndHoldsLaterTransactions) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 6; ++i) {
    script.Transaction({Insert(t, R(i, std::nullopt, i))});
  }
  script.Ddl("ALTER TABLE t ADD COLUMN w INT", t);
  const uint64_t ddl = script.events().back().transaction_sequence;
  for (int i = 7; i <= 12; ++i) {
    script.Transaction({Insert(t, R(i, std::nullopt, i))});
  }
  FakeTarget target;
  target.Define(t);
  target.SetApplyDelay([](uint64_t sequence) { return milliseconds(sequence % 3 * 10); });
  auto events = std::make_shared<Script>(script.events());
  Runner runner(target, events, FastOptions(4));
  ASSERT_TRUE(runner.Run().ok());

  std::vector<HistoryEntry> history = target.History();
  std::map<uint64_t, size_t> committed_at = CommitIndex(history);
  ASSERT_TRUE(committed_at.contains(ddl));
  for (size_t i = 0; i < history.size(); ++i) {
    for (uint64_t sequence : history[i].sequences) {
      if (sequence < ddl && history[i].kind == HistoryEntry::kCommit) {
        EXPECT_LT(i, committed_at[ddl]) << "transaction " << sequence << " committed after the DDL";
      }
      if (sequence > ddl && history[i].kind == HistoryEntry::kApply) {
        EXPECT_GT(i, committed_at[ddl]) << "transaction " << sequence << " applied before the DDL";
      }
    }
  }
  EXPECT_EQ(runner.pipeline()->metrics().Snapshot().ddl_applied, 1);
  EXPECT_TRUE(target.Violations().empty()) << target.Violations().front();
}

TEST(ChangePipeline, CheckpointIsTheLowWatermarkUnderOutOfOrderCommits) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 60; ++i) {
    // Rows 1..10 repeat, so some transactions conflict and some do not.
    script.Transaction({Update(t, R(i % 10, std::nullopt, i - 1), R(i % 10, std::nullopt, i))});
  }
  FakeTarget target;
  target.Define(t);
  target.RequireSequences(script.sequences_with_rows());  // checked at every commit
  // Transaction 1 is slow: 2.. commit before it, and their checkpoints must not claim past it.
  target.SetApplyDelay(
      [](uint64_t sequence) { return milliseconds(sequence == 1 ? 120 : (sequence * 13) % 5); });
  auto events = std::make_shared<Script>(script.events());
  PipelineOptions options = FastOptions(4);
  options.max_group_transactions = 2;
  Runner runner(target, events, options);
  ASSERT_TRUE(runner.Run().ok());

  EXPECT_TRUE(target.Violations().empty()) << target.Violations().front();
  bool committed_ahead_of_watermark = false;
  for (const HistoryEntry& entry : target.History()) {
    if (entry.kind == HistoryEntry::kCommit) {
      uint64_t newest = *std::max_element(entry.sequences.begin(), entry.sequences.end());
      committed_ahead_of_watermark |= entry.checkpoint.transaction_sequence < newest;
    }
  }
  EXPECT_TRUE(committed_ahead_of_watermark);
  EXPECT_EQ(ResumePosition(target), events->back().position);
  std::map<std::string, Checkpoint> rows = target.Checkpoints();
  for (const auto& [stream, checkpoint] : rows) {
    EXPECT_TRUE(stream.starts_with("test/")) << stream;
  }
  PipelineMetricsSnapshot metrics = runner.pipeline()->metrics().Snapshot();
  EXPECT_EQ(metrics.applied_position, events->back().position);
  EXPECT_EQ(metrics.events_read, static_cast<int64_t>(events->size()));
  EXPECT_EQ(metrics.transactions_applied, 60);
  EXPECT_EQ(metrics.queue_depth, 0u);
}

// Regression: two commits raced so that neither checkpoint counted the other (each was taken
// before the other was marked done) and no row held the final watermark; a restart replayed what
// was applied. Run() now records the final watermark when it ends.
TEST(ChangePipeline, RacingCommitsStillLeaveTheFinalWatermarkRecorded) {
  auto t = KeyedTable();
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, std::nullopt, 1))});  // worker 0: acknowledged late
  script.Transaction({Insert(t, R(2, std::nullopt, 2))});  // worker 1: checkpoints meanwhile
  FakeTarget target;
  target.Define(t);
  target.SetApplyDelay([](uint64_t sequence) { return milliseconds(sequence == 2 ? 20 : 0); });
  target.SetAcknowledgementDelay(
      [](uint64_t sequence) { return milliseconds(sequence == 1 ? 100 : 0); });
  auto events = std::make_shared<Script>(script.events());
  Runner runner(target, events, FastOptions(2));
  ASSERT_TRUE(runner.Run().ok());
  std::vector<Position> committed;
  for (const HistoryEntry& entry : target.History()) {
    if (entry.kind == HistoryEntry::kCommit && !entry.sequences.empty()) {
      committed.push_back(entry.checkpoint.position);
    }
  }
  // The race happened: neither transaction's own commit recorded the end.
  ASSERT_EQ(committed.size(), 2u);
  EXPECT_NE(committed[0], events->back().position);
  EXPECT_NE(committed[1], events->back().position);
  EXPECT_EQ(ResumePosition(target), events->back().position);
}

// Regression: the race above left the watermark unrecorded for as long as the stream stayed idle
// (until a source heartbeat came: 1 s on MariaDB, a 10 s PING on Redis), so a cutover's drain,
// which waits for a checkpoint row to reach the frozen source's position, waited that long. A
// stream that goes quiet now gets its watermark recorded within idle_checkpoint_delay.
TEST(ChangePipeline, RacingCommitsOfAnIdleStreamAreRecordedWhileItRuns) {
  auto t = KeyedTable();
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, std::nullopt, 1))});  // worker 0: acknowledged late
  script.Transaction({Insert(t, R(2, std::nullopt, 2))});  // worker 1: checkpoints meanwhile
  FakeTarget target;
  target.Define(t);
  target.SetApplyDelay([](uint64_t sequence) { return milliseconds(sequence == 2 ? 20 : 0); });
  target.SetAcknowledgementDelay(
      [](uint64_t sequence) { return milliseconds(sequence == 1 ? 100 : 0); });
  auto events = std::make_shared<Script>(script.events());
  PipelineOptions options = FastOptions(2);
  options.stop_when_idle = false;  // the stream stays open and idle, as `tandem sync` does
  options.idle_checkpoint_delay = milliseconds(10);
  Runner runner(target, events, options);
  bool recorded_while_running = false;
  milliseconds idle_to_recorded{-1};
  std::thread stopper([&] {
    WaitFor([&] { return target.Committed(1) && target.Committed(2); });
    const auto both_committed = std::chrono::steady_clock::now();
    recorded_while_running = WaitFor(
        [&] { return ResumePosition(target) == events->back().position; }, milliseconds(3000));
    idle_to_recorded =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - both_committed);
    runner.pipeline()->Stop();
  });
  ASSERT_TRUE(runner.Run().ok());
  stopper.join();
  std::vector<Position> committed;
  for (const HistoryEntry& entry : target.History()) {
    if (entry.kind == HistoryEntry::kCommit && !entry.sequences.empty()) {
      committed.push_back(entry.checkpoint.position);
    }
  }
  // The race happened: neither transaction's own commit recorded the end.
  ASSERT_EQ(committed.size(), 2u);
  EXPECT_NE(committed[0], events->back().position);
  EXPECT_NE(committed[1], events->back().position);
  EXPECT_TRUE(recorded_while_running) << "no checkpoint row reached the end before Stop()";
  EXPECT_LT(idle_to_recorded, milliseconds(1000));
  EXPECT_EQ(runner.pipeline()->metrics().Snapshot().heartbeat_checkpoints, 1);
  EXPECT_TRUE(target.Violations().empty()) << target.Violations().front();
}

// Regression: a heartbeat past the watermark that arrived while commits were in flight was dropped
// ("the commits under way will advance the checkpoint": they advance it only to their own
// position), and nothing recorded its position until the source's next heartbeat. It is now kept
// and recorded once the commits have landed and the stream is quiet.
TEST(ChangePipeline, HeartbeatArrivingWhileCommitsAreInFlightIsRecordedOnceTheyLand) {
  auto t = KeyedTable();
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, std::nullopt, 1))});
  script.Heartbeat();  // e.g. a Redis PING, or MariaDB's heartbeat after skipped transactions
  FakeTarget target;
  target.Define(t);
  target.RequireSequences(script.sequences_with_rows());
  // The commit lands but is acknowledged late: the heartbeat comes while it is in flight.
  target.SetAcknowledgementDelay([](uint64_t) { return milliseconds(80); });
  auto events = std::make_shared<Script>(script.events());
  PipelineOptions options = FastOptions(1);
  options.stop_when_idle = false;
  options.idle_checkpoint_delay = milliseconds(10);
  Runner runner(target, events, options);
  bool recorded_while_running = false;
  std::thread stopper([&] {
    WaitFor([&] { return target.Committed(1); });
    recorded_while_running = WaitFor(
        [&] { return ResumePosition(target) == events->back().position; }, milliseconds(3000));
    runner.pipeline()->Stop();
  });
  ASSERT_TRUE(runner.Run().ok());
  stopper.join();
  EXPECT_TRUE(recorded_while_running) << "the heartbeat's position was never recorded";
  EXPECT_EQ(ResumePosition(target), events->back().position);
  EXPECT_EQ(runner.pipeline()->metrics().Snapshot().heartbeat_checkpoints, 1);
  EXPECT_TRUE(target.Violations().empty()) << target.Violations().front();
}

// The quiet-stream checkpoint costs nothing when a checkpoint row already holds the watermark (one
// worker: every commit records it): no empty target transaction is added.
TEST(ChangePipeline, QuietStreamAddsNoCommitWhenTheWatermarkIsRecorded) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 20; ++i) {
    script.Transaction({Insert(t, R(i, std::nullopt, i))});
  }
  FakeTarget target;
  target.Define(t);
  auto events = std::make_shared<Script>(script.events());
  PipelineOptions options = FastOptions(1);
  options.stop_when_idle = false;
  options.idle_checkpoint_delay = milliseconds(2);
  Runner runner(target, events, options);
  std::thread stopper([&] {
    WaitFor([&] { return target.Committed(20); });
    std::this_thread::sleep_for(milliseconds(50));  // many quiet periods
    runner.pipeline()->Stop();
  });
  ASSERT_TRUE(runner.Run().ok());
  stopper.join();
  EXPECT_EQ(ResumePosition(target), events->back().position);
  EXPECT_EQ(runner.pipeline()->metrics().Snapshot().heartbeat_checkpoints, 0);
  size_t commits = 0;
  for (const HistoryEntry& entry : target.History()) {
    commits += entry.kind == HistoryEntry::kCommit ? 1 : 0;
  }
  EXPECT_LE(commits, 20u);
}

TEST(ChangePipeline, HeartbeatAdvancesTheCheckpointOfAnIdleStream) {
  auto t = KeyedTable();
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, "a", 1))});
  // A heartbeat inside a transaction is no resume point: ignored.
  script.Transaction({Insert(t, R(2, "b", 2))});
  Script events_list = script.Take();
  ChangeEvent inner;
  inner.kind = ChangeKind::kHeartbeat;
  events_list.insert(events_list.end() - 2, inner);
  ChangeEvent idle;
  idle.kind = ChangeKind::kHeartbeat;
  events_list.push_back(idle);
  for (size_t i = 0; i < events_list.size(); ++i) {
    events_list[i].position = Lsn{i + 1};
  }
  auto events = std::make_shared<Script>(std::move(events_list));

  FakeTarget target;
  target.Define(t);
  PipelineOptions options = FastOptions(2);
  options.stop_when_idle = false;  // the held-back heartbeat looks idle
  Runner runner(target, events, options);
  FakeStreamOptions stream;
  stream.hold_at = events->size() - 1;  // the last heartbeat arrives once all is committed
  // Once the pipeline counts transaction 2 committed (its reader thread asks: the pipeline exists).
  stream.release = [&] {
    return runner.pipeline()->metrics().Snapshot().applied_transaction_sequence == 2;
  };
  std::thread stopper([&] {
    // Reaches the pipeline only after it committed: Run() created it before.
    WaitFor([&] { return target.Committed(2); });
    WaitFor([&] { return runner.pipeline()->metrics().Snapshot().heartbeat_checkpoints >= 1; });
    std::this_thread::sleep_for(milliseconds(20));  // a second checkpoint would show up here
    runner.pipeline()->Stop();
  });
  ASSERT_TRUE(runner.Run(stream).ok());
  stopper.join();
  EXPECT_EQ(ResumePosition(target), events->back().position);
  EXPECT_EQ(runner.pipeline()->metrics().Snapshot().heartbeat_checkpoints, 1);
}

// Regression: a transaction with nothing to apply (tables not streamed) moved the watermark past
// the last checkpoint row, and an idle heartbeat at that same position was dropped as "not
// beyond the watermark": the target's checkpoint lagged until new changes came (a cutover's drain
// waited up to 15 s on PostgreSQL). The heartbeat now records it.
TEST(ChangePipeline, HeartbeatAtTheWatermarkRecordsTransactionsWithNothingToApply) {
  auto t = KeyedTable();
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, "a", 1))});
  const size_t first_transaction_events = script.events().size();
  script.Transaction({});  // nothing to apply
  Script events_list = script.Take();
  for (size_t i = 0; i < events_list.size(); ++i) {
    events_list[i].position = Lsn{i + 1};
  }
  ChangeEvent idle;
  idle.kind = ChangeKind::kHeartbeat;
  idle.position = events_list.back().position;  // the keepalive names the empty commit's end
  events_list.push_back(idle);
  auto events = std::make_shared<Script>(std::move(events_list));

  FakeTarget target;
  target.Define(t);
  PipelineOptions options = FastOptions(1);
  options.stop_when_idle = false;
  Runner runner(target, events, options);
  FakeStreamOptions stream;
  // The empty transaction and the heartbeat arrive once transaction 1's checkpoint is written.
  stream.hold_at = first_transaction_events;
  stream.release = [&] {
    return runner.pipeline()->metrics().Snapshot().applied_transaction_sequence >= 1;
  };
  std::thread stopper([&] {
    WaitFor([&] { return target.Committed(1); });
    WaitFor([&] { return runner.pipeline()->metrics().Snapshot().heartbeat_checkpoints >= 1; });
    runner.pipeline()->Stop();
  });
  ASSERT_TRUE(runner.Run(stream).ok());
  stopper.join();
  EXPECT_EQ(ResumePosition(target), events->back().position);
  EXPECT_EQ(runner.pipeline()->metrics().Snapshot().heartbeat_checkpoints, 1);
}

// --until-caught-up: a stream that pauses (the source or network is slow) before the position it
// must catch up to is not idle-at-the-end; with stop_at the run waits through the pause and
// applies everything; without it the pause would end the run early (the contrast shows the test
// can fail).
TEST(ChangePipeline, StopWhenIdleWaitsThroughAPauseBeforeTheStopPosition) {
  auto t = testing::KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 20; ++i) {
    script.Transaction({Insert(t, R(i, "k" + std::to_string(i), i))});
  }
  auto events = std::make_shared<Script>(script.events());
  for (bool with_stop_at : {false, true}) {
    FakeTarget target;
    target.Define(t);
    PipelineOptions options = FastOptions(2);
    if (with_stop_at) {
      options.stop_at = events->back().position;
    }
    Runner runner(target, events, options);
    FakeStreamOptions stream;
    stream.hold_at = events->size() / 2;  // a pause mid-way, several idle polls long
    const auto paused_until = std::chrono::steady_clock::now() + milliseconds(60);
    stream.release = [paused_until] { return std::chrono::steady_clock::now() >= paused_until; };
    ASSERT_TRUE(runner.Run(stream).ok());
    EXPECT_EQ(target.Committed(20), with_stop_at) << "stop_at set: " << with_stop_at;
    if (with_stop_at) {
      EXPECT_EQ(target.Store(), SerialApplication(*events, t));
    }
  }
}

TEST(ChangePipeline, StopReturnsPromptlyFromAnIdleStream) {
  FakeTarget target;
  auto events = std::make_shared<Script>();
  PipelineOptions options = FastOptions(3);
  options.stop_when_idle = false;
  options.poll_interval = milliseconds(20);
  std::atomic<bool> stop{false};
  options.stop_flag = &stop;
  Runner runner(target, events, options);
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(50));
    stop = true;
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(runner.Run().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  stopper.join();
}

TEST(ChangePipeline, StopUnderLoadCommitsOrRollsBackAndJoins) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 5'000; ++i) {
    script.Transaction({Insert(t, R(i % 500, std::nullopt, i))});
  }
  FakeTarget target;
  target.Define(t);
  target.RequireSequences(script.sequences_with_rows());
  target.SetCommitDelay(milliseconds(3));  // about a second of work: stopped well before the end
  auto events = std::make_shared<Script>(script.events());
  PipelineOptions options = FastOptions(4);
  options.stop_when_idle = false;
  options.max_group_transactions = 4;
  Runner runner(target, events, options);
  std::thread stopper([&] {
    WaitFor([&] { return target.History().size() > 50; });
    runner.pipeline()->Stop();
  });
  const auto start = std::chrono::steady_clock::now();
  // The stopper reaches the pipeline only after it ran (history grew): Run() created it before.
  Status status = runner.Run();
  stopper.join();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5000));
  EXPECT_EQ(target.OpenTransactions(), 0);
  EXPECT_FALSE(target.Committed(5'000));  // stopped, not run to the end
  EXPECT_TRUE(target.Violations().empty()) << target.Violations().front();
}

TEST(ChangePipeline, StopDuringAStreamedTransactionRollsItBack) {
  auto t = KeyedTable();
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, "a", 1))});
  std::vector<ChangeEvent> rows;
  for (int i = 0; i < 2000; ++i) {
    rows.push_back(Insert(t, R(100 + i, std::nullopt, i)));
  }
  const uint64_t large = script.Transaction(std::move(rows));
  auto events = std::make_shared<Script>(script.events());
  FakeTarget target;
  target.Define(t);
  PipelineOptions options = FastOptions(2);
  options.stop_when_idle = false;
  options.max_transaction_bytes = 16 << 10;
  options.max_apply_batch = 50;
  Runner runner(target, events, options);
  FakeStreamOptions stream;
  stream.hold_at = events->size() - 10;  // the source stalls inside the large transaction
  std::thread stopper([&] {
    WaitFor([&] {
      for (const HistoryEntry& entry : target.History()) {
        if (entry.kind == HistoryEntry::kApply && entry.sequences.front() == large) {
          return true;
        }
      }
      return false;
    });
    std::this_thread::sleep_for(milliseconds(30));
    runner.pipeline()->Stop();
  });
  EXPECT_TRUE(runner.Run(stream).ok());
  stopper.join();
  EXPECT_FALSE(target.Committed(large));
  EXPECT_EQ(target.OpenTransactions(), 0);
  bool rolled_back = false;
  for (const HistoryEntry& entry : target.History()) {
    rolled_back |= entry.kind == HistoryEntry::kRollback;
  }
  EXPECT_TRUE(rolled_back);
  EXPECT_EQ(ResumePosition(target), (*events)[2].position);  // after transaction 1
}

TEST(ChangePipeline, RetryableStreamErrorStopsTheRunAndIsReturned) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 10; ++i) {
    script.Transaction({Insert(t, R(i, std::nullopt, i))});
  }
  FakeTarget target;
  target.Define(t);
  auto events = std::make_shared<Script>(script.events());
  Runner runner(target, events, FastOptions(2));
  FakeStreamOptions stream;
  stream.fail_at = 14;
  Status status = runner.Run(stream);
  EXPECT_EQ(status.code(), StatusCode::kConnectionFailed);
  EXPECT_TRUE(status.retryable());
  EXPECT_NE(status.message().find("change stream"), std::string::npos) << status.message();
  EXPECT_EQ(target.OpenTransactions(), 0);
}

TEST(ChangePipeline, RetryableApplierErrorStopsTheRunAndIsReturned) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 30; ++i) {
    script.Transaction({Insert(t, R(i, std::nullopt, i))});
  }
  FakeTarget target;
  target.Define(t);
  auto events = std::make_shared<Script>(script.events());
  Runner runner(target, events, FastOptions(3));
  // ReadResumePosition (65 reads) twice, then a few operations into applying.
  target.InjectFailure(2 * (kMaxPipelineWorkers + 1) + 8, Unavailable("lock wait timeout"));
  Status status = runner.Run();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_NE(status.message().find("applier worker"), std::string::npos) << status.message();
  EXPECT_EQ(target.OpenTransactions(), 0);
  EXPECT_TRUE(target.Violations().empty());
}

TEST(ChangePipeline, BrokenTransactionFramingIsCorruption) {
  auto t = KeyedTable();
  auto events = std::make_shared<Script>();
  events->push_back(Insert(t, R(1, "a", 1)));  // no kBegin
  events->back().position = Lsn{1};
  FakeTarget target;
  Runner runner(target, events, FastOptions(1));
  Status status = runner.Run();
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
}

TEST(ChangePipeline, BadOptionsAreRefused) {
  FakeTarget target;
  PipelineOptions options = FastOptions(2);
  std::vector<std::unique_ptr<ChangeApplier>> appliers;
  appliers.push_back(target.NewApplier());  // one applier for two workers
  ChangePipeline pipeline(
      options, std::make_unique<FakeChangeStream>(std::make_shared<Script>(), Position{}),
      std::move(appliers));
  EXPECT_EQ(pipeline.Run().code(), StatusCode::kInvalidArgument);
}

TEST(ReadResumePosition, TakesTheGreatestRowIncludingTheInitialCopysRow) {
  FakeTarget target;
  auto applier = target.NewApplier();
  Result<std::optional<Checkpoint>> none = ReadResumePosition(*applier, "s");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  auto write = [&](const std::string& stream, Position position, int64_t events) {
    ASSERT_TRUE(applier->Begin().ok());
    ASSERT_TRUE(applier->Commit(Checkpoint{stream, position, 0, events}).ok());
  };
  write("s", Lsn{10}, 0);    // the initial copy
  write("s/0", Lsn{40}, 5);  // worker 0 saw the watermark at 40
  write("s/3", Lsn{25}, 7);
  write("other/1", Lsn{99}, 1);  // another stream's row is not ours
  Result<std::optional<Checkpoint>> resume = ReadResumePosition(*applier, "s");
  ASSERT_TRUE(resume.ok() && resume->has_value());
  EXPECT_EQ((*resume)->position, Position{Lsn{40}});
  EXPECT_EQ((*resume)->events_applied, 12);

  write("s/5", BinlogPosition{"bin.000001", 4, ""}, 0);  // from another source
  Result<std::optional<Checkpoint>> mixed = ReadResumePosition(*applier, "s");
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.status().code(), StatusCode::kFailedPrecondition);
}

TEST(RunWithReconnect, ReconnectsAfterRetryableErrorsAndResumesFromTheCheckpoint) {
  auto t = KeyedTable();
  ScriptBuilder script;
  for (int i = 1; i <= 50; ++i) {
    script.Transaction({Update(t, R(i % 7, std::nullopt, i - 1), R(i % 7, std::nullopt, i))});
  }
  FakeTarget target;
  target.Define(t);
  target.RequireSequences(script.sequences_with_rows());
  auto events = std::make_shared<Script>(script.events());
  int streams_opened = 0;
  int retries = 0;
  ReconnectOptions reconnect;
  reconnect.initial_backoff = milliseconds(1);
  reconnect.max_backoff = milliseconds(4);
  reconnect.on_retry = [&](const Status& error, milliseconds) {
    EXPECT_TRUE(error.retryable()) << error.ToString();
    ++retries;
  };
  Status status = RunWithReconnect(
      FastOptions(3), reconnect,
      [&](const std::optional<Checkpoint>& resume) -> Result<std::unique_ptr<ChangeStream>> {
        ++streams_opened;
        FakeStreamOptions options;
        if (streams_opened <= 2) {
          options.fail_at = StartIndex(resume) + 20;
        }
        return std::unique_ptr<ChangeStream>(std::make_unique<FakeChangeStream>(
            events, resume ? resume->position : Position{}, options));
      },
      [&](int) -> Result<std::unique_ptr<ChangeApplier>> { return target.NewApplier(); });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(streams_opened, 3);
  EXPECT_EQ(retries, 2);
  EXPECT_EQ(target.Store(), SerialApplication(*events, t));
  EXPECT_EQ(ResumePosition(target), events->back().position);
  if (ResumePosition(target) != events->back().position) {
    for (const HistoryEntry& entry : target.History()) {
      std::string line = std::to_string(entry.kind) + " a" + std::to_string(entry.applier) + " [";
      for (uint64_t sequence : entry.sequences) {
        line += std::to_string(sequence) + ",";
      }
      line += "] cp " + entry.checkpoint.stream + "@" + Serialize(entry.checkpoint.position);
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  EXPECT_TRUE(target.Violations().empty()) << target.Violations().front();
}

TEST(RunWithReconnect, PermanentErrorIsReturnedWithoutRetrying) {
  auto t = KeyedTable();
  ScriptBuilder script;
  script.Transaction({Insert(t, R(1, "a", 1))});
  auto events = std::make_shared<Script>(script.events());
  FakeTarget target;
  int streams_opened = 0;
  Status status = RunWithReconnect(
      FastOptions(1), ReconnectOptions{},
      [&](const std::optional<Checkpoint>&) -> Result<std::unique_ptr<ChangeStream>> {
        ++streams_opened;
        FakeStreamOptions options;
        options.fail_at = 1;
        options.fail_status = Corruption("rows event does not decode");
        return std::unique_ptr<ChangeStream>(
            std::make_unique<FakeChangeStream>(events, Position{}, options));
      },
      [&](int) -> Result<std::unique_ptr<ChangeApplier>> { return target.NewApplier(); });
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_EQ(streams_opened, 1);
}

TEST(PipelineMetrics, LagAndRateFollowTheInjectedClock) {
  int64_t now = 1'000'000'000'000;
  PipelineMetrics metrics([&] { return now; });
  metrics.RecordEventsRead(10);
  now += 500'000;
  metrics.RecordEventsRead(10);
  now += 500'000;
  metrics.RecordEventsRead(10);  // 30 events over one second
  EXPECT_DOUBLE_EQ(metrics.Snapshot().events_per_second, 30.0);
  now += 5'000'000;
  EXPECT_EQ(metrics.Snapshot().events_per_second, 0.0);  // idle since

  metrics.RecordApplied(Lsn{5}, 3, now - 250'000);
  metrics.RecordInFlight(2);
  EXPECT_EQ(metrics.Snapshot().lag_us, 250'000);
  EXPECT_EQ(metrics.Snapshot().applied_position, Position{Lsn{5}});
  metrics.RecordInFlight(0);
  metrics.RecordQueue(0, 0);
  EXPECT_EQ(metrics.Snapshot().lag_us, 0);  // caught up
}

}  // namespace
}  // namespace tandem::engine
