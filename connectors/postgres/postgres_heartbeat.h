// File: connectors/postgres/postgres_heartbeat.h
//
// The heartbeat ports (engine/heartbeat.h) for PostgreSQL.
//
//   writer   Prepare: CREATE SCHEMA _tandem / CREATE TABLE _tandem.heartbeat in
//   the URI's
//            database when missing (looked up first, so an existing table needs
//            no CREATE privilege); deletes records untouched for an hour; sets
//            the session's synchronous_commit to `local`, so each heartbeat
//            commit flushes its WAL at once and the WAL sender ships it at once
//            (with `off`, as some servers run, the WAL writer would hold it
//            back for up to wal_writer_delay, 200 ms by default), without
//            waiting for synchronous standbys either.
//            Write:   INSERT ... ON CONFLICT (writer_id) DO UPDATE, autocommit.
//   reader   Prepare: on a server that is not in recovery (a logical
//   subscriber), creates the
//            table when missing, since logical replication does not carry DDL;
//            a standby gets it from its primary and is left alone.
//            ReadSequence: SELECT seq ... WHERE writer_id = $1, autocommit, so
//            each read sees a fresh snapshot. A missing table (not replicated
//            yet) reads as "nothing yet"; a read a hot standby cancels for a
//            recovery conflict is kUnavailable (ridden out).
//
// Logical replication carries the heartbeat only when the publication includes
// _tandem.heartbeat (FOR ALL TABLES does) and the subscription knows the table
// (created before the subscription, or ALTER SUBSCRIPTION ... REFRESH
// PUBLICATION after); the probe (postgres_replication_probe.h) says so when it
// does not.
//
// Privileges: the source user needs CREATE on the database the first time, then
// SELECT, INSERT, UPDATE, DELETE on _tandem.heartbeat (and USAGE on schema
// _tandem); the target user SELECT.
//
// Thread safety: each object owns its connection and belongs to one thread at a
// time.
#pragma once

#include <memory>

#include "engine/heartbeat.h"

namespace tandem::connectors::postgres {

// The DDL of the heartbeat table, for messages that ask a DBA to create it.
extern const char kPostgresHeartbeatDdl[];

// REQUIRES: source.engine == EngineKind::kPostgres. Errors: as
// PostgresConnection::Connect.
engine::Result<std::unique_ptr<engine::HeartbeatWriter>> OpenPostgresHeartbeatWriter(
    const engine::ConnectionConfig& source, engine::HeartbeatWriterId writer_id);

// REQUIRES: target.engine == EngineKind::kPostgres.
engine::Result<std::unique_ptr<engine::HeartbeatReader>> OpenPostgresHeartbeatReader(
    const engine::ConnectionConfig& target, engine::HeartbeatWriterId writer_id);

}  // namespace tandem::connectors::postgres
