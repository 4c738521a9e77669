#include "connectors/postgres/postgres_assessment.h"

#include <charconv>
#include <cstdio>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "connectors/postgres/postgres_catalog.h"
#include "connectors/postgres/postgres_range_query.h"

namespace tandem::connectors::postgres {
namespace {

using engine::Assessment;
using engine::Result;
using engine::Role;
using engine::Status;
using nlohmann::json;

constexpr int kLogicalDecodingOnStandbyVersion = 160000;

constexpr const char* kSessionSql = R"sql(
SELECT pg_catalog.current_setting('server_version'),
       pg_catalog.current_setting('server_version_num')::int,
       current_user::text, r.rolsuper, r.rolreplication,
       pg_catalog.pg_is_in_recovery(),
       pg_catalog.pg_database_size(d.oid),
       d.datname::text,
       pg_catalog.has_database_privilege(d.oid, 'CREATE'),
       pg_catalog.pg_encoding_to_char(d.encoding),
       pg_catalog.current_setting('default_transaction_read_only'),
       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace
               WHERE nspname = 'public' AND pg_catalog.has_schema_privilege(oid, 'CREATE')),
       d.datcollate::text, d.datctype::text,
       (SELECT pg_catalog.split_part(o, '=', 2)
        FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) o
        WHERE s.setdatabase = d.oid AND s.setrole = 0
          AND pg_catalog.lower(pg_catalog.split_part(o, '=', 1)) = 'timezone' LIMIT 1)
FROM pg_catalog.pg_roles r, pg_catalog.pg_database d
WHERE r.rolname = current_user AND d.datname = pg_catalog.current_database())sql";

constexpr const char* kSettingsSql =
    "SELECT name, setting FROM pg_catalog.pg_settings WHERE name = ANY($1::text[]) ORDER BY name";
constexpr const char* kSettingNames =
    "{wal_level,max_replication_slots,max_wal_senders,max_slot_wal_keep_size,wal_keep_size,"
    "wal_sender_timeout,max_connections,default_transaction_read_only}";

// Every user table (partitions included: replica identity is a property of each leaf).
constexpr const char* kTablesSql = R"sql(
SELECT n.nspname, c.relname, c.relkind, c.relispartition, c.relreplident,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
       (SELECT ic.relname FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indimmediate
          AND i.indpred IS NULL AND i.indexprs IS NULL
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = c.oid AND NOT a.attnotnull
                            AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
        ORDER BY ic.relname LIMIT 1),
       pg_catalog.has_schema_privilege(n.oid, 'USAGE'),
       pg_catalog.has_table_privilege(c.oid, 'SELECT'),
       pg_catalog.has_table_privilege(c.oid, 'INSERT') AND
           pg_catalog.has_table_privilege(c.oid, 'UPDATE') AND
           pg_catalog.has_table_privilege(c.oid, 'DELETE'),
       pg_catalog.pg_has_role(c.relowner, 'USAGE')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'
ORDER BY n.nspname, c.relname)sql";

constexpr const char* kUsageSql = R"sql(
SELECT (SELECT count(*) FROM pg_catalog.pg_replication_slots),
       (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender'))sql";

// WAL retained by each slot: from its restart_lsn to the current end of WAL (the replay position
// on a standby, where pg_current_wal_lsn() is not allowed).
constexpr const char* kSlotsSql = R"sql(
SELECT slot_name::text, plugin::text, slot_type, database::text, active, %WAL_STATUS%,
       CASE WHEN restart_lsn IS NULL THEN NULL
            ELSE pg_catalog.pg_wal_lsn_diff(
                     CASE WHEN pg_catalog.pg_is_in_recovery()
                          THEN pg_catalog.pg_last_wal_replay_lsn()
                          ELSE pg_catalog.pg_current_wal_lsn() END,
                     restart_lsn)::int8 END
FROM pg_catalog.pg_replication_slots ORDER BY slot_name)sql";

