// File: orchestration/run_steps.h
//
// The steps a plan expands to, in order: what `tandem run --dry-run` prints and the order the
// controller follows. Each step names its action, its gate and its inverse, in words an operator
// reads before approving a run. Phases without work in the plan have no steps (a plan without
// [traffic] has no phase 4).
//
//   phase 1 assessment     "assessment"            inspect every datastore pair, HAProxy servers,
//                                                  the TLS certificate of dns.tls (a warning)
//                          "dns ttl"               ([dns] only) the records' TTLs lowered to
//                          dns.ttl
//   phase 2 provisioning   "provisioning"          schema and configuration of every target
//   phase 3 sync           "sync <datastore>"      stream started, copy done, lag and verify gates
//   phase 4 traffic        "baseline"              every request to old; old servers measured
//                          "traffic <p>%"          new servers receive p% of requests; dwell gated
//   phase 5 cutover        "writes <datastore>"    (datastores with a `writer`) old frozen and out
//                                                  of the writer backend, drained, verified,
//                                                  reverse stream started, new in
//                                                  (write_cutover_step.h)
//                          "dns switch"            ([dns]) after the writes: TLS checked,
//                                                  the safe moment waited for, the records
//                                                  switched old -> new in one compare-and-swap
//                                                  update, propagation watched
//                                                  (dns_switch_step.h)
//   phase 6 monitor        "monitor"               ([monitor] only) for the window: the reverse
//                                                  streams (and the others) kept running, the
//                                                  phase-4 gates against the baseline, lag, a
//                                                  periodic verify; breaches recorded (and rolled
//                                                  back on, when the plan says so); the verdict
//
// Steps are idempotent: running a done step again changes nothing, so replay after a crash is
// safe. The step name is its identity in the journal.
//
// Thread safety: value types and pure functions.
#pragma once

#include <string>
#include <vector>

#include "orchestration/plan.h"

namespace tandem::orchestration {

enum class StepKind {
  kAssessment,
  kDnsTtl,
  kProvisioning,
  kSync,
  kBaseline,
  kTraffic,
  kWrites,
  kDnsSwitch,
  kMonitor
};

struct RunStep {
  Phase phase = Phase::kAssessment;
  StepKind kind = StepKind::kAssessment;
  std::string name;         // unique within the plan: "sync orders", "traffic 25%"
  std::string action;       // one sentence
  std::string gate;         // one sentence: what must hold, for how long, with which thresholds
  std::string inverse;      // one sentence: how the step is undone
  int traffic_percent = 0;  // kTraffic: the share of requests at the new servers
  const DatastorePlan* datastore = nullptr;  // kSync, kWrites: points into the plan
};

// REQUIRES: `plan` outlives the result (steps point into it).
std::vector<RunStep> ExpandPlan(const Plan& plan);

// What the plan does not run, as one sentence for --dry-run and the run's outcome: phase 6 without
// [monitor] (and with it the reverse streams after the run ends); "" with [monitor].
std::string NotRunNote(const Plan& plan);
// The names of the datastores with a `writer`, comma-separated; "" when none.
std::string WriterDatastores(const Plan& plan);

// The steps as text, one block per phase, for --dry-run.
std::string DescribeSteps(const Plan& plan, const std::vector<RunStep>& steps);

}  // namespace tandem::orchestration
