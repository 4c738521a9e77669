#include "connectors/mysql/mysql_assessment.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "connectors/mysql/mysql_range_query.h"
#include "connectors/mysql/mysql_statement.h"
#include "connectors/mysql/mysql_type_map.h"

namespace tandem::connectors::mysql {

using engine::Assessment;
using engine::Result;
using engine::Role;
using engine::Value;
using engine::ValueKind;
using nlohmann::json;

namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr int kOldestTestedMariaDb = 100300;
constexpr int kOldestTestedMySql = 50700;
constexpr int kMariaDbReadOnlyAdminSplit = 101100;  // SUPER stops bypassing read_only

std::string Upper(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

std::string Lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    out += (i == 0 ? "" : std::string(separator)) + parts[i];
  }
  return out;
}

// A variable's value, or nullptr when the server does not have it.
const std::string* Variable(const AssessmentInput& input, const std::string& name) {
  auto found = input.variables.find(name);
  return found == input.variables.end() ? nullptr : &found->second;
}

bool IsOn(const AssessmentInput& input, const std::string& name) {
  const std::string* value = Variable(input, name);
  if (value == nullptr) {
    return false;
  }
  const std::string upper = Upper(*value);
  return upper == "ON" || upper == "1" || upper == "YES" || upper == "TRUE";
}

int64_t IntegerVariable(const AssessmentInput& input, const std::string& name, int64_t fallback) {
  const std::string* value = Variable(input, name);
  if (value == nullptr || value->empty()) {
    return fallback;
  }
  char* end = nullptr;
  const long long parsed = std::strtoll(value->c_str(), &end, 10);
  return end == value->c_str() ? fallback : parsed;
}

// Seconds after which binary logs are purged automatically; 0 = never.
int64_t BinlogRetentionSeconds(const AssessmentInput& input) {
  const int64_t seconds = IntegerVariable(input, "binlog_expire_logs_seconds", 0);
  if (seconds > 0) {
    return seconds;
  }
  const std::string* days = Variable(input, "expire_logs_days");
  if (days == nullptr) {
    return 0;
  }
  return static_cast<int64_t>(std::strtod(days->c_str(), nullptr) * kSecondsPerDay);
}

bool IsTransactionalEngine(const std::string& engine) {
  const std::string lower = Lower(engine);
  return lower.empty() || lower == "innodb" || lower == "rocksdb" || lower == "tokudb" ||
         lower == "ndbcluster" || lower == "ndb";
}

std::string UserObject(const Account& account) { return "user " + account.Quoted(); }

std::string FormatDuration(int64_t seconds) {
  if (seconds % 3600 == 0) {
    return std::to_string(seconds / 3600) + " h";
  }
  if (seconds % 60 == 0) {
    return std::to_string(seconds / 60) + " min";
  }
  return std::to_string(seconds) + " s";
}

void AddFacts(const AssessmentInput& input, Assessment* assessment) {
  json& facts = assessment->facts;
  facts["product"] = input.is_mariadb ? "MariaDB" : "MySQL";
  facts["version"] = input.version;
  facts["version_number"] = input.version_number;
  facts["role"] = input.role == Role::kSource ? "source" : "target";
  facts["user"] = input.account.user + "@" + input.account.host;
  for (const std::string& name : AssessedVariables()) {
    if (name == "version" || name == "expire_logs_days" || name == "binlog_expire_logs_seconds") {
      continue;
    }
    if (const std::string* value = Variable(input, name)) {
      if (name == "server_id" || name == "gtid_domain_id" || name == "max_allowed_packet" ||
          name == "lower_case_table_names") {
        facts[name] = IntegerVariable(input, name, 0);
      } else {
        facts[name] = *value;
      }
    }
  }
  if (input.time_zone_offsets_minutes) {
    facts["time_zone_offsets_minutes"] = {input.time_zone_offsets_minutes->first,
                                          input.time_zone_offsets_minutes->second};
  }
  if (!input.database.empty()) {
    facts["database"] = input.database;
  }
  if (!input.database_charset.empty()) {
    facts["database_charset"] = input.database_charset;
    facts["database_collation"] = input.database_collation;
  }
  const int64_t retention = BinlogRetentionSeconds(input);
  facts["binlog_retention_seconds"] = retention;
  facts["binlogs_purged_automatically"] = retention > 0;
  if (!input.binlog_file.empty()) {
    facts["binlog_file"] = input.binlog_file;
    facts["binlog_position"] = input.binlog_position;
  }
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t without_key = 0;
  json tables = json::array();
  for (const CatalogTable& table : input.tables) {
    rows += std::max<int64_t>(0, table.schema.estimated_rows);
    bytes += std::max<int64_t>(0, table.schema.data_bytes);
    without_key += table.schema.IdentifyingKey() == nullptr ? 1 : 0;
    tables.push_back({{"table", table.schema.id.ToString()},
                      {"engine", table.storage_engine},
                      {"estimated_rows", table.schema.estimated_rows},
                      {"data_bytes", table.schema.data_bytes}});
  }
  facts["table_count"] = input.tables.size();
  facts["tables_without_key"] = without_key;
  facts["estimated_rows"] = rows;
  facts["data_bytes"] = bytes;
  facts["tables"] = std::move(tables);
}

