#include "connectors/mysql/mysql_snapshot_copy.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "connectors/mysql/mysql_catalog.h"
#include "connectors/mysql/mysql_change_applier.h"
#include "connectors/mysql/mysql_key_codec.h"
#include "connectors/mysql/mysql_range_query.h"
#include "connectors/mysql/mysql_snapshot.h"
#include "connectors/mysql/mysql_statement.h"
#include "connectors/mysql/mysql_target_tables.h"

namespace tandem::connectors::mysql {

using engine::ConnectionConfig;
using engine::KeyBound;
using engine::KeyRange;
using engine::Result;
using engine::Row;
using engine::Status;
using engine::TableId;
using engine::TableSchema;
using engine::Value;

namespace {

const std::string kCopyTable = "`_tandem`.`copy`";
const std::string kChunkTable = "`_tandem`.`copy_chunk`";

// One planned chunk still to copy.
struct ChunkWork {
  const TableSchema* table = nullptr;
  int chunk = 0;
  std::optional<Row> lower;  // exclusive; none = from the first row
  std::optional<Row> upper;  // inclusive; none = to the last row
  std::optional<Row> last;   // the last key committed by an earlier run
  int64_t rows_copied = 0;
};

Value KeyValue(const std::optional<Row>& key) {
  return key ? Value::Bytes(EncodeKey(*key)) : Value::Null();
}

Result<std::optional<Row>> KeyFrom(const Value& value) {
  if (value.is_null()) {
    return std::optional<Row>();
  }
  TANDEM_ASSIGN_OR_RETURN(Row key, DecodeKey(value.text()));
  return std::optional<Row>(std::move(key));
}

Status CreateStateTables(MySqlConnection& target) {
  TANDEM_RETURN_IF_ERROR(
      target.Execute("CREATE TABLE IF NOT EXISTS " + kCopyTable +
                         " (stream VARCHAR(191) NOT NULL PRIMARY KEY, position TEXT NOT NULL,"
                         " started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
                         " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                     "creating the copy progress table `_tandem`.`copy`"));
  return target.Execute(
      "CREATE TABLE IF NOT EXISTS " + kChunkTable +
          " (stream VARCHAR(191) NOT NULL, table_schema VARCHAR(64) NOT NULL,"
          " table_name VARCHAR(64) NOT NULL, chunk INT NOT NULL, lower_key LONGBLOB NULL,"
          " upper_key LONGBLOB NULL, last_key LONGBLOB NULL,"
          " rows_copied BIGINT NOT NULL DEFAULT 0, done TINYINT NOT NULL DEFAULT 0,"
          " PRIMARY KEY (stream, table_schema, table_name, chunk))"
          " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
      "creating the copy progress table `_tandem`.`copy_chunk`");
}

// The source's description of `id`, refusing what cannot be copied exactly.
Result<TableSchema> DescribeSource(MySqlSnapshotReader& reader, const TableId& id) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<CatalogTable> found,
                          LoadCatalog(reader.connection(), id.schema, id.name));
  if (found.empty()) {
    return engine::NotFound("source table " + id.ToString() + " does not exist on " +
                            reader.connection().config().Redacted() +
                            ", or the user lacks SELECT on it (check --table, or GRANT SELECT)");
  }
  CatalogTable& table = found.front();
  std::string engine_name = table.storage_engine;
  std::transform(engine_name.begin(), engine_name.end(), engine_name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (engine_name != "innodb") {
    return engine::Unsupported("source table " + id.ToString() + " uses the " +
                               table.storage_engine +
                               " engine, which has no consistent snapshot (ALTER TABLE " +
                               QuoteTable(id) + " ENGINE=InnoDB, or leave it out with --table)");
  }
  if (table.schema.IdentifyingKey() == nullptr) {
    return engine::Unsupported("source table " + id.ToString() +
                               " has no primary key or unique NOT NULL key, so it cannot be "
                               "copied and streamed exactly once (add a primary key, or leave it "
                               "out with --table)");
  }
  return std::move(table.schema);
}

// Plans the chunks of `table` with KeyAfter unless an earlier run planned them, in one target
// transaction (a run killed while planning leaves nothing and plans again).
Status PlanChunks(MySqlSnapshotReader& reader, MySqlChangeApplier& target,
                  const std::string& stream, const TableSchema& table, int64_t chunk_rows) {
  const std::vector<Value> id = {Value::Text(stream), Value::Text(table.id.schema),
                                 Value::Text(table.id.name)};
  TANDEM_ASSIGN_OR_RETURN(
      auto count, MySqlStatement::Prepare(target.connection(),
                                          "SELECT COUNT(*) FROM " + kChunkTable +
                                              " WHERE stream = ? AND table_schema = ? AND "
                                              "table_name = ?",
                                          "reading the copy plan of " + table.id.ToString()));
  TANDEM_ASSIGN_OR_RETURN(std::vector<Row> planned, count->QueryAll(id));
  if (!planned.empty() && !planned[0].empty() && planned[0][0].int_value() > 0) {
    return Status::Ok();
  }
  std::vector<std::pair<std::optional<Row>, std::optional<Row>>> chunks;
  std::optional<Row> lower;
  while (true) {
    std::optional<KeyBound> after;
    if (lower) {
      after = KeyBound{*lower, false};
    }
    TANDEM_ASSIGN_OR_RETURN(std::optional<Row> upper,
                            reader.KeyAfter(table, after, std::max<int64_t>(1, chunk_rows) - 1));
    chunks.emplace_back(lower, upper);
    if (!upper) {
      break;
    }
    lower = std::move(upper);
  }
  TANDEM_RETURN_IF_ERROR(target.Begin());
  const std::string insert = "INSERT INTO " + kChunkTable +
                             " (stream, table_schema, table_name, chunk, lower_key, upper_key)"
                             " VALUES (?, ?, ?, ?, ?, ?)";
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::vector<Value> params = id;
    params.push_back(Value::Int(static_cast<int64_t>(i)));
    params.push_back(KeyValue(chunks[i].first));
    params.push_back(KeyValue(chunks[i].second));
    Status inserted =
        target.ExecuteBound(insert, params, "recording the copy plan of " + table.id.ToString());
    if (!inserted.ok()) {
      (void)target.Rollback();
      return inserted;
    }
  }
  return target.CommitWithoutCheckpoint();
}

// The chunks of `table` still to copy; counts the finished ones into *done.
Status LoadChunks(MySqlChangeApplier& target, const std::string& stream, const TableSchema& table,
                  std::vector<ChunkWork>* work, int64_t* done) {
  TANDEM_ASSIGN_OR_RETURN(
      auto query,
      MySqlStatement::Prepare(
          target.connection(),
          "SELECT chunk, lower_key, upper_key, last_key, rows_copied, done FROM " + kChunkTable +
              " WHERE stream = ? AND table_schema = ? AND table_name = ?"
              " ORDER BY chunk",
          "reading the copy plan of " + table.id.ToString()));
  TANDEM_ASSIGN_OR_RETURN(std::vector<Row> rows,
                          query->QueryAll({Value::Text(stream), Value::Text(table.id.schema),
                                           Value::Text(table.id.name)}));
  for (const Row& row : rows) {
    if (row.size() != 6) {
      return engine::Corruption("unexpected columns in " + kChunkTable);
    }
    if (row[5].int_value() != 0) {
      ++*done;
      continue;
    }
    ChunkWork chunk;
    chunk.table = &table;
    chunk.chunk = static_cast<int>(row[0].int_value());
    TANDEM_ASSIGN_OR_RETURN(chunk.lower, KeyFrom(row[1]));
    TANDEM_ASSIGN_OR_RETURN(chunk.upper, KeyFrom(row[2]));
    TANDEM_ASSIGN_OR_RETURN(chunk.last, KeyFrom(row[3]));
    chunk.rows_copied = row[4].int_value();
    work->push_back(std::move(chunk));
  }
  return Status::Ok();
}

// Work shared by the copy workers.
class CopyRun {
 public:
  CopyRun(const SnapshotCopyOptions& options, std::vector<ChunkWork> work)
      : options_(options), work_(std::move(work)) {}

