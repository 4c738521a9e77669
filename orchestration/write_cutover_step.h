// File: orchestration/write_cutover_step.h
//
// Phase 5's write cutover for one datastore with a `writer` route ("writes <datastore>"), and its
// inverse (run by a rollback). The writer route is an HAProxy backend in TCP mode with two servers:
// `old_server` (the old primary) and `new_server` (the new one). "In the backend" means state
// ready with a weight above 0; "out" means state maint (HAProxy accepts no new connection for it).
//
// CutOverWrites, in order (each sub-step journaled through `record` as it completes):
//   1. freeze   engine::WriteFreeze::Freeze on the old primary (MySQL/MariaDB read_only, PostgreSQL
//               default_transaction_read_only with old transactions ended, Redis CLIENT PAUSE
//               WRITE held for `redis_pause_hold`); then old_server out of the writer backend and
//               its sessions shut down (`shutdown sessions server`), so clients reconnect and wait
//               for the switch. The moment the freeze began is the start of the write pause.
//   2. drain    the old primary's position now (CurrentPosition, after the freeze) and a wait until
//               the forward stream has durably applied it (DatastoreLink::WaitUntilApplied),
//               within `drain_timeout`; then the forward stream is stopped (nothing more can come:
//               the old side is frozen), so it writes nothing the reverse stream could echo.
//   3. verify   (when `final_verify`) a full verification of old against new
//               (DatastoreLink::Verify); a difference stops the cutover before any switch.
//   4. reverse  Redis: the old primary's pause is lifted (it is out of the writer backend; the
//               reverse stream must write there); MySQL: its super_read_only is turned off,
//               read_only stays (WriteFreeze::AdmitPrivilegedWriters). The reverse stream
//               new -> old is handed over at the new side's position now
//               (DatastoreLink::CheckpointAtSourceEnd, stream "<datastore>.reverse"), started,
//               and waited for until it has durably reached the new side's current position
//               (`reverse_start_timeout`): from then on every write on the new side reaches the
//               old one. The old side stays frozen for clients; tandem's applier writes through
//               the freeze (MySQL/MariaDB: an account with READ ONLY ADMIN or SUPER; PostgreSQL:
//               its sessions turn default_transaction_read_only off).
//   5. switch   new_server into the writer backend (state ready, its weight restored to at least
//               1), old_server stays out. The write pause ends here and is reported.
// At no moment are both sides writable and reachable through the writer backend: the new server
// enters it only after the old one left it and was frozen.
//
// Re-running after a crash at any point is safe: the live state is read first. new_server in and
// old_server out: the switch happened when the journal shows this run's switch (or its intent,
// journaled before new_server goes in); only the reverse stream is started again (it resumes from
// its checkpoint) and the step is done. Without such a record the writes went to the new side
// some other way (no freeze, drain or verify): the step stops (`problem`), touching nothing.
// Otherwise every sub-step is run again (each is idempotent: freezing a frozen side, taking a
// server out twice, a drain already complete, a reverse stream with a checkpoint); the write pause
// is measured from the first journaled freeze.
//
// RevertWrites, the inverse, from whatever state a cutover left. It first journals "begun"
// (direction "revert"): a controller resuming the step after a crash finishes the revert instead of
// cutting over again (RevertBegun).
//   - switched (new_server in, the new side frozen by an earlier revert, or the journal shows the
//     switch and no finished revert after it, e.g. a revert killed during its drain): freeze the
//     new side, new_server out and its sessions shut down, drain the reverse stream to the new
//     side's position, stop it; then, while the old side is still out of the backend, the forward
//     stream is handed over at the old side's present position
//     (DatastoreLink::CheckpointAtSourceEnd: the reverse stream's writes into the old side are not
//     streamed back); the old side is thawed and old_server put back in; the new side is thawed
//     (out of the backend, it is written only by the forward stream again), the reverse stream's
//     PostgreSQL slot dropped, and the forward stream restarted.
//   - not switched: the reverse stream stopped, old side thawed, old_server in, new_server out, the
//     forward stream restarted from its own checkpoint (the drain may not have finished).
// Nothing written on either side is lost: every write the new side acknowledged is drained into the
// old one before the old one takes writes again.
// The cutover, for its part, hands the reverse stream over at the new side's present position
// before starting it (step 4), so the checkpoint of an earlier, reverted cutover is never resumed.
//
// Thread safety: free functions on the caller's thread; the links are used through their
// thread-safe API.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/database.h"
#include "engine/status.h"
#include "orchestration/datastore_link.h"
#include "orchestration/haproxy_runtime.h"
#include "orchestration/plan.h"

