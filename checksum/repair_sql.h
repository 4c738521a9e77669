// File: checksum/repair_sql.h
//
// Repair statements: for each difference, the statement that, run on the target, makes that row
// match the source, in the target's SQL dialect:
//
//   difference  statement (MySQL / PostgreSQL)
//   missing     INSERT INTO t (every column) VALUES (the source row)
//   extra       DELETE FROM t WHERE key = ...            (keyless: one copy of the whole row;
//                                                          LIMIT 1 / ctid subselect)
//   changed     UPDATE t SET differing columns = source values WHERE key = ...
//
// Identifiers are quoted (`a``b` / "a""b"), text is a string literal with quotes (and for MySQL
// backslashes and NUL) escaped, bytes are hex literals (X'00ff' / '\x00ff'), temporal values ISO
// text in UTC: the script begins by setting the session time zone to UTC (and utf8mb4 on MySQL).
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "checksum/table_pairing.h"
#include "checksum/verify_report.h"
#include "engine/connection_config.h"
#include "engine/value.h"

namespace tandem::checksum {

// The session settings a repair script starts with.
std::string RepairPreamble(engine::EngineKind target_engine);

// One statement (ending in ";\n") repairing `difference` of the table `pairing` describes.
std::string RepairStatement(const TablePairing& pairing, const Difference& difference,
                            engine::EngineKind target_engine);

// `value` as a SQL literal of the dialect.
std::string SqlLiteral(const engine::Value& value, engine::EngineKind engine);

// `name` as a quoted identifier of the dialect.
std::string SqlIdentifier(const std::string& name, engine::EngineKind engine);

}  // namespace tandem::checksum
