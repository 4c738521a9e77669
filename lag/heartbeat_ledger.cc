#include "lag/heartbeat_ledger.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace tandem::lag {

HeartbeatLedger::HeartbeatLedger(size_t capacity) : capacity_(capacity), sent_(capacity) {
  assert(capacity > 0);  // a ledger that can hold nothing could never issue a sequence
}

std::optional<int64_t> HeartbeatLedger::Issue(LagTime sent) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<size_t>(issued_ - seen_) >= capacity_) {
    return std::nullopt;
  }
  ++issued_;
  SentSlot(issued_) = sent;
  return issued_;
}

engine::Result<std::vector<LagSample>> HeartbeatLedger::Observe(
    int64_t visible, std::optional<LagTime> previous_start, LagTime not_after) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LagSample> samples;
  if (visible > issued_) {
    return engine::FailedPrecondition(
        "the target shows heartbeat sequence " + std::to_string(visible) +
        " but this process has written only " + std::to_string(issued_) +
        ": another process is writing heartbeats with the same writer id");
  }
  if (visible < seen_) {
    ++regressions_;
    return samples;
  }
  if (visible == seen_) {
    return samples;
  }
  samples.reserve(static_cast<size_t>(visible - seen_));
  for (int64_t sequence = seen_ + 1; sequence <= visible; ++sequence) {
    const LagTime sent = SentSlot(sequence);
    LagTime lower = sent;
    if (previous_start && *previous_start > lower) {
      lower = *previous_start;
    }
    // The read that showed the sequence cannot have ended before the sequence was written.
    const LagTime upper = std::max(not_after, lower);
    const auto half_width = (upper - lower) / 2;
    samples.push_back({sequence, lower + half_width - sent, half_width});
  }
  seen_ = visible;
  last_arrival_ = not_after;
  return samples;
}

HeartbeatLedger::State HeartbeatLedger::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  State state;
  state.issued = issued_;
  state.seen = seen_;
  state.regressions = regressions_;
  if (issued_ > seen_) {
    state.oldest_unseen_sent = sent_[static_cast<size_t>(seen_) % capacity_];
  }
  state.last_arrival = last_arrival_;
  return state;
}

}  // namespace tandem::lag
