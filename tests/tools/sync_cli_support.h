// File: tests/tools/sync_cli_support.h
//
// What the `tandem sync` command-line tests share: a private source and target MariaDB pair
// (the tests need their own binary logs and server settings, and restart or misconfigure them),
// the tandem URIs with the passwords passed through TANDEM_SOURCE_PASSWORD /
// TANDEM_TARGET_PASSWORD, `tandem sync` running in the background as a child process that is
// always killed by PID and reaped, and questions asked of the target's `_tandem` bookkeeping.
//
// Thread safety: a SyncServers and a SyncProcess are owned by the test's thread; the query
// helpers open their own connections and are safe for concurrent use.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/local_servers.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {

// A source and a target server under one temporary directory, stopped and removed on destruction.
struct SyncServers {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<MariaDbServer> source;
  std::unique_ptr<MariaDbServer> target;
};

// Starts both servers (the target with the default options). Throws when one does not come up.
SyncServers StartSyncServers(const MariaDbOptions& source_options = {});

// mysql://tandem@127.0.0.1:PORT[/database]: no password (it goes through the environment).
std::string UriWithoutPassword(const MariaDbServer& server, const std::string& database = "");

// {"TANDEM_SOURCE_PASSWORD=...", "TANDEM_TARGET_PASSWORD=..."} for the harness account.
std::vector<std::string> PasswordEnvironment();

// `tandem sync --source S --target T <extra...>` with the harness account, run to completion
// (RunTandem: bounded by `timeout`, killed when it passes).
CommandOutcome RunSync(const MariaDbServer& source, const std::string& source_database,
                       const MariaDbServer& target, const std::vector<std::string>& extra,
                       std::chrono::seconds timeout = std::chrono::seconds(120));

// `tandem verify --source S/db --target T/db --format json <extra...>`, run to completion.
CommandOutcome RunVerify(const MariaDbServer& source, const MariaDbServer& target,
                         const std::string& database, const std::vector<std::string>& extra);

// `tandem sync` as a background child process: stdout and stderr appended to one log file. The
// destructor kills it (SIGKILL) and reaps it if it still runs, so no test leaves one behind.
class SyncProcess {
 public:
  // Spawns TANDEM_BINARY_PATH sync with `args` and the password environment.
  SyncProcess(const std::vector<std::string>& args, std::string log_path);
  ~SyncProcess();
  SyncProcess(const SyncProcess&) = delete;
  SyncProcess& operator=(const SyncProcess&) = delete;

  pid_t pid() const { return process_.pid(); }
  bool Running() { return process_.Running(); }

  // kill -9 by PID and reap. Returns true if it was still running (the kill landed).
  bool KillNine();

  // Sends `signal`, waits up to `grace` for the exit (then SIGKILL) and returns the exit code, or
  // -1 when it died of a signal (as after the SIGKILL fallback).
  int StopWith(int signal, std::chrono::milliseconds grace);

  // Waits up to `timeout` for it to exit by itself; the exit code, -1 by a signal, or nullopt
  // when it still runs.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout);

  // Everything it wrote so far.
  std::string Log() const;

 private:
  std::optional<int> ExitCode() const;

  ChildProcess process_;
  std::string log_path_;
};

// The target's `_tandem` bookkeeping for `stream` (absent tables count as empty).
bool TargetHasCopyInProgress(const MariaDbServer& target, const std::string& stream = "sync");
bool TargetHasCheckpoint(const MariaDbServer& target, const std::string& stream = "sync");

// The databases on `server` other than the system ones and `_tandem`, sorted.
std::vector<std::string> UserDatabases(const MariaDbServer& server);

// SELECT COUNT(*) FROM `table` (quoted by the caller: "`db`.`t`").
int64_t CountRows(const MariaDbServer& server, const std::string& table);

}  // namespace tandem::testing
