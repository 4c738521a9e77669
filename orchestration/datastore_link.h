// File: orchestration/datastore_link.h
//
// DatastoreLink: what `tandem run` (phases 3 and 4) keeps for one [[datastore]] of the plan:
//
//   the stream     `tandem sync` as a supervised child process, restarted when it dies
//   its progress   copy progress and rows applied, for `tandem status`
//   its lag        a lag::LagMonitor (heartbeats every 50 ms, 10 s window) for DatastoreLagGate
//   verification   a full checksum::Verify / VerifyRedis of source against target, for
//                  ConsistencyGate
//
// The child: `<tandem_binary> sync --source <uri> --target <uri> --stream <datastore name>
// --threads N --metrics-port P`, where the URIs carry no password
// (ConnectionConfig::UriWithoutPassword); passwords go through TANDEM_SOURCE_PASSWORD /
// TANDEM_TARGET_PASSWORD in the child's environment only, so they never show in `ps`. The child
// gets PR_SET_PDEATHSIG(SIGTERM): if the controller dies (kill -9 included) the sync stops cleanly,
// and resumes from its checkpoint when the next `tandem run` starts it again (its contract). stdout
// and stderr are appended to <log_directory>/<datastore name>.sync.log. The stream name is the
// datastore's name, so two datastores writing into one target server keep separate checkpoints and
// locks.
//
// Supervision: when the child exits, a supervisor thread starts it again after a backoff (1 s,
// doubling to 10 s; back to 1 s after a run of a minute or more), except after exit code 2 —
// `tandem sync` could not run (bad input, refused login, missing privilege, or its own reconnect
// budget exhausted) — or 127 (the binary could not be executed): then the link is failed, with the
// child's last "tandem sync: ..." line as the reason, and nothing restarts it. (One exit 2 is
// retried: the metrics port, picked free just before the start, was taken meanwhile.) Note that
// `tandem sync` also exits 2 when a server stays unreachable through its 20 reconnects, or at
// start-up when a server cannot be reached: the link then fails rather than retrying forever.
//
// Thread safety: every public method is safe for concurrent use. The supervisor thread owns the
// child process; Stop() and the destructor join it. Verify() may run on another thread (the
// consistency gate's) while the controller calls Progress() and Lag().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/connection_config.h"
#include "engine/database.h"
#include "engine/position.h"
#include "engine/status.h"
#include "lag/lag_monitor.h"
#include "lag/lag_snapshot.h"
#include "orchestration/plan.h"

namespace tandem::orchestration {

// What tools/ hands in: the connectors, reached through functions (orchestration/ depends on
// none), and where the sync binary and its logs are.
struct DatastoreLinkPorts {
  engine::DatabaseOpener open_database;  // tools::OpenDatabase
  lag::LagPortOpeners lag;               // tools::OpenHeartbeatWriter / Reader / ReplicationProbe
  std::string tandem_binary;             // the `tandem` executable to run `sync` with
  std::string log_directory;             // must exist and be writable
  int sync_threads = 4;                  // --threads of the child (1..64)
  // Opens a reader of the position a stream has durably applied on its target
  // (tools::OpenAppliedPositionReader): (target, stream name) -> a function returning the greatest
  // checkpoint, std::monostate when none. One connection per wait, read repeatedly.
  std::function<engine::Result<std::function<engine::Result<engine::Position>()>>(
      const engine::ConnectionConfig&, const std::string&)>
      open_applied_reader;
};

// Timings; the defaults are the contract, tests shorten them.
struct DatastoreLinkOptions {
  std::chrono::milliseconds restart_backoff{1000};  // first restart delay; doubles
  std::chrono::milliseconds max_restart_backoff{10000};
  std::chrono::milliseconds stop_grace{15000};  // SIGTERM, then SIGKILL after this long
  std::chrono::milliseconds heartbeat_interval{50};
  std::chrono::milliseconds lag_window{10000};
  // After a verify that found differences, how long to wait for the stream to catch up (its
  // checkpoint reaches the source's position read then; without a position, every heartbeat
  // written before the re-check started is seen on the target) before the re-check.
  std::chrono::milliseconds verify_catch_up_timeout{10000};
  // The child runs `tandem sync --from-now`: no initial copy, streaming from the source's position
  // at its first start (a target that already holds the source's data: the cutover's reverse
  // stream).
  bool start_at_source_end = false;
};

enum class StreamState {
  kIdle,        // StartStream() not called yet
  kRunning,     // the child runs
  kRestarting,  // the child died; waiting out the backoff before starting it again
  kFailed,      // permanently: last_error says why; nothing restarts it
  kStopped,     // Stop() was called
};

// "idle", "running", "restarting", "failed", "stopped".
const char* StreamStateName(StreamState state);

struct StreamProgress {
  StreamState state = StreamState::kIdle;
  // The initial copy: rows (SQL: the rows_copied of the stream's chunks in the target's
  // _tandem.copy_chunk) or keys (Redis: keys in the target, tandem's own bookkeeping keys
  // included) so far, against the source catalog's estimate (SQL: tables' estimated rows; Redis:
  // keys). total_estimate is -1 until known. Once the copy is done, `copied` is the copy's own
  // count ("copied N rows" / "loaded N keys" in the log) and total_estimate at least that.
  int64_t copied = 0;
  int64_t total_estimate = -1;
  bool copy_done = false;  // the child said it is streaming changes (sticky across restarts)
  // Row changes applied by the stream, summed over the child's runs since StartStream
  // (tandem_sync_rows_applied_total of its metrics endpoint).
  int64_t events_applied = 0;
  int restarts = 0;        // times the supervisor started the child again
  std::string last_error;  // the child's last "tandem sync: ..." line; empty when none
  // Time left for the copy at the rate measured between the last two readings; nullopt when the
  // copy is done or no rate is known yet.
  std::optional<std::chrono::milliseconds> eta;
  pid_t child_pid = 0;  // the running child's process id; 0 when none runs
};

struct VerifyOutcome {
  bool consistent = false;  // no differences and nothing skipped
  int64_t differing = 0;    // differences confirmed by the re-check (see Verify)
  std::chrono::milliseconds elapsed{0};
  // One line: "consistent: 3 tables, 500 rows" or "2 differences; first: changed in shop.orders
  // key (id=7), columns total" or why the verification is incomplete.
  std::string summary;
};

class DatastoreLink {
 public:
  // REQUIRES: plan.source and plan.target are of the same engine (LoadPlan checked it).
  DatastoreLink(DatastorePlan plan, DatastoreLinkPorts ports, DatastoreLinkOptions options = {});
  // Stop().
  ~DatastoreLink();

