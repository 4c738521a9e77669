// File: engine/change_event.h
//
// ChangeEvent: one decoded change from a source's log, as a connector's ChangeStream delivers it
// and the pipeline schedules and applies it. A source transaction arrives as
//
//   kBegin, (kInsert | kUpdate | kDelete)*, kCommit      (SQL sources)
//   kBegin, kCommand*, kCommit                           (Redis: one command, or a MULTI/EXEC)
//
// with the same `transaction_sequence` on every event of it. kDdl and kHeartbeat stand alone (a DDL
// statement is its own transaction). Row images have every column of `table`, in its column order;
// where a source logs less (PostgreSQL: old images of the key only, unchanged TOAST values), the
// event says which values are placeholders (before_key_only, unchanged_columns) and appliers never
// write them.
//
//   kind        before            after             statement   position
//   kBegin      -                 -                 -           of the BEGIN
//   kInsert     -                 the new row       -           of the row event
//   kUpdate     the old row       the new row       -           of the row event
//   kDelete     the old row       -                 -           of the row event
//   kCommand    -                 -                 -           after the command
//   kCommit     -                 -                 -           after the commit: resume point
//   kDdl        -                 -                 the SQL     after the statement: resume point
//   kHeartbeat  -                 -                 -           the source's current position
//
// Only kCommit, kDdl and kHeartbeat positions are safe resume points; a checkpoint never holds any
// other (restarting mid-transaction would lose its first half).
//
// Thread safety: a value type; the schema it points to is immutable and shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/position.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::engine {

enum class ChangeKind : uint8_t {
  kBegin,
  kInsert,
  kUpdate,
  kDelete,
  kCommit,
  kDdl,
  kHeartbeat,
  // A key-value write command (Redis): `command`, run in `database`.
  kCommand,
};

// "begin", "insert", "update", "delete", "commit", "ddl", "heartbeat", "command".
std::string_view ChangeKindName(ChangeKind kind);

struct ChangeEvent {
  ChangeKind kind = ChangeKind::kHeartbeat;
  // Row events: the table as it was when the row was logged (the columns `before`/`after` follow).
  // kDdl: the table the statement changes when the stream knows it, else null.
  std::shared_ptr<const TableSchema> table;
  Row before;
  Row after;
  // kDdl: the statement, and the schema (database) it ran in.
  std::string statement;
  std::string statement_schema;
  Position position;
  // When the source committed the change (microseconds since the Unix epoch, UTC; the resolution
  // the source logs: seconds for MySQL binlog headers, microseconds for pgoutput); 0 unknown.
  int64_t source_commit_time_us = 0;
  // Increases by one per source transaction in stream order; equal for every event of one.
  uint64_t transaction_sequence = 0;
  // The source had foreign-key checks off for this change (MySQL's row event flag).
  bool foreign_key_checks_off = false;
  // kUpdate / kDelete: `before` holds only the identifying key's columns (the others are NULL
  // placeholders): a PostgreSQL table with REPLICA IDENTITY DEFAULT or USING INDEX logs no more.
  // An update that logs no old key at all (the key did not change) gets the after image's key.
  // Appliers use only the key of such a before image; the writeset orders the change against
  // everything when it cannot hash the old values of other unique or foreign keys.
  bool before_key_only = false;
  // kUpdate: indexes (sorted) of `after` columns whose new value the source did not log because it
  // did not change (PostgreSQL TOAST values left alone by the update). Their entries in `after` are
  // NULL placeholders that an applier must never write: it keeps the target's value.
  std::vector<int> unchanged_columns;
  // kCommand: the command as the source propagated it (command[0] is its name), the database it
  // runs in, and the keys it reads or writes when the stream can tell them (the writeset orders
  // commands sharing a key of one database; command_keys_known false, as for FLUSHDB, SWAPDB or a
  // script, orders the command against everything).
  std::vector<std::string> command;
  int database = 0;
  std::vector<std::string> command_keys;
  bool command_keys_known = false;

  bool IsRowChange() const {
    return kind == ChangeKind::kInsert || kind == ChangeKind::kUpdate ||
           kind == ChangeKind::kDelete;
  }
  // What an applier's Apply() takes: a row change or a key-value command.
  bool IsDataChange() const { return IsRowChange() || kind == ChangeKind::kCommand; }
};

// The memory `event` holds, approximately (its own size plus the heap its rows, statement and
// position own): what bounded queues and the pipeline's memory bounds count.
size_t ApproximateBytes(const ChangeEvent& event);

}  // namespace tandem::engine
