#include "connectors/postgres/postgres_logical_source.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <utility>

#include "connectors/postgres/postgres_catalog.h"
#include "connectors/postgres/postgres_connection.h"
#include "connectors/postgres/postgres_range_query.h"
#include "connectors/postgres/postgres_wal_flush.h"
#include "engine/stable_hash.h"

namespace tandem::connectors::postgres {
namespace {

using engine::ConnectionConfig;
using engine::Lsn;
using engine::Result;
using engine::Status;
using engine::StatusCode;
using engine::TableId;

constexpr std::string_view kNamePrefix = "tandem_";
constexpr std::string_view kPublishedActions = "insert, update, delete, truncate";
// How long ReadWalFlushEnd waits for the WAL writer when FlushWal cannot flush at once.
constexpr std::chrono::milliseconds kFlushTimeout{15000};

std::string StreamObjectName(std::string_view stream) {
  std::string body;
  bool changed = false;
  for (unsigned char c : stream) {
    if (c >= 'A' && c <= 'Z') {
      body.push_back(static_cast<char>(c - 'A' + 'a'));
      changed = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      body.push_back(static_cast<char>(c));
    } else {
      body.push_back('_');
      changed = true;
    }
  }
  if (!changed && kNamePrefix.size() + body.size() <= kMaxPostgresNameBytes) {
    return std::string(kNamePrefix) + body;
  }
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "_%08x",
                static_cast<unsigned>(engine::StableHash(stream) & 0xffffffffu));
  const size_t room = kMaxPostgresNameBytes - kNamePrefix.size() - 9;  // 9 = "_" + 8 hex digits
  if (body.size() > room) {
    body.resize(room);
  }
  return std::string(kNamePrefix) + body + suffix;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& part : parts) {
    joined += joined.empty() ? part : ", " + part;
  }
  return joined;
}

std::string QuotedTables(const std::vector<TableId>& tables) {
  std::vector<std::string> quoted;
  quoted.reserve(tables.size());
  for (const TableId& table : tables) {
    quoted.push_back(QuoteTable(table));
  }
  return Join(quoted);
}

Lsn LsnOrZero(const PgResult& result, int row, int column) {
  if (result.IsNull(row, column)) {
    return Lsn{};
  }
  Result<Lsn> lsn = engine::ParseLsn(result.View(row, column));
  return lsn.ok() ? *lsn : Lsn{};
}

// What the check reads about the server and the logged-in role.
struct SourceFacts {
  std::string wal_level;
  std::string role;
  bool superuser = false;
  bool replication = false;
  int64_t max_replication_slots = 0;
  int64_t max_wal_senders = 0;
  std::string database;
  bool in_recovery = false;
  bool can_create_in_database = false;
};

constexpr char kSourceFactsSql[] = R"sql(
SELECT pg_catalog.current_setting('wal_level'), r.rolname, r.rolsuper, r.rolreplication,
       pg_catalog.current_setting('max_replication_slots')::int,
       pg_catalog.current_setting('max_wal_senders')::int,
       pg_catalog.current_database(), pg_catalog.pg_is_in_recovery(),
       pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE')
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)sql";

Result<SourceFacts> ReadSourceFacts(PostgresConnection& connection) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult result,
      connection.Query("reading the source's replication settings", kSourceFactsSql));
  if (result.rows() != 1) {
    return engine::Internal("reading the source's replication settings on " +
                            connection.config().Redacted() +
                            ": the logged-in role is missing from pg_roles");
  }
  SourceFacts facts;
  facts.wal_level = result.String(0, 0);
  facts.role = result.String(0, 1);
  facts.superuser = result.Bool(0, 2);
  facts.replication = result.Bool(0, 3);
  facts.max_replication_slots = result.Int(0, 4);
  facts.max_wal_senders = result.Int(0, 5);
  facts.database = result.String(0, 6);
  facts.in_recovery = result.Bool(0, 7);
  facts.can_create_in_database = result.Bool(0, 8);
  return facts;
}