  DatastoreLink(const DatastoreLink&) = delete;
  DatastoreLink& operator=(const DatastoreLink&) = delete;

  const DatastorePlan& plan() const { return plan_; }
  const std::string& name() const { return plan_.name; }

  // Starts the supervised child (see the file comment) unless it already runs. Idempotent; after
  // Stop() it starts again. Errors: kInvalidArgument when the ports are unusable (no binary, log
  // directory not writable, threads out of range); kFailedPrecondition with the reason when the
  // link has failed permanently.
  engine::Status StartStream();

  // SIGTERM to the child, up to stop_grace for it to exit, then SIGKILL; reaps it, stops the lag
  // monitor and joins the supervisor. Idempotent. Returns within stop_grace, plus the SIGKILL's
  // teardown and the lag monitor's in-flight server call (bounded by the read timeouts).
  void Stop();

  // The stream's progress now. Reads the child's metrics endpoint (1 s timeout) and, until the
  // copy is done, at most once a second the copy counters from the servers.
  StreamProgress Progress();

  // The lag measurement: opened on the first call after StartStream() (and again, at most once a
  // second, after the monitor failed, e.g. a server went away). nullopt when there is no
  // measurement yet (not started, or opening failed: `why` gets the reason when given).
  std::optional<lag::LagSnapshot> Lag(std::string* why = nullptr);

  // Stops the lag measurement (its heartbeat writer on the source) until the next Lag() call. The
  // cutover calls it before freezing the source: a heartbeat write into a frozen Redis blocks until
  // the pause ends, and stopping the stream afterwards would wait for it. Idempotent.
  void StopLagMonitor();

  // A full verification of source against target: checksum::Verify (SQL, one thread) or
  // checksum::VerifyRedis. tandem sync's target is no native replica, so verify's own live
  // re-check does not apply to SQL; instead a verification that found differences waits until the
  // stream caught up (its checkpoint has reached the source's position read after the first
  // verification, as WaitUntilApplied; when the position cannot be read, every heartbeat written
  // so far is seen; up to verify_catch_up_timeout) and verifies the differing tables again; only
  // differences found both times count.
  // Errors: those of the verification (connections, kUnsupported), kCancelled when `stop` is set.
  engine::Result<VerifyOutcome> Verify(const std::atomic<bool>* stop);

