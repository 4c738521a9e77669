#include "engine/pipeline_metrics.h"

#include <algorithm>

namespace tandem::engine {

int64_t PipelineMetrics::SystemClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PipelineMetricsSnapshot PipelineMetrics::Snapshot() const {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  PipelineMetricsSnapshot snapshot = values_;
  // The rate is that of the last complete window; a window that ended long ago means idle.
  if (window_start_us_ == 0 || now - window_start_us_ >= 2 * kRateWindowUs) {
    snapshot.events_per_second = 0;
  }
  if (snapshot.queue_depth == 0 && snapshot.in_flight_transactions == 0) {
    snapshot.lag_us = 0;
  } else if (snapshot.applied_source_commit_time_us == 0) {
    snapshot.lag_us = -1;
  } else {
    snapshot.lag_us = std::max<int64_t>(0, now - snapshot.applied_source_commit_time_us);
  }
  return snapshot;
}

void PipelineMetrics::RecordEventsRead(int64_t count) {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  values_.events_read += count;
  if (window_start_us_ == 0) {
    window_start_us_ = now;
  }
  window_events_ += count;
  const int64_t elapsed = now - window_start_us_;
  if (elapsed >= kRateWindowUs) {
    values_.events_per_second = static_cast<double>(window_events_) * 1e6 / elapsed;
    window_start_us_ = now;
    window_events_ = 0;
  }
}

void PipelineMetrics::RecordQueue(size_t depth, size_t bytes) {
  std::lock_guard lock(mu_);
  values_.queue_depth = depth;
  values_.queue_bytes = bytes;
}

void PipelineMetrics::RecordInFlight(size_t transactions) {
  std::lock_guard lock(mu_);
  values_.in_flight_transactions = transactions;
}

void PipelineMetrics::RecordBufferedBytes(size_t bytes) {
  std::lock_guard lock(mu_);
  values_.peak_buffered_bytes = std::max(values_.peak_buffered_bytes, bytes);
}

void PipelineMetrics::RecordCommit(int64_t transactions, int64_t rows) {
  std::lock_guard lock(mu_);
  values_.transactions_applied += transactions;
  values_.rows_applied += rows;
  ++values_.target_commits;
}

void PipelineMetrics::RecordStreamedTransaction() {
  std::lock_guard lock(mu_);
  ++values_.streamed_transactions;
}

void PipelineMetrics::RecordDdl() {
  std::lock_guard lock(mu_);
  ++values_.ddl_applied;
}

void PipelineMetrics::RecordHeartbeatCheckpoint() {
  std::lock_guard lock(mu_);
  ++values_.heartbeat_checkpoints;
}

void PipelineMetrics::RecordApplied(const Position& position, uint64_t transaction_sequence,
                                    int64_t source_commit_time_us) {
  std::lock_guard lock(mu_);
  values_.applied_position = position;
  values_.applied_transaction_sequence = transaction_sequence;
  if (source_commit_time_us != 0) {
    values_.applied_source_commit_time_us = source_commit_time_us;
  }
}

}  // namespace tandem::engine