Status CheckServer(const ConnectionConfig& source, const SourceFacts& facts) {
  const std::string server = source.Redacted();
  if (facts.wal_level != "logical") {
    return engine::Unsupported("source " + server + " has wal_level = " + facts.wal_level +
                               ", and logical replication needs logical: set wal_level = logical "
                               "in postgresql.conf and restart the server");
  }
  if (facts.in_recovery) {
    return engine::Unsupported("source " + server +
                               " is a standby, which PostgreSQL cannot decode logically before "
                               "version 16: point --source at the primary");
  }
  if (facts.max_replication_slots == 0) {
    return engine::Unsupported("source " + server +
                               " has max_replication_slots = 0: set max_replication_slots to at "
                               "least 1 in postgresql.conf and restart the server");
  }
  if (facts.max_wal_senders == 0) {
    return engine::Unsupported("source " + server +
                               " has max_wal_senders = 0: set max_wal_senders to at least 1 in "
                               "postgresql.conf and restart the server");
  }
  if (!facts.superuser && !facts.replication) {
    return engine::PermissionDenied("role \"" + facts.role + "\" on " + server +
                                    " may not stream logical replication (it has neither "
                                    "REPLICATION nor SUPERUSER): ALTER ROLE " +
                                    QuoteIdentifier(facts.role) + " REPLICATION");
  }
  return Status::Ok();
}

constexpr char kTableSql[] = R"sql(
SELECT c.oid, c.relkind, c.relreplident,
       pg_catalog.has_table_privilege(c.oid, 'SELECT'),
       pg_catalog.pg_has_role(c.relowner, 'USAGE')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1::text AND c.relname = $2::text)sql";

constexpr char kReplicaIdentityIndexSql[] = R"sql(
SELECT ic.relname, a.attname
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = $1::oid AND i.indisreplident)sql";

std::string KindName(std::string_view relkind) {
  if (relkind == "p") {
    return "a partitioned table";
  }
  if (relkind == "v") {
    return "a view";
  }
  if (relkind == "m") {
    return "a materialized view";
  }
  if (relkind == "f") {
    return "a foreign table";
  }
  return "not an ordinary table";
}

