#include "tests/harness/postgres_server.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "tests/harness/data_dir_template.h"
#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/server_process.h"
#include "tests/harness/uri.h"

namespace tandem::testing {
namespace {

namespace fs = std::filesystem;

// Bump when the template recipe below changes.
constexpr char kTemplateRecipe[] = "postgres-template-v1";

// pg_hba.conf in two parts, so PostgresOptions::extra_hba_lines can go between them.
constexpr char kPgHbaLocal[] =
    "# tandem test harness\n"
    "# TYPE  DATABASE     USER      ADDRESS        METHOD\n"
    "local   all          postgres                 trust\n"
    "local   replication  postgres                 trust\n"
    "local   all          all                      scram-sha-256\n";
constexpr char kPgHbaHost[] =
    "host    all          all       127.0.0.1/32   scram-sha-256\n"
    "host    replication  all       127.0.0.1/32   scram-sha-256\n";

constexpr char kBaseSettings[] =
    "\n# --- tandem test harness (template) ---\n"
    "fsync = off\n"
    "synchronous_commit = off\n"
    "shared_buffers = 64MB\n"
    "max_connections = 100\n"
    "timezone = 'UTC'\n"
    "log_timezone = 'UTC'\n"
    "log_line_prefix = '%m [%p] %q%u@%d '\n"
    "password_encryption = 'scram-sha-256'\n";

void AppendToFile(const std::string& path, const std::string& text) {
  std::string contents = fs::exists(path) ? ReadFile(path) : std::string();
  contents += text;
  WriteFileAtomically(path, contents, 0600);
}

void ChownIfRoot(const std::string& path) {
  if (std::optional<RunAs> account = PostgresAccount()) {
    ChownTree(path, *account);
  }
}

SpawnOptions PostgresSpawn(const std::string& program) {
  SpawnOptions spawn;
  spawn.argv = {PostgresBinDir() + "/" + program};
  spawn.run_as = PostgresAccount();
  spawn.drop_env_prefixes = {"PG"};
  spawn.env = {"LC_ALL=C.UTF-8"};
  return spawn;
}

SpawnOptions PostmasterSpawn(const std::string& data_dir, uint16_t port,
                             const std::string& listen_addresses) {
  SpawnOptions spawn = PostgresSpawn("postgres");
  spawn.argv.insert(spawn.argv.end(), {"-D", data_dir, "-p", std::to_string(port), "-c",
                                       "listen_addresses=" + listen_addresses, "-c",
                                       "unix_socket_directories=" + data_dir});
  spawn.working_dir = data_dir;
  return spawn;
}

PostgresConnectOptions SuperuserOptions(const std::string& data_dir, uint16_t port,
                                        const std::string& database) {
  PostgresConnectOptions options;
  options.host = data_dir;
  options.port = port;
  options.user = "postgres";
  options.database = database;
  return options;
}

std::string PostgresTemplate() {
  const std::string identity = std::string(kTemplateRecipe) + " " +
                               BinaryIdentity(PostgresBinDir() + "/postgres") + " " +
                               std::to_string(geteuid());
  return GetOrBuildTemplate("postgres", identity, [](const std::string& data_dir) {
    const std::string parent = data_dir.substr(0, data_dir.rfind('/'));
    ChownIfRoot(parent);
    if (std::optional<RunAs> account = PostgresAccount()) {
      CheckSearchableBy(data_dir, *account);
    }
    SpawnOptions initdb = PostgresSpawn("initdb");
    initdb.argv.insert(initdb.argv.end(), {"-D", data_dir, "-U", "postgres", "--auth-local=trust",
                                           "--auth-host=scram-sha-256", "--encoding=UTF8",
                                           "--locale=C.UTF-8", "--no-sync", "--no-instructions"});
    initdb.log_path = parent + "/initdb.log";
    initdb.working_dir = parent;
    RunCommand(initdb, std::chrono::minutes(3));

    WriteFileAtomically(data_dir + "/pg_hba.conf", std::string(kPgHbaLocal) + kPgHbaHost, 0600);
    AppendToFile(data_dir + "/postgresql.conf", kBaseSettings);
    ChownIfRoot(data_dir);

    // Create the tandem role and database on a private, socket-only postmaster, then shut it
    // down cleanly so copies start without recovery.
    CheckUnixSocketPath(data_dir + "/.s.PGSQL.65535");
    const uint16_t port = PickFreePort();
    SpawnOptions spawn = PostmasterSpawn(data_dir, port, "");
    spawn.log_path = parent + "/template-server.log";
    ChildProcess postmaster;
    const PostgresConnectOptions admin = SuperuserOptions(data_dir, port, "postgres");
    LaunchOutcome outcome = LaunchServer(
        spawn, "template postgres in " + data_dir, kDefaultServerTimeout,
        [&admin] { return PostgresClient::Connect(admin).QueryScalar("SELECT 1") == "1"; },
        &postmaster);
    if (outcome != LaunchOutcome::kReady) {
      throw std::runtime_error("template postgres in " + data_dir + " could not bind its socket");
    }
    PostgresClient client = PostgresClient::Connect(admin);
    client.Execute(std::string("CREATE ROLE ") + kTestUser +
                   " LOGIN SUPERUSER REPLICATION PASSWORD " + PostgresQuote(kTestPassword));
    client.Execute(std::string("CREATE DATABASE ") + kTestUser + " OWNER " + kTestUser);
    postmaster.Stop(SIGINT, std::chrono::seconds(60));
    if (fs::exists(data_dir + "/postmaster.pid")) {
      throw std::runtime_error("template postgres in " + data_dir + " did not shut down cleanly");
    }
  });
}

}  // namespace

std::string PostgresBinDir() {
  if (const char* configured = std::getenv("TANDEM_POSTGRES_BINDIR");
      configured != nullptr && *configured != '\0') {
    return configured;
  }
  static const std::string found = [] {
    std::vector<std::pair<int, std::string>> candidates;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", error)) {
      const std::string version = entry.path().filename().string();
      if (fs::exists(entry.path() / "bin" / "postgres") &&
          std::all_of(version.begin(), version.end(), ::isdigit) && !version.empty()) {
        candidates.emplace_back(std::stoi(version), (entry.path() / "bin").string());
      }
    }
    if (candidates.empty()) {
      return std::string();
    }
    return std::max_element(candidates.begin(), candidates.end())->second;
  }();
  if (found.empty()) {
    throw std::runtime_error(
        "no PostgreSQL server found under /usr/lib/postgresql/*/bin (install postgresql, or set "
        "TANDEM_POSTGRES_BINDIR)");
  }
  return found;
}

