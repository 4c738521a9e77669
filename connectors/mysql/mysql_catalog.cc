#include "connectors/mysql/mysql_catalog.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <utility>

#include "connectors/mysql/mysql_statement.h"
#include "connectors/mysql/mysql_type_map.h"

namespace tandem::connectors::mysql {

using engine::Column;
using engine::KeyDescriptor;
using engine::Result;
using engine::Row;
using engine::TableId;
using engine::TableSchema;
using engine::Value;
using engine::ValueKind;

namespace {

constexpr char kNotSystemSchema[] =
    "NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')";

int64_t IntegerOf(const Value& value, int64_t if_null) {
  switch (value.kind()) {
    case ValueKind::kInt:
      return value.int_value();
    case ValueKind::kUInt:
      return static_cast<int64_t>(value.uint_value());
    default:
      return if_null;
  }
}

std::string Lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

// Appends " AND <schema_column> = ? [AND <table_column> = ?]" for the filters given.
std::string Filters(std::string_view schema_column, std::string_view table_column,
                    std::string_view schema, std::string_view table, std::vector<Value>* params) {
  std::string sql = " AND " + std::string(schema_column) + " " + kNotSystemSchema;
  if (!schema.empty()) {
    sql += " AND " + std::string(schema_column) + " = ?";
    params->push_back(Value::Text(std::string(schema)));
  }
  if (!table.empty()) {
    sql += " AND " + std::string(table_column) + " = ?";
    params->push_back(Value::Text(std::string(table)));
  }
  return sql;
}

Result<std::vector<Row>> Query(MySqlConnection& connection, const std::string& sql,
                               const std::vector<Value>& params, const std::string& action) {
  TANDEM_ASSIGN_OR_RETURN(auto statement, MySqlStatement::Prepare(connection, sql, action));
  return statement->QueryAll(params);
}

using TableKey = std::pair<std::string, std::string>;

}  // namespace

bool IsSystemSchema(std::string_view schema) {
  const std::string lower = Lower(std::string(schema));
  return lower == "mysql" || lower == "information_schema" || lower == "performance_schema" ||
         lower == "sys";
}

Result<std::vector<CatalogTable>> LoadCatalog(MySqlConnection& connection, std::string_view schema,
                                              std::string_view table) {
  const std::string action = "reading the catalog";
  std::vector<CatalogTable> tables;
  std::map<TableKey, size_t> index;

  {
    std::vector<Value> params;
    const std::string sql =
        "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH "
        "FROM information_schema.TABLES "
        "WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')" +
        Filters("TABLE_SCHEMA", "TABLE_NAME", schema, table, &params) +
        " ORDER BY TABLE_SCHEMA, TABLE_NAME";
    TANDEM_ASSIGN_OR_RETURN(auto rows, Query(connection, sql, params, action));
    for (const Row& row : rows) {
      CatalogTable entry;
      entry.schema.id = TableId{TextOf(row[0]), TextOf(row[1])};
      // Filters compare with information_schema's case-insensitive collation; names are exact.
      if ((!schema.empty() && entry.schema.id.schema != schema) ||
          (!table.empty() && entry.schema.id.name != table)) {
        continue;
      }
      entry.storage_engine = TextOf(row[2]);
      entry.schema.estimated_rows = IntegerOf(row[3], -1);
      entry.schema.data_bytes = IntegerOf(row[4], -1);
      index[{entry.schema.id.schema, entry.schema.id.name}] = tables.size();
      tables.push_back(std::move(entry));
    }
  }
  if (tables.empty()) {
    return tables;
  }

  // MariaDB's JSON is LONGTEXT with CHECK (json_valid(`col`)); remember those checks.
  std::set<std::pair<TableKey, std::string>> json_checks;
  if (connection.is_mariadb()) {
    std::vector<Value> params;
    const std::string sql =
        "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE "
        "FROM information_schema.CHECK_CONSTRAINTS WHERE CHECK_CLAUSE LIKE 'json\\_valid(%'" +
        Filters("CONSTRAINT_SCHEMA", "TABLE_NAME", schema, table, &params);
    TANDEM_ASSIGN_OR_RETURN(auto rows, Query(connection, sql, params, action));
    for (const Row& row : rows) {
      json_checks.insert({{TextOf(row[0]), TextOf(row[1])}, TextOf(row[2])});
    }
  }

  {
    std::vector<Value> params;
    const std::string sql =
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, "
        "CHARACTER_SET_NAME, COLLATION_NAME, EXTRA FROM information_schema.COLUMNS WHERE 1 = 1" +
        Filters("TABLE_SCHEMA", "TABLE_NAME", schema, table, &params) +
        " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION";
    TANDEM_ASSIGN_OR_RETURN(auto rows, Query(connection, sql, params, action));
    for (const Row& row : rows) {
      const TableKey key{TextOf(row[0]), TextOf(row[1])};
      auto found = index.find(key);
      if (found == index.end()) {
        continue;  // a view, or a name that matched only case-insensitively
      }
      CatalogTable& entry = tables[found->second];
      Column column;
      column.name = TextOf(row[2]);
      const std::string data_type = Lower(TextOf(row[3]));
      const std::string column_type = TextOf(row[4]);
      const bool is_json = json_checks.count({key, JsonValidCheckClause(column.name)}) > 0;
      column.declared_type = LowerCaseOutsideQuotes(column_type);
      column.kind = KindForColumnType(data_type, column_type, is_json);
      column.nullable = TextOf(row[5]) == "YES";
      column.charset = TextOf(row[6]);
      column.collation = TextOf(row[7]);
      entry.schema.columns.push_back(std::move(column));
      entry.data_types.push_back(data_type);
      entry.extras.push_back(Lower(TextOf(row[8])));
    }
  }

  {
    std::vector<Value> params;
    const std::string sql =
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME "
        "FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0" +
        Filters("TABLE_SCHEMA", "TABLE_NAME", schema, table, &params) +
        " ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX";
    TANDEM_ASSIGN_OR_RETURN(auto rows, Query(connection, sql, params, action));
    // Keys over an expression have a NULL column name; they cannot identify rows by columns.
    std::set<std::pair<TableKey, std::string>> unusable;
    for (const Row& row : rows) {
      const TableKey key{TextOf(row[0]), TextOf(row[1])};
      auto found = index.find(key);
      if (found == index.end()) {
        continue;
      }
      TableSchema& schema_entry = tables[found->second].schema;
      const std::string index_name = TextOf(row[2]);
      const int column = row[3].is_null() ? -1 : schema_entry.ColumnIndex(TextOf(row[3]));
      if (schema_entry.keys.empty() || schema_entry.keys.back().name != index_name) {
        KeyDescriptor descriptor;
        descriptor.name = index_name;
        descriptor.primary = index_name == "PRIMARY";
        schema_entry.keys.push_back(std::move(descriptor));
      }
      if (column < 0) {
        unusable.insert({key, index_name});
        continue;
      }
      KeyDescriptor& descriptor = schema_entry.keys.back();
      descriptor.columns.push_back(column);
      if (schema_entry.columns[static_cast<size_t>(column)].nullable) {
        descriptor.all_not_null = false;
      }
    }
    for (CatalogTable& entry : tables) {
      auto& keys = entry.schema.keys;
      const TableKey key{entry.schema.id.schema, entry.schema.id.name};
      keys.erase(
          std::remove_if(
              keys.begin(), keys.end(),
              [&](const KeyDescriptor& descriptor) {
                return descriptor.columns.empty() || unusable.count({key, descriptor.name}) > 0;
              }),
          keys.end());
    }
  }
  return tables;
}

Result<std::vector<TableId>> ListTables(MySqlConnection& connection, const std::string& schema) {
  const std::string& effective = schema.empty() ? connection.config().database : schema;
  std::vector<TableId> ids;
  if (!effective.empty()) {
    if (IsSystemSchema(effective)) {
      return ids;
    }
    TANDEM_ASSIGN_OR_RETURN(
        auto statement,
        MySqlStatement::Prepare(connection,
                                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                                "WHERE SCHEMA_NAME = ?",
                                "listing tables"));
    TANDEM_ASSIGN_OR_RETURN(auto rows, statement->QueryAll({Value::Text(effective)}));
    const bool exists = std::any_of(rows.begin(), rows.end(),
                                    [&](const Row& row) { return TextOf(row[0]) == effective; });
    if (!exists) {
      return engine::NotFound("database '" + effective + "' does not exist on " +
                              connection.config().Redacted() +
                              " (or the user has no privilege on it)");
    }
  }
  std::vector<Value> params;
  const std::string sql =
      "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
      "WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')" +
      Filters("TABLE_SCHEMA", "TABLE_NAME", effective, "", &params) +
      " ORDER BY TABLE_SCHEMA, TABLE_NAME";
  TANDEM_ASSIGN_OR_RETURN(auto rows, Query(connection, sql, params, "listing tables"));
  for (const Row& row : rows) {
    TableId id{TextOf(row[0]), TextOf(row[1])};
    if (effective.empty() || id.schema == effective) {
      ids.push_back(std::move(id));
    }
  }
  return ids;
}

Result<TableSchema> DescribeTable(MySqlConnection& connection, const TableId& table) {
  if (table.schema.empty() || table.name.empty() || IsSystemSchema(table.schema)) {
    return engine::InvalidArgument("cannot describe '" + table.ToString() +
                                   "': give a user table as schema.name");
  }
  TANDEM_ASSIGN_OR_RETURN(auto tables, LoadCatalog(connection, table.schema, table.name));
  if (tables.empty()) {
    return engine::NotFound("table " + table.ToString() + " does not exist on " +
                            connection.config().Redacted() +
                            " (check the name, or grant the user SELECT on it)");
  }
  return std::move(tables.front().schema);
}

}  // namespace tandem::connectors::mysql