void CheckVersion(const AssessmentInput& input, Assessment* assessment) {
  const int oldest = input.is_mariadb ? kOldestTestedMariaDb : kOldestTestedMySql;
  if (input.version_number > 0 && input.version_number < oldest) {
    assessment->Warn("mysql_version_untested", "server",
                     std::string(input.is_mariadb ? "MariaDB " : "MySQL ") + input.version +
                         " is older than the versions tandem is tested with (" +
                         (input.is_mariadb ? "MariaDB 10.3" : "MySQL 5.7") + " and later)",
                     "upgrade the server, or test the migration on a copy first");
  }
}

void CheckSourceBinlog(const AssessmentInput& input, Assessment* assessment) {
  if (!IsOn(input, "log_bin")) {
    assessment->Block("mysql_binlog_disabled", "server",
                      "the binary log is off (log_bin=OFF): tandem streams changes from it",
                      "add log_bin=mysql-bin and a unique server_id under [mysqld] in the server "
                      "configuration, then restart the server");
  }
  if (const std::string* format = Variable(input, "binlog_format");
      format != nullptr && Upper(*format) != "ROW") {
    assessment->Block("mysql_binlog_format", "server",
                      "binlog_format is " + *format + ": tandem needs row events",
                      "SET GLOBAL binlog_format = 'ROW'; and set binlog_format=ROW in the server "
                      "configuration (open sessions keep their format until they reconnect)");
  }
  if (const std::string* image = Variable(input, "binlog_row_image");
      image != nullptr && Upper(*image) != "FULL") {
    assessment->Block("mysql_binlog_row_image", "server",
                      "binlog_row_image is " + *image +
                          ": tandem needs the full before and after image of every changed row",
                      "SET GLOBAL binlog_row_image = 'FULL'; and set binlog_row_image=FULL in the "
                      "server configuration");
  }
  if (IntegerVariable(input, "server_id", 1) == 0) {
    assessment->Block("mysql_server_id", "server",
                      "server_id is 0, so the server does not take part in replication",
                      "SET GLOBAL server_id = <a number unique among your servers>; and set it in "
                      "the server configuration");
  }
  if (!input.is_mariadb) {
    if (const std::string* mode = Variable(input, "gtid_mode");
        mode != nullptr && Upper(*mode) != "ON") {
      assessment->Warn("mysql_gtid_disabled", "server",
                       "gtid_mode is " + *mode +
                           ": tandem records binlog file:offset positions, which do not survive "
                           "a failover of the source to one of its replicas",
                       "enable GTIDs: SET GLOBAL enforce_gtid_consistency = ON, then step "
                       "gtid_mode through OFF_PERMISSIVE and ON_PERMISSIVE to ON");
    }
  }
  const int64_t retention = BinlogRetentionSeconds(input);
  if (IsOn(input, "log_bin") && retention > 0 && retention < kSecondsPerDay) {
    const bool has_seconds = Variable(input, "binlog_expire_logs_seconds") != nullptr;
    assessment->Warn("mysql_binlog_retention_short", "server",
                     "binary logs are purged after " + FormatDuration(retention) +
                         ": if tandem's stream stops for longer it cannot resume and must copy "
                         "the tables again",
                     has_seconds ? "SET GLOBAL binlog_expire_logs_seconds = 604800; (7 days) and "
                                   "set it in the server configuration"
                                 : "SET GLOBAL expire_logs_days = 7; and set it in the server "
                                   "configuration");
  }
  if (IsOn(input, "log_bin_compress")) {
    assessment->Warn("mysql_binlog_compressed", "server",
                     "log_bin_compress is ON: the binary log holds MariaDB's compressed events, "
                     "which every consumer of the stream must decompress",
                     "SET GLOBAL log_bin_compress = OFF; unless the binary log's size requires it");
  }
}

