#include "orchestration/consistency_gate.h"

namespace tandem::orchestration {

using Clock = std::chrono::steady_clock;

ConsistencyGate::ConsistencyGate(DatastoreLink& link, Milliseconds interval)
    : link_(link), interval_(interval) {
  thread_ = std::thread([this] { Run(); });
}

ConsistencyGate::~ConsistencyGate() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
  }
  cv_.notify_all();
  thread_.join();
}

std::string ConsistencyGate::name() const { return "consistency " + link_.name(); }

int64_t ConsistencyGate::completed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_;
}

void ConsistencyGate::Run() {
  for (;;) {
    const auto started = Clock::now();
    engine::Result<VerifyOutcome> outcome = link_.Verify(&stopping_);
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_.load()) {
      return;
    }
    if (outcome.ok() && outcome->differing == 0 && !outcome->consistent) {
      // Incomplete (a table or column skipped): no verdict either way.
      last_error_ = outcome->summary;
    } else if (outcome.ok()) {
      last_completed_ = std::move(*outcome);
      last_error_.clear();
      ++completed_;
    } else {
      last_error_ = "verification could not run: " + outcome.status().message();
    }
    if (cv_.wait_until(lock, started + interval_, [this] { return stopping_.load(); })) {
      return;
    }
  }
}

GateReading ConsistencyGate::Evaluate(std::chrono::steady_clock::time_point /*now*/) {
  GateReading reading;
  reading.name = name();
  reading.unit = "differences";
  reading.threshold = 0;
  reading.min_samples = 1;
  reading.verdict = GateVerdict::kInsufficient;
  std::lock_guard<std::mutex> lock(mu_);
  reading.samples = completed_;
  if (last_completed_ && last_completed_->differing > 0) {
    reading.value = static_cast<double>(last_completed_->differing);
    reading.verdict = GateVerdict::kFailing;
    reading.detail = last_completed_->summary;
    return reading;
  }
  if (!last_error_.empty()) {
    reading.detail = last_error_;
    return reading;
  }
  if (!last_completed_) {
    reading.detail = "the first verification since the gate started is running";
    return reading;
  }
  reading.verdict = GateVerdict::kPassing;
  reading.detail = last_completed_->summary;
  return reading;
}

}  // namespace tandem::orchestration
