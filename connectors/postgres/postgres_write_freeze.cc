#include "connectors/postgres/postgres_write_freeze.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "connectors/postgres/postgres_range_query.h"
#include "connectors/postgres/postgres_wal_flush.h"

// Why the freeze holds, and where it does not (engine/write_freeze.h states the guarantee).
//
// default_transaction_read_only is read by a backend when a transaction starts (StartTransaction
// copies it into XactReadOnly); a backend re-reads the configuration after a SIGHUP at the top of
// its command loop, after reading a command and before running it. pg_reload_conf() signals the
// postmaster, which re-reads the files and signals every backend in one loop. So after the reload:
//   - an idle session runs its next command with the new default: read-only;
//   - a transaction already open (BEGIN ... or a statement running) keeps its read-write mode: it
//     began before the signal, hence before F, and is waited for, then terminated;
//   - a backend that had just passed its reload check when the signal arrived starts its
//     transaction read-write, microseconds after the signal. Freeze takes F only kReloadGrace
//     (100 ms) after this backend processed the same signal, so such a transaction has xact_start
//     < F and is terminated as well.
// Residual risks, precisely:
//   1. a backend descheduled for longer than kReloadGrace between its reload check and the start
//      of its transaction (StartTransaction takes xact_start right after) begins read-write with
//      xact_start >= F and is neither waited for nor terminated;
//   2. a session that asks for it (SET TRANSACTION READ WRITE, SET default_transaction_read_only =
//      off, BEGIN READ WRITE), or a role or database with its own default_transaction_read_only
//      setting (ALTER ROLE/DATABASE ... SET), is not read-only: PostgreSQL has no server-wide
//      read-only mode. The cutover also closes client connections through HAProxy.
// A backend terminated while committing finishes its commit before it exits; Freeze waits until
// every terminated backend has exited, so such a commit is in the WAL before CurrentPosition.
//
// State reads pg_settings.reset_val: the value RESET (and a session that never SET it) gets, i.e.
// the configuration files as this backend last loaded them. Unlike SHOW it ignores this session's
// own SET default_transaction_read_only = off; unlike pg_file_settings it is readable by every
// role and reflects what was loaded, not what the files say now (an ALTER SYSTEM not yet reloaded
// is not a freeze). This backend processes a pending reload before each statement, so it lags the
// postmaster only while a reload is in flight.
//
// CurrentPosition reads the insert position and pg_current_wal_lsn() (written): with
// synchronous_commit = off a commit is acknowledged once its record is inserted, before it is
// written, so the write position alone could name a point before an acknowledged commit. When the
// WAL is written through the insert position, the write position it is, once the WAL is flushed
// through it (FlushThrough), since logical decoding reads flushed WAL only. When it is not, the
// WAL writer would write and flush it within wal_writer_delay; CurrentPosition has it done at once
// instead (FlushWal, postgres_wal_flush.h) and returns the insert position.

namespace tandem::connectors::postgres {
namespace {

using engine::Lsn;
using engine::Result;
using engine::Status;
using Clock = std::chrono::steady_clock;

// Bounds of the waits that do not depend on the caller: the reload of this backend, the exit of
// terminated backends, and the WAL writer.
constexpr std::chrono::seconds kReloadTimeout{10};
constexpr std::chrono::seconds kExitTimeout{10};
constexpr std::chrono::seconds kWalWriteTimeout{15};
constexpr std::chrono::milliseconds kPollInterval{10};

constexpr uint64_t kShortPageHeaderBytes = 24;  // MAXALIGN(sizeof(XLogPageHeaderData))
constexpr uint64_t kLongPageHeaderBytes = 40;   // MAXALIGN(sizeof(XLogLongPageHeaderData))

std::string Join(const std::vector<int64_t>& values, const char* separator) {
  std::string text;
  for (int64_t value : values) {
    text += (text.empty() ? "" : separator) + std::to_string(value);
  }
  return text;
}

class PostgresWriteFreeze final : public engine::WriteFreeze {
 public:
  explicit PostgresWriteFreeze(PostgresConnection& connection) : connection_(connection) {}

