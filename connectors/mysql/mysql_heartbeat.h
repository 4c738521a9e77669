// File: connectors/mysql/mysql_heartbeat.h
//
// The heartbeat ports (engine/heartbeat.h) for MySQL and MariaDB.
//
//   writer   Prepare: CREATE DATABASE _tandem / CREATE TABLE _tandem.heartbeat
//   when missing
//            (checked in information_schema first, so an existing table needs
//            no CREATE privilege), then deletes records untouched for an hour.
//            Write:   INSERT ... ON DUPLICATE KEY UPDATE, a prepared statement,
//            autocommit. Remove:  DELETE of this writer's record.
//   reader   ReadSequence: SELECT seq ... WHERE writer_id = ?, a prepared
//   statement; each
//            autocommit SELECT reads a fresh snapshot. A missing database or
//            table (not yet replicated) reads as "nothing yet".
//
// The table replicates like any other: through the binary log in every
// binlog_format. Replication filters (replicate_ignore_db,
// replicate_wild_ignore_table) that exclude _tandem keep it from the target,
// and the lag then cannot be measured.
//
// Privileges: the source user needs SELECT, INSERT, UPDATE, DELETE (and CREATE,
// the first time) on _tandem.*; the target user SELECT on _tandem.heartbeat.
//
// Thread safety: each object owns its connection and belongs to one thread at a
// time.
#pragma once

#include <memory>

#include "engine/heartbeat.h"

namespace tandem::connectors::mysql {

// Connects to `source`. REQUIRES: source.engine == EngineKind::kMySql.
// Errors: as MySqlConnection::Open.
engine::Result<std::unique_ptr<engine::HeartbeatWriter>> OpenMySqlHeartbeatWriter(
    const engine::ConnectionConfig& source, engine::HeartbeatWriterId writer_id);

// Connects to `target`. REQUIRES: target.engine == EngineKind::kMySql.
engine::Result<std::unique_ptr<engine::HeartbeatReader>> OpenMySqlHeartbeatReader(
    const engine::ConnectionConfig& target, engine::HeartbeatWriterId writer_id);

}  // namespace tandem::connectors::mysql
