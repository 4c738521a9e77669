#include "lag/lag_monitor.h"

#include <algorithm>
#include <utility>

#include "lag/writer_id.h"

namespace tandem::lag {
namespace {

// Transient refusals (kUnavailable) in a row that a thread rides out before giving up.
constexpr int kMaxConsecutiveRefusals = 100;

std::chrono::microseconds ToMicros(std::chrono::nanoseconds duration) {
  return std::chrono::duration_cast<std::chrono::microseconds>(duration);
}

}  // namespace

engine::Result<std::unique_ptr<LagMonitor>> LagMonitor::Start(
    engine::HeartbeatWriterId writer_id, std::unique_ptr<engine::HeartbeatWriter> writer,
    std::unique_ptr<engine::HeartbeatReader> reader,
    std::unique_ptr<engine::ReplicationProbe> probe, const LagMonitorOptions& options) {
  if (options.interval.count() <= 0) {
    return engine::InvalidArgument("the heartbeat interval must be positive");
  }
  if (options.poll_interval.count() < 0) {
    return engine::InvalidArgument("the poll interval must not be negative");
  }
  if (options.window_slots < 1 || options.window.count() < options.window_slots) {
    return engine::InvalidArgument("the lag window must be positive and hold at least one slot");
  }
  if (options.max_unseen == 0) {
    return engine::InvalidArgument("max_unseen must be positive");
  }
  if (writer == nullptr || reader == nullptr) {
    return engine::InvalidArgument("a lag monitor needs a heartbeat writer and a reader");
  }
  TANDEM_RETURN_IF_ERROR_CONTEXT(writer->Prepare(),
                                 "preparing the heartbeat on the source " + writer->Describe());
  TANDEM_RETURN_IF_ERROR_CONTEXT(reader->Prepare(),
                                 "preparing the heartbeat on the target " + reader->Describe());
  std::unique_ptr<LagMonitor> monitor(
      new LagMonitor(writer_id, std::move(writer), std::move(reader), std::move(probe), options));
  // The observer starts first so that its first read precedes the first write: every sample then
  // has a previous read to bound it from below.
  monitor->observer_thread_ = std::thread([raw = monitor.get()] { raw->RunObserver(); });
  monitor->writer_thread_ = std::thread([raw = monitor.get()] { raw->RunWriter(); });
  if (monitor->probe_ != nullptr) {
    monitor->probe_thread_ = std::thread([raw = monitor.get()] { raw->RunProbe(); });
  }
  return monitor;
}

engine::Result<std::unique_ptr<LagMonitor>> LagMonitor::Open(const engine::ConnectionConfig& source,
                                                             const engine::ConnectionConfig& target,
                                                             const LagPortOpeners& openers,
                                                             const LagMonitorOptions& options) {
  const engine::HeartbeatWriterId writer_id = NewWriterId();
  auto writer = openers.writer(source, writer_id);
  if (!writer.ok()) {
    return writer.status().WithContext("source");
  }
  auto reader = openers.reader(target, writer_id);
  if (!reader.ok()) {
    return reader.status().WithContext("target");
  }
  std::unique_ptr<engine::ReplicationProbe> probe;
  std::string probe_error;
  if (openers.probe) {
    auto opened = openers.probe(source, target);
    if (opened.ok()) {
      probe = std::move(*opened);
    } else {
      probe_error = opened.status().message();
    }
  } else {
    probe_error = "no positional lag for this pair";
  }
  TANDEM_ASSIGN_OR_RETURN(auto monitor, Start(writer_id, std::move(*writer), std::move(*reader),
                                              std::move(probe), options));
  if (!probe_error.empty()) {
    std::lock_guard<std::mutex> lock(monitor->mu_);
    monitor->positional_error_ = probe_error;
  }
  return monitor;
}

LagMonitor::LagMonitor(engine::HeartbeatWriterId writer_id,
                       std::unique_ptr<engine::HeartbeatWriter> writer,
                       std::unique_ptr<engine::HeartbeatReader> reader,
                       std::unique_ptr<engine::ReplicationProbe> probe,
                       const LagMonitorOptions& options)
    : writer_id_(writer_id),
      options_([&] {
        LagMonitorOptions resolved = options;
        if (resolved.stall_after.count() <= 0) {
          resolved.stall_after =
              std::max<std::chrono::nanoseconds>(std::chrono::seconds(1), 20 * options.interval);
        }
        return resolved;
      }()),
      source_description_(writer->Describe()),
      target_description_(reader->Describe()),
      started_(LagClock::now()),
      writer_(std::move(writer)),
      reader_(std::move(reader)),
      probe_(std::move(probe)),
      ledger_(options.max_unseen),
      window_(options.window, options.window_slots) {}

LagMonitor::~LagMonitor() { Stop(); }

void LagMonitor::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (joined_) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
  }
  cv_.notify_all();
  for (std::thread* thread : {&writer_thread_, &observer_thread_, &probe_thread_}) {
    if (thread->joinable()) {
      thread->join();
    }
  }
  joined_ = true;
}

