#include "connectors/postgres/postgres_range_query.h"

#include "connectors/postgres/postgres_value_encoder.h"

namespace tandem::connectors::postgres {
namespace {

using engine::KeyBound;
using engine::Result;
using engine::Status;

// Appends "<key> <op> <params>" for one bound, adding its values to `query->params`.
Status AppendBound(const engine::TableSchema& table, const engine::KeyDescriptor& key,
                   const std::string& key_list, const KeyBound& bound, std::string_view op,
                   std::string_view which, RangeQuery* query) {
  if (bound.key.size() != key.columns.size()) {
    return engine::InvalidArgument(
        "the " + std::string(which) + " bound of a range of " + table.id.ToString() + " has " +
        std::to_string(bound.key.size()) + " values but key " + key.name + " has " +
        std::to_string(key.columns.size()) + " columns");
  }
  std::string placeholders;
  for (size_t i = 0; i < bound.key.size(); ++i) {
    if (bound.key[i].is_null()) {
      return engine::InvalidArgument("the " + std::string(which) + " bound of a range of " +
                                     table.id.ToString() + " has NULL for key column " +
                                     table.columns[key.columns[i]].name);
    }
    TANDEM_ASSIGN_OR_RETURN(Param param, EncodePostgresParam(bound.key[i]));
    query->params.push_back(std::move(param));
    if (i > 0) {
      placeholders += ", ";
    }
    placeholders += "$" + std::to_string(query->params.size());
  }
  query->sql += key.columns.size() == 1 ? key_list : "(" + key_list + ")";
  query->sql += " ";
  query->sql += op;
  query->sql += key.columns.size() == 1 ? " " + placeholders : " (" + placeholders + ")";
  return Status::Ok();
}

}  // namespace

std::string QuoteIdentifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') {
      quoted.push_back('"');
    }
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string QuoteTable(const engine::TableId& table) {
  return QuoteIdentifier(table.schema) + "." + QuoteIdentifier(table.name);
}

namespace {

// SELECT `select_list` FROM the table WHERE the range [ORDER BY the key].
Result<RangeQuery> BuildRangeSelect(const engine::TableSchema& table, const engine::KeyRange& range,
                                    const std::string& select_list, bool ordered) {
  RangeQuery query;
  query.sql = "SELECT " + select_list + " FROM " + QuoteTable(table.id);

  const engine::KeyDescriptor* key = table.IdentifyingKey();
  if (key == nullptr) {
    if (range.lower.has_value() || range.upper.has_value()) {
      return engine::FailedPrecondition(
          "cannot read a key range of " + table.id.ToString() +
          ": it has no primary key or unique key on NOT NULL columns (read it whole)");
    }
    return query;
  }
  std::string key_list;
  for (size_t i = 0; i < key->columns.size(); ++i) {
    const int column = key->columns[i];
    if (column < 0 || static_cast<size_t>(column) >= table.columns.size()) {
      return engine::InvalidArgument("key " + key->name + " of " + table.id.ToString() +
                                     " names column " + std::to_string(column) +
                                     ", which the schema does not have");
    }
    if (i > 0) {
      key_list += ", ";
    }
    key_list += QuoteIdentifier(table.columns[column].name);
  }
  if (range.lower.has_value()) {
    query.sql += " WHERE ";
    TANDEM_RETURN_IF_ERROR(AppendBound(table, *key, key_list, *range.lower,
                                       range.lower->inclusive ? ">=" : ">", "lower", &query));
  }
  if (range.upper.has_value()) {
    query.sql += range.lower.has_value() ? " AND " : " WHERE ";
    TANDEM_RETURN_IF_ERROR(AppendBound(table, *key, key_list, *range.upper,
                                       range.upper->inclusive ? "<=" : "<", "upper", &query));
  }
  if (ordered) {
    query.sql += " ORDER BY " + key_list;
  }
  return query;
}

}  // namespace

Result<RangeQuery> BuildRangeQuery(const engine::TableSchema& table,
                                   const engine::KeyRange& range) {
  std::string select_list;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    select_list += (i == 0 ? "" : ", ") + QuoteIdentifier(table.columns[i].name);
  }
  return BuildRangeSelect(table, range, select_list, /*ordered=*/true);
}

Result<RangeQuery> BuildRangeAggregateQuery(const engine::TableSchema& table,
                                            const engine::KeyRange& range,
                                            const std::string& select_list) {
  return BuildRangeSelect(table, range, select_list, /*ordered=*/false);
}

}  // namespace tandem::connectors::postgres
