#include "connectors/postgres/postgres_change_stream.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <type_traits>
#include <utility>
#include <variant>

#include "connectors/postgres/pgoutput/pgoutput_message.h"
#include "connectors/postgres/postgres_catalog.h"
#include "connectors/postgres/postgres_connection.h"
#include "connectors/postgres/postgres_range_query.h"
#include "connectors/postgres/postgres_replication_connection.h"
#include "connectors/postgres/postgres_value_decoder.h"

namespace tandem::connectors::postgres {
namespace {

using engine::ChangeEvent;
using engine::ChangeKind;
using engine::ConnectionConfig;
using engine::Lsn;
using engine::Position;
using engine::Result;
using engine::Row;
using engine::Status;
using engine::TableId;
using engine::TableSchema;
using engine::Value;
using Clock = std::chrono::steady_clock;

namespace pg = pgoutput;

// How long the stream may receive nothing before it asks the server for a keepalive (which tells
// it the server's end of WAL, for heartbeats and HasReadThrough).
constexpr std::chrono::milliseconds kIdleProbe{200};

// "schema.name" for messages; a relation in pg_catalog is sent with an empty namespace.
TableId RelationTable(const pg::RelationMessage& relation) {
  return TableId{relation.schema.empty() ? "pg_catalog" : relation.schema, relation.name};
}

std::string ColumnList(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    text += (text.empty() ? "" : ", ") + name;
  }
  return text;
}

// The names of `a` not in `b`, in `a`'s order.
std::vector<std::string> Missing(const std::vector<std::string>& a,
                                 const std::vector<std::string>& b) {
  std::set<std::string> in_b(b.begin(), b.end());
  std::vector<std::string> missing;
  for (const std::string& name : a) {
    if (!in_b.contains(name)) {
      missing.push_back(name);
    }
  }
  return missing;
}

std::vector<std::string> ColumnNames(const pg::RelationMessage& relation) {
  std::vector<std::string> names;
  for (const pg::RelationColumn& column : relation.columns) {
    names.push_back(column.name);
  }
  return names;
}

// One cached relation version.
struct RelationState {
  pg::RelationMessage message;
  std::shared_ptr<const TableSchema> schema;
  std::vector<int> key_columns;  // the identifying key's column indexes
};

class PostgresChangeStream final : public engine::ChangeStream {
 public:
  PostgresChangeStream(std::unique_ptr<PostgresReplicationConnection> replication,
                       std::unique_ptr<PostgresConnection> catalog, Lsn start,
                       PostgresChangeStreamOptions options)
      : replication_(std::move(replication)),
        catalog_(std::move(catalog)),
        options_(std::move(options)),
        acknowledged_(start.value),
        received_(start.value),
        safe_position_(start),
        queued_safe_position_(start),
        read_through_(start),
        position_(start) {
    const auto now = Clock::now();
    last_status_ = now;
    last_received_ = now;
  }

  // Tells the server the last durable position before the connection closes, so the slot
  // releases WAL up to the target's final checkpoint now rather than at the next run. Best effort:
  // the next run starts from the target's checkpoint either way.
  ~PostgresChangeStream() override {
    if (replication_ != nullptr && replication_->streaming() &&
        acknowledged_.load(std::memory_order_relaxed) > sent_flushed_) {
      (void)SendStatus(/*reply_requested=*/false);
    }
  }

