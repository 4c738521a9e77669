// File: connectors/postgres/postgres_range_query.h
//
// Builds the SELECT that reads one KeyRange of a table ordered by its identifying key. Every
// identifier is double-quoted (embedded quotes doubled) and every bound is a $n parameter whose
// type the server infers from the key column it is compared with. Composite keys use row-value
// comparison, which PostgreSQL evaluates lexicographically and serves from the key's btree index:
//
//   SELECT "id", "name", ... FROM "public"."orders"
//   WHERE ("tenant", "id") > ($1, $2) AND ("tenant", "id") <= ($3, $4)
//   ORDER BY "tenant", "id"
//
// Thread safety: stateless functions; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/postgres/postgres_param.h"
#include "engine/key_range.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::connectors::postgres {

struct RangeQuery {
  std::string sql;
  std::vector<Param> params;  // $1, $2, ... in order
};

// `"name"` with embedded double quotes doubled.
std::string QuoteIdentifier(std::string_view name);

// `"schema"."name"`.
std::string QuoteTable(const engine::TableId& table);

// The statement reading the rows of `table` in `range`, all columns in schema order.
// With no identifying key only KeyRange::All() is allowed, and rows come in server order.
// Errors: kInvalidArgument when a bound does not have one non-NULL value per key column or a bound
// value cannot be sent to PostgreSQL; kFailedPrecondition when `range` is bounded and the table
// has no identifying key.
engine::Result<RangeQuery> BuildRangeQuery(const engine::TableSchema& table,
                                           const engine::KeyRange& range);

// The same rows as BuildRangeQuery, selecting `select_list` (expressions the caller built from
// QuoteIdentifier'd names) without ORDER BY: for aggregates over the range.
engine::Result<RangeQuery> BuildRangeAggregateQuery(const engine::TableSchema& table,
                                                    const engine::KeyRange& range,
                                                    const std::string& select_list);

}  // namespace tandem::connectors::postgres
