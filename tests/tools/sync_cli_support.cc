#include "tests/tools/sync_cli_support.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>

namespace tandem::testing {

SyncServers StartSyncServers(const MariaDbOptions& source_options) {
  SyncServers servers;
  servers.dir = std::make_unique<TempDir>("tandem-sync");
  servers.source = MariaDbServer::Start(servers.dir->path(), source_options);
  servers.target = MariaDbServer::Start(servers.dir->path());
  return servers;
}

std::string UriWithoutPassword(const MariaDbServer& server, const std::string& database) {
  return std::string("mysql://") + kTestUser + "@127.0.0.1:" + std::to_string(server.port()) +
         (database.empty() ? "" : "/" + database);
}

std::vector<std::string> PasswordEnvironment() {
  return {std::string("TANDEM_SOURCE_PASSWORD=") + kTestPassword,
          std::string("TANDEM_TARGET_PASSWORD=") + kTestPassword};
}

CommandOutcome RunSync(const MariaDbServer& source, const std::string& source_database,
                       const MariaDbServer& target, const std::vector<std::string>& extra,
                       std::chrono::seconds timeout) {
  std::vector<std::string> args = {"sync", "--source", UriWithoutPassword(source, source_database),
                                   "--target", UriWithoutPassword(target)};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunTandem(args, PasswordEnvironment(), timeout);
}

CommandOutcome RunVerify(const MariaDbServer& source, const MariaDbServer& target,
                         const std::string& database, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"verify",
                                   "--source",
                                   UriWithoutPassword(source, database),
                                   "--target",
                                   UriWithoutPassword(target, database),
                                   "--format",
                                   "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunTandem(args, PasswordEnvironment(), std::chrono::seconds(120));
}

SyncProcess::SyncProcess(const std::vector<std::string>& args, std::string log_path)
    : log_path_(std::move(log_path)) {
  SpawnOptions spawn;
  spawn.argv = {TANDEM_BINARY_PATH, "sync"};
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.env = PasswordEnvironment();
  spawn.log_path = log_path_;
  process_ = ChildProcess::Spawn(spawn);
}

SyncProcess::~SyncProcess() { process_.Stop(SIGKILL, std::chrono::seconds(10)); }

bool SyncProcess::KillNine() {
  const bool running = process_.Running();
  process_.Stop(SIGKILL, std::chrono::seconds(10));
  return running;
}

std::optional<int> SyncProcess::ExitCode() const {
  const std::optional<int> status = process_.wait_status();
  if (!status) {
    return std::nullopt;
  }
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

int SyncProcess::StopWith(int signal, std::chrono::milliseconds grace) {
  process_.Stop(signal, grace);
  return ExitCode().value_or(-1);
}

std::optional<int> SyncProcess::WaitForExit(std::chrono::milliseconds timeout) {
  if (!process_.WaitForExit(timeout)) {
    return std::nullopt;
  }
  return ExitCode();
}

std::string SyncProcess::Log() const { return ReadFileTail(log_path_, 1 << 20); }

namespace {

bool TandemTableExists(const MariaDbServer& server, const std::string& table) {
  return server
             .QueryScalar(
                 "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                 "'_tandem' AND TABLE_NAME = '" +
                 table + "'")
             .value_or("0") != "0";
}

}  // namespace

bool TargetHasCopyInProgress(const MariaDbServer& target, const std::string& stream) {
  return TandemTableExists(target, "copy") &&
         target.QueryScalar("SELECT COUNT(*) FROM _tandem.copy WHERE stream = '" + stream + "'")
                 .value_or("0") != "0";
}

bool TargetHasCheckpoint(const MariaDbServer& target, const std::string& stream) {
  return TandemTableExists(target, "checkpoint") &&
         target.QueryScalar("SELECT COUNT(*) FROM _tandem.checkpoint WHERE stream = '" + stream +
                            "' OR stream LIKE '" + stream + "/%'")
                 .value_or("0") != "0";
}

std::vector<std::string> UserDatabases(const MariaDbServer& server) {
  std::vector<std::string> names;
  for (const ResultRow& row :
       server.Query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN "
                    "('mysql', 'information_schema', 'performance_schema', 'sys', '_tandem')")) {
    names.push_back(row.at(0).value_or(""));
  }
  std::sort(names.begin(), names.end());
  return names;
}

int64_t CountRows(const MariaDbServer& server, const std::string& table) {
  return std::stoll(server.QueryScalar("SELECT COUNT(*) FROM " + table).value_or("-1"));
}

}  // namespace tandem::testing
