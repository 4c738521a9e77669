// File: tests/harness/server_process.h
//
// What the three local server classes share: a per-server directory under the caller's parent
// directory, and launching a server child whose readiness is proven by a real connection, with
// the server log's tail in every startup error and a retry signal when its port was taken.
//
// Thread safety: the functions are safe for concurrent use.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "tests/harness/subprocess.h"

namespace tandem::testing {

// The outcome of LaunchServer(): ready, or the port was taken (pick another and retry).
enum class LaunchOutcome { kReady, kPortConflict };

// Spawns `spawn` and calls `ready()` until it returns true (kReady: the child is moved to
// *process). `ready` may throw while the server is still starting; the last message is kept for
// the timeout error. If the child exits first and its log says the port is in use, returns
// kPortConflict. Otherwise throws std::runtime_error naming `what`, how the child ended or that it
// was not ready after `timeout` (then it is killed), the last readiness error and the log tail.
LaunchOutcome LaunchServer(const SpawnOptions& spawn, const std::string& what,
                           std::chrono::milliseconds timeout, const std::function<bool()>& ready,
                           ChildProcess* process);

// The directory for a new server: parent_dir/name, or parent_dir/<kind>-<pid>-<counter> when
// `name` is empty. Throws std::runtime_error if it already exists (a previous server's data is
// never reused or clobbered).
std::string NewServerDirectory(const std::string& parent_dir, const std::string& kind,
                               const std::string& name);

// Throws std::runtime_error if a unix socket at `path` would exceed the 107-byte limit of
// sockaddr_un, naming the path and suggesting a shorter parent directory.
void CheckUnixSocketPath(const std::string& path);

// How many times a server start is retried on a port conflict.
inline constexpr int kPortAttempts = 5;

}  // namespace tandem::testing
