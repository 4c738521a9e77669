// File: connectors/postgres/postgres_wal_flush.h
//
// FlushWal: makes a PostgreSQL primary flush its WAL through every record inserted before the
// call, now rather than at the WAL writer's next round. A logical walsender decodes flushed WAL
// only, so a commit acknowledged under synchronous_commit = off (inserted, not yet flushed) reaches
// a change stream only once something flushes it: the WAL writer does within wal_writer_delay
// (200 ms by default; up to 25 times that once it hibernates on an idle server).
//
// How: one transaction, READ WRITE (the server may be frozen by default_transaction_read_only),
//   SET LOCAL synchronous_commit = local;
//   SELECT pg_catalog.pg_logical_emit_message(true, 'tandem.flush', '');
//   COMMIT
// The transactional message is a WAL record of the transaction, so its commit is synchronous and
// flushes the WAL through its own commit record, past everything inserted before it. ('local': a
// flush here without waiting for synchronous standbys.) A transaction with a transaction id and
// nothing else would not do: PostgreSQL commits one that wrote no WAL before its commit record
// asynchronously, whatever synchronous_commit says (xact.c RecordTransactionCommit). The message
// reaches a logical decoding consumer only when it asks for messages (pgoutput's `messages`
// option, which tandem's streams do not set; the stream ignores them anyway); the transaction has
// no change of a table, so pgoutput sends nothing of it (PostgreSQL 15+) or an empty transaction.
//
// Fallback, when the message is refused (EXECUTE revoked from the role, or a server that has no
// such function): the same transaction with pg_catalog.txid_current() instead, whose commit
// record wakes a hibernating WAL writer, then a wait until the flush position reaches the insert
// position read before it (about wal_writer_delay).
//
// Thread safety: uses `connection`, which belongs to the calling thread.
#pragma once

#include <chrono>

#include "connectors/postgres/postgres_connection.h"
#include "engine/position.h"
#include "engine/status.h"

namespace tandem::connectors::postgres {

// Flushes the WAL through every record inserted before the call and returns the flush position
// then (pg_current_wal_flush_lsn(), at or past those records' end). `timeout` bounds the
// fallback's wait. REQUIRES: `connection` is to a primary, outside a transaction block.
// Errors: the connection's (a standby refuses to write WAL), kTimeout when the fallback's flush
// does not come within `timeout`.
engine::Result<engine::Lsn> FlushWal(PostgresConnection& connection,
                                     std::chrono::milliseconds timeout);

// pg_current_wal_flush_lsn(): how far the primary has flushed its WAL now (nothing is forced).
// REQUIRES: `connection` is to a primary. Errors: the connection's; kCorruption when the answer is
// not an LSN.
engine::Result<engine::Lsn> ReadWalFlushPosition(PostgresConnection& connection);

}  // namespace tandem::connectors::postgres
