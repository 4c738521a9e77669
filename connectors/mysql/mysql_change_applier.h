// File: connectors/mysql/mysql_change_applier.h
//
// MySqlChangeApplier: engine::ChangeApplier for a MySQL/MariaDB target (the writer of `tandem
// sync`), over one MySqlConnection. Row changes are written through prepared multi-row statements
// on the binary protocol, every identifier quoted and every value bound, encoded by
// mysql_value_codec.h, so a Value read by ReadRange and written back lands identically.
//
// Session (fixed at Open, on top of what MySqlConnection::Open sets):
//   time_zone             '+00:00' (TIMESTAMP values are UTC microseconds)
//   character set         character_set_client/connection/results = utf8mb4; text is bound as
//                         UTF-8, binary values as BLOB (no conversion), so bytes land exactly
//   sql_mode              STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION (id 0 is
//                         kept, zero dates allowed, bad values refused rather than truncated)
//   unique_checks         1
//   foreign_key_checks    1, or 0 while applying an event whose foreign_key_checks_off is set
//   isolation             READ COMMITTED (fewer gap locks between parallel appliers) unless the
//                         target logs statements (binlog_format=STATEMENT), which needs the
//                         default REPEATABLE READ
//
// How changes become statements (consecutive changes of one table and one statement kind share a
// statement of up to kMaxRowsPerStatement rows / kMaxBytesPerStatement bytes of values):
//
//   change                           statement
//   insert, update (key unchanged)   upsert of the after image
//   update (identifying key changed) DELETE of the before key, then upsert of the after image
//   delete                           DELETE ... WHERE key IN (...) (an absent row is fine)
//
//   upsert: tables whose only unique key is the primary (or identifying) key, on the source's
//           description and on the target:
//             INSERT INTO t (...) VALUES (...),(...) ON DUPLICATE KEY UPDATE c = VALUES(c), ...
//           (an in-place update: no delete, so a referenced parent row neither cascades nor trips
//           ON DELETE RESTRICT); tables with further unique keys on either side:
//             REPLACE INTO t (...) VALUES (...),(...)
//           which removes every row that conflicts on the primary key or any unique key. REPLACE
//           deletes before it inserts, so on such a table that child tables reference, their
//           ON DELETE actions fire (CASCADE removes children, RESTRICT refuses) when
//           foreign_key_checks is on.
//
// Net effect. When no table of an Apply span has foreign keys, the span is applied as its net
// effect, all inside the same open transaction: the last state of every row it touches (keyed by
// table and identifying key), first the rows that end deleted, then the final images, table by
// table. A span of OLTP transactions that switch table and statement kind at every row thus
// becomes a few multi-row statements instead of one statement per row. The result is the
// span's: rows it does not touch are untouched; a touched row ends as its last change left it; the
// final images are a state the source held, so upserts cannot meet a unique-key conflict the
// source would not have resolved the same way (REPLACE removes the old holder, which is itself a
// touched row rewritten to its final image). With foreign keys in the span, parent and child rows
// must keep source order, so each change becomes a statement row in order, as in the table above.
//
// Generated columns of the target table (VIRTUAL / STORED / PERSISTENT) are never written: the
// server computes them. The target's columns are read once per table (and again after DDL).
//
// Checkpoints live in `_tandem`.`checkpoint` (created at Open when missing; InnoDB, so it commits
// atomically with the rows):
//
//   column                type                 meaning
//   stream                VARCHAR(191) PK      Checkpoint::stream
//   position              TEXT                 engine::Serialize(Checkpoint::position)
//   transaction_sequence  BIGINT UNSIGNED      Checkpoint::transaction_sequence
//   events_applied        BIGINT               Checkpoint::events_applied
//   updated_at            TIMESTAMP(6)         the target's clock at the commit (UTC)
//
// DDL: ApplyDdl runs the statement with the default schema set to the event's statement_schema,
// then commits the checkpoint in its own transaction. DDL is not transactional on MySQL/MariaDB, so
// a crash between the two replays the statement on restart. To make that replay harmless, a marker
// row for the DDL's position is committed in `_tandem`.`ddl_started` before the statement runs and
// deleted in the checkpoint's transaction: a replay that finds the marker treats the errors of a
// statement that already ran (database/table/column/index exists or is gone) as success. Without a
// marker every error is returned as is (the DDL never ran here: the error is real).
//
// Errors: mapped by mysql_error.h to the most specific code; a lost connection is
// kConnectionFailed (retryable: open a new applier and resume from ReadCheckpoint). Whenever Apply
// or Commit fails, the open transaction is rolled back before returning, so nothing of it lands.
//
// Thread safety: owned by one thread at a time (one applier per applier worker).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_statement.h"
#include "engine/change_stream.h"
#include "engine/connection_config.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::connectors::mysql {

// The schema and table of the checkpoint.
inline constexpr char kTandemSchema[] = "_tandem";
inline constexpr char kCheckpointTable[] = "checkpoint";
// DDL markers (see ApplyDdl): digest BINARY(32) PK (SHA-256 of the position), position TEXT,
// started_at; a row lives from just before a DDL statement runs until its checkpoint commits.
inline constexpr char kDdlMarkerTable[] = "ddl_started";

