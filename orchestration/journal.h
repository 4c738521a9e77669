// File: orchestration/journal.h
//
// The durable record of a migration run: an SQLite database (WAL mode, synchronous=FULL) beside
// the plan. The controller writes the intent of each step before acting and the outcome after,
// with the gate values, so that after any stop (kill -9 included) `tandem run --resume` knows the
// exact step it was at, and `tandem status` can tell where a run stands while it goes on, after it
// ended, or after a crash. Every write is its own committed transaction.
//
// Tables (created on first open; the schema is versioned in `meta`):
//   meta(key, value)
//   runs(id, plan_name, plan_digest, state, started_at, finished_at, outcome)
//   steps(id, run_id, phase, name, state, started_at, finished_at, gates, detail)
//   samples(run_id, at, kind, data)       time series for the status and the report
//   controller(id = 1, pid, host, process_start, token, heartbeat_at)   the single-controller lock
//   requests(id, run_id, kind, phase, created_at, handled_at)   approve / stop requests
// Times are UNIX milliseconds (system clock); JSON columns hold nlohmann::json text.
//
// The controller lock: Acquire succeeds when no controller row exists, or its holder is gone
// (its pid is not alive on this host, or is alive with a different start time — a reused pid),
// or its heartbeat is older than 10 s on another host. A holder renews it every second.
//
// Thread safety: a Journal is used by one thread at a time (the controller thread); other
// processes (status, approve, a second controller) open their own. SQLite's busy timeout (5 s)
// covers concurrent writers; a write that still cannot proceed fails with kUnavailable.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

struct sqlite3;

namespace tandem::orchestration {

// Stored as text: "running", "waiting", "completed", "rolled_back", "failed". "interrupted" is
// never stored: status reports it for a run stored as running or waiting whose controller is gone.
enum class RunState { kRunning, kWaiting, kCompleted, kRolledBack, kFailed, kInterrupted };
const char* RunStateName(RunState state);

// Stored as text: "started" (intent written, outcome not yet), "done", "failed", "undone"
// (its inverse ran), "skipped".
enum class StepState { kStarted, kDone, kFailed, kUndone, kSkipped };
const char* StepStateName(StepState state);

struct RunRecord {
  int64_t id = 0;
  std::string plan_name;
  uint64_t plan_digest = 0;
  RunState state = RunState::kRunning;
  int64_t started_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  std::string outcome;  // one line: why it ended (empty while it runs)
};

struct StepRecord {
  int64_t id = 0;
  int phase = 0;     // 1..6
  std::string name;  // unique within a run, e.g. "traffic 25%"
  StepState state = StepState::kStarted;
  int64_t started_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
  nlohmann::json gates = nlohmann::json::array();    // [{name,value,threshold,samples,ok}]
  nlohmann::json detail = nlohmann::json::object();  // what the action did / measured
};

struct ControllerInfo {
  int64_t pid = 0;
  std::string host;
  int64_t heartbeat_at_ms = 0;
  bool alive = false;  // by the rule above
};

class Journal {
 public:
  // Opens (creating when `create`) the journal at `path`.
  // Errors: kNotFound when !create and there is no file ("no journal at <path>: the plan has not
  // been run"); kFailedPrecondition when the file is not a tandem journal or has a newer schema;
  // kPermissionDenied / kInternal from SQLite with its message and the path.
  static engine::Result<std::unique_ptr<Journal>> Open(const std::string& path, bool create);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& path() const { return path_; }

  // --- the single-controller lock ---
  // Errors: kFailedPrecondition "another controller (pid N on host H, alive, last seen S ago)
  // runs this plan; wait for it, or stop it with Ctrl-C / kill PID" when the lock is held.
  engine::Status AcquireController();
  // Renews the heartbeat. Errors: kFailedPrecondition when another process took the lock over.
  engine::Status RenewController();
  void ReleaseController();
  // The current holder, if any (for status).
  engine::Result<std::optional<ControllerInfo>> Controller();

  // --- runs ---
  // The newest run, if any.
  engine::Result<std::optional<RunRecord>> LatestRun();
  engine::Result<int64_t> BeginRun(const std::string& plan_name, uint64_t plan_digest);
  engine::Status SetRunState(int64_t run_id, RunState state);
  // Sets a final state (completed, rolled_back, failed), finished_at and the outcome line.
  engine::Status FinishRun(int64_t run_id, RunState state, const std::string& outcome);

  // --- steps ---
  // Writes the intent: a step row in state "started". If a step of that name exists in the run,
  // it is returned as it is (a resumed step keeps its id and started_at).
  engine::Result<StepRecord> StartStep(int64_t run_id, int phase, const std::string& name,
                                       const nlohmann::json& detail);
  // Writes the outcome: state, finished_at, gates and detail.
  engine::Status FinishStep(int64_t step_id, StepState state, const nlohmann::json& gates,
                            const nlohmann::json& detail);
  // Sets only a step's state (its times, gates and detail stay): a done step whose inverse ran
  // becomes "undone". Errors: kNotFound without the step.
  engine::Status SetStepState(int64_t step_id, StepState state);
  // Updates a started step's live gate values (the status shows them during the dwell).
  engine::Status UpdateStepGates(int64_t step_id, const nlohmann::json& gates);
  engine::Result<std::vector<StepRecord>> Steps(int64_t run_id);
  engine::Result<std::optional<StepRecord>> FindStep(int64_t run_id, const std::string& name);

  // --- samples (time series) ---
  engine::Status AppendSample(int64_t run_id, const std::string& kind, const nlohmann::json& data);
  engine::Result<std::vector<nlohmann::json>> Samples(int64_t run_id, const std::string& kind);
  // Every sample of the run, oldest first, with its kind and time (a report's time series).
  struct TimedSample {
    int64_t at_ms = 0;
    std::string kind;
    nlohmann::json data;
  };
  engine::Result<std::vector<TimedSample>> TimedSamples(int64_t run_id);
  // The samples of `kind` of every run of this journal, oldest first (what an earlier run did to
  // the outside world that a later one must know, e.g. the DNS TTLs it lowered).
  engine::Result<std::vector<nlohmann::json>> SamplesOfEveryRun(const std::string& kind);

  // --- requests from other processes ---
  // `tandem approve`: records an approval for `phase` of the run.
  engine::Status RequestApproval(int64_t run_id, int phase);
  engine::Result<bool> IsApproved(int64_t run_id, int phase);
  // `tandem run PLAN --rollback` while a controller runs the plan: records the request, which the
  // controller polls (every tick and in its waits) and carries out. Errors: kNotFound without the
  // run.
  engine::Status RequestRollback(int64_t run_id);
  engine::Result<bool> IsRollbackRequested(int64_t run_id);

 private:
  Journal(std::string path, sqlite3* db);
  // Samples of one run, or of every run when `run_id` is absent.
  engine::Result<std::vector<nlohmann::json>> ReadSamples(std::optional<int64_t> run_id,
                                                          const std::string& kind);
  engine::Status Exec(const char* sql);
  std::string path_;
  sqlite3* db_;
  std::string token_;  // this process's lock token while it holds the controller lock
};

}  // namespace tandem::orchestration