  Result<engine::FreezeReport> Freeze(const engine::FreezeOptions& options) override {
    const auto started = Clock::now();
    TANDEM_ASSIGN_OR_RETURN(std::string load_time, Prepare(/*thaw=*/false));
    TANDEM_RETURN_IF_ERROR(
        connection_
            .Query("freezing writes (ALTER SYSTEM SET default_transaction_read_only = on)",
                   "ALTER SYSTEM SET default_transaction_read_only = on")
            .status());
    // This session stays writable whatever the server default is (see the header). After
    // ALTER SYSTEM, which refuses to run inside a transaction block (the server says so), so that
    // this SET cannot be a transactional one undone by a rollback.
    TANDEM_RETURN_IF_ERROR(connection_
                               .Query("keeping the controller's session writable",
                                      "SET default_transaction_read_only = off")
                               .status());
    TANDEM_RETURN_IF_ERROR(Reload(load_time));
    TANDEM_ASSIGN_OR_RETURN(engine::WriteFreezeState state, State());
    if (!state.frozen) {
      return engine::FailedPrecondition(
          "ALTER SYSTEM SET default_transaction_read_only = on did not take effect on " +
          connection_.config().Redacted() + " (" + state.detail +
          "): a setting for the role or database (ALTER ROLE/DATABASE ... SET "
          "default_transaction_read_only) overrides it; reset it and retry");
    }

    std::this_thread::sleep_for(kReloadGrace);
    TANDEM_ASSIGN_OR_RETURN(
        PgResult now,
        connection_.Query("reading the freeze time", "SELECT pg_catalog.clock_timestamp()::text"));
    const std::string freeze_time = now.String(0, 0);

    // Wait for transactions begun before the freeze to end by themselves.
    const auto deadline = Clock::now() + options.lock_wait;
    std::vector<int64_t> pids;
    while (true) {
      TANDEM_ASSIGN_OR_RETURN(pids, OlderTransactions(freeze_time));
      if (pids.empty() || Clock::now() >= deadline) {
        break;
      }
      std::this_thread::sleep_for(
          std::min<Clock::duration>(kPollInterval, deadline - Clock::now()));
    }

    int terminated = 0;
    std::vector<int64_t> refused;
    for (int64_t pid : pids) {
      // Re-checked in the same statement: a session whose transaction ended meanwhile is spared.
      Result<PgResult> result = connection_.Query(
          "terminating backend " + std::to_string(pid),
          "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
          "WHERE pid = $1::int4 AND xact_start < $2::timestamptz",
          {std::to_string(pid), freeze_time});
      if (!result.ok()) {
        if (result.status().code() != engine::StatusCode::kPermissionDenied) {
          return result.status();
        }
        refused.push_back(pid);
        continue;
      }
      if (result->rows() == 1 && result->Bool(0, 0)) {
        ++terminated;
      }
    }
    if (!refused.empty()) {
      return engine::PermissionDenied(
          "cannot freeze writes on " + connection_.config().Redacted() + ": backends " +
          Join(refused, ", ") +
          " hold transactions begun before the freeze and may not be terminated by this role "
          "(superuser sessions: only a superuser may terminate them); connect as a superuser or "
          "end those sessions, then call Freeze again");
    }
    TANDEM_RETURN_IF_ERROR(WaitForExit(pids));

    // A prepared (two-phase) transaction has no session to end, and COMMIT PREPARED is allowed
    // in a read-only transaction: its writes could commit after the freeze, past the position the
    // drain waits for. The cutover cannot go on while one exists.
    TANDEM_ASSIGN_OR_RETURN(
        PgResult prepared,
        connection_.Query("listing prepared transactions",
                          "SELECT gid FROM pg_catalog.pg_prepared_xacts ORDER BY prepared"));
    if (prepared.rows() > 0) {
      std::string gids;
      for (int row = 0; row < prepared.rows() && row < 5; ++row) {
        gids += (row > 0 ? ", '" : "'") + prepared.String(row, 0) + "'";
      }
      return engine::FailedPrecondition(
          "cannot freeze writes on " + connection_.config().Redacted() + ": " +
          std::to_string(prepared.rows()) + " prepared transaction(s) (" + gids +
          (prepared.rows() > 5 ? ", ..." : "") +
          ") could still commit after the freeze; finish them with COMMIT PREPARED or ROLLBACK "
          "PREPARED, then call Freeze again (the server stays read-only meanwhile)");
    }

    engine::FreezeReport report;
    report.sessions_ended = terminated;
    report.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    report.detail = "default_transaction_read_only=on; terminated " + std::to_string(terminated) +
                    " session" + (terminated == 1 ? "" : "s") +
                    " holding transactions begun before the freeze";
    return report;
  }

