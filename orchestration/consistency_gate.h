// File: orchestration/consistency_gate.h
//
// ConsistencyGate: "the target of one datastore holds the same data as its source", answered by
// verifying again and again while phases 3 and 4 run. This is how a row changed directly on the
// target (a write that bypassed the stream, an application already pointed at the new database)
// is caught before traffic moves further.
//
// A background thread runs DatastoreLink::Verify() back to back, starting two runs at least
// `interval` apart. Each run is a full verification of every table (SQL) or every database
// (Redis); verifying only the chunks that changed since the last run is future work. A
// difference is reported only when a second verification, after the stream caught up, finds it
// again (DatastoreLink::Verify), so a row in flight is not a difference.
//
// Reading (name "consistency <datastore>", unit "differences", threshold 0):
//   insufficient  until the first verification that started after the gate was created has
//                 completed (a verification that started earlier could predate a repair or a
//                 change), or when the last one could not run or was incomplete (the detail
//                 says why) and none before it found differences
//   passing       the last completed verification found the sides consistent
//   failing       the last completed verification found differences: value = how many,
//                 detail = the summary naming the first (table and key)
// samples = completed verifications since the gate was created; min_samples 1.
//
// Thread safety: Evaluate() is called by the controller thread; the verifier thread shares the
// latest result under mu_. The destructor stops the thread (a verification in progress is
// cancelled between chunks, bounded by the connections' read timeouts). The link must outlive the
// gate.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "orchestration/datastore_link.h"
#include "orchestration/duration.h"
#include "orchestration/gate.h"

namespace tandem::orchestration {

class ConsistencyGate : public Gate {
 public:
  // Starts the verifier thread. REQUIRES: interval >= 0.
  ConsistencyGate(DatastoreLink& link, Milliseconds interval);
  ~ConsistencyGate() override;

  ConsistencyGate(const ConsistencyGate&) = delete;
  ConsistencyGate& operator=(const ConsistencyGate&) = delete;

  std::string name() const override;
  GateReading Evaluate(std::chrono::steady_clock::time_point now) override;

  // Verifications completed since the gate was created (for tests and status).
  int64_t completed() const;

 private:
  void Run();

  DatastoreLink& link_;
  const Milliseconds interval_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled when stopping_ is set
  // Guarded by mu_.
  std::optional<VerifyOutcome> last_completed_;
  std::string last_error_;  // of the last run when it could not complete; empty otherwise
  int64_t completed_ = 0;

  std::atomic<bool> stopping_{false};
  std::thread thread_;  // started last in the constructor
};

}  // namespace tandem::orchestration