struct Session {
  std::string version;
  int version_number = 0;
  std::string user;
  bool superuser = false;
  bool replication = false;
  bool in_recovery = false;
  int64_t database_bytes = 0;
  std::string database;
  bool create_on_database = false;
  std::string encoding;
  bool read_only = false;
  bool create_on_public = false;
  std::string collate;  // the database's LC_COLLATE
  std::string ctype;    // and LC_CTYPE
  // The TimeZone applications get in this database: ALTER DATABASE ... SET timezone, else the
  // server's configuration file, else the built-in GMT; empty when it cannot be read (the file's
  // settings need pg_read_all_settings). Not current_setting: tandem's own sessions set UTC.
  std::string time_zone;
};

struct TableRow {
  std::string name;  // schema.table, as users write it
  std::string quoted;
  std::string schema_quoted;
  bool partitioned = false;
  bool partition = false;
  char replica_identity = 'd';
  bool has_primary_key = false;
  std::string unique_not_null_index;  // empty when none
  bool schema_usage = false;
  bool select = false;
  bool write = false;
  bool owned = false;
};

std::string HumanBytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.1f %s", value, kUnits[unit]);
  return buffer;
}

Result<Session> ReadSession(PostgresConnection& connection) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult result,
      connection.Query("reading the server's version and the user's role", kSessionSql));
  if (result.rows() != 1) {
    return engine::Internal("reading the session on " + connection.config().Redacted() +
                            " returned " + std::to_string(result.rows()) + " rows, expected 1");
  }
  Session session;
  session.version = result.String(0, 0);
  session.version_number = static_cast<int>(result.Int(0, 1));
  session.user = result.String(0, 2);
  session.superuser = result.Bool(0, 3);
  session.replication = result.Bool(0, 4);
  session.in_recovery = result.Bool(0, 5);
  session.database_bytes = result.Int(0, 6, -1);
  session.database = result.String(0, 7);
  session.create_on_database = result.Bool(0, 8);
  session.encoding = result.String(0, 9);
  session.read_only = result.View(0, 10) == "on";
  session.create_on_public = result.Bool(0, 11);
  session.collate = result.String(0, 12);
  session.ctype = result.String(0, 13);
  session.time_zone = result.String(0, 14);
  if (session.time_zone.empty()) {
    Result<PgResult> file = connection.Query(
        "reading the server's TimeZone",
        "SELECT COALESCE((SELECT setting FROM pg_catalog.pg_file_settings WHERE "
        "pg_catalog.lower(name) = 'timezone' AND applied ORDER BY seqno DESC LIMIT 1), "
        "(SELECT boot_val FROM pg_catalog.pg_settings WHERE name = 'TimeZone'))");
    if (file.ok() && file->rows() == 1) {
      session.time_zone = file->String(0, 0);
    }
  }
  return session;
}

// Superusers that can log in, other than tandem's own and the bootstrap superuser (oid 10, the
// administrator's "postgres"): a cutover's freeze
// (default_transaction_read_only plus ending write sessions) does not bind them, since a
// superuser may change any setting back. pg_roles is readable by every role.
Status CheckSuperuserLogins(PostgresConnection& connection, Assessment* assessment) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult result,
      connection.Query("reading which roles are superusers",
                       "SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolsuper AND "
                       "rolcanlogin AND rolname <> current_user AND oid <> 10 ORDER BY 1"));
  json roles = json::array();
  for (int row = 0; row < result.rows(); ++row) {
    const std::string role = result.String(row, 0);
    roles.push_back(role);
    assessment->Warn("postgres_superuser_login", "role " + role,
                     "role " + role +
                         " is a superuser that can log in: if an application uses it, the "
                         "cutover's read-only freeze will not stop its writes",
                     "ALTER ROLE " + QuoteIdentifier(role) +
                         " NOSUPERUSER; or make sure no application connects with it during the "
                         "cutover");
  }
  assessment->facts["superuser_logins"] = std::move(roles);
  return Status::Ok();
}