  // The drain of the cutover, compared exactly: the source's log position now
  // (engine::WriteFreeze::CurrentPosition over a new source connection), and the wait until the
  // stream has durably applied everything up to a position (its checkpoint on the target, read
  // over one connection (ports.open_applied_reader) every 50 ms, compared with engine::Compare).
  // SourcePosition errors: the connection's; kUnsupported when the connector has no write freeze.
  engine::Result<engine::Position> SourcePosition();
  // Returns how long the wait took. Errors: kTimeout "<name>: the stream applied up to <P1>, not
  // yet <P2>, after <timeout>"; kFailedPrecondition when the positions cannot be compared (another
  // source history: the target's checkpoint is not this source's); kCancelled when `stop` said
  // so; the reader's errors (a server away: the connection is opened again) once they persist
  // for the whole timeout. A read in flight can overrun the timeout by the connection's read
  // timeout.
  engine::Result<std::chrono::milliseconds> WaitUntilApplied(const engine::Position& position,
                                                             std::chrono::milliseconds timeout,
                                                             const std::function<bool()>& stop);

  // Hands the stream over at the source's present position: `tandem sync --checkpoint-now` run
  // once to its end, which commits the checkpoint "<name>" there, superseding the stream's earlier
  // ones (everything the source holds now counts as applied; what it commits later is streamed by
  // the next StartStream()). For a target that holds the source's data already: the cutover's
  // reverse stream before the writer switch, the forward stream after a revert drained the reverse
  // one; with `advance_slot` (PostgreSQL, phase 6), also --advance-slot: the idle slot is then
  // moved up to it (best effort, at most 5 s), so it stops keeping the WAL before it. Not in a
  // pause: the slot's catch-up may take those seconds. REQUIRES: the stream is not running
  // (Stop()). Errors: kFailedPrecondition with the child's "tandem sync: ..." line when it
  // failed, kTimeout after `timeout` (the child is killed), the link's kInvalidArgument (see
  // StartStream).
  engine::Status CheckpointAtSourceEnd(std::chrono::milliseconds timeout,
                                       bool advance_slot = false);

  // PostgreSQL: `tandem sync --until-caught-up --drop-slot` run once to its end: the stream applies
  // what is left, then drops its slot and publication on the source (it cannot resume; the next
  // start needs CheckpointAtSourceEnd or a copy). Other engines: nothing. REQUIRES: the stream is
  // not running. Errors: as CheckpointAtSourceEnd.
  engine::Status DropSourceSlot(std::chrono::milliseconds timeout);

 private:
  void Supervise();
  // Runs one child to its end (or until Stop). Returns its exit code (-1 killed by a signal).
  int RunChildOnce();
  // Starts `tandem sync` with the link's arguments, `extra_args` and, when given, --metrics-port.
  pid_t SpawnChild(std::optional<uint16_t> metrics_port, const std::vector<std::string>& extra_args,
                   std::string* error);
  // Runs one child with `extra_args` to its end, outside supervision (see CheckpointAtSourceEnd).
  engine::Status RunOneShot(const std::vector<std::string>& extra_args,
                            std::chrono::milliseconds timeout);
  void RefreshCopyProgress();
  // Scans the running (or last) child's part of the log: whether it streams changes, what its
  // copy reported ("copied N rows", "loaded N keys"), its last "tandem sync: ..." error line.
  void ReadChildLog(bool* streaming, std::optional<int64_t>* copied, std::string* last_error);
  bool WaitForCatchUp(const std::atomic<bool>* stop);

  // Constant after construction.
  const DatastorePlan plan_;
  const DatastoreLinkPorts ports_;
  const DatastoreLinkOptions options_;
  const std::string log_path_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled when stop_requested_ is set
  // Guarded by mu_.
  bool stop_requested_ = false;
  StreamState state_ = StreamState::kIdle;
  pid_t child_pid_ = 0;
  uint16_t metrics_port_ = 0;
  int64_t log_offset_ = 0;  // where the running child's output starts in the log
  int restarts_ = 0;
  // When the child was first refused because another sync held the stream's lock (reset by any
  // other outcome); see kLockHeldPatience in the .cc.
  std::optional<std::chrono::steady_clock::time_point> lock_held_since_;
  std::string last_error_;
  bool copy_done_ = false;
  int64_t rows_applied_before_ = 0;   // of the children that ended
  int64_t rows_applied_current_ = 0;  // last reading of the running child
  int64_t copied_ = 0;
  int64_t total_estimate_ = -1;
  std::optional<std::chrono::steady_clock::time_point> last_copy_reading_;
  std::optional<int64_t> copied_logged_;  // the copy's own count, once it finished
  bool final_copy_reading_ = false;       // taken after the copy was done: the figures are final
  std::optional<std::chrono::milliseconds> eta_;

  std::mutex stop_mu_;      // serialises Stop() and StartStream()
  std::thread supervisor_;  // guarded by stop_mu_; joined by Stop()

  std::mutex lag_mu_;  // guards the members below; held while opening the monitor
  std::shared_ptr<lag::LagMonitor> monitor_;
  std::optional<std::chrono::steady_clock::time_point> last_open_attempt_;
  std::string lag_error_;
};

}  // namespace tandem::orchestration
