// Integration tests: ListTables and DescribeTable against pg_catalog — declared types, kinds,
// nullability, collations, keys (primary first, usable unique indexes only), estimates, partitions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/connectors/postgres/postgres_test_support.h"

namespace tandem::postgres_test {
namespace {

using engine::StatusCode;
using engine::TableId;
using engine::TableSchema;
using engine::ValueKind;
using testing::Side;

class PostgresCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Shared() == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS)";
    }
    database_ = std::make_unique<ScratchDatabase>(*Shared(), Side::kSource, "pgcatalog");
    database_->Execute(R"sql(
      CREATE SCHEMA shop;
      CREATE SCHEMA other;
      CREATE DOMAIN shop.cents AS numeric(12,2);
      CREATE TABLE shop.orders (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        email varchar(191) NOT NULL,
        code char(8) COLLATE "C",
        amount shop.cents,
        note text,
        created timestamptz NOT NULL DEFAULT now(),
        tags text[],
        external uuid,
        dropped int);
      ALTER TABLE shop.orders DROP COLUMN dropped;
      CREATE UNIQUE INDEX orders_email_key ON shop.orders (email) INCLUDE (note);
      CREATE UNIQUE INDEX orders_external_key ON shop.orders (external);
      CREATE UNIQUE INDEX orders_partial_key ON shop.orders (code) WHERE code IS NOT NULL;
      CREATE UNIQUE INDEX orders_lower_email_key ON shop.orders (lower(email));
      INSERT INTO shop.orders (email, note) SELECT 'u' || g || '@example.com', repeat('x', 100)
        FROM generate_series(1, 500) g;
      CREATE TABLE shop.lines (b int, a int NOT NULL, c int, PRIMARY KEY (c, a));
      CREATE TABLE other.events (at timestamptz, what text);
      CREATE TABLE shop.measurements (id int, at date, v real, PRIMARY KEY (id, at))
        PARTITION BY RANGE (at);
      CREATE TABLE shop.measurements_2023 PARTITION OF shop.measurements
        FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
      CREATE TABLE shop.measurements_2024 PARTITION OF shop.measurements
        FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      INSERT INTO shop.measurements SELECT g, date '2023-06-01' + (g % 400), g
        FROM generate_series(1, 1000) g;
      CREATE VIEW shop.order_view AS SELECT * FROM shop.orders;
      ANALYZE;
    )sql");
    tandem_ = Open(database_->Uri());
    ASSERT_NE(tandem_, nullptr);
  }

  std::unique_ptr<ScratchDatabase> database_;
  std::unique_ptr<engine::SqlDatabase> tandem_;
};

TEST_F(PostgresCatalogTest, ListTablesSkipsSystemSchemasViewsAndPartitions) {
  auto tables = tandem_->ListTables("");
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  EXPECT_EQ(
      *tables,
      (std::vector<TableId>{
          {"other", "events"}, {"shop", "lines"}, {"shop", "measurements"}, {"shop", "orders"}}));
}

TEST_F(PostgresCatalogTest, ListTablesOfOneSchema) {
  auto tables = tandem_->ListTables("other");
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  EXPECT_EQ(*tables, (std::vector<TableId>{{"other", "events"}}));
  EXPECT_EQ(tandem_->ListTables("no_such_schema").status().code(), StatusCode::kNotFound);
  database_->Execute("CREATE SCHEMA empty");
  auto empty = tandem_->ListTables("empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(PostgresCatalogTest, DescribesColumnsWithDeclaredTypesAndKinds) {
  auto table = tandem_->DescribeTable({"shop", "orders"});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->columns.size(), 8u);  // the dropped column is gone
  struct Expected {
    const char* name;
    const char* declared_type;
    ValueKind kind;
    bool nullable;
    const char* collation;
  };
  const Expected expected[] = {
      {"id", "bigint", ValueKind::kInt, false, ""},
      {"email", "character varying(191)", ValueKind::kText, false, "C.UTF-8"},
      {"code", "character(8)", ValueKind::kText, true, "C"},
      {"amount", "shop.cents", ValueKind::kDecimal, true, ""},
      {"note", "text", ValueKind::kText, true, "C.UTF-8"},
      {"created", "timestamp with time zone", ValueKind::kTimestamp, false, ""},
      {"tags", "text[]", ValueKind::kOther, true, "C.UTF-8"},
      {"external", "uuid", ValueKind::kUuid, true, ""},
  };
  for (size_t i = 0; i < std::size(expected); ++i) {
    const engine::Column& column = table->columns[i];
    EXPECT_EQ(column.name, expected[i].name);
    EXPECT_EQ(column.declared_type, expected[i].declared_type) << column.name;
    EXPECT_EQ(column.kind, expected[i].kind) << column.name;
    EXPECT_EQ(column.nullable, expected[i].nullable) << column.name;
    EXPECT_EQ(column.collation, expected[i].collation) << column.name;
    EXPECT_EQ(column.charset, std::string(expected[i].collation).empty() ? "" : "UTF8")
        << column.name;
  }
}

