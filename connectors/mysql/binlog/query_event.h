// File: connectors/mysql/binlog/query_event.h
//
// QUERY_EVENT: a statement logged as text. In ROW format these are transaction boundaries
// ("BEGIN", "COMMIT", "ROLLBACK", "XA ...") and DDL.
//
//   post-header (13 bytes)
//   4    thread_id
//   4    exec_time
//   1    schema_length      length of the default schema name
//   2    error_code
//   2    status_vars_length
//   body
//   n    status_vars        key/value pairs (flags, sql_mode, charsets, ...); skipped
//   s    schema             the default schema (database) the statement ran in
//   1    0x00
//   rest query             the statement text
//
// QUERY_COMPRESSED_EVENT (MariaDB, log_bin_compress) has the same layout with the statement text
// compressed (see compressed_payload.h).
//
// Thread safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

struct QueryEvent {
  uint32_t thread_id = 0;
  uint16_t error_code = 0;
  std::string schema;
  std::string query;
};

// `body` is the event without its header and checksum; `compressed` for QUERY_COMPRESSED_EVENT.
// Errors: kCorruption.
engine::Result<QueryEvent> ParseQueryEvent(std::string_view body, bool compressed);

// What a statement in a QUERY_EVENT means to a row-based stream.
enum class StatementClass {
  kBegin,     // BEGIN / START TRANSACTION / XA START
  kCommit,    // COMMIT / XA COMMIT / XA END ... (ends a transaction with its changes)
  kRollback,  // ROLLBACK (non-transactional changes logged before it stay)
  kDdl,       // CREATE / ALTER / DROP / RENAME / TRUNCATE of tables, schemas, indexes, views
  kOther,     // anything else (SAVEPOINT, GRANT, SET, user management ...)
};

// Classifies `query` by its leading keywords, skipping whitespace and /* */ comments.
StatementClass ClassifyStatement(std::string_view query);

}  // namespace tandem::connectors::mysql::binlog
