#include "connectors/mysql/mysql_range_query.h"

#include "connectors/mysql/mysql_statement.h"

namespace tandem::connectors::mysql {

using engine::KeyBound;
using engine::KeyDescriptor;
using engine::KeyRange;
using engine::Result;
using engine::TableSchema;

namespace {

// Appends the condition for one bound: `lower` selects >, >= (else <, <=).
void AppendBound(const std::vector<std::string>& key_columns, const KeyBound& bound, bool lower,
                 RangeQuery* query, std::vector<std::string>* conditions) {
  const std::string strict = lower ? ">" : "<";
  const std::string op = bound.inclusive ? strict + "=" : strict;
  if (key_columns.size() == 1) {
    conditions->push_back(key_columns[0] + " " + op + " ?");
    query->params.push_back(bound.key[0]);
    return;
  }
  // The leading column alone (always inclusive) gives the optimizer an index range; the row value
  // comparison decides exactly.
  conditions->push_back(key_columns[0] + " " + strict + "= ?");
  query->params.push_back(bound.key[0]);
  std::string columns = "(";
  std::string marks = "(";
  for (size_t i = 0; i < key_columns.size(); ++i) {
    columns += (i == 0 ? "" : ", ") + key_columns[i];
    marks += i == 0 ? "?" : ", ?";
    query->params.push_back(bound.key[i]);
  }
  conditions->push_back(columns + ") " + op + " " + marks + ")");
}

}  // namespace

std::string QuoteIdentifier(std::string_view identifier) {
  std::string out = "`";
  for (char c : identifier) {
    out.push_back(c);
    if (c == '`') {
      out.push_back('`');
    }
  }
  out.push_back('`');
  return out;
}

std::string QuoteTable(const engine::TableId& table) {
  return QuoteIdentifier(table.schema) + "." + QuoteIdentifier(table.name);
}

namespace {

// SELECT `select_list` FROM the table WHERE the range [ORDER BY the key].
Result<RangeQuery> BuildRangeSelect(const TableSchema& table, const KeyRange& range,
                                    const std::string& select_list, bool ordered) {
  if (table.columns.empty()) {
    return engine::InvalidArgument("cannot read " + table.id.ToString() +
                                   ": its description has no columns (describe it first)");
  }
  RangeQuery query;
  query.sql = "SELECT " + select_list + " FROM " + QuoteTable(table.id);

  const KeyDescriptor* key = table.IdentifyingKey();
  if (key == nullptr) {
    if (range.lower || range.upper) {
      return engine::InvalidArgument("cannot read a key range of " + table.id.ToString() +
                                     ": it has no primary key or NOT NULL unique key");
    }
    return query;
  }

  std::vector<std::string> key_columns;
  for (int index : key->columns) {
    if (index < 0 || static_cast<size_t>(index) >= table.columns.size()) {
      return engine::InvalidArgument("key " + key->name + " of " + table.id.ToString() +
                                     " names column " + std::to_string(index) +
                                     ", which the table does not have");
    }
    key_columns.push_back(QuoteIdentifier(table.columns[static_cast<size_t>(index)].name));
  }
  if (key_columns.empty()) {
    return engine::InvalidArgument("key " + key->name + " of " + table.id.ToString() +
                                   " has no columns");
  }
  query.sql += " FORCE INDEX (" + QuoteIdentifier(key->name) + ")";

  std::vector<std::string> conditions;
  for (const auto* bound : {&range.lower, &range.upper}) {
    if (!bound->has_value()) {
      continue;
    }
    if ((*bound)->key.size() != key_columns.size()) {
      return engine::InvalidArgument("range " + range.ToString() + " of " + table.id.ToString() +
                                     " has " + std::to_string((*bound)->key.size()) +
                                     " values per bound, its key " + key->name + " has " +
                                     std::to_string(key_columns.size()) + " columns");
    }
    AppendBound(key_columns, **bound, bound == &range.lower, &query, &conditions);
  }
  for (size_t i = 0; i < conditions.size(); ++i) {
    query.sql += (i == 0 ? " WHERE " : " AND ") + conditions[i];
  }
  if (ordered) {
    query.sql += " ORDER BY ";
    for (size_t i = 0; i < key_columns.size(); ++i) {
      query.sql += (i == 0 ? "" : ", ") + key_columns[i];
    }
  }
  return query;
}

}  // namespace

Result<RangeQuery> BuildRangeQuery(const TableSchema& table, const KeyRange& range) {
  std::string select_list;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    select_list += (i == 0 ? "" : ", ") + QuoteIdentifier(table.columns[i].name);
  }
  return BuildRangeSelect(table, range, select_list, /*ordered=*/true);
}

Result<RangeQuery> BuildRangeAggregateQuery(const TableSchema& table, const KeyRange& range,
                                            const std::string& select_list) {
  return BuildRangeSelect(table, range, select_list, /*ordered=*/false);
}

engine::Status ReadRange(MySqlConnection& connection, const TableSchema& table,
                         const KeyRange& range, const std::string& action,
                         const engine::RowSink& sink) {
  TANDEM_ASSIGN_OR_RETURN(RangeQuery query, BuildRangeQuery(table, range));
  std::vector<engine::ValueKind> kinds;
  kinds.reserve(table.columns.size());
  for (const engine::Column& column : table.columns) {
    kinds.push_back(column.kind);
  }
  TANDEM_ASSIGN_OR_RETURN(auto statement, MySqlStatement::Prepare(connection, query.sql, action));
  TANDEM_RETURN_IF_ERROR(statement->Execute(query.params, kinds));
  engine::Row row;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool more, statement->Fetch(&row));
    if (!more || !sink(std::move(row))) {
      return engine::Status::Ok();  // an early stop: the statement's destructor discards the rest
    }
    row = engine::Row();
  }
}

}  // namespace tandem::connectors::mysql
