// File: engine/change_pipeline.h
//
// ChangePipeline: streams a source's changes into a target, in parallel and resumably.
//
//   reader thread ──BoundedQueue<ChangeEvent>──▶ scheduler (the thread in Run()) ──▶ N workers
//   ChangeStream::Next                          assembles kBegin..kCommit,          each owns one
//                                               computes writesets, dispatches       ChangeApplier
//
// Scheduling. Each source transaction gets a writeset (engine/writeset.h). A transaction is
// dispatched only when every earlier transaction it conflicts with is committed or queued on the
// same worker (whose queue runs in order), so conflicting transactions commit in source order and
// independent ones commit in parallel, in any order. A transaction conflicting with uncommitted
// transactions on two or more workers waits (and with it everything after it: dispatch is in source
// order). Invariant: every writeset entry of an uncommitted transaction is held by one worker only.
//
// Grouping. A worker with several transactions queued (the stream is behind) commits up to
// max_group_transactions / max_group_bytes of them in one target transaction; row changes go to
// ChangeApplier::Apply in spans of up to max_apply_batch so the applier can build multi-row
// statements.
//
// Large transactions. A transaction whose buffered events pass max_transaction_bytes before its
// commit is not buffered whole: the scheduler waits until every worker is drained, then streams it
// into one worker's single open target transaction in pieces, holding at most about
// 2 * max_transaction_bytes; nothing else is dispatched until it commits (serial).
//
// DDL is a barrier: the scheduler waits until every worker is drained, one worker runs ApplyDdl,
// and nothing after it is dispatched before it is done.
//
// Checkpoints and recovery. Transactions get consecutive ordinals in source order. The low
// watermark is the position of the newest transaction W such that W and every earlier transaction
// is durably committed on the target. Every target commit (a group, a DDL, a streamed transaction,
// a heartbeat checkpoint) writes, in the same target transaction, a Checkpoint holding the
// watermark as it stands counting that commit itself as done. One checkpoint row per worker,
// stream "<stream_name>/<worker>", written only by that worker's applier.
//   Invariant: every checkpoint row's position P satisfies "every source transaction up to P is
//   durably applied". It holds when the row commits (all transactions up to P were committed
//   before, or are in this very commit) and stays true afterwards (commits are never undone).
//   Recovery: restart the stream from R = max over the rows (ReadResumePosition). Everything up to
//   R is applied. Transactions after R were either never applied or applied out of order (another
//   worker committed them before an earlier one). Replaying all of them in source order with
//   idempotent apply (an insert/update writes the full after image, replacing whatever holds its
//   primary or unique key; a delete of an absent row is a no-op) converges to the source: each row
//   ends as its last change in the replayed suffix wrote it, and rows no suffix change touches are
//   as the prefix left them. A replayed change may replace a row that a later, already-applied
//   transaction wrote early (a "future" row); that row's own later change is replayed after it and
//   writes it back. No other row can collide, since in the source the same change succeeded against
//   the same rows.
//   Heartbeats: a kHeartbeat arriving when nothing is in flight or being assembled, at a position
//   past the watermark, is committed as an empty target transaction with its checkpoint, so idle
//   streams record progress (and a restart does not replay transactions on other tables again).
//   One arriving while commits are in flight is kept (the latest) until they have landed.
//   Quiet streams: once no event has arrived and nothing has committed for idle_checkpoint_delay,
//   with nothing in flight or being assembled, a checkpoint row is made to hold the stream's
//   newest resume point when none does yet: the kept heartbeat's position when it is past the
//   watermark, else the watermark itself when no row holds it (two workers' commits raced so that
//   neither counted the other, or transactions with nothing to apply moved it). So within about
//   twice that delay of the stream going quiet, the greatest checkpoint row names everything the
//   stream has read up to its last heartbeat or commit (what a cutover's drain waits for), without
//   waiting for the source's next heartbeat (MariaDB: 1 s; Redis: a PING every 10 s). It costs
//   one empty target transaction per quiet period, and none while a row already holds that point.
//
// Stop and errors. Stop() (or options.stop_flag) makes the reader stop, workers finish the group
// they are committing (or roll back a streamed transaction) and drop what they have not begun,
// and Run() joins every thread, records the final watermark when no checkpoint row holds it yet
// (two commits can race so that neither counts the other), and returns OK. The first error of the
// stream or an applier stops the pipeline the same way and Run() returns it; when it is retryable
// (Status::retryable()) the caller reconnects and restarts from ReadResumePosition:
// RunWithReconnect does exactly that with capped exponential backoff. Every wait inside the
// pipeline wakes at least every poll_interval to check for a stop; calls into the stream and the
// appliers are bounded by their connections' timeouts.
//
// Threads and ownership: the ChangeStream belongs to the reader thread and each ChangeApplier to
// its worker thread while Run() runs (and to the Run() thread before and after, for reading
// checkpoints). Stop() and metrics() are safe from any thread; Run() is called once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/bounded_queue.h"
#include "engine/change_event.h"
#include "engine/change_stream.h"
#include "engine/pipeline_metrics.h"
#include "engine/status.h"
#include "engine/writeset.h"