// The checks of one table. Sets `owned` to whether the role owns it (for the publication checks).
Status CheckTable(PostgresConnection& connection, const SourceFacts& facts, const TableId& table,
                  bool* owned) {
  const std::string name = table.ToString();
  const std::string quoted = QuoteTable(table);
  const std::string server = connection.config().Redacted();
  TANDEM_ASSIGN_OR_RETURN(PgResult row, connection.Query("looking up table " + name, kTableSql,
                                                         {table.schema, table.name}));
  if (row.rows() == 0) {
    return engine::NotFound("table " + name + " does not exist on source " + server +
                            " (check the schema and table name; PostgreSQL names are "
                            "case-sensitive)");
  }
  const std::string oid = row.String(0, 0);
  const std::string relkind = row.String(0, 1);
  const std::string replica_identity = row.String(0, 2);
  *owned = facts.superuser || row.Bool(0, 4);
  if (!row.Bool(0, 3)) {
    return engine::PermissionDenied("role \"" + facts.role + "\" may not read table " + name +
                                    " on source " + server + ": GRANT SELECT ON " + quoted +
                                    " TO " + QuoteIdentifier(facts.role));
  }
  if (relkind != "r") {
    return engine::Unsupported("table " + name + " on source " + server + " is " +
                               KindName(relkind) +
                               ", which tandem cannot stream: select its partitions (or "
                               "ordinary tables) with --table instead");
  }

  TANDEM_ASSIGN_OR_RETURN(engine::TableSchema schema, DescribePostgresTable(connection, table));
  const engine::KeyDescriptor* key = schema.IdentifyingKey();
  if (key == nullptr) {
    return engine::Unsupported(
        "table " + name + " on source " + server +
        " has no primary key (nor a unique key on NOT NULL columns), so its updates and deletes "
        "could not be streamed or applied idempotently: add one (ALTER TABLE " +
        quoted + " ADD PRIMARY KEY (...)); REPLICA IDENTITY FULL alone is not enough for tandem");
  }
  std::set<std::string> key_columns;
  std::vector<std::string> key_column_list;
  for (int index : key->columns) {
    if (index >= 0 && static_cast<size_t>(index) < schema.columns.size()) {
      key_columns.insert(schema.columns[static_cast<size_t>(index)].name);
      key_column_list.push_back(schema.columns[static_cast<size_t>(index)].name);
    }
  }
  const std::string fix =
      key->primary
          ? "ALTER TABLE " + quoted + " REPLICA IDENTITY DEFAULT"
          : "ALTER TABLE " + quoted + " REPLICA IDENTITY USING INDEX " + QuoteIdentifier(key->name);
  if (replica_identity == "n") {
    return engine::Unsupported("table " + name + " on source " + server +
                               " has REPLICA IDENTITY NOTHING, so the source cannot publish "
                               "which rows its updates and deletes touch: " +
                               fix);
  }
  if (replica_identity == "d" && !key->primary) {
    return engine::Unsupported("table " + name + " on source " + server +
                               " has REPLICA IDENTITY DEFAULT but no primary key, so the source "
                               "could not publish (and would refuse) its updates and deletes: " +
                               fix);
  }
  if (replica_identity == "i") {
    TANDEM_ASSIGN_OR_RETURN(PgResult index,
                            connection.Query("reading the replica identity of " + name,
                                             kReplicaIdentityIndexSql, {oid}));
    std::set<std::string> identity_columns;
    std::vector<std::string> identity_column_list;
    std::string index_name;
    for (int i = 0; i < index.rows(); ++i) {
      index_name = index.String(i, 0);
      identity_columns.insert(index.String(i, 1));
      identity_column_list.push_back(index.String(i, 1));
    }
    if (identity_columns.empty()) {
      return engine::Unsupported("table " + name + " on source " + server +
                                 " has REPLICA IDENTITY USING INDEX on an index that no longer "
                                 "exists, which publishes no key: " +
                                 fix);
    }
    if (identity_columns != key_columns) {
      return engine::Unsupported(
          "table " + name + " on source " + server + " has REPLICA IDENTITY USING INDEX " +
          QuoteIdentifier(index_name) + " on (" + Join(identity_column_list) +
          "), which differs from the key tandem applies by, " + QuoteIdentifier(key->name) +
          " on (" + Join(key_column_list) + "): " + fix);
    }
  }
  return Status::Ok();
}

constexpr char kPublicationSql[] = R"sql(
SELECT p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate,
       pg_catalog.pg_has_role(p.pubowner, 'USAGE')
FROM pg_catalog.pg_publication p WHERE p.pubname = $1::text)sql";

constexpr char kPublishedTablesSql[] = R"sql(
SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1::text)sql";

struct PublicationState {
  bool exists = false;
  bool all_tables = false;
  bool publishes_everything = false;  // insert, update, delete and truncate
  bool owned = false;
  std::set<TableId> tables;
};

Result<PublicationState> ReadPublication(PostgresConnection& connection,
                                         const std::string& publication) {
  const std::string context = "reading publication " + publication;
  PublicationState state;
  TANDEM_ASSIGN_OR_RETURN(PgResult row, connection.Query(context, kPublicationSql, {publication}));
  if (row.rows() == 0) {
    return state;
  }
  state.exists = true;
  state.all_tables = row.Bool(0, 0);
  state.publishes_everything = row.Bool(0, 1) && row.Bool(0, 2) && row.Bool(0, 3) && row.Bool(0, 4);
  state.owned = row.Bool(0, 5);
  TANDEM_ASSIGN_OR_RETURN(PgResult tables,
                          connection.Query(context, kPublishedTablesSql, {publication}));
  for (int i = 0; i < tables.rows(); ++i) {
    state.tables.insert(TableId{tables.String(i, 0), tables.String(i, 1)});
  }
  return state;
}