namespace tandem::orchestration {

struct WriteCutoverPorts {
  engine::DatabaseOpener open_database;
  const HaproxyRuntime* haproxy = nullptr;  // where the writer backend lives
  DatastoreLink* forward = nullptr;         // old -> new
  DatastoreLink* reverse = nullptr;         // new -> old; its options say start_at_source_end
  // Journals one sub-step: {"datastore", "direction": "cutover"|"revert", "sub_step", "at" (ISO
  // UTC), ...}. Optional.
  std::function<engine::Status(const nlohmann::json&)> record;
  // What earlier attempts of this run journaled through `record`, oldest first: the first
  // "freeze" gives the start of the write pause on a resumed cutover, a "switch" (or its intent,
  // "switching") makes a writer backend found on the new side count as this run's switch.
  std::vector<nlohmann::json> recorded;
};

struct WriteCutoverOptions {
  std::chrono::milliseconds lock_wait{2000};  // FreezeOptions::lock_wait
  std::chrono::milliseconds redis_pause_hold{300'000};
  std::chrono::milliseconds drain_timeout{30'000};
  std::chrono::milliseconds reverse_start_timeout{30'000};
  bool final_verify = true;
  std::function<bool()> stop;  // optional; true ends waits early (kCancelled)
};

struct WriteCutoverResult {
  // Empty when the step is done; otherwise why it stopped (one line with the fix). The sides are
  // left as they were when it stopped: the caller decides whether to revert.
  std::string problem;
  // {"datastore", "direction", "sub_steps": [{"name","ms"}], "frozen_at" (ISO),
  //  "old_position", "drain_ms", "verify": {"consistent","differing","summary","ms"} or null,
  //  "reverse_position", "switched_at" (ISO), "write_pause_ms", "already_switched" (bool)}.
  nlohmann::json detail = nlohmann::json::object();
  // The writer backend sends writes to the new side (cutover) / the old side (revert).
  bool switched = false;
};

// See the file comment. Errors: kCancelled when `stop` ended a wait; the servers', HAProxy's and
// the journal's errors (the sides are then as the failed sub-step left them; run it again or
// revert). A drain timeout and a verify difference are `problem`s.
engine::Result<WriteCutoverResult> CutOverWrites(const DatastorePlan& datastore,
                                                 const WriteCutoverPorts& ports,
                                                 const WriteCutoverOptions& options);

engine::Result<WriteCutoverResult> RevertWrites(const DatastorePlan& datastore,
                                                const WriteCutoverPorts& ports,
                                                const WriteCutoverOptions& options);

// Whether the writer backend of `datastore` sends its writes to the new side (new_server in,
// old_server out). false without a writer route. Errors: HAProxy's.
engine::Result<bool> WritesOnNewSide(const DatastorePlan& datastore, const HaproxyRuntime& haproxy);

// Whether the newest of `recorded` (WriteCutoverPorts::recorded) for `datastore` belongs to a
// revert that has not finished ("begun" journaled, no "forward restarted" after it).
bool RevertBegun(const DatastorePlan& datastore, const std::vector<nlohmann::json>& recorded);

// The reverse stream's plan: source and target exchanged, named "<datastore>.reverse".
DatastorePlan ReversePlan(const DatastorePlan& datastore);

}  // namespace tandem::orchestration
