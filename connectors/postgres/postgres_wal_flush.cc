#include "connectors/postgres/postgres_wal_flush.h"

#include <string>
#include <thread>

namespace tandem::connectors::postgres {
namespace {

using engine::Lsn;
using engine::Result;
using engine::Status;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kPollInterval{10};

Result<Lsn> ReadLsn(PostgresConnection& connection, const char* what, const std::string& sql) {
  TANDEM_ASSIGN_OR_RETURN(PgResult row, connection.Query(what, sql));
  if (row.rows() != 1 || row.IsNull(0, 0)) {
    return engine::Internal(std::string(what) + " on " + connection.config().Redacted() +
                            " returned no LSN");
  }
  Result<Lsn> lsn = engine::ParseLsn(row.View(0, 0));
  if (!lsn.ok()) {
    return engine::Corruption(std::string(what) + " on " + connection.config().Redacted() +
                              " returned \"" + row.String(0, 0) + "\", which is not an LSN");
  }
  return *lsn;
}

// One READ WRITE transaction that commits with synchronous_commit = local after `body`.
Status CommitLocallyFlushed(PostgresConnection& connection, const char* body) {
  for (const char* statement :
       {"BEGIN READ WRITE", "SET LOCAL synchronous_commit = local", body, "COMMIT"}) {
    Result<PgResult> done = connection.Query("flushing the WAL", statement);
    if (!done.ok()) {
      (void)connection.Query("flushing the WAL", "ROLLBACK");
      return done.status();
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Lsn> ReadWalFlushPosition(PostgresConnection& connection) {
  return ReadLsn(connection, "reading the WAL flush position",
                 "SELECT pg_catalog.pg_current_wal_flush_lsn()::text");
}

Result<Lsn> FlushWal(PostgresConnection& connection, std::chrono::milliseconds timeout) {
  Status flushed = CommitLocallyFlushed(
      connection, "SELECT pg_catalog.pg_logical_emit_message(true, 'tandem.flush', '')");
  if (flushed.ok()) {
    return ReadWalFlushPosition(connection);
  }
  if (flushed.code() == engine::StatusCode::kConnectionFailed) {
    return flushed;
  }
  // The message refused: wake the WAL writer with a commit record and wait for its flush.
  const auto deadline = Clock::now() + timeout;
  TANDEM_ASSIGN_OR_RETURN(Lsn inserted,
                          ReadLsn(connection, "reading the WAL insert position",
                                  "SELECT pg_catalog.pg_current_wal_insert_lsn()::text"));
  TANDEM_RETURN_IF_ERROR(CommitLocallyFlushed(connection, "SELECT pg_catalog.txid_current()"));
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(Lsn now, ReadWalFlushPosition(connection));
    if (now >= inserted) {
      return now;
    }
    if (Clock::now() >= deadline) {
      return engine::Timeout(
          connection.config().Redacted() + " has not flushed its WAL up to " +
          engine::FormatLsn(inserted) + " within " + std::to_string(timeout.count()) +
          " ms (flushed: " + engine::FormatLsn(now) +
          "; pg_logical_emit_message, which would have flushed it at once, was refused: " +
          flushed.message() + "): check the WAL writer and the disk");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace tandem::connectors::postgres