bool LagMonitor::WaitForStop(std::chrono::nanoseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return stop_requested_; });
}

void LagMonitor::Fail(const engine::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) {
      error_ = status;
    }
    stop_requested_ = true;
  }
  cv_.notify_all();
}

bool LagMonitor::SleepUntil(LagTime deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [this] { return stop_requested_; });
  return !stop_requested_;
}

void LagMonitor::RunWriter() {
  LagTime next = LagClock::now();
  bool failed = false;
  int consecutive_refusals = 0;
  while (SleepUntil(next)) {
    const LagTime sent = LagClock::now();
    const std::optional<int64_t> sequence = ledger_.Issue(sent);
    if (!sequence) {
      std::lock_guard<std::mutex> lock(mu_);
      ++beats_skipped_;
    } else {
      engine::Status status = writer_->Write(
          {*sequence,
           std::chrono::duration_cast<std::chrono::nanoseconds>(sent.time_since_epoch()).count()});
      if (status.code() == engine::StatusCode::kUnavailable &&
          ++consecutive_refusals <= kMaxConsecutiveRefusals) {
        // A transient refusal (a lock wait, too many connections): the next beat tries again, and
        // when it lands this sequence is attributed the lag of the next one, an upper bound.
        std::lock_guard<std::mutex> lock(mu_);
        ++transient_errors_;
      } else if (!status.ok()) {
        failed = true;
        Fail(status.WithContext("writing heartbeat " + std::to_string(*sequence) +
                                " on the source " + source_description_));
        break;
      } else {
        consecutive_refusals = 0;
        const auto write_time = LagClock::now() - sent;
        std::lock_guard<std::mutex> lock(mu_);
        write_times_.Record(ToMicros(write_time));
      }
    }
    // Keep the schedule, but after a write slower than the interval start afresh rather than
    // writing a burst to catch up.
    next += options_.interval;
    const LagTime now = LagClock::now();
    if (next < now) {
      next = now;
    }
  }
  if (!failed) {
    // Best effort: a record left behind is removed by the next writer's Prepare after an hour.
    (void)writer_->Remove();
  }
}

void LagMonitor::RunObserver() {
  std::optional<LagTime> previous_start;
  LagTime start = LagClock::now();
  int consecutive_refusals = 0;
  for (;;) {
    auto visible = reader_->ReadSequence();
    const LagTime end = LagClock::now();
    if (visible.status().code() == engine::StatusCode::kUnavailable &&
        ++consecutive_refusals <= kMaxConsecutiveRefusals) {
      // A transient refusal (a hot standby cancelling the read for a recovery conflict): this read
      // saw nothing, so the next sample's window still starts at the previous read.
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++transient_errors_;
      }
      if (!SleepUntil(start + options_.poll_interval)) {
        return;
      }
      start = LagClock::now();
      continue;
    }
    consecutive_refusals = 0;
    if (!visible.ok()) {
      Fail(visible.status().WithContext("reading the heartbeat on the target " +
                                        target_description_));
      return;
    }
    std::vector<LagSample> samples;
    if (visible->has_value()) {
      auto observed = ledger_.Observe(**visible, previous_start, end);
      if (!observed.ok()) {
        Fail(observed.status().WithContext("target " + target_description_));
        return;
      }
      samples = std::move(*observed);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const LagSample& sample : samples) {
        overall_.Record(ToMicros(sample.lag));
        window_.Record(end, ToMicros(sample.lag));
        error_bounds_.Record(ToMicros(sample.error));
      }
      if (!samples.empty()) {
        last_lag_ = samples.back().lag;
      }
      if (previous_start) {
        poll_period_total_ += start - *previous_start;
      }
      read_time_total_ += end - start;
      ++polls_;
    }
    previous_start = start;
    if (!SleepUntil(start + options_.poll_interval)) {
      return;
    }
    start = LagClock::now();
  }
}

