// File: tests/engine/pipeline_fakes.h
//
// Fakes of the change-streaming ports for pipeline tests (real interfaces, in memory):
//
//   ScriptBuilder      writes a source history: transactions (kBegin, rows, kCommit), DDL,
//                      heartbeats; event i has position Lsn{i + 1}, so a stream resumed from
//                      Lsn{p} starts at event p.
//   FakeChangeStream   plays a script from a start position; can fail at an event, pause before
//                      one, or report idle at the end.
//   FakeStore          tables with REPLACE semantics (the ChangeApplier contract): the reference a
//                      serial application is computed with.
//   FakeTarget         the target database: a FakeStore plus checkpoint rows, transactions that
//                      land atomically at commit, failure and crash injection, and a history of
//                      what each applier did (for order, grouping, concurrency and invariant
//                      checks).
//   FakeApplier        one connection to a FakeTarget.
//
// Thread safety: FakeTarget is safe for concurrent use (one mutex); FakeChangeStream, FakeApplier
// and FakeStore belong to one thread at a time, like the objects they stand in for.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/change_stream.h"

namespace tandem::engine::testing {

using Script = std::vector<ChangeEvent>;

class ScriptBuilder {
 public:
  // Adds kBegin, `rows` (their kind/table/images as given), kCommit; returns the sequence.
  uint64_t Transaction(std::vector<ChangeEvent> rows, int64_t commit_time_us = 0);
  void Ddl(std::string statement, std::shared_ptr<const TableSchema> table = nullptr);
  void Heartbeat(int64_t time_us = 0);
  const Script& events() const { return events_; }
  Script Take() { return std::move(events_); }
  // Sequences of the transactions that change at least one row.
  const std::set<uint64_t>& sequences_with_rows() const { return with_rows_; }

 private:
  void Push(ChangeEvent event);
  Script events_;
  std::set<uint64_t> with_rows_;
  uint64_t next_sequence_ = 1;
};

ChangeEvent Insert(std::shared_ptr<const TableSchema> table, Row after);
ChangeEvent Update(std::shared_ptr<const TableSchema> table, Row before, Row after);
ChangeEvent Delete(std::shared_ptr<const TableSchema> table, Row before);

// t(id BIGINT PRIMARY KEY, u VARCHAR UNIQUE NULL, v BIGINT): the table most tests use. With
// `unique_key` false the schema claims only the primary key.
std::shared_ptr<const TableSchema> KeyedTable(std::string name = "t", bool unique_key = true);
Row R(int64_t id, std::optional<std::string> u, int64_t v);

struct FakeStreamOptions {
  // Next() fails with `fail_status` when about to deliver event `fail_at` (once).
  std::optional<size_t> fail_at;
  Status fail_status = ConnectionFailed("fake source went away");
  // Next() holds event `hold_at` back, reporting idle (nullopt after sleeping min(timeout, 2 ms)),
  // until `release()` returns true; a null `release` holds it for ever.
  std::optional<size_t> hold_at;
  std::function<bool()> release;
};

// The script index a stream resumed from `resume` starts at (its position is Lsn{index}; a
// checkpoint written before anything was applied holds no position: index 0).
size_t StartIndex(const std::optional<Checkpoint>& resume);

class FakeChangeStream : public ChangeStream {
 public:
  // Plays `script` from `start` (std::monostate: the beginning).
  FakeChangeStream(std::shared_ptr<const Script> script, const Position& start,
                   FakeStreamOptions options = {});
  // After the last event: nullopt (idle) after sleeping min(timeout, 2 ms).
  Result<std::optional<ChangeEvent>> Next(std::chrono::milliseconds timeout) override;
  Position position() const override { return position_; }

 private:
  std::shared_ptr<const Script> script_;
  size_t next_ = 0;
  Position position_;
  FakeStreamOptions options_;
};

class FakeStore {
 public:
  // The schema the store enforces for its table (unique keys), whatever the events claim.
  void Define(std::shared_ptr<const TableSchema> table);
  // Applies one row change with REPLACE semantics; returns how many *other* rows it removed for a
  // unique-key collision (in an in-order serial application: never).
  int Apply(const ChangeEvent& change);
  // table -> primary key text -> row.
  const std::map<TableId, std::map<std::string, Row>>& tables() const { return tables_; }
  std::string Dump() const;
  friend bool operator==(const FakeStore& a, const FakeStore& b) { return a.tables_ == b.tables_; }