std::vector<TableId> Unpublished(const PublicationState& state,
                                 const std::vector<TableId>& tables) {
  std::vector<TableId> missing;
  if (state.all_tables) {
    return missing;
  }
  for (const TableId& table : tables) {
    if (!state.tables.contains(table) &&
        std::find(missing.begin(), missing.end(), table) == missing.end()) {
      missing.push_back(table);
    }
  }
  return missing;
}

std::string CreatePublicationSql(const std::string& publication,
                                 const std::vector<TableId>& tables) {
  return "CREATE PUBLICATION " + QuoteIdentifier(publication) + " FOR TABLE " +
         QuotedTables(tables) + " WITH (publish = " + QuoteReplicationLiteral(kPublishedActions) +
         ")";
}

std::string AddTablesSql(const std::string& publication, const std::vector<TableId>& tables) {
  return "ALTER PUBLICATION " + QuoteIdentifier(publication) + " ADD TABLE " + QuotedTables(tables);
}

std::string SetPublishSql(const std::string& publication) {
  return "ALTER PUBLICATION " + QuoteIdentifier(publication) +
         " SET (publish = " + QuoteReplicationLiteral(kPublishedActions) + ")";
}

// Whether EnsurePublication will be allowed to do what it must (see CheckLogicalSource).
Status CheckPublicationPrivileges(PostgresConnection& connection, const SourceFacts& facts,
                                  const std::vector<TableId>& tables,
                                  const std::vector<bool>& owned, std::string_view stream) {
  if (facts.superuser) {
    return Status::Ok();
  }
  const std::string publication = PublicationName(stream);
  const std::string server = connection.config().Redacted();
  const std::string role = QuoteIdentifier(facts.role);
  TANDEM_ASSIGN_OR_RETURN(PublicationState state, ReadPublication(connection, publication));
  if (!state.exists && !facts.can_create_in_database) {
    return engine::PermissionDenied(
        "role \"" + facts.role + "\" may not create publication " + publication + " on source " +
        server + " (it lacks CREATE on database \"" + facts.database +
        "\"): GRANT CREATE ON DATABASE " + QuoteIdentifier(facts.database) + " TO " + role +
        ", or have a superuser run " + CreatePublicationSql(publication, tables));
  }
  if (state.exists && !state.owned &&
      (!state.publishes_everything || !Unpublished(state, tables).empty())) {
    return engine::PermissionDenied("role \"" + facts.role + "\" must change publication " +
                                    publication + " on source " + server +
                                    " but does not own it: ALTER PUBLICATION " +
                                    QuoteIdentifier(publication) + " OWNER TO " + role);
  }
  const std::vector<TableId> missing =
      state.exists ? Unpublished(state, tables) : std::vector<TableId>(tables);
  for (size_t i = 0; i < tables.size(); ++i) {
    if (!owned[i] && std::find(missing.begin(), missing.end(), tables[i]) != missing.end()) {
      return engine::PermissionDenied(
          "role \"" + facts.role + "\" may not add table " + tables[i].ToString() +
          " to publication " + publication + " on source " + server +
          " because it does not own the table: ALTER TABLE " + QuoteTable(tables[i]) +
          " OWNER TO " + role + ", or have the owner or a superuser run " +
          (state.exists ? AddTablesSql(publication, {tables[i]})
                        : CreatePublicationSql(publication, tables)));
    }
  }
  return Status::Ok();
}

constexpr char kSlotSql[] = R"sql(
SELECT s.slot_name, s.slot_type, COALESCE(s.plugin, ''), COALESCE(s.database::text, ''),
       s.confirmed_flush_lsn::text, s.restart_lsn::text, s.active, COALESCE(s.active_pid, 0),
       CASE WHEN s.restart_lsn IS NULL OR pg_catalog.pg_is_in_recovery() THEN 0
            ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint
       END,
       COALESCE(s.wal_status, ''), a.application_name, pg_catalog.host(a.client_addr)
FROM pg_catalog.pg_replication_slots s
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = s.active_pid
WHERE s.slot_name = $1::text)sql";