  Status Thaw() override {
    TANDEM_ASSIGN_OR_RETURN(std::string load_time, Prepare(/*thaw=*/true));
    TANDEM_RETURN_IF_ERROR(
        connection_
            .Query("thawing writes (ALTER SYSTEM RESET default_transaction_read_only)",
                   "ALTER SYSTEM RESET default_transaction_read_only")
            .status());
    TANDEM_RETURN_IF_ERROR(Reload(load_time));
    TANDEM_ASSIGN_OR_RETURN(engine::WriteFreezeState state, State());
    if (state.frozen) {
      return engine::FailedPrecondition(
          "ALTER SYSTEM RESET default_transaction_read_only did not make " +
          connection_.config().Redacted() + " writable (" + state.detail +
          "): postgresql.conf or a role/database setting sets it; remove that setting and "
          "reload");
    }
    return Status();
  }

  Result<engine::WriteFreezeState> State() override {
    TANDEM_ASSIGN_OR_RETURN(PgResult result,
                            connection_.Query("reading default_transaction_read_only",
                                              "SELECT reset_val FROM pg_catalog.pg_settings "
                                              "WHERE name = 'default_transaction_read_only'"));
    if (result.rows() != 1) {
      return engine::Internal("pg_settings has no default_transaction_read_only on " +
                              connection_.config().Redacted());
    }
    engine::WriteFreezeState state;
    state.frozen = result.View(0, 0) == "on";
    state.detail =
        "default_transaction_read_only=" + result.String(0, 0) + " (server configuration)";
    return state;
  }

  Result<engine::Position> CurrentPosition() override {
    const auto deadline = Clock::now() + kWalWriteTimeout;
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        connection_.Query(
            "reading the WAL position",
            "SELECT pg_catalog.pg_current_wal_insert_lsn()::text, "
            "pg_catalog.pg_current_wal_lsn()::text, "
            "(SELECT setting::int8 FROM pg_catalog.pg_settings WHERE name = 'wal_block_size'), "
            "(SELECT setting::int8 FROM pg_catalog.pg_settings "
            "WHERE name = 'wal_segment_size')"));
    TANDEM_ASSIGN_OR_RETURN(Lsn insert, engine::ParseLsn(result.View(0, 0)));
    TANDEM_ASSIGN_OR_RETURN(Lsn written, engine::ParseLsn(result.View(0, 1)));
    if (WalWrittenThrough(insert, written, static_cast<uint64_t>(result.Int(0, 2)),
                          static_cast<uint64_t>(result.Int(0, 3)))) {
      TANDEM_RETURN_IF_ERROR(FlushThrough(written, deadline));
      return engine::Position(written);
    }
    // Not written through yet (commits acknowledged under synchronous_commit = off): FlushWal has
    // the WAL written and flushed now, through a commit record of its own past `insert`, rather
    // than at the WAL writer's next round (up to wal_writer_delay away). `insert`, not the write
    // position after it: every commit acknowledged before this call ends at or before `insert`,
    // and a stream decodes past it once it has read that commit record. (A later position would
    // name FlushWal's own transaction, which a stream handed over at `insert` has not read yet.)
    TANDEM_RETURN_IF_ERROR(FlushWal(connection_, Remaining(deadline)).status());
    return engine::Position(insert);
  }

