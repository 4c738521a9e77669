// File: tests/harness/redis_server.h
//
// RedisServer: a private redis-server for one test on 127.0.0.1 and a free port, with
// persistence off (--save "" --appendonly no), its working directory (--dir) in its own server
// directory and its log in server.log there. Password "tandem-secret" by default (requirepass).
// Full syncs to replicas start at once (--repl-diskless-sync-delay 0).
//
// Lifetime: the destructor stops the server (SIGTERM, SIGKILL after 30 s) and removes its
// directory (kept when TANDEM_TEST_KEEP_SERVER_DIRS is set). A server not started with `detach`
// dies with the test process.
//
// Thread safety: the const methods are safe for concurrent use (each call opens its own
// connection). Start/Stop/Release/StartReplicaOf must not run concurrently with any other call on
// the same object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/accounts.h"
#include "tests/harness/redis_client.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/wait.h"

namespace tandem::testing {

struct RedisOptions {
  std::string password = kTestPassword;  // "" = no requirepass
  std::vector<std::string> extra_args;   // appended to the redis-server command line
  std::string name;                      // subdirectory of parent_dir; "" = unique name
  bool detach = false;  // outlive this process (new session, no parent death signal)
  std::chrono::seconds startup_timeout = kDefaultServerTimeout;
};

class RedisServer {
 public:
  // Starts a server in a new directory under `parent_dir` (created if missing) and returns once
  // it answers PING. Throws std::runtime_error with the tail of the server log.
  static std::unique_ptr<RedisServer> Start(const std::string& parent_dir,
                                            const RedisOptions& options = {});

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer();

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }  // 0 once stopped or released
  const std::string& password() const { return password_; }
  const std::string& dir() const { return dir_; }
  const std::string& log_path() const { return log_path_; }

  // redis://:tandem-secret@127.0.0.1:PORT/db
  std::string Uri(int db = 0) const;

  RedisConnectOptions ConnectOptions(int db = 0) const;
  RedisClient Connect(int db = 0) const;

  // Runs one command in database `db` and returns the reply as RedisValue::ToString() formats
  // it. Throws std::runtime_error on an error reply or a connection failure.
  std::string Command(const std::vector<std::string>& argv, int db = 0) const;
  RedisValue CommandValue(const std::vector<std::string>& argv, int db = 0) const;

  // Makes this server a replica of `source` (CONFIG SET masterauth, REPLICAOF) and waits until
  // INFO replication says master_link_status:up (the initial full sync is done). This server's
  // data is replaced by the source's.
  void StartReplicaOf(const RedisServer& source,
                      std::chrono::milliseconds timeout = kDefaultServerTimeout);

  // Waits until this replica's replication offset reaches the source's current
  // master_repl_offset.
  void WaitForReplicaCatchUp(const RedisServer& source,
                             std::chrono::milliseconds timeout = kDefaultServerTimeout) const;

  // SIGTERM, SIGKILL if not exited after 30 s. Idempotent; keeps the directory.
  void Stop();

  // Leaves the server running and forgets it (see MariaDbServer::Release). Returns its PID.
  pid_t Release();

 private:
  RedisServer() = default;

  std::string dir_;
  std::string log_path_;
  std::string password_;
  uint16_t port_ = 0;
  ChildProcess process_;
  bool released_ = false;
};

}  // namespace tandem::testing
