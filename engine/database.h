// File: engine/database.h
//
// The ports connectors implement: one open connection to one server, with what every engine offers
// (Database), what SQL engines add (SqlDatabase: catalog and key-range reads) and what key-value
// engines add (KeyValueDatabase: keyspace description). checksum/, lag/ and orchestration/ are
// written against these interfaces only; tools/ maps URI schemes to the connectors' Open functions.
//
// Ownership and threading: a Database object owns exactly one server connection and belongs to one
// thread at a time; it is not safe for concurrent use. Open one per thread that needs one.
// Every call is bounded by the connection's connect/read timeouts (ConnectionConfig), so none can
// block forever.
//
// Errors: connection trouble is kConnectionFailed (retryable), a refused login
// kAuthenticationFailed, a missing privilege kPermissionDenied, a missing object kNotFound; the
// messages name the server by ConnectionConfig::Redacted() and never contain the password.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/assessment.h"
#include "engine/connection_config.h"
#include "engine/key_range.h"
#include "engine/keyspace_verification.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"
#include "engine/verification.h"
#include "engine/write_freeze.h"

namespace tandem::engine {

struct ServerInfo {
  std::string product;  // "MariaDB", "MySQL", "PostgreSQL", "Redis"
  std::string version;  // as the server reports it: "10.11.6-MariaDB-0+deb12u1", "15.5", "7.0.15"
  // Major * 10000 + minor * 100 + patch, for comparisons: MariaDB 10.11.6 = 101106, PostgreSQL
  // 15.5 = 150500 (not PostgreSQL's own server_version_num), Redis 7.0.15 = 70015.
  int version_number = 0;
};

class Database {
 public:
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The configuration this connection was opened with (password included: never print it).
  virtual const ConnectionConfig& config() const = 0;

  virtual Result<ServerInfo> DescribeServer() = 0;

  // Time for one round trip of the cheapest command the engine has (SELECT 1, PING).
  virtual Result<std::chrono::nanoseconds> Ping() = 0;

  // The server's wall clock, in microseconds since the Unix epoch (UTC).
  virtual Result<int64_t> ServerTimeMicros() = 0;

  // Engine-specific readiness checks of this server in `role`: settings, privileges of the
  // logged-in user, tables that cannot be replicated, and facts for the report. Checks that need
  // both sides (schema comparison, clock difference) are done by the caller.
  virtual Result<Assessment> Assess(Role role) = 0;

  // The write freeze of the cutover over this connection (engine/write_freeze.h); nullptr when the
  // connector offers none. Owned by this object and valid as long as it is; used by the same
  // thread.
  virtual WriteFreeze* write_freeze() { return nullptr; }

 protected:
  Database() = default;
};

// Receives rows of a read, in key order. Returning false stops the read early (not an error).
using RowSink = std::function<bool(Row&& row)>;

class SqlDatabase : public Database {
 public:
  // The user tables (system schemas excluded). An empty `schema` means every schema the connection
  // can see: for MySQL every database, or just the URI's database when it names one; for
  // PostgreSQL every schema of the URI's database.
  virtual Result<std::vector<TableId>> ListTables(const std::string& schema) = 0;

  // Columns, keys and estimates of `table`. kNotFound when it does not exist.
  virtual Result<TableSchema> DescribeTable(const TableId& table) = 0;

  // Streams the rows of `table` whose identifying key lies in `range`, ordered by that key, all
  // columns in schema order, to `sink`. Memory stays bounded by one row plus the client library's
  // network buffer: the server's result is never stored whole.
  // REQUIRES: table.IdentifyingKey() != nullptr unless `range` is KeyRange::All() (then rows come
  // in server order).
  virtual Status ReadRange(const TableSchema& table, const KeyRange& range,
                           const RowSink& sink) = 0;

  // Boundary keys, replication positions, lag and load over this connection, for verify
  // (engine/verification.h); nullptr when the connector offers none. Owned by this object and
  // valid as long as it is; used by the same thread.
  virtual VerificationSupport* verification() { return nullptr; }
};

struct KeyspaceInfo {
  int database = 0;
  int64_t keys = 0;
  int64_t keys_with_expiry = 0;
};

class KeyValueDatabase : public Database {
 public:
  // Key counts of every non-empty logical database.
  virtual Result<std::vector<KeyspaceInfo>> DescribeKeyspaces() = 0;

  // Keyspace walks, pipelined probes, replication offsets and DUMP over this connection, for
  // verify (engine/keyspace_verification.h); nullptr when the connector offers none. Owned by
  // this object and valid as long as it is; used by the same thread.
  virtual KeyspaceVerification* keyspace_verification() { return nullptr; }
};

// Opens a connection for a parsed URI. tools/ provides the one that dispatches on the engine;
// libraries that must open connections (orchestration) receive it, so they depend on no connector.
using DatabaseOpener = std::function<Result<std::unique_ptr<Database>>(const ConnectionConfig&)>;

}  // namespace tandem::engine
