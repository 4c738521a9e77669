#include "connectors/mysql/mysql_target_tables.h"

#include <string>
#include <string_view>

#include "connectors/mysql/mysql_range_query.h"
#include "connectors/mysql/mysql_statement.h"

namespace tandem::connectors::mysql {

using engine::Result;
using engine::Status;
using engine::TableId;

namespace {

// "CREATE TABLE `t` ..." -> "CREATE TABLE IF NOT EXISTS `t` ...". Errors: kUnsupported when
// `definition` does not start with `prefix` (a view, or a server that prints something else).
Result<std::string> WithIfNotExists(std::string definition, std::string_view prefix,
                                    const std::string& object) {
  if (!definition.starts_with(prefix)) {
    return engine::Unsupported(object + " is not a plain " + std::string(prefix.substr(7)) +
                               "on the source (" + definition.substr(0, 40) +
                               "...), so tandem cannot create it on the target");
  }
  if (definition.compare(prefix.size(), 14, "IF NOT EXISTS ") != 0) {
    definition.insert(prefix.size(), "IF NOT EXISTS ");
  }
  return definition;
}

// The second column of SHOW CREATE ... (the definition).
Result<std::string> ShowCreate(MySqlConnection& connection, const std::string& sql,
                               const std::string& action) {
  TANDEM_ASSIGN_OR_RETURN(TextRows rows, connection.QueryText(sql, action));
  if (rows.empty() || rows[0].size() < 2 || !rows[0][1]) {
    return engine::Corruption(action + " on " + connection.config().Redacted() +
                              " returned no definition");
  }
  return *rows[0][1];
}

Status CreateOne(MySqlConnection& source, MySqlConnection& target, const TableId& table) {
  const std::string what = "table " + table.ToString();
  Result<std::string> table_definition =
      ShowCreate(source, "SHOW CREATE TABLE " + QuoteTable(table),
                 "reading the definition of " + what + " on the source");
  if (!table_definition.ok()) {
    if (table_definition.status().code() == engine::StatusCode::kNotFound) {
      return engine::NotFound("source " + what + " does not exist on " +
                              source.config().Redacted() + " (check the --table names)");
    }
    return table_definition.status();
  }
  TANDEM_ASSIGN_OR_RETURN(std::string create_table,
                          WithIfNotExists(*table_definition, "CREATE TABLE ", what));
  TANDEM_ASSIGN_OR_RETURN(
      std::string schema_definition,
      ShowCreate(source, "SHOW CREATE DATABASE " + QuoteIdentifier(table.schema),
                 "reading the definition of schema " + table.schema));
  TANDEM_ASSIGN_OR_RETURN(
      std::string create_schema,
      WithIfNotExists(schema_definition, "CREATE DATABASE ", "schema " + table.schema));
  TANDEM_RETURN_IF_ERROR(
      target.Execute(create_schema, "creating schema " + table.schema + " on the target"));
  if (mysql_select_db(target.handle(), table.schema.c_str()) != 0) {
    return target.LastError("selecting schema " + table.schema + " on the target");
  }
  TANDEM_RETURN_IF_ERROR(
      target.Execute("SET SESSION foreign_key_checks = 0", "creating " + what + " on the target"));
  Status created = target.Execute(create_table, "creating " + what + " on the target");
  Status restored =
      target.Execute("SET SESSION foreign_key_checks = 1", "creating " + what + " on the target");
  TANDEM_RETURN_IF_ERROR(created);
  return restored;
}

}  // namespace

Result<bool> TableExists(MySqlConnection& connection, const TableId& table) {
  TANDEM_ASSIGN_OR_RETURN(
      auto statement,
      MySqlStatement::Prepare(connection,
                              "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                              "? AND TABLE_NAME = ?",
                              "looking for table " + table.ToString()));
  TANDEM_ASSIGN_OR_RETURN(
      std::vector<engine::Row> rows,
      statement->QueryAll({engine::Value::Text(table.schema), engine::Value::Text(table.name)}));
  return !rows.empty() && !rows[0].empty() && rows[0][0].int_value() > 0;
}

Result<std::vector<TableId>> CreateMissingTables(MySqlConnection& source, MySqlConnection& target,
                                                 const std::vector<TableId>& tables) {
  std::vector<TableId> created;
  for (const TableId& table : tables) {
    TANDEM_ASSIGN_OR_RETURN(bool exists, TableExists(target, table));
    if (exists) {
      continue;
    }
    TANDEM_RETURN_IF_ERROR(CreateOne(source, target, table));
    created.push_back(table);
  }
  return created;
}

}  // namespace tandem::connectors::mysql
