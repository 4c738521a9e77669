// File: orchestration/migration_controller.h
//
// MigrationController: runs a plan's steps (run_steps.h) in order, each gated, with the journal as
// the only memory that counts. The orchestrator decides; the engine measures: lag comes from
// lag::LagMonitor, consistency from checksum's verify, HTTP health from HAProxy (TrafficMonitor).
//
// For each step:
//   1. the intent is journaled (step "started") before anything is changed;
//   2. the action runs; it is idempotent (it sets a state, it does not add to one), and it first
//      re-reads the live state (HAProxy weights, streams), so replaying a started step after a
//      crash changes nothing that was already done;
//   3. the gate is evaluated every 250 ms (not only at the end); the readings are journaled every
//      second while it runs and with the outcome;
//   4. the outcome is journaled: "done", or "failed" with the gate that failed, its value,
//      threshold and sample count.
// A failing phase-4 gate aborts at once: the weights go back to every request on the old servers
// before anything else happens (then the journal records it, then the run ends with kNo).
//
// Resume: the newest run of the journal is continued when it is unfinished; done steps are
// skipped, a started one is run again (idempotent), the streams are started again (each resumes
// from its own checkpoint), the baseline is read back from the journal. The traffic share never
// goes down on resume except to abort: a step's action only sets its own share.
//
// Rollback (`tandem run PLAN --rollback`; options.rollback in a new controller, or a request in
// the journal that a running controller polls in its waits and before each step, not inside a
// verification or a write cutover, which are bounded): the inverses of the run's steps that began,
// newest first, each journaled as a step "undo <name>" and the original marked "undone": the DNS
// records back (compare-and-swap, RevertRecords; when that fails the rollback stops there, the
// writes and traffic left where DNS points), the writes back (RevertWrites: the new side frozen,
// the reverse stream drained into the old side, the forward stream handed over at the old side's
// position, the writer switched back), every request back on the old servers. Steps that only
// read have nothing to undo. The streams end stopped at their checkpoints. The time taken, from
// the first attempt's start, is journaled (sample "rollback": begun / done with ms, budget_ms,
// within_budget) and reported against rollback_budget. The run ends "rolled_back" (kRolledBack),
// or "failed" when an inverse could not finish (kStopped, naming it; --rollback again continues).
// A rollback interrupted by a crash is continued by --rollback or --resume. A completed run is
// not rolled back (FailedPrecondition); a rolled-back one answers kRolledBack at once.
//
// Resume also continues a failed run that failed in phase 6 (its window goes on) or while being
// rolled back; a new run is refused while the newest one can be resumed.
//
// Stop: `stop_flag` is polled at every tick (250 ms); the controller then stops at the next
// safe point (between two gate evaluations), leaves the traffic as it is (every share it holds was
// passing its gates), stops the streams it supervises, journals nothing more than the readings, and
// returns kInterrupted; `--resume` continues.
//
// Threading: Run() executes on the calling thread, which owns the journal and every gate. Other
// threads (the metrics endpoint, the live view) read LiveStatus() under its mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orchestration/datastore_link.h"
#include "orchestration/gate.h"
#include "orchestration/journal.h"
#include "orchestration/plan.h"
#include "orchestration/run_steps.h"

namespace tandem::orchestration {

enum class RunVerdict {
  kCompleted,    // every step done: exit 0
  kStopped,      // a gate or a blocker stopped it; traffic back on the old servers: exit 1
  kInterrupted,  // stopped on request; --resume continues: exit 2 with that advice
  kRolledBack,   // every done step undone (--rollback, or a rollback handed to this controller)
};

struct RunResult {
  RunVerdict verdict = RunVerdict::kCompleted;
  std::string message;  // one line: what happened ("gate error_rate failed at traffic 25%: ...")
};

struct ControllerOptions {
  bool resume = false;
  // Roll the newest run back (unfinished, interrupted or failed; a rolled-back one is reported as
  // such) instead of running the plan.
  bool rollback = false;
  DatastoreLinkPorts ports;  // how to reach the datastores (tools/ fills it)
  // Set on SIGINT / SIGTERM (tools/stop_signals.h); polled at every tick and by verifications.
  const std::atomic<bool>* stop_flag = nullptr;
  // Called on the controller thread for every event: {"phase", "phase_name", "step", "state",
  // "gates": [...], "message", "time_left_s", "traffic_percent", ...}. Must not block.
  std::function<void(const nlohmann::json& event)> on_event;
  std::chrono::milliseconds tick{250};
};

// What the live view and the metrics endpoint show.
struct LiveStatus {
  int phase = 0;
  std::string phase_name;
  std::string step;
  std::string state;           // "running", "waiting", "dwell", "done", ...
  double traffic_percent = 0;  // the share the weights give the new servers now
  double dwell_left_s = 0;
  std::vector<GateReading> gates;
  std::vector<std::pair<std::string, double>> lag_p99_ms;  // per datastore
  int64_t monitor_breaches = 0;  // phase 6: gates that failed during the window (episodes)
};

class MigrationController {
 public:
  // REQUIRES: `plan` and `journal` outlive the controller.
  MigrationController(const Plan& plan, Journal& journal, ControllerOptions options);
  ~MigrationController();

  // Checks, touching nothing, that every datastore URI logs in, that the HAProxy runtime API
  // answers at admin level with the backend and every named server present, that every probe
  // answers 2xx and the log address can be bound.
  // Errors: the first problem, naming what and how to fix it (kConnectionFailed,
  // kAuthenticationFailed, kNotFound, kPermissionDenied, ...).
  engine::Status Preflight();

  // Runs (or, with options.resume, continues) the plan. Takes the journal's controller lock.
  // Errors (nothing touched unless said): kFailedPrecondition when another controller holds the
  // lock, when an unfinished run exists and resume is off ("run #N is unfinished at step S;
  // continue it with --resume"), or when resume is on and there is nothing to resume; journal
  // errors.
  engine::Result<RunResult> Run();

  LiveStatus live_status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::orchestration
