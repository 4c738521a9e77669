// Unit tests (no server) for connectors/postgres/postgres_range_query.h: the SQL and parameters
// of key-range reads.
#include "connectors/postgres/postgres_range_query.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::connectors::postgres {
namespace {

using engine::KeyBound;
using engine::KeyRange;
using engine::StatusCode;
using engine::TableSchema;
using engine::Value;
using engine::ValueKind;

TableSchema SingleKeyTable() {
  TableSchema table;
  table.id = {"shop", "orders"};
  table.columns = {{"id", "bigint", ValueKind::kInt, false}, {"note", "text", ValueKind::kText}};
  table.keys = {{"orders_pkey", {0}, true, true}};
  return table;
}

TableSchema CompositeKeyTable() {
  TableSchema table;
  table.id = {"shop", "order_lines"};
  table.columns = {{"order_id", "integer", ValueKind::kInt, false},
                   {"qty", "integer", ValueKind::kInt},
                   {"line_no", "smallint", ValueKind::kInt, false}};
  table.keys = {{"order_lines_pkey", {0, 2}, true, true}};
  return table;
}

TEST(PostgresQuoteIdentifier, DoublesEmbeddedQuotes) {
  EXPECT_EQ(QuoteIdentifier("orders"), "\"orders\"");
  EXPECT_EQ(QuoteIdentifier("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(QuoteIdentifier("Mixed Case"), "\"Mixed Case\"");
  EXPECT_EQ(QuoteTable({"s\"x", "t"}), "\"s\"\"x\".\"t\"");
}

TEST(PostgresBuildRangeQuery, AllRowsOrderedByKey) {
  auto query = BuildRangeQuery(SingleKeyTable(), KeyRange::All());
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->sql, "SELECT \"id\", \"note\" FROM \"shop\".\"orders\" ORDER BY \"id\"");
  EXPECT_TRUE(query->params.empty());
}

TEST(PostgresBuildRangeQuery, ExclusiveLowerInclusiveUpperBindBothBounds) {
  KeyRange range;
  range.lower = KeyBound{{Value::Int(10)}, false};
  range.upper = KeyBound{{Value::Int(20)}, true};
  auto query = BuildRangeQuery(SingleKeyTable(), range);
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->sql,
            "SELECT \"id\", \"note\" FROM \"shop\".\"orders\" WHERE \"id\" > $1 AND \"id\" <= $2 "
            "ORDER BY \"id\"");
  ASSERT_EQ(query->params.size(), 2u);
  EXPECT_EQ(query->params[0], "10");
  EXPECT_EQ(query->params[1], "20");
}

TEST(PostgresBuildRangeQuery, InclusiveLowerOnly) {
  KeyRange range;
  range.lower = KeyBound{{Value::Int(5)}, true};
  auto query = BuildRangeQuery(SingleKeyTable(), range);
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->sql,
            "SELECT \"id\", \"note\" FROM \"shop\".\"orders\" WHERE \"id\" >= $1 ORDER BY \"id\"");
}

TEST(PostgresBuildRangeQuery, ExclusiveUpperOnly) {
  KeyRange range;
  range.upper = KeyBound{{Value::Int(5)}, false};
  auto query = BuildRangeQuery(SingleKeyTable(), range);
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->sql,
            "SELECT \"id\", \"note\" FROM \"shop\".\"orders\" WHERE \"id\" < $1 ORDER BY \"id\"");
}

TEST(PostgresBuildRangeQuery, CompositeKeysUseRowValueComparisonInKeyOrder) {
  KeyRange range;
  range.lower = KeyBound{{Value::Int(1), Value::Int(2)}, true};
  range.upper = KeyBound{{Value::Int(3), Value::Int(4)}, false};
  auto query = BuildRangeQuery(CompositeKeyTable(), range);
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->sql,
            "SELECT \"order_id\", \"qty\", \"line_no\" FROM \"shop\".\"order_lines\" WHERE "
            "(\"order_id\", \"line_no\") >= ($1, $2) AND (\"order_id\", \"line_no\") < ($3, $4) "
            "ORDER BY \"order_id\", \"line_no\"");
  ASSERT_EQ(query->params.size(), 4u);
  EXPECT_EQ(query->params[3], "4");
}

TEST(PostgresBuildRangeQuery, BoundValuesAreParametersNeverSql) {
  TableSchema table = SingleKeyTable();
  table.columns[0] = {"email", "text", ValueKind::kText, false};
  KeyRange range;
  range.lower = KeyBound{{Value::Text("x'); DROP TABLE orders; --")}, false};
  auto query = BuildRangeQuery(table, range);
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->sql.find("DROP"), std::string::npos);
  EXPECT_EQ(query->params[0], "x'); DROP TABLE orders; --");
}

TEST(PostgresBuildRangeQuery, TableWithoutKeyReadsWholeInServerOrder) {
  TableSchema table = SingleKeyTable();
  table.keys.clear();
  auto query = BuildRangeQuery(table, KeyRange::All());
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->sql, "SELECT \"id\", \"note\" FROM \"shop\".\"orders\"");
  KeyRange range;
  range.lower = KeyBound{{Value::Int(1)}, false};
  EXPECT_EQ(BuildRangeQuery(table, range).status().code(), StatusCode::kFailedPrecondition);
}

TEST(PostgresBuildRangeQuery, NullableUniqueKeyDoesNotIdentifyRows) {
  TableSchema table = SingleKeyTable();
  table.keys = {{"orders_note_key", {1}, false, false}};
  auto query = BuildRangeQuery(table, KeyRange::All());
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->sql.find("ORDER BY"), std::string::npos);
}

TEST(PostgresBuildRangeQuery, RefusesMalformedBounds) {
  KeyRange wrong_arity;
  wrong_arity.lower = KeyBound{{Value::Int(1)}, false};
  EXPECT_EQ(BuildRangeQuery(CompositeKeyTable(), wrong_arity).status().code(),
            StatusCode::kInvalidArgument);
  KeyRange null_bound;
  null_bound.upper = KeyBound{{Value::Null()}, false};
  auto query = BuildRangeQuery(SingleKeyTable(), null_bound);
  EXPECT_EQ(query.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(query.status().message().find("NULL"), std::string::npos);
}

}  // namespace
}  // namespace tandem::connectors::postgres
