#include "connectors/mysql/mysql_range_query.h"

#include <gtest/gtest.h>

namespace tandem::connectors::mysql {
namespace {

using engine::Column;
using engine::KeyBound;
using engine::KeyDescriptor;
using engine::KeyRange;
using engine::TableSchema;
using engine::Value;
using engine::ValueKind;

TableSchema OrderLines() {
  TableSchema table;
  table.id = {"shop", "order_lines"};
  table.columns = {Column{"order_id", "int(11)", ValueKind::kInt, false},
                   Column{"line_no", "smallint(6)", ValueKind::kInt, false},
                   Column{"sku", "varchar(32)", ValueKind::kText, false}};
  table.keys = {KeyDescriptor{"PRIMARY", {0, 1}, true, true}};
  return table;
}

TableSchema Customers() {
  TableSchema table;
  table.id = {"shop", "cust`omers"};
  table.columns = {Column{"email", "varchar(191)", ValueKind::kText, false},
                   Column{"name", "varchar(100)", ValueKind::kText, true}};
  table.keys = {KeyDescriptor{"PRIMARY", {0}, true, true}};
  return table;
}

TEST(MySqlQuoteIdentifier, DoublesBackticks) {
  EXPECT_EQ(QuoteIdentifier("orders"), "`orders`");
  EXPECT_EQ(QuoteIdentifier("we`ird"), "`we``ird`");
  EXPECT_EQ(QuoteTable({"shop", "a`b"}), "`shop`.`a``b`");
}

TEST(MySqlBuildRangeQuery, WholeTableIsOrderedByTheKey) {
  const auto query = BuildRangeQuery(OrderLines(), KeyRange::All());
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->sql,
            "SELECT `order_id`, `line_no`, `sku` FROM `shop`.`order_lines` FORCE INDEX "
            "(`PRIMARY`) ORDER BY `order_id`, `line_no`");
  EXPECT_TRUE(query->params.empty());
}

TEST(MySqlBuildRangeQuery, SingleColumnKeyBounds) {
  KeyRange range;
  range.lower = KeyBound{{Value::Text("a@x")}, false};
  range.upper = KeyBound{{Value::Text("m@x")}, true};
  const auto query = BuildRangeQuery(Customers(), range);
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->sql,
            "SELECT `email`, `name` FROM `shop`.`cust``omers` FORCE INDEX (`PRIMARY`) WHERE "
            "`email` > ? AND `email` <= ? ORDER BY `email`");
  EXPECT_EQ(query->params, (std::vector<Value>{Value::Text("a@x"), Value::Text("m@x")}));
}

TEST(MySqlBuildRangeQuery, CompositeKeyUsesRowValuesAndLeadingColumn) {
  KeyRange range;
  range.lower = KeyBound{{Value::Int(10), Value::Int(2)}, true};
  range.upper = KeyBound{{Value::Int(20), Value::Int(1)}, false};
  const auto query = BuildRangeQuery(OrderLines(), range);
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->sql,
            "SELECT `order_id`, `line_no`, `sku` FROM `shop`.`order_lines` FORCE INDEX "
            "(`PRIMARY`) WHERE `order_id` >= ? AND (`order_id`, `line_no`) >= (?, ?) AND "
            "`order_id` <= ? AND (`order_id`, `line_no`) < (?, ?) ORDER BY `order_id`, `line_no`");
  EXPECT_EQ(query->params, (std::vector<Value>{Value::Int(10), Value::Int(10), Value::Int(2),
                                               Value::Int(20), Value::Int(20), Value::Int(1)}));
}

TEST(MySqlBuildRangeQuery, WrongBoundWidthIsInvalidArgument) {
  KeyRange range;
  range.lower = KeyBound{{Value::Int(10)}, false};
  const auto query = BuildRangeQuery(OrderLines(), range);
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(query.status().code(), engine::StatusCode::kInvalidArgument);
}

TEST(MySqlBuildRangeQuery, KeylessTableOnlyWhole) {
  TableSchema table = Customers();
  table.keys.clear();
  const auto whole = BuildRangeQuery(table, KeyRange::All());
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->sql, "SELECT `email`, `name` FROM `shop`.`cust``omers`");
  KeyRange range;
  range.upper = KeyBound{{Value::Text("m")}, true};
  EXPECT_EQ(BuildRangeQuery(table, range).status().code(), engine::StatusCode::kInvalidArgument);
}

TEST(MySqlBuildRangeQuery, UniqueKeyIsForcedByName) {
  TableSchema table = Customers();
  table.keys = {KeyDescriptor{"email_unique", {0}, false, true}};
  const auto query = BuildRangeQuery(table, KeyRange::All());
  ASSERT_TRUE(query.ok());
  EXPECT_NE(query->sql.find("FORCE INDEX (`email_unique`)"), std::string::npos);
}

}  // namespace
}  // namespace tandem::connectors::mysql
