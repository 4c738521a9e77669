// Assess() of the MySQL connector against real servers: the shared fixture servers (correctly
// configured) and private MariaDB servers misconfigured on purpose.

#include <gtest/gtest.h>

#include "tests/connectors/mysql/mysql_test_util.h"

namespace tandem::connectors::mysql {
namespace {

using engine::Assessment;
using engine::Role;
using testing::MariaDbOptions;
using testing::MariaDbServer;
using testing::Side;

Assessment AssessOrThrow(const std::string& uri, Role role) {
  auto database = OpenOrThrow(uri);
  auto assessment = database->Assess(role);
  if (!assessment.ok()) {
    throw std::runtime_error(assessment.status().ToString());
  }
  return *assessment;
}

class MySqlAssessmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = testing::SharedServers::GetOrNull();
    if (servers_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS; run through ctest)";
    }
  }
  const testing::SharedServers* servers_ = nullptr;
};

TEST_F(MySqlAssessmentTest, CorrectlyConfiguredPairHasNoBlockers) {
  ScratchDatabase source(*servers_, Side::kSource, "mysql_assess_ok");
  source.Execute(
      "CREATE TABLE {db}.orders (id BIGINT PRIMARY KEY, total DECIMAL(10,2));"
      "INSERT INTO {db}.orders VALUES (1, 9.99), (2, 19.99)");
  const Assessment assessment = AssessOrThrow(source.uri(), Role::kSource);
  EXPECT_TRUE(assessment.blockers.empty()) << Codes(assessment.blockers);
  EXPECT_TRUE(assessment.warnings.empty()) << Codes(assessment.warnings);
  EXPECT_EQ(assessment.facts["product"], "MariaDB");
  EXPECT_EQ(assessment.facts["log_bin"], "ON");
  EXPECT_EQ(assessment.facts["binlog_format"], "ROW");
  EXPECT_EQ(assessment.facts["binlog_row_image"], "FULL");
  EXPECT_GT(assessment.facts["server_id"].get<int64_t>(), 0);
  EXPECT_TRUE(assessment.facts.contains("gtid_binlog_pos"));
  EXPECT_TRUE(assessment.facts.contains("binlog_file"));
  EXPECT_EQ(assessment.facts["table_count"], 1);
  EXPECT_EQ(assessment.facts["tables"][0]["table"], source.name() + ".orders");
  // What phase 2 compares: the zone by its offsets (the server converts to its own zone) and the
  // database's defaults.
  ASSERT_TRUE(assessment.facts["time_zone_offsets_minutes"].is_array())
      << assessment.facts.dump();
  EXPECT_TRUE(assessment.facts["time_zone_offsets_minutes"][1].is_number_integer());
  EXPECT_FALSE(assessment.facts.value("database_charset", "").empty()) << assessment.facts.dump();
  EXPECT_TRUE(assessment.facts["read_only_bypass_accounts"].is_array()) << assessment.facts.dump();

  ScratchDatabase target(*servers_, Side::kTarget, "mysql_assess_ok");
  const Assessment target_assessment = AssessOrThrow(target.uri(), Role::kTarget);
  EXPECT_TRUE(target_assessment.blockers.empty()) << Codes(target_assessment.blockers);
  EXPECT_EQ(target_assessment.facts["read_only"], "OFF");
}

TEST_F(MySqlAssessmentTest, TableWithoutKeyIsABlocker) {
  ScratchDatabase db(*servers_, Side::kSource, "mysql_assess_keys");
  db.Execute(
      "CREATE TABLE {db}.keyed (id INT PRIMARY KEY);"
      "CREATE TABLE {db}.heap (at DATETIME NOT NULL, msg TEXT);"
      "CREATE TABLE {db}.nullable_unique (code VARCHAR(10) NULL, UNIQUE KEY code_u (code));"
      "CREATE TABLE {db}.unique_not_null (code VARCHAR(10) NOT NULL, UNIQUE KEY code_u (code))");
  const Assessment assessment = AssessOrThrow(db.uri(), Role::kSource);
  std::vector<std::string> objects;
  for (const engine::Finding& finding : assessment.blockers) {
    EXPECT_EQ(finding.code, "mysql_table_without_key") << Codes(assessment.blockers);
    objects.push_back(finding.object);
  }
  EXPECT_EQ(objects,
            (std::vector<std::string>{db.name() + ".heap", db.name() + ".nullable_unique"}));
  EXPECT_NE(assessment.blockers.at(0).fix.find("ADD PRIMARY KEY"), std::string::npos);
  EXPECT_EQ(assessment.facts["tables_without_key"], 2);
}

