// File: engine/write_freeze.h
//
// WriteFreeze: what the write cutover (orchestration, phase 5) does to one primary so that its
// applications can no longer change data, the inverse, and the log position that proves a stream
// has drained it. Implemented by each connector over the connection of the Database that hands it
// out (Database::write_freeze()).
//
//   MariaDB / MySQL
//     Freeze           SET GLOBAL read_only = ON, and super_read_only = ON where it exists
//                      (MySQL); on a lock-wait timeout the blocking connections are killed and it
//                      is tried again; then the connections holding a transaction listed before
//                      it are killed (MariaDB refuses the COMMIT of any that wrote)
//     Thaw             read_only = OFF (and super_read_only = OFF)
//     State            @@read_only, @@super_read_only
//     CurrentPosition  SHOW MASTER STATUS (file, position) + @@gtid_binlog_pos (@@gtid_executed)
//   PostgreSQL
//     Freeze           ALTER SYSTEM SET default_transaction_read_only = on + pg_reload_conf(),
//                      waited for (pg_conf_load_time); then every client session whose
//                      transaction began before the freeze is terminated; a prepared (two-phase)
//                      transaction stops it (kFailedPrecondition: it could commit afterwards)
//     Thaw             ALTER SYSTEM RESET default_transaction_read_only + pg_reload_conf()
//     State            pg_settings.reset_val (what the loaded configuration gives every session)
//     CurrentPosition  pg_current_wal_lsn() when it has written through
//                      pg_current_wal_insert_lsn(), else that insert position (commits
//                      acknowledged under synchronous_commit=off), flushed through it at once by a
//                      commit carrying a transactional logical message (logical decoding reads
//                      flushed WAL only)
//   Redis
//     Freeze           CLIENT PAUSE <hold> WRITE (renewed by calling Freeze again)
//     Thaw             CLIENT UNPAUSE
//     State            INFO paused_reason / paused_actions where reported; else what this object
//                      did
//     CurrentPosition  INFO replication: master_replid, master_repl_offset
//
// Connections that are never ended: this one, replication (binlog dump threads, walsenders: the
// change stream itself), system threads.
//
// "Ordinary" means an account that does not bypass read-only: on MariaDB 10.11 one without READ
// ONLY ADMIN (SUPER before 10.11), on MySQL one without SUPER/CONNECTION_ADMIN once super_read_only
// is on (then nobody writes), on PostgreSQL any session that does not itself ask for a read-write
// transaction (`SET TRANSACTION READ WRITE` overrides the default: PostgreSQL has no server-wide
// read-only mode; the cutover also closes every client connection through HAProxy), on Redis every
// client except replicas. Phase 1 warns about accounts that bypass the freeze.
//
// The freeze guarantee, once Freeze returns OK: no write by an ordinary client commits any more,
// and every write an ordinary client committed before is at or before CurrentPosition() read
// afterwards. So a stream whose applied position reaches that position holds every acknowledged
// write (the drain compares positions exactly, engine/position.h Compare).
//
// Idempotence: Freeze on a frozen server and Thaw on a thawed one change nothing and succeed. The
// server's own state, not this object, is the truth: a controller that crashed and came back asks
// State() before undoing anything. (Redis: a pause expires after `hold` unless renewed, by design:
// a controller killed with -9 cannot leave the old primary paused forever; the cutover keeps
// clients away from it through HAProxy as well.)
//
// Positions: engine::Position values of the same history the connector's change stream reports
// (mysql:<file>:<offset>[;gtid=...], pg:<lsn>, redis:<replid>:<offset>), so they compare with a
// stream checkpoint read from the target.
//
// Privileges, checked before anything changes (the error for a missing one is kPermissionDenied
// with the GRANT / ALTER that fixes it, naming the server by ConnectionConfig::Redacted()):
// MariaDB READ ONLY ADMIN (10.11; SUPER before), CONNECTION ADMIN and PROCESS (to see other
// sessions' transactions), BINLOG MONITOR for CurrentPosition; MySQL SYSTEM_VARIABLES_ADMIN,
// CONNECTION_ADMIN (or SUPER), PROCESS, REPLICATION CLIENT; PostgreSQL superuser, or on 15+ ALTER
// SYSTEM on the parameter, EXECUTE on pg_reload_conf(), pg_signal_backend and pg_read_all_stats;
// Redis the `client|pause`, `client|unpause` and `info` commands.
//
// Thread safety: belongs to the thread that owns the Database it came from. Every call is bounded
// by the connection's timeouts plus, for Freeze, `lock_wait` below.
#pragma once

#include <chrono>
#include <string>

#include "engine/position.h"
#include "engine/status.h"

namespace tandem::engine {

struct FreezeOptions {
  // Redis: how long the pause lasts unless Freeze is called again or Thaw (1 s .. 1 h).
  // SQL engines: unused (their freeze holds until Thaw).
  std::chrono::milliseconds hold{60'000};
  // MySQL: how long SET GLOBAL read_only may wait for the global read lock (it waits for
  // statements and commits in flight) before the blocking transactions are killed and it is tried
  // once more. PostgreSQL: how long to wait after the reload for sessions to pick the setting up
  // before sessions still in an older transaction are terminated.
  std::chrono::milliseconds lock_wait{2'000};
};

struct FreezeReport {
  // Client sessions ended because they held a transaction that began before the freeze (MySQL:
  // connections killed; PostgreSQL: backends terminated). Redis: 0.
  int sessions_ended = 0;
  std::chrono::microseconds elapsed{0};  // the whole Freeze call
  std::string detail;  // one line: "read_only=ON; killed 2 connections holding transactions"
};

struct WriteFreezeState {
  bool frozen = false;  // ordinary clients cannot write now
  std::string detail;   // one line: "read_only=ON super_read_only=n/a", "CLIENT PAUSE WRITE ..."
};

class WriteFreeze {
 public:
  virtual ~WriteFreeze() = default;
  WriteFreeze(const WriteFreeze&) = delete;
  WriteFreeze& operator=(const WriteFreeze&) = delete;

  // See the file comment. Errors: kPermissionDenied (with the fix); connection errors. On error
  // the server may be frozen already (State() tells); calling Freeze again is safe.
  virtual Result<FreezeReport> Freeze(const FreezeOptions& options) = 0;

  // Makes the server writable for ordinary clients again. Errors: as Freeze.
  virtual Status Thaw() = 0;

  // Lets the accounts that may write through a freeze (MySQL: READ ONLY ADMIN / SUPER /
  // CONNECTION_ADMIN, e.g. tandem's appliers) write again while ordinary clients stay frozen:
  // MySQL turns super_read_only off and keeps read_only on. Others: nothing (MariaDB has no
  // super_read_only; PostgreSQL's appliers turn default_transaction_read_only off for their own
  // sessions; a Redis pause is lifted with Thaw). For a side taken out of client routing, which a
  // stream of tandem must still write. Errors: kFailedPrecondition when the server is not frozen
  // (MySQL); otherwise as Thaw.
  virtual Status AdmitPrivilegedWriters() { return Status::Ok(); }

  // Whether ordinary clients can write now, read from the server.
  virtual Result<WriteFreezeState> State() = 0;

  // The server's log position now, as its change stream would report having passed it.
  // Errors: kFailedPrecondition when the server keeps no log a stream reads (MySQL binary log off);
  // connection errors.
  virtual Result<Position> CurrentPosition() = 0;

 protected:
  WriteFreeze() = default;
};

}  // namespace tandem::engine
