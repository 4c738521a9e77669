// File: connectors/mysql/mysql_range_query.h
//
// Builds the SELECT that reads one KeyRange of a table, ordered by its identifying key, with every
// bound passed as a parameter and every identifier quoted:
//
//   SELECT `a`, `b`, `c` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`)
//   WHERE `a` >= ? AND (`a`, `b`) > (?, ?) AND `a` <= ? AND (`a`, `b`) <= (?, ?)
//   ORDER BY `a`, `b`
//
// Composite keys use a row-value comparison for exactness, preceded by a comparison on the first
// key column alone, which the optimizer turns into an index range (it does not do that for row
// values in every version). Single-column keys compare the column directly. FORCE INDEX makes the
// server walk the key's index in order instead of sorting, so rows stream as they are read.
//
// ReadRange runs that query on a connection as a prepared statement, fetched unbuffered row by
// row (mysql_statement.h): the one reader of ranges behind MySqlDatabase and the snapshot readers.
//
// Thread safety: the builders are pure functions; ReadRange runs on the thread that owns the
// connection.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "engine/database.h"
#include "engine/key_range.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::connectors::mysql {

struct RangeQuery {
  std::string sql;
  std::vector<engine::Value> params;  // in placeholder order
};

// `identifier` in backticks, with backticks doubled: my`table -> `my``table`.
std::string QuoteIdentifier(std::string_view identifier);

// "`schema`.`name`".
std::string QuoteTable(const engine::TableId& table);

// The query for `range` over `table`. Without an identifying key only KeyRange::All() is allowed
// and rows come in server order.
// Errors: kInvalidArgument when the table has no columns, when a bound has the wrong number of
// values, or when the table has no identifying key and the range is bounded.
engine::Result<RangeQuery> BuildRangeQuery(const engine::TableSchema& table,
                                           const engine::KeyRange& range);

// The same rows as BuildRangeQuery, selecting `select_list` (expressions the caller built from
// QuoteIdentifier'd names) without ORDER BY: for aggregates over the range.
engine::Result<RangeQuery> BuildRangeAggregateQuery(const engine::TableSchema& table,
                                                    const engine::KeyRange& range,
                                                    const std::string& select_list);

// Reads the rows of `range` of `table` in key order (BuildRangeQuery), each decoded per its
// column's kind, and hands them to `sink` one at a time until the last row or until `sink` returns
// false (the rest of the result is then read and discarded). `action` names the read in errors
// ("reading shop.orders [1, 100]").
// Errors: those of BuildRangeQuery; the server's, mapped by QueryErrorStatus; kFailedPrecondition
// when a column's wire type cannot produce its kind (the table changed since it was described).
engine::Status ReadRange(MySqlConnection& connection, const engine::TableSchema& table,
                         const engine::KeyRange& range, const std::string& action,
                         const engine::RowSink& sink);

}  // namespace tandem::connectors::mysql