TEST_F(MySqlAssessmentTest, SelectOnlyUserIsMissingReplicationPrivileges) {
  ScratchDatabase db(*servers_, Side::kSource, "mysql_assess_priv");
  db.Execute("CREATE TABLE {db}.orders (id INT PRIMARY KEY)");
  const std::string user = testing::UniqueName("reader");
  servers_->ExecuteMySql(Side::kSource, "CREATE USER '" + user +
                                            "'@'%' IDENTIFIED BY 'reader-pass-1';"
                                            "GRANT SELECT ON `" +
                                            db.name() + "`.* TO '" + user + "'@'%'");
  const std::string uri = "mysql://" + user + ":reader-pass-1@127.0.0.1:" +
                          std::to_string(servers_->mysql_port(Side::kSource)) + "/" + db.name();
  Assessment assessment;
  EXPECT_NO_THROW(assessment = AssessOrThrow(uri, Role::kSource));
  servers_->ExecuteMySql(Side::kSource, "DROP USER '" + user + "'@'%'");

  ASSERT_EQ(assessment.blockers.size(), 1u) << Codes(assessment.blockers);
  const engine::Finding& finding = assessment.blockers[0];
  EXPECT_EQ(finding.code, "mysql_missing_privilege");
  EXPECT_EQ(finding.object, "user '" + user + "'@'%'");
  EXPECT_NE(finding.message.find("REPLICATION SLAVE"), std::string::npos) << finding.message;
  EXPECT_EQ(finding.fix, "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '" + user + "'@'%';");
  // The facts never carry the password hash SHOW GRANTS prints.
  EXPECT_EQ(assessment.facts.dump().find("*"), std::string::npos);
  EXPECT_EQ(assessment.facts["user"], user + "@%");
}

TEST_F(MySqlAssessmentTest, TargetUserWithoutWritePrivilegesIsBlocked) {
  ScratchDatabase db(*servers_, Side::kTarget, "mysql_assess_tpriv");
  db.Execute(
      "CREATE TABLE {db}.orders (id INT PRIMARY KEY);"
      "CREATE TABLE {db}.audit (id INT PRIMARY KEY) ENGINE=Aria;"
      "CREATE TRIGGER {db}.orders_ai AFTER INSERT ON {db}.orders FOR EACH ROW "
      "INSERT INTO {db}.audit VALUES (NEW.id)");
  const std::string user = testing::UniqueName("writer");
  servers_->ExecuteMySql(Side::kTarget, "CREATE USER '" + user +
                                            "'@'%' IDENTIFIED BY 'writer-pass-1';"
                                            "GRANT SELECT, INSERT, TRIGGER ON `" +
                                            db.name() + "`.* TO '" + user + "'@'%'");
  const std::string uri = "mysql://" + user + ":writer-pass-1@127.0.0.1:" +
                          std::to_string(servers_->mysql_port(Side::kTarget)) + "/" + db.name();
  Assessment assessment;
  EXPECT_NO_THROW(assessment = AssessOrThrow(uri, Role::kTarget));
  servers_->ExecuteMySql(Side::kTarget, "DROP USER '" + user + "'@'%'");

  const engine::Finding* missing = FindCode(assessment.blockers, "mysql_missing_privilege");
  ASSERT_NE(missing, nullptr) << Codes(assessment.blockers);
  EXPECT_EQ(missing->fix, "GRANT UPDATE, DELETE, CREATE, ALTER, DROP ON `" + db.name() +
                              "`.* TO '" + user + "'@'%';");
  const engine::Finding* engine_finding =
      FindCode(assessment.blockers, "mysql_non_transactional_table");
  ASSERT_NE(engine_finding, nullptr) << Codes(assessment.blockers);
  EXPECT_EQ(engine_finding->object, db.name() + ".audit");
  const engine::Finding* triggers = FindCode(assessment.warnings, "mysql_target_triggers");
  ASSERT_NE(triggers, nullptr) << Codes(assessment.warnings);
  EXPECT_EQ(triggers->object, db.name() + ".orders");
}

