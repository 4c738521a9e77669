#include "connectors/postgres/postgres_snapshot_copy.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <variant>

#include "connectors/postgres/postgres_catalog.h"
#include "connectors/postgres/postgres_change_applier.h"
#include "connectors/postgres/postgres_checkpoint_table.h"
#include "connectors/postgres/postgres_connection.h"
#include "connectors/postgres/postgres_range_query.h"
#include "engine/change_stream.h"

namespace tandem::connectors::postgres {

using engine::ConnectionConfig;
using engine::Result;
using engine::Status;
using engine::TableId;
using engine::TableSchema;
using engine::internal::AsStatus;

namespace {

const std::string kCopyTable = "\"_tandem\".\"copy\"";
const std::string kChunkTable = "\"_tandem\".\"copy_chunk\"";

// A chunk bound: the identifying key's values in text form, in key order; nullopt = open.
using KeyBound = std::optional<std::vector<std::string>>;

// A table to copy, as both sides agree on it.
struct TablePlan {
  TableSchema schema;            // the source's
  std::vector<std::string> key;  // identifying key column names, in key order
  std::string column_list;       // quoted, comma-separated: the columns COPY moves
};

struct ChunkWork {
  const TablePlan* table = nullptr;
  int chunk = 0;
  KeyBound lower;  // exclusive
  KeyBound upper;  // inclusive
};

std::string EncodeKey(const std::vector<std::string>& values) {
  std::string text;
  for (const std::string& value : values) {
    text += std::to_string(value.size());
    text += ':';
    text += value;
  }
  return text;
}

Result<std::vector<std::string>> DecodeKey(std::string_view text, size_t columns) {
  std::vector<std::string> values;
  while (!text.empty()) {
    const size_t colon = text.find(':');
    size_t length = 0;
    const auto parsed =
        std::from_chars(text.data(), text.data() + std::min(colon, text.size()), length);
    if (colon == std::string_view::npos || parsed.ec != std::errc() ||
        parsed.ptr != text.data() + colon || text.size() - colon - 1 < length) {
      return engine::Corruption("a key bound in " + kChunkTable +
                                " is not <length>:<text> pairs (drop the stream's rows from "
                                "_tandem.copy and _tandem.copy_chunk and copy again)");
    }
    values.emplace_back(text.substr(colon + 1, length));
    text.remove_prefix(colon + 1 + length);
  }
  if (values.size() != columns) {
    return engine::Corruption("a key bound in " + kChunkTable + " has " +
                              std::to_string(values.size()) + " values for a key of " +
                              std::to_string(columns) +
                              " columns (the table's key changed; drop "
                              "the stream's rows from _tandem.copy and _tandem.copy_chunk and "
                              "copy again)");
  }
  return values;
}

Param BoundParam(const KeyBound& bound) { return bound ? Param(EncodeKey(*bound)) : Param(); }

Result<KeyBound> BoundFrom(const PgResult& rows, int row, int column, size_t key_columns) {
  if (rows.IsNull(row, column)) {
    return KeyBound();
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<std::string> values,
                          DecodeKey(rows.View(row, column), key_columns));
  return KeyBound(std::move(values));
}

std::string JoinQuoted(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) {
    list += (list.empty() ? "" : ", ") + QuoteIdentifier(name);
  }
  return list;
}

Result<engine::Lsn> AsLsn(const std::string& text, const std::string& where) {
  TANDEM_ASSIGN_OR_RETURN(engine::Position position, engine::ParsePosition(text));
  if (!std::holds_alternative<engine::Lsn>(position)) {
    return engine::Corruption("the position '" + text + "' stored in " + where +
                              " is not a PostgreSQL LSN (the stream belongs to another source "
                              "engine; use another --stream name)");
  }
  return std::get<engine::Lsn>(position);
}

// The WHERE condition of the keys in (lower, upper], with values quoted for `connection`.
Result<std::string> RangeCondition(PostgresConnection& connection, const TablePlan& table,
                                   const KeyBound& lower, const KeyBound& upper) {
  const std::string keys = "(" + JoinQuoted(table.key) + ")";
  auto literals = [&](const std::vector<std::string>& values) -> Result<std::string> {
    std::string list;
    for (const std::string& value : values) {
      TANDEM_ASSIGN_OR_RETURN(std::string quoted, connection.QuoteLiteral(value));
      list += (list.empty() ? "" : ", ") + quoted;
    }
    return "(" + list + ")";
  };
  std::string condition = "TRUE";
  if (lower) {
    TANDEM_ASSIGN_OR_RETURN(std::string values, literals(*lower));
    condition = keys + " > " + values;
  }
  if (upper) {
    TANDEM_ASSIGN_OR_RETURN(std::string values, literals(*upper));
    condition += " AND " + keys + " <= " + values;
  }
  return condition;
}

// Names of the generated columns of `table`.
Result<std::set<std::string>> GeneratedColumns(PostgresConnection& connection,
                                               const TableId& table) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult rows, connection.Query("listing the generated columns of " + table.ToString(),
                                      "SELECT a.attname FROM pg_catalog.pg_attribute a"
                                      " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
                                      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                                      " WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0"
                                      " AND NOT a.attisdropped AND a.attgenerated <> ''",
                                      {table.schema, table.name}));
  std::set<std::string> names;
  for (int row = 0; row < rows.rows(); ++row) {
    names.insert(rows.String(row, 0));
  }
  return names;
}

