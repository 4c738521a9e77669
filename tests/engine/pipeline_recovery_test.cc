// Crash-recovery property: a pipeline killed at random points (target connections lost mid-group,
// commits that landed but were not acknowledged, the source going away) and restarted each time
// from ReadResumePosition ends with exactly the state of applying the source history serially.
#include <gtest/gtest.h>

#include <random>

#include "engine/change_pipeline.h"
#include "tests/engine/pipeline_fakes.h"

namespace tandem::engine {
namespace {

using std::chrono::milliseconds;
using testing::Delete;
using testing::FakeChangeStream;
using testing::FakeStore;
using testing::FakeStreamOptions;
using testing::FakeTarget;
using testing::Insert;
using testing::KeyedTable;
using testing::R;
using testing::Script;
using testing::ScriptBuilder;
using testing::StartIndex;
using testing::Update;

// A source database for table t(id PK, u UNIQUE NULL, v): random valid transactions, so the
// history has key changes, unique values moving between rows, deletes and re-inserts.
class SourceSimulator {
 public:
  SourceSimulator(std::shared_ptr<const TableSchema> table, uint64_t seed)
      : table_(std::move(table)), rng_(seed) {}

  std::vector<ChangeEvent> RandomTransaction(int max_changes) {
    std::vector<ChangeEvent> changes;
    const int count = 1 + static_cast<int>(rng_() % max_changes);
    for (int i = 0; i < count; ++i) {
      changes.push_back(RandomChange());
    }
    return changes;
  }

 private:
  std::optional<std::string> FreeUnique() {
    if (rng_() % 5 == 0) {
      return std::nullopt;
    }
    // Often the value another row just gave up: a unique value moving between rows.
    if (last_freed_ && !used_.contains(*last_freed_) && rng_() % 2 == 0) {
      return last_freed_;
    }
    for (;;) {
      std::string candidate = "u" + std::to_string(rng_() % 100);
      if (!used_.contains(candidate)) {
        return candidate;
      }
    }
  }
  int64_t FreeId() {
    for (;;) {
      int64_t id = static_cast<int64_t>(rng_() % 60);
      if (!rows_.contains(id)) {
        return id;
      }
    }
  }
  Row Image(int64_t id) const {
    const auto& [u, v] = rows_.at(id);
    return R(id, u, v);
  }
  void Put(int64_t id, std::optional<std::string> u, int64_t v) {
    if (u) {
      used_.insert(*u);
    }
    rows_[id] = {std::move(u), v};
  }
  void Remove(int64_t id) {
    if (rows_.at(id).first) {
      used_.erase(*rows_.at(id).first);
      last_freed_ = rows_.at(id).first;
    }
    rows_.erase(id);
  }

  ChangeEvent RandomChange() {
    const int kind = rows_.size() < 10 ? 0 : static_cast<int>(rng_() % 5);
    if (kind == 0 && rows_.size() < 50) {
      int64_t id = FreeId();
      Put(id, FreeUnique(), static_cast<int64_t>(rng_() % 1000));
      return Insert(table_, Image(id));
    }
    auto it = rows_.begin();
    std::advance(it, rng_() % rows_.size());
    const int64_t id = it->first;
    Row before = Image(id);
    switch (kind) {
      case 1: {  // a unique value moves (often one another row just freed)
        auto [u, v] = rows_.at(id);
        Remove(id);
        Put(id, FreeUnique(), v);
        return Update(table_, before, Image(id));
      }
      case 2: {  // the primary key changes
        auto [u, v] = rows_.at(id);
        Remove(id);
        int64_t new_id = FreeId();
        Put(new_id, u, v);
        return Update(table_, before, Image(new_id));
      }
      case 3: {
        Remove(id);
        return Delete(table_, before);
      }
      default: {
        rows_.at(id).second = static_cast<int64_t>(rng_() % 1000);
        return Update(table_, before, Image(id));
      }
    }
  }