TEST_F(PostgresCatalogTest, KeysArePrimaryFirstThenUsableUniqueIndexes) {
  auto table = tandem_->DescribeTable({"shop", "orders"});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  // Partial and expression indexes cannot identify rows; INCLUDE columns are not key columns.
  ASSERT_EQ(table->keys.size(), 3u);
  EXPECT_EQ(table->keys[0], (engine::KeyDescriptor{"orders_pkey", {0}, true, true}));
  EXPECT_EQ(table->keys[1], (engine::KeyDescriptor{"orders_email_key", {1}, false, true}));
  EXPECT_EQ(table->keys[2], (engine::KeyDescriptor{"orders_external_key", {7}, false, false}));
  EXPECT_EQ(table->IdentifyingKey(), &table->keys[0]);
}

TEST_F(PostgresCatalogTest, CompositeKeyColumnsComeInKeyOrder) {
  auto table = tandem_->DescribeTable({"shop", "lines"});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->keys.size(), 1u);
  EXPECT_EQ(table->keys[0].columns, (std::vector<int>{2, 1}));
  EXPECT_TRUE(table->keys[0].all_not_null);
}

TEST_F(PostgresCatalogTest, TableWithoutKeysHasNone) {
  auto table = tandem_->DescribeTable({"other", "events"});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_TRUE(table->keys.empty());
  EXPECT_EQ(table->IdentifyingKey(), nullptr);
}

TEST_F(PostgresCatalogTest, EstimatesComeFromTheCatalog) {
  auto table = tandem_->DescribeTable({"shop", "orders"});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->estimated_rows, 500);
  EXPECT_GT(table->data_bytes, 500 * 100);
  database_->Execute("CREATE TABLE shop.never_analyzed (id int)");
  auto fresh = tandem_->DescribeTable({"shop", "never_analyzed"});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->estimated_rows, -1);
}

TEST_F(PostgresCatalogTest, PartitionedTableSumsItsPartitionsAndReadsThemAll) {
  auto table = tandem_->DescribeTable({"shop", "measurements"});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->estimated_rows, 1000);
  EXPECT_GT(table->data_bytes, 0);
  ASSERT_EQ(table->keys.size(), 1u);
  EXPECT_TRUE(table->keys[0].primary);
  EXPECT_EQ(table->columns[2].kind, ValueKind::kFloat);
  std::vector<engine::Row> rows = ReadAll(*tandem_, *table);
  ASSERT_EQ(rows.size(), 1000u);
  EXPECT_EQ(rows.front()[0], engine::Value::Int(1));
  EXPECT_EQ(rows.back()[0], engine::Value::Int(1000));
}

TEST_F(PostgresCatalogTest, UnknownTablesAndViewsAreNotFound) {
  auto missing = tandem_->DescribeTable({"shop", "nope"});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("shop.nope"), std::string::npos);
  EXPECT_EQ(tandem_->DescribeTable({"shop", "order_view"}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(tandem_->DescribeTable({"SHOP", "orders"}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tandem::postgres_test
