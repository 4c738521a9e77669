#include "tests/harness/shared_servers.h"

#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "tests/harness/accounts.h"
#include "tests/harness/uri.h"

namespace tandem::testing {
namespace {

const char* const kUriKeys[] = {"MYSQL", "POSTGRES", "REDIS"};

std::string MySqlAdminUser() {
  if (geteuid() == 0) {
    return "root";
  }
  passwd* pw = getpwuid(geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

uint16_t ParsePort(const std::string& text, const std::string& key) {
  try {
    int value = std::stoi(text);
    if (value > 0 && value <= 65535) {
      return static_cast<uint16_t>(value);
    }
  } catch (const std::exception&) {
  }
  throw std::runtime_error("servers.env: " + key + " is not a port: '" + text + "'");
}

}  // namespace

const char* SideName(Side side) { return side == Side::kSource ? "source" : "target"; }

std::string SharedServerKey(const std::string& engine, Side side, const std::string& suffix) {
  return "TANDEM_" + engine + "_" + (side == Side::kSource ? "SOURCE" : "TARGET") +
         (suffix.empty() ? "" : "_" + suffix);
}

SharedServers SharedServers::Load(const std::string& env_file) {
  std::ifstream in(env_file);
  if (!in) {
    throw std::runtime_error("cannot read the shared test servers file " + env_file +
                             " (is the servers.start fixture running? run "
                             "`tandem-test-servers start --dir DIR`)");
  }
  SharedServers servers;
  servers.env_file_ = env_file;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    size_t equals = line.find('=');
    if (equals == std::string::npos) {
      continue;
    }
    servers.values_[line.substr(0, equals)] = line.substr(equals + 1);
  }
  for (const char* engine : kUriKeys) {
    for (Side side : {Side::kSource, Side::kTarget}) {
      servers.Value(SharedServerKey(engine, side));
      servers.Value(SharedServerKey(engine, side, "PORT"));
    }
  }
  return servers;
}

const SharedServers* SharedServers::GetOrNull() {
  static std::once_flag once;
  static const SharedServers* instance = nullptr;
  static std::string error;
  std::call_once(once, [] {
    const char* path = std::getenv(kSharedServersEnv);
    if (path == nullptr || *path == '\0') {
      return;
    }
    try {
      instance = new SharedServers(Load(path));
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  if (!error.empty()) {
    throw std::runtime_error(error);
  }
  return instance;
}

const SharedServers& SharedServers::Get() {
  const SharedServers* servers = GetOrNull();
  if (servers == nullptr) {
    throw std::runtime_error(std::string(kSharedServersEnv) +
                             " is not set: run the test through ctest (servers fixture) or set it "
                             "to the servers.env written by `tandem-test-servers start`");
  }
  return *servers;
}

const std::string& SharedServers::Value(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    throw std::runtime_error(env_file_ + " has no " + key);
  }
  return it->second;
}

std::string SharedServers::mysql_uri(Side side, const std::string& database) const {
  return BuildServerUri("mysql", kTestUser, kTestPassword, "127.0.0.1", mysql_port(side), database);
}

std::string SharedServers::postgres_uri(Side side, const std::string& database) const {
  return BuildServerUri("postgres", kTestUser, kTestPassword, "127.0.0.1", postgres_port(side),
                        database);
}

std::string SharedServers::redis_uri(Side side, int db) const {
  return BuildServerUri("redis", "", redis_password(side), "127.0.0.1", redis_port(side),
                        std::to_string(db));
}

uint16_t SharedServers::mysql_port(Side side) const {
  const std::string key = SharedServerKey("MYSQL", side, "PORT");
  return ParsePort(Value(key), key);
}

uint16_t SharedServers::postgres_port(Side side) const {
  const std::string key = SharedServerKey("POSTGRES", side, "PORT");
  return ParsePort(Value(key), key);
}

uint16_t SharedServers::redis_port(Side side) const {
  const std::string key = SharedServerKey("REDIS", side, "PORT");
  return ParsePort(Value(key), key);
}

std::string SharedServers::mysql_socket(Side side) const {
  return Value(SharedServerKey("MYSQL", side, "SOCKET"));
}

std::string SharedServers::postgres_socket_dir(Side side) const {
  return Value(SharedServerKey("POSTGRES", side, "SOCKET_DIR"));
}

std::string SharedServers::redis_password(Side side) const {
  auto it = values_.find(SharedServerKey("REDIS", side, "PASSWORD"));
  return it != values_.end() ? it->second : std::string(kTestPassword);
}

MySqlClient SharedServers::ConnectMySqlAdmin(Side side) const {
  MySqlConnectOptions options;
  options.unix_socket = mysql_socket(side);
  options.user = MySqlAdminUser();
  return MySqlClient::Connect(options);
}

PostgresClient SharedServers::ConnectPostgresAdmin(Side side, const std::string& database) const {
  PostgresConnectOptions options;
  options.host = postgres_socket_dir(side);
  options.port = postgres_port(side);
  options.user = "postgres";
  options.database = database;
  return PostgresClient::Connect(options);
}

RedisClient SharedServers::ConnectRedis(Side side, int db) const {
  RedisConnectOptions options;
  options.port = redis_port(side);
  options.password = redis_password(side);
  options.database = db;
  return RedisClient::Connect(options);
}

void SharedServers::ExecuteMySql(Side side, const std::string& sql) const {
  ConnectMySqlAdmin(side).Execute(sql);
}

ResultRows SharedServers::QueryMySql(Side side, const std::string& sql) const {
  return ConnectMySqlAdmin(side).Query(sql);
}

void SharedServers::ExecutePostgres(Side side, const std::string& sql,
                                    const std::string& database) const {
  ConnectPostgresAdmin(side, database).Execute(sql);
}

ResultRows SharedServers::QueryPostgres(Side side, const std::string& sql,
                                        const std::string& database) const {
  return ConnectPostgresAdmin(side, database).Query(sql);
}

std::string SharedServers::RedisCommand(Side side, const std::vector<std::string>& argv,
                                        int db) const {
  return ConnectRedis(side, db).Command(argv);
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
}

}  // namespace tandem::testing
