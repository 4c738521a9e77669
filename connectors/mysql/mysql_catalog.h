// File: connectors/mysql/mysql_catalog.h
//
// Catalog introspection of a MySQL/MariaDB server from information_schema (TABLES, COLUMNS,
// STATISTICS and, on MariaDB, CHECK_CONSTRAINTS), every filter a bound parameter. The system
// schemas (mysql, information_schema, performance_schema, sys) are never listed; views and
// sequences are not tables here.
//
//   TableSchema field        source
//   columns[].declared_type  COLUMNS.COLUMN_TYPE lower-cased outside quotes: "int(10) unsigned",
//                            "decimal(20,6)", "enum('A','b')"; MariaDB's JSON is "longtext"
//   columns[].kind           KindForColumnType (mysql_type_map.h); kJson for a MariaDB column with
//                            CHECK (json_valid(`col`)) or a MySQL json column
//   columns[].nullable       COLUMNS.IS_NULLABLE
//   columns[].charset/...    COLUMNS.CHARACTER_SET_NAME / COLLATION_NAME (empty when NULL)
//   keys                     STATISTICS rows with NON_UNIQUE = 0: PRIMARY first, then unique keys
//                            by name; keys over an expression (MySQL functional indexes) skipped
//   estimated_rows           TABLES.TABLE_ROWS (an estimate for InnoDB)
//   data_bytes               TABLES.DATA_LENGTH
//
// Names are matched exactly (case-sensitively), as the server stores them.
// information_schema only shows objects the user has some privilege on, so a table the user cannot
// see is reported as not found.
//
// Thread safety: functions over a connection; the connection's owner thread calls them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::mysql {

// A table as the catalog describes it, with what the assessment needs beyond TableSchema.
struct CatalogTable {
  engine::TableSchema schema;
  std::string storage_engine;           // TABLES.ENGINE, e.g. "InnoDB"; empty when unknown
  std::vector<std::string> data_types;  // COLUMNS.DATA_TYPE per column, lower case
  std::vector<std::string> extras;      // COLUMNS.EXTRA per column, lower case
};

// Every table of `schema` (every non-system schema when empty), or just `table` when not empty.
// Ordered by schema, then name. Errors: those of the queries (QueryErrorStatus).
engine::Result<std::vector<CatalogTable>> LoadCatalog(MySqlConnection& connection,
                                                      std::string_view schema,
                                                      std::string_view table);

// The tables of `schema`; when `schema` is empty, of the connection's database if the URI names
// one, else of every non-system schema. Errors: kNotFound when a named schema does not exist.
engine::Result<std::vector<engine::TableId>> ListTables(MySqlConnection& connection,
                                                        const std::string& schema);

// One table. Errors: kNotFound when it does not exist (or the user cannot see it).
engine::Result<engine::TableSchema> DescribeTable(MySqlConnection& connection,
                                                  const engine::TableId& table);

// The schemas that must never be listed or read.
bool IsSystemSchema(std::string_view schema);

}  // namespace tandem::connectors::mysql