const char* const kSchemaFix =
    "create the schema on the target first, e.g. pg_dump --schema-only --table ... SOURCE | psql "
    "TARGET";

// Compares `id` on both sides (see CheckPostgresTargetTables) and returns what the copy needs.
Result<TablePlan> CheckTable(PostgresConnection& source, PostgresConnection& target,
                             const TableId& id) {
  TANDEM_ASSIGN_OR_RETURN(TableSchema source_schema, DescribePostgresTable(source, id));
  Result<TableSchema> target_schema = DescribePostgresTable(target, id);
  if (!target_schema.ok()) {
    if (target_schema.status().code() == engine::StatusCode::kNotFound) {
      return engine::FailedPrecondition("table " + id.ToString() +
                                        " does not exist on the target " +
                                        target.config().Redacted() + " (" + kSchemaFix + ")");
    }
    return target_schema.status();
  }
  TANDEM_ASSIGN_OR_RETURN(std::set<std::string> source_generated, GeneratedColumns(source, id));
  TANDEM_ASSIGN_OR_RETURN(std::set<std::string> target_generated, GeneratedColumns(target, id));
  TablePlan plan;
  std::vector<std::string> copied;
  for (const engine::Column& column : source_schema.columns) {
    if (source_generated.count(column.name) != 0) {
      continue;
    }
    const int index = target_schema->ColumnIndex(column.name);
    if (index < 0 || target_generated.count(column.name) != 0) {
      return engine::FailedPrecondition("column " + column.name + " of table " + id.ToString() +
                                        " " + (index < 0 ? "does not exist" : "is generated") +
                                        " on the target " + target.config().Redacted() + " (" +
                                        kSchemaFix + ")");
    }
    copied.push_back(column.name);
  }
  for (const engine::Column& column : target_schema->columns) {
    if (target_generated.count(column.name) == 0 && source_schema.ColumnIndex(column.name) < 0) {
      return engine::FailedPrecondition("column " + column.name + " of table " + id.ToString() +
                                        " on the target " + target.config().Redacted() +
                                        " does not exist on the source (drop it on the target, "
                                        "or " +
                                        kSchemaFix + ")");
    }
  }
  if (const engine::KeyDescriptor* key = source_schema.IdentifyingKey(); key != nullptr) {
    for (int index : key->columns) {
      const engine::Column& column = source_schema.columns[static_cast<size_t>(index)];
      const engine::Column& other =
          target_schema->columns[static_cast<size_t>(target_schema->ColumnIndex(column.name))];
      if (column.collation != other.collation) {
        return engine::FailedPrecondition(
            "key column " + column.name + " of table " + id.ToString() + " has collation '" +
            column.collation + "' on the source but '" + other.collation +
            "' on the target, so key ranges differ (give it the source's collation on the "
            "target)");
      }
      plan.key.push_back(column.name);
    }
  }
  plan.column_list = JoinQuoted(copied);
  plan.schema = std::move(source_schema);
  return plan;
}

