#include <gtest/gtest.h>

#include <algorithm>

#include "connectors/mysql/mysql_assessment.h"

namespace tandem::connectors::mysql {
namespace {

using engine::Assessment;
using engine::Column;
using engine::Finding;
using engine::KeyDescriptor;
using engine::Role;
using engine::ValueKind;

AssessmentInput GoodSource() {
  AssessmentInput input;
  input.role = Role::kSource;
  input.is_mariadb = true;
  input.version = "10.11.6-MariaDB-0+deb12u1-log";
  input.version_number = 101106;
  input.database = "shop";
  input.variables = {{"log_bin", "ON"},
                     {"binlog_format", "ROW"},
                     {"binlog_row_image", "FULL"},
                     {"server_id", "7"},
                     {"expire_logs_days", "0.000000"},
                     {"binlog_expire_logs_seconds", "0"},
                     {"log_bin_compress", "OFF"},
                     {"read_only", "OFF"},
                     {"gtid_binlog_pos", "0-7-12"}};
  input.account = Account{"tandem", "%"};
  input.grants = GrantSet::Parse({"GRANT ALL PRIVILEGES ON *.* TO `tandem`@`%`"});
  CatalogTable orders;
  orders.schema.id = {"shop", "orders"};
  orders.schema.columns = {Column{"id", "int(11)", ValueKind::kInt, false}};
  orders.schema.keys = {KeyDescriptor{"PRIMARY", {0}, true, true}};
  orders.schema.estimated_rows = 10;
  orders.schema.data_bytes = 16384;
  orders.storage_engine = "InnoDB";
  orders.data_types = {"int"};
  orders.extras = {""};
  input.tables.push_back(orders);
  return input;
}

const Finding* FindCode(const std::vector<Finding>& findings, const std::string& code) {
  auto found = std::find_if(findings.begin(), findings.end(),
                            [&](const Finding& finding) { return finding.code == code; });
  return found == findings.end() ? nullptr : &*found;
}

TEST(MySqlAssessmentRules, GoodSourceHasNoFindingsAndReportsFacts) {
  const Assessment assessment = EvaluateMySqlAssessment(GoodSource());
  EXPECT_TRUE(assessment.blockers.empty());
  EXPECT_TRUE(assessment.warnings.empty());
  EXPECT_EQ(assessment.facts["product"], "MariaDB");
  EXPECT_EQ(assessment.facts["binlog_format"], "ROW");
  EXPECT_EQ(assessment.facts["server_id"], 7);
  EXPECT_EQ(assessment.facts["gtid_binlog_pos"], "0-7-12");
  EXPECT_EQ(assessment.facts["table_count"], 1);
  EXPECT_EQ(assessment.facts["estimated_rows"], 10);
  EXPECT_EQ(assessment.facts["binlog_retention_seconds"], 0);
  EXPECT_EQ(assessment.facts["binlogs_purged_automatically"], false);
}

TEST(MySqlAssessmentRules, BinlogSettingsAreBlockers) {
  AssessmentInput input = GoodSource();
  input.variables["log_bin"] = "OFF";
  input.variables["binlog_format"] = "STATEMENT";
  input.variables["binlog_row_image"] = "MINIMAL";
  input.variables["server_id"] = "0";
  const Assessment assessment = EvaluateMySqlAssessment(input);
  EXPECT_NE(FindCode(assessment.blockers, "mysql_binlog_disabled"), nullptr);
  const Finding* format = FindCode(assessment.blockers, "mysql_binlog_format");
  ASSERT_NE(format, nullptr);
  EXPECT_EQ(format->object, "server");
  EXPECT_NE(format->message.find("STATEMENT"), std::string::npos);
  EXPECT_NE(format->fix.find("SET GLOBAL binlog_format = 'ROW'"), std::string::npos);
  EXPECT_NE(FindCode(assessment.blockers, "mysql_binlog_row_image"), nullptr);
  EXPECT_NE(FindCode(assessment.blockers, "mysql_server_id"), nullptr);
}

TEST(MySqlAssessmentRules, RetentionCompressionAndGtidWarnings) {
  AssessmentInput input = GoodSource();
  input.variables["binlog_expire_logs_seconds"] = "7200";
  input.variables["log_bin_compress"] = "ON";
  Assessment assessment = EvaluateMySqlAssessment(input);
  const Finding* retention = FindCode(assessment.warnings, "mysql_binlog_retention_short");
  ASSERT_NE(retention, nullptr);
  EXPECT_NE(retention->message.find("2 h"), std::string::npos);
  EXPECT_NE(FindCode(assessment.warnings, "mysql_binlog_compressed"), nullptr);
  EXPECT_EQ(assessment.facts["binlog_retention_seconds"], 7200);

  input = GoodSource();
  input.is_mariadb = false;
  input.version = "8.0.36";
  input.version_number = 80036;
  input.variables["gtid_mode"] = "OFF";
  assessment = EvaluateMySqlAssessment(input);
  EXPECT_NE(FindCode(assessment.warnings, "mysql_gtid_disabled"), nullptr);
  EXPECT_EQ(assessment.facts["product"], "MySQL");
}

TEST(MySqlAssessmentRules, TablesWithoutKeyAndRiskyTypes) {
  AssessmentInput input = GoodSource();
  CatalogTable log;
  log.schema.id = {"shop", "events_log"};
  log.schema.columns = {Column{"at", "datetime(6)", ValueKind::kDateTime, false},
                        Column{"code", "varchar(10)", ValueKind::kText, true},
                        Column{"area", "geometry", ValueKind::kBytes, true},
                        Column{"ip", "inet6", ValueKind::kOther, true}};
  log.schema.keys = {KeyDescriptor{"code_unique", {1}, false, false}};
  log.storage_engine = "MyISAM";
  log.data_types = {"datetime", "varchar", "geometry", "inet6"};
  log.extras = {"", "", "", ""};
  input.tables.push_back(log);
  CatalogTable measures;
  measures.schema.id = {"shop", "measures"};
  measures.schema.columns = {Column{"x", "double", ValueKind::kDouble, false}};
  measures.schema.keys = {KeyDescriptor{"PRIMARY", {0}, true, true}};
  measures.storage_engine = "InnoDB";
  measures.data_types = {"double"};
  measures.extras = {""};
  input.tables.push_back(measures);

  const Assessment assessment = EvaluateMySqlAssessment(input);
  const Finding* keyless = FindCode(assessment.blockers, "mysql_table_without_key");
  ASSERT_NE(keyless, nullptr);
  EXPECT_EQ(keyless->object, "shop.events_log");
  EXPECT_NE(keyless->fix.find("`code_unique`"), std::string::npos);
  EXPECT_EQ(FindCode(assessment.warnings, "mysql_float_key")->object, "shop.measures");
  EXPECT_EQ(FindCode(assessment.warnings, "mysql_spatial_column")->object, "shop.events_log");
  EXPECT_NE(FindCode(assessment.warnings, "mysql_unknown_type")->message.find("ip inet6"),
            std::string::npos);
  EXPECT_NE(FindCode(assessment.warnings, "mysql_non_transactional_table"), nullptr);
  EXPECT_EQ(assessment.facts["tables_without_key"], 1);
}

TEST(MySqlAssessmentRules, SelectOnlyUserLacksReplicationPrivileges) {
  AssessmentInput input = GoodSource();
  input.account = Account{"reader", "%"};
  input.grants = GrantSet::Parse(
      {"GRANT USAGE ON *.* TO `reader`@`%`", "GRANT SELECT ON `shop`.* TO `reader`@`%`"});
  const Assessment assessment = EvaluateMySqlAssessment(input);
  ASSERT_EQ(assessment.blockers.size(), 1u);
  const Finding& finding = assessment.blockers[0];
  EXPECT_EQ(finding.code, "mysql_missing_privilege");
  EXPECT_EQ(finding.object, "user 'reader'@'%'");
  EXPECT_NE(finding.message.find("REPLICATION SLAVE"), std::string::npos);
  EXPECT_EQ(finding.fix, "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'reader'@'%';");
}

TEST(MySqlAssessmentRules, MissingSelectOnTheDatabase) {
  AssessmentInput input = GoodSource();
  input.grants = GrantSet::Parse({"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `t`@`%`",
                                  "GRANT SELECT ON `other`.* TO `t`@`%`"});
  const Assessment assessment = EvaluateMySqlAssessment(input);
  ASSERT_EQ(assessment.blockers.size(), 1u);
  EXPECT_EQ(assessment.blockers[0].fix, "GRANT SELECT ON `shop`.* TO 'tandem'@'%';");

  input.grants = GrantSet::Parse({"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `t`@`%`",
                                  "GRANT SELECT ON `shop`.`orders` TO `t`@`%`"});
  EXPECT_TRUE(EvaluateMySqlAssessment(input).blockers.empty());
}

TEST(MySqlAssessmentRules, ReadOnlyTarget) {
  AssessmentInput input = GoodSource();
  input.role = Role::kTarget;
  input.variables["read_only"] = "ON";
  input.account = Account{"writer", "%"};
  input.grants = GrantSet::Parse({"GRANT ALL PRIVILEGES ON `shop`.* TO `writer`@`%`"});
  Assessment assessment = EvaluateMySqlAssessment(input);
  const Finding* read_only = FindCode(assessment.blockers, "mysql_target_read_only");
  ASSERT_NE(read_only, nullptr);
  EXPECT_NE(read_only->fix.find("GRANT READ_ONLY ADMIN ON *.* TO 'writer'@'%';"),
            std::string::npos);
  EXPECT_EQ(FindCode(assessment.blockers, "mysql_missing_privilege"), nullptr);

  // SUPER bypasses read_only before MariaDB 10.11 only.
  input.grants = GrantSet::Parse(
      {"GRANT SUPER ON *.* TO `writer`@`%`", "GRANT ALL PRIVILEGES ON `shop`.* TO `writer`@`%`"});
  EXPECT_NE(FindCode(EvaluateMySqlAssessment(input).blockers, "mysql_target_read_only"), nullptr);
  input.version_number = 100608;
  EXPECT_EQ(FindCode(EvaluateMySqlAssessment(input).blockers, "mysql_target_read_only"), nullptr);

  input.grants = GrantSet::Parse({"GRANT ALL PRIVILEGES ON *.* TO `writer`@`%`"});
  input.version_number = 101106;
  EXPECT_EQ(FindCode(EvaluateMySqlAssessment(input).blockers, "mysql_target_read_only"), nullptr);

  input.is_mariadb = false;
  input.variables["super_read_only"] = "ON";
  EXPECT_NE(FindCode(EvaluateMySqlAssessment(input).blockers, "mysql_target_read_only"), nullptr);
}

TEST(MySqlAssessmentRules, TargetPrivilegesTriggersEnginesAndReverseStream) {
  AssessmentInput input = GoodSource();
  input.role = Role::kTarget;
  input.variables["binlog_format"] = "MIXED";
  input.grants = GrantSet::Parse({"GRANT SELECT, INSERT ON `shop`.* TO `tandem`@`%`"});
  input.tables[0].storage_engine = "Aria";
  input.triggers["shop.orders"] = {"orders_audit"};
  const Assessment assessment = EvaluateMySqlAssessment(input);
  const Finding* missing = FindCode(assessment.blockers, "mysql_missing_privilege");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->fix, "GRANT UPDATE, DELETE, CREATE, ALTER, DROP ON `shop`.* TO 'tandem'@'%';");
  EXPECT_EQ(FindCode(assessment.blockers, "mysql_non_transactional_table")->object, "shop.orders");
  EXPECT_NE(FindCode(assessment.warnings, "mysql_target_triggers")->message.find("orders_audit"),
            std::string::npos);
  EXPECT_NE(FindCode(assessment.warnings, "mysql_target_reverse_stream")->message.find("MIXED"),
            std::string::npos);
  // Source-only checks do not run for a target.
  EXPECT_EQ(FindCode(assessment.blockers, "mysql_binlog_format"), nullptr);
}

TEST(MySqlAssessmentRules, OldVersionWarns) {
  AssessmentInput input = GoodSource();
  input.version = "10.1.48-MariaDB";
  input.version_number = 100148;
  EXPECT_NE(FindCode(EvaluateMySqlAssessment(input).warnings, "mysql_version_untested"), nullptr);
}

}  // namespace
}  // namespace tandem::connectors::mysql

