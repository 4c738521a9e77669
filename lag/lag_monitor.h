// File: lag/lag_monitor.h
//
// LagMonitor: measures end-to-end replication lag with heartbeats, continuously, until stopped.
//
//   writer thread    every `interval`, takes the next sequence from the ledger, stamped with the
//                    monotonic clock just before the write is issued, and writes it on the source
//                    (engine::HeartbeatWriter, its own connection)
//   observer thread  reads the target's newest sequence (engine::HeartbeatReader, its own
//                    connection) as fast as a round trip allows, but starts two reads no closer
//                    than `poll_interval` apart; each newly visible sequence becomes a sample
//                    (lag/heartbeat_ledger.h explains the attribution and its error bound)
//   probe thread     every `position_interval`, reads the positional lag
//                    (engine::ReplicationProbe, its own connections); optional
//
// Both ends are timed by the same process's steady clock, so the lag does not depend on the
// hosts' clocks (lag/lag_clock.h). Memory is bounded: the ledger holds at most `max_unseen`
// send times and the statistics are fixed-size histograms.
//
// Failure: a transient refusal (kUnavailable: a lock wait, a hot standby's recovery conflict) is
// counted and the next beat or read tries again, up to 100 in a row. Any other error of the
// writer or the observer stops the measurement (the connections'
// timeouts bound every call, so a dead server surfaces as an error, never as a hang) and shows in
// Snapshot().error. A probe error only shows in Snapshot().positional_error; probing goes on
// after a retryable error (a connection blip) and ends after a permanent one (the target is no
// replica of the source, a privilege is missing, the engine cannot tell).
//
// Thread safety: Snapshot(), WaitForStop() and Stop() are safe for concurrent use from any thread.
// Stop() returns once the three threads have exited, which takes at most one in-flight server
// call (bounded by the connections' read timeouts); the waits between calls end at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/heartbeat.h"
#include "engine/status.h"
#include "lag/heartbeat_ledger.h"
#include "lag/lag_clock.h"
#include "lag/lag_snapshot.h"
#include "lag/latency_histogram.h"
#include "lag/sliding_histogram.h"

namespace tandem::lag {

struct LagMonitorOptions {
  // Between two heartbeat writes (`tandem lag --interval`, default 10 ms).
  std::chrono::nanoseconds interval = std::chrono::milliseconds(10);
  // The least time between the starts of two target reads: bounds the load the observer puts on
  // the target (about 1 / poll_interval primary-key reads per second) and, with the round trip,
  // the measurement error (about half of poll period + round trip). Default 0.5 ms.
  std::chrono::nanoseconds poll_interval = std::chrono::microseconds(500);
  // The sliding window of the p50/p90/p99/max that gates use, and its resolution. Default 10 s
  // in 10 slots of 1 s.
  std::chrono::nanoseconds window = std::chrono::seconds(10);
  int window_slots = 10;
  // At most this many heartbeats may be unseen; beyond it the writer skips beats (counted in
  // beats_skipped) until the target catches up. Default 65536 (11 minutes at 10 ms).
  size_t max_unseen = 65536;
  // A heartbeat pending this long with nothing arriving meanwhile counts as "stopped arriving".
  // Zero means max(1 s, 20 * interval).
  std::chrono::nanoseconds stall_after{0};
  // Between two positional readings; default 1 s. Ignored without a probe.
  std::chrono::nanoseconds position_interval = std::chrono::seconds(1);
};

// How LagMonitor::Open reaches the servers: tools/ passes functions that dispatch on the engine
// (tools/heartbeat_opener.h), so lag/ depends on no connector. `probe` may be empty.
struct LagPortOpeners {
  engine::HeartbeatWriterOpener writer;
  engine::HeartbeatReaderOpener reader;
  engine::ReplicationProbeOpener probe;
};

class LagMonitor {
 public:
  // Picks a fresh writer id (lag/writer_id.h), opens the writer on `source`, the reader on
  // `target` and, when it can, the probe on both, then Start()s. A probe that cannot be opened
  // (different engines, no privilege) leaves the measurement without positional lag and its
  // reason in Snapshot().positional_error.
  // Errors: those of the writer and reader openers (with "source" / "target" context) and Start.
  static engine::Result<std::unique_ptr<LagMonitor>> Open(const engine::ConnectionConfig& source,
                                                          const engine::ConnectionConfig& target,
                                                          const LagPortOpeners& openers,
                                                          const LagMonitorOptions& options);