// A slot and, when active, what pg_stat_activity says about its holder.
struct SlotRow {
  ReplicationSlotInfo info;
  // pg_stat_activity shows every session's application_name, but a client address only for the
  // role's own sessions (or with pg_read_all_stats), and none for a unix socket.
  std::optional<std::string> holder_application;  // nullopt when the PID has no session row
  std::optional<std::string> holder_address;
};

Result<std::optional<SlotRow>> ReadSlot(PostgresConnection& connection, const std::string& slot) {
  TANDEM_ASSIGN_OR_RETURN(PgResult row,
                          connection.Query("reading replication slot " + slot, kSlotSql, {slot}));
  if (row.rows() == 0) {
    return std::optional<SlotRow>();
  }
  SlotRow result;
  ReplicationSlotInfo& info = result.info;
  info.name = row.String(0, 0);
  info.slot_type = row.String(0, 1);
  info.plugin = row.String(0, 2);
  info.database = row.String(0, 3);
  info.confirmed_flush = LsnOrZero(row, 0, 4);
  info.restart_lsn = LsnOrZero(row, 0, 5);
  info.active = row.Bool(0, 6);
  info.active_pid = static_cast<int>(row.Int(0, 7));
  info.retained_bytes = row.Int(0, 8);
  info.wal_status = row.String(0, 9);
  if (!row.IsNull(0, 10)) {
    result.holder_application = row.String(0, 10);
  }
  if (!row.IsNull(0, 11)) {
    result.holder_address = row.String(0, 11);
  }
  return std::optional<SlotRow>(std::move(result));
}

std::string DescribeHolder(const SlotRow& slot) {
  std::string text = "PID " + std::to_string(slot.info.active_pid);
  if (!slot.holder_application.has_value()) {
    return text + " (no longer in pg_stat_activity)";
  }
  text += " (application_name \"" + *slot.holder_application + "\", client ";
  text += slot.holder_address.has_value()
              ? *slot.holder_address
              : std::string("on the local socket, or not visible to this role");
  return text + ")";
}

std::string DropSlotSql(const std::string& slot) {
  return "SELECT pg_drop_replication_slot(" + QuoteReplicationLiteral(slot) + ")";
}

Status CheckSlot(PostgresConnection& connection, const SourceFacts& facts,
                 std::string_view stream) {
  const std::string slot = ReplicationSlotName(stream);
  const std::string server = connection.config().Redacted();
  TANDEM_ASSIGN_OR_RETURN(std::optional<SlotRow> existing, ReadSlot(connection, slot));
  if (existing.has_value()) {
    const ReplicationSlotInfo& info = existing->info;
    const std::string what = "replication slot " + slot + " of stream \"" + std::string(stream) +
                             "\" on source " + server;
    if (info.slot_type != "logical") {
      return engine::FailedPrecondition(what + " is a " + info.slot_type +
                                        " slot, not a logical one: drop it (" + DropSlotSql(slot) +
                                        ") or use another --stream");
    }
    if (info.plugin != "pgoutput") {
      return engine::FailedPrecondition(what + " uses output plugin " + info.plugin +
                                        ", not pgoutput: drop it (" + DropSlotSql(slot) +
                                        ") or use another --stream");
    }
    if (info.database != facts.database) {
      return engine::FailedPrecondition(what + " belongs to database \"" + info.database +
                                        "\", not \"" + facts.database +
                                        "\": point --source at that database, or use another "
                                        "--stream");
    }
    if (info.active) {
      return engine::FailedPrecondition(what + " is in use by another consumer, " +
                                        DescribeHolder(*existing) +
                                        ": stop that consumer, or use another --stream");
    }
    if (info.wal_status == "lost") {
      return engine::FailedPrecondition(
          what +
          " has lost WAL it needs (max_slot_wal_keep_size was exceeded), so the stream "
          "cannot resume: drop it (" +
          DropSlotSql(slot) + ") and sync again from scratch");
    }
  } else {
    TANDEM_ASSIGN_OR_RETURN(
        PgResult slots, connection.Query("counting replication slots",
                                         "SELECT count(*) FROM pg_catalog.pg_replication_slots"));
    const int64_t used = slots.Int(0, 0);
    if (used >= facts.max_replication_slots) {
      return engine::Unavailable(
          "source " + server + " has no free replication slot for stream \"" + std::string(stream) +
          "\" (all max_replication_slots = " + std::to_string(facts.max_replication_slots) +
          " are taken): drop an unused slot (see pg_replication_slots) or raise "
          "max_replication_slots in postgresql.conf and restart the server");
    }
  }
  TANDEM_ASSIGN_OR_RETURN(PgResult senders,
                          connection.Query("counting WAL senders",
                                           "SELECT count(*) FROM pg_catalog.pg_stat_activity "
                                           "WHERE backend_type = 'walsender'"));
  const int64_t busy = senders.Int(0, 0);
  if (busy >= facts.max_wal_senders) {
    return engine::Unavailable(
        "source " + server +
        " has no free WAL sender (all max_wal_senders = " + std::to_string(facts.max_wal_senders) +
        " are busy): stop an unused replication consumer or raise "
        "max_wal_senders in postgresql.conf and restart the server");
  }
  return Status::Ok();
}

