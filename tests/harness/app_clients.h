// File: tests/harness/app_clients.h
//
// The application side of cutover tests, per engine: an ordinary account's client for AppWriter
// (tests/harness/app_writer.h) and what such an account sees of a server (its ids, whether its
// writes are refused or held). Shared by the write cutover tests (tests/orchestration) and the
// `tandem run` migrations with a writer route (tests/tools/writer_migration.h).
//
// The accounts are ordinary on purpose: MariaDB's has no privilege that bypasses read_only,
// PostgreSQL's role is no superuser (default_transaction_read_only binds it), Redis's is a plain
// client (CLIENT PAUSE WRITE holds its writes).
//
// Thread safety: the returned AppClient's functions may run on any one thread at a time per
// connection; the other functions open a connection of their own per call.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>

#include "tests/harness/app_writer.h"
#include "tests/harness/postgres_server.h"
#include "tests/harness/redis_server.h"

namespace tandem::testing {

// The application's password on every engine.
inline constexpr char kAppPassword[] = "app-secret";

// The statement that inserts one id (an SQL engine's application).
using InsertStatement = std::function<std::string(int id)>;

// MariaDB: user `app` with kAppPassword, database `database`.
AppClient MariaDbAppClient(const std::string& database, InsertStatement insert);

// PostgreSQL: role `app` with kAppPassword, database `database`; every statement bounded by a 3 s
// statement_timeout. A write refused by default_transaction_read_only counts as refused.
AppClient PostgresAppClient(const std::string& database, InsertStatement insert);

// On `server`: database `database` owned by tandem, the table that `create_table` creates (named
// `table`) owned by tandem, and the login role `app` (kAppPassword) with SELECT and INSERT on it.
void CreatePostgresAppDatabase(const PostgresServer& server, const std::string& database,
                               const std::string& create_table, const std::string& table);

// The default_transaction_read_only a new session of `database` gets ("on" / "off").
std::string PostgresDefaultReadOnly(const PostgresServer& server, const std::string& database);

// Redis: a plain client with the server's password; an id is the key `key_prefix` + id, set to
// "w". Nothing refuses a write: a paused one blocks until the 2 s client timeout breaks it.
AppClient RedisAppClient(const std::string& password, const std::string& key_prefix);

// The ids of the keys `key_prefix`* on the server (db 0).
std::set<int> RedisIds(const RedisServer& server, const std::string& key_prefix);

// Whether a plain client's SET of the key "probe:writable" is answered "OK" within `bound`
// (CLIENT PAUSE WRITE holds it otherwise).
bool RedisWritesAtOnce(const RedisServer& server, std::chrono::milliseconds bound);

}  // namespace tandem::testing