  // Copies chunks until none is left, an error happened, or a stop was requested.
  void Worker(MySqlSnapshotReader& reader, MySqlChangeApplier& target) {
    while (!Stopping()) {
      ChunkWork* chunk = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (next_ >= work_.size()) {
          return;
        }
        chunk = &work_[next_++];
      }
      Status status = CopyChunk(reader, target, *chunk);
      if (!status.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (error_.ok()) {
          error_ = std::move(status);
        }
        return;
      }
    }
  }

  Status error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  int64_t rows() const { return rows_.load(); }
  int64_t chunks() const { return chunks_.load(); }
  bool stop_requested() const { return options_.stop != nullptr && options_.stop->load(); }

 private:
  bool Stopping() const {
    if (stop_requested()) {
      return true;
    }
    std::lock_guard<std::mutex> lock(mu_);
    return !error_.ok();
  }

  // Commits `batch` with the chunk's progress in one target transaction.
  Status CommitBatch(MySqlChangeApplier& target, ChunkWork& chunk, std::vector<Row>& batch,
                     bool done) {
    const TableSchema& table = *chunk.table;
    TANDEM_RETURN_IF_ERROR(target.Begin());
    if (!batch.empty()) {
      TANDEM_RETURN_IF_ERROR(target.Upsert(table, batch));
      chunk.last = engine::KeyOf(table, batch.back());
      chunk.rows_copied += static_cast<int64_t>(batch.size());
    }
    Status progress = target.ExecuteBound(
        "UPDATE " + kChunkTable +
            " SET last_key = ?, rows_copied = ?, done = ?"
            " WHERE stream = ? AND table_schema = ? AND table_name = ? AND chunk = ?",
        {KeyValue(chunk.last), Value::Int(chunk.rows_copied), Value::Int(done ? 1 : 0),
         Value::Text(options_.stream), Value::Text(table.id.schema), Value::Text(table.id.name),
         Value::Int(chunk.chunk)},
        "recording the copy progress of " + table.id.ToString());
    if (!progress.ok()) {
      (void)target.Rollback();
      return progress;
    }
    TANDEM_RETURN_IF_ERROR(target.CommitWithoutCheckpoint());
    const auto rows = static_cast<int64_t>(batch.size());
    rows_ += rows;
    batch.clear();
    if (rows > 0 && options_.on_batch) {
      options_.on_batch(rows);
    }
    return Status::Ok();
  }

