// File: connectors/postgres/postgres_catalog.h
//
// Catalog introspection through pg_catalog (never information_schema, which hides objects the
// user lacks privileges on and is slow), every name bound as a parameter:
//   - ListTables: ordinary and partitioned tables (partitions are read through their parent, so
//     they are not listed), system schemas (pg_catalog, information_schema, pg_toast*, pg_temp_*)
//     left out;
//   - DescribeTable: columns with format_type() as the declared type, the logical kind of the
//     column's base type (domains resolved, however deeply nested), NOT NULL, the database
//     encoding as charset and the collation (the database's for "default") of collatable
//     columns; the primary key and the unique indexes that can identify rows (valid, not partial,
//     no expressions, INCLUDE columns left out); reltuples and pg_total_relation_size summed over
//     the partition tree.
// Requires PostgreSQL 12 or later (pg_partition_tree).
//
// Thread safety: functions on a connection owned by the calling thread.
#pragma once

#include <string>
#include <vector>

#include "connectors/postgres/postgres_connection.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::postgres {

// The first server version the catalog queries work on.
inline constexpr int kMinimumServerVersion = 120000;

// The user tables of `schema`, or of every schema when it is empty, sorted by schema and name.
// Errors: kNotFound when `schema` is given and does not exist; connection errors.
engine::Result<std::vector<engine::TableId>> ListPostgresTables(PostgresConnection& connection,
                                                                const std::string& schema);

// The schema of `table`. Errors: kNotFound when no such table exists; kUnsupported before
// PostgreSQL 12; connection errors.
engine::Result<engine::TableSchema> DescribePostgresTable(PostgresConnection& connection,
                                                          const engine::TableId& table);

}  // namespace tandem::connectors::postgres