// Private servers, misconfigured on purpose.

TEST(MySqlMisconfiguredServerTest, StatementFormatAndMinimalRowImageAreBlockers) {
  testing::TempDir dir("tandem-mysql-assess");
  auto server = MariaDbServer::Start(
      dir.path(),
      MariaDbOptions{.binlog_format = "STATEMENT",
                     .binlog_row_image = "MINIMAL",
                     .extra_args = {"--binlog-expire-logs-seconds=3600", "--log-bin-compress=ON"}});
  const Assessment assessment = AssessOrThrow(server->Uri(), Role::kSource);
  const engine::Finding* format = FindCode(assessment.blockers, "mysql_binlog_format");
  ASSERT_NE(format, nullptr) << Codes(assessment.blockers);
  EXPECT_NE(format->message.find("STATEMENT"), std::string::npos);
  EXPECT_NE(FindCode(assessment.blockers, "mysql_binlog_row_image"), nullptr)
      << Codes(assessment.blockers);
  EXPECT_EQ(FindCode(assessment.blockers, "mysql_binlog_disabled"), nullptr);
  EXPECT_EQ(assessment.blockers.size(), 2u) << Codes(assessment.blockers);
  EXPECT_NE(FindCode(assessment.warnings, "mysql_binlog_retention_short"), nullptr)
      << Codes(assessment.warnings);
  EXPECT_NE(FindCode(assessment.warnings, "mysql_binlog_compressed"), nullptr)
      << Codes(assessment.warnings);
  EXPECT_EQ(assessment.facts["binlog_retention_seconds"], 3600);

  // Fixing the settings at run time clears the blockers for new sessions.
  server->Execute(
      "SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL';"
      "SET GLOBAL log_bin_compress = OFF; SET GLOBAL binlog_expire_logs_seconds = 0");
  const Assessment fixed = AssessOrThrow(server->Uri(), Role::kSource);
  EXPECT_TRUE(fixed.blockers.empty()) << Codes(fixed.blockers);
  EXPECT_TRUE(fixed.warnings.empty()) << Codes(fixed.warnings);
}

TEST(MySqlMisconfiguredServerTest, BinlogOffIsABlockerAndReadOnlyTargetIsBlocked) {
  testing::TempDir dir("tandem-mysql-assess");
  auto server = MariaDbServer::Start(
      dir.path(), MariaDbOptions{.log_bin = false, .extra_args = {"--read-only"}});
  const Assessment source = AssessOrThrow(server->Uri(), Role::kSource);
  EXPECT_NE(FindCode(source.blockers, "mysql_binlog_disabled"), nullptr) << Codes(source.blockers);
  EXPECT_EQ(source.facts["log_bin"], "OFF");

  // tandem@% has ALL PRIVILEGES (READ_ONLY ADMIN included): it may write despite read_only.
  const Assessment privileged_target = AssessOrThrow(server->Uri(), Role::kTarget);
  EXPECT_EQ(FindCode(privileged_target.blockers, "mysql_target_read_only"), nullptr)
      << Codes(privileged_target.blockers);
  EXPECT_NE(FindCode(privileged_target.warnings, "mysql_target_reverse_stream"), nullptr)
      << Codes(privileged_target.warnings);

  server->Execute(
      "CREATE DATABASE app; CREATE USER 'app'@'%' IDENTIFIED BY 'app-pass-1';"
      "GRANT ALL PRIVILEGES ON app.* TO 'app'@'%'");
  const std::string app_uri =
      "mysql://app:app-pass-1@127.0.0.1:" + std::to_string(server->port()) + "/app";
  const Assessment target = AssessOrThrow(app_uri, Role::kTarget);
  const engine::Finding* read_only = FindCode(target.blockers, "mysql_target_read_only");
  ASSERT_NE(read_only, nullptr) << Codes(target.blockers);
  EXPECT_NE(read_only->fix.find("SET GLOBAL read_only = OFF"), std::string::npos);
  EXPECT_EQ(target.blockers.size(), 1u) << Codes(target.blockers);
}

}  // namespace
}  // namespace tandem::connectors::mysql