  // Prepares the heartbeat on both sides (writer->Prepare(), reader->Prepare(), on the calling
  // thread) and starts the threads, which take the ports over. `probe` may be null (no positional
  // lag). REQUIRES: writer and reader opened for the same `writer_id`; options.interval > 0,
  // options.poll_interval >= 0, options.window_slots >= 1, options.window >= window_slots ns,
  // options.max_unseen > 0.
  // Errors: kInvalidArgument for bad options; else what Prepare returned, with context.
  static engine::Result<std::unique_ptr<LagMonitor>> Start(
      engine::HeartbeatWriterId writer_id, std::unique_ptr<engine::HeartbeatWriter> writer,
      std::unique_ptr<engine::HeartbeatReader> reader,
      std::unique_ptr<engine::ReplicationProbe> probe, const LagMonitorOptions& options);

  // Stops (see Stop()).
  ~LagMonitor();

  LagMonitor(const LagMonitor&) = delete;
  LagMonitor& operator=(const LagMonitor&) = delete;

  // The figures now.
  LagSnapshot Snapshot() const;

  // Waits up to `timeout` for the monitor to stop (Stop() called, or an error). Returns whether
  // it has stopped. Lets a caller sleep between snapshots yet learn of an error at once.
  bool WaitForStop(std::chrono::nanoseconds timeout) const;

  // Ends the measurement: wakes the threads and joins them; the writer thread deletes this
  // writer's heartbeat record on the source before it exits (unless writing had failed).
  // Idempotent.
  void Stop();

 private:
  LagMonitor(engine::HeartbeatWriterId writer_id, std::unique_ptr<engine::HeartbeatWriter> writer,
             std::unique_ptr<engine::HeartbeatReader> reader,
             std::unique_ptr<engine::ReplicationProbe> probe, const LagMonitorOptions& options);

  void RunWriter();
  void RunObserver();
  void RunProbe();

  // Records `status` as the monitor's error (the first one wins) and stops every thread.
  void Fail(const engine::Status& status);
  // Waits on cv_ until `deadline` or a stop request. Returns false when stopping.
  bool SleepUntil(LagTime deadline);

  // Constant after construction.
  const engine::HeartbeatWriterId writer_id_;
  const LagMonitorOptions options_;
  const std::string source_description_;
  const std::string target_description_;
  const LagTime started_;

  // Owned by the writer thread.
  std::unique_ptr<engine::HeartbeatWriter> writer_;
  // Owned by the observer thread.
  std::unique_ptr<engine::HeartbeatReader> reader_;
  // Owned by the probe thread (null: no probe thread).
  std::unique_ptr<engine::ReplicationProbe> probe_;

  // Safe for concurrent use by itself.
  HeartbeatLedger ledger_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // signalled when stop_requested_ becomes true
  bool stop_requested_ = false;         // guarded by mu_
  engine::Status error_;                // guarded by mu_
  // Statistics, guarded by mu_.
  LatencyHistogram overall_;
  SlidingHistogram window_;
  LatencyHistogram error_bounds_;
  LatencyHistogram write_times_;
  std::chrono::nanoseconds last_lag_{0};
  uint64_t beats_skipped_ = 0;
  uint64_t transient_errors_ = 0;
  uint64_t polls_ = 0;
  std::chrono::nanoseconds poll_period_total_{0};  // sum over polls_ - 1 gaps
  std::chrono::nanoseconds read_time_total_{0};    // sum over polls_ reads
  std::optional<engine::PositionalLag> positional_;
  std::string positional_error_;

  std::mutex stop_mu_;   // serialises Stop()
  bool joined_ = false;  // guarded by stop_mu_
  std::thread writer_thread_;
  std::thread observer_thread_;
  std::thread probe_thread_;
};

}  // namespace tandem::lag