  std::shared_ptr<const TableSchema> table_;
  std::mt19937_64 rng_;
  std::map<int64_t, std::pair<std::optional<std::string>, int64_t>> rows_;
  std::set<std::string> used_;
  std::optional<std::string> last_freed_;
};

TEST(ChangePipelineRecovery, KilledAtRandomPointsConvergesToSerialApplication) {
  constexpr uint64_t kSeed = 20261125;
  constexpr int kCrashes = 25;
  auto t = KeyedTable();
  SourceSimulator source(t, kSeed);
  std::mt19937_64 rng(kSeed + 1);
  ScriptBuilder script;
  for (int i = 0; i < 400; ++i) {
    if (i % 97 == 50) {
      script.Ddl("ALTER TABLE t COMMENT 'change " + std::to_string(i) + "'", t);
    } else if (i % 41 == 7) {
      script.Heartbeat();
    } else if (i % 53 == 9) {
      script.Transaction({});  // a transaction on a table not replicated
    }
    // Now and then a transaction too large to buffer (streamed in pieces).
    script.Transaction(source.RandomTransaction(i % 67 == 30 ? 120 : 4));
  }
  auto events = std::make_shared<Script>(script.events());
  FakeStore serial;
  serial.Define(t);
  for (const ChangeEvent& event : *events) {
    if (event.IsRowChange()) {
      ASSERT_EQ(serial.Apply(event), 0) << "the simulator produced an invalid history";
    }
  }

  FakeTarget target;
  target.Define(t);
  target.RequireSequences(script.sequences_with_rows());
  target.SetApplyDelay([](uint64_t sequence) { return milliseconds(sequence % 11 == 0 ? 1 : 0); });

  PipelineOptions options;
  options.stream_name = "prop";
  options.workers = 3;
  options.poll_interval = milliseconds(5);
  options.stop_when_idle = true;
  options.max_group_transactions = 4;
  options.max_apply_batch = 7;
  options.max_transaction_bytes = 8 << 10;

  int crashes_left = kCrashes;
  bool source_fails_next = false;
  int retries = 0;
  ReconnectOptions reconnect;
  reconnect.initial_backoff = milliseconds(1);
  reconnect.max_backoff = milliseconds(2);
  reconnect.on_retry = [&](const Status& error, milliseconds) {
    EXPECT_TRUE(error.retryable()) << error.ToString();
    ++retries;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  Status status = RunWithReconnect(
      options, reconnect,
      [&](const std::optional<Checkpoint>& resume) -> Result<std::unique_ptr<ChangeStream>> {
        FakeStreamOptions stream;
        const size_t start = StartIndex(resume);
        if (source_fails_next) {
          source_fails_next = false;
          stream.fail_at = start + 1 + rng() % 150;  // the source goes away
        }
        return std::unique_ptr<ChangeStream>(std::make_unique<FakeChangeStream>(
            events, resume ? resume->position : Position{}, stream));
      },
      [&](int worker) -> Result<std::unique_ptr<ChangeApplier>> {
        if (std::chrono::steady_clock::now() > deadline) {
          return Internal("property test ran past its time bound");
        }
        if (worker == 0) {
          target.Restart();  // a new process: connections of the killed one stay dead
          // Every attempt but the last is cut short by one failure.
          if (crashes_left > 0) {
            --crashes_left;
            if (rng() % 4 == 0) {
              source_fails_next = true;
            } else {
              // Killed at a random operation after the checkpoint reads; a commit hit by it
              // landed or not at random (the acknowledgement was lost either way).
              target.InjectFailure(kMaxPipelineWorkers + 1 + 1 + static_cast<int64_t>(rng() % 40),
                                   ConnectionFailed("killed"), /*durable=*/rng() % 2 == 0,
                                   /*crash=*/true);
            }
          }
        }
        return target.NewApplier();
      });
  ASSERT_TRUE(status.ok()) << status.ToString();
  target.ClearFailure();  // one armed for the last attempt may not have been reached
  EXPECT_EQ(crashes_left, 0);
  EXPECT_GE(retries, 20);
  FakeStore applied = target.Store();
  EXPECT_EQ(applied, serial) << "target:\n" << applied.Dump() << "serial:\n" << serial.Dump();
  std::vector<std::string> violations = target.Violations();
  EXPECT_TRUE(violations.empty()) << violations.front();
  auto reader = target.NewApplier();
  Result<std::optional<Checkpoint>> resume = ReadResumePosition(*reader, "prop");
  ASSERT_TRUE(resume.ok() && resume->has_value());
  EXPECT_EQ((*resume)->position, events->back().position);
}

}  // namespace
}  // namespace tandem::engine
