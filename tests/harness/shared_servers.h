// File: tests/harness/shared_servers.h
//
// SharedServers: the source and target MariaDB, PostgreSQL and Redis servers that
// `tandem-test-servers start` runs once per ctest run (the `servers` fixture). Integration tests
// find them through the environment variable TANDEM_TEST_SERVERS, which names the servers.env file
// the command wrote: KEY=VALUE lines (keys below; '#' starts a comment).
//
// Tests share these servers and may run in parallel, so a test works in objects it names itself
// (UniqueName("verify_test") as a database, schema or key prefix) and drops them afterwards.
//
//   const SharedServers* servers = SharedServers::GetOrNull();
//   if (servers == nullptr) GTEST_SKIP() << "needs TANDEM_TEST_SERVERS";
//   servers->ExecuteMySql(Side::kSource, "CREATE DATABASE " + db);
//   RunTandem("verify", "--source", servers->mysql_source_uri(db), ...);
//
// Admin access: MariaDB as root over the unix socket (unix_socket authentication: the test must
// run as root, as the servers' owner does), PostgreSQL as `postgres` over the unix socket (trust),
// Redis with the password. The URIs use the tandem account (accounts.h).
//
// Thread safety: a loaded SharedServers is immutable; its methods are safe for concurrent use
// (each call opens its own connection). GetOrNull()/Get() are safe to call from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/harness/mysql_client.h"
#include "tests/harness/postgres_client.h"
#include "tests/harness/redis_client.h"
#include "tests/harness/sql_rows.h"

namespace tandem::testing {

enum class Side { kSource, kTarget };

// "source" / "target".
const char* SideName(Side side);

// The environment variable naming the servers.env file.
inline constexpr char kSharedServersEnv[] = "TANDEM_TEST_SERVERS";

// servers.env keys. The URIs (the public part; see DESIGN.md for the URI forms):
//   TANDEM_MYSQL_SOURCE, TANDEM_MYSQL_TARGET          mysql://tandem:tandem-secret@127.0.0.1:P
//   TANDEM_POSTGRES_SOURCE, TANDEM_POSTGRES_TARGET
//   postgres://tandem:tandem-secret@127.0.0.1:P/tandem TANDEM_REDIS_SOURCE, TANDEM_REDIS_TARGET
//   redis://:tandem-secret@127.0.0.1:P/0
// and, per server, <URI key>_<suffix> with these suffixes:
//   _PORT        TCP port on 127.0.0.1 (all)
//   _PID         server process id (all)
//   _DIR         the server's directory (all)
//   _SOCKET      MariaDB unix socket path (root access)
//   _SOCKET_DIR  PostgreSQL unix socket directory (superuser `postgres` access, trust)
//   _PASSWORD    Redis password
// plus TANDEM_TEST_SERVERS_DIR, the directory given to `tandem-test-servers start --dir`.
// "TANDEM_<ENGINE>_<SIDE>" for engine "MYSQL" / "POSTGRES" / "REDIS".
std::string SharedServerKey(const std::string& engine, Side side, const std::string& suffix = "");

class SharedServers {
 public:
  // The servers named by $TANDEM_TEST_SERVERS, loaded once per process; nullptr if the variable
  // is unset or empty (the test should GTEST_SKIP). Throws std::runtime_error if it is set but
  // the file cannot be read or lacks a key.
  static const SharedServers* GetOrNull();
  // Like GetOrNull() but throws std::runtime_error when the variable is unset.
  static const SharedServers& Get();
  // Loads an env file. Throws std::runtime_error naming the file and the missing key.
  static SharedServers Load(const std::string& env_file);

  std::string mysql_uri(Side side, const std::string& database = "") const;
  std::string postgres_uri(Side side, const std::string& database = "tandem") const;
  std::string redis_uri(Side side, int db = 0) const;
  std::string mysql_source_uri(const std::string& database = "") const {
    return mysql_uri(Side::kSource, database);
  }
  std::string mysql_target_uri(const std::string& database = "") const {
    return mysql_uri(Side::kTarget, database);
  }
  std::string postgres_source_uri(const std::string& database = "tandem") const {
    return postgres_uri(Side::kSource, database);
  }
  std::string postgres_target_uri(const std::string& database = "tandem") const {
    return postgres_uri(Side::kTarget, database);
  }
  std::string redis_source_uri(int db = 0) const { return redis_uri(Side::kSource, db); }
  std::string redis_target_uri(int db = 0) const { return redis_uri(Side::kTarget, db); }

  uint16_t mysql_port(Side side) const;
  uint16_t postgres_port(Side side) const;
  uint16_t redis_port(Side side) const;
  std::string mysql_socket(Side side) const;
  std::string postgres_socket_dir(Side side) const;
  std::string redis_password(Side side) const;

  // Admin connections (see the file comment).
  MySqlClient ConnectMySqlAdmin(Side side) const;
  PostgresClient ConnectPostgresAdmin(Side side, const std::string& database = "tandem") const;
  RedisClient ConnectRedis(Side side, int db = 0) const;

  // One-shot admin statements. Throw std::runtime_error with the SQL / command and the message.
  void ExecuteMySql(Side side, const std::string& sql) const;
  ResultRows QueryMySql(Side side, const std::string& sql) const;
  void ExecutePostgres(Side side, const std::string& sql,
                       const std::string& database = "tandem") const;
  ResultRows QueryPostgres(Side side, const std::string& sql,
                           const std::string& database = "tandem") const;
  std::string RedisCommand(Side side, const std::vector<std::string>& argv, int db = 0) const;

  // A raw value from the env file. Throws std::runtime_error if the key is missing.
  const std::string& Value(const std::string& key) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  SharedServers() = default;

  std::string env_file_;
  std::map<std::string, std::string> values_;  // constant after Load()
};

// In a GoogleTest body: declares `const SharedServers* var`, or skips the test when
// TANDEM_TEST_SERVERS is unset (the test binary was run outside ctest).
//   TEST(Verify, FindsAChangedRow) { TANDEM_SHARED_SERVERS_OR_SKIP(servers); ... }
#define TANDEM_SHARED_SERVERS_OR_SKIP(var)                                                     \
  const ::tandem::testing::SharedServers* var = ::tandem::testing::SharedServers::GetOrNull(); \
  if (var == nullptr) {                                                                        \
    GTEST_SKIP() << ::tandem::testing::kSharedServersEnv                                       \
                 << " is not set: run through ctest, or start the servers with "               \
                    "tandem-test-servers start --dir DIR and set it to DIR/servers.env";       \
  }

// "<prefix>_<pid>_<counter>": a name no other test process uses at the same time, valid as an
// unquoted MariaDB/PostgreSQL identifier when `prefix` is (lowercase letters, digits, '_').
std::string UniqueName(const std::string& prefix);

}  // namespace tandem::testing