void CheckSourceTables(const AssessmentInput& input, Assessment* assessment) {
  for (const CatalogTable& table : input.tables) {
    const engine::TableSchema& schema = table.schema;
    const std::string name = schema.id.ToString();
    const engine::KeyDescriptor* key = schema.IdentifyingKey();
    if (key == nullptr) {
      std::string nullable_unique;
      for (const engine::KeyDescriptor& candidate : schema.keys) {
        if (!candidate.primary && !candidate.all_not_null) {
          nullable_unique = candidate.name;
          break;
        }
      }
      assessment->Block(
          "mysql_table_without_key", name,
          name +
              " has no primary key and no unique key over NOT NULL columns, so tandem cannot "
              "identify its rows to apply changes or compare chunks",
          nullable_unique.empty()
              ? "ALTER TABLE " + QuoteTable(schema.id) +
                    " ADD PRIMARY KEY (<columns that identify a row>);"
              : "make the columns of unique key " + QuoteIdentifier(nullable_unique) +
                    " NOT NULL (ALTER TABLE " + QuoteTable(schema.id) +
                    " MODIFY ... NOT NULL), or ADD PRIMARY KEY (<columns that identify a row>)");
    } else {
      std::vector<std::string> approximate;
      for (int index : key->columns) {
        const engine::Column& column = schema.columns[static_cast<size_t>(index)];
        if (column.kind == ValueKind::kFloat || column.kind == ValueKind::kDouble) {
          approximate.push_back(column.name);
        }
      }
      if (!approximate.empty()) {
        assessment->Warn("mysql_float_key", name,
                         "the key " + key->name + " of " + name +
                             " contains approximate numbers (" + Join(approximate, ", ") +
                             "): rows compare equal only when the values are bit-identical",
                         "key the table on exact columns (integers, DECIMAL, strings)");
      }
    }
    std::vector<std::string> spatial;
    std::vector<std::string> unknown;
    for (size_t i = 0; i < schema.columns.size(); ++i) {
      const engine::Column& column = schema.columns[i];
      if (i < table.data_types.size() && IsSpatialType(table.data_types[i])) {
        spatial.push_back(column.name);
      } else if (column.kind == ValueKind::kOther) {
        unknown.push_back(column.name + " " + column.declared_type);
      }
    }
    if (!spatial.empty()) {
      assessment->Warn("mysql_spatial_column", name,
                       name + " has spatial columns (" + Join(spatial, ", ") +
                           "): they are copied and compared as the server's raw SRID+WKB bytes",
                       "make sure the target stores the same spatial types with the same SRIDs");
    }
    if (!unknown.empty()) {
      assessment->Warn("mysql_unknown_type", name,
                       name + " has columns of types tandem does not map (" + Join(unknown, ", ") +
                           "): they are read and compared as the server's text form",
                       "check that the target has the same types, so the text forms match");
    }
    if (!IsTransactionalEngine(table.storage_engine)) {
      assessment->Warn("mysql_non_transactional_table", name,
                       name + " uses the " + table.storage_engine +
                           " engine, which has no transactions: its initial copy is not a "
                           "consistent snapshot of the stream's start",
                       "ALTER TABLE " + QuoteTable(schema.id) + " ENGINE = InnoDB;");
    }
  }
}

// The databases whose tables tandem reads or writes: the URI's, else those holding tables.
std::vector<std::string> ScopeDatabases(const AssessmentInput& input) {
  if (!input.database.empty()) {
    return {input.database};
  }
  std::set<std::string> schemas;
  for (const CatalogTable& table : input.tables) {
    schemas.insert(table.schema.id.schema);
  }
  return std::vector<std::string>(schemas.begin(), schemas.end());
}