namespace tandem::engine {

// Checkpoint rows are "<stream_name>/0" .. "<stream_name>/<kMaxPipelineWorkers - 1>".
inline constexpr int kMaxPipelineWorkers = 64;

struct PipelineOptions {
  // Names the checkpoint rows: "<stream_name>/<worker>".
  std::string stream_name = "main";
  // Applier workers, one ChangeApplier each; 1 .. kMaxPipelineWorkers.
  int workers = 4;
  // Reader → scheduler queue bounds.
  size_t queue_max_events = 10'000;
  size_t queue_max_bytes = 64u << 20;
  // Source transactions grouped into one target commit when a worker has a backlog.
  size_t max_group_transactions = 64;
  size_t max_group_bytes = 8u << 20;
  // Row changes per ChangeApplier::Apply call.
  size_t max_apply_batch = 500;
  // A transaction holding more than this before its commit streams in pieces (see above).
  size_t max_transaction_bytes = 32u << 20;
  // Dispatched but not yet committed, over all workers: the scheduler waits beyond these.
  size_t max_pending_bytes = 128u << 20;
  size_t max_pending_transactions = 1024;
  // How long one ChangeStream::Next and every internal wait may block before checking for a stop.
  std::chrono::milliseconds poll_interval{100};
  // How long the stream must be quiet (no event read, no commit) before the newest resume point is
  // recorded in an empty target transaction when no checkpoint row holds it (see above).
  std::chrono::milliseconds idle_checkpoint_delay{20};
  // Run() returns OK once the stream reports idle (Next returned nothing) and everything read is
  // committed: `tandem sync --until-caught-up`, and tests. When stop_at is a position, an idle
  // Next() counts only once the stream has read through it (ChangeStream::HasReadThrough): a pause
  // of the source or the network before that is not "caught up".
  bool stop_when_idle = false;
  Position stop_at;
  // Optional, owned by the caller and outliving Run(): setting it stops like Stop().
  const std::atomic<bool>* stop_flag = nullptr;
  // Optional, owned by the caller and outliving Run(): where metrics go, so they survive restarts.
  // When null the pipeline keeps its own (metrics()).
  PipelineMetrics* metrics = nullptr;
};

// The checkpoint to resume `stream_name` from: the greatest position among the rows
// "<stream_name>" (as an initial copy writes it) and "<stream_name>/<i>", i < kMaxPipelineWorkers;
// nullopt when none was ever committed. Its events_applied is the sum over the rows.
// Errors: the applier's; kFailedPrecondition when the rows hold positions that cannot be ordered
// (of different engines or histories: the target was filled from another source).
Result<std::optional<Checkpoint>> ReadResumePosition(ChangeApplier& applier,
                                                     const std::string& stream_name);

class ChangePipeline {
 public:
  // REQUIRES: appliers.size() == options.workers; all non-null. Takes ownership of all.
  ChangePipeline(PipelineOptions options, std::unique_ptr<ChangeStream> stream,
                 std::vector<std::unique_ptr<ChangeApplier>> appliers);
  ~ChangePipeline();
  ChangePipeline(const ChangePipeline&) = delete;
  ChangePipeline& operator=(const ChangePipeline&) = delete;