void LagMonitor::RunProbe() {
  do {
    auto reading = probe_->Read();
    std::lock_guard<std::mutex> lock(mu_);
    if (reading.ok()) {
      positional_ = std::move(*reading);
      positional_error_.clear();
      continue;
    }
    positional_.reset();
    positional_error_ = reading.status().message();
    if (!reading.status().retryable()) {
      return;  // not a replica, no privilege, unsupported: asking again will not change it
    }
  } while (SleepUntil(LagClock::now() + options_.position_interval));
}

LagSnapshot LagMonitor::Snapshot() const {
  const LagTime now = LagClock::now();
  const HeartbeatLedger::State state = ledger_.Snapshot();
  LagSnapshot snapshot;
  snapshot.writer_id = writer_id_;
  snapshot.source = source_description_;
  snapshot.target = target_description_;
  snapshot.elapsed = now - started_;
  snapshot.interval = options_.interval;
  snapshot.heartbeats_written = state.issued;
  snapshot.heartbeats_seen = state.seen;
  snapshot.regressions = state.regressions;
  snapshot.window_length = options_.window;
  snapshot.stall_after = options_.stall_after;
  const std::chrono::nanoseconds oldest_unseen_age =
      state.oldest_unseen_sent ? std::max<std::chrono::nanoseconds>(std::chrono::nanoseconds(0),
                                                                    now - *state.oldest_unseen_sent)
                               : std::chrono::nanoseconds(0);
  snapshot.oldest_unseen_age_ms = ToMillis(oldest_unseen_age);
  std::optional<std::chrono::nanoseconds> since_last_arrival;
  if (state.last_arrival) {
    since_last_arrival = now - *state.last_arrival;
    snapshot.since_last_arrival_ms = ToMillis(*since_last_arrival);
  }
  snapshot.stalled = oldest_unseen_age > options_.stall_after &&
                     (!since_last_arrival || *since_last_arrival > options_.stall_after);

  std::lock_guard<std::mutex> lock(mu_);
  snapshot.overall = LagSummary::Of(overall_);
  snapshot.window = LagSummary::Of(window_.Window(now));
  snapshot.last_lag_ms = ToMillis(last_lag_);
  snapshot.current_lag_ms = std::max(snapshot.last_lag_ms, snapshot.oldest_unseen_age_ms);
  snapshot.beats_skipped = beats_skipped_;
  snapshot.transient_errors = transient_errors_;
  snapshot.measurement_error_ms = static_cast<double>(error_bounds_.PercentileMicros(0.99)) / 1000;
  snapshot.measurement_error_p50_ms =
      static_cast<double>(error_bounds_.PercentileMicros(0.50)) / 1000;
  snapshot.max_measurement_error_ms = static_cast<double>(error_bounds_.max_micros()) / 1000;
  snapshot.polls = polls_;
  if (polls_ > 1) {
    snapshot.poll_period_ms = ToMillis(poll_period_total_) / static_cast<double>(polls_ - 1);
  }
  if (polls_ > 0) {
    snapshot.read_round_trip_ms = ToMillis(read_time_total_) / static_cast<double>(polls_);
  }
  snapshot.write_round_trip = LagSummary::Of(write_times_);
  snapshot.positional = positional_;
  snapshot.positional_error = positional_error_;
  snapshot.error = error_;
  return snapshot;
}

}  // namespace tandem::lag