  Result<std::optional<ChangeEvent>> Next(std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (!pending_.empty()) {
        return std::optional<ChangeEvent>(Pop());
      }
      auto now = Clock::now();
      TANDEM_RETURN_IF_ERROR(SendStatusIfDue(now));
      // Wake for whichever comes first: the caller's deadline, the next status update, the idle
      // probe.
      auto wake = std::min(deadline, last_status_ + options_.status_interval);
      if (probe_due_) {
        wake = std::min(wake, last_received_ + kIdleProbe);
      }
      const auto wait = std::max(std::chrono::milliseconds(0),
                                 std::chrono::duration_cast<std::chrono::milliseconds>(wake - now));
      TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> bytes, replication_->ReadCopyData(wait));
      if (bytes.has_value()) {
        last_received_ = Clock::now();
        TANDEM_RETURN_IF_ERROR(HandleFrame(*bytes));
        continue;
      }
      // An idle stream asks for a keepalive every status_interval and a live server answers at
      // once: silence beyond the read timeout means the server or the network is gone (a
      // half-open connection would otherwise look idle forever, as wal_receiver_timeout guards).
      const auto silence = Clock::now() - last_received_;
      if (silence > std::max<Clock::duration>(replication_->config().read_timeout,
                                              3 * options_.status_interval)) {
        return engine::ConnectionFailed(
            "no message from " + replication_->config().Redacted() + " on slot " + options_.slot +
            " for " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(silence).count()) +
            " s although keepalives were requested: the server or the network is gone");
      }
      if (Clock::now() >= deadline) {
        // Send what is due before returning idle, so a caller polling with short timeouts still
        // probes and reports.
        TANDEM_RETURN_IF_ERROR(SendStatusIfDue(Clock::now()));
        if (pending_.empty()) {
          return std::optional<ChangeEvent>();
        }
      }
    }
  }

  Position position() const override { return position_; }

  void Acknowledge(const Position& durable) override {
    const auto* lsn = std::get_if<Lsn>(&durable);
    if (lsn == nullptr) {
      return;  // not one of this stream's positions: nothing a PostgreSQL slot can take
    }
    uint64_t current = acknowledged_.load(std::memory_order_relaxed);
    while (lsn->value > current &&
           !acknowledged_.compare_exchange_weak(current, lsn->value, std::memory_order_relaxed)) {
    }
  }

  Result<bool> HasReadThrough(const Position& end) const override {
    const auto* lsn = std::get_if<Lsn>(&end);
    if (lsn == nullptr) {
      return engine::InvalidArgument("cannot compare " + Serialize(end) +
                                     " with a PostgreSQL stream's LSNs");
    }
    return read_through_ >= *lsn;
  }

 private:
  // ---- Output queue ----------------------------------------------------------------------------

  ChangeEvent Pop() {
    ChangeEvent event = std::move(pending_.front());
    pending_.pop_front();
    position_ = event.position;
    if (event.kind == ChangeKind::kCommit || event.kind == ChangeKind::kDdl ||
        event.kind == ChangeKind::kHeartbeat) {
      read_through_ = std::max(read_through_, std::get<Lsn>(event.position));
    }
    return event;
  }

  // Queues a resume-point event (kCommit, kDdl, kHeartbeat) at `at`.
  void QueueSafe(ChangeEvent event, Lsn at) {
    event.position = at;
    safe_position_ = at;
    queued_safe_position_ = std::max(queued_safe_position_, at);
    pending_.push_back(std::move(event));
  }

  void QueueHeartbeat(Lsn at) {
    ChangeEvent event;
    event.kind = ChangeKind::kHeartbeat;
    event.transaction_sequence = sequence_;
    QueueSafe(std::move(event), at);
  }

  // kBegin before the first row of a (part of a) transaction.
  void EnsureBegin(Lsn at) {
    if (begin_emitted_) {
      return;
    }
    begin_emitted_ = true;
    ChangeEvent event;
    event.kind = ChangeKind::kBegin;
    event.position = at;
    event.source_commit_time_us = commit_time_us_;
    event.transaction_sequence = ++sequence_;
    pending_.push_back(std::move(event));
  }

  // ---- Status updates --------------------------------------------------------------------------

  Status SendStatusIfDue(Clock::time_point now) {
    const bool interval_due = now - last_status_ >= options_.status_interval;
    const bool probe = probe_due_ && now - last_received_ >= kIdleProbe;
    if (!interval_due && !probe) {
      return Status::Ok();
    }
    // Ask for a keepalive whenever the stream is idle: its end of WAL is what heartbeats and
    // HasReadThrough need.
    const bool idle = now - last_received_ >= kIdleProbe;
    if (probe) {
      probe_due_ = false;
    }
    return SendStatus(idle);
  }

  Status SendStatus(bool reply_requested) {
    // flushed = applied = what the target has durably committed; never a position merely
    // received, or a crash of the target would leave a gap the slot no longer holds.
    const uint64_t durable = acknowledged_.load(std::memory_order_relaxed);
    const uint64_t written = std::max(received_, durable);
    last_status_ = Clock::now();
    sent_flushed_ = durable;
    return replication_->SendCopyData(pg::EncodeStandbyStatusUpdate(
        written, durable, durable, pg::PostgresEpochMicrosNow(), reply_requested));
  }

  // ---- Frames and messages ---------------------------------------------------------------------

  Status HandleFrame(const std::string& bytes) {
    Result<pg::ReplicationFrame> frame = pg::DecodeReplicationFrame(bytes);
    if (!frame.ok()) {
      return frame.status().WithContext("replication stream of slot " + options_.slot +
                                        " after LSN " + engine::FormatLsn(Lsn{received_}));
    }
    if (const auto* keepalive = std::get_if<pg::PrimaryKeepalive>(&*frame)) {
      return HandleKeepalive(*keepalive);
    }
    const auto& data = std::get<pg::XLogData>(*frame);
    received_ = std::max(received_, data.start_lsn);
    // Data came: once it stops, probe quickly for the end of WAL.
    probe_due_ = true;
    Result<pg::PgOutputMessage> message =
        pg::DecodePgOutputMessage(data.payload, /*in_streamed_block=*/false);
    if (!message.ok()) {
      return message.status().WithContext("pgoutput message at LSN " +
                                          engine::FormatLsn(Lsn{data.start_lsn}) + " of slot " +
                                          options_.slot);
    }
    return std::visit(
        [&](const auto& decoded) -> Status { return Handle(decoded, Lsn{data.start_lsn}); },
        *message);
  }

  Status HandleKeepalive(const pg::PrimaryKeepalive& keepalive) {
    received_ = std::max(received_, keepalive.wal_end);
    // A keepalive between transactions: every transaction committed before wal_end has been
    // sent, and a restart from wal_end resends every later one (decoding filters by commit LSN).
    // One at the last resume point too: when that was a transaction with nothing to apply, no
    // checkpoint row holds it yet, and the pipeline records it on this heartbeat (it ignores a
    // heartbeat at a position already recorded).
    if (!in_transaction_ && Lsn{keepalive.wal_end} >= queued_safe_position_) {
      QueueHeartbeat(Lsn{keepalive.wal_end});
    }
    if (keepalive.reply_requested) {
      return SendStatus(/*reply_requested=*/false);
    }
    return Status::Ok();
  }

  Status Handle(const pg::BeginMessage& begin, Lsn) {
    if (in_transaction_) {
      return Unexpected("Begin", "inside a transaction");
    }
    in_transaction_ = true;
    begin_emitted_ = false;
    commit_time_us_ = begin.commit_time + pg::kPostgresEpochOffsetMicros;
    return Status::Ok();
  }

  Status Handle(const pg::CommitMessage& commit, Lsn) {
    if (!in_transaction_) {
      return Unexpected("Commit", "outside a transaction");
    }
    in_transaction_ = false;
    received_ = std::max(received_, commit.end_lsn);
    const Lsn end{commit.end_lsn};
    if (begin_emitted_) {
      begin_emitted_ = false;
      ChangeEvent event;
      event.kind = ChangeKind::kCommit;
      event.source_commit_time_us = commit.commit_time + pg::kPostgresEpochOffsetMicros;
      event.transaction_sequence = sequence_;
      QueueSafe(std::move(event), end);
    } else if (end > queued_safe_position_) {
      // Nothing of it left to apply (empty, or only a TRUNCATE already emitted): record progress.
      QueueHeartbeat(end);
    }
    return Status::Ok();
  }

  Status Handle(const pg::OriginMessage&, Lsn) { return Status::Ok(); }
  Status Handle(const pg::TypeMessage&, Lsn) { return Status::Ok(); }
  Status Handle(const pg::LogicalMessage&, Lsn) { return Status::Ok(); }

  Status Handle(const pg::RelationMessage& relation, Lsn) {
    const TableId table = RelationTable(relation);
    auto cached = relations_.find(relation.relation_oid);
    const bool seen = cached != relations_.end();
    // The server resends a relation after any invalidation of it (a new index, a reconnect): with
    // the same columns its shape stands, and only its keys are read again below.
    if (!seen || cached->second.message.columns != relation.columns) {
      if (options_.target.has_value()) {
        // The target's shape decides: a change the target already has goes on.
        TANDEM_RETURN_IF_ERROR(CheckTargetColumns(table, relation));
      } else if (seen) {
        const std::vector<std::string> before = ColumnNames(cached->second.message);
        const std::vector<std::string> after = ColumnNames(relation);
        return SchemaChanged(table, Missing(after, before), Missing(before, after),
                             "the source's previous definition");
      }
    }
    TANDEM_ASSIGN_OR_RETURN(RelationState state, BuildRelation(relation));
    relations_[relation.relation_oid] = std::move(state);
    return Status::Ok();
  }

  Status Handle(const pg::InsertMessage& insert, Lsn at) {
    TANDEM_ASSIGN_OR_RETURN(const RelationState* relation,
                            FindRelation(insert.relation_oid, "Insert"));
    ChangeEvent event;
    event.kind = ChangeKind::kInsert;
    TANDEM_RETURN_IF_ERROR(DecodeTuple(*relation, insert.new_tuple, "Insert", at, event.after,
                                       &event.unchanged_columns));
    if (!event.unchanged_columns.empty()) {
      return engine::Corruption("pgoutput Insert at LSN " + engine::FormatLsn(at) + " for " +
                                relation->schema->id.ToString() +
                                " holds an unchanged TOAST value, which only updates may send");
    }
    return QueueRow(*relation, std::move(event), at);
  }

  Status Handle(const pg::UpdateMessage& update, Lsn at) {
    TANDEM_ASSIGN_OR_RETURN(const RelationState* relation,
                            FindRelation(update.relation_oid, "Update"));
    ChangeEvent event;
    event.kind = ChangeKind::kUpdate;
    TANDEM_RETURN_IF_ERROR(DecodeTuple(*relation, update.new_tuple, "Update", at, event.after,
                                       &event.unchanged_columns));
    TANDEM_RETURN_IF_ERROR(CheckKeySent(*relation, event.unchanged_columns, "Update", at));
    switch (update.old_kind) {
      case pg::OldTupleKind::kNone:
        // The key did not change, so the after image's key is the old key.
        event.before = KeyOnly(*relation, event.after);
        event.before_key_only = true;
        break;
      case pg::OldTupleKind::kKey:
      case pg::OldTupleKind::kFull:
        TANDEM_RETURN_IF_ERROR(
            DecodeOld(*relation, update.old_kind, update.old_tuple, "Update", at, event));
        break;
    }
    return QueueRow(*relation, std::move(event), at);
  }

  Status Handle(const pg::DeleteMessage& remove, Lsn at) {
    TANDEM_ASSIGN_OR_RETURN(const RelationState* relation,
                            FindRelation(remove.relation_oid, "Delete"));
    ChangeEvent event;
    event.kind = ChangeKind::kDelete;
    if (remove.old_kind == pg::OldTupleKind::kNone) {
      return engine::Corruption("pgoutput Delete at LSN " + engine::FormatLsn(at) + " for " +
                                relation->schema->id.ToString() + " carries no old key");
    }
    TANDEM_RETURN_IF_ERROR(
        DecodeOld(*relation, remove.old_kind, remove.old_tuple, "Delete", at, event));
    return QueueRow(*relation, std::move(event), at);
  }

  Status Handle(const pg::TruncateMessage& truncate, Lsn at) {
    if (!in_transaction_) {
      return Unexpected("Truncate", "outside a transaction");
    }
    std::string statement = "TRUNCATE ONLY ";
    std::shared_ptr<const TableSchema> table;
    for (size_t i = 0; i < truncate.relation_oids.size(); ++i) {
      TANDEM_ASSIGN_OR_RETURN(const RelationState* relation,
                              FindRelation(truncate.relation_oids[i], "Truncate"));
      statement += (i > 0 ? ", " : "") + QuoteTable(relation->schema->id);
      table = relation->schema;
    }
    if (truncate.relation_oids.empty()) {
      return engine::Corruption("pgoutput Truncate at LSN " + engine::FormatLsn(at) +
                                " names no table");
    }
    if (truncate.restart_identity) {
      statement += " RESTART IDENTITY";
    }
    // Never CASCADE on the target, whatever the source did (as PostgreSQL's own apply worker):
    // pgoutput already lists every published table the cascade reached, and a cascade on the
    // target would empty tables outside the stream. A target table left referencing a truncated
    // one makes the TRUNCATE fail loudly instead.
    // The pipeline applies DDL between transactions only: close the part of this transaction
    // emitted so far at the last safe position (see the header: a resume replays all of it).
    const Lsn safe = safe_position_;
    if (begin_emitted_) {
      begin_emitted_ = false;
      ChangeEvent commit;
      commit.kind = ChangeKind::kCommit;
      commit.source_commit_time_us = commit_time_us_;
      commit.transaction_sequence = sequence_;
      QueueSafe(std::move(commit), safe);
    }
    ChangeEvent ddl;
    ddl.kind = ChangeKind::kDdl;
    ddl.statement = std::move(statement);
    ddl.statement_schema = table->id.schema;
    if (truncate.relation_oids.size() == 1) {
      ddl.table = table;
    }
    ddl.source_commit_time_us = commit_time_us_;
    ddl.transaction_sequence = ++sequence_;
    QueueSafe(std::move(ddl), safe);
    return Status::Ok();
  }

  Status Handle(const pg::StreamStartMessage&, Lsn at) { return NotRequested("Stream Start", at); }
  Status Handle(const pg::StreamStopMessage&, Lsn at) { return NotRequested("Stream Stop", at); }
  Status Handle(const pg::StreamCommitMessage&, Lsn at) {
    return NotRequested("Stream Commit", at);
  }
  Status Handle(const pg::StreamAbortMessage&, Lsn at) { return NotRequested("Stream Abort", at); }

  Status NotRequested(std::string_view name, Lsn at) {
    return engine::Corruption("pgoutput " + std::string(name) + " at LSN " + engine::FormatLsn(at) +
                              " of slot " + options_.slot +
                              ": streaming of in-progress transactions was not requested "
                              "(protocol version 1)");
  }

  Status Unexpected(std::string_view name, std::string_view where) {
    return engine::Corruption("pgoutput " + std::string(name) + " " + std::string(where) +
                              " on slot " + options_.slot + " after LSN " +
                              engine::FormatLsn(Lsn{received_}));
  }

  // ---- Rows ------------------------------------------------------------------------------------

  Status QueueRow(const RelationState& relation, ChangeEvent event, Lsn at) {
    if (!in_transaction_) {
      return Unexpected("row change", "outside a transaction");
    }
    EnsureBegin(at);
    event.table = relation.schema;
    event.position = at;
    event.source_commit_time_us = commit_time_us_;
    event.transaction_sequence = sequence_;
    pending_.push_back(std::move(event));
    return Status::Ok();
  }

  Result<const RelationState*> FindRelation(uint32_t oid, std::string_view message) {
    auto found = relations_.find(oid);
    if (found == relations_.end()) {
      return engine::Corruption("pgoutput " + std::string(message) + " on slot " + options_.slot +
                                " names relation OID " + std::to_string(oid) +
                                " that no Relation message described");
    }
    return &found->second;
  }

  // Decodes `tuple` into `row` (one value per column). 'u' values become NULL placeholders listed
  // in `unchanged`.
  Status DecodeTuple(const RelationState& relation, const pg::TupleData& tuple,
                     std::string_view message, Lsn at, Row& row, std::vector<int>* unchanged) {
    const TableSchema& schema = *relation.schema;
    const auto where = [&] {
      return "pgoutput " + std::string(message) + " at LSN " + engine::FormatLsn(at) + " for " +
             schema.id.ToString();
    };
    if (tuple.size() != relation.message.columns.size()) {
      return engine::Corruption(where() + " has " + std::to_string(tuple.size()) +
                                " columns; its Relation message has " +
                                std::to_string(relation.message.columns.size()));
    }
    row.clear();
    row.reserve(tuple.size());
    for (size_t i = 0; i < tuple.size(); ++i) {
      const pg::RelationColumn& column = relation.message.columns[i];
      switch (tuple[i].kind) {
        case pg::TupleColumn::Kind::kNull:
          row.push_back(Value::Null());
          break;
        case pg::TupleColumn::Kind::kUnchangedToast:
          row.push_back(Value::Null());
          unchanged->push_back(static_cast<int>(i));
          break;
        case pg::TupleColumn::Kind::kText: {
          Result<Value> value =
              DecodePostgresText(column.type_oid, column.type_modifier, tuple[i].value);
          if (!value.ok()) {
            return value.status().WithContext(where() + ", column " + column.name);
          }
          row.push_back(std::move(*value));
          break;
        }
        case pg::TupleColumn::Kind::kBinary:
          return engine::Corruption(where() + ", column " + column.name +
                                    ": a binary value, but tandem asks for text only");
      }
    }
    return Status::Ok();
  }

  // A key column whose value was not sent cannot identify the row.
  Status CheckKeySent(const RelationState& relation, const std::vector<int>& unchanged,
                      std::string_view message, Lsn at) {
    for (int index : unchanged) {
      if (std::find(relation.key_columns.begin(), relation.key_columns.end(), index) !=
          relation.key_columns.end()) {
        return engine::Unsupported(
            "pgoutput " + std::string(message) + " at LSN " + engine::FormatLsn(at) + " for " +
            relation.schema->id.ToString() + " did not send key column " +
            relation.schema->columns[index].name +
            " (an unchanged TOASTed key value): use a key without large values, or ALTER TABLE " +
            QuoteTable(relation.schema->id) + " REPLICA IDENTITY FULL");
      }
    }
    return Status::Ok();
  }

  Row KeyOnly(const RelationState& relation, const Row& full) {
    Row key(full.size());
    for (int index : relation.key_columns) {
      key[index] = full[index];
    }
    return key;
  }

  Status DecodeOld(const RelationState& relation, pg::OldTupleKind kind, const pg::TupleData& old,
                   std::string_view message, Lsn at, ChangeEvent& event) {
    std::vector<int> unsent;
    TANDEM_RETURN_IF_ERROR(DecodeTuple(relation, old, message, at, event.before, &unsent));
    TANDEM_RETURN_IF_ERROR(CheckKeySent(relation, unsent, message, at));
    if (kind == pg::OldTupleKind::kKey) {
      event.before = KeyOnly(relation, event.before);
      event.before_key_only = true;
    } else {
      // A full old row is complete unless the server left a value out; then only its key counts.
      event.before_key_only = !unsent.empty();
    }
    return Status::Ok();
  }

  // ---- Tables ----------------------------------------------------------------------------------

  Result<RelationState> BuildRelation(const pg::RelationMessage& relation) {
    const TableId id = RelationTable(relation);
    const std::string quoted = QuoteTable(id);
    auto schema = std::make_shared<TableSchema>();
    schema->id = id;
    for (const pg::RelationColumn& column : relation.columns) {
      engine::Column out;
      out.name = column.name;
      out.kind = PostgresValueKind(column.type_oid, column.type_modifier);
      schema->columns.push_back(std::move(out));
    }
    Result<TableSchema> catalog = DescribePostgresTable(*catalog_, id);
    if (catalog.ok()) {
      // The catalog is today's definition; the relation is the one the rows were logged with.
      // Match by name.
      std::vector<int> remap(catalog->columns.size(), -1);
      for (size_t i = 0; i < catalog->columns.size(); ++i) {
        const int index = schema->ColumnIndex(catalog->columns[i].name);
        remap[i] = index;
        if (index >= 0) {
          engine::Column& out = schema->columns[index];
          out.declared_type = catalog->columns[i].declared_type;
          out.nullable = catalog->columns[i].nullable;
          out.charset = catalog->columns[i].charset;
          out.collation = catalog->columns[i].collation;
        }
      }
      const auto remapped =
          [&](const std::vector<int>& columns) -> std::optional<std::vector<int>> {
        std::vector<int> out;
        for (int column : columns) {
          if (column < 0 || static_cast<size_t>(column) >= remap.size() || remap[column] < 0) {
            return std::nullopt;
          }
          out.push_back(remap[column]);
        }
        return out;
      };
      for (const engine::KeyDescriptor& key : catalog->keys) {
        if (std::optional<std::vector<int>> columns = remapped(key.columns)) {
          engine::KeyDescriptor out = key;
          out.columns = std::move(*columns);
          schema->keys.push_back(std::move(out));
        }
      }
      for (const engine::ForeignKey& foreign : catalog->foreign_keys) {
        if (std::optional<std::vector<int>> columns = remapped(foreign.columns)) {
          engine::ForeignKey out = foreign;
          out.columns = std::move(*columns);
          schema->foreign_keys.push_back(std::move(out));
        }
      }
      schema->estimated_rows = catalog->estimated_rows;
      schema->data_bytes = catalog->data_bytes;
    } else if (catalog.status().code() == engine::StatusCode::kNotFound &&
               relation.replica_identity != 'f') {
      // Dropped since these rows were logged: the replica identity the relation names is the key.
      engine::KeyDescriptor key;
      key.name = "replica identity";
      key.primary = true;
      for (size_t i = 0; i < relation.columns.size(); ++i) {
        if (relation.columns[i].part_of_key) {
          key.columns.push_back(static_cast<int>(i));
        }
      }
      if (!key.columns.empty()) {
        schema->keys.push_back(std::move(key));
      }
    } else {
      return catalog.status().WithContext("describing " + id.ToString() +
                                          " for the replication stream");
    }

    const engine::KeyDescriptor* key = schema->IdentifyingKey();
    if (key == nullptr) {
      return engine::Unsupported("table " + id.ToString() +
                                 " has no primary key or NOT NULL unique key, so its changes "
                                 "cannot be applied by key (add a primary key: ALTER TABLE " +
                                 quoted + " ADD PRIMARY KEY (...))");
    }
    if (relation.replica_identity == 'n') {
      return engine::Unsupported("table " + id.ToString() +
                                 " has REPLICA IDENTITY NOTHING, so its updates and deletes log "
                                 "no key (ALTER TABLE " +
                                 quoted + " REPLICA IDENTITY DEFAULT, or FULL)");
    }
    if (relation.replica_identity != 'f') {
      std::set<int> identity;
      for (size_t i = 0; i < relation.columns.size(); ++i) {
        if (relation.columns[i].part_of_key) {
          identity.insert(static_cast<int>(i));
        }
      }
      const std::set<int> key_set(key->columns.begin(), key->columns.end());
      if (identity != key_set) {
        return engine::Unsupported(
            "table " + id.ToString() + "'s replica identity (" +
            std::string(relation.replica_identity == 'i' ? "USING INDEX" : "DEFAULT") +
            ") does not log the columns of its identifying key " + key->name +
            ", so updates and deletes cannot be applied by key (ALTER TABLE " + quoted +
            " REPLICA IDENTITY FULL, or add a primary key)");
      }
    }
    RelationState state;
    state.message = relation;
    state.key_columns = key->columns;
    state.schema = std::move(schema);
    return state;
  }

  // Compares the relation's column names with the target table's.
  Status CheckTargetColumns(const TableId& table, const pg::RelationMessage& relation) {
    if (target_ == nullptr) {
      TANDEM_ASSIGN_OR_RETURN(target_, PostgresConnection::Connect(*options_.target));
    }
    TANDEM_ASSIGN_OR_RETURN(
        PgResult result,
        target_->Query("reading the columns of " + table.ToString() + " on the target",
                       "SELECT a.attname FROM pg_catalog.pg_attribute a "
                       "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
                       "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 "
                       "AND NOT a.attisdropped ORDER BY a.attnum",
                       {table.schema, table.name}));
    if (result.rows() == 0) {
      return engine::FailedPrecondition(
          "table " + table.ToString() + " streams from " + catalog_->config().Redacted() +
          " but does not exist on the target " + options_.target->Redacted() +
          " (create it on the target with the source's definition and run tandem sync again: it "
          "resumes from its checkpoint)");
    }
    std::vector<std::string> target_names;
    for (int row = 0; row < result.rows(); ++row) {
      target_names.push_back(result.String(row, 0));
    }
    const std::vector<std::string> source_names = ColumnNames(relation);
    std::vector<std::string> added = Missing(source_names, target_names);
    std::vector<std::string> dropped = Missing(target_names, source_names);
    if (added.empty() && dropped.empty()) {
      return Status::Ok();
    }
    return SchemaChanged(table, added, dropped, "the target table");
  }

  Status SchemaChanged(const TableId& table, const std::vector<std::string>& added,
                       const std::vector<std::string>& dropped, std::string_view compared_with) {
    std::string what;
    if (!added.empty()) {
      what += "column(s) " + ColumnList(added) + " added";
    }
    if (!dropped.empty()) {
      what += std::string(what.empty() ? "" : " and ") + "column(s) " + ColumnList(dropped) +
              " dropped";
    }
    if (what.empty()) {
      what = "column types changed";
    }
    return engine::FailedPrecondition(
        "table " + table.ToString() + " changed on the source: " + what + " compared with " +
        std::string(compared_with) + " (change the target table the same way (ALTER TABLE " +
        QuoteTable(table) + " ...) and run tandem sync again: it resumes from its checkpoint)");
  }

  // Constant after construction.
  const std::unique_ptr<PostgresReplicationConnection> replication_;  // reader thread only
  const std::unique_ptr<PostgresConnection> catalog_;                 // reader thread only
  const PostgresChangeStreamOptions options_;

  // Any thread: the last durable position the pipeline acknowledged.
  std::atomic<uint64_t> acknowledged_;
  uint64_t sent_flushed_ = 0;  // the flushed LSN of the last status update sent (reader thread)

  // Reader thread only.
  std::unique_ptr<PostgresConnection> target_;  // opened on first need
  std::map<uint32_t, RelationState> relations_;
  std::deque<ChangeEvent> pending_;
  uint64_t received_ = 0;        // the last LSN received (for "written")
  Lsn safe_position_;            // the last resume point queued (kCommit / kDdl / kHeartbeat)
  Lsn queued_safe_position_;     // the greatest of them
  Lsn read_through_;             // the greatest resume point returned
  Position position_;            // of the last event returned; the start before the first
  bool in_transaction_ = false;  // between a Begin and its Commit
  bool begin_emitted_ = false;   // kBegin queued for the current (part of the) transaction
  int64_t commit_time_us_ = 0;   // of the current transaction, Unix epoch
  uint64_t sequence_ = 0;
  bool probe_due_ = true;  // ask for a keepalive once the stream goes idle
  Clock::time_point last_status_;
  Clock::time_point last_received_;
};

}  // namespace