  // Reads the resume checkpoint, runs until Stop(), the stop flag, idleness with stop_when_idle, or
  // the first error; joins every thread before returning. OK on a requested stop. Errors: the
  // stream's or an applier's first error (with context naming which); kCorruption when the stream
  // breaks the kBegin..kCommit framing; kInvalidArgument for bad options. REQUIRES: called once.
  Status Run();

  // Asks Run() to stop. Safe from any thread, any time (also before Run()); not from a signal
  // handler (it takes a mutex): a handler sets options.stop_flag instead.
  void Stop();

  const PipelineMetrics& metrics() const { return *metrics_; }

 private:
  enum class WorkKind {
    kTransaction,     // a whole source transaction
    kCheckpointOnly,  // a heartbeat: an empty target transaction with its checkpoint
    kDdl,             // events[0] is the kDdl
    kStreamBegin,     // Begin, then apply `events` (the first piece of a large transaction)
    kStreamPiece,     // apply `events` into the open target transaction
    kStreamCommit,    // commit the streamed transaction
  };
  struct Work {
    WorkKind kind = WorkKind::kTransaction;
    uint64_t ordinal = 0;  // 0 for kStreamBegin/kStreamPiece: they commit nothing
    std::vector<ChangeEvent> events;
    size_t bytes = 0;
  };
  // A transaction handed to a worker and not yet part of the watermark.
  struct InFlight {
    int worker = -1;
    bool committed = false;
    bool barrier = false;
    std::vector<uint64_t> hashes;  // the writeset, while uncommitted
    Position position;             // resume point after it
    uint64_t transaction_sequence = 0;
    int64_t source_commit_time_us = 0;
  };
  // What the scheduler is assembling.
  struct Assembly {
    std::vector<ChangeEvent> rows;
    Writeset writeset;
    size_t bytes = 0;
    bool streaming = false;  // its first piece went to a worker already
    int stream_worker = -1;
    uint64_t stream_ordinal = 0;
  };

  bool StopRequested() const;
  // Records the first error and stops everything. Any thread.
  void Fail(Status status);

  void ReaderLoop();
  Status SchedulerLoop();
  Status OnEvent(ChangeEvent event, std::optional<Assembly>& assembly);
  Status DispatchTransaction(Assembly assembly, const ChangeEvent& commit);
  Status DispatchBarrier(WorkKind kind, std::vector<ChangeEvent> events, const ChangeEvent& at);
  Status StartStreaming(Assembly& assembly);
  Status SendStreamPiece(Assembly& assembly, WorkKind kind);
  Status FinishStreaming(Assembly& assembly, const ChangeEvent& commit);
  Status WaitUntilIdle();
  // The quiet-stream checkpoint (see the file comment): dispatches it when due. `last_event` is
  // when the scheduler last took an event.
  Status CheckpointIfQuiet(bool assembling, std::chrono::steady_clock::time_point last_event);
  // Waits (in poll_interval steps, returning kCancelled on stop) until `ready` holds under mu_.
  Status WaitLocked(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready);

  void WorkerLoop(int worker);
  Status ApplyRows(ChangeApplier& applier, std::span<const ChangeEvent> rows);
  // The checkpoint worker `worker` commits with `ordinals`; *covered = the ordinal it reaches.
  Checkpoint CheckpointCounting(int worker, const std::vector<uint64_t>& ordinals,
                                uint64_t* covered);
  // After the commit of `ordinals` (holding `bytes`) with a checkpoint reaching `covered`.
  void MarkCommitted(int worker, const std::vector<uint64_t>& ordinals, size_t bytes,
                     uint64_t covered);