 private:
  // Waits until the WAL is flushed through `position`: a logical walsender decodes only flushed
  // WAL, so a stream reaches a position only once it is flushed. Written but unflushed WAL (records
  // after the last commit: aborts of ended sessions, running-transaction snapshots) may otherwise
  // wait for the next flush a later commit or the WAL writer happens to make. FlushWal
  // (postgres_wal_flush.h) flushes through its own commit record, beyond `position`.
  Status FlushThrough(Lsn position, Clock::time_point deadline) {
    TANDEM_ASSIGN_OR_RETURN(Lsn flushed, ReadWalFlushPosition(connection_));
    if (flushed >= position) return Status::Ok();
    TANDEM_ASSIGN_OR_RETURN(flushed, FlushWal(connection_, Remaining(deadline)));
    if (flushed >= position) return Status::Ok();
    return engine::Internal(connection_.config().Redacted() + " flushed its WAL up to " +
                            engine::FormatLsn(flushed) + " only, not through " +
                            engine::FormatLsn(position) + ", which it had written");
  }

  static std::chrono::milliseconds Remaining(Clock::time_point deadline) {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  }

  // Checks the privileges. Returns this backend's pg_conf_load_time(), for Reload.
  Result<std::string> Prepare(bool thaw) {
    const bool has_parameter_privileges = connection_.server_version() >= 150000;
    const std::string alter_system =
        has_parameter_privileges
            ? "pg_catalog.has_parameter_privilege('default_transaction_read_only', 'ALTER SYSTEM')"
            : "r.rolsuper";
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        connection_.Query(
            "checking the privileges for the write freeze",
            "SELECT r.rolname, r.rolsuper, " + alter_system +
                ", pg_catalog.has_function_privilege('pg_catalog.pg_reload_conf()', 'EXECUTE'), "
                "pg_catalog.pg_has_role('pg_signal_backend', 'USAGE'), "
                "pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'), "
                "pg_catalog.pg_conf_load_time()::text "
                "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user"));
    if (result.rows() != 1) {
      return engine::Internal("the logged-in role is missing from pg_roles on " +
                              connection_.config().Redacted());
    }
    WriteFreezePrivileges privileges;
    privileges.superuser = result.Bool(0, 1);
    privileges.alter_system = result.Bool(0, 2);
    privileges.reload_conf = result.Bool(0, 3);
    privileges.signal_backend = result.Bool(0, 4);
    privileges.read_all_stats = result.Bool(0, 5);
    const std::string role = result.String(0, 0);
    const std::string fix =
        MissingWriteFreezeGrants(privileges, role, connection_.server_version(), thaw);
    if (!fix.empty()) {
      return engine::PermissionDenied("role " + QuoteIdentifier(role) + " may not " +
                                      (thaw ? "thaw" : "freeze") + " writes on " +
                                      connection_.config().Redacted() + "; fix: " + fix);
    }
    return result.String(0, 6);
  }