Status CreateStateTables(PostgresConnection& target) {
  TANDEM_RETURN_IF_ERROR(EnsureCheckpointTable(target));
  TANDEM_RETURN_IF_ERROR(
      AsStatus(target.Query("creating the copy progress table _tandem.copy",
                            "CREATE TABLE IF NOT EXISTS " + kCopyTable +
                                " (stream text PRIMARY KEY, position text NOT NULL,"
                                " started_at timestamptz NOT NULL DEFAULT now())")));
  return AsStatus(target.Query(
      "creating the copy progress table _tandem.copy_chunk",
      "CREATE TABLE IF NOT EXISTS " + kChunkTable +
          " (stream text NOT NULL, table_schema text NOT NULL, table_name text NOT NULL,"
          " chunk integer NOT NULL, lower_key text, upper_key text,"
          " rows_copied bigint NOT NULL DEFAULT 0, done boolean NOT NULL DEFAULT false,"
          " PRIMARY KEY (stream, table_schema, table_name, chunk))"));
}

Result<PostgresCopyStatus> ReadStatus(PostgresConnection& target, const std::string& stream) {
  PostgresCopyStatus status;
  TANDEM_ASSIGN_OR_RETURN(PgResult exists,
                          target.Query("reading the copy state",
                                       "SELECT to_regclass('\"_tandem\".\"copy\"') IS NOT NULL,"
                                       " to_regclass('\"_tandem\".\"checkpoint\"') IS NOT NULL"));
  if (exists.Bool(0, 0)) {
    TANDEM_ASSIGN_OR_RETURN(
        PgResult copy,
        target.Query("reading the copy in progress",
                     "SELECT position FROM " + kCopyTable + " WHERE stream = $1", {stream}));
    if (copy.rows() > 0) {
      status.state = CopyState::kInProgress;
      TANDEM_ASSIGN_OR_RETURN(status.start_position, AsLsn(copy.String(0, 0), "_tandem.copy"));
      return status;
    }
  }
  if (exists.Bool(0, 1)) {
    TANDEM_ASSIGN_OR_RETURN(
        PgResult checkpoints,
        target.Query("reading the stream's checkpoints",
                     "SELECT position FROM " + QuotedCheckpointTable() +
                         " WHERE stream = $1 OR left(stream, length($1) + 1) = $1 || '/'",
                     {stream}));
    for (int row = 0; row < checkpoints.rows(); ++row) {
      TANDEM_ASSIGN_OR_RETURN(engine::Lsn lsn,
                              AsLsn(checkpoints.String(row, 0), "_tandem.checkpoint"));
      status.state = CopyState::kComplete;
      status.start_position = std::max(status.start_position, lsn);
    }
  }
  return status;
}

// Splits [min, max] of a single integer key into about `chunks` ranges.
std::vector<std::pair<KeyBound, KeyBound>> SplitIntegers(int64_t min, int64_t max,
                                                         uint64_t chunks) {
  std::vector<std::pair<KeyBound, KeyBound>> ranges;
  const uint64_t span = static_cast<uint64_t>(max) - static_cast<uint64_t>(min);
  const uint64_t step = span / std::max<uint64_t>(chunks, 1) + 1;
  KeyBound lower;
  for (uint64_t i = 1; i < chunks; ++i) {
    uint64_t offset = 0;
    if (__builtin_mul_overflow(step, i, &offset) || offset - 1 >= span) {
      break;
    }
    // Two's complement wrap: min + offset - 1 <= max, so the value is in range.
    const auto upper_value = static_cast<int64_t>(static_cast<uint64_t>(min) + offset - 1);
    KeyBound upper(std::vector<std::string>{std::to_string(upper_value)});
    ranges.emplace_back(lower, upper);
    lower = std::move(upper);
  }
  ranges.emplace_back(lower, KeyBound());
  return ranges;
}

