#include "orchestration/inspection.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_database.h"

namespace tandem::orchestration {
namespace {

using engine::Column;
using engine::EngineKind;
using engine::TableId;
using engine::TableSchema;
using engine::ValueKind;
using testing::FakeSqlDatabase;

TableSchema Orders() {
  TableSchema table;
  table.id = {"shop", "orders"};
  table.columns = {
      {"id", "bigint", ValueKind::kInt, false, "", ""},
      {"total", "decimal(10,2)", ValueKind::kDecimal, true, "", ""},
      {"note", "varchar(20)", ValueKind::kText, true, "utf8mb4", "utf8mb4_bin"},
  };
  table.keys = {{"PRIMARY", {0}, true, true}};
  return table;
}

std::vector<std::string> Codes(const std::vector<engine::Finding>& findings) {
  std::vector<std::string> codes;
  for (const auto& finding : findings) {
    codes.push_back(finding.code + "@" + finding.object);
  }
  return codes;
}

TEST(InspectPair, IdenticalSchemasAreReady) {
  FakeSqlDatabase source(EngineKind::kMySql), target(EngineKind::kMySql);
  source.tables[{"shop", "orders"}] = Orders();
  target.tables[{"shop", "orders"}] = Orders();
  auto report = InspectPair(source, &target);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ready);
  EXPECT_TRUE(report->blockers.empty());
  EXPECT_TRUE(report->warnings.empty()) << ::testing::PrintToString(Codes(report->warnings));
  nlohmann::json json = report->ToJson();
  for (const char* key : {"ready", "blockers", "warnings", "source", "target"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["target"]["tables_compared"], 1);
  EXPECT_EQ(json["source"]["uri"], "mysql://tandem@fake:1");
  EXPECT_EQ(json.dump().find("fake-secret"), std::string::npos);
}

TEST(InspectPair, ConnectorBlockersMakeThePairNotReady) {
  FakeSqlDatabase source(EngineKind::kMySql), target(EngineKind::kMySql);
  source.assessment.Block("mysql_binlog_format", "server", "binlog_format is STATEMENT", "fix");
  auto report = InspectPair(source, &target);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ready);
  EXPECT_EQ(Codes(report->blockers), std::vector<std::string>{"mysql_binlog_format@server"});
}

TEST(CompareSchemas, FindsEveryKindOfDifference) {
  FakeSqlDatabase source(EngineKind::kMySql), target(EngineKind::kMySql);
  TableSchema orders = Orders();
  source.tables[orders.id] = orders;
  source.tables[{"shop", "only_source"}] = TableSchema{{"shop", "only_source"}};
  TableSchema changed = orders;
  changed.columns.erase(changed.columns.begin() + 1);   // total missing
  changed.columns[1].collation = "utf8mb4_general_ci";  // note: other collation
  changed.columns.push_back({"extra", "int", ValueKind::kInt, true, "", ""});
  changed.keys = {{"u_note", {1}, false, true}};  // other identifying key
  target.tables[orders.id] = changed;
  engine::Assessment findings;
  ASSERT_TRUE(CompareSchemas(source, target, &findings).ok());
  EXPECT_EQ(Codes(findings.blockers),
            (std::vector<std::string>{"schema_missing_column@shop.orders.total",
                                      "schema_key_mismatch@shop.orders"}));
  EXPECT_EQ(Codes(findings.warnings),
            (std::vector<std::string>{"schema_missing_table@shop.only_source",
                                      "schema_collation_mismatch@shop.orders.note",
                                      "schema_extra_column@shop.orders.extra"}));
}

TEST(CompareSchemas, TypeMismatchSameEngineComparesDeclaredTypes) {
  FakeSqlDatabase source(EngineKind::kPostgres), target(EngineKind::kPostgres);
  TableSchema orders = Orders();
  source.tables[orders.id] = orders;
  orders.columns[1].declared_type = "decimal(12,2)";
  target.tables[orders.id] = orders;
  engine::Assessment findings;
  ASSERT_TRUE(CompareSchemas(source, target, &findings).ok());
  ASSERT_EQ(findings.blockers.size(), 1u);
  EXPECT_EQ(findings.blockers[0].code, "schema_type_mismatch");
  EXPECT_NE(findings.blockers[0].message.find("decimal(12,2)"), std::string::npos);
}

TEST(CompareSchemas, CrossEngineComparesLogicalKinds) {
  FakeSqlDatabase source(EngineKind::kMySql), target(EngineKind::kPostgres);
  TableSchema orders = Orders();
  source.tables[orders.id] = orders;
  orders.columns[0].declared_type = "bigint";
  orders.columns[1].declared_type = "numeric(10,2)";
  orders.columns[2].declared_type = "character varying(20)";
  orders.columns[2].collation = "default";
  target.tables[orders.id] = orders;
  engine::Assessment findings;
  ASSERT_TRUE(CompareSchemas(source, target, &findings).ok());
  EXPECT_TRUE(findings.blockers.empty()) << ::testing::PrintToString(Codes(findings.blockers));
  orders.columns[1].kind = ValueKind::kDouble;  // decimal -> double loses exactness
  target.tables[orders.id] = orders;
  engine::Assessment lossy;
  ASSERT_TRUE(CompareSchemas(source, target, &lossy).ok());
  EXPECT_EQ(Codes(lossy.blockers),
            std::vector<std::string>{"schema_type_mismatch@shop.orders.total"});
}

TEST(InspectPair, ClockDifferenceIsMeasuredAndWarnedAboutBeyondHalfASecond) {
  FakeSqlDatabase source(EngineKind::kPostgres), target(EngineKind::kPostgres);
  target.clock_offset_micros = 3'000'000;
  auto report = InspectPair(source, &target);
  ASSERT_TRUE(report.ok());
  double difference = report->target["clock_difference_ms"].get<double>();
  EXPECT_NEAR(difference, 3000, 50);
  EXPECT_EQ(Codes(report->warnings), std::vector<std::string>{"clock_skew@hosts"});
  EXPECT_TRUE(report->ready);  // a warning, not a blocker
}

TEST(InspectPair, OlderTargetVersionIsAWarningForSql) {
  FakeSqlDatabase source(EngineKind::kMySql), target(EngineKind::kMySql);
  source.server.version_number = 101106;
  target.server.version_number = 100611;
  auto report = InspectPair(source, &target);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(Codes(report->warnings), std::vector<std::string>{"version_downgrade@server"});
}

}  // namespace
}  // namespace tandem::orchestration
