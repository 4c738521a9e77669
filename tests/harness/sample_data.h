// File: tests/harness/sample_data.h
//
// Deterministic sample data sets for tests and the README demo. The same options always produce
// byte-identical data (values come from a seeded generator keyed by table and row number, and
// every key is explicit), so loading a source and a target with the same options makes them equal,
// and a test can change one row on one side to make a known difference.
//
// MariaDB, database `shop` (utf8mb4), each table `rows` rows:
//   all_types    id BIGINT UNSIGNED AUTO_INCREMENT PK; TINYINT..BIGINT signed and unsigned,
//                DECIMAL(20,6), FLOAT, DOUBLE, CHAR(10)/VARCHAR(255)/TEXT with 4-byte characters
//                (emoji) and trailing spaces, BINARY(8)/VARBINARY(64)/BLOB with NUL bytes, DATE,
//                TIME(6), DATETIME(6), TIMESTAMP(6), YEAR, JSON, ENUM, SET, BIT(10). Row 1 holds
//                each type's minimum, row 2 its maximum, row 3 zeros and empty strings, row 4 NULL
//                in every nullable column; later rows are random with ~10% NULLs per column and a
//                large TEXT/BLOB (> 16 kB) every 97th row. TIMESTAMP values are written in UTC.
//                Row 3 has zero dates ('0000-00-00'), which PostgreSQL cannot hold.
//   order_lines  PRIMARY KEY (order_id INT, line_no SMALLINT): composite key.
//   customers    email VARCHAR(191) PRIMARY KEY: non-integer key, with accented characters.
//   events_log   no primary or unique key; every 10th row duplicates the row before it exactly.
// PostgreSQL, database of the connection (`tandem`), schema `shop`, each table `rows` rows:
//   all_types    id bigserial PK; smallint, integer, bigint, numeric(20,6), real, double precision
//                (row 5: NaN, Infinity, -Infinity), text/varchar(255)/char(10) with emoji, bytea
//                with NUL bytes, date, time(6), timestamp(6), timestamptz(6), interval, boolean,
//                json (whitespace and duplicate keys kept), jsonb, uuid, integer[], text[], enum
//                shop.mood, and a TOASTed text (> 8 kB, incompressible) every 50th row.
//                Rows 1-4 as for MariaDB. The id sequence is advanced past the loaded rows.
//   order_lines, customers (text PK), events_log (no key): as for MariaDB.
// Redis, databases 0, 1 and 2 (different content each), `rows` keys per database, by key % 10:
//   string:N plain text with emoji; counter:N integer-encoded; blob:N 1-4 kB binary with NULs;
//   hash:N; list:N; intset:N (integer members); set:N (string members); zset:N; stream:N (explicit
//   IDs; every 20th has consumer group "cg" with consumer "alice" holding one pending entry);
//   session:N with a TTL. In every hundred keys, the first hash/set/zset/intset has 600 members
//   (past the default listpack/intset limits of 128-512) and the first list 1000 elements. Besides
//   the session keys, every 7th key has a TTL; all TTLs are absolute (PEXPIREAT expire_at_unix_ms),
//   so two loads with the same options agree. Key names get `key_prefix` in front; one key in 50
//   has a binary name (NUL and 0xFF bytes).
//
// Loading replaces earlier data: the MariaDB database / PostgreSQL schema is dropped and created,
// and Redis keys are deleted before they are written (other keys are left alone). 10,000 rows load
// in about a second per engine (multi-row INSERTs, COPY, pipelining).
//
// Thread safety: the functions are safe for concurrent use on different servers/connections.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/harness/mariadb_server.h"
#include "tests/harness/mysql_client.h"
#include "tests/harness/postgres_client.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/redis_client.h"
#include "tests/harness/redis_server.h"

namespace tandem::testing {

// The tables of the MariaDB and PostgreSQL data sets.
inline const std::vector<std::string> kSampleTables = {"all_types", "order_lines", "customers",
                                                       "events_log"};

struct MySqlSampleDataOptions {
  int rows = 1000;                // rows per table
  std::string database = "shop";  // dropped and created
  uint64_t seed = 1;
};

struct PostgresSampleDataOptions {
  int rows = 1000;              // rows per table
  std::string schema = "shop";  // dropped (CASCADE) and created in the connection's database
  uint64_t seed = 1;
};

struct RedisSampleDataOptions {
  int rows = 1000;  // keys per database
  std::vector<int> databases = {0, 1, 2};
  std::string key_prefix;  // put in front of every key name
  uint64_t seed = 1;
  // Absolute expiry (Unix ms) for keys with a TTL; 0 = one hour from now, rounded down to the
  // second. Pass the same value to a source and a target load so their TTLs agree.
  int64_t expire_at_unix_ms = 0;
};

// MariaDB. The connection needs CREATE/DROP DATABASE and INSERT (root, or tandem); its session
// is left with utf8mb4, time_zone '+00:00' and the default sql_mode.
void LoadMySqlSampleData(MySqlClient& client, const MySqlSampleDataOptions& options);
void LoadMySqlSampleData(const MariaDbServer& server, int rows);
void LoadMySqlSampleData(const std::string& uri, const MySqlSampleDataOptions& options);

// PostgreSQL. The connection needs to create schemas and types in its database; its session is
// left with TIME ZONE 'UTC'. The server overload creates the objects as the tandem role.
void LoadPostgresSampleData(PostgresClient& client, const PostgresSampleDataOptions& options);
void LoadPostgresSampleData(const PostgresServer& server, int rows);  // database tandem
void LoadPostgresSampleData(const std::string& uri, const PostgresSampleDataOptions& options);

// Redis. The URI's database number is ignored (options.databases is used).
void LoadRedisSampleData(const RedisConnectOptions& connect, const RedisSampleDataOptions& options);
void LoadRedisSampleData(const RedisServer& server, int rows);
void LoadRedisSampleData(const std::string& uri, const RedisSampleDataOptions& options);

// The default absolute expiry used when expire_at_unix_ms is 0: now + 1 h, in whole seconds.
int64_t DefaultSampleExpiryUnixMs();

}  // namespace tandem::testing
