// Unit tests of the verifier's pure parts: table pairing across engines, repair SQL quoting, the
// resume state's round trip, and the report's JSON contract.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "checksum/repair_sql.h"
#include "checksum/table_pairing.h"
#include "checksum/verify_report.h"
#include "checksum/verify_state.h"

namespace tandem::checksum {
namespace {

using engine::Column;
using engine::EngineKind;
using engine::TableSchema;
using engine::Value;
using engine::ValueKind;

TableSchema Table(std::vector<Column> columns, std::vector<int> key = {0}) {
  TableSchema table;
  table.id = {"shop", "orders"};
  table.columns = std::move(columns);
  if (!key.empty()) {
    table.keys.push_back({"PRIMARY", key, true, true});
  }
  return table;
}

TEST(TablePairing, NumbersAndTextCompareAcrossEnginesAndZonesDoNot) {
  TableSchema mysql = Table({{"id", "bigint unsigned", ValueKind::kUInt},
                             {"amount", "decimal(10,2)", ValueKind::kDecimal},
                             {"at", "datetime(6)", ValueKind::kDateTime},
                             {"Name", "varchar(10)", ValueKind::kText}});
  TableSchema postgres = Table({{"id", "bigint", ValueKind::kInt},
                                {"name", "text", ValueKind::kText},
                                {"amount", "numeric(10,2)", ValueKind::kDecimal},
                                {"at", "timestamp with time zone", ValueKind::kTimestamp}});
  auto pairing = PairTables(mysql, postgres);
  ASSERT_TRUE(pairing.ok()) << pairing.status().ToString();
  ASSERT_EQ(pairing->compared.size(), 3u);
  EXPECT_EQ(pairing->compared[2].name, "Name");
  EXPECT_EQ(pairing->compared[2].target_index, 1);
  ASSERT_EQ(pairing->skipped_columns.size(), 1u);
  EXPECT_EQ(pairing->skipped_columns[0].name, "at");
  EXPECT_NE(pairing->skipped_columns[0].reason.find("time zone"), std::string::npos);
  EXPECT_EQ(pairing->KeyColumnNames(), std::vector<std::string>{"id"});
  EXPECT_EQ(KeyBytes({Value::UInt(5)}), KeyBytes({Value::Int(5)}));
}

TEST(TablePairing, DifferentColumnSetsAreRefusedNamingTheColumns) {
  TableSchema source = Table({{"id", "int", ValueKind::kInt}, {"a", "int", ValueKind::kInt}});
  TableSchema target = Table({{"id", "int", ValueKind::kInt}, {"b", "int", ValueKind::kInt}});
  auto pairing = PairTables(source, target);
  ASSERT_FALSE(pairing.ok());
  EXPECT_EQ(pairing.status().code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_NE(pairing.status().message().find("only the source has a"), std::string::npos);
  EXPECT_NE(pairing.status().message().find("only the target has b"), std::string::npos);
}

TEST(TablePairing, DifferentKeysAreRefused) {
  TableSchema source = Table({{"id", "int", ValueKind::kInt}, {"a", "int", ValueKind::kInt}});
  TableSchema target = Table({{"id", "int", ValueKind::kInt}, {"a", "int", ValueKind::kInt}}, {1});
  EXPECT_FALSE(PairTables(source, target).ok());
}

TEST(RepairSql, QuotesIdentifiersAndLiteralsPerDialect) {
  EXPECT_EQ(SqlIdentifier("a`b", EngineKind::kMySql), "`a``b`");
  EXPECT_EQ(SqlIdentifier("a\"b", EngineKind::kPostgres), "\"a\"\"b\"");
  EXPECT_EQ(SqlLiteral(Value::Text("it's \\ x"), EngineKind::kMySql), "'it''s \\\\ x'");
  EXPECT_EQ(SqlLiteral(Value::Text("it's \\ x"), EngineKind::kPostgres), "'it''s \\ x'");
  EXPECT_EQ(SqlLiteral(Value::Text(std::string("a\0b", 3)), EngineKind::kMySql), "'a\\0b'");
  EXPECT_EQ(SqlLiteral(Value::Bytes(std::string("\x00\xff", 2)), EngineKind::kMySql), "X'00ff'");
  EXPECT_EQ(SqlLiteral(Value::Bytes(std::string("\x00\xff", 2)), EngineKind::kPostgres),
            "'\\x00ff'");
  EXPECT_EQ(SqlLiteral(Value::Double(-0.0), EngineKind::kPostgres), "'-0'");
  EXPECT_EQ(SqlLiteral(Value::Null(), EngineKind::kPostgres), "NULL");
  EXPECT_EQ(SqlLiteral(Value::Timestamp(1), EngineKind::kPostgres),
            "'1970-01-01 00:00:00.000001+00'");
  EXPECT_EQ(SqlLiteral(Value::Bits(5, 4), EngineKind::kPostgres), "B'0101'");
}

TEST(RepairSql, OneStatementPerDifferenceKind) {
  TableSchema table = Table({{"id", "int", ValueKind::kInt}, {"name", "text", ValueKind::kText}});
  auto pairing = PairTables(table, table);
  ASSERT_TRUE(pairing.ok());
  Difference missing{
      DifferenceKind::kMissing, {Value::Int(1)}, {}, {Value::Int(1), Value::Text("a")}, {}};
  Difference extra{
      DifferenceKind::kExtra, {Value::Int(2)}, {}, {}, {Value::Int(2), Value::Text("b")}};
  Difference changed{DifferenceKind::kChanged,
                     {Value::Int(3)},
                     {"name"},
                     {Value::Int(3), Value::Text("o'k")},
                     {Value::Int(3), Value::Text("x")}};
  EXPECT_EQ(RepairStatement(*pairing, missing, EngineKind::kPostgres),
            "INSERT INTO \"shop\".\"orders\" (\"id\", \"name\") VALUES (1, 'a');\n");
  EXPECT_EQ(RepairStatement(*pairing, extra, EngineKind::kMySql),
            "DELETE FROM `shop`.`orders` WHERE `id` = 2;\n");
  EXPECT_EQ(RepairStatement(*pairing, changed, EngineKind::kMySql),
            "UPDATE `shop`.`orders` SET `name` = 'o''k' WHERE `id` = 3;\n");
}

TEST(RepairSql, KeylessDeleteRemovesOneCopy) {
  TableSchema table = Table({{"a", "int", ValueKind::kInt}, {"b", "text", ValueKind::kText}}, {});
  auto pairing = PairTables(table, table);
  ASSERT_TRUE(pairing.ok());
  Difference extra{DifferenceKind::kExtra,
                   {Value::Int(1), Value::Null()},
                   {},
                   {},
                   {Value::Int(1), Value::Null()}};
  EXPECT_EQ(RepairStatement(*pairing, extra, EngineKind::kMySql),
            "DELETE FROM `shop`.`orders` WHERE `a` = 1 AND `b` IS NULL LIMIT 1;\n");
  EXPECT_NE(RepairStatement(*pairing, extra, EngineKind::kPostgres).find("ctid"),
            std::string::npos);
}

TEST(VerifyState, RoundTripsEveryValueKindAndRefusesAnotherRun) {
  char pattern[] = "/tmp/verify_state_XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string path = std::string(pattern) + "/state.json";
  const engine::Row row = {Value::Null(),
                           Value::Bool(true),
                           Value::Int(-5),
                           Value::UInt(18446744073709551615u),
                           Value::Float(1.5f),
                           Value::Double(-0.0),
                           Value::Decimal("1.50"),
                           Value::Text("t\xF0\x9F\x98\x80"),
                           Value::Bytes(std::string("\0\xff", 2)),
                           Value::Date(2024, 2, 29),
                           Value::Time(-1),
                           Value::DateTime(2024, 2, 29, 1),
                           Value::Timestamp(-1),
                           Value::Json("{\"a\":1}"),
                           Value::Bits(5, 10),
                           Value::Uuid("00000000-0000-0000-0000-000000000001"),
                           Value::Interval("1 day"),
                           Value::Other("x")};
  {
    auto state = VerifyState::Open(path, "run-a");
    ASSERT_TRUE(state.ok());
    TableState& table = state->Table({"s", "t"});
    table.watermark = row;
    table.chunks = 7;
    table.differences.push_back({DifferenceKind::kChanged, row, {"c"}, row, row});
    ASSERT_TRUE(state->Save().ok());
  }
  auto loaded = VerifyState::Open(path, "run-a");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const TableState* table = loaded->Find({"s", "t"});
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->chunks, 7);
  ASSERT_TRUE(table->watermark.has_value());
  EXPECT_EQ(*table->watermark, row);
  ASSERT_EQ(table->differences.size(), 1u);
  EXPECT_EQ(table->differences[0].source_row, row);
  auto other = VerifyState::Open(path, "run-b");
  EXPECT_EQ(other.status().code(), engine::StatusCode::kFailedPrecondition);
  std::remove(path.c_str());
  rmdir(pattern);
}

TEST(VerifyReport, JsonHasTheContractKeysAndSkipsPreventConsistent) {
  VerifyReport report;
  TableReport table;
  table.table = {"shop", "orders"};
  table.key_columns = {"id"};
  report.tables.push_back(table);
  nlohmann::json json = report.ToJson();
  EXPECT_TRUE(json.at("consistent").get<bool>());
  for (const char* key :
       {"table", "source_rows", "target_rows", "chunks", "skipped", "differences"}) {
    EXPECT_TRUE(json.at("tables")[0].contains(key)) << key;
  }
  EXPECT_TRUE(json.at("as_of").contains("source"));
  EXPECT_TRUE(json.contains("elapsed_s"));

  report.tables[0].skipped.push_back({"(1, 5]", "server gone"});
  EXPECT_FALSE(report.Consistent());
  EXPECT_FALSE(report.HasDifferences());
  report.tables[0].skipped.clear();
  report.tables[0].differences.push_back({DifferenceKind::kMissing, {Value::Int(3)}, {}, {}, {}});
  json = report.ToJson();
  EXPECT_FALSE(json.at("consistent").get<bool>());
  EXPECT_EQ(json["tables"][0]["differences"][0]["kind"], "missing");
  EXPECT_EQ(json["tables"][0]["differences"][0]["key"]["id"], 3);
}

}  // namespace
}  // namespace tandem::checksum
