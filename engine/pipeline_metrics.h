// File: engine/pipeline_metrics.h
//
// PipelineMetrics: what a running change pipeline reports for `tandem sync --metrics-port`,
// `tandem lag` and the orchestrator's gates: events read per second, transactions and rows
// applied, the reader queue's depth, the applied position (the checkpoint low watermark, see
// engine/change_pipeline.h) and the lag behind the source's commit clock.
//
// Thread safety: safe for concurrent use. The pipeline's threads record; any thread may call
// Snapshot() at any time and gets one consistent view (all fields read under one mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

#include "engine/position.h"

namespace tandem::engine {

struct PipelineMetricsSnapshot {
  int64_t events_read = 0;            // events taken from the ChangeStream (all kinds)
  double events_per_second = 0;       // events read over the last complete second; 0 when idle
  int64_t transactions_applied = 0;   // source transactions committed on the target
  int64_t rows_applied = 0;           // row changes committed on the target
  int64_t target_commits = 0;         // target transactions (one per group, DDL or checkpoint)
  int64_t streamed_transactions = 0;  // transactions too large to buffer, streamed in pieces
  int64_t ddl_applied = 0;
  int64_t heartbeat_checkpoints = 0;  // checkpoints written for idle-stream heartbeats
  size_t queue_depth = 0;             // events waiting between the reader and the scheduler
  size_t queue_bytes = 0;
  size_t in_flight_transactions = 0;  // dispatched to workers, not yet committed
  // The most bytes of events the scheduler and workers held at once outside the reader queue.
  size_t peak_buffered_bytes = 0;
  // The low watermark: every source transaction up to here is committed on the target.
  Position applied_position;
  uint64_t applied_transaction_sequence = 0;
  // The source commit time of the transaction at the applied position (µs since the epoch, UTC);
  // 0 when unknown.
  int64_t applied_source_commit_time_us = 0;
  // now - applied_source_commit_time_us while anything is queued or in flight, 0 when caught up,
  // -1 when the commit time is unknown. Source and tandem clocks differ: for gates use the
  // heartbeat-measured lag (lag/), this is the cheap running estimate.
  int64_t lag_us = 0;
};

class PipelineMetrics {
 public:
  using Clock = std::function<int64_t()>;  // wall clock, µs since the epoch

  // Microseconds since the Unix epoch from std::chrono::system_clock.
  static int64_t SystemClockMicros();

  explicit PipelineMetrics(Clock clock = SystemClockMicros) : clock_(std::move(clock)) {}
  PipelineMetrics(const PipelineMetrics&) = delete;
  PipelineMetrics& operator=(const PipelineMetrics&) = delete;

  PipelineMetricsSnapshot Snapshot() const;

  // Recording, by the pipeline's threads.
  void RecordEventsRead(int64_t count);
  void RecordQueue(size_t depth, size_t bytes);
  void RecordInFlight(size_t transactions);
  void RecordBufferedBytes(size_t bytes);
  void RecordCommit(int64_t transactions, int64_t rows);
  void RecordStreamedTransaction();
  void RecordDdl();
  void RecordHeartbeatCheckpoint();
  void RecordApplied(const Position& position, uint64_t transaction_sequence,
                     int64_t source_commit_time_us);

 private:
  static constexpr int64_t kRateWindowUs = 1'000'000;

  const Clock clock_;  // constant after construction

  mutable std::mutex mu_;
  // Guarded by mu_.
  PipelineMetricsSnapshot values_;
  int64_t window_start_us_ = 0;
  int64_t window_events_ = 0;
};

}  // namespace tandem::engine