Result<std::map<std::string, std::string>> ReadSettings(PostgresConnection& connection) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult result, connection.Query("reading server settings", kSettingsSql, {kSettingNames}));
  std::map<std::string, std::string> settings;
  for (int row = 0; row < result.rows(); ++row) {
    settings[result.String(row, 0)] = result.String(row, 1);
  }
  return settings;
}

Result<std::vector<TableRow>> ReadTables(PostgresConnection& connection) {
  TANDEM_ASSIGN_OR_RETURN(PgResult result, connection.Query("listing tables", kTablesSql));
  std::vector<TableRow> tables;
  for (int row = 0; row < result.rows(); ++row) {
    TableRow table;
    const std::string schema = result.String(row, 0);
    const std::string name = result.String(row, 1);
    table.name = schema + "." + name;
    table.quoted = QuoteTable({schema, name});
    table.schema_quoted = QuoteIdentifier(schema);
    table.partitioned = result.View(row, 2) == "p";
    table.partition = result.Bool(row, 3);
    table.replica_identity = result.View(row, 4).empty() ? 'd' : result.View(row, 4)[0];
    table.has_primary_key = result.Bool(row, 5);
    table.unique_not_null_index = result.String(row, 6);
    table.schema_usage = result.Bool(row, 7);
    table.select = result.Bool(row, 8);
    table.write = result.Bool(row, 9);
    table.owned = result.Bool(row, 10);
    tables.push_back(std::move(table));
  }
  return tables;
}

// An integer setting; -1 when it is missing or not an integer.
int64_t SettingInt(const std::map<std::string, std::string>& settings, const std::string& name) {
  auto it = settings.find(name);
  if (it == settings.end()) {
    return -1;
  }
  const std::string& text = it->second;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() ? value : -1;
}

void CheckReplicationIdentity(const std::vector<TableRow>& tables, Assessment* assessment) {
  int64_t without_primary_key = 0;
  for (const TableRow& table : tables) {
    if (table.partitioned) {
      continue;  // no storage: its leaf partitions carry the replica identity
    }
    if (!table.has_primary_key) {
      ++without_primary_key;
    }
    switch (table.replica_identity) {
      case 'n':
        assessment->Block(
            "postgres_replica_identity_nothing", table.name,
            "table " + table.name +
                " has REPLICA IDENTITY NOTHING: its updates and deletes cannot be replicated (and "
                "fail once the table is published)",
            table.has_primary_key ? "ALTER TABLE " + table.quoted + " REPLICA IDENTITY DEFAULT;"
                                  : "add a primary key (ALTER TABLE " + table.quoted +
                                        " ADD PRIMARY KEY (...);) or ALTER TABLE " + table.quoted +
                                        " REPLICA IDENTITY FULL;");
        break;
      case 'd':
        if (!table.has_primary_key) {
          std::string fix =
              "add a primary key (ALTER TABLE " + table.quoted + " ADD PRIMARY KEY (...);)";
          if (!table.unique_not_null_index.empty()) {
            fix += ", use its unique index (ALTER TABLE " + table.quoted +
                   " REPLICA IDENTITY USING INDEX " + QuoteIdentifier(table.unique_not_null_index) +
                   ";)";
          }
          fix += " or log whole rows (ALTER TABLE " + table.quoted + " REPLICA IDENTITY FULL;)";
          assessment->Block("postgres_table_without_key", table.name,
                            "table " + table.name +
                                " has no primary key and REPLICA IDENTITY DEFAULT: its updates "
                                "and deletes cannot be streamed",
                            fix);
        }
        break;
      case 'f':
        if (!table.has_primary_key) {
          assessment->Warn(
              "postgres_replica_identity_full", table.name,
              "table " + table.name +
                  " has no primary key and REPLICA IDENTITY FULL: every update and delete logs "
                  "the whole old row and is applied by matching all columns" +
                  (table.unique_not_null_index.empty()
                       ? std::string(", and verify must hash the table whole")
                       : std::string()),
              "add a primary key: ALTER TABLE " + table.quoted + " ADD PRIMARY KEY (...);");
        }
        break;
      default:  // 'i': an explicit unique NOT NULL index identifies rows
        break;
    }
  }
  assessment->facts["tables_without_primary_key"] = without_primary_key;
}

