// File: connectors/postgres/postgres_change_applier.h
//
// PostgresChangeApplier: engine::ChangeApplier for a PostgreSQL target (the writer of `tandem sync`
// PostgreSQL -> PostgreSQL), over one PostgresConnection. Row changes become multi-row statements
// with every identifier quoted and every value bound ($1, $2, ...) in text format, encoded by
// postgres_value_encoder.h, so a Value decoded from the source lands identically.
//
// Session (fixed at Open, on top of what PostgresConnection sets: TimeZone=UTC, UTF8, ...):
//   session_replication_role  `replica` when the target role is a superuser, as PostgreSQL's own
//                             logical-replication apply worker runs: ordinary triggers and the
//                             foreign-key triggers of the target do not fire on replicated rows
//                             (the source already ran them; the rows they wrote arrive as changes
//                             of their own). Otherwise the default `origin` stays: the target's
//                             triggers fire and its foreign keys are checked on every statement,
//                             so spans touching tables with foreign keys are applied in source
//                             order (see Net effect), and the pipeline orders parent/child changes.
//   synchronous_commit        the server's default (a commit is as durable as the target is
//                             configured to make it; the checkpoint commits with the rows, so a
//                             lost commit is replayed from the previous checkpoint).
//   statement_timeout         read_timeout (PostgresConnection).
//
// The target table. Its columns are read once per table from pg_attribute (again after ApplyDdl)
// and the event's columns (TableSchema of the source) are matched to them BY NAME:
//   - a column the event has and the target lacks is kFailedPrecondition (add the column);
//   - a target column the event lacks that is NOT NULL without a default (not generated, not an
//     identity) is kFailedPrecondition (add the column on the source, or give it a default);
//   - generated columns of the target (attgenerated <> '') are never written;
//   - identity columns are written as the source had them (INSERT ... OVERRIDING SYSTEM VALUE);
//     GENERATED ALWAYS identity columns cannot be assigned by UPDATE, so they are left out of the
//     SET lists of upserts and partial updates (their value is the key's in practice).
// The target must have a primary key or unique index (valid, not partial, no expressions) on
// exactly the columns of the event's identifying key; else kFailedPrecondition.
//
// How changes become statements (all rows bound; statements of up to kMaxRowsPerStatement rows,
// kMaxBytesPerStatement bytes of values and kMaxParameters bound parameters):
//
//   change                                  statement(s)
//   insert; update with every column logged [pre-delete], upsert of the after image
//   update whose identifying key changed    DELETE of the before key, then as above
//   update with unchanged_columns           partial UPDATE of the logged columns only
//   delete                                  DELETE ... WHERE key IN (...) (absent rows are fine)
//
//   upsert      INSERT INTO t (c...) OVERRIDING SYSTEM VALUE VALUES ($1, ...), (...)
//               ON CONFLICT (key columns) DO UPDATE SET c = EXCLUDED.c, ... (every non-key column)
//               Unknown-typed parameters in VALUES take the target columns' types.
//   pre-delete  only when the target has unique keys besides the identifying one: for each such
//               key U whose columns are all written,
//                 DELETE FROM t AS x USING (VALUES ($1::type, ...), ...) AS v(...)
//                 WHERE x.U = v.U AND x.key <> v.key
//               removing rows that hold the after image's U value under another identifying key:
//               in replay after a crash they are "future" rows that a later replayed change
//               rewrites (engine/change_pipeline.h, Checkpoints and recovery); in normal operation
//               there are none (the source held the same rows).
//   partial     unchanged_columns (TOAST values the source did not log because the update left
//   UPDATE      them alone) are NULL placeholders in `after` and are never written:
//                 UPDATE t AS x SET c = v.c, ... FROM (VALUES ($1::type, ...), ...) AS v(...)
//                 WHERE x.key = v.before_key
//               SET holds the logged columns (and the key columns when the key changed: the row
//               moves, keeping its unlogged values). An absent row changes nothing: in replay a
//               later change of that row rewrites it.
//   Casts in VALUES lists use the target column's base type (domains resolved) WITHOUT its
//   modifier (format_type(type, NULL); bpchar and "bit" by their internal names, since SQL reads a
//   bare `character` or `bit` as length 1): an explicit cast to varchar(3), char(n) or
//   numeric(p,s) would silently truncate or round, whereas the assignment to the column checks
//   (and rounds exactly as an INSERT does); domain constraints are checked by the assignment.
//
// Net effect. A span is applied as its net effect when the session runs as replica or no table of
// the span has foreign keys, and no partial update of the span is on a table with further unique
// keys on the target: the last state of every touched row (keyed by table and identifying key) is
// computed, and the span becomes multi-row DELETEs of the rows that end deleted or moved away
// (every table first; not the rows a partial UPDATE still moves), then per table partial UPDATEs
// (in the order of each row's last change) and multi-row upserts. Partial images are merged per
// row: a later image's unchanged column takes the earlier image's logged value when the span has
// one (insert then update-with-unchanged = an insert of the merged full row); otherwise the final
// write is the partial UPDATE of the row found by its key at the start of the span. The result is
// the span's: untouched rows stay, touched rows end as their last change left them, and the final
// images are a state the source held, so they cannot meet a unique conflict the source would not
// have (the pre-delete removes any future row). Partial UPDATEs run before upserts because a row
// a partial UPDATE moves away may have its key reused by a later insert of the span.
// Otherwise (foreign keys checked by the target, or partial updates that could transiently clash on
// a unique key) each change becomes a statement row in source order; consecutive changes of one
// table, kind and shape share a statement unless they touch the same row (a row is never written
// twice by one statement), and partial updates of tables with further unique keys go one row per
// statement.
//
// Checkpoints: the row of _tandem.checkpoint (postgres_checkpoint_table.h), created at Open when
// missing, is written in the transaction it covers and committed with it.
//
// DDL: ApplyDdl runs ddl.statement (the PostgreSQL stream sends only TRUNCATE, already quoted),
// with search_path set to statement_schema when one is given, and the checkpoint in ONE
// transaction: PostgreSQL DDL is transactional, so a crash leaves both or neither and a replay
// never meets a half-applied DDL. Table descriptions are read again afterwards.
//
// Errors: mapped by postgres_errors.h to the most specific code; a lost connection is
// kConnectionFailed (retryable: open a new applier and resume from ReadCheckpoint). Whenever Apply,
// Commit or ApplyDdl fails, the open transaction is rolled back before returning, so nothing of it
// lands.
//
// Thread safety: owned by one thread at a time (one applier per pipeline worker). Several appliers
// of one target commit concurrently; each writes only its own checkpoint row.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "connectors/postgres/postgres_connection.h"
#include "engine/change_stream.h"
#include "engine/connection_config.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::connectors::postgres {