  // pg_reload_conf(), then waits until this backend has re-read the configuration (its
  // pg_conf_load_time() passes `load_time`): the postmaster re-read it first and signalled every
  // backend in the same loop.
  Status Reload(const std::string& load_time) {
    TANDEM_ASSIGN_OR_RETURN(PgResult reload,
                            connection_.Query("reloading the server configuration",
                                              "SELECT pg_catalog.pg_reload_conf()"));
    if (!reload.Bool(0, 0)) {
      return engine::FailedPrecondition("pg_reload_conf() could not signal the postmaster of " +
                                        connection_.config().Redacted());
    }
    const auto deadline = Clock::now() + kReloadTimeout;
    while (true) {
      TANDEM_ASSIGN_OR_RETURN(
          PgResult result,
          connection_.Query("waiting for the configuration reload",
                            "SELECT pg_catalog.pg_conf_load_time() > $1::timestamptz",
                            {load_time}));
      if (result.Bool(0, 0)) {
        return Status();
      }
      if (Clock::now() >= deadline) {
        return engine::Timeout(connection_.config().Redacted() +
                               " did not re-read its configuration within " +
                               std::to_string(kReloadTimeout.count()) +
                               " s of pg_reload_conf(): look for errors about postgresql.conf or "
                               "postgresql.auto.conf in its log");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  // Client backends other than this one whose transaction began before `freeze_time`.
  Result<std::vector<int64_t>> OlderTransactions(const std::string& freeze_time) {
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        connection_.Query("listing sessions in transactions begun before the freeze",
                          "SELECT pid FROM pg_catalog.pg_stat_activity "
                          "WHERE backend_type = 'client backend' "
                          "AND pid <> pg_catalog.pg_backend_pid() "
                          "AND xact_start < $1::timestamptz ORDER BY pid",
                          {freeze_time}));
    std::vector<int64_t> pids;
    for (int row = 0; row < result.rows(); ++row) {
      pids.push_back(result.Int(row, 0));
    }
    return pids;
  }

  // Waits until none of `pids` is a backend any more.
  Status WaitForExit(const std::vector<int64_t>& pids) {
    if (pids.empty()) {
      return Status();
    }
    const std::string array = "{" + Join(pids, ",") + "}";
    const auto deadline = Clock::now() + kExitTimeout;
    while (true) {
      TANDEM_ASSIGN_OR_RETURN(PgResult result,
                              connection_.Query("waiting for terminated backends to exit",
                                                "SELECT pid FROM pg_catalog.pg_stat_activity "
                                                "WHERE pid = ANY($1::int4[]) ORDER BY pid",
                                                {array}));
      if (result.rows() == 0) {
        return Status();
      }
      if (Clock::now() >= deadline) {
        std::vector<int64_t> left;
        for (int row = 0; row < result.rows(); ++row) {
          left.push_back(result.Int(row, 0));
        }
        return engine::Timeout("backends " + Join(left, ", ") + " of " +
                               connection_.config().Redacted() + " had not exited " +
                               std::to_string(kExitTimeout.count()) +
                               " s after pg_terminate_backend; the freeze is in place, call "
                               "Freeze again once they are gone");
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  PostgresConnection& connection_;
};

}  // namespace

std::unique_ptr<engine::WriteFreeze> NewPostgresWriteFreeze(PostgresConnection& connection) {
  return std::make_unique<PostgresWriteFreeze>(connection);
}

std::string MissingWriteFreezeGrants(const WriteFreezePrivileges& privileges, std::string_view role,
                                     int server_version, bool thaw) {
  if (privileges.superuser) {
    return "";
  }
  const std::string quoted = QuoteIdentifier(role);
  if (server_version < 150000) {
    // Before 15 ALTER SYSTEM is for superusers only.
    return "ALTER ROLE " + quoted +
           " SUPERUSER (before PostgreSQL 15 only a superuser may run "
           "ALTER SYSTEM)";
  }
  std::vector<std::string> grants;
  if (!privileges.alter_system) {
    grants.push_back("GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO " + quoted);
  }
  if (!privileges.reload_conf) {
    grants.push_back("GRANT EXECUTE ON FUNCTION pg_catalog.pg_reload_conf() TO " + quoted);
  }
  if (!thaw) {
    std::string roles;
    if (!privileges.signal_backend) {
      roles = "pg_signal_backend";
    }
    if (!privileges.read_all_stats) {
      roles += (roles.empty() ? "" : ", ") + std::string("pg_read_all_stats");
    }
    if (!roles.empty()) {
      grants.push_back("GRANT " + roles + " TO " + quoted);
    }
  }
  if (grants.empty()) {
    return "";
  }
  std::string fix;
  for (const std::string& grant : grants) {
    fix += (fix.empty() ? "" : "; ") + grant;
  }
  return fix + " (or ALTER ROLE " + quoted + " SUPERUSER)";
}

bool WalWrittenThrough(Lsn insert, Lsn written, uint64_t wal_block_size,
                       uint64_t wal_segment_size) {
  if (written >= insert) {
    return true;
  }
  if (wal_block_size == 0 || wal_segment_size == 0 || written.value % wal_block_size != 0) {
    return false;
  }
  const uint64_t header =
      written.value % wal_segment_size == 0 ? kLongPageHeaderBytes : kShortPageHeaderBytes;
  return insert.value == written.value + header;
}

}  // namespace tandem::connectors::postgres