Status CheckSlotsAndSenders(PostgresConnection& connection,
                            const std::map<std::string, std::string>& settings,
                            const Session& session, Assessment* assessment) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult usage, connection.Query("counting replication slots and WAL senders", kUsageSql));
  const int64_t slots_in_use = usage.Int(0, 0);
  const int64_t senders_in_use = usage.Int(0, 1);
  assessment->facts["replication_slots_in_use"] = slots_in_use;
  assessment->facts["wal_senders_in_use"] = senders_in_use;

  const int64_t max_slots = SettingInt(settings, "max_replication_slots");
  if (max_slots == 0) {
    assessment->Block("postgres_max_replication_slots", "server",
                      "max_replication_slots is 0: tandem needs a logical replication slot",
                      "ALTER SYSTEM SET max_replication_slots = 10; then restart the server");
  } else if (max_slots > 0 && slots_in_use >= max_slots) {
    assessment->Block(
        "postgres_max_replication_slots", "server",
        "all " + std::to_string(max_slots) + " replication slots are taken: tandem needs one more",
        "drop unused slots (SELECT pg_drop_replication_slot('name');) or raise "
        "max_replication_slots (ALTER SYSTEM SET max_replication_slots = " +
            std::to_string(max_slots + 4) + ";) and restart the server");
  }
  const int64_t max_senders = SettingInt(settings, "max_wal_senders");
  if (max_senders == 0) {
    assessment->Block("postgres_max_wal_senders", "server",
                      "max_wal_senders is 0: tandem's change stream needs a WAL sender",
                      "ALTER SYSTEM SET max_wal_senders = 10; then restart the server");
  } else if (max_senders > 0 && senders_in_use >= max_senders) {
    assessment->Block("postgres_max_wal_senders", "server",
                      "all " + std::to_string(max_senders) +
                          " WAL senders are busy: tandem's change stream needs one more",
                      "raise max_wal_senders (ALTER SYSTEM SET max_wal_senders = " +
                          std::to_string(max_senders + 4) +
                          ";) and restart the server, or stop an unused replication client");
  }

  std::string sql = kSlotsSql;
  const std::string placeholder = "%WAL_STATUS%";
  sql.replace(sql.find(placeholder), placeholder.size(),
              session.version_number >= 130000 ? "wal_status" : "NULL::text");
  TANDEM_ASSIGN_OR_RETURN(PgResult slots, connection.Query("listing replication slots", sql));
  json slot_facts = json::array();
  for (int row = 0; row < slots.rows(); ++row) {
    const std::string name = slots.String(row, 0);
    const bool active = slots.Bool(row, 4);
    json fact = {
        {"name", name},
        {"plugin", slots.IsNull(row, 1) ? json(nullptr) : json(slots.String(row, 1))},
        {"type", slots.String(row, 2)},
        {"database", slots.IsNull(row, 3) ? json(nullptr) : json(slots.String(row, 3))},
        {"active", active},
        {"wal_status", slots.IsNull(row, 5) ? json(nullptr) : json(slots.String(row, 5))},
        {"retained_wal_bytes", slots.IsNull(row, 6) ? json(nullptr) : json(slots.Int(row, 6))}};
    slot_facts.push_back(std::move(fact));
    if (!active && !slots.IsNull(row, 6)) {
      const int64_t retained = slots.Int(row, 6);
      assessment->Warn(
          "postgres_inactive_slot", "slot " + name,
          "replication slot " + name + " is inactive and retains " + HumanBytes(retained) +
              " of WAL, which grows until the slot is used again or dropped",
          "if nothing uses it any more: SELECT pg_drop_replication_slot('" + name + "');");
    }
  }
  assessment->facts["replication_slots"] = std::move(slot_facts);
  return Status::Ok();
}