 private:
  std::map<TableId, std::shared_ptr<const TableSchema>> schemas_;
  std::map<TableId, std::map<std::string, Row>> tables_;
};

// One entry of what the target saw, in the order it happened.
struct HistoryEntry {
  enum Kind { kBegin, kApply, kCommit, kRollback, kDdl } kind;
  int applier;
  std::vector<uint64_t> sequences;  // kApply: of the rows; kCommit: of the transaction's rows
  size_t rows = 0;                  // kApply: rows in the call
  Checkpoint checkpoint;            // kCommit, kDdl
};

class FakeTarget {
 public:
  void Define(std::shared_ptr<const TableSchema> table);
  // Sequences whose rows every checkpoint at or past them must already cover (the low-watermark
  // invariant, checked at every commit).
  void RequireSequences(std::set<uint64_t> sequences);
  // Sleep inside Apply for rows of `sequence`, and inside every Commit.
  void SetApplyDelay(std::function<std::chrono::milliseconds(uint64_t sequence)> delay);
  void SetCommitDelay(std::chrono::milliseconds delay);
  // Sleep inside Commit after the commit landed (the acknowledgement is slow), for commits holding
  // rows of `sequence`.
  void SetAcknowledgementDelay(std::function<std::chrono::milliseconds(uint64_t sequence)> delay);
  // The `operation`-th operation from now (Begin/Apply/Commit/Rollback/ApplyDdl/ReadCheckpoint,
  // counting from 1) fails with `status`; when it is a Commit and `durable`, the commit lands
  // first. With `crash`, every later operation of this incarnation fails too (kill -9).
  void InjectFailure(int64_t operation, Status status, bool durable = false, bool crash = false);
  void ClearFailure();
  // Starts a new incarnation (the process restarted); appliers of older ones keep failing.
  int Restart();
  int incarnation() const;

  std::unique_ptr<ChangeApplier> NewApplier();

  FakeStore Store() const;
  std::map<std::string, Checkpoint> Checkpoints() const;
  std::vector<HistoryEntry> History() const;
  std::vector<std::string> Violations() const;  // invariant breaks seen (should stay empty)
  int UniqueCollisions() const;                 // rows removed by a unique-key collision
  int MaxConcurrentTransactions() const;
  int OpenTransactions() const;
  bool Committed(uint64_t sequence) const;
  int64_t operations() const;

 private:
  friend class FakeApplier;
  // REQUIRES: mu_ held. The next operation of `incarnation`: OK, or the injected failure.
  Status NextOperation(int incarnation, bool* durable_failure);
  void CommitLocked(int applier, const std::vector<ChangeEvent>& changes,
                    const Checkpoint& checkpoint);
  void CheckWatermarkLocked(const Checkpoint& checkpoint, const std::set<uint64_t>& with_this);

  mutable std::mutex mu_;
  FakeStore store_;
  std::map<std::string, Checkpoint> checkpoints_;
  std::set<uint64_t> required_;
  std::set<uint64_t> committed_;
  std::vector<HistoryEntry> history_;
  std::vector<std::string> violations_;
  std::function<std::chrono::milliseconds(uint64_t)> apply_delay_;
  std::chrono::milliseconds commit_delay_{0};
  std::function<std::chrono::milliseconds(uint64_t)> acknowledgement_delay_;
  int unique_collisions_ = 0;
  int active_ = 0;
  int max_active_ = 0;
  int64_t operations_ = 0;
  int64_t fail_at_ = 0;
  Status fail_status_ = ConnectionFailed("injected");
  bool fail_durable_ = false;
  bool fail_crash_ = false;
  int incarnation_ = 0;
  int dead_incarnation_ = -1;
  int next_applier_ = 0;
};

}  // namespace tandem::engine::testing