std::optional<RunAs> PostgresAccount() {
  if (geteuid() != 0) {
    return std::nullopt;
  }
  static const RunAs account = LookupUser("postgres");
  return account;
}

void PostgresServer::Launch(bool detach, std::chrono::seconds timeout) {
  for (int attempt = 1;; ++attempt) {
    port_ = PickFreePort();
    SpawnOptions spawn = PostmasterSpawn(data_dir_, port_, "127.0.0.1");
    spawn.log_path = log_path_;
    spawn.detach = detach;
    const PostgresConnectOptions admin = AdminConnectOptions("postgres");
    LaunchOutcome outcome = LaunchServer(
        spawn, "postgres in " + dir_, timeout,
        [&admin] { return PostgresClient::Connect(admin).QueryScalar("SELECT 1") == "1"; },
        &process_);
    if (outcome == LaunchOutcome::kReady) {
      return;
    }
    if (attempt == kPortAttempts) {
      throw std::runtime_error("postgres in " + dir_ + ": port still in use after " +
                               std::to_string(kPortAttempts) + " attempts");
    }
  }
}

std::unique_ptr<PostgresServer> PostgresServer::Start(const std::string& parent_dir,
                                                      const PostgresOptions& options) {
  MakeDirectories(parent_dir, 0755);
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->dir_ = NewServerDirectory(parent_dir, "postgres", options.name);
  server->data_dir_ = server->dir_ + "/data";
  server->log_path_ = server->dir_ + "/server.log";
  CheckUnixSocketPath(server->data_dir_ + "/.s.PGSQL.65535");
  if (std::optional<RunAs> account = PostgresAccount()) {
    CheckSearchableBy(server->data_dir_, *account);
  }
  const std::string template_dir = PostgresTemplate();
  MakeDirectories(server->dir_, 0755);
  CopyTree(template_dir, server->data_dir_);
  std::string settings =
      "\n# --- tandem test harness (server) ---\nwal_level = " + options.wal_level +
      "\nmax_replication_slots = " + std::to_string(options.max_replication_slots) +
      "\nmax_wal_senders = " + std::to_string(options.max_wal_senders) + "\n";
  for (const std::string& line : options.extra_settings) {
    settings += line + "\n";
  }
  AppendToFile(server->data_dir_ + "/postgresql.conf", settings);
  if (!options.extra_hba_lines.empty()) {
    std::string hba = kPgHbaLocal;
    hba += "# --- the test's own lines ---\n";
    for (const std::string& line : options.extra_hba_lines) {
      hba += line + "\n";
    }
    hba += kPgHbaHost;
    WriteFileAtomically(server->data_dir_ + "/pg_hba.conf", hba, 0600);
  }
  ChownIfRoot(server->dir_);
  server->Launch(options.detach, options.startup_timeout);
  return server;
}