void CheckSource(const Session& session, const std::map<std::string, std::string>& settings,
                 const std::vector<TableRow>& tables, Assessment* assessment) {
  auto wal_level = settings.find("wal_level");
  if (wal_level == settings.end() || wal_level->second != "logical") {
    assessment->Block(
        "postgres_wal_level", "server",
        "wal_level is " +
            (wal_level == settings.end() ? std::string("unknown") : wal_level->second) +
            ", not logical: changes cannot be decoded for streaming",
        "ALTER SYSTEM SET wal_level = logical; then restart the server");
  }
  if (!session.replication && !session.superuser) {
    assessment->Block("postgres_missing_replication", "role " + session.user,
                      "role " + session.user +
                          " has neither the REPLICATION attribute nor superuser: it cannot open a "
                          "replication connection or create a replication slot",
                      "ALTER ROLE " + QuoteIdentifier(session.user) + " REPLICATION;");
  }
  if (session.in_recovery && session.version_number < kLogicalDecodingOnStandbyVersion) {
    assessment->Block("postgres_source_in_recovery", "server",
                      "the source is a standby, and PostgreSQL before 16 cannot decode changes on "
                      "a standby",
                      "point --source at the primary server");
  }
  int64_t not_owned = 0;
  int64_t listed = 0;
  for (const TableRow& table : tables) {
    if (table.partition) {
      continue;  // read and published through the partitioned parent
    }
    ++listed;
    if (!table.owned) {
      ++not_owned;
    }
    if (!table.schema_usage || !table.select) {
      assessment->Block("postgres_missing_select", table.name,
                        "role " + session.user + " cannot read table " + table.name +
                            (table.schema_usage ? "" : " (no USAGE on its schema)"),
                        (table.schema_usage ? std::string()
                                            : "GRANT USAGE ON SCHEMA " + table.schema_quoted +
                                                  " TO " + QuoteIdentifier(session.user) + "; ") +
                            "GRANT SELECT ON " + table.quoted + " TO " +
                            QuoteIdentifier(session.user) + ";");
    }
  }
  CheckReplicationIdentity(tables, assessment);
  if (!session.superuser) {
    if (!session.create_on_database) {
      assessment->Warn("postgres_cannot_create_publication", "database " + session.database,
                       "role " + session.user + " lacks CREATE on database " + session.database +
                           ", so it cannot create the publication tandem streams from",
                       "GRANT CREATE ON DATABASE " + QuoteIdentifier(session.database) + " TO " +
                           QuoteIdentifier(session.user) +
                           "; or have the tables' owner create it: CREATE PUBLICATION tandem FOR "
                           "TABLE ...;");
    } else if (not_owned > 0) {
      assessment->Warn("postgres_cannot_create_publication", "database " + session.database,
                       "role " + session.user + " does not own " + std::to_string(not_owned) +
                           " of " + std::to_string(listed) +
                           " tables, and only a table's owner can add it to a publication",
                       "have the owner create the publication (CREATE PUBLICATION tandem FOR "
                       "TABLE ...;) or grant the owning role to " +
                           QuoteIdentifier(session.user));
    }
  }
}