Result<std::unique_ptr<engine::ChangeStream>> OpenPostgresChangeStream(
    const ConnectionConfig& source, Lsn start, const PostgresChangeStreamOptions& options) {
  if (options.slot.empty() || options.publication.empty()) {
    return engine::InvalidArgument(
        "streaming from " + source.Redacted() +
        " needs both a replication slot and a publication (set options.slot and "
        "options.publication)");
  }
  if (options.status_interval <= std::chrono::milliseconds(0)) {
    return engine::InvalidArgument("the status interval of the stream from " + source.Redacted() +
                                   " must be positive");
  }
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> catalog,
                          PostgresConnection::Connect(source));
  // The slot may have confirmed more than the target's checkpoint says (the pipeline acknowledges
  // its watermark, which a checkpoint row may not hold yet when it stopped): status updates start
  // from the slot's confirmed position, never below it, so the slot's position never moves back.
  // Everything up to it was durable on the target when it was acknowledged.
  TANDEM_ASSIGN_OR_RETURN(
      PgResult slot,
      catalog->Query("reading the replication slot's confirmed position",
                     "SELECT confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots WHERE "
                     "slot_name = $1 AND confirmed_flush_lsn IS NOT NULL",
                     {options.slot}));
  Lsn acknowledged = start;
  if (slot.rows() == 1) {
    TANDEM_ASSIGN_OR_RETURN(Lsn confirmed, engine::ParseLsn(slot.View(0, 0)));
    acknowledged = std::max(acknowledged, confirmed);
  }
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresReplicationConnection> replication,
                          PostgresReplicationConnection::Connect(source));
  TANDEM_RETURN_IF_ERROR(replication->StartLogicalReplication(
      options.slot, start,
      {{"proto_version", "1"}, {"publication_names", QuoteIdentifier(options.publication)}}));
  auto stream = std::unique_ptr<PostgresChangeStream>(
      new PostgresChangeStream(std::move(replication), std::move(catalog), start, options));
  stream->Acknowledge(acknowledged);
  return std::unique_ptr<engine::ChangeStream>(std::move(stream));
}

}  // namespace tandem::connectors::postgres