std::unique_ptr<PostgresServer> PostgresServer::StartStandbyOf(
    const PostgresServer& primary, const std::string& parent_dir,
    std::vector<std::string> extra_settings, const std::string& name) {
  MakeDirectories(parent_dir, 0755);
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->is_standby_ = true;
  server->dir_ = NewServerDirectory(parent_dir, "postgres-standby", name);
  server->data_dir_ = server->dir_ + "/data";
  server->log_path_ = server->dir_ + "/server.log";
  CheckUnixSocketPath(server->data_dir_ + "/.s.PGSQL.65535");
  if (std::optional<RunAs> account = PostgresAccount()) {
    CheckSearchableBy(server->data_dir_, *account);
  }
  MakeDirectories(server->dir_, 0755);
  ChownIfRoot(server->dir_);

  SpawnOptions backup = PostgresSpawn("pg_basebackup");
  backup.argv.insert(backup.argv.end(), {"-h", "127.0.0.1", "-p", std::to_string(primary.port()),
                                         "-U", kTestUser, "-D", server->data_dir_, "-R", "-X",
                                         "stream", "--checkpoint=fast", "--no-sync"});
  backup.env.push_back(std::string("PGPASSWORD=") + kTestPassword);
  backup.log_path = server->dir_ + "/basebackup.log";
  RunCommand(backup, std::chrono::minutes(5));

  std::string settings = "\n# --- tandem test harness (standby) ---\nhot_standby = on\n";
  for (const std::string& line : extra_settings) {
    settings += line + "\n";
  }
  AppendToFile(server->data_dir_ + "/postgresql.conf", settings);
  ChownIfRoot(server->dir_);
  server->Launch(/*detach=*/false, kDefaultServerTimeout);
  return server;
}

PostgresServer::~PostgresServer() {
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

std::string PostgresServer::Uri(const std::string& database) const {
  return BuildServerUri("postgres", kTestUser, kTestPassword, "127.0.0.1", port_, database);
}

PostgresConnectOptions PostgresServer::AdminConnectOptions(const std::string& database) const {
  return SuperuserOptions(data_dir_, port_, database);
}

PostgresClient PostgresServer::ConnectAdmin(const std::string& database) const {
  return PostgresClient::Connect(AdminConnectOptions(database));
}

void PostgresServer::Execute(const std::string& sql, const std::string& database) const {
  ConnectAdmin(database).Execute(sql);
}

ResultRows PostgresServer::Query(const std::string& sql, const std::string& database) const {
  return ConnectAdmin(database).Query(sql);
}

std::optional<std::string> PostgresServer::QueryScalar(const std::string& sql,
                                                       const std::string& database) const {
  return ConnectAdmin(database).QueryScalar(sql);
}

void PostgresServer::WaitForStandbyCatchUp(const PostgresServer& primary,
                                           std::chrono::milliseconds timeout) const {
  if (!is_standby_) {
    throw std::runtime_error("WaitForStandbyCatchUp on " + dir_ + ", which is not a standby");
  }
  // The insert position, not pg_current_wal_lsn(): with synchronous_commit off a commit is
  // acknowledged before its WAL is written, and the write position would leave it out (a standby
  // "caught up" to it then lacked a table just created; the WAL writer flushes it within
  // wal_writer_delay, and the standby replays it then).
  const std::string lsn =
      primary.QueryScalar("SELECT pg_current_wal_insert_lsn()", "postgres").value();
  PostgresClient client = ConnectAdmin("postgres");
  const std::string check = "SELECT pg_last_wal_replay_lsn() >= " + PostgresQuote(lsn) + "::pg_lsn";
  std::optional<std::string> replayed;
  if (!PollUntil(timeout, [&] { return client.QueryScalar(check) == "t"; })) {
    replayed = client.QueryScalar("SELECT pg_last_wal_replay_lsn()");
    throw std::runtime_error("standby " + dir_ + " replayed only up to " +
                             replayed.value_or("(none)") + ", not " + lsn + ", within " +
                             std::to_string(timeout.count()) + " ms");
  }
}

void PostgresServer::Stop() { process_.Stop(SIGINT, std::chrono::seconds(30)); }

pid_t PostgresServer::Release() {
  released_ = true;
  return process_.Release();
}

}  // namespace tandem::testing