// One blocker listing `missing` privileges on `on` ("*.*" or "`shop`.*").
void BlockMissing(const AssessmentInput& input, const std::vector<std::string>& missing,
                  const std::string& on, const std::string& purpose, Assessment* assessment) {
  if (missing.empty()) {
    return;
  }
  std::vector<std::string> spelled;
  for (const std::string& privilege : missing) {
    spelled.push_back(PrivilegeForServer(privilege, input.is_mariadb, input.version_number));
  }
  assessment->Block("mysql_missing_privilege", UserObject(input.account),
                    "user " + input.account.Quoted() + " lacks " + Join(spelled, ", ") + " on " +
                        on + ", needed " + purpose,
                    GrantStatement(spelled, on, input.account));
}

void CheckSourcePrivileges(const AssessmentInput& input, Assessment* assessment) {
  std::vector<std::string> missing_global;
  for (const char* privilege : {"REPLICATION SLAVE", "REPLICATION CLIENT"}) {
    if (!input.grants.HasGlobal(privilege)) {
      missing_global.push_back(privilege);
    }
  }
  BlockMissing(input, missing_global, "*.*", "to read the binary log and its positions",
               assessment);

  const std::vector<std::string> databases = ScopeDatabases(input);
  if (databases.empty()) {
    if (!input.grants.HasGlobal("SELECT")) {
      BlockMissing(input, {"SELECT"}, "*.*", "to copy and verify the tables", assessment);
    }
    return;
  }
  for (const std::string& database : databases) {
    if (input.grants.HasOnDatabase("SELECT", database)) {
      continue;
    }
    // Table-level grants suffice when every table of the database has one.
    bool every_table = true;
    bool any_table = false;
    for (const CatalogTable& table : input.tables) {
      if (table.schema.id.schema == database) {
        any_table = true;
        every_table =
            every_table && input.grants.HasOnTable("SELECT", database, table.schema.id.name);
      }
    }
    if (!any_table || !every_table) {
      BlockMissing(input, {"SELECT"}, QuoteIdentifier(database) + ".*",
                   "to copy and verify the tables", assessment);
    }
  }
}

void CheckTarget(const AssessmentInput& input, Assessment* assessment) {
  // read_only: who may still write depends on the product and version.
  if (input.is_mariadb) {
    if (IsOn(input, "read_only")) {
      const bool bypass =
          input.grants.HasGlobal("READ_ONLY ADMIN") ||
          (input.version_number < kMariaDbReadOnlyAdminSplit && input.grants.HasGlobal("SUPER"));
      if (!bypass) {
        assessment->Block("mysql_target_read_only", "server",
                          "the target is read-only (read_only=ON) and user " +
                              input.account.Quoted() + " may not write to it",
                          "SET GLOBAL read_only = OFF; (and remove read_only from the server "
                          "configuration), or " +
                              GrantStatement({"READ_ONLY ADMIN"}, "*.*", input.account));
      }
    }
  } else if (IsOn(input, "super_read_only")) {
    assessment->Block("mysql_target_read_only", "server",
                      "the target is read-only for every user (super_read_only=ON)",
                      "SET GLOBAL super_read_only = OFF; SET GLOBAL read_only = OFF; and remove "
                      "them from the server configuration");
  } else if (IsOn(input, "read_only") && !input.grants.HasGlobal("SUPER") &&
             !input.grants.HasGlobal("CONNECTION_ADMIN")) {
    assessment->Block("mysql_target_read_only", "server",
                      "the target is read-only (read_only=ON) and user " + input.account.Quoted() +
                          " may not write to it",
                      "SET GLOBAL read_only = OFF; and remove read_only from the server "
                      "configuration");
  }

  static const std::vector<std::string> kApplyPrivileges = {"SELECT", "INSERT", "UPDATE", "DELETE",
                                                            "CREATE", "ALTER",  "DROP"};
  const std::string on =
      input.database.empty() ? std::string("*.*") : QuoteIdentifier(input.database) + ".*";
  std::vector<std::string> missing;
  for (const std::string& privilege : kApplyPrivileges) {
    const bool granted = input.database.empty()
                             ? input.grants.HasGlobal(privilege)
                             : input.grants.HasOnDatabase(privilege, input.database);
    if (!granted) {
      missing.push_back(privilege);
    }
  }
  BlockMissing(input, missing, on, "to create tables and apply changes on the target", assessment);

  for (const CatalogTable& table : input.tables) {
    const std::string name = table.schema.id.ToString();
    if (!IsTransactionalEngine(table.storage_engine)) {
      assessment->Block("mysql_non_transactional_table", name,
                        name + " uses the " + table.storage_engine +
                            " engine, which has no transactions: tandem cannot commit applied "
                            "changes and its checkpoint together",
                        "ALTER TABLE " + QuoteTable(table.schema.id) + " ENGINE = InnoDB;");
    }
    auto triggers = input.triggers.find(name);
    if (triggers != input.triggers.end() && !triggers->second.empty()) {
      assessment->Warn("mysql_target_triggers", name,
                       name + " has triggers (" + Join(triggers->second, ", ") +
                           ") that would fire again on every row tandem applies",
                       "drop them on the target until cutover (DROP TRIGGER ...), and recreate "
                       "them then");
    }
  }

  std::vector<std::string> reverse_problems;
  if (!IsOn(input, "log_bin")) {
    reverse_problems.push_back("log_bin=OFF");
  } else {
    if (const std::string* format = Variable(input, "binlog_format");
        format != nullptr && Upper(*format) != "ROW") {
      reverse_problems.push_back("binlog_format=" + *format);
    }
    if (const std::string* image = Variable(input, "binlog_row_image");
        image != nullptr && Upper(*image) != "FULL") {
      reverse_problems.push_back("binlog_row_image=" + *image);
    }
  }
  if (!reverse_problems.empty()) {
    assessment->Warn("mysql_target_reverse_stream", "server",
                     "the target's binary log (" + Join(reverse_problems, ", ") +
                         ") cannot feed the reverse stream that keeps the source current after "
                         "cutover, so a rollback would lose writes made on the target",
                     "enable log_bin with binlog_format=ROW and binlog_row_image=FULL on the "
                     "target before cutover");
  }
}

}  // namespace

