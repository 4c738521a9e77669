// File: tests/harness/mariadb_server.h
//
// MariaDbServer: a private mariadbd for one test, started from a copy of a cached, initialised
// data directory (data_dir_template.h), listening on 127.0.0.1 on a free port and on a unix socket
// in its data directory.
//
// Accounts:
//   root@localhost  unix_socket authentication (the OS user root); what Execute()/Query() use.
//                   When the harness does not run as root, the account is named after the OS user.
//   tandem@%        password "tandem-secret", ALL PRIVILEGES ON *.* WITH GRANT OPTION (so also
//                   REPLICATION SLAVE, REPLICATION CLIENT, SUPER, ...); what Uri() gives tests.
// The template data directory has no binary log and no user data, so a new server's GTID history
// is empty and every transaction it ever logged is in its binary log.
//
// Server settings: binary log in ROW/FULL by default (MariaDbOptions), --log-slave-updates,
// --gtid-strict-mode=ON, utf8mb4 server character set, performance_schema off, name resolution
// off, innodb_buffer_pool_size=128M, innodb_log_file_size=48M, and durability traded for speed
// (innodb_flush_log_at_trx_commit=2, sync_binlog=0): a crash of the machine may lose data, a
// crash of the server does not.
//
// Lifetime: the destructor stops the server (SIGTERM, SIGKILL after 30 s) and removes its
// directory (kept when TANDEM_TEST_KEEP_SERVER_DIRS is set). A server not started with
// `detach` dies with the test process (PR_SET_PDEATHSIG).
//
// Thread safety: port(), Uri(), Execute(), Query() and the other const methods are safe for
// concurrent use (each call opens its own connection, so session state such as SET SESSION does
// not carry from one call to the next: use ConnectAdmin() for that). Start/Stop/Restart/Release/
// StartReplicaOf must not run concurrently with each other; other threads may go on calling
// Execute()/Query()/ConnectAdmin() during a Restart() (they fail while the server is down).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/accounts.h"
#include "tests/harness/mysql_client.h"
#include "tests/harness/sql_rows.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wait.h"

namespace tandem::testing {

struct MariaDbOptions {
  std::string binlog_format = "ROW";      // ROW | STATEMENT | MIXED
  std::string binlog_row_image = "FULL";  // FULL | MINIMAL | NOBLOB
  bool log_bin = true;                    // false: --skip-log-bin
  int server_id = 0;                      // 0 = the server's port (unique on this machine)
  std::vector<std::string> extra_args;    // appended to the mariadbd command line
  std::string name;                       // subdirectory of parent_dir; "" = unique name
  bool detach = false;  // outlive this process (new session, no parent death signal)
  std::chrono::seconds startup_timeout = kDefaultServerTimeout;
};

class MariaDbServer {
 public:
  // Starts a server in a new directory under `parent_dir` (created if missing) and returns once
  // it accepts connections. Retries with another port if the chosen one was taken. Throws
  // std::runtime_error with the tail of the server log if it does not come up.
  static std::unique_ptr<MariaDbServer> Start(const std::string& parent_dir,
                                              const MariaDbOptions& options = {});

  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;
  ~MariaDbServer();

  uint16_t port() const { return port_; }
  int server_id() const { return server_id_; }
  // 0 once stopped or released.
  pid_t pid() const { return process_.pid(); }
  const std::string& dir() const { return dir_; }            // the server's own directory
  const std::string& data_dir() const { return data_dir_; }  // dir()/data
  const std::string& socket_path() const { return socket_path_; }
  const std::string& log_path() const { return log_path_; }  // dir()/server.log

  // mysql://tandem:tandem-secret@127.0.0.1:PORT[/database]
  std::string Uri(const std::string& database = "") const;

  // The admin account over the unix socket (root when running as root).
  MySqlConnectOptions AdminConnectOptions() const;
  MySqlClient ConnectAdmin() const;

  // Runs `sql` (one or more statements) as the admin account. Throws std::runtime_error with the
  // SQL and the server's message.
  void Execute(const std::string& sql) const;
  ResultRows Query(const std::string& sql) const;
  QueryResult QueryWithColumns(const std::string& sql) const;
  // The first column of the first row; nullopt for no row or NULL.
  std::optional<std::string> QueryScalar(const std::string& sql) const;

  // Makes this server a replica of `source` over TCP as the tandem account, with GTID
  // (MASTER_USE_GTID=slave_pos) from the start of the source's history, and waits until both
  // replication threads run. This server's own binary log and GTID positions are reset first
  // (RESET MASTER) so strict GTID mode accepts the source's sequence numbers.
  // REQUIRES: this server holds nothing it must keep in its binary log; the source's binary log
  // has not been purged. Throws with Last_IO_Error / Last_SQL_Error if replication does not start.
  void StartReplicaOf(const MariaDbServer& source,
                      std::chrono::milliseconds timeout = kDefaultServerTimeout);

  // Waits until this replica has applied everything `source` has logged so far (its current
  // @@gtid_binlog_pos). Throws on a replication error or after `timeout`.
  void WaitForReplicaCatchUp(const MariaDbServer& source,
                             std::chrono::milliseconds timeout = kDefaultServerTimeout) const;

  // Stops the server: SIGTERM, SIGKILL if it has not exited after 30 s. Idempotent. Keeps the
  // directory (the destructor removes it).
  void Stop();

  // Stops the server as Stop() does (SIGTERM: a clean shutdown) and starts it again with the
  // same command line: same port, data directory, binary log and GTID state. Returns once it
  // accepts connections; clients connected before see their connections drop and must reconnect
  // (a source or target restarted under a running `tandem sync`). Throws std::runtime_error with
  // the log tail if it does not come back within `timeout`, or if the port was taken meanwhile
  // (no other port is tried: clients expect this one).
  void Restart(std::chrono::milliseconds timeout = kDefaultServerTimeout);

  // Leaves the server running and forgets it: the destructor will neither stop it nor remove its
  // directory. Returns its PID. Used by tandem-test-servers start.
  pid_t Release();

 private:
  MariaDbServer() = default;

  std::string dir_;
  std::string data_dir_;
  std::string socket_path_;
  std::string log_path_;
  uint16_t port_ = 0;
  int server_id_ = 0;
  ChildProcess process_;
  SpawnOptions spawn_;  // the command line it was started with, for Restart()
  bool released_ = false;
};

}  // namespace tandem::testing
