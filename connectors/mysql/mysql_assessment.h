// File: connectors/mysql/mysql_assessment.h
//
// Phase 1 assessment of a MySQL/MariaDB server (tandem inspect): the settings, privileges and
// tables that decide whether it can be the source or the target of a migration. Gathering (queries
// on a connection) is kept apart from judging (EvaluateMySqlAssessment, a pure function) so the
// rules are unit-tested without a server.
//
// Codes (role: s = source, t = target; B = blocker, W = warning):
//   mysql_binlog_disabled          s B  log_bin is OFF
//   mysql_binlog_format            s B  binlog_format is not ROW
//   mysql_binlog_row_image         s B  binlog_row_image is not FULL
//   mysql_server_id                s B  server_id is 0
//   mysql_table_without_key        s B  a table has no primary key and no NOT NULL unique key
//   mysql_missing_privilege        s B  REPLICATION SLAVE, REPLICATION CLIENT (BINLOG MONITOR) on
//                                       *.*, or SELECT on the migrated databases, is missing
//                                  t B  SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER or DROP on
//                                       the target database (*.* when the URI names none)
//   mysql_target_read_only         t B  read_only / super_read_only would refuse tandem's writes
//   mysql_non_transactional_table  t B  a table's engine (MyISAM, Aria, MEMORY...) cannot commit
//                                       changes and checkpoint together
//                                  s W  the initial copy of such a table is not a consistent
//                                       snapshot
//   mysql_gtid_disabled            s W  MySQL gtid_mode is not ON (positions are file:offset only)
//   mysql_binlog_retention_short   s W  binary logs are purged automatically after less than a day
//   mysql_binlog_compressed        s W  MariaDB log_bin_compress is ON
//   mysql_float_key                s W  a FLOAT/DOUBLE column is part of the identifying key
//   mysql_spatial_column           s W  spatial columns are copied and compared as raw bytes
//   mysql_unknown_type             s W  a column type tandem does not know, handled as text
//   mysql_target_triggers          t W  triggers would fire on rows tandem applies
//   mysql_target_reverse_stream    t W  the target's binary log cannot feed the reverse stream
//                                       that keeps the source current after cutover (rollback)
//   mysql_version_untested         s/t W  older than MySQL 5.7 / MariaDB 10.3
//
// Facts: product, version, version_number, role, user, server_id, log_bin, binlog_format,
// binlog_row_image, binlog_checksum, binlog_row_metadata, log_bin_compress, binlog_file,
// binlog_position, binlog_retention_seconds (0 = never purged automatically),
// binlogs_purged_automatically, gtid_* settings and positions, read_only, super_read_only,
// time_zone, system_time_zone, character_set_server, collation_server, lower_case_table_names,
// sql_mode, max_allowed_packet, table_count, tables_without_key, estimated_rows, data_bytes, and
// tables [{table, engine, estimated_rows, data_bytes}].
//
// Thread safety: AssessMySql uses the connection (its owner's thread); the rest are pure.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connectors/mysql/mysql_catalog.h"
#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_grants.h"
#include "engine/assessment.h"
#include "engine/status.h"

namespace tandem::connectors::mysql {

// Everything the rules look at, as gathered from one server.
struct AssessmentInput {
  engine::Role role = engine::Role::kSource;
  bool is_mariadb = true;
  std::string version;  // "10.11.6-MariaDB-0+deb12u1-log"
  int version_number = 0;
  std::string database;  // the URI's database; empty = all databases
  // Global variables by lower-case name, as SHOW GLOBAL VARIABLES prints them.
  std::map<std::string, std::string> variables;
  Account account;
  GrantSet grants;
  std::vector<CatalogTable> tables;
  // "schema.table" -> trigger names, for the tables in scope.
  std::map<std::string, std::vector<std::string>> triggers;
  // From SHOW MASTER STATUS when available.
  std::string binlog_file;
  int64_t binlog_position = -1;
  // Source only: (grantee, privilege) rows of information_schema.USER_PRIVILEGES for the
  // privileges that write through read_only (SUPER, READ ONLY ADMIN, CONNECTION_ADMIN). The
  // server shows other accounts' rows only to a user allowed to read mysql.global_priv/user, so
  // the list may hold only the user's own.
  std::vector<std::pair<std::string, std::string>> read_only_bypass_grants;
  // Whether read_only_bypass_grants can show other accounts' rows (the user may read
  // mysql.global_priv on MariaDB, mysql.user on MySQL). When false the list is not reported.
  bool other_accounts_visible = true;
  // Accounts no application can use over the network ('user'@'host' as GRANTEE spells it):
  // MariaDB accounts whose only ways in are unix_socket or an "invalid" password (Debian's
  // 'root'@'localhost' and 'mysql'@'localhost'), and locked accounts.
  std::set<std::string> accounts_without_network_login;
  // The UTC offsets in minutes of the global time_zone on 15 January and 15 July (so zones with
  // other daylight-saving rules differ); absent when the server cannot convert (named zone without
  // the time zone tables).
  std::optional<std::pair<int64_t, int64_t>> time_zone_offsets_minutes;
  // The default character set and collation of the URI's database (information_schema.SCHEMATA);
  // empty when the URI names none or the database does not exist yet.
  std::string database_charset, database_collation;
};

// The global variables AssessMySql reads.
const std::vector<std::string>& AssessedVariables();

// Applies the rules in the header comment to `input`.
engine::Assessment EvaluateMySqlAssessment(const AssessmentInput& input);

// Gathers the input from `connection` and evaluates it.
// Errors: those of the catalog and settings queries (QueryErrorStatus); optional facts the user
// may not read (SHOW MASTER STATUS) are left out instead.
engine::Result<engine::Assessment> AssessMySql(MySqlConnection& connection, engine::Role role);

}  // namespace tandem::connectors::mysql