const std::vector<std::string>& AssessedVariables() {
  static const std::vector<std::string> kVariables = {
      "version",
      "server_id",
      "log_bin",
      "binlog_format",
      "binlog_row_image",
      "binlog_checksum",
      "binlog_row_metadata",
      "log_bin_compress",
      "expire_logs_days",
      "binlog_expire_logs_seconds",
      "gtid_mode",
      "enforce_gtid_consistency",
      "gtid_executed",
      "gtid_domain_id",
      "gtid_strict_mode",
      "gtid_binlog_pos",
      "gtid_current_pos",
      "read_only",
      "super_read_only",
      "time_zone",
      "system_time_zone",
      "character_set_server",
      "collation_server",
      "lower_case_table_names",
      "sql_mode",
      "max_allowed_packet",
  };
  return kVariables;
}

// Privileges that let an account write while read_only=ON: what a cutover's write freeze would
// not stop. MariaDB 10.11 moved it from SUPER to READ ONLY ADMIN; MySQL lets SUPER and
// CONNECTION_ADMIN through (super_read_only stops them, but the freeze cannot count on it).
bool BypassesReadOnly(const AssessmentInput& input, const std::string& privilege) {
  if (privilege == "READ ONLY ADMIN") {
    return true;
  }
  if (privilege == "SUPER") {
    return !input.is_mariadb || input.version_number < kMariaDbReadOnlyAdminSplit;
  }
  return !input.is_mariadb && privilege == "CONNECTION_ADMIN";
}

bool IsAdministrativeAccount(const std::string& grantee) {
  static const std::set<std::string> kAccounts = {
      "'root'@'localhost'", "'mariadb.sys'@'localhost'", "'mysql.sys'@'localhost'",
      "'mysql.session'@'localhost'", "'mysql.infoschema'@'localhost'"};
  return kAccounts.count(grantee) != 0;
}

