// File: lag/heartbeat_ledger.h
//
// HeartbeatLedger: the send times of the heartbeats not yet seen on the target, and the rule that
// turns "the target now shows sequence m" into one lag sample per newly visible sequence.
//
// Attribution. The observer reads the target's newest sequence repeatedly. When a read ending at
// `not_after` shows m for the first time, and the previous read (which did not show it) started
// at `previous_start`, every sequence k in (last seen, m] became visible inside the window
//   (max(previous_start, sent_k), not_after]
// since the previous read's snapshot was taken after it started and k cannot be visible before it
// was written. The sample is the midpoint of that window minus sent_k, and its error bound is
// half the window's width: the true lag lies within sample ± error. Polling every P with round
// trip R gives errors near (P + R) / 2.
//
// Memory is bounded: at most `capacity` sequences may be unseen; Issue refuses more (the writer
// then skips beats until the target catches up) and the age of the oldest unseen one keeps
// growing, which is what a stalled replication must look like.
//
// Thread safety: safe for concurrent use (the writer thread issues, the observer thread observes,
// readers take State()). Internally one mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/status.h"
#include "lag/lag_clock.h"

namespace tandem::lag {

struct LagSample {
  int64_t sequence = 0;
  std::chrono::nanoseconds lag{0};    // estimated end-to-end lag of this sequence
  std::chrono::nanoseconds error{0};  // the true lag is within lag ± error
};

class HeartbeatLedger {
 public:
  // REQUIRES: capacity > 0.
  explicit HeartbeatLedger(size_t capacity);

  HeartbeatLedger(const HeartbeatLedger&) = delete;
  HeartbeatLedger& operator=(const HeartbeatLedger&) = delete;

  // Allocates the next sequence (1, 2, ...) and records that it is being written at `sent`.
  // Returns nullopt, allocating nothing, when `capacity` sequences are already unseen.
  std::optional<int64_t> Issue(LagTime sent);

  // The target shows `visible` in a read that ended at `not_after`; the previous read started at
  // `previous_start` (nullopt for the first read). Returns a sample for each newly visible
  // sequence, in order; none when `visible` is not newer than what was already seen (a target
  // that goes backwards is counted in State().regressions, not an error).
  // Errors: kFailedPrecondition when `visible` was never issued (another process writes with the
  // same writer id, or the record is left over from an earlier one).
  engine::Result<std::vector<LagSample>> Observe(int64_t visible,
                                                 std::optional<LagTime> previous_start,
                                                 LagTime not_after);

  struct State {
    int64_t issued = 0;        // highest sequence issued (= number issued)
    int64_t seen = 0;          // highest sequence seen on the target
    uint64_t regressions = 0;  // reads that showed an older sequence than one seen before
    std::optional<LagTime> oldest_unseen_sent;  // send time of sequence seen + 1, if issued
    std::optional<LagTime> last_arrival;        // the not_after of the last read that saw new ones
  };
  State Snapshot() const;

  size_t capacity() const { return capacity_; }

 private:
  LagTime& SentSlot(int64_t sequence) {
    return sent_[static_cast<size_t>(sequence - 1) % capacity_];
  }

  const size_t capacity_;  // constant after construction

  mutable std::mutex mu_;
  // Guarded by mu_. Invariant: 0 <= seen_ <= issued_ <= seen_ + capacity_, and the send time of
  // every sequence in (seen_, issued_] is at SentSlot(sequence).
  std::vector<LagTime> sent_;
  int64_t issued_ = 0;
  int64_t seen_ = 0;
  uint64_t regressions_ = 0;
  std::optional<LagTime> last_arrival_;
};

}  // namespace tandem::lag
