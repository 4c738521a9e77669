#include "tests/harness/redis_server.h"

#include <signal.h>

#include <stdexcept>

#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/server_process.h"
#include "tests/harness/uri.h"

namespace tandem::testing {

std::unique_ptr<RedisServer> RedisServer::Start(const std::string& parent_dir,
                                                const RedisOptions& options) {
  MakeDirectories(parent_dir, 0755);
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->dir_ = NewServerDirectory(parent_dir, "redis", options.name);
  server->log_path_ = server->dir_ + "/server.log";
  server->password_ = options.password;
  MakeDirectories(server->dir_, 0755);
  for (int attempt = 1;; ++attempt) {
    server->port_ = PickFreePort();
    SpawnOptions spawn;
    spawn.argv = {"redis-server", "--port", std::to_string(server->port_), "--bind", "127.0.0.1",
                  "--dir", server->dir_, "--daemonize", "no", "--save", "", "--appendonly", "no",
                  "--pidfile", server->dir_ + "/redis.pid", "--logfile", "",
                  // A replica's full sync would otherwise wait 5 s for more replicas to join.
                  "--repl-diskless-sync-delay", "0"};
    if (!options.password.empty()) {
      spawn.argv.insert(spawn.argv.end(), {"--requirepass", options.password});
    }
    spawn.argv.insert(spawn.argv.end(), options.extra_args.begin(), options.extra_args.end());
    spawn.log_path = server->log_path_;
    spawn.working_dir = server->dir_;
    spawn.detach = options.detach;
    const RedisConnectOptions connect = server->ConnectOptions();
    LaunchOutcome outcome = LaunchServer(
        spawn, "redis-server in " + server->dir_, options.startup_timeout,
        [&connect] { return RedisClient::Connect(connect).Command({"PING"}) == "PONG"; },
        &server->process_);
    if (outcome == LaunchOutcome::kReady) {
      return server;
    }
    if (attempt == kPortAttempts) {
      throw std::runtime_error("redis-server in " + server->dir_ + ": port still in use after " +
                               std::to_string(kPortAttempts) + " attempts");
    }
  }
}

RedisServer::~RedisServer() {
  if (released_) {
    return;
  }
  Stop();
  if (!KeepServerDirectories() && !dir_.empty()) {
    try {
      RemoveTree(dir_);
    } catch (const std::exception&) {
      // Best effort in a destructor.
    }
  }
}

std::string RedisServer::Uri(int db) const {
  return BuildServerUri("redis", "", password_, "127.0.0.1", port_, std::to_string(db));
}

RedisConnectOptions RedisServer::ConnectOptions(int db) const {
  RedisConnectOptions options;
  options.host = "127.0.0.1";
  options.port = port_;
  options.password = password_;
  options.database = db;
  return options;
}

RedisClient RedisServer::Connect(int db) const { return RedisClient::Connect(ConnectOptions(db)); }

std::string RedisServer::Command(const std::vector<std::string>& argv, int db) const {
  return Connect(db).Command(argv);
}

RedisValue RedisServer::CommandValue(const std::vector<std::string>& argv, int db) const {
  return Connect(db).CommandValue(argv);
}

void RedisServer::StartReplicaOf(const RedisServer& source, std::chrono::milliseconds timeout) {
  RedisClient client = Connect();
  if (!source.password().empty()) {
    client.Command({"CONFIG", "SET", "masterauth", source.password()});
  }
  client.Command({"REPLICAOF", "127.0.0.1", std::to_string(source.port())});
  std::string info;
  if (!PollUntil(timeout, [&] {
        info = client.Command({"INFO", "replication"});
        return RedisInfoField(info, "master_link_status") == "up";
      })) {
    throw std::runtime_error(
        "redis replica " + dir_ + " of 127.0.0.1:" + std::to_string(source.port()) +
        " did not link up within " + std::to_string(timeout.count()) + " ms; INFO replication:\n" +
        info + "\n--- tail of " + log_path_ + " ---\n" + ReadFileTail(log_path_));
  }
}

void RedisServer::WaitForReplicaCatchUp(const RedisServer& source,
                                        std::chrono::milliseconds timeout) const {
  const long long target =
      std::stoll(RedisInfoField(source.Command({"INFO", "replication"}), "master_repl_offset"));
  RedisClient client = Connect();
  std::string offset;
  if (!PollUntil(timeout, [&] {
        std::string info = client.Command({"INFO", "replication"});
        offset = RedisInfoField(info, "master_repl_offset");
        return RedisInfoField(info, "master_link_status") == "up" && !offset.empty() &&
               std::stoll(offset) >= target;
      })) {
    throw std::runtime_error("redis replica " + dir_ + " reached offset " + offset + ", not " +
                             std::to_string(target) + ", within " +
                             std::to_string(timeout.count()) + " ms");
  }
}

void RedisServer::Stop() { process_.Stop(SIGTERM, std::chrono::seconds(30)); }

pid_t RedisServer::Release() {
  released_ = true;
  return process_.Release();
}

}  // namespace tandem::testing