namespace tandem::connectors::mysql {
namespace {

std::vector<std::string> BypassObjects(const AssessmentInput& input) {
  std::vector<std::string> objects;
  for (const engine::Finding& finding : EvaluateMySqlAssessment(input).warnings) {
    if (finding.code == "mysql_read_only_bypass") objects.push_back(finding.object);
  }
  return objects;
}

TEST(MySqlAssessmentRules, AccountsThatWriteThroughReadOnlyAreWarnedAboutByVersion) {
  AssessmentInput input = GoodSource();
  input.read_only_bypass_grants = {{"'app'@'%'", "SUPER"},
                                   {"'ops'@'%'", "READ ONLY ADMIN"},
                                   {"'tandem'@'%'", "READ ONLY ADMIN"},  // tandem's own
                                   {"'root'@'localhost'", "READ ONLY ADMIN"},
                                   {"'conn'@'%'", "CONNECTION_ADMIN"}};
  // MariaDB 10.11: only READ ONLY ADMIN writes through read_only.
  EXPECT_EQ(BypassObjects(input), std::vector<std::string>{"'ops'@'%'"});
  const Assessment assessment = EvaluateMySqlAssessment(input);
  const engine::Finding* ops = FindCode(assessment.warnings, "mysql_read_only_bypass");
  ASSERT_NE(ops, nullptr);
  EXPECT_EQ(ops->fix,
            "REVOKE READ ONLY ADMIN ON *.* FROM 'ops'@'%'; or make sure no application connects "
            "with it during the cutover");
  EXPECT_EQ(assessment.facts["read_only_bypass_accounts"].size(), 3u)
      << assessment.facts["read_only_bypass_accounts"].dump();
  // MariaDB 10.6: SUPER does.
  input.version_number = 100611;
  EXPECT_EQ(BypassObjects(input), (std::vector<std::string>{"'app'@'%'", "'ops'@'%'"}));
  // MySQL: SUPER and CONNECTION_ADMIN.
  input.is_mariadb = false;
  input.version_number = 80036;
  EXPECT_EQ(BypassObjects(input),
            (std::vector<std::string>{"'app'@'%'", "'conn'@'%'", "'ops'@'%'"}));
  // Targets are not asked.
  input.role = Role::kTarget;
  EXPECT_TRUE(BypassObjects(input).empty());
}

}  // namespace
}  // namespace tandem::connectors::mysql
