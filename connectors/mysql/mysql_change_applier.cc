#include "connectors/mysql/mysql_change_applier.h"

#include <algorithm>
#include <map>
#include <utility>

#include "connectors/mysql/mysql_key_codec.h"
#include "connectors/mysql/mysql_range_query.h"
#include "engine/position.h"

namespace tandem::connectors::mysql {

using engine::ChangeEvent;
using engine::ChangeKind;
using engine::Checkpoint;
using engine::ConnectionConfig;
using engine::Result;
using engine::Row;
using engine::Status;
using engine::TableSchema;
using engine::Value;
using engine::ValueKind;

namespace {

// Prepared statements kept per applier before the cache is emptied (each one holds server memory;
// max_prepared_stmt_count is global).
constexpr size_t kMaxCachedStatements = 64;

std::string QuotedCheckpointTable() {
  return QuoteIdentifier(kTandemSchema) + "." + QuoteIdentifier(kCheckpointTable);
}

std::string QuotedDdlMarkerTable() {
  return QuoteIdentifier(kTandemSchema) + "." + QuoteIdentifier(kDdlMarkerTable);
}

// The errors a DDL statement gives when it is run a second time after it fully ran once.
bool IsAlreadyAppliedDdlError(unsigned int number) {
  switch (number) {
    case 1007:  // ER_DB_CREATE_EXISTS
    case 1008:  // ER_DB_DROP_EXISTS
    case 1050:  // ER_TABLE_EXISTS_ERROR
    case 1051:  // ER_BAD_TABLE_ERROR (DROP TABLE of a dropped table)
    case 1054:  // ER_BAD_FIELD_ERROR (CHANGE COLUMN of a renamed column)
    case 1060:  // ER_DUP_FIELDNAME (ADD COLUMN)
    case 1061:  // ER_DUP_KEYNAME (ADD INDEX)
    case 1091:  // ER_CANT_DROP_FIELD_OR_KEY
    case 1146:  // ER_NO_SUCH_TABLE (ALTER / RENAME of a renamed table)
    case 1826:  // ER_FK_DUP_NAME
      return true;
    default:
      return false;
  }
}

bool SameTable(const TableSchema* a, const TableSchema* b) {
  return a == b || (a != nullptr && b != nullptr && a->id == b->id && a->columns == b->columns);
}

std::string LowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

size_t EstimatedBytes(const Row& row) {
  size_t bytes = 0;
  for (const Value& value : row) {
    bytes += value.text().size() + 16;
  }
  return bytes;
}

MySqlChangeApplier::MySqlChangeApplier(std::unique_ptr<MySqlConnection> connection)
    : connection_(std::move(connection)) {}

MySqlChangeApplier::~MySqlChangeApplier() {
  // Statements must close before the connection they were prepared on.
  statements_.clear();
  if (in_transaction_) {
    mysql_rollback(connection_->handle());
  }
}

Result<std::unique_ptr<MySqlChangeApplier>> MySqlChangeApplier::Open(
    const ConnectionConfig& config) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<MySqlConnection> connection,
                          MySqlConnection::Open(config));
  std::unique_ptr<MySqlChangeApplier> applier(new MySqlChangeApplier(std::move(connection)));
  TANDEM_RETURN_IF_ERROR(applier->SetUpSession());
  TANDEM_RETURN_IF_ERROR(applier->EnsureCheckpointTable());
  return applier;
}

Result<std::unique_ptr<engine::ChangeApplier>> OpenMySqlChangeApplier(
    const ConnectionConfig& config) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<MySqlChangeApplier> applier,
                          MySqlChangeApplier::Open(config));
  return std::unique_ptr<engine::ChangeApplier>(std::move(applier));
}

