// File: connectors/postgres/postgres_checkpoint_table.h
//
// The checkpoint rows of `tandem sync` in a PostgreSQL target: table `_tandem.checkpoint`, written
// in the same transaction as the rows each checkpoint covers (PostgresChangeApplier, and the
// initial copy when it completes), read to resume.
//
//   column                type            meaning
//   stream                text PK         engine::Checkpoint::stream
//   position              text            engine::Serialize(Checkpoint::position)
//   transaction_sequence  bigint          Checkpoint::transaction_sequence (bit pattern of uint64)
//   events_applied        bigint          Checkpoint::events_applied
//   updated_at            timestamptz     the target's clock when the row was written
//                                         (clock_timestamp(), just before the commit)
//
// Thread safety: functions on a connection owned by the calling thread.
#pragma once

#include <optional>
#include <string>

#include "connectors/postgres/postgres_connection.h"
#include "engine/change_stream.h"
#include "engine/status.h"

namespace tandem::connectors::postgres {

// `"_tandem"."checkpoint"`, quoted.
std::string QuotedCheckpointTable();

// Creates schema _tandem and the table when missing (CREATE ... IF NOT EXISTS, serialised between
// concurrent callers by a transaction-scoped advisory lock, so they are fine). When the table
// already exists nothing is created, so a role that may only write it (no CREATE privilege) works.
// REQUIRES: no transaction open on `connection` (it runs one of its own).
// Errors: kPermissionDenied naming the privilege and the GRANT (CREATE on the database, or on
// schema _tandem); connection errors.
engine::Status EnsureCheckpointTable(PostgresConnection& connection);

// Upserts `checkpoint`'s row inside the caller's open transaction (INSERT ... ON CONFLICT (stream)
// DO UPDATE), locking only that row. Errors: the statement's (kNotFound when the table is missing:
// call EnsureCheckpointTable first); connection errors.
engine::Status WriteCheckpoint(PostgresConnection& connection,
                               const engine::Checkpoint& checkpoint);

// The row of `stream`, or nullopt when there is none (also when the table does not exist yet: the
// table's existence is checked first, so an open transaction of the caller is not aborted).
// Errors: kCorruption when the stored position does not parse; connection errors.
engine::Result<std::optional<engine::Checkpoint>> ReadCheckpoint(PostgresConnection& connection,
                                                                 const std::string& stream);

}  // namespace tandem::connectors::postgres
