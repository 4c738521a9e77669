// File: connectors/postgres/postgres_write_freeze.h
//
// engine::WriteFreeze for PostgreSQL over one PostgresConnection (engine/write_freeze.h has the
// contract). PostgresDatabase hands it out through Database::write_freeze().
//
//   call             statements (all in autocommit: ALTER SYSTEM refuses a transaction block)
//   Freeze           ALTER SYSTEM SET default_transaction_read_only = on; SET
//                    default_transaction_read_only = off (this session only, see below);
//                    pg_reload_conf(); wait until this backend has re-read the configuration
//                    (pg_conf_load_time() moves); a grace of kReloadGrace; F = clock_timestamp();
//                    wait up to lock_wait while client backends have a transaction begun before F
//                    (pg_stat_activity xact_start < F); pg_terminate_backend each one still there;
//                    wait until they have exited
//   Thaw             ALTER SYSTEM RESET default_transaction_read_only; pg_reload_conf(); wait for
//                    the re-read
//   State            pg_settings.reset_val of default_transaction_read_only: the value the server
//                    configuration gives sessions (what SHOW shows in a session that did not SET
//                    it), immune to this session's own SET
//   CurrentPosition  pg_current_wal_lsn() when the WAL has been written through every record
//                    inserted so far (pg_current_wal_insert_lsn(); see WalWrittenThrough), else
//                    that insert position; in both cases flushed through it (FlushWal,
//                    postgres_wal_flush.h, when it is not yet: logical decoding reads flushed WAL)
//
// This session: Freeze sets default_transaction_read_only = off for its own session, so the
// connection stays usable for writes after a freeze and right after a thaw (when its backend may
// not have processed the reload signal yet). The controller's connection is not an ordinary client.
//
// Walsenders (the change stream's logical replication connection) and background workers are not
// client backends: never waited for, never terminated.
//
// Privileges (checked before anything changes; kPermissionDenied names the GRANTs that fix it):
// superuser, or on PostgreSQL 15+ ALTER SYSTEM on the parameter, EXECUTE on pg_reload_conf(),
// pg_signal_backend (terminating) and pg_read_all_stats (seeing other roles' xact_start).
//
// Thread safety: owned by the thread that owns the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/postgres/postgres_connection.h"
#include "engine/position.h"
#include "engine/write_freeze.h"

namespace tandem::connectors::postgres {

// How long Freeze waits after this backend has re-read the configuration before taking F: every
// other backend was signalled in the same postmaster loop, so a transaction that begins read-write
// (its backend had checked for a pending reload just before the signal arrived) begins within
// microseconds of it, unless its process is descheduled longer than this.
inline constexpr std::chrono::milliseconds kReloadGrace{100};

// REQUIRES: `connection` outlives the returned object.
std::unique_ptr<engine::WriteFreeze> NewPostgresWriteFreeze(PostgresConnection& connection);

// What the logged-in role may do, as Freeze needs it.
struct WriteFreezePrivileges {
  bool superuser = false;
  bool alter_system = false;    // ALTER SYSTEM on default_transaction_read_only
  bool reload_conf = false;     // EXECUTE on pg_reload_conf()
  bool signal_backend = false;  // member of pg_signal_backend
  bool read_all_stats = false;  // member of pg_read_all_stats
};

// "" when `privileges` suffice for Freeze (`thaw` false) or Thaw (`thaw` true: only ALTER SYSTEM
// and pg_reload_conf); else the statements that grant what is missing to `role` (quoted as an
// identifier), e.g. "GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO app; GRANT
// pg_signal_backend TO app (or ALTER ROLE app SUPERUSER)". Before PostgreSQL 15
// (`server_version` is server_version_num) only a superuser may ALTER SYSTEM, so the fix is
// "ALTER ROLE app SUPERUSER".
std::string MissingWriteFreezeGrants(const WriteFreezePrivileges& privileges, std::string_view role,
                                     int server_version, bool thaw);

// Whether WAL written up to `written` (pg_current_wal_lsn) holds every record inserted before
// `insert` (pg_current_wal_insert_lsn, which names where the next record starts: just after a
// page header when the last record ended on a page boundary). True when written >= insert, or
// when written is exactly the page boundary whose header (24 bytes, 40 at a segment start) insert
// points past.
bool WalWrittenThrough(engine::Lsn insert, engine::Lsn written, uint64_t wal_block_size,
                       uint64_t wal_segment_size);

}  // namespace tandem::connectors::postgres