// Application accounts that would write through the read-only freeze at cutover (warnings: the
// run goes on, the operator decides).
void CheckReadOnlyBypass(const AssessmentInput& input, Assessment* assessment) {
  if (!input.other_accounts_visible) {
    assessment->Warn("mysql_read_only_bypass_unknown", input.account.Quoted(),
                     "tandem's account cannot see other accounts' privileges, so it cannot tell "
                     "which accounts would write through the cutover's read-only freeze",
                     std::string("GRANT SELECT ON ") +
                         (input.is_mariadb ? "mysql.global_priv" : "mysql.user") + " TO " +
                         input.account.Quoted());
    assessment->facts["read_only_bypass_accounts"] = nullptr;
    return;
  }
  const std::string own = input.account.Quoted();
  json accounts = json::array();
  std::map<std::string, std::vector<std::string>> by_grantee;
  for (const auto& [grantee, privilege] : input.read_only_bypass_grants) {
    if (BypassesReadOnly(input, privilege)) {
      by_grantee[grantee].push_back(privilege);
    }
  }
  for (const auto& [grantee, privileges] : by_grantee) {
    std::string list;
    for (const std::string& privilege : privileges) {
      list += (list.empty() ? "" : ", ") + privilege;
    }
    accounts.push_back(grantee + " (" + list + ")");
    if (grantee == own || IsAdministrativeAccount(grantee) ||
        input.accounts_without_network_login.count(grantee) != 0) {
      // tandem's own account must write and serves no application; the local root and the
      // server's system accounts are the administrator's; an account that cannot log in over the
      // network serves no application either.
      continue;
    }
    assessment->Warn("mysql_read_only_bypass", grantee,
                     "account " + grantee + " holds " + list +
                         ", which writes through read_only: if an application uses it, the "
                         "cutover's write freeze will not stop its writes",
                     "REVOKE " + list + " ON *.* FROM " + grantee +
                         "; or make sure no application connects with it during the cutover");
  }
  assessment->facts["read_only_bypass_accounts"] = std::move(accounts);
}

Assessment EvaluateMySqlAssessment(const AssessmentInput& input) {
  Assessment assessment;
  AddFacts(input, &assessment);
  CheckVersion(input, &assessment);
  if (input.role == Role::kSource) {
    CheckSourceBinlog(input, &assessment);
    CheckSourceTables(input, &assessment);
    CheckSourcePrivileges(input, &assessment);
    CheckReadOnlyBypass(input, &assessment);
  } else {
    CheckTarget(input, &assessment);
  }
  return assessment;
}