Status MySqlChangeApplier::SetUpSession() {
  TANDEM_RETURN_IF_ERROR(connection_->Execute(
      "SET character_set_client = utf8mb4, character_set_connection = utf8mb4,"
      " character_set_results = utf8mb4, time_zone = '+00:00',"
      " sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION',"
      " unique_checks = 1, foreign_key_checks = 1, autocommit = 1",
      "setting up the applier session"));
  TANDEM_ASSIGN_OR_RETURN(TextRows rows,
                          connection_->QueryText("SELECT @@SESSION.binlog_format, @@GLOBAL.log_bin",
                                                 "reading the target's binary log format"));
  const bool logs_statements = !rows.empty() && rows[0].size() == 2 && rows[0][1] == "1" &&
                               rows[0][0] == std::optional<std::string>("STATEMENT");
  if (!logs_statements) {
    TANDEM_RETURN_IF_ERROR(
        connection_->Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                             "setting the applier's isolation level"));
  }
  return Status::Ok();
}

Status MySqlChangeApplier::EnsureCheckpointTable() {
  const std::string grant_fix = " (grant it: GRANT ALL ON `" + std::string(kTandemSchema) +
                                "`.* TO " + "the tandem user on " +
                                connection_->config().Redacted() + ")";
  auto with_fix = [&](Status status) {
    if (status.code() == engine::StatusCode::kPermissionDenied) {
      return engine::PermissionDenied(status.message() + grant_fix);
    }
    return status;
  };
  TANDEM_RETURN_IF_ERROR(with_fix(
      connection_->Execute("CREATE DATABASE IF NOT EXISTS " + QuoteIdentifier(kTandemSchema) +
                               " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                           "creating the `_tandem` schema for checkpoints")));
  TANDEM_RETURN_IF_ERROR(with_fix(connection_->Execute(
      "CREATE TABLE IF NOT EXISTS " + QuotedCheckpointTable() +
          " (stream VARCHAR(191) NOT NULL PRIMARY KEY, position TEXT NOT NULL,"
          " transaction_sequence BIGINT UNSIGNED NOT NULL, events_applied BIGINT NOT NULL,"
          " updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
          " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
      "creating the checkpoint table `_tandem`.`checkpoint`")));
  TANDEM_RETURN_IF_ERROR(with_fix(
      connection_->Execute("CREATE TABLE IF NOT EXISTS " + QuotedDdlMarkerTable() +
                               " (digest BINARY(32) NOT NULL PRIMARY KEY, position TEXT NOT NULL,"
                               " started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
                               " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                           "creating the DDL marker table `_tandem`.`ddl_started`")));
  TANDEM_ASSIGN_OR_RETURN(
      TextRows rows, connection_->QueryText("SELECT ENGINE FROM information_schema.TABLES WHERE "
                                            "TABLE_SCHEMA = '_tandem' AND TABLE_NAME = "
                                            "'checkpoint'",
                                            "checking the checkpoint table's engine"));
  if (rows.empty() || !rows[0][0] || LowerCase(*rows[0][0]) != "innodb") {
    return engine::FailedPrecondition(
        "the checkpoint table `_tandem`.`checkpoint` on " + connection_->config().Redacted() +
        " is not an InnoDB table, so checkpoints would not commit with the rows (ALTER TABLE "
        "`_tandem`.`checkpoint` ENGINE=InnoDB)");
  }
  return Status::Ok();
}

Status MySqlChangeApplier::AbortWith(Status error) {
  batch_ = Batch();
  if (in_transaction_) {
    in_transaction_ = false;
    // A failed rollback (the connection is gone) means the server rolls back on its own.
    mysql_rollback(connection_->handle());
  }
  return error;
}

Status MySqlChangeApplier::Begin() {
  if (in_transaction_) {
    return engine::Internal("MySqlChangeApplier::Begin with a transaction already open");
  }
  TANDEM_RETURN_IF_ERROR(
      connection_->Execute("START TRANSACTION", "starting a target transaction"));
  in_transaction_ = true;
  return Status::Ok();
}

Status MySqlChangeApplier::Rollback() {
  batch_ = Batch();
  if (!in_transaction_) {
    return Status::Ok();
  }
  in_transaction_ = false;
  if (mysql_rollback(connection_->handle()) != 0) {
    return connection_->LastError("rolling back a target transaction");
  }
  return Status::Ok();
}

Status MySqlChangeApplier::Apply(std::span<const ChangeEvent> changes) {
  if (!in_transaction_) {
    return engine::Internal("MySqlChangeApplier::Apply without an open transaction");
  }
  Status status = ApplyChanges(changes);
  if (!status.ok()) {
    return AbortWith(std::move(status));
  }
  return Status::Ok();
}

Status MySqlChangeApplier::ApplyChanges(std::span<const ChangeEvent> changes) {
  bool coalesce = true;
  for (const ChangeEvent& change : changes) {
    if (!change.IsRowChange() || change.table == nullptr) {
      return engine::Internal("MySqlChangeApplier::Apply given a " +
                              std::string(engine::ChangeKindName(change.kind)) +
                              " event, which is not a row change of a known table");
    }
    const TableSchema& table = *change.table;
    if (table.IdentifyingKey() == nullptr) {
      return engine::Unsupported("table " + table.id.ToString() +
                                 " has no primary key or unique NOT NULL key, so its changes "
                                 "cannot be applied exactly once (add a primary key on the "
                                 "source, or leave the table out with --table)");
    }
    const size_t width = table.columns.size();
    const bool needs_before = change.kind != ChangeKind::kInsert;
    const bool needs_after = change.kind != ChangeKind::kDelete;
    if ((needs_before && change.before.size() != width) ||
        (needs_after && change.after.size() != width)) {
      return engine::Internal("a " + std::string(engine::ChangeKindName(change.kind)) +
                              " event of " + table.id.ToString() +
                              " has a row image whose width differs from the table's " +
                              std::to_string(width) + " columns");
    }
    coalesce = coalesce && table.foreign_keys.empty();
  }
  return coalesce ? ApplyNetEffect(changes) : ApplyInOrder(changes);
}

Status MySqlChangeApplier::ApplyInOrder(std::span<const ChangeEvent> changes) {
  for (const ChangeEvent& change : changes) {
    const TableSchema& table = *change.table;
    const bool fk_off = change.foreign_key_checks_off;
    switch (change.kind) {
      case ChangeKind::kInsert:
        TANDEM_RETURN_IF_ERROR(Add(Batch::Kind::kUpsert, table, change.after, fk_off));
        break;
      case ChangeKind::kUpdate:
        if (engine::KeyOf(table, change.before) != engine::KeyOf(table, change.after)) {
          TANDEM_RETURN_IF_ERROR(Add(Batch::Kind::kDelete, table, change.before, fk_off));
        }
        TANDEM_RETURN_IF_ERROR(Add(Batch::Kind::kUpsert, table, change.after, fk_off));
        break;
      case ChangeKind::kDelete:
        TANDEM_RETURN_IF_ERROR(Add(Batch::Kind::kDelete, table, change.before, fk_off));
        break;
      default:
        break;  // excluded by IsRowChange() in ApplyChanges
    }
  }
  return Flush();
}

Status MySqlChangeApplier::ApplyNetEffect(std::span<const ChangeEvent> changes) {
  // The last state of each row the span touches, keyed by table and identifying key (exact bytes
  // of the key's values), in order of first appearance.
  struct FinalState {
    const TableSchema* table = nullptr;
    const engine::Row* image = nullptr;  // deleted: a before image holding the key; else the after
    bool deleted = false;
    bool foreign_key_checks_off = false;
  };
  std::vector<FinalState> finals;
  std::map<std::pair<engine::TableId, std::string>, size_t> index;
  std::vector<const TableSchema*> tables;  // in order of first appearance
  auto record = [&](const TableSchema& table, const engine::Row& image, bool deleted, bool fk_off) {
    auto [slot, fresh] =
        index.try_emplace({table.id, EncodeKey(engine::KeyOf(table, image))}, finals.size());
    if (fresh) {
      finals.push_back({});
      if (std::none_of(tables.begin(), tables.end(),
                       [&](const TableSchema* seen) { return seen->id == table.id; })) {
        tables.push_back(&table);
      }
    }
    finals[slot->second] = FinalState{&table, &image, deleted, fk_off};
  };
  for (const ChangeEvent& change : changes) {
    const TableSchema& table = *change.table;
    const bool fk_off = change.foreign_key_checks_off;
    switch (change.kind) {
      case ChangeKind::kInsert:
        record(table, change.after, false, fk_off);
        break;
      case ChangeKind::kUpdate:
        if (engine::KeyOf(table, change.before) != engine::KeyOf(table, change.after)) {
          record(table, change.before, true, fk_off);
        }
        record(table, change.after, false, fk_off);
        break;
      case ChangeKind::kDelete:
        record(table, change.before, true, fk_off);
        break;
      default:
        break;  // excluded by IsRowChange() in ApplyChanges
    }
  }
  // Every row that ends deleted goes first, so no upsert below meets a row the source removed.
  for (bool deleted : {true, false}) {
    for (const TableSchema* table : tables) {
      for (const FinalState& final_state : finals) {
        if (final_state.deleted == deleted && final_state.table->id == table->id) {
          TANDEM_RETURN_IF_ERROR(Add(deleted ? Batch::Kind::kDelete : Batch::Kind::kUpsert,
                                     *final_state.table, *final_state.image,
                                     final_state.foreign_key_checks_off));
        }
      }
    }
  }
  return Flush();
}

Status MySqlChangeApplier::Upsert(const TableSchema& table, std::span<const Row> rows) {
  if (!in_transaction_) {
    return engine::Internal("MySqlChangeApplier::Upsert without an open transaction");
  }
  Status status = [&]() -> Status {
    if (table.IdentifyingKey() == nullptr) {
      return engine::Unsupported("table " + table.id.ToString() +
                                 " has no primary key or unique NOT NULL key, so it cannot be "
                                 "copied idempotently (add a primary key on the source)");
    }
    for (const Row& row : rows) {
      if (row.size() != table.columns.size()) {
        return engine::Internal("a row of " + table.id.ToString() + " has " +
                                std::to_string(row.size()) + " values for " +
                                std::to_string(table.columns.size()) + " columns");
      }
      TANDEM_RETURN_IF_ERROR(Add(Batch::Kind::kUpsert, table, row, false));
    }
    return Flush();
  }();
  if (!status.ok()) {
    return AbortWith(std::move(status));
  }
  return Status::Ok();
}

Status MySqlChangeApplier::Add(Batch::Kind kind, const TableSchema& table, const Row& row,
                               bool foreign_key_checks_off) {
  const size_t bytes = EstimatedBytes(row);
  const bool fits = batch_.kind == kind && SameTable(batch_.table, &table) &&
                    batch_.foreign_key_checks_off == foreign_key_checks_off &&
                    batch_.rows.size() < kMaxRowsPerStatement &&
                    (batch_.rows.size() + 1) * table.columns.size() <= 65535 &&
                    batch_.bytes + bytes <= kMaxBytesPerStatement;
  if (!fits) {
    TANDEM_RETURN_IF_ERROR(Flush());
    batch_.kind = kind;
    batch_.table = &table;
    batch_.foreign_key_checks_off = foreign_key_checks_off;
  }
  batch_.rows.push_back(&row);
  batch_.bytes += bytes;
  return Status::Ok();
}

Status MySqlChangeApplier::Flush() {
  if (batch_.rows.empty()) {
    return Status::Ok();
  }
  Batch batch = std::move(batch_);
  batch_ = Batch();
  TANDEM_RETURN_IF_ERROR(SetForeignKeyChecks(batch.foreign_key_checks_off));
  return batch.kind == Batch::Kind::kUpsert ? FlushUpsert(batch) : FlushDelete(batch);
}

Status MySqlChangeApplier::SetForeignKeyChecks(bool off) {
  if (off == foreign_key_checks_off_) {
    return Status::Ok();
  }
  TANDEM_RETURN_IF_ERROR(connection_->Execute(
      off ? "SET SESSION foreign_key_checks = 0" : "SET SESSION foreign_key_checks = 1",
      "setting foreign_key_checks as the source had it"));
  foreign_key_checks_off_ = off;
  return Status::Ok();
}

Result<const MySqlChangeApplier::TargetTable*> MySqlChangeApplier::DescribeTarget(
    const TableSchema& table) {
  auto found = target_tables_.find(table.id);
  if (found != target_tables_.end()) {
    return &found->second;
  }
  const std::string action = "reading the target's definition of " + table.id.ToString();
  TANDEM_ASSIGN_OR_RETURN(MySqlStatement * columns,
                          Prepared("SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS"
                                   " WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                                   action));
  TANDEM_ASSIGN_OR_RETURN(std::vector<Row> rows, columns->QueryAll({Value::Text(table.id.schema),
                                                                    Value::Text(table.id.name)}));
  if (rows.empty()) {
    return engine::NotFound("table " + table.id.ToString() + " does not exist on the target " +
                            connection_->config().Redacted() +
                            " (create it, or let tandem sync create it from the source)");
  }
  TANDEM_ASSIGN_OR_RETURN(
      MySqlStatement * unique_keys,
      Prepared("SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS"
               " WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0",
               action));
  TANDEM_ASSIGN_OR_RETURN(
      std::vector<Row> counts,
      unique_keys->QueryAll({Value::Text(table.id.schema), Value::Text(table.id.name)}));
  TargetTable target;
  target.unique_keys = counts.empty() || counts[0].empty() ? 0 : counts[0][0].int_value();
  for (const Row& row : rows) {
    if (row.size() == 2 && !row[0].is_null() && !row[1].is_null()) {
      const std::string extra = LowerCase(row[1].text());
      if (extra.find("generated") != std::string::npos ||
          extra.find("persistent") != std::string::npos ||
          extra.find("virtual") != std::string::npos) {
        target.generated_columns.insert(row[0].text());
      }
    }
  }
  return &target_tables_.emplace(table.id, std::move(target)).first->second;
}

Result<MySqlStatement*> MySqlChangeApplier::Prepared(const std::string& sql,
                                                     const std::string& action) {
  auto found = statements_.find(sql);
  if (found != statements_.end()) {
    return found->second.get();
  }
  if (statements_.size() >= kMaxCachedStatements) {
    statements_.clear();
  }
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<MySqlStatement> statement,
                          MySqlStatement::Prepare(*connection_, sql, action));
  return statements_.emplace(sql, std::move(statement)).first->second.get();
}

Status MySqlChangeApplier::FlushUpsert(const Batch& batch) {
  const TableSchema& table = *batch.table;
  TANDEM_ASSIGN_OR_RETURN(const TargetTable* target, DescribeTarget(table));
  const engine::KeyDescriptor* key = table.IdentifyingKey();
  std::vector<size_t> written;  // indexes of the columns the statement writes
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (!target->generated_columns.contains(table.columns[i].name)) {
      written.push_back(i);
    }
  }
  std::string column_list;
  std::string placeholders = "(";
  for (size_t i = 0; i < written.size(); ++i) {
    column_list += (i == 0 ? "" : ", ") + QuoteIdentifier(table.columns[written[i]].name);
    placeholders += i == 0 ? "?" : ", ?";
  }
  placeholders += ")";
  // One unique key (the identifying one) on both sides: an in-place upsert is exact. More unique
  // keys on either side: REPLACE removes every conflicting row.
  const bool only_identifying_key = table.keys.size() <= 1 && target->unique_keys <= 1;
  std::string sql = (only_identifying_key ? "INSERT INTO " : "REPLACE INTO ") +
                    QuoteTable(table.id) + " (" + column_list + ") VALUES ";
  for (size_t r = 0; r < batch.rows.size(); ++r) {
    sql += (r == 0 ? "" : ", ") + placeholders;
  }
  if (only_identifying_key) {
    std::string updates;
    for (size_t i : written) {
      if (std::find(key->columns.begin(), key->columns.end(), static_cast<int>(i)) !=
          key->columns.end()) {
        continue;
      }
      const std::string name = QuoteIdentifier(table.columns[i].name);
      updates += (updates.empty() ? "" : ", ") + name + " = VALUES(" + name + ")";
    }
    if (updates.empty()) {  // every column is a key column: nothing to update on a conflict
      const std::string name = QuoteIdentifier(table.columns[written.front()].name);
      updates = name + " = " + name;
    }
    sql += " ON DUPLICATE KEY UPDATE " + updates;
  }
  std::vector<Value> params;
  params.reserve(batch.rows.size() * written.size());
  for (const Row* row : batch.rows) {
    for (size_t i : written) {
      params.push_back((*row)[i]);
    }
  }
  const std::string action =
      "writing " + std::to_string(batch.rows.size()) + " rows to " + table.id.ToString();
  TANDEM_ASSIGN_OR_RETURN(MySqlStatement * statement, Prepared(sql, action));
  return statement->Execute(params).WithContext(action);
}

Status MySqlChangeApplier::FlushDelete(const Batch& batch) {
  const TableSchema& table = *batch.table;
  const engine::KeyDescriptor* key = table.IdentifyingKey();
  std::string sql = "DELETE FROM " + QuoteTable(table.id) + " WHERE ";
  std::vector<Value> params;
  params.reserve(batch.rows.size() * key->columns.size());
  if (key->columns.size() == 1) {
    sql += QuoteIdentifier(table.columns[static_cast<size_t>(key->columns[0])].name) + " IN (";
    for (size_t r = 0; r < batch.rows.size(); ++r) {
      sql += r == 0 ? "?" : ", ?";
    }
    sql += ")";
  } else {
    std::string one = "(";
    for (size_t k = 0; k < key->columns.size(); ++k) {
      one += (k == 0 ? "" : " AND ") +
             QuoteIdentifier(table.columns[static_cast<size_t>(key->columns[k])].name) + " = ?";
    }
    one += ")";
    for (size_t r = 0; r < batch.rows.size(); ++r) {
      sql += (r == 0 ? "" : " OR ") + one;
    }
  }
  for (const Row* row : batch.rows) {
    for (Value& value : engine::KeyOf(table, *row)) {
      params.push_back(std::move(value));
    }
  }
  const std::string action =
      "deleting " + std::to_string(batch.rows.size()) + " rows from " + table.id.ToString();
  TANDEM_ASSIGN_OR_RETURN(MySqlStatement * statement, Prepared(sql, action));
  return statement->Execute(params).WithContext(action);
}

Status MySqlChangeApplier::ExecuteBound(const std::string& sql, const std::vector<Value>& params,
                                        const std::string& action) {
  TANDEM_ASSIGN_OR_RETURN(MySqlStatement * statement, Prepared(sql, action));
  TANDEM_RETURN_IF_ERROR(statement->Execute(params));
  Row discarded;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool more, statement->Fetch(&discarded));
    if (!more) {
      return Status::Ok();
    }
  }
}

Status MySqlChangeApplier::WriteCheckpoint(const Checkpoint& checkpoint) {
  const std::string sql = "INSERT INTO " + QuotedCheckpointTable() +
                          " (stream, position, transaction_sequence, events_applied, updated_at)"
                          " VALUES (?, ?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE"
                          " position = VALUES(position),"
                          " transaction_sequence = VALUES(transaction_sequence),"
                          " events_applied = VALUES(events_applied),"
                          " updated_at = VALUES(updated_at)";
  return ExecuteBound(
      sql,
      {Value::Text(checkpoint.stream), Value::Text(engine::Serialize(checkpoint.position)),
       Value::UInt(checkpoint.transaction_sequence), Value::Int(checkpoint.events_applied)},
      "writing the checkpoint of stream '" + checkpoint.stream + "'");
}

Status MySqlChangeApplier::CommitWithoutCheckpoint() {
  if (!in_transaction_) {
    return engine::Internal("MySqlChangeApplier: commit without an open transaction");
  }
  if (mysql_commit(connection_->handle()) != 0) {
    return AbortWith(connection_->LastError("committing a target transaction"));
  }
  in_transaction_ = false;
  return Status::Ok();
}

Status MySqlChangeApplier::Commit(const Checkpoint& checkpoint) {
  if (!in_transaction_) {
    return engine::Internal("MySqlChangeApplier::Commit without an open transaction");
  }
  Status written = WriteCheckpoint(checkpoint);
  if (!written.ok()) {
    return AbortWith(std::move(written));
  }
  return CommitWithoutCheckpoint();
}

Status MySqlChangeApplier::ApplyDdl(const ChangeEvent& ddl, const Checkpoint& checkpoint) {
  if (in_transaction_) {
    return engine::Internal("MySqlChangeApplier::ApplyDdl with a transaction open");
  }
  if (ddl.kind != ChangeKind::kDdl) {
    return engine::Internal("MySqlChangeApplier::ApplyDdl given a " +
                            std::string(engine::ChangeKindName(ddl.kind)) + " event");
  }
  const std::string action = "applying DDL `" + ddl.statement.substr(0, 200) + "`" +
                             (ddl.statement_schema.empty() ? "" : " in " + ddl.statement_schema);
  if (!ddl.statement_schema.empty() &&
      mysql_select_db(connection_->handle(), ddl.statement_schema.c_str()) != 0) {
    return connection_->LastError(action + " (selecting the schema)");
  }
  TANDEM_RETURN_IF_ERROR(SetForeignKeyChecks(ddl.foreign_key_checks_off));
  // DDL commits on its own, so it cannot share the checkpoint's transaction: a marker committed
  // before it says "this DDL may have run"; a replay that finds the marker takes the errors of a
  // statement that already ran (the table exists, the column is gone, ...) as done.
  const std::string position = engine::Serialize(ddl.position);
  TANDEM_ASSIGN_OR_RETURN(
      MySqlStatement * marker_query,
      Prepared("SELECT 1 FROM " + QuotedDdlMarkerTable() + " WHERE digest = UNHEX(SHA2(?, 256))",
               "reading the DDL markers"));
  TANDEM_ASSIGN_OR_RETURN(std::vector<Row> markers,
                          marker_query->QueryAll({Value::Text(position)}));
  const bool may_have_run = !markers.empty();
  if (!may_have_run) {
    TANDEM_RETURN_IF_ERROR(ExecuteBound("INSERT INTO " + QuotedDdlMarkerTable() +
                                            " (digest, position) VALUES (UNHEX(SHA2(?, 256)), ?)",
                                        {Value::Text(position), Value::Text(position)},
                                        "marking the DDL as started"));
  }
  if (Status ran = connection_->Execute(ddl.statement, action); !ran.ok()) {
    if (!may_have_run || !IsAlreadyAppliedDdlError(mysql_errno(connection_->handle()))) {
      return ran;
    }
  }
  // Table shapes may have changed: read them again, and drop statements written for the old ones.
  target_tables_.clear();
  statements_.clear();
  TANDEM_RETURN_IF_ERROR(Begin());
  TANDEM_RETURN_IF_ERROR(
      ExecuteBound("DELETE FROM " + QuotedDdlMarkerTable() + " WHERE digest = UNHEX(SHA2(?, 256))",
                   {Value::Text(position)}, "clearing the DDL marker"));
  return Commit(checkpoint);
}

Result<std::optional<Checkpoint>> MySqlChangeApplier::ReadCheckpoint(const std::string& stream) {
  const std::string action = "reading the checkpoint of stream '" + stream + "'";
  TANDEM_ASSIGN_OR_RETURN(MySqlStatement * statement,
                          Prepared("SELECT position, transaction_sequence, events_applied FROM " +
                                       QuotedCheckpointTable() + " WHERE stream = ?",
                                   action));
  TANDEM_ASSIGN_OR_RETURN(std::vector<Row> rows, statement->QueryAll({Value::Text(stream)}));
  if (rows.empty()) {
    return std::optional<Checkpoint>();
  }
  const Row& row = rows[0];
  if (row.size() != 3 || row[0].kind() != ValueKind::kText || row[1].kind() != ValueKind::kUInt ||
      row[2].kind() != ValueKind::kInt) {
    return engine::Corruption("the checkpoint of stream '" + stream + "' in " +
                              QuotedCheckpointTable() + " on " + connection_->config().Redacted() +
                              " does not have the expected columns");
  }
  Result<engine::Position> position = engine::ParsePosition(row[0].text());
  if (!position.ok()) {
    return engine::Corruption("the checkpoint of stream '" + stream + "' on " +
                              connection_->config().Redacted() + " holds a position that does " +
                              "not parse: " + position.status().message());
  }
  Checkpoint checkpoint;
  checkpoint.stream = stream;
  checkpoint.position = std::move(*position);
  checkpoint.transaction_sequence = row[1].uint_value();
  checkpoint.events_applied = row[2].int_value();
  return std::optional<Checkpoint>(std::move(checkpoint));
}

}  // namespace tandem::connectors::mysql
