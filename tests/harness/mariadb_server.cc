#include "tests/harness/mariadb_server.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <stdexcept>

#include "tests/harness/data_dir_template.h"
#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/server_process.h"
#include "tests/harness/uri.h"

namespace tandem::testing {
namespace {

constexpr char kMariaDbServerBinary[] = "/usr/sbin/mariadbd";
constexpr char kInstallDbBinary[] = "/usr/bin/mariadb-install-db";
// Bump when the template recipe below changes, so caches built by older harnesses are not used.
constexpr char kTemplateRecipe[] = "mariadb-template-v1";

// InnoDB settings shared by the template and every server (a mismatch in the redo log size would
// make each server resize its log at startup).
const std::vector<std::string> kInnoDbArgs = {"--innodb-buffer-pool-size=128M",
                                              "--innodb-log-file-size=48M",
                                              "--innodb-flush-log-at-trx-commit=2"};

std::string AdminUser() {
  if (geteuid() == 0) {
    return "root";
  }
  passwd* pw = getpwuid(geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

// The tandem account, inserted straight into mysql.global_priv: mariadb-install-db runs the extra
// file in bootstrap mode, where CREATE USER / GRANT are refused. The access mask is all
// privileges including GRANT OPTION, as mysql_system_tables_data.sql uses for root.
std::string TandemUserSql() {
  return std::string("INSERT INTO mysql.global_priv VALUES ('%', '") + kTestUser +
         "', JSON_OBJECT('access', 18446744073709551615, 'plugin', 'mysql_native_password', "
         "'authentication_string', PASSWORD('" +
         kTestPassword + "')));\n";
}

std::string MariaDbTemplate() {
  const std::string identity =
      std::string(kTemplateRecipe) + " " + BinaryIdentity(kMariaDbServerBinary) + " " + AdminUser();
  return GetOrBuildTemplate("mariadb", identity, [](const std::string& data_dir) {
    const std::string parent = data_dir.substr(0, data_dir.rfind('/'));
    const std::string extra_file = parent + "/tandem-user.sql";
    WriteFileAtomically(extra_file, TandemUserSql());
    SpawnOptions install;
    install.argv = {kInstallDbBinary,
                    "--no-defaults",
                    "--datadir=" + data_dir,
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                    "--skip-name-resolve",
                    "--extra-file=" + extra_file,
                    "--character-set-server=utf8mb4"};
    if (geteuid() == 0) {
      install.argv.insert(install.argv.begin() + 2, "--user=root");
    } else {
      install.argv.push_back("--auth-root-socket-user=" + AdminUser());
    }
    install.argv.insert(install.argv.end(), kInnoDbArgs.begin(), kInnoDbArgs.end());
    install.log_path = parent + "/install.log";
    install.drop_env_prefixes = {"MYSQL", "MARIADB"};
    RunCommand(install, std::chrono::minutes(3));
  });
}

}  // namespace

std::unique_ptr<MariaDbServer> MariaDbServer::Start(const std::string& parent_dir,
                                                    const MariaDbOptions& options) {
  MakeDirectories(parent_dir, 0755);
  const std::string template_dir = MariaDbTemplate();
  std::unique_ptr<MariaDbServer> server(new MariaDbServer());
  server->dir_ = NewServerDirectory(parent_dir, "mariadb", options.name);
  server->data_dir_ = server->dir_ + "/data";
  server->socket_path_ = server->data_dir_ + "/mysql.sock";
  server->log_path_ = server->dir_ + "/server.log";
  CheckUnixSocketPath(server->socket_path_);

  for (int attempt = 1;; ++attempt) {
    RemoveTree(server->dir_);
    MakeDirectories(server->dir_, 0755);
    CopyTree(template_dir, server->data_dir_);
    server->port_ = PickFreePort();
    server->server_id_ = options.server_id != 0 ? options.server_id : server->port_;

    SpawnOptions spawn;
    spawn.argv = {kMariaDbServerBinary,
                  "--no-defaults",
                  "--datadir=" + server->data_dir_,
                  "--socket=" + server->socket_path_,
                  "--pid-file=" + server->data_dir_ + "/mariadbd.pid",
                  "--port=" + std::to_string(server->port_),
                  "--bind-address=127.0.0.1",
                  "--server-id=" + std::to_string(server->server_id_),
                  "--skip-name-resolve",
                  "--performance-schema=OFF",
                  "--character-set-server=utf8mb4",
                  "--sync-binlog=0",
                  "--binlog-format=" + options.binlog_format,
                  "--binlog-row-image=" + options.binlog_row_image,
                  "--gtid-strict-mode=ON",
                  "--relay-log=relay-bin"};
    if (geteuid() == 0) {
      spawn.argv.insert(spawn.argv.begin() + 2, "--user=root");
    }
    spawn.argv.insert(spawn.argv.end(), kInnoDbArgs.begin(), kInnoDbArgs.end());
    if (options.log_bin) {
      spawn.argv.push_back("--log-bin=mysql-bin");
      spawn.argv.push_back("--log-slave-updates");
    } else {
      spawn.argv.push_back("--skip-log-bin");
    }
    spawn.argv.insert(spawn.argv.end(), options.extra_args.begin(), options.extra_args.end());
    spawn.log_path = server->log_path_;
    spawn.detach = options.detach;
    spawn.drop_env_prefixes = {"MYSQL", "MARIADB"};

    const MySqlConnectOptions admin = server->AdminConnectOptions();
    LaunchOutcome outcome = LaunchServer(
        spawn, "mariadbd in " + server->dir_, options.startup_timeout,
        [&admin] {
          MySqlClient client = MySqlClient::Connect(admin);
          return client.QueryScalar("SELECT 1") == "1";
        },
        &server->process_);
    if (outcome == LaunchOutcome::kReady) {
      server->spawn_ = std::move(spawn);
      return server;
    }
    if (attempt == kPortAttempts) {
      throw std::runtime_error("mariadbd in " + server->dir_ + ": port still in use after " +
                               std::to_string(kPortAttempts) + " attempts");
    }
  }
}

MariaDbServer::~MariaDbServer() {
  if (released_) {
    return;
  }
  Stop();
  if (!KeepServerDirectories() && !dir_.empty()) {
    try {
      RemoveTree(dir_);
    } catch (const std::exception&) {
      // Best effort in a destructor; the parent directory's owner cleans up.
    }
  }
}

std::string MariaDbServer::Uri(const std::string& database) const {
  return BuildServerUri("mysql", kTestUser, kTestPassword, "127.0.0.1", port_, database);
}

MySqlConnectOptions MariaDbServer::AdminConnectOptions() const {
  MySqlConnectOptions options;
  options.unix_socket = socket_path_;
  options.user = AdminUser();
  return options;
}

MySqlClient MariaDbServer::ConnectAdmin() const {
  return MySqlClient::Connect(AdminConnectOptions());
}

void MariaDbServer::Execute(const std::string& sql) const { ConnectAdmin().Execute(sql); }

ResultRows MariaDbServer::Query(const std::string& sql) const { return ConnectAdmin().Query(sql); }

QueryResult MariaDbServer::QueryWithColumns(const std::string& sql) const {
  return ConnectAdmin().QueryWithColumns(sql);
}

std::optional<std::string> MariaDbServer::QueryScalar(const std::string& sql) const {
  return ConnectAdmin().QueryScalar(sql);
}

namespace {

struct ReplicaState {
  bool io_running = false;
  bool sql_running = false;
  std::string io_state;
  std::string errors;  // "Last_IO_Error: ...; Last_SQL_Error: ..." or ""
  bool sql_failed = false;
};

ReplicaState ReadReplicaState(MySqlClient& client) {
  QueryResult status = client.QueryWithColumns("SHOW SLAVE STATUS");
  ReplicaState state;
  if (status.rows.empty()) {
    state.errors = "no replication configured";
    return state;
  }
  auto get = [&](const char* column) { return status.Get(0, column).value_or(""); };
  state.io_state = get("Slave_IO_Running");
  state.io_running = state.io_state == "Yes";
  state.sql_running = get("Slave_SQL_Running") == "Yes";
  std::string io_error = get("Last_IO_Error");
  std::string sql_error = get("Last_SQL_Error");
  if (!io_error.empty()) {
    state.errors += "Last_IO_Error: " + io_error;
  }
  if (!sql_error.empty()) {
    state.errors +=
        (state.errors.empty() ? "" : "; ") + std::string("Last_SQL_Error: ") + sql_error;
    state.sql_failed = !state.sql_running;
  }
  return state;
}

}  // namespace

void MariaDbServer::StartReplicaOf(const MariaDbServer& source, std::chrono::milliseconds timeout) {
  MySqlClient client = ConnectAdmin();
  client.Execute("STOP SLAVE");
  client.Execute("RESET SLAVE ALL");
  if (client.QueryScalar("SELECT @@log_bin") == "1") {
    client.Execute("RESET MASTER");
  }
  client.Execute("SET GLOBAL gtid_slave_pos = ''");
  client.Execute("CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = " +
                 std::to_string(source.port()) + ", MASTER_USER = " + client.Quote(kTestUser) +
                 ", MASTER_PASSWORD = " + client.Quote(kTestPassword) +
                 ", MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1");
  client.Execute("START SLAVE");
  ReplicaState state;
  bool running = PollUntil(timeout, [&] {
    state = ReadReplicaState(client);
    if (state.sql_failed) {
      return true;
    }
    return state.io_running && state.sql_running;
  });
  if (!running || !state.io_running || !state.sql_running) {
    throw std::runtime_error("replica " + dir_ + " of 127.0.0.1:" + std::to_string(source.port()) +
                             " did not start replicating (IO thread: " + state.io_state + ") " +
                             state.errors);
  }
}

void MariaDbServer::WaitForReplicaCatchUp(const MariaDbServer& source,
                                          std::chrono::milliseconds timeout) const {
  const std::string position = source.QueryScalar("SELECT @@gtid_binlog_pos").value_or("");
  if (position.empty()) {
    return;
  }
  MySqlClient client = ConnectAdmin();
  const std::string wait_sql = "SELECT MASTER_GTID_WAIT(" + client.Quote(position) + ", 0.2)";
  ReplicaState state;
  bool caught_up = PollUntil(timeout, [&] {
    if (client.QueryScalar(wait_sql) == "0") {
      return true;
    }
    state = ReadReplicaState(client);
    if (state.sql_failed) {
      throw std::runtime_error("replica " + dir_ + " stopped: " + state.errors);
    }
    return false;
  });
  if (!caught_up) {
    throw std::runtime_error("replica " + dir_ + " did not reach GTID position " + position +
                             " within " + std::to_string(timeout.count()) + " ms " + state.errors);
  }
}

void MariaDbServer::Stop() { process_.Stop(SIGTERM, std::chrono::seconds(30)); }

void MariaDbServer::Restart(std::chrono::milliseconds timeout) {
  Stop();
  const MySqlConnectOptions admin = AdminConnectOptions();
  const LaunchOutcome outcome = LaunchServer(
      spawn_, "mariadbd in " + dir_ + " (restarted)", timeout,
      [&admin] {
        MySqlClient client = MySqlClient::Connect(admin);
        return client.QueryScalar("SELECT 1") == "1";
      },
      &process_);
  if (outcome != LaunchOutcome::kReady) {
    throw std::runtime_error("mariadbd in " + dir_ + " could not restart: port " +
                             std::to_string(port_) + " was taken meanwhile");
  }
}

pid_t MariaDbServer::Release() {
  released_ = true;
  return process_.Release();
}

}  // namespace tandem::testing
