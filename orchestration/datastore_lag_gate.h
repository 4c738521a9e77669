// File: orchestration/datastore_lag_gate.h
//
// DatastoreLagGate: "the target of one datastore trails its source by less than max_lag", read
// from the link's lag measurement (heartbeats every 50 ms, 10 s window; DatastoreLink::Lag).
//
// The condition is lag/lag_gate.h's: the window has at least one sample and its p99 is below
// max_lag, and the current lag (which includes the age of the oldest heartbeat not yet seen, so a
// stopped stream breaks the condition although it produces no samples) is below max_lag.
// Reading (name "lag <datastore>", unit "ms"):
//   value      max(window p99, current lag); passes when strictly below threshold
//   threshold  max_lag in ms
//   samples    heartbeats seen in the window; min_samples 1
//   verdict    insufficient while there is no measurement or no sample in the window and the
//              current lag is still below max_lag (also while the monitor is being reopened after
//              a server went away: the detail says why); failing when the condition breaks;
//              passing when it holds
// Holding the condition for the plan's lag_for is the controller's business (it sees each
// reading).
//
// Thread safety: as orchestration::Gate (the controller thread); the link is safe for concurrent
// use. The link must outlive the gate.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "orchestration/datastore_link.h"
#include "orchestration/duration.h"
#include "orchestration/gate.h"

namespace tandem::orchestration {

class DatastoreLagGate : public Gate {
 public:
  // REQUIRES: max_lag > 0.
  DatastoreLagGate(DatastoreLink& link, Milliseconds max_lag);

  std::string name() const override;
  GateReading Evaluate(std::chrono::steady_clock::time_point now) override;

  // The decision on one snapshot (nullopt: no measurement, `why` says why); Evaluate's core,
  // exposed for unit tests.
  static GateReading Read(const std::string& name, const std::optional<lag::LagSnapshot>& snapshot,
                          const std::string& why, Milliseconds max_lag);

 private:
  DatastoreLink& link_;
  const Milliseconds max_lag_;
};

}  // namespace tandem::orchestration