Result<std::unique_ptr<PostgresConnection>> ConnectSource(const ConnectionConfig& source) {
  if (source.engine != engine::EngineKind::kPostgres) {
    return engine::InvalidArgument("logical replication needs a PostgreSQL source, not " +
                                   source.Redacted());
  }
  return PostgresConnection::Connect(source);
}

// `status` with the fix for a publication statement the server refused for lack of privilege.
Status PublicationError(const Status& status, const ConnectionConfig& source,
                        const std::string& statement) {
  if (status.code() != StatusCode::kPermissionDenied) {
    return status;
  }
  return engine::PermissionDenied(
      status.message() + "; the role \"" + source.user +
      "\" must own every published table and the publication and have CREATE on database \"" +
      source.database + "\", or have a superuser run " + statement);
}

}  // namespace

std::string ReplicationSlotName(std::string_view stream) { return StreamObjectName(stream); }

std::string PublicationName(std::string_view stream) { return StreamObjectName(stream); }

Status CheckLogicalSource(const ConnectionConfig& source, const std::vector<TableId>& tables,
                          std::string_view stream) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection, ConnectSource(source));
  TANDEM_ASSIGN_OR_RETURN(SourceFacts facts, ReadSourceFacts(*connection));
  TANDEM_RETURN_IF_ERROR(CheckServer(source, facts));
  std::vector<bool> owned;
  owned.reserve(tables.size());
  for (const TableId& table : tables) {
    bool table_owned = false;
    TANDEM_RETURN_IF_ERROR(CheckTable(*connection, facts, table, &table_owned));
    owned.push_back(table_owned);
  }
  TANDEM_RETURN_IF_ERROR(CheckPublicationPrivileges(*connection, facts, tables, owned, stream));
  return CheckSlot(*connection, facts, stream);
}

Status EnsurePublication(const ConnectionConfig& source, std::string_view stream,
                         const std::vector<TableId>& tables) {
  const std::string publication = PublicationName(stream);
  if (tables.empty()) {
    return engine::InvalidArgument("publication " + publication + " for stream \"" +
                                   std::string(stream) + "\" needs at least one table");
  }
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection, ConnectSource(source));
  TANDEM_ASSIGN_OR_RETURN(PublicationState state, ReadPublication(*connection, publication));
  if (!state.exists) {
    std::vector<TableId> unique;
    for (const TableId& table : tables) {
      if (std::find(unique.begin(), unique.end(), table) == unique.end()) {
        unique.push_back(table);
      }
    }
    const std::string sql = CreatePublicationSql(publication, unique);
    Result<PgResult> created = connection->Query("creating publication " + publication, sql);
    return created.ok() ? Status::Ok() : PublicationError(created.status(), source, sql);
  }
  if (!state.publishes_everything) {
    const std::string sql = SetPublishSql(publication);
    Result<PgResult> set =
        connection->Query("changing what publication " + publication + " publishes", sql);
    if (!set.ok()) {
      return PublicationError(set.status(), source, sql);
    }
  }
  const std::vector<TableId> missing = Unpublished(state, tables);
  if (missing.empty()) {
    return Status::Ok();
  }
  const std::string sql = AddTablesSql(publication, missing);
  Result<PgResult> added = connection->Query("adding tables to publication " + publication, sql);
  return added.ok() ? Status::Ok() : PublicationError(added.status(), source, sql);
}

