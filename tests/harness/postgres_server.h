// File: tests/harness/postgres_server.h
//
// PostgresServer: a private PostgreSQL 15 for one test, started from a copy of a cached initdb'd
// data directory (data_dir_template.h), listening on 127.0.0.1 on a free port and on a unix socket
// in its data directory. Binaries come from $TANDEM_POSTGRES_BINDIR, else the newest
// /usr/lib/postgresql/*/bin.
//
// PostgreSQL refuses to run as root: when the harness runs as root, initdb, pg_basebackup and the
// server run as the OS account `postgres`, the server directory is owned by it, and every
// ancestor of the parent directory must be searchable by it (checked, with the fix in the error).
//
// Accounts and access (pg_hba.conf):
//   postgres  superuser; local (unix socket) trust; what Execute()/Query() use.
//   tandem    LOGIN SUPERUSER REPLICATION, password "tandem-secret", owns database `tandem`;
//             what Uri() gives tests.
//   host 127.0.0.1/32: scram-sha-256 for every user and database, including replication.
// Settings: fsync=off, synchronous_commit=off, shared_buffers=64MB, timezone UTC, UTF8 with the
// C.UTF-8 locale, plus wal_level / slots / senders from PostgresOptions.
//
// Lifetime: the destructor stops the server (SIGINT = fast shutdown, SIGKILL after 30 s) and
// removes its directory (kept when TANDEM_TEST_KEEP_SERVER_DIRS is set). A server not started with
// `detach` dies with the test process.
//
// Thread safety: the const methods are safe for concurrent use (each call opens its own
// connection). Start/Stop/Release must not run concurrently with any other call on the object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/accounts.h"
#include "tests/harness/postgres_client.h"
#include "tests/harness/sql_rows.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wait.h"

namespace tandem::testing {

struct PostgresOptions {
  std::string wal_level = "logical";  // minimal | replica | logical
  int max_replication_slots = 10;
  int max_wal_senders = 10;
  // "name=value" lines appended to postgresql.conf (quote values as postgresql.conf wants).
  std::vector<std::string> extra_settings;
  // pg_hba.conf lines put above the harness's own host lines, so they win for the connections
  // they match (e.g. "hostssl all cert_user 127.0.0.1/32 cert", "hostnossl all all 127.0.0.1/32
  // reject"). The local (unix socket) lines the harness itself uses stay first.
  std::vector<std::string> extra_hba_lines;
  std::string name;     // subdirectory of parent_dir; "" = unique name
  bool detach = false;  // outlive this process (new session, no parent death signal)
  std::chrono::seconds startup_timeout = kDefaultServerTimeout;
};

class PostgresServer {
 public:
  // Starts a primary in a new directory under `parent_dir` (created if missing) and returns once
  // it accepts connections. Throws std::runtime_error with the tail of the server log.
  static std::unique_ptr<PostgresServer> Start(const std::string& parent_dir,
                                               const PostgresOptions& options = {});

  // Takes a base backup of `primary` (pg_basebackup -R -X stream, as the tandem account over TCP)
  // into a new directory under `parent_dir`, appends `extra_settings` (e.g.
  // "recovery_min_apply_delay=500ms") to its postgresql.conf and starts it as a hot standby
  // streaming from the primary. Returns once the standby accepts read-only connections.
  static std::unique_ptr<PostgresServer> StartStandbyOf(
      const PostgresServer& primary, const std::string& parent_dir,
      std::vector<std::string> extra_settings = {}, const std::string& name = "");

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }  // the postmaster; 0 once stopped or released
  bool is_standby() const { return is_standby_; }
  const std::string& dir() const { return dir_; }
  const std::string& data_dir() const { return data_dir_; }  // also the unix socket directory
  const std::string& log_path() const { return log_path_; }

  // postgres://tandem:tandem-secret@127.0.0.1:PORT/database
  std::string Uri(const std::string& database = "tandem") const;

  // The `postgres` superuser over the unix socket.
  PostgresConnectOptions AdminConnectOptions(const std::string& database = "tandem") const;
  PostgresClient ConnectAdmin(const std::string& database = "tandem") const;

  // Runs `sql` as `postgres` in `database`. Throws std::runtime_error with the SQL and message.
  void Execute(const std::string& sql, const std::string& database = "tandem") const;
  ResultRows Query(const std::string& sql, const std::string& database = "tandem") const;
  std::optional<std::string> QueryScalar(const std::string& sql,
                                         const std::string& database = "tandem") const;

  // Standby only: waits until it has replayed the primary's WAL up to its insert position now
  // (every commit acknowledged so far, synchronous_commit off included).
  void WaitForStandbyCatchUp(const PostgresServer& primary,
                             std::chrono::milliseconds timeout = kDefaultServerTimeout) const;

  // Fast shutdown (SIGINT), SIGKILL if not exited after 30 s. Idempotent; keeps the directory.
  void Stop();

  // Leaves the server running and forgets it (see MariaDbServer::Release). Returns its PID.
  pid_t Release();

 private:
  PostgresServer() = default;

  // Picks a port and launches the postmaster on data_dir_, retrying on port conflicts.
  void Launch(bool detach, std::chrono::seconds timeout);

  std::string dir_;
  std::string data_dir_;
  std::string log_path_;
  uint16_t port_ = 0;
  bool is_standby_ = false;
  ChildProcess process_;
  bool released_ = false;
};

// The directory holding initdb, postgres and pg_basebackup. Throws if none is found.
std::string PostgresBinDir();

// The account PostgreSQL processes run as: `postgres` when running as root, else nullopt (the
// current user).
std::optional<RunAs> PostgresAccount();

}  // namespace tandem::testing