// The chunks of `table`, planned inside the source's snapshot.
Result<std::vector<std::pair<KeyBound, KeyBound>>> PlanTable(PostgresConnection& source,
                                                             const TablePlan& table,
                                                             int64_t chunk_rows) {
  const std::string context = "planning the copy of " + table.schema.id.ToString();
  const std::string quoted_table = QuoteTable(table.schema.id);
  const std::vector<std::pair<KeyBound, KeyBound>> whole = {{KeyBound(), KeyBound()}};
  const engine::KeyDescriptor* key = table.schema.IdentifyingKey();
  int64_t rows = table.schema.estimated_rows;
  if (key->columns.size() == 1 &&
      table.schema.columns[static_cast<size_t>(key->columns[0])].kind == engine::ValueKind::kInt) {
    const std::string column = QuoteIdentifier(table.key[0]);
    TANDEM_ASSIGN_OR_RETURN(
        PgResult bounds, source.Query(context, "SELECT min(" + column + ")::text, max(" + column +
                                                   ")::text FROM " + quoted_table));
    if (bounds.IsNull(0, 0)) {
      return whole;  // empty in the snapshot
    }
    int64_t min = 0;
    int64_t max = 0;
    const std::string_view min_text = bounds.View(0, 0);
    const std::string_view max_text = bounds.View(0, 1);
    if (std::from_chars(min_text.data(), min_text.data() + min_text.size(), min).ec !=
            std::errc() ||
        std::from_chars(max_text.data(), max_text.data() + max_text.size(), max).ec !=
            std::errc()) {
      return whole;
    }
    const uint64_t span = static_cast<uint64_t>(max) - static_cast<uint64_t>(min);
    if (rows < 0) {  // never analyzed: assume a dense key
      rows = span >= static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(span) + 1;
    }
    const uint64_t chunks = std::clamp<uint64_t>(
        static_cast<uint64_t>(rows / chunk_rows + (rows % chunk_rows != 0 ? 1 : 0)), 1, 1000000);
    return SplitIntegers(min, max, chunks);
  }
  if (rows < 0) {
    TANDEM_ASSIGN_OR_RETURN(PgResult count,
                            source.Query(context, "SELECT count(*) FROM " + quoted_table));
    rows = count.Int(0, 0);
  }
  if (rows <= chunk_rows) {
    return whole;
  }
  const int64_t chunks = std::min<int64_t>(rows / chunk_rows + 1, 100000);
  const int64_t wanted_samples = std::min<int64_t>(chunks * 16, 200000);
  const double percent =
      std::min(100.0, 100.0 * static_cast<double>(wanted_samples) / static_cast<double>(rows));
  char percent_text[32];
  std::snprintf(percent_text, sizeof percent_text, "%.6f", percent);
  std::string select;
  for (const std::string& name : table.key) {
    select += (select.empty() ? "" : ", ") + QuoteIdentifier(name) + "::text";
  }
  // SYSTEM samples whole pages (cheap on big tables); when that yields too few keys to place the
  // boundaries (small tables, few pages), BERNOULLI samples rows from a full scan.
  std::vector<std::vector<std::string>> samples;
  for (const char* method : {"SYSTEM", "BERNOULLI"}) {
    samples.clear();
    TANDEM_RETURN_IF_ERROR(source.Stream(context,
                                         "SELECT " + select + " FROM " + quoted_table +
                                             " TABLESAMPLE " + method + " (" + percent_text +
                                             ") ORDER BY " + JoinQuoted(table.key),
                                         {}, [&](const PgResult& row) -> Result<bool> {
                                           std::vector<std::string> values;
                                           for (int column = 0; column < row.columns(); ++column) {
                                             values.push_back(row.String(0, column));
                                           }
                                           samples.push_back(std::move(values));
                                           return true;
                                         }));
    if (static_cast<int64_t>(samples.size()) >= chunks * 4) {
      break;
    }
  }
  std::vector<std::pair<KeyBound, KeyBound>> ranges;
  KeyBound lower;
  size_t previous = SIZE_MAX;
  for (int64_t i = 1; i < chunks && !samples.empty(); ++i) {
    const auto index = static_cast<size_t>(static_cast<double>(i) * samples.size() / chunks);
    if (index == previous || index >= samples.size()) {
      continue;
    }
    previous = index;
    KeyBound upper(samples[index]);
    ranges.emplace_back(lower, upper);
    lower = std::move(upper);
  }
  ranges.emplace_back(lower, KeyBound());
  return ranges;
}

