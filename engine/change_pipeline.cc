#include "engine/change_pipeline.h"

#include <algorithm>
#include <iterator>
#include <span>
#include <utility>

namespace tandem::engine {
namespace {

std::string WorkerStreamName(const std::string& stream_name, int worker) {
  return stream_name + "/" + std::to_string(worker);
}

// The checkpoint rows of `stream_name`: [0] is "<stream_name>", [1 + i] is "<stream_name>/<i>".
Result<std::vector<std::optional<Checkpoint>>> ReadCheckpointRows(ChangeApplier& applier,
                                                                  const std::string& stream_name) {
  std::vector<std::optional<Checkpoint>> rows;
  rows.reserve(kMaxPipelineWorkers + 1);
  TANDEM_ASSIGN_OR_RETURN(std::optional<Checkpoint> base, applier.ReadCheckpoint(stream_name));
  rows.push_back(std::move(base));
  for (int worker = 0; worker < kMaxPipelineWorkers; ++worker) {
    TANDEM_ASSIGN_OR_RETURN(std::optional<Checkpoint> row,
                            applier.ReadCheckpoint(WorkerStreamName(stream_name, worker)));
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::optional<Checkpoint>> GreatestCheckpoint(
    const std::vector<std::optional<Checkpoint>>& rows, const std::string& stream_name) {
  std::optional<Checkpoint> best;
  int64_t events_applied = 0;
  for (const std::optional<Checkpoint>& row : rows) {
    if (!row) {
      continue;
    }
    events_applied += row->events_applied;
    if (!best) {
      best = row;
      continue;
    }
    Result<std::strong_ordering> order = Compare(row->position, best->position);
    if (!order.ok()) {
      return FailedPrecondition("checkpoints of stream " + stream_name + " (" + row->stream +
                                " at " + Serialize(row->position) + ", " + best->stream + " at " +
                                Serialize(best->position) +
                                ") cannot be ordered: " + order.status().message() +
                                "; the target was filled from another source: remove its _tandem "
                                "checkpoint rows and copy again");
    }
    if (*order == std::strong_ordering::greater) {
      best = row;
    }
  }
  if (best) {
    best->stream = stream_name;
    best->events_applied = events_applied;
  }
  return best;
}

}  // namespace

Result<std::optional<Checkpoint>> ReadResumePosition(ChangeApplier& applier,
                                                     const std::string& stream_name) {
  TANDEM_ASSIGN_OR_RETURN(auto rows, ReadCheckpointRows(applier, stream_name));
  return GreatestCheckpoint(rows, stream_name);
}

ChangePipeline::ChangePipeline(PipelineOptions options, std::unique_ptr<ChangeStream> stream,
                               std::vector<std::unique_ptr<ChangeApplier>> appliers)
    : options_(std::move(options)),
      owned_metrics_(options_.metrics == nullptr ? std::make_unique<PipelineMetrics>() : nullptr),
      metrics_(options_.metrics == nullptr ? owned_metrics_.get() : options_.metrics),
      stream_(std::move(stream)),
      appliers_(std::move(appliers)),
      worker_events_applied_(appliers_.size(), 0),
      queue_(BoundedQueue<ChangeEvent>::Limits{options_.queue_max_events, options_.queue_max_bytes},
             [](const ChangeEvent& event) { return ApproximateBytes(event); }),
      inbox_(appliers_.size()),
      worker_load_(appliers_.size(), 0) {}

ChangePipeline::~ChangePipeline() {
  // Run() joins its threads before returning; this only guards against a Run() that never ran.
  Stop();
}

void ChangePipeline::Stop() {
  stop_requested_.store(true);
  std::lock_guard lock(mu_);
  changed_.notify_all();
}

bool ChangePipeline::StopRequested() const {
  return stop_requested_.load() || (options_.stop_flag != nullptr && options_.stop_flag->load());
}

void ChangePipeline::Fail(Status status) {
  {
    std::lock_guard lock(mu_);
    if (first_error_.ok()) {
      first_error_ = std::move(status);
    }
    stopping_ = true;
    changed_.notify_all();
  }
  queue_.Close();
}

Status ChangePipeline::Run() {
  if (ran_.exchange(true)) {
    return FailedPrecondition("ChangePipeline::Run called twice; build a new pipeline to restart");
  }
  if (options_.workers < 1 || options_.workers > kMaxPipelineWorkers) {
    return InvalidArgument("pipeline workers must be 1.." + std::to_string(kMaxPipelineWorkers) +
                           ", not " + std::to_string(options_.workers));
  }
  if (appliers_.size() != static_cast<size_t>(options_.workers)) {
    return InvalidArgument("pipeline has " + std::to_string(appliers_.size()) + " appliers for " +
                           std::to_string(options_.workers) + " workers");
  }
  if (stream_ == nullptr || std::any_of(appliers_.begin(), appliers_.end(),
                                        [](const auto& applier) { return applier == nullptr; })) {
    return InvalidArgument("pipeline needs a change stream and an applier per worker");
  }
  if (options_.max_group_transactions == 0 || options_.max_apply_batch == 0 ||
      options_.poll_interval.count() <= 0 || options_.idle_checkpoint_delay.count() <= 0) {
    return InvalidArgument(
        "pipeline max_group_transactions, max_apply_batch, poll_interval and "
        "idle_checkpoint_delay must be positive");
  }

  // The appliers still belong to this thread: read where the last run left off.
  Result<std::vector<std::optional<Checkpoint>>> rows =
      ReadCheckpointRows(*appliers_[0], options_.stream_name);
  if (!rows.ok()) {
    return rows.status().WithContext("reading checkpoints of stream " + options_.stream_name);
  }
  TANDEM_ASSIGN_OR_RETURN(std::optional<Checkpoint> resume,
                          GreatestCheckpoint(*rows, options_.stream_name));
  for (size_t worker = 0; worker < appliers_.size(); ++worker) {
    if (const std::optional<Checkpoint>& row = (*rows)[1 + worker]) {
      worker_events_applied_[worker] = row->events_applied;
    }
  }
  {
    std::lock_guard lock(mu_);
    if (resume) {
      watermark_position_ = resume->position;
      watermark_sequence_ = resume->transaction_sequence;
      stream_->Acknowledge(watermark_position_);  // durable: a checkpoint row holds it
    }
    metrics_->RecordApplied(watermark_position_, watermark_sequence_, 0);
  }

  for (int worker = 0; worker < options_.workers; ++worker) {
    workers_.emplace_back([this, worker] { WorkerLoop(worker); });
  }
  reader_ = std::thread([this] { ReaderLoop(); });

  Status scheduled = SchedulerLoop();
  if (!scheduled.ok() && scheduled.code() != StatusCode::kCancelled) {
    Fail(scheduled);
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    changed_.notify_all();
  }
  queue_.Close();
  reader_.join();
  for (std::thread& worker : workers_) {
    worker.join();
  }
  metrics_->RecordQueue(0, 0);
  Checkpoint final_checkpoint;
  {
    std::lock_guard lock(mu_);
    metrics_->RecordInFlight(uncommitted_);
    if (!first_error_.ok()) {
      return first_error_;
    }
    if (watermark_ordinal_ <= recorded_ordinal_) {
      return Status::Ok();
    }
    // Commits raced (a group took its checkpoint before a later one was marked done), so no row
    // holds the watermark yet: record it, so a restart does not replay what is applied.
    final_checkpoint = Checkpoint{WorkerStreamName(options_.stream_name, 0), watermark_position_,
                                  watermark_sequence_, worker_events_applied_[0]};
  }
  // The workers are joined: applier 0 is this thread's again.
  TANDEM_RETURN_IF_ERROR_CONTEXT(appliers_[0]->Begin(), "recording the final checkpoint");
  TANDEM_RETURN_IF_ERROR_CONTEXT(appliers_[0]->Commit(final_checkpoint),
                                 "recording the final checkpoint");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Reader thread.

void ChangePipeline::ReaderLoop() {
  while (!StopRequested()) {
    Result<std::optional<ChangeEvent>> next = stream_->Next(options_.poll_interval);
    if (!next.ok()) {
      Fail(next.status().WithContext("change stream of " + options_.stream_name));
      return;
    }
    if (!next->has_value()) {
      if (options_.stop_when_idle) {
        Result<bool> through = true;
        if (!std::holds_alternative<std::monostate>(options_.stop_at)) {
          through = stream_->HasReadThrough(options_.stop_at);
        }
        if (!through.ok()) {
          Fail(through.status().WithContext("change stream of " + options_.stream_name +
                                            ": comparing with the position to catch up to"));
          return;
        }
        if (*through) {
          std::lock_guard lock(mu_);
          reader_idle_ = true;
          break;
        }
      }
      continue;
    }
    ChangeEvent event = std::move(**next);
    metrics_->RecordEventsRead(1);
    for (;;) {
      Status pushed = queue_.Push(event, options_.poll_interval);
      if (pushed.ok()) {
        break;
      }
      if (pushed.code() == StatusCode::kCancelled || StopRequested()) {
        return;
      }
    }
  }
  queue_.Close();
}

// ---------------------------------------------------------------------------------------------
// Scheduler (the Run() thread).

Status ChangePipeline::WaitLocked(std::unique_lock<std::mutex>& lock,
                                  const std::function<bool()>& ready) {
  for (;;) {
    if (stopping_ || StopRequested()) {
      return Cancelled("pipeline stopping");
    }
    if (ready()) {
      return Status::Ok();
    }
    changed_.wait_for(lock, options_.poll_interval);
  }
}

Status ChangePipeline::SchedulerLoop() {
  std::optional<Assembly> assembly;
  // Woken at least this often to notice a quiet stream (CheckpointIfQuiet).
  const std::chrono::milliseconds wait =
      std::min(options_.poll_interval, options_.idle_checkpoint_delay);
  auto last_event = std::chrono::steady_clock::now();
  for (;;) {
    if (StopRequested()) {
      return Cancelled("stop requested");
    }
    Result<ChangeEvent> item = queue_.Pop(wait);
    metrics_->RecordQueue(queue_.size(), queue_.bytes());
    if (!item.ok()) {
      if (item.status().code() == StatusCode::kTimeout) {
        TANDEM_RETURN_IF_ERROR(CheckpointIfQuiet(assembly.has_value(), last_event));
        continue;
      }
      bool idle_end = false;
      {
        std::lock_guard lock(mu_);
        idle_end = reader_idle_ && !stopping_;
      }
      if (!idle_end) {
        return Cancelled("pipeline stopping");
      }
      // The stream went idle. A transaction cut off mid-way is not applied (a streamed one is
      // rolled back when the workers stop); the next run reads it again from the checkpoint.
      if (assembly && assembly->streaming) {
        return Status::Ok();
      }
      return WaitUntilIdle();
    }
    last_event = std::chrono::steady_clock::now();
    TANDEM_RETURN_IF_ERROR(OnEvent(std::move(*item), assembly));
  }
}

Status ChangePipeline::CheckpointIfQuiet(bool assembling,
                                         std::chrono::steady_clock::time_point last_event) {
  if (assembling) {
    return Status::Ok();  // a transaction is arriving: its commit will move the checkpoint
  }
  ChangeEvent at;
  {
    std::lock_guard lock(mu_);
    if (uncommitted_ != 0 ||
        std::chrono::steady_clock::now() - std::max(last_event, last_commit_at_) <
            options_.idle_checkpoint_delay) {
      return Status::Ok();
    }
    std::optional<ChangeEvent> kept = std::move(kept_heartbeat_);
    kept_heartbeat_.reset();
    Result<std::strong_ordering> order =
        kept ? Compare(kept->position, watermark_position_)
             : Result<std::strong_ordering>(std::strong_ordering::less);
    if (order.ok() && *order == std::strong_ordering::greater) {
      // Everything before the heartbeat was dispatched before it and has committed (nothing is in
      // flight), so its position is a resume point, as in OnEvent.
      at = std::move(*kept);
    } else if (watermark_ordinal_ > recorded_ordinal_) {
      at.kind = ChangeKind::kHeartbeat;
      at.position = watermark_position_;  // commit time 0: the watermark's stays as it is
    } else {
      return Status::Ok();  // a checkpoint row holds the newest resume point already
    }
  }
  return DispatchBarrier(WorkKind::kCheckpointOnly, {}, at);
}

Status ChangePipeline::OnEvent(ChangeEvent event, std::optional<Assembly>& assembly) {
  auto framing_error = [&](std::string_view what) {
    return Corruption("change stream " + options_.stream_name + ": " + std::string(what) +
                      " (transaction " + std::to_string(event.transaction_sequence) + " at " +
                      Serialize(event.position) + ")");
  };
  switch (event.kind) {
    case ChangeKind::kBegin:
      if (assembly) {
        return framing_error("a transaction began before the previous one committed");
      }
      assembly.emplace();
      return Status::Ok();
    case ChangeKind::kInsert:
    case ChangeKind::kUpdate:
    case ChangeKind::kDelete:
    case ChangeKind::kCommand: {
      if (!assembly) {
        return framing_error("a row change outside a transaction");
      }
      const size_t bytes = ApproximateBytes(event);
      if (!assembly->streaming) {
        assembly->writeset.Add(event);
      }
      assembly->rows.push_back(std::move(event));
      assembly->bytes += bytes;
      if (!assembly->streaming) {
        if (assembly->bytes > options_.max_transaction_bytes) {
          return StartStreaming(*assembly);
        }
        return Status::Ok();
      }
      const size_t piece_bytes = std::max<size_t>(1, options_.max_transaction_bytes / 4);
      if (assembly->rows.size() >= options_.max_apply_batch || assembly->bytes >= piece_bytes) {
        return SendStreamPiece(*assembly, WorkKind::kStreamPiece);
      }
      return Status::Ok();
    }
    case ChangeKind::kCommit: {
      if (!assembly) {
        return framing_error("a commit outside a transaction");
      }
      Assembly done = std::move(*assembly);
      assembly.reset();
      if (done.streaming) {
        return FinishStreaming(done, event);
      }
      return DispatchTransaction(std::move(done), event);
    }
    case ChangeKind::kDdl: {
      if (assembly) {
        return framing_error("a DDL statement inside a transaction");
      }
      std::vector<ChangeEvent> events;
      events.push_back(event);
      return DispatchBarrier(WorkKind::kDdl, std::move(events), event);
    }
    case ChangeKind::kHeartbeat: {
      if (assembly) {
        return Status::Ok();  // not a resume point while a transaction is open
      }
      {
        std::lock_guard lock(mu_);
        if (uncommitted_ != 0) {
          // The commits under way advance the checkpoint to their own positions only: keep it for
          // CheckpointIfQuiet, which records it once they have landed.
          kept_heartbeat_ = std::move(event);
          return Status::Ok();
        }
        Result<std::strong_ordering> order = Compare(event.position, watermark_position_);
        if (!order.ok() || *order == std::strong_ordering::less) {
          return Status::Ok();
        }
        // At the watermark: a checkpoint row is still due when transactions with nothing to apply
        // (tables not streamed) moved the watermark past the last row written. Without it the
        // target's checkpoint lags the source until new changes come (a cutover's drain waited
        // for PostgreSQL's next running-transactions record, up to 15 s).
        if (*order == std::strong_ordering::equal && watermark_ordinal_ <= recorded_ordinal_) {
          return Status::Ok();
        }
      }
      return DispatchBarrier(WorkKind::kCheckpointOnly, {}, event);
    }
  }
  return Internal("change event of unknown kind");
}

int ChangePipeline::LeastLoadedWorker() const {
  int best = 0;
  for (size_t worker = 1; worker < worker_load_.size(); ++worker) {
    if (worker_load_[worker] < worker_load_[best]) {
      best = static_cast<int>(worker);
    }
  }
  return best;
}

void ChangePipeline::PushWorkLocked(int worker, Work work) {
  inbox_[worker].push_back(std::move(work));
  metrics_->RecordInFlight(uncommitted_);
  metrics_->RecordBufferedBytes(pending_bytes_);
  changed_.notify_all();
}

Status ChangePipeline::DispatchTransaction(Assembly assembly, const ChangeEvent& commit) {
  assembly.writeset.Seal();
  InFlight record;
  record.position = commit.position;
  record.transaction_sequence = commit.transaction_sequence;
  record.source_commit_time_us = commit.source_commit_time_us;

  std::unique_lock lock(mu_);
  if (assembly.rows.empty()) {
    // Nothing to apply (a transaction on tables not replicated): done once all before it are.
    record.committed = true;
    in_flight_.emplace(next_ordinal_++, std::move(record));
    AdvanceWatermarkLocked();
    return Status::Ok();
  }
  const bool barrier = assembly.writeset.barrier();
  int worker = -1;
  TANDEM_RETURN_IF_ERROR(WaitLocked(lock, [&] {
    if (barrier) {
      return uncommitted_ == 0;
    }
    if (uncommitted_barriers_ > 0 || uncommitted_ >= options_.max_pending_transactions) {
      return false;
    }
    if (pending_bytes_ > 0 && pending_bytes_ + assembly.bytes > options_.max_pending_bytes) {
      return false;
    }
    // Every conflicting uncommitted transaction must sit on one worker, which then runs this one
    // after them; conflicts on two workers mean waiting until one of them commits.
    worker = -1;
    for (uint64_t hash : assembly.writeset.hashes()) {
      auto held = held_hashes_.find(hash);
      if (held == held_hashes_.end()) {
        continue;
      }
      if (worker == -1) {
        worker = held->second.worker;
      } else if (worker != held->second.worker) {
        return false;
      }
    }
    return true;
  }));
  if (worker == -1) {
    worker = LeastLoadedWorker();
  }
  const uint64_t ordinal = next_ordinal_++;
  record.worker = worker;
  record.barrier = barrier;
  record.hashes = assembly.writeset.hashes();
  for (uint64_t hash : record.hashes) {
    auto [held, inserted] = held_hashes_.try_emplace(hash, Holder{worker, 0});
    ++held->second.count;
  }
  in_flight_.emplace(ordinal, std::move(record));
  ++uncommitted_;
  uncommitted_barriers_ += barrier ? 1 : 0;
  ++worker_load_[worker];
  pending_bytes_ += assembly.bytes;
  PushWorkLocked(worker,
                 Work{WorkKind::kTransaction, ordinal, std::move(assembly.rows), assembly.bytes});
  return Status::Ok();
}

Status ChangePipeline::DispatchBarrier(WorkKind kind, std::vector<ChangeEvent> events,
                                       const ChangeEvent& at) {
  std::unique_lock lock(mu_);
  TANDEM_RETURN_IF_ERROR(WaitLocked(lock, [&] { return uncommitted_ == 0; }));
  const int worker = LeastLoadedWorker();
  const uint64_t ordinal = next_ordinal_++;
  InFlight record;
  record.worker = worker;
  // A DDL holds everything after it back; a heartbeat checkpoint changes no row and holds nothing.
  record.barrier = kind == WorkKind::kDdl;
  record.position = at.position;
  record.transaction_sequence =
      kind == WorkKind::kDdl ? at.transaction_sequence : watermark_sequence_;
  record.source_commit_time_us = at.source_commit_time_us;
  in_flight_.emplace(ordinal, std::move(record));
  ++uncommitted_;
  uncommitted_barriers_ += kind == WorkKind::kDdl ? 1 : 0;
  ++worker_load_[worker];
  PushWorkLocked(worker, Work{kind, ordinal, std::move(events), 0});
  return Status::Ok();
}

Status ChangePipeline::StartStreaming(Assembly& assembly) {
  {
    std::unique_lock lock(mu_);
    TANDEM_RETURN_IF_ERROR(WaitLocked(lock, [&] { return uncommitted_ == 0; }));
    assembly.streaming = true;
    assembly.stream_worker = LeastLoadedWorker();
    assembly.stream_ordinal = next_ordinal_++;
    InFlight record;
    record.worker = assembly.stream_worker;
    record.barrier = true;  // serial: nothing is dispatched until it commits
    in_flight_.emplace(assembly.stream_ordinal, std::move(record));
    ++uncommitted_;
    ++uncommitted_barriers_;
    ++worker_load_[assembly.stream_worker];
  }
  metrics_->RecordStreamedTransaction();
  return SendStreamPiece(assembly, WorkKind::kStreamBegin);
}

Status ChangePipeline::SendStreamPiece(Assembly& assembly, WorkKind kind) {
  std::unique_lock lock(mu_);
  // At most about max_transaction_bytes handed over and not yet applied.
  TANDEM_RETURN_IF_ERROR(WaitLocked(lock, [&] {
    return pending_bytes_ == 0 || pending_bytes_ + assembly.bytes <= options_.max_transaction_bytes;
  }));
  pending_bytes_ += assembly.bytes;
  PushWorkLocked(assembly.stream_worker, Work{kind, 0, std::move(assembly.rows), assembly.bytes});
  assembly.rows.clear();
  assembly.bytes = 0;
  return Status::Ok();
}

Status ChangePipeline::FinishStreaming(Assembly& assembly, const ChangeEvent& commit) {
  if (!assembly.rows.empty()) {
    TANDEM_RETURN_IF_ERROR(SendStreamPiece(assembly, WorkKind::kStreamPiece));
  }
  std::lock_guard lock(mu_);
  InFlight& record = in_flight_.at(assembly.stream_ordinal);
  record.position = commit.position;
  record.transaction_sequence = commit.transaction_sequence;
  record.source_commit_time_us = commit.source_commit_time_us;
  PushWorkLocked(assembly.stream_worker,
                 Work{WorkKind::kStreamCommit, assembly.stream_ordinal, {}, 0});
  return Status::Ok();
}

Status ChangePipeline::WaitUntilIdle() {
  std::unique_lock lock(mu_);
  return WaitLocked(lock, [&] { return uncommitted_ == 0; });
}

void ChangePipeline::AdvanceWatermarkLocked() {
  bool advanced = false;
  while (!in_flight_.empty() && in_flight_.begin()->second.committed) {
    const InFlight& done = in_flight_.begin()->second;
    watermark_position_ = done.position;
    watermark_sequence_ = done.transaction_sequence;
    if (done.source_commit_time_us != 0) {
      watermark_commit_time_us_ = done.source_commit_time_us;
    }
    watermark_ordinal_ = in_flight_.begin()->first;
    in_flight_.erase(in_flight_.begin());
    advanced = true;
  }
  if (advanced) {
    metrics_->RecordApplied(watermark_position_, watermark_sequence_, watermark_commit_time_us_);
    stream_->Acknowledge(watermark_position_);
  }
}

// ---------------------------------------------------------------------------------------------
// Worker threads.

Checkpoint ChangePipeline::CheckpointCounting(int worker, const std::vector<uint64_t>& ordinals,
                                              uint64_t* covered) {
  Checkpoint checkpoint;
  checkpoint.stream = WorkerStreamName(options_.stream_name, worker);
  std::lock_guard lock(mu_);
  checkpoint.position = watermark_position_;
  checkpoint.transaction_sequence = watermark_sequence_;
  *covered = watermark_ordinal_;
  // in_flight_ is ordered by ordinal and starts right after the watermark: extend the watermark
  // over everything committed or about to commit with this target transaction.
  for (const auto& [ordinal, record] : in_flight_) {
    if (!record.committed && !std::binary_search(ordinals.begin(), ordinals.end(), ordinal)) {
      break;
    }
    checkpoint.position = record.position;
    checkpoint.transaction_sequence = record.transaction_sequence;
    *covered = ordinal;
  }
  return checkpoint;
}

void ChangePipeline::MarkCommitted(int worker, const std::vector<uint64_t>& ordinals, size_t bytes,
                                   uint64_t covered) {
  std::lock_guard lock(mu_);
  last_commit_at_ = std::chrono::steady_clock::now();
  recorded_ordinal_ = std::max(recorded_ordinal_, covered);
  for (uint64_t ordinal : ordinals) {
    InFlight& record = in_flight_.at(ordinal);
    record.committed = true;
    for (uint64_t hash : record.hashes) {
      auto held = held_hashes_.find(hash);
      if (--held->second.count == 0) {
        held_hashes_.erase(held);
      }
    }
    record.hashes.clear();
    --uncommitted_;
    uncommitted_barriers_ -= record.barrier ? 1 : 0;
    --worker_load_[worker];
  }
  pending_bytes_ -= bytes;
  AdvanceWatermarkLocked();
  metrics_->RecordInFlight(uncommitted_);
  changed_.notify_all();
}

Status ChangePipeline::ApplyRows(ChangeApplier& applier, std::span<const ChangeEvent> rows) {
  for (size_t start = 0; start < rows.size(); start += options_.max_apply_batch) {
    const size_t count = std::min(options_.max_apply_batch, rows.size() - start);
    TANDEM_RETURN_IF_ERROR(applier.Apply(rows.subspan(start, count)));
  }
  return Status::Ok();
}

void ChangePipeline::WorkerLoop(int worker) {
  ChangeApplier& applier = *appliers_[worker];
  bool stream_open = false;  // a streamed transaction's target transaction is open
  int64_t stream_rows = 0;   // rows applied into it so far
  uint64_t covered = 0;      // the ordinal the checkpoint being committed reaches
  auto fail = [&](const Status& status) {
    if (stream_open) {
      (void)applier.Rollback();  // best effort: the error being reported matters more
      stream_open = false;
    }
    Fail(status.WithContext("applier worker " + std::to_string(worker) + " of stream " +
                            options_.stream_name));
  };
  for (;;) {
    std::vector<Work> batch;
    {
      std::unique_lock lock(mu_);
      changed_.wait_for(lock, options_.poll_interval,
                        [&] { return stopping_ || StopRequested() || !inbox_[worker].empty(); });
      if (stopping_ || StopRequested()) {
        break;
      }
      if (inbox_[worker].empty()) {
        continue;
      }
      std::deque<Work>& inbox = inbox_[worker];
      batch.push_back(std::move(inbox.front()));
      inbox.pop_front();
      if (batch.front().kind == WorkKind::kTransaction) {
        // Group what is queued behind it: the stream is ahead of this worker.
        size_t bytes = batch.front().bytes;
        while (!inbox.empty() && inbox.front().kind == WorkKind::kTransaction &&
               batch.size() < options_.max_group_transactions &&
               bytes + inbox.front().bytes <= options_.max_group_bytes) {
          bytes += inbox.front().bytes;
          batch.push_back(std::move(inbox.front()));
          inbox.pop_front();
        }
      }
    }

    Work& first = batch.front();
    switch (first.kind) {
      case WorkKind::kTransaction: {
        std::vector<uint64_t> ordinals;
        std::vector<ChangeEvent> rows;
        size_t bytes = 0;
        for (Work& work : batch) {
          ordinals.push_back(work.ordinal);
          bytes += work.bytes;
          if (rows.empty()) {
            rows = std::move(work.events);
          } else {
            std::move(work.events.begin(), work.events.end(), std::back_inserter(rows));
          }
        }
        Status status = applier.Begin();
        if (status.ok()) {
          status = ApplyRows(applier, rows);
          if (!status.ok()) {
            (void)applier.Rollback();  // best effort; the apply error is what is reported
          }
        }
        if (status.ok()) {
          Checkpoint checkpoint = CheckpointCounting(worker, ordinals, &covered);
          checkpoint.events_applied =
              worker_events_applied_[worker] + static_cast<int64_t>(rows.size());
          status = applier.Commit(checkpoint);
        }
        if (!status.ok()) {
          fail(status);
          return;
        }
        worker_events_applied_[worker] += static_cast<int64_t>(rows.size());
        MarkCommitted(worker, ordinals, bytes, covered);
        metrics_->RecordCommit(static_cast<int64_t>(batch.size()),
                               static_cast<int64_t>(rows.size()));
        break;
      }
      case WorkKind::kCheckpointOnly: {
        Checkpoint checkpoint = CheckpointCounting(worker, {first.ordinal}, &covered);
        checkpoint.events_applied = worker_events_applied_[worker];
        Status status = applier.Begin();
        if (status.ok()) {
          status = applier.Commit(checkpoint);
        }
        if (!status.ok()) {
          fail(status);
          return;
        }
        MarkCommitted(worker, {first.ordinal}, 0, covered);
        metrics_->RecordCommit(0, 0);
        metrics_->RecordHeartbeatCheckpoint();
        break;
      }
      case WorkKind::kDdl: {
        Checkpoint checkpoint = CheckpointCounting(worker, {first.ordinal}, &covered);
        checkpoint.events_applied = worker_events_applied_[worker];
        Status status = applier.ApplyDdl(first.events.front(), checkpoint);
        if (!status.ok()) {
          fail(status);
          return;
        }
        MarkCommitted(worker, {first.ordinal}, 0, covered);
        metrics_->RecordCommit(1, 0);
        metrics_->RecordDdl();
        break;
      }
      case WorkKind::kStreamBegin:
      case WorkKind::kStreamPiece: {
        Status status = Status::Ok();
        if (first.kind == WorkKind::kStreamBegin) {
          status = applier.Begin();
          stream_open = status.ok();
          stream_rows = 0;
        }
        if (status.ok()) {
          status = ApplyRows(applier, first.events);
        }
        if (!status.ok()) {
          fail(status);
          return;
        }
        stream_rows += static_cast<int64_t>(first.events.size());
        std::vector<ChangeEvent>().swap(first.events);  // free the piece before accounting it
        std::lock_guard lock(mu_);
        pending_bytes_ -= first.bytes;
        changed_.notify_all();
        break;
      }
      case WorkKind::kStreamCommit: {
        Checkpoint checkpoint = CheckpointCounting(worker, {first.ordinal}, &covered);
        checkpoint.events_applied = worker_events_applied_[worker] + stream_rows;
        Status status = applier.Commit(checkpoint);
        stream_open = false;  // committed, or rolled back by the failed Commit
        if (!status.ok()) {
          fail(status);
          return;
        }
        worker_events_applied_[worker] += stream_rows;
        MarkCommitted(worker, {first.ordinal}, 0, covered);
        metrics_->RecordCommit(1, stream_rows);
        break;
      }
    }
  }
  if (stream_open) {
    (void)applier.Rollback();  // stopped mid-way through a streamed transaction
  }
}

// ---------------------------------------------------------------------------------------------

Status RunWithReconnect(const PipelineOptions& options, const ReconnectOptions& reconnect,
                        const ChangeStreamFactory& open_stream,
                        const ChangeApplierFactory& open_applier) {
  PipelineMetrics own_metrics;
  PipelineOptions run_options = options;
  if (run_options.metrics == nullptr) {
    run_options.metrics = &own_metrics;
  }
  auto stop_requested = [&] { return options.stop_flag != nullptr && options.stop_flag->load(); };
  std::chrono::milliseconds backoff = reconnect.initial_backoff;
  int failures = 0;
  for (;;) {
    if (stop_requested()) {
      return Status::Ok();
    }
    const int64_t commits_before = run_options.metrics->Snapshot().target_commits;
    Status attempt = [&]() -> Status {
      std::vector<std::unique_ptr<ChangeApplier>> appliers;
      for (int worker = 0; worker < options.workers; ++worker) {
        Result<std::unique_ptr<ChangeApplier>> applier = open_applier(worker);
        if (!applier.ok()) {
          return applier.status().WithContext("opening applier " + std::to_string(worker));
        }
        appliers.push_back(std::move(*applier));
      }
      if (appliers.empty() || appliers.front() == nullptr) {
        return InvalidArgument("pipeline workers must be at least 1");
      }
      TANDEM_ASSIGN_OR_RETURN(std::optional<Checkpoint> resume,
                              ReadResumePosition(*appliers.front(), options.stream_name));
      Result<std::unique_ptr<ChangeStream>> stream = open_stream(resume);
      if (!stream.ok()) {
        return stream.status().WithContext("opening the change stream");
      }
      ChangePipeline pipeline(run_options, std::move(*stream), std::move(appliers));
      return pipeline.Run();
    }();
    if (attempt.ok() || !attempt.retryable()) {
      return attempt;
    }
    if (run_options.metrics->Snapshot().target_commits > commits_before) {
      failures = 0;
      backoff = reconnect.initial_backoff;
    }
    ++failures;
    if (reconnect.max_consecutive_failures > 0 && failures >= reconnect.max_consecutive_failures) {
      return attempt.WithContext("giving up after " + std::to_string(failures) +
                                 " consecutive failed attempts");
    }
    if (reconnect.on_retry) {
      reconnect.on_retry(attempt, backoff);
    }
    const auto wake = std::chrono::steady_clock::now() + backoff;
    while (std::chrono::steady_clock::now() < wake && !stop_requested()) {
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
          options.poll_interval, std::chrono::duration_cast<std::chrono::milliseconds>(
                                     wake - std::chrono::steady_clock::now()) +
                                     std::chrono::milliseconds(1)));
    }
    backoff = std::min(backoff * 2, reconnect.max_backoff);
  }
}

}  // namespace tandem::engine