class PostgresChangeApplier final : public engine::ChangeApplier {
 public:
  // Statement limits: large enough to amortise round trips, within PostgreSQL's 65,535 bound
  // parameters per statement, and small enough to keep one statement's memory modest.
  static constexpr size_t kMaxRowsPerStatement = 1000;
  static constexpr size_t kMaxBytesPerStatement = 8u << 20;
  static constexpr size_t kMaxParameters = 65535;

  // Connects, sets the session up (see the file comment) and creates _tandem.checkpoint if
  // missing. Errors: those of PostgresConnection::Connect and EnsureCheckpointTable.
  static engine::Result<std::unique_ptr<PostgresChangeApplier>> Open(
      const engine::ConnectionConfig& target);

  ~PostgresChangeApplier() override;

  // engine::ChangeApplier. Apply errors: kUnsupported for a table without an identifying key (its
  // changes cannot be applied idempotently); kNotFound when the target table does not exist;
  // kFailedPrecondition for a column mismatch or a target without a unique index on the key (named,
  // with the fix); kInternal for a non-row event, a row whose width differs from its table's
  // columns, or Apply/Commit without Begin; the server's errors otherwise.
  engine::Status Begin() override;
  engine::Status Apply(std::span<const engine::ChangeEvent> changes) override;
  engine::Status Commit(const engine::Checkpoint& checkpoint) override;
  engine::Status Rollback() override;
  engine::Status ApplyDdl(const engine::ChangeEvent& ddl,
                          const engine::Checkpoint& checkpoint) override;
  engine::Result<std::optional<engine::Checkpoint>> ReadCheckpoint(
      const std::string& stream) override;

  // Whether the session runs with session_replication_role = replica (the role is a superuser).
  bool replica_session() const { return replica_session_; }
  bool in_transaction() const { return in_transaction_; }