class MySqlChangeApplier final : public engine::ChangeApplier {
 public:
  // Statement size limits (rows, and bytes of bound values): large enough to amortise round trips,
  // small enough for the default max_allowed_packet (16 MiB) and the 65,535-placeholder limit.
  static constexpr size_t kMaxRowsPerStatement = 500;
  static constexpr size_t kMaxBytesPerStatement = 4 << 20;

  // Connects, fixes the session settings above and creates `_tandem`.`checkpoint` if missing.
  // Errors: those of MySqlConnection::Open; kPermissionDenied when the user may not create or
  // write `_tandem` (the message has the GRANT); kFailedPrecondition when the checkpoint table
  // exists with a non-transactional engine.
  static engine::Result<std::unique_ptr<MySqlChangeApplier>> Open(
      const engine::ConnectionConfig& config);

  ~MySqlChangeApplier() override;

  // engine::ChangeApplier. Apply returns kUnsupported for a table without an identifying key (its
  // changes cannot be applied idempotently), kInternal for a non-row event or a row whose width
  // differs from its table's columns, kNotFound when the target table does not exist.
  engine::Status Begin() override;
  engine::Status Apply(std::span<const engine::ChangeEvent> changes) override;
  engine::Status Commit(const engine::Checkpoint& checkpoint) override;
  engine::Status Rollback() override;
  engine::Status ApplyDdl(const engine::ChangeEvent& ddl,
                          const engine::Checkpoint& checkpoint) override;
  engine::Result<std::optional<engine::Checkpoint>> ReadCheckpoint(
      const std::string& stream) override;

  // For the snapshot copier (mysql_snapshot_copy.h), beyond the port:

  // Upserts `rows` (full rows of `table`, in its column order) in the open transaction, as Apply
  // does for inserts. REQUIRES: a transaction is open. Errors: as Apply.
  engine::Status Upsert(const engine::TableSchema& table, std::span<const engine::Row> rows);

  // Runs `sql` with `params` bound, inside the open transaction when there is one (the prepared
  // statement is cached). Results, if any, are discarded. `action` names it in errors.
  engine::Status ExecuteBound(const std::string& sql, const std::vector<engine::Value>& params,
                              const std::string& action);

  // Commits the open transaction without writing a checkpoint; rolls back on error.
  engine::Status CommitWithoutCheckpoint();

  bool in_transaction() const { return in_transaction_; }
  MySqlConnection& connection() { return *connection_; }

 private:
  // One statement's worth of work: rows to upsert or keys to delete from one table.
  struct Batch {
    enum class Kind { kNone, kUpsert, kDelete };
    Kind kind = Kind::kNone;
    const engine::TableSchema* table = nullptr;
    bool foreign_key_checks_off = false;
    std::vector<const engine::Row*> rows;  // upsert: full rows; delete: full before images
    size_t bytes = 0;
  };

  // What the target says about a table, read once (see the file comment).
  struct TargetTable {
    std::set<std::string> generated_columns;
    int64_t unique_keys = 0;  // primary and unique indexes
  };

  explicit MySqlChangeApplier(std::unique_ptr<MySqlConnection> connection);

  engine::Status SetUpSession();
  engine::Status EnsureCheckpointTable();
  engine::Status ApplyChanges(std::span<const engine::ChangeEvent> changes);
  // Each change as a statement row, in order (see the file comment).
  engine::Status ApplyInOrder(std::span<const engine::ChangeEvent> changes);
  // Only each touched row's last state (see the file comment).
  engine::Status ApplyNetEffect(std::span<const engine::ChangeEvent> changes);
  // Adds one row to `batch_`, flushing first when it does not fit.
  engine::Status Add(Batch::Kind kind, const engine::TableSchema& table, const engine::Row& row,
                     bool foreign_key_checks_off);
  engine::Status Flush();
  engine::Status FlushUpsert(const Batch& batch);
  engine::Status FlushDelete(const Batch& batch);
  engine::Status SetForeignKeyChecks(bool off);
  engine::Result<const TargetTable*> DescribeTarget(const engine::TableSchema& table);
  engine::Result<MySqlStatement*> Prepared(const std::string& sql, const std::string& action);
  engine::Status WriteCheckpoint(const engine::Checkpoint& checkpoint);
  // Rolls back after `error` and returns it (the rollback's own failure is secondary).
  engine::Status AbortWith(engine::Status error);

  // Constant after construction.
  const std::unique_ptr<MySqlConnection> connection_;

  // Owned by the thread that uses the applier.
  bool in_transaction_ = false;
  bool foreign_key_checks_off_ = false;  // the session's current foreign_key_checks = 0
  Batch batch_;
  std::map<engine::TableId, TargetTable> target_tables_;
  // Prepared statements by SQL text; cleared when it grows past a bound and after DDL.
  std::map<std::string, std::unique_ptr<MySqlStatement>, std::less<>> statements_;
};

// The factory tools/ uses for mysql:// targets. Errors: as MySqlChangeApplier::Open.
engine::Result<std::unique_ptr<engine::ChangeApplier>> OpenMySqlChangeApplier(
    const engine::ConnectionConfig& config);

// Roughly what `row` costs in a statement or a batch: each value's bytes plus the fixed part of the
// protocol (16 bytes a value).
size_t EstimatedBytes(const engine::Row& row);

}  // namespace tandem::connectors::mysql
