// File: tests/harness/subprocess.h
//
// Child processes for the real-server test harness: spawning a server with its output in a log
// file, running a helper command to completion (mariadb-install-db, initdb, pg_basebackup, cp),
// and stopping a process by PID with a deadline and a SIGKILL fallback.
//
// Every child is forked from one long-lived launcher thread, so a child that asks for a parent
// death signal (SpawnOptions::detach == false) is killed when the test process exits, not when the
// thread that happened to start it exits (PR_SET_PDEATHSIG is tied to the forking thread).
// Between fork and exec the child only makes async-signal-safe system calls; all strings are
// prepared before the fork.
//
// Thread safety: the free functions are safe for concurrent use. A ChildProcess is owned by one
// thread at a time (move it, do not share it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tandem::testing {

// The OS account a child runs as (PostgreSQL refuses to run as root).
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  std::string home;
};

// Looks the account up in the user database. Throws std::runtime_error if it does not exist.
RunAs LookupUser(const std::string& name);

struct SpawnOptions {
  // argv[0] is the program: an absolute path, or a name looked up in PATH.
  std::vector<std::string> argv;
  // "NAME=value" entries added to (or replacing) the inherited environment.
  std::vector<std::string> env;
  // Inherited environment variables whose names start with one of these are dropped (e.g. "PG" so
  // a developer's PGHOST does not leak into pg_basebackup).
  std::vector<std::string> drop_env_prefixes;
  // stdout and stderr are appended to this file (created if missing); "" = /dev/null. stdin is
  // always /dev/null.
  std::string log_path;
  // Working directory of the child; "" = inherit.
  std::string working_dir;
  // Run as this account (requires root); nullopt = as the current user.
  std::optional<RunAs> run_as;
  // false (default): the child gets SIGKILL when this process exits (PR_SET_PDEATHSIG).
  // true: the child starts a new session and outlives this process (tandem-test-servers start).
  bool detach = false;
};

// A spawned child process. Movable, not copyable. The destructor stops the child (SIGTERM, then
// SIGKILL after 30 s) unless it was Release()d.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Forks and execs. Throws std::runtime_error if fork fails or the program cannot be executed
  // (the exec error is reported back through a close-on-exec pipe).
  static ChildProcess Spawn(const SpawnOptions& options);

  // 0 when empty (default-constructed, moved from, released or reaped).
  pid_t pid() const { return pid_; }

  // True while the child has not exited. Reaps it (without blocking) when it has.
  bool Running();

  // Wait status of the exited child (as from waitpid), or nullopt while it runs.
  std::optional<int> wait_status() const { return wait_status_; }

  // Waits until the child exits or `timeout` passes; returns true if it exited.
  bool WaitForExit(std::chrono::milliseconds timeout);

  // Sends `signal`, waits up to `grace` for the child to exit, then sends SIGKILL and reaps it.
  // No-op if the child already exited.
  void Stop(int signal = 15 /*SIGTERM*/,
            std::chrono::milliseconds grace = std::chrono::seconds(30));

  // Forgets the child without stopping it (it keeps running; nobody in this process reaps it).
  // Returns its PID.
  pid_t Release();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_ = 0;
  bool exited_ = false;
  std::optional<int> wait_status_;
};

// Runs a command to completion. Throws std::runtime_error naming the command, its exit status and
// the tail of its log if it fails to start, exits non-zero, or runs longer than `timeout` (then it
// is killed).
void RunCommand(const SpawnOptions& options,
                std::chrono::milliseconds timeout = std::chrono::minutes(5));

// "exited with status 1", "killed by signal 9".
std::string DescribeWaitStatus(int wait_status);

// The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat), which
// together with the PID names a process unambiguously (PIDs are reused). nullopt if there is no
// such process or it is a zombie.
std::optional<unsigned long long> ProcessStartTime(pid_t pid);

// Stops a process this process may not be the parent of (a server recorded in a PID file by an
// earlier `tandem-test-servers start`): if `pid` is alive and, when `start_time` is given, still
// the same process, sends `signal`, waits up to `grace` for it to exit, then sends SIGKILL and
// waits up to 10 s more. Returns false if the process was still there after that.
bool StopProcessByPid(pid_t pid, std::optional<unsigned long long> start_time, int signal,
                      std::chrono::milliseconds grace);

}  // namespace tandem::testing
