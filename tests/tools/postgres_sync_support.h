// File: tests/tools/postgres_sync_support.h
//
// What the PostgreSQL `tandem sync` command-line tests share: a private source and target
// PostgreSQL 15 pair (logical decoding, a small logical_decoding_work_mem so that ordinary test
// transactions already spill), the shop sample data plus tables that exercise what logical
// replication has to get right (TOASTed values, a domain, a TRUNCATEd table, pgbench's tables),
// the target's schema made the way a user makes it (pg_dump --schema-only | psql), a write load
// that touches all of it, and `tandem verify` of the synced tables.
//
// Thread safety: objects belong to the test's thread, except WriteLoad, which runs its own
// threads and is stopped and joined by Stop() or its destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/local_servers.h"
#include "tests/tools/run_tandem.h"

namespace tandem::testing {

struct PostgresSyncServers {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<PostgresServer> source;
  std::unique_ptr<PostgresServer> target;
};

// Starts both servers; the source with `source_options` plus logical_decoding_work_mem = 64kB.
PostgresSyncServers StartPostgresSyncServers(PostgresOptions source_options = {});

// postgres://tandem@127.0.0.1:PORT/tandem: no password (it goes through the environment).
std::string PostgresUriWithoutPassword(const PostgresServer& server);

// The synced tables, "schema.table".
extern const std::vector<std::string> kPostgresSyncTables;

// On the source: the shop sample data (`rows` per table), shop.wide (a domain column and a
// TOASTed text), shop.scratch (truncated by the load), shop.big (big transactions) and pgbench's
// tables at scale 1 (pgbench_history given a primary key). On the target: the same schema, empty,
// through pg_dump --schema-only | psql.
void PreparePostgresSyncData(const PostgresSyncServers& servers, int rows);

// `tandem sync --source S --target T <extra...>`, run to completion.
CommandOutcome RunPostgresSync(const PostgresSyncServers& servers,
                               const std::vector<std::string>& extra,
                               std::chrono::seconds timeout = std::chrono::seconds(180));

// The arguments of a sync of kPostgresSyncTables between the servers, without the command name.
std::vector<std::string> PostgresSyncArgs(const PostgresSyncServers& servers,
                                          const std::vector<std::string>& extra);

// True when `tandem verify` of kPostgresSyncTables exits 0 and consistent; else *why says what
// differs (the first few differences per table).
bool PostgresTablesConsistent(const PostgresSyncServers& servers, std::string* why);

// The slot of stream "sync" on the source (tandem_sync_<hash of the target>): its name,
// confirmed_flush_lsn and the bytes of WAL it retains; nullopt when there is no such slot.
struct SlotState {
  std::string name;
  std::string confirmed_flush_lsn;
  int64_t retained_bytes = 0;
  bool active = false;
};
std::optional<SlotState> ReadSlotState(const PostgresServer& source);

// Writes on the source until stopped: two generator threads touching every synced table (every
// column type, updates that leave the TOASTed column alone, primary-key changes, deletes,
// TRUNCATE between inserts in one transaction, a 20,000-row transaction every few seconds) and
// pgbench (2 clients, -R rate) on its tables. Counts committed transactions.
class PostgresWriteLoad {
 public:
  explicit PostgresWriteLoad(const PostgresSyncServers& servers, int pgbench_rate = 100);
  ~PostgresWriteLoad();
  PostgresWriteLoad(const PostgresWriteLoad&) = delete;
  PostgresWriteLoad& operator=(const PostgresWriteLoad&) = delete;

  // Stops and joins everything; rethrows nothing (errors are counted).
  void Stop();
  int64_t transactions() const { return transactions_.load(); }
  int64_t errors() const { return errors_.load(); }
  const std::string& first_error() const { return first_error_; }  // after Stop()

 private:
  void Generate(int worker);

  const PostgresSyncServers& servers_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> errors_{0};
  std::string first_error_;  // written by generators under error_mu_
  std::mutex error_mu_;
  std::vector<std::thread> threads_;
  ChildProcess pgbench_;
};

}  // namespace tandem::testing