void CheckTarget(const Session& session, const std::map<std::string, std::string>& settings,
                 const std::vector<TableRow>& tables, Assessment* assessment) {
  if (session.in_recovery) {
    assessment->Block("postgres_target_in_recovery", "server",
                      "the target is a standby in recovery and cannot be written",
                      "point --target at a primary, or promote this server: SELECT pg_promote();");
  }
  if (session.read_only) {
    assessment->Block("postgres_target_read_only", "server",
                      "default_transaction_read_only is on for role " + session.user +
                          " in database " + session.database + ": writes are refused",
                      "ALTER SYSTEM SET default_transaction_read_only = off; SELECT "
                      "pg_reload_conf(); (or RESET it where it was set: ALTER DATABASE / ALTER "
                      "ROLE ... RESET default_transaction_read_only)");
  }
  if (!session.superuser && !session.create_on_database && !session.create_on_public) {
    assessment->Block("postgres_target_missing_create", "database " + session.database,
                      "role " + session.user + " can create neither schemas in database " +
                          session.database +
                          " nor tables in schema public, and tandem keeps its checkpoint in a "
                          "table it creates on the target",
                      "GRANT CREATE ON DATABASE " + QuoteIdentifier(session.database) + " TO " +
                          QuoteIdentifier(session.user) + ";");
  }
  for (const TableRow& table : tables) {
    if (table.partition) {
      continue;  // written through the partitioned parent
    }
    if (!table.schema_usage || !table.select || !table.write) {
      assessment->Block("postgres_target_missing_write", table.name,
                        "role " + session.user + " cannot read and write table " + table.name,
                        (table.schema_usage ? std::string()
                                            : "GRANT USAGE ON SCHEMA " + table.schema_quoted +
                                                  " TO " + QuoteIdentifier(session.user) + "; ") +
                            "GRANT SELECT, INSERT, UPDATE, DELETE ON " + table.quoted + " TO " +
                            QuoteIdentifier(session.user) + ";");
    }
  }
  auto wal_level = settings.find("wal_level");
  if (wal_level != settings.end() && wal_level->second != "logical") {
    assessment->Warn("postgres_target_wal_level", "server",
                     "wal_level is " + wal_level->second +
                         " on the target: after cutover the reverse stream that keeps the old "
                         "side current for a rollback cannot start",
                     "ALTER SYSTEM SET wal_level = logical; then restart the server");
  }
}

}  // namespace

Result<Assessment> AssessPostgres(PostgresConnection& connection, Role role) {
  Assessment assessment;
  TANDEM_ASSIGN_OR_RETURN(Session session, ReadSession(connection));
  TANDEM_ASSIGN_OR_RETURN(auto settings, ReadSettings(connection));
  TANDEM_ASSIGN_OR_RETURN(std::vector<TableRow> tables, ReadTables(connection));

  json& facts = assessment.facts;
  facts["product"] = "PostgreSQL";
  facts["version"] = session.version;
  facts["version_number"] = session.version_number;
  facts["user"] = session.user;
  facts["superuser"] = session.superuser;
  facts["replication"] = session.replication;
  facts["database"] = session.database;
  facts["database_bytes"] = session.database_bytes;
  facts["encoding"] = session.encoding;
  facts["collate"] = session.collate;
  facts["ctype"] = session.ctype;
  facts["time_zone"] = session.time_zone;
  facts["in_recovery"] = session.in_recovery;
  json settings_fact = json::object();
  for (const auto& [name, value] : settings) {
    settings_fact[name] = value;
  }
  facts["settings"] = std::move(settings_fact);
  int64_t table_count = 0;
  for (const TableRow& table : tables) {
    table_count += table.partition ? 0 : 1;
  }
  facts["table_count"] = table_count;

  if (session.version_number < kMinimumServerVersion) {
    assessment.Block(
        "postgres_version_unsupported", "server",
        "PostgreSQL " + session.version + " is older than 12, the oldest tandem supports",
        "upgrade the server to PostgreSQL 12 or later");
  }
  if (role == Role::kSource) {
    CheckSource(session, settings, tables, &assessment);
    TANDEM_RETURN_IF_ERROR(CheckSlotsAndSenders(connection, settings, session, &assessment));
    TANDEM_RETURN_IF_ERROR(CheckSuperuserLogins(connection, &assessment));
  } else {
    CheckTarget(session, settings, tables, &assessment);
  }
  return assessment;
}

}  // namespace tandem::connectors::postgres
