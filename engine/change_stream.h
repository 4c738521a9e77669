// File: engine/change_stream.h
//
// The two ports of change streaming (issue 6; PostgreSQL and Redis streams reuse them):
//
//   ChangeStream   a source connector's reader: decoded ChangeEvents in commit order from a
//                  start position (connectors/mysql: binlog as a replica; postgres: pgoutput;
//                  redis: PSYNC).
//   ChangeApplier  a target connector's writer: applies row changes idempotently inside a target
//                  transaction and commits them together with the checkpoint that covers them.
//
// Ownership and threading: each object owns one server connection and belongs to one thread at a
// time (the reader thread; one applier per applier worker thread). The pipeline that drives them is
// engine/change_pipeline.h.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "engine/change_event.h"
#include "engine/position.h"
#include "engine/status.h"

namespace tandem::engine {

class ChangeStream {
 public:
  virtual ~ChangeStream() = default;
  ChangeStream(const ChangeStream&) = delete;
  ChangeStream& operator=(const ChangeStream&) = delete;

  // The next event, waiting at most `timeout` for one; nullopt when none came in time (the
  // stream is idle; call again). Errors: kConnectionFailed (retryable: reopen from the last
  // checkpoint), kFailedPrecondition when the source no longer has the start position (purged
  // logs), kCorruption for an event that does not decode, kUnsupported for a source setting that
  // makes faithful streaming impossible (named, with the fix).
  virtual Result<std::optional<ChangeEvent>> Next(std::chrono::milliseconds timeout) = 0;

  // The position of the last event returned (std::monostate before the first).
  virtual Position position() const = 0;

  // Tells the stream that every source transaction up to `durable` (a resume position the
  // pipeline took from a kCommit, kDdl or kHeartbeat of this stream: its watermark) is durably
  // committed on the target, so the source may forget it. A checkpoint row may not hold that
  // position yet (two workers' commits can race, engine/change_pipeline.h), so a restart may
  // resume from an earlier one and replay, which is harmless; the source never needs to resend
  // anything before `durable` (PostgreSQL: the slot's confirmed flush LSN;
  // Redis: the acknowledged offset). Only such positions may be reported to the source: one the
  // target has not committed would leave a gap after a crash. Called by the pipeline whenever its
  // watermark advances, from whichever pipeline thread advanced it and with the pipeline's lock
  // held, concurrently with Next() on the reader thread: an implementation must be thread-safe
  // against Next() and must not block. Default: nothing to tell.
  virtual void Acknowledge(const Position& durable) { (void)durable; }

  // Whether the stream has read every event the source logged up to `end` (a position of the
  // source's log at a transaction boundary, e.g. its end when a run began): returned, or skipped
  // as not selected. After that, an idle Next() means everything up to `end` was delivered; before
  // it, an idle Next() is only a pause (a busy source or network). Default: position() >= end.
  // Errors: kInvalidArgument when `end` cannot be ordered against this stream's positions.
  virtual Result<bool> HasReadThrough(const Position& end) const {
    TANDEM_ASSIGN_OR_RETURN(std::strong_ordering order, Compare(position(), end));
    return order != std::strong_ordering::less;
  }

 protected:
  ChangeStream() = default;
};

// What a target records with every commit, in the same transaction as the changes it covers.
struct Checkpoint {
  // The row's name in _tandem: the pipeline writes one row per applier worker,
  // "<stream>/<worker>"; an initial copy may write "<stream>" with its snapshot position. The
  // stream resumes from the greatest position among them (ReadResumePosition).
  std::string stream;
  // Every source transaction up to and including this position is applied. Later ones may be
  // applied too (parallel workers commit out of order); replaying them is harmless because apply
  // is idempotent.
  Position position;
  uint64_t transaction_sequence = 0;  // of the last transaction covered
  int64_t events_applied = 0;         // row changes applied by this stream so far (cumulative)
};

// Several appliers of one target run at once, one per pipeline worker, each on its own connection.
// Their open transactions never change the same rows (the pipeline keeps conflicting source
// transactions on one worker or waits), but they commit checkpoint rows concurrently: writing a
// checkpoint must lock only that stream's row.
class ChangeApplier {
 public:
  virtual ~ChangeApplier() = default;
  ChangeApplier(const ChangeApplier&) = delete;
  ChangeApplier& operator=(const ChangeApplier&) = delete;

  // Opens a target transaction. REQUIRES: none open.
  virtual Status Begin() = 0;

  // Applies row changes in order inside the open transaction, idempotently: an insert or update
  // writes the after image replacing any row that conflicts with it on the primary key or a unique
  // key; an update whose key changed removes the before key first; a delete of an absent row is
  // not an error. Consecutive changes of one kind and table may go in one multi-row statement.
  // A span may hold changes of several source transactions (grouped into one target commit).
  // REQUIRES: a transaction is open; every event IsRowChange().
  virtual Status Apply(std::span<const ChangeEvent> changes) = 0;

  // Writes `checkpoint` in the open transaction and commits it. On error the transaction is rolled
  // back (nothing of it, checkpoint included, is applied).
  virtual Status Commit(const Checkpoint& checkpoint) = 0;

  // Abandons the open transaction, if any.
  virtual Status Rollback() = 0;

  // Runs a DDL statement (no transaction may be open); with `checkpoint` recorded right after.
  // Where DDL commits on its own (MySQL), a crash between the statement and the checkpoint replays
  // it on restart: the applier makes that replay harmless (the change is already there) or fails
  // with kFailedPrecondition naming the statement. The pipeline calls it with every other worker
  // idle.
  virtual Status ApplyDdl(const ChangeEvent& ddl, const Checkpoint& checkpoint) = 0;

  // The checkpoint of `stream` last committed, or nullopt when it never committed one.
  virtual Result<std::optional<Checkpoint>> ReadCheckpoint(const std::string& stream) = 0;

 protected:
  ChangeApplier() = default;
};

}  // namespace tandem::engine