Result<Assessment> AssessMySql(MySqlConnection& connection, Role role) {
  AssessmentInput input;
  input.role = role;
  input.is_mariadb = connection.is_mariadb();
  input.version = connection.server_version();
  input.version_number = connection.version_number();
  input.database = connection.config().database;

  std::string names;
  for (const std::string& name : AssessedVariables()) {
    names += (names.empty() ? "'" : ", '") + name + "'";
  }
  TANDEM_ASSIGN_OR_RETURN(
      TextRows variables,
      connection.QueryText("SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + names + ")",
                           "reading server settings"));
  for (const TextRow& row : variables) {
    if (row.size() >= 2 && row[0]) {
      input.variables[Lower(*row[0])] = row[1].value_or("");
    }
  }

  TANDEM_ASSIGN_OR_RETURN(TextRows user,
                          connection.QueryText("SELECT CURRENT_USER()", "reading the user name"));
  if (!user.empty() && !user[0].empty() && user[0][0]) {
    input.account = ParseAccount(*user[0][0]);
  } else {
    input.account = Account{connection.config().user, "%"};
  }

  TANDEM_ASSIGN_OR_RETURN(input.grants, ReadGrants(connection, "reading the user's privileges"));

  TANDEM_ASSIGN_OR_RETURN(input.tables, LoadCatalog(connection, input.database, ""));

  if (IsOn(input, "log_bin")) {
    // Needs REPLICATION CLIENT / BINLOG MONITOR; a missing privilege is reported as a blocker, so
    // the position is simply left out. MySQL 8.4 renamed the statement.
    for (const char* statement : {"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"}) {
      Result<TextRows> status = connection.QueryText(statement, "reading the binlog position");
      if (status.ok()) {
        if (!status->empty() && status->front().size() >= 2 && status->front()[0]) {
          input.binlog_file = *status->front()[0];
          input.binlog_position = std::atoll(status->front()[1].value_or("-1").c_str());
        }
        break;
      }
    }
  }

  // The zone's offsets in winter and summer: compares zones by what they do, whatever their names
  // (SYSTEM, +00:00, UTC). NULL when the server cannot convert to the zone.
  Result<TextRows> offsets = connection.QueryText(
      "SELECT TIMESTAMPDIFF(MINUTE, '2026-01-15 12:00:00', CONVERT_TZ('2026-01-15 12:00:00', "
      "'+00:00', @@GLOBAL.time_zone)), TIMESTAMPDIFF(MINUTE, '2026-07-15 12:00:00', "
      "CONVERT_TZ('2026-07-15 12:00:00', '+00:00', @@GLOBAL.time_zone))",
      "reading the time zone's offsets");
  if (offsets.ok() && !offsets->empty() && offsets->front().size() >= 2 && offsets->front()[0] &&
      offsets->front()[1]) {
    input.time_zone_offsets_minutes = std::make_pair(std::atoll(offsets->front()[0]->c_str()),
                                                     std::atoll(offsets->front()[1]->c_str()));
  }
  if (!input.database.empty()) {
    TANDEM_ASSIGN_OR_RETURN(
        auto schema_statement,
        MySqlStatement::Prepare(connection,
                                "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                                "information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                                "reading the database's default character set"));
    TANDEM_ASSIGN_OR_RETURN(auto schema_rows,
                            schema_statement->QueryAll({Value::Text(input.database)}));
    if (!schema_rows.empty()) {
      input.database_charset = TextOf(schema_rows.front()[0]);
      input.database_collation = TextOf(schema_rows.front()[1]);
    }
  }

  if (role == Role::kSource) {
    // Who could write through the cutover's read-only freeze. information_schema shows other
    // accounts' rows only to a user that may read the grant table; without it the list is
    // unknown (reported as such), not empty.
    const std::string grant_table = input.is_mariadb ? "mysql.global_priv" : "mysql.user";
    input.other_accounts_visible = connection
                                       .QueryText("SELECT 1 FROM " + grant_table + " LIMIT 1",
                                                  "checking that the grant table is readable")
                                       .ok();
    if (input.other_accounts_visible) {
      // QUOTE() spells 'user'@'host' as information_schema's GRANTEE does.
      const char* without_network_login =
          input.is_mariadb
              ? "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.global_priv WHERE "
                "JSON_VALUE(Priv, '$.account_locked') = 'true' OR (JSON_VALUE(Priv, '$.plugin') "
                "IN ('unix_socket', 'mysql_native_password') AND "
                "JSON_VALUE(Priv, '$.authentication_string') = 'invalid') OR "
                "(JSON_VALUE(Priv, '$.plugin') = 'unix_socket' AND "
                "JSON_QUERY(Priv, '$.auth_or') IS NULL)"
              : "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE "
                "account_locked = 'Y'";
      Result<TextRows> accounts =
          connection.QueryText(without_network_login, "reading which accounts cannot log in");
      if (accounts.ok()) {
        for (const TextRow& row : *accounts) {
          if (!row.empty() && row[0]) input.accounts_without_network_login.insert(*row[0]);
        }
      }
    }
    Result<TextRows> holders = connection.QueryText(
        "SELECT GRANTEE, PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE "
        "PRIVILEGE_TYPE IN ('SUPER', 'READ ONLY ADMIN', 'READ_ONLY ADMIN', 'CONNECTION_ADMIN') "
        "ORDER BY GRANTEE",
        "reading which accounts may write through read_only");
    if (holders.ok()) {
      for (const TextRow& row : *holders) {
        if (row.size() >= 2 && row[0] && row[1]) {
          // MariaDB spells it READ_ONLY ADMIN here, READ ONLY ADMIN in GRANT statements.
          const std::string privilege =
              *row[1] == "READ_ONLY ADMIN" ? std::string("READ ONLY ADMIN") : *row[1];
          input.read_only_bypass_grants.emplace_back(*row[0], privilege);
        }
      }
    }
  }

  if (role == Role::kTarget) {
    std::vector<Value> params;
    std::string sql =
        "SELECT EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME "
        "FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA NOT IN "
        "('mysql', 'information_schema', 'performance_schema', 'sys')";
    if (!input.database.empty()) {
      sql += " AND EVENT_OBJECT_SCHEMA = ?";
      params.push_back(Value::Text(input.database));
    }
    sql += " ORDER BY EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME";
    TANDEM_ASSIGN_OR_RETURN(auto statement,
                            MySqlStatement::Prepare(connection, sql, "reading triggers"));
    TANDEM_ASSIGN_OR_RETURN(auto rows, statement->QueryAll(params));
    for (const engine::Row& row : rows) {
      input.triggers[TextOf(row[0]) + "." + TextOf(row[1])].push_back(TextOf(row[2]));
    }
  }
  return EvaluateMySqlAssessment(input);
}

}  // namespace tandem::connectors::mysql