  // REQUIRES: mu_ held.
  int LeastLoadedWorker() const;
  void AdvanceWatermarkLocked();
  void PushWorkLocked(int worker, Work work);
  void RecordBufferedLocked(size_t assembly_bytes);

  // Constant after construction.
  const PipelineOptions options_;
  std::unique_ptr<PipelineMetrics> owned_metrics_;
  PipelineMetrics* metrics_;

  // Reader thread only (while Run() runs).
  std::unique_ptr<ChangeStream> stream_;
  // appliers_[i]: worker i's thread only (while Run() runs).
  std::vector<std::unique_ptr<ChangeApplier>> appliers_;
  // Worker i's thread only: events applied by its checkpoint row, cumulative over runs.
  std::vector<int64_t> worker_events_applied_;

  // Safe for concurrent use.
  BoundedQueue<ChangeEvent> queue_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> ran_{false};

  std::mutex mu_;
  std::condition_variable changed_;  // notified on every change of the state below
  // Guarded by mu_.
  bool stopping_ = false;
  Status first_error_;
  bool reader_idle_ = false;  // the reader stopped because the stream went idle
  std::vector<std::deque<Work>> inbox_;
  std::vector<size_t> worker_load_;         // uncommitted ordinals dispatched to each worker
  std::map<uint64_t, InFlight> in_flight_;  // ordinal -> transaction past the watermark
  struct Holder {
    int worker;
    uint32_t count;
  };
  std::unordered_map<uint64_t, Holder> held_hashes_;  // writeset entry -> uncommitted holder
  size_t uncommitted_ = 0;
  size_t uncommitted_barriers_ = 0;
  size_t pending_bytes_ = 0;
  uint64_t next_ordinal_ = 1;
  // The low watermark: ordinal (0 = the resume checkpoint), position and sequence.
  uint64_t watermark_ordinal_ = 0;
  // The greatest ordinal a committed checkpoint row of this run reaches.
  uint64_t recorded_ordinal_ = 0;
  Position watermark_position_;
  uint64_t watermark_sequence_ = 0;
  int64_t watermark_commit_time_us_ = 0;
  // The latest kHeartbeat that came while commits were in flight (recorded once they land).
  std::optional<ChangeEvent> kept_heartbeat_;
  std::chrono::steady_clock::time_point last_commit_at_;  // of the last MarkCommitted

  // Scheduler thread only.
  std::thread reader_;
  std::vector<std::thread> workers_;
};

// How RunWithReconnect backs off between attempts.
struct ReconnectOptions {
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30'000};
  // Consecutive failed attempts (runs that applied nothing) before giving up; 0 = never.
  int max_consecutive_failures = 0;
  // Called before each backoff sleep with the error that ended the attempt (for logging).
  std::function<void(const Status& error, std::chrono::milliseconds backoff)> on_retry;
};

// Opens the stream from `resume` (nullopt: from the start the connector chooses, e.g. the initial
// copy's position).
using ChangeStreamFactory =
    std::function<Result<std::unique_ptr<ChangeStream>>(const std::optional<Checkpoint>& resume)>;
// Opens worker `worker`'s applier (one target connection).
using ChangeApplierFactory = std::function<Result<std::unique_ptr<ChangeApplier>>(int worker)>;

// Runs ChangePipelines until one ends without a retryable error: opens options.workers appliers,
// reads ReadResumePosition, opens the stream from it, runs; on a retryable error (of the factories,
// the checkpoint read or the run) sleeps initial_backoff doubling up to max_backoff (reset after an
// attempt that applied something) and starts over. Stops between attempts when options.stop_flag
// is set. Returns OK when a run ended OK, else the permanent error, or the last retryable error
// after max_consecutive_failures.
Status RunWithReconnect(const PipelineOptions& options, const ReconnectOptions& reconnect,
                        const ChangeStreamFactory& open_stream,
                        const ChangeApplierFactory& open_applier);

}  // namespace tandem::engine