Result<std::optional<ReplicationSlotInfo>> ReadReplicationSlot(const ConnectionConfig& source,
                                                               std::string_view stream) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection, ConnectSource(source));
  TANDEM_ASSIGN_OR_RETURN(std::optional<SlotRow> slot,
                          ReadSlot(*connection, ReplicationSlotName(stream)));
  if (!slot.has_value()) {
    return std::optional<ReplicationSlotInfo>();
  }
  return std::optional<ReplicationSlotInfo>(std::move(slot->info));
}

Result<Lsn> AdvanceIdleSlot(const ConnectionConfig& source, std::string_view stream, Lsn target,
                            std::chrono::milliseconds budget) {
  constexpr uint64_t kStepBytes = uint64_t{64} << 20;
  const std::string slot = ReplicationSlotName(stream);
  const auto deadline = std::chrono::steady_clock::now() + budget;
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection, ConnectSource(source));
  TANDEM_RETURN_IF_ERROR(
      connection
          ->Query("limiting the slot advance to " + std::to_string(budget.count()) + " ms",
                  "SELECT pg_catalog.set_config('statement_timeout', $1, false)",
                  {std::to_string(std::max<int64_t>(1, budget.count()))})
          .status());
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(std::optional<SlotRow> row, ReadSlot(*connection, slot));
    if (!row.has_value()) {
      return engine::NotFound("replication slot " + slot + " of stream \"" + std::string(stream) +
                              "\" does not exist on source " + source.Redacted());
    }
    const Lsn confirmed = row->info.confirmed_flush;
    if (row->info.active || std::chrono::steady_clock::now() >= deadline) return confirmed;
    TANDEM_ASSIGN_OR_RETURN(Lsn flush, ReadWalFlushPosition(*connection));
    const Lsn goal{std::min({target.value, flush.value, confirmed.value + kStepBytes})};
    if (goal <= confirmed) return confirmed;
    TANDEM_RETURN_IF_ERROR(
        connection
            ->Query("moving replication slot " + slot + " up to " + engine::FormatLsn(goal),
                    "SELECT pg_catalog.pg_replication_slot_advance($1, $2::pg_lsn)",
                    {slot, engine::FormatLsn(goal)})
            .status());
  }
}

ExportedSnapshotSlot::ExportedSnapshotSlot(
    std::unique_ptr<PostgresReplicationConnection> connection, std::string slot_name,
    std::string snapshot_name, Lsn consistent_point)
    : slot_name_(std::move(slot_name)),
      snapshot_name_(std::move(snapshot_name)),
      consistent_point_(consistent_point),
      connection_(std::move(connection)) {}

ExportedSnapshotSlot::~ExportedSnapshotSlot() = default;