 private:
  struct TargetColumn {
    std::string name;
    std::string type;  // format_type(atttypid, NULL): the type without its modifier
    bool not_null = false;
    bool has_default = false;
    bool generated = false;
    bool identity = false;
    bool identity_always = false;
  };
  // The target's definition of a table, read once (see the file comment).
  struct TargetTable {
    std::vector<TargetColumn> columns;
    std::vector<std::vector<std::string>> unique_keys;  // column names, per unique index
  };
  // How the event columns of one source TableSchema map to its target table.
  struct Plan {
    const engine::TableSchema* table = nullptr;  // the event schema this plan was built for
    std::vector<std::string> event_columns;      // its column names (the plan's identity)
    std::vector<int> written;                    // event column indexes written, in order
    std::vector<bool> assignable;                // per event column: may appear in a SET list
    std::vector<std::string> types;              // per event column: target type ("" = not written)
    std::vector<int> key;                        // the identifying key's event column indexes
    std::vector<bool> is_key;                    // per event column
    std::vector<std::vector<int>> further_unique_keys;  // event column indexes
    // SQL text by statement shape ("u3", "d10", "p<mask>:4", "x<key>:10"); cleared past a bound.
    std::map<std::string, std::string> statements;
  };
  // One row's write: a statement row of a batch.
  enum class OpKind { kDelete, kUpsert, kPartial };
  struct Op {
    OpKind kind = OpKind::kUpsert;
    Plan* plan = nullptr;
    engine::Row key;                     // delete: the key; partial: the key the row has now
    const engine::Row* image = nullptr;  // upsert, partial: the full-width after image
    std::vector<bool> set;               // partial: per event column, written by the SET list
  };
  // The statement being assembled: ops of one plan, kind and (partial) SET shape.
  struct Batch {
    std::vector<Op> ops;
    std::unordered_set<std::string> row_keys;  // encoded keys of the rows the ops touch
    size_t bytes = 0;                          // estimated bytes of bound values
    size_t parameters = 0;                     // bound parameters of the main statement
    bool alone = false;                        // this op must be a statement of its own
  };

  explicit PostgresChangeApplier(std::unique_ptr<PostgresConnection> connection);

  engine::Status SetUpSession();
  engine::Status ApplyChanges(std::span<const engine::ChangeEvent> changes);
  engine::Status ApplyInOrder(std::span<const engine::ChangeEvent> changes);
  engine::Status ApplyNetEffect(std::span<const engine::ChangeEvent> changes);
  // Adds `op` (touching the rows of `row_keys`, encoded keys) to the batch, flushing first when it
  // does not fit, touches a row already in it, or either must be alone in its statement.
  engine::Status Add(Op op, std::vector<std::string> row_keys, bool alone);
  engine::Status Flush();
  engine::Status FlushDelete(Plan& plan, const std::vector<Op>& ops);
  engine::Status FlushUpsert(Plan& plan, const std::vector<Op>& ops);
  engine::Status FlushPartial(Plan& plan, const std::vector<Op>& ops);
  engine::Status Execute(const std::string& action, const std::string& sql,
                         const std::vector<Param>& params);
  engine::Result<const TargetTable*> DescribeTarget(const engine::TableId& table);
  engine::Result<Plan*> PlanFor(const engine::TableSchema& table);
  // Rolls back after `error` and returns it (the rollback's own failure is secondary).
  engine::Status AbortWith(engine::Status error);

  // Constant after construction.
  const std::unique_ptr<PostgresConnection> connection_;

  // Owned by the thread that uses the applier.
  bool replica_session_ = false;
  bool in_transaction_ = false;
  Batch batch_;
  std::map<engine::TableId, TargetTable> target_tables_;
  std::map<engine::TableId, std::unique_ptr<Plan>> plans_;
  // Rows built by merging partial images in net-effect mode; cleared after each Apply.
  std::vector<std::unique_ptr<engine::Row>> merged_rows_;
};

// When the connection's role is a superuser, sets session_replication_role = replica (user
// triggers and foreign-key triggers do not fire, as in PostgreSQL's own apply worker) and returns
// true; otherwise changes nothing and returns false. The initial copy's target sessions use it too.
engine::Result<bool> UseReplicaSessionRole(PostgresConnection& connection);

// The factory tools/ uses for postgres:// targets. Errors: as PostgresChangeApplier::Open.
engine::Result<std::unique_ptr<engine::ChangeApplier>> OpenPostgresChangeApplier(
    const engine::ConnectionConfig& target);

}  // namespace tandem::connectors::postgres
