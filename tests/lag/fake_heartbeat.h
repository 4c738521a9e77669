// File: tests/lag/fake_heartbeat.h
//
// In-memory implementations of the heartbeat ports (engine/heartbeat.h) over a FakeReplication:
// a source and a target joined by a replication link with a configurable delay, which can be
// stopped and resumed, or never started. What the fake target shows is computed exactly from the
// commit times and the delay at the moment of each read, so the only timing noise in a test is
// the monitor's own (thread wake-ups, polling).
//
// Thread safety: FakeReplication is safe for concurrent use (the monitor's writer and observer
// threads share it); each fake port, like a real one, belongs to one thread at a time.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "engine/heartbeat.h"

namespace tandem::testing {

class FakeReplication {
 public:
  using Clock = std::chrono::steady_clock;

  void set_delay(std::chrono::nanoseconds delay) {
    std::lock_guard<std::mutex> lock(mu_);
    delay_ = delay;
  }
  // From now on nothing more becomes visible on the target.
  void StopReplication() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_at_ = Clock::now();
  }
  void ResumeReplication() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_at_.reset();
  }
  // The target was never linked to the source: nothing is ever visible.
  void Disconnect() { StopReplication(); }

  // Source side: `sequence` of `writer` committed now.
  void Commit(engine::HeartbeatWriterId writer, int64_t sequence) {
    std::lock_guard<std::mutex> lock(mu_);
    commits_[writer].push_back({Clock::now(), sequence});
    ++writes_;
  }
  void Delete(engine::HeartbeatWriterId writer) {
    std::lock_guard<std::mutex> lock(mu_);
    commits_.erase(writer);
    visible_.erase(writer);
    ++deletes_;
  }

  // Target side: the newest sequence of `writer` replicated by now.
  std::optional<int64_t> Visible(engine::HeartbeatWriterId writer) {
    std::lock_guard<std::mutex> lock(mu_);
    ++reads_;
    Clock::time_point horizon = Clock::now() - delay_;
    if (stopped_at_ && *stopped_at_ - delay_ < horizon) {
      horizon = *stopped_at_ - delay_;
    }
    auto& pending = commits_[writer];
    while (!pending.empty() && pending.front().first <= horizon) {
      visible_[writer] = pending.front().second;
      pending.pop_front();
    }
    auto found = visible_.find(writer);
    if (found == visible_.end()) {
      return std::nullopt;
    }
    return found->second;
  }

  int64_t writes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }
  int64_t reads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_;
  }
  int64_t deletes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deletes_;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::nanoseconds delay_{0};            // guarded by mu_
  std::optional<Clock::time_point> stopped_at_;  // guarded by mu_
  std::map<engine::HeartbeatWriterId, std::deque<std::pair<Clock::time_point, int64_t>>>
      commits_;                                           // guarded by mu_
  std::map<engine::HeartbeatWriterId, int64_t> visible_;  // guarded by mu_
  int64_t writes_ = 0;                                    // guarded by mu_
  int64_t reads_ = 0;                                     // guarded by mu_
  int64_t deletes_ = 0;                                   // guarded by mu_
};

class FakeHeartbeatWriter : public engine::HeartbeatWriter {
 public:
  FakeHeartbeatWriter(std::shared_ptr<FakeReplication> link, engine::HeartbeatWriterId id)
      : link_(std::move(link)), id_(id) {}

  // Set up by tests: Prepare returns this; Write fails with it after `writes_before_failure`.
  engine::Status prepare_status;
  std::optional<int64_t> writes_before_failure;
  engine::Status write_failure = engine::ConnectionFailed("fake source went away");

  engine::Status Prepare() override { return prepare_status; }
  engine::Status Write(const engine::Heartbeat& beat) override {
    if (writes_before_failure && writes_ >= *writes_before_failure) {
      return write_failure;
    }
    ++writes_;
    link_->Commit(id_, beat.sequence);
    return engine::Status::Ok();
  }
  engine::Status Remove() override {
    link_->Delete(id_);
    return engine::Status::Ok();
  }
  std::string Describe() const override { return "fake://source/_tandem.heartbeat"; }

 private:
  std::shared_ptr<FakeReplication> link_;
  engine::HeartbeatWriterId id_;
  int64_t writes_ = 0;
};

class FakeHeartbeatReader : public engine::HeartbeatReader {
 public:
  FakeHeartbeatReader(std::shared_ptr<FakeReplication> link, engine::HeartbeatWriterId id)
      : link_(std::move(link)), id_(id) {}

  engine::Status prepare_status;
  // The first `refused_reads` reads answer kUnavailable (a hot standby's recovery conflict).
  int refused_reads = 0;

  engine::Status Prepare() override { return prepare_status; }
  engine::Result<std::optional<int64_t>> ReadSequence() override {
    if (refused_reads > 0) {
      --refused_reads;
      return engine::Unavailable("canceling statement due to conflict with recovery");
    }
    return link_->Visible(id_);
  }
  std::string Describe() const override { return "fake://target/_tandem.heartbeat"; }

 private:
  std::shared_ptr<FakeReplication> link_;
  engine::HeartbeatWriterId id_;
};

// Answers every Read with `reading`, or with `status` when it is not OK.
class FakeReplicationProbe : public engine::ReplicationProbe {
 public:
  explicit FakeReplicationProbe(engine::PositionalLag reading, engine::Status status = {})
      : reading_(std::move(reading)), status_(std::move(status)) {}

  engine::Result<engine::PositionalLag> Read() override {
    ++reads_;
    if (!status_.ok()) {
      return status_;
    }
    return reading_;
  }
  int reads() const { return reads_; }

 private:
  engine::PositionalLag reading_;
  engine::Status status_;
  int reads_ = 0;  // probe thread only; read by the test after Stop()
};

}  // namespace tandem::testing