Result<std::unique_ptr<ExportedSnapshotSlot>> CreateSlotWithExportedSnapshot(
    const ConnectionConfig& source, std::string_view stream) {
  const std::string slot = ReplicationSlotName(stream);
  const std::string server = source.Redacted();
  const std::string context = "creating replication slot " + slot;
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> sql, ConnectSource(source));
  const auto already_exists = [&]() {
    return engine::FailedPrecondition("replication slot " + slot + " of stream \"" +
                                      std::string(stream) + "\" already exists on source " +
                                      server + ": resume the stream from it, or drop it (" +
                                      DropSlotSql(slot) + ") to start over");
  };
  TANDEM_ASSIGN_OR_RETURN(std::optional<SlotRow> existing, ReadSlot(*sql, slot));
  if (existing.has_value()) {
    return already_exists();
  }

  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresReplicationConnection> replication,
                          PostgresReplicationConnection::Connect(source));
  // The option list form arrived in PostgreSQL 15; older servers take the bare keyword.
  const std::string command =
      "CREATE_REPLICATION_SLOT " + QuoteIdentifier(slot) + " LOGICAL pgoutput " +
      (replication->server_version() >= 150000 ? "(SNAPSHOT 'export')" : "EXPORT_SNAPSHOT");
  Result<PgResult> created = replication->Command(context, command);
  if (!created.ok()) {
    // Another process may have created it since the check above.
    Result<std::optional<SlotRow>> now = ReadSlot(*sql, slot);
    if (now.ok() && now->has_value()) {
      return already_exists();
    }
    return created.status();
  }
  const PgResult& row = *created;
  const int point_column = PQfnumber(row.get(), "consistent_point");
  const int snapshot_column = PQfnumber(row.get(), "snapshot_name");
  if (row.rows() != 1 || point_column < 0 || snapshot_column < 0 ||
      row.IsNull(0, snapshot_column) || row.IsNull(0, point_column)) {
    return engine::Internal(context + " on " + server +
                            ": the server's answer has no consistent_point and snapshot_name");
  }
  Result<Lsn> point = engine::ParseLsn(row.View(0, point_column));
  if (!point.ok()) {
    return engine::Corruption(context + " on " + server + ": consistent_point " +
                              row.String(0, point_column) + " is not an LSN");
  }
  return std::make_unique<ExportedSnapshotSlot>(std::move(replication), slot,
                                                row.String(0, snapshot_column), *point);
}

Status DropReplicationSlot(const ConnectionConfig& source, std::string_view stream) {
  const std::string slot = ReplicationSlotName(stream);
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection, ConnectSource(source));
  TANDEM_ASSIGN_OR_RETURN(std::optional<SlotRow> existing, ReadSlot(*connection, slot));
  if (!existing.has_value()) {
    return Status::Ok();
  }
  if (existing->info.active) {
    return engine::FailedPrecondition("replication slot " + slot + " on source " +
                                      source.Redacted() + " cannot be dropped while " +
                                      DescribeHolder(*existing) +
                                      " streams from it: stop that consumer first");
  }
  Result<PgResult> dropped =
      connection->Query("dropping replication slot " + slot,
                        "SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
                        "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1::text",
                        {slot});
  if (dropped.ok()) {
    return Status::Ok();
  }
  if (dropped.status().code() == StatusCode::kPermissionDenied) {
    return engine::PermissionDenied(dropped.status().message() + "; fix: ALTER ROLE " +
                                    QuoteIdentifier(source.user) + " REPLICATION");
  }
  return dropped.status();
}

Status DropPublication(const ConnectionConfig& source, std::string_view stream) {
  const std::string publication = PublicationName(stream);
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection, ConnectSource(source));
  Result<PgResult> dropped =
      connection->Query("dropping publication " + publication,
                        "DROP PUBLICATION IF EXISTS " + QuoteIdentifier(publication));
  if (!dropped.ok() && dropped.status().code() == StatusCode::kPermissionDenied) {
    return engine::PermissionDenied(dropped.status().message() +
                                    "; only the publication's owner or a superuser may drop it");
  }
  return dropped.ok() ? Status::Ok() : dropped.status();
}

Result<Lsn> ReadWalFlushEnd(const ConnectionConfig& source) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection, ConnectSource(source));
  TANDEM_ASSIGN_OR_RETURN(PgResult row, connection->Query("reading whether the source is a standby",
                                                          "SELECT pg_catalog.pg_is_in_recovery()"));
  if (row.Bool(0, 0)) {
    return engine::FailedPrecondition("source " + source.Redacted() +
                                      " is a standby, which has no WAL flush position of its own: "
                                      "point --source at the primary");
  }
  // With synchronous_commit = off a commit is acknowledged before its WAL is flushed, so the flush
  // position alone may name a point before it. FlushWal flushes the WAL through everything
  // inserted before it (every commit acknowledged before this call) and returns the flush
  // position then (its transaction is READ WRITE: the source may be frozen for clients).
  return FlushWal(*connection, kFlushTimeout);
}

}  // namespace tandem::connectors::postgres