  Status CopyChunk(MySqlSnapshotReader& reader, MySqlChangeApplier& target, ChunkWork& chunk) {
    const TableSchema& table = *chunk.table;
    KeyRange range;
    if (chunk.last) {
      range.lower = KeyBound{*chunk.last, false};
    } else if (chunk.lower) {
      range.lower = KeyBound{*chunk.lower, false};
    }
    if (chunk.upper) {
      range.upper = KeyBound{*chunk.upper, true};
    }
    std::vector<Row> batch;
    batch.reserve(std::min<size_t>(options_.batch_rows, 4096));
    size_t bytes = 0;
    Status written;
    bool stopped = false;
    TANDEM_RETURN_IF_ERROR(reader.ReadRange(table, range, [&](Row&& row) {
      if (Stopping()) {
        stopped = true;
        return false;
      }
      bytes += EstimatedBytes(row);
      batch.push_back(std::move(row));
      if (batch.size() >= options_.batch_rows || bytes >= options_.batch_bytes) {
        written = CommitBatch(target, chunk, batch, /*done=*/false);
        bytes = 0;
        return written.ok();
      }
      return true;
    }));
    TANDEM_RETURN_IF_ERROR(written);
    if (stopped) {
      return Status::Ok();  // the run reports the stop; the chunk stays not done
    }
    TANDEM_RETURN_IF_ERROR(CommitBatch(target, chunk, batch, /*done=*/true));
    ++chunks_;
    return Status::Ok();
  }

  const SnapshotCopyOptions& options_;
  std::vector<ChunkWork> work_;  // fixed before the workers start; each element to one worker
  std::atomic<int64_t> rows_{0};
  std::atomic<int64_t> chunks_{0};

  mutable std::mutex mu_;
  size_t next_ = 0;  // guarded by mu_
  Status error_;     // guarded by mu_: the first error of any worker
};

Result<engine::BinlogPosition> AsBinlogPosition(const std::string& text) {
  TANDEM_ASSIGN_OR_RETURN(engine::Position position, engine::ParsePosition(text));
  if (!std::holds_alternative<engine::BinlogPosition>(position)) {
    return engine::Corruption("the stored copy position '" + text +
                              "' is not a MySQL binary log position");
  }
  return std::get<engine::BinlogPosition>(std::move(position));
}

}  // namespace

