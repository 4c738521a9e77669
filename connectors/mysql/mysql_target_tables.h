// File: connectors/mysql/mysql_target_tables.h
//
// Creates target tables that do not exist yet from the source's own definitions, so `tandem sync`
// can copy into an empty server:
//
//   step                        statement
//   schema missing on target    SHOW CREATE DATABASE on the source, run on the target as
//                               CREATE DATABASE IF NOT EXISTS ... (same character set/collation)
//   table missing on target     SHOW CREATE TABLE on the source, run on the target as
//                               CREATE TABLE IF NOT EXISTS ... with the table's schema as the
//                               default schema and foreign_key_checks = 0 (so a child may be
//                               created before its parent)
//
// Existing target tables are left as they are (their shape is the assessment's business).
//
// Thread safety: functions over connections their caller's thread owns.
#pragma once

#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::mysql {

// Whether `table` exists on `connection` (a base table or view the user can see).
engine::Result<bool> TableExists(MySqlConnection& connection, const engine::TableId& table);

// Creates each of `tables` missing on `target` from its definition on `source`; returns the ones
// it created, in order. `target`'s session keeps foreign_key_checks = 1 afterwards.
// Errors: kNotFound when a table does not exist on the source; kUnsupported when it is a view;
// kPermissionDenied when the target user may not create it (the message names the table); others
// as the statements give them.
engine::Result<std::vector<engine::TableId>> CreateMissingTables(
    MySqlConnection& source, MySqlConnection& target, const std::vector<engine::TableId>& tables);

}  // namespace tandem::connectors::mysql