// Plans `table` unless an earlier run did, in one target transaction (a run killed while
// planning leaves nothing and plans again).
Status PersistPlan(PostgresConnection& source, PostgresConnection& target,
                   const std::string& stream, const TablePlan& table, int64_t chunk_rows) {
  const std::string context = "recording the copy plan of " + table.schema.id.ToString();
  const std::vector<Param> id = {stream, table.schema.id.schema, table.schema.id.name};
  TANDEM_ASSIGN_OR_RETURN(PgResult planned,
                          target.Query(context,
                                       "SELECT count(*) FROM " + kChunkTable +
                                           " WHERE stream = $1 AND table_schema = $2 AND "
                                           "table_name = $3",
                                       id));
  if (planned.Int(0, 0) > 0) {
    return Status::Ok();
  }
  TANDEM_ASSIGN_OR_RETURN(auto ranges, PlanTable(source, table, chunk_rows));
  TANDEM_RETURN_IF_ERROR(AsStatus(target.Query(context, "BEGIN")));
  Status inserted;
  for (size_t i = 0; i < ranges.size() && inserted.ok(); ++i) {
    std::vector<Param> params = id;
    params.push_back(std::to_string(i));
    params.push_back(BoundParam(ranges[i].first));
    params.push_back(BoundParam(ranges[i].second));
    inserted = AsStatus(target.Query(context,
                                     "INSERT INTO " + kChunkTable +
                                         " (stream, table_schema, table_name, chunk, lower_key,"
                                         " upper_key) VALUES ($1, $2, $3, $4, $5, $6)",
                                     params));
  }
  if (!inserted.ok()) {
    (void)target.Query(context, "ROLLBACK");
    return inserted;
  }
  return AsStatus(target.Query(context, "COMMIT"));
}

// The chunks of `table` still to copy; counts the finished ones into *done.
Status LoadChunks(PostgresConnection& target, const std::string& stream, const TablePlan& table,
                  std::vector<ChunkWork>* work, int64_t* done) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult rows, target.Query("reading the copy plan of " + table.schema.id.ToString(),
                                  "SELECT chunk, lower_key, upper_key, done FROM " + kChunkTable +
                                      " WHERE stream = $1 AND table_schema = $2 AND table_name = $3"
                                      " ORDER BY chunk",
                                  {stream, table.schema.id.schema, table.schema.id.name}));
  for (int row = 0; row < rows.rows(); ++row) {
    if (rows.Bool(row, 3)) {
      ++*done;
      continue;
    }
    ChunkWork chunk;
    chunk.table = &table;
    chunk.chunk = static_cast<int>(rows.Int(row, 0));
    TANDEM_ASSIGN_OR_RETURN(chunk.lower, BoundFrom(rows, row, 1, table.key.size()));
    TANDEM_ASSIGN_OR_RETURN(chunk.upper, BoundFrom(rows, row, 2, table.key.size()));
    work->push_back(std::move(chunk));
  }
  return Status::Ok();
}

// Work shared by the copy workers.
class CopyRun {
 public:
  CopyRun(const PostgresSnapshotCopyOptions& options, std::vector<ChunkWork> work)
      : options_(options), work_(std::move(work)) {}

  // Copies chunks until none is left, an error happened, or a stop was requested.
  void Worker(PostgresConnection& source, PostgresConnection& target) {
    while (!Stopping()) {
      ChunkWork* chunk = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (next_ >= work_.size()) {
          return;
        }
        chunk = &work_[next_++];
      }
      Status status = CopyChunk(source, target, *chunk);
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

  // One target transaction: the range emptied, the rows copied in, the chunk marked done.
  Status CopyChunk(PostgresConnection& source, PostgresConnection& target, ChunkWork& chunk) {
    const TablePlan& table = *chunk.table;
    const std::string context =
        "copying chunk " + std::to_string(chunk.chunk) + " of " + table.schema.id.ToString();
    const std::string quoted_table = QuoteTable(table.schema.id);
    const std::string format = options_.binary ? " (FORMAT binary)" : "";
    TANDEM_ASSIGN_OR_RETURN(std::string source_range,
                            RangeCondition(source, table, chunk.lower, chunk.upper));
    TANDEM_ASSIGN_OR_RETURN(std::string target_range,
                            RangeCondition(target, table, chunk.lower, chunk.upper));
    TANDEM_RETURN_IF_ERROR(AsStatus(target.Query(context, "BEGIN")));
    Status status = CopyInTransaction(
        source, target, chunk, context,
        "COPY (SELECT " + table.column_list + " FROM " + quoted_table + " WHERE " + source_range +
            ") TO STDOUT" + format,
        "DELETE FROM " + quoted_table + " WHERE " + target_range,
        "COPY " + quoted_table + " (" + table.column_list + ") FROM STDIN" + format);
    if (!status.ok()) {
      (void)target.Query(context, "ROLLBACK");
    }
    return status;
  }

  Status CopyInTransaction(PostgresConnection& source, PostgresConnection& target,
                           const ChunkWork& chunk, const std::string& context,
                           const std::string& copy_out, const std::string& remove,
                           const std::string& copy_in) {
    const TablePlan& table = *chunk.table;
    TANDEM_RETURN_IF_ERROR(AsStatus(target.Query(context, remove)));
    TANDEM_RETURN_IF_ERROR(target.BeginCopyIn(context, copy_in));
    Status piped = source.CopyOut(context, copy_out, [&](std::string_view data) {
      return target.PutCopyData(context, data);
    });
    if (!piped.ok()) {
      target.AbortCopyIn("tandem: reading the source failed");
      return piped;
    }
    TANDEM_ASSIGN_OR_RETURN(int64_t rows, target.EndCopyIn(context));
    TANDEM_RETURN_IF_ERROR(
        AsStatus(target.Query(context,
                              "UPDATE " + kChunkTable +
                                  " SET rows_copied = $1, done = true WHERE stream = $2 AND"
                                  " table_schema = $3 AND table_name = $4 AND chunk = $5",
                              {std::to_string(rows), options_.stream, table.schema.id.schema,
                               table.schema.id.name, std::to_string(chunk.chunk)})));
    TANDEM_RETURN_IF_ERROR(AsStatus(target.Query(context, "COMMIT")));
    rows_ += rows;
    ++chunks_;
    return Status::Ok();
  }

  const PostgresSnapshotCopyOptions& options_;
  std::vector<ChunkWork> work_;  // fixed before the workers start; each element to one worker
  std::atomic<int64_t> rows_{0};
  std::atomic<int64_t> chunks_{0};

  mutable std::mutex mu_;
  size_t next_ = 0;  // guarded by mu_
  Status error_;     // guarded by mu_: the first error of any worker
};

}  // namespace