Result<SnapshotCopyResult> CopySnapshot(const ConnectionConfig& source,
                                        const ConnectionConfig& target,
                                        const std::vector<TableId>& tables,
                                        const SnapshotCopyOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SnapshotCopyResult result;
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<MySqlChangeApplier> setup,
                          MySqlChangeApplier::Open(target));
  TANDEM_ASSIGN_OR_RETURN(std::optional<engine::Checkpoint> checkpoint,
                          setup->ReadCheckpoint(options.stream));
  if (checkpoint) {
    if (!std::holds_alternative<engine::BinlogPosition>(checkpoint->position)) {
      return engine::FailedPrecondition("stream '" + options.stream + "' on " + target.Redacted() +
                                        " has a checkpoint that is not a MySQL binlog position");
    }
    result.start_position = std::get<engine::BinlogPosition>(checkpoint->position);
    result.already_complete = true;
    return result;
  }
  TANDEM_RETURN_IF_ERROR(CreateStateTables(setup->connection()));

  const size_t threads = std::max<size_t>(1, options.threads);
  TANDEM_ASSIGN_OR_RETURN(
      std::unique_ptr<MySqlSnapshot> snapshot,
      MySqlSnapshot::Open(
          source, {.connections = threads, .lock_wait_timeout = options.lock_wait_timeout}));
  result.global_lock_held = snapshot->global_lock_held();

  // Tables: described inside the snapshot, created on the target when missing.
  std::vector<TableSchema> schemas;
  schemas.reserve(tables.size());
  for (const TableId& id : tables) {
    TANDEM_ASSIGN_OR_RETURN(TableSchema schema, DescribeSource(snapshot->reader(0), id));
    schemas.push_back(std::move(schema));
  }
  if (options.create_missing_tables) {
    TANDEM_ASSIGN_OR_RETURN(
        result.tables_created,
        CreateMissingTables(snapshot->reader(0).connection(), setup->connection(), tables));
  }

  // The stream's start: the first snapshot of this copy (see the header).
  TANDEM_ASSIGN_OR_RETURN(
      auto read_copy,
      MySqlStatement::Prepare(setup->connection(),
                              "SELECT position FROM " + kCopyTable + " WHERE stream = ?",
                              "reading the copy in progress"));
  TANDEM_ASSIGN_OR_RETURN(std::vector<Row> copy_rows,
                          read_copy->QueryAll({Value::Text(options.stream)}));
  if (copy_rows.empty()) {
    result.start_position = snapshot->position();
    TANDEM_RETURN_IF_ERROR(setup->Begin());
    TANDEM_RETURN_IF_ERROR(setup->ExecuteBound(
        "INSERT INTO " + kCopyTable + " (stream, position) VALUES (?, ?)",
        {Value::Text(options.stream), Value::Text(engine::Serialize(snapshot->position()))},
        "recording the copy's start"));
    TANDEM_RETURN_IF_ERROR(setup->CommitWithoutCheckpoint());
  } else {
    TANDEM_ASSIGN_OR_RETURN(result.start_position, AsBinlogPosition(copy_rows[0][0].text()));
  }

  std::vector<ChunkWork> work;
  for (const TableSchema& schema : schemas) {
    TANDEM_RETURN_IF_ERROR(
        PlanChunks(snapshot->reader(0), *setup, options.stream, schema, options.chunk_rows));
    TANDEM_RETURN_IF_ERROR(
        LoadChunks(*setup, options.stream, schema, &work, &result.chunks_skipped));
  }

  std::vector<std::unique_ptr<MySqlChangeApplier>> appliers;
  for (size_t i = 0; i < threads; ++i) {
    TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<MySqlChangeApplier> applier,
                            MySqlChangeApplier::Open(target));
    appliers.push_back(std::move(applier));
  }
  CopyRun run(options, std::move(work));
  {
    std::vector<std::jthread> workers;
    for (size_t i = 0; i < threads; ++i) {
      workers.emplace_back(
          [&run, &snapshot, &appliers, i] { run.Worker(snapshot->reader(i), *appliers[i]); });
    }
  }  // joins the workers
  result.rows_copied = run.rows();
  result.chunks_copied = run.chunks();
  TANDEM_RETURN_IF_ERROR(run.error());
  if (run.stop_requested()) {
    return engine::Cancelled("the copy of stream '" + options.stream +
                             "' was stopped; the next run resumes it");
  }

  // Done: the checkpoint at the start position, and the progress rows gone, in one transaction.
  TANDEM_RETURN_IF_ERROR(setup->Begin());
  TANDEM_RETURN_IF_ERROR(setup->ExecuteBound("DELETE FROM " + kChunkTable + " WHERE stream = ?",
                                             {Value::Text(options.stream)},
                                             "clearing the copy progress"));
  TANDEM_RETURN_IF_ERROR(setup->ExecuteBound("DELETE FROM " + kCopyTable + " WHERE stream = ?",
                                             {Value::Text(options.stream)},
                                             "clearing the copy progress"));
  TANDEM_RETURN_IF_ERROR(setup->Commit(engine::Checkpoint{.stream = options.stream,
                                                          .position = result.start_position,
                                                          .transaction_sequence = 0,
                                                          .events_applied = 0}));
  result.elapsed = std::chrono::steady_clock::now() - start;
  return result;
}

}  // namespace tandem::connectors::mysql