Result<PostgresCopyStatus> ReadPostgresCopyStatus(const ConnectionConfig& target,
                                                  const std::string& stream) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection,
                          PostgresConnection::Connect(target));
  return ReadStatus(*connection, stream);
}

Status CheckPostgresTargetTables(const ConnectionConfig& source, const ConnectionConfig& target,
                                 const std::vector<TableId>& tables) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> source_connection,
                          PostgresConnection::Connect(source));
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> target_connection,
                          PostgresConnection::Connect(target));
  for (const TableId& id : tables) {
    TANDEM_RETURN_IF_ERROR(AsStatus(CheckTable(*source_connection, *target_connection, id)));
  }
  return Status::Ok();
}

Result<PostgresSnapshotCopyResult> CopyPostgresSnapshot(
    const ConnectionConfig& source, const ConnectionConfig& target,
    const std::vector<TableId>& tables, const PostgresSnapshotCopyOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (tables.empty() || options.chunk_rows < 1 || options.stream.empty()) {
    return engine::InvalidArgument("the copy of stream '" + options.stream +
                                   "' needs at least one table, a stream name and chunk_rows >= 1");
  }
  PostgresSnapshotCopyResult result;
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> setup,
                          PostgresConnection::Connect(target));
  TANDEM_ASSIGN_OR_RETURN(PostgresCopyStatus status, ReadStatus(*setup, options.stream));
  if (status.state == CopyState::kComplete) {
    result.already_complete = true;
    result.start_position = status.start_position;
    return result;
  }
  if (status.state == CopyState::kNone && options.snapshot_name.empty()) {
    return engine::FailedPrecondition(
        "stream '" + options.stream + "' has no copy in progress on " + target.Redacted() +
        ", and the first copy needs the snapshot exported by its replication slot (create the "
        "slot with EXPORT_SNAPSHOT and pass its snapshot name)");
  }

  // The snapshot: the slot's, or on a restart a fresh one exported here and held until every
  // worker has imported it.
  std::string snapshot_name = options.snapshot_name;
  std::unique_ptr<PostgresConnection> exporter;
  if (snapshot_name.empty()) {
    TANDEM_ASSIGN_OR_RETURN(exporter, PostgresConnection::Connect(source));
    TANDEM_ASSIGN_OR_RETURN(PgResult begun,
                            exporter->Query("exporting a snapshot for the copy",
                                            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    TANDEM_ASSIGN_OR_RETURN(PgResult exported, exporter->Query("exporting a snapshot for the copy",
                                                               "SELECT pg_export_snapshot()"));
    snapshot_name = exported.String(0, 0);
  }
  const size_t threads = std::max<size_t>(1, options.threads);
  std::vector<std::unique_ptr<PostgresConnection>> sources;
  std::vector<std::unique_ptr<PostgresConnection>> targets;
  for (size_t i = 0; i < threads; ++i) {
    TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> reader,
                            PostgresConnection::Connect(source));
    TANDEM_RETURN_IF_ERROR(
        reader->BeginSnapshotTransaction("importing the copy's snapshot", snapshot_name));
    sources.push_back(std::move(reader));
    TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> writer,
                            PostgresConnection::Connect(target));
    // As the appliers: a superuser's copy fires no target triggers or foreign-key checks, so
    // chunks of parent and child tables can go in any order.
    TANDEM_RETURN_IF_ERROR(UseReplicaSessionRole(*writer).status());
    targets.push_back(std::move(writer));
  }
  exporter.reset();  // every worker holds the snapshot now

  // Tables: keys first (refused up front), then the target's schema.
  std::vector<std::unique_ptr<TablePlan>> plans;
  for (const TableId& id : tables) {
    TANDEM_ASSIGN_OR_RETURN(TableSchema schema, DescribePostgresTable(*sources[0], id));
    if (schema.IdentifyingKey() == nullptr) {
      return engine::FailedPrecondition(
          "table " + id.ToString() +
          " has no primary key or NOT NULL unique key, so tandem sync cannot apply its changes "
          "idempotently (add a primary key, or leave the table out with --table)");
    }
  }
  for (const TableId& id : tables) {
    TANDEM_ASSIGN_OR_RETURN(TablePlan plan, CheckTable(*sources[0], *setup, id));
    plans.push_back(std::make_unique<TablePlan>(std::move(plan)));
  }

  TANDEM_RETURN_IF_ERROR(CreateStateTables(*setup));
  if (status.state == CopyState::kNone) {
    result.start_position = options.start_position;
    TANDEM_RETURN_IF_ERROR(AsStatus(setup->Query(
        "recording the copy's start",
        "INSERT INTO " + kCopyTable + " (stream, position) VALUES ($1, $2)",
        {options.stream, engine::Serialize(engine::Position(options.start_position))})));
  } else {
    result.start_position = status.start_position;
  }

  std::vector<ChunkWork> work;
  for (const auto& plan : plans) {
    TANDEM_RETURN_IF_ERROR(
        PersistPlan(*sources[0], *setup, options.stream, *plan, options.chunk_rows));
    TANDEM_RETURN_IF_ERROR(
        LoadChunks(*setup, options.stream, *plan, &work, &result.chunks_skipped));
  }

  CopyRun run(options, std::move(work));
  {
    std::vector<std::jthread> workers;
    for (size_t i = 0; i < threads; ++i) {
      workers.emplace_back([&run, &sources, &targets, i] { run.Worker(*sources[i], *targets[i]); });
    }
  }  // joins the workers
  result.rows_copied = run.rows();
  result.chunks_copied = run.chunks();
  TANDEM_RETURN_IF_ERROR(run.error());
  if (run.stop_requested()) {
    return engine::Cancelled("the copy of stream '" + options.stream +
                             "' was stopped; the next run resumes it");
  }

  // Done: the progress rows gone and the checkpoint at the start position, in one transaction.
  constexpr std::string_view kFinish = "recording the end of the copy";
  TANDEM_RETURN_IF_ERROR(AsStatus(setup->Query(kFinish, "BEGIN")));
  Status finished = AsStatus(
      setup->Query(kFinish, "DELETE FROM " + kChunkTable + " WHERE stream = $1", {options.stream}));
  if (finished.ok()) {
    finished = AsStatus(setup->Query(kFinish, "DELETE FROM " + kCopyTable + " WHERE stream = $1",
                                     {options.stream}));
  }
  if (finished.ok()) {
    finished = WriteCheckpoint(*setup, engine::Checkpoint{.stream = options.stream,
                                                          .position = result.start_position,
                                                          .transaction_sequence = 0,
                                                          .events_applied = 0});
  }
  if (finished.ok()) {
    finished = AsStatus(setup->Query(kFinish, "COMMIT"));
  } else {
    (void)setup->Query(kFinish, "ROLLBACK");
  }
  TANDEM_RETURN_IF_ERROR(finished);
  result.elapsed = std::chrono::steady_clock::now() - start;
  return result;
}

}  // namespace tandem::connectors::postgres
