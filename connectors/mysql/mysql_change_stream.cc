#include "connectors/mysql/mysql_change_stream.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include "connectors/mysql/binlog/event_decoder.h"
#include "connectors/mysql/binlog/mariadb_rpl_transport.h"
#include "connectors/mysql/mysql_catalog.h"
#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_grants.h"

namespace tandem::connectors::mysql {

using binlog::BinlogEventDecoder;
using binlog::ColumnPlan;
using binlog::DecodedEvent;
using binlog::EventHeader;
using binlog::GtidState;
using binlog::RowImage;
using binlog::RowsKind;
using binlog::StatementClass;
using binlog::TableMapEvent;
using engine::BinlogPosition;
using engine::ChangeEvent;
using engine::ChangeKind;
using engine::Result;
using engine::Status;
using engine::TableId;
using engine::TableSchema;

namespace {

constexpr int64_t kMicrosPerSecond = 1000000;

class CatalogSchemaSource final : public TableSchemaSource {
 public:
  explicit CatalogSchemaSource(std::unique_ptr<MySqlConnection> connection)
      : connection_(std::move(connection)) {}
  Result<TableSchema> Describe(const TableId& table) override {
    return DescribeTable(*connection_, table);
  }

 private:
  std::unique_ptr<MySqlConnection> connection_;
};

// A table id as the current transaction's table map bound it.
struct MappedTable {
  bool selected = false;
  std::string name;  // `schema`.`table`, for messages
  std::shared_ptr<const TableSchema> schema;
  std::vector<ColumnPlan> plans;
};

class BinlogChangeStream final : public engine::ChangeStream {
 public:
  BinlogChangeStream(std::unique_ptr<binlog::BinlogTransport> transport,
                     std::unique_ptr<TableSchemaSource> schemas,
                     std::unique_ptr<TableSchemaSource> fallback_schemas,
                     const BinlogPosition& start, GtidState gtids,
                     const MySqlChangeStreamOptions& options)
      : transport_(std::move(transport)),
        schemas_(std::move(schemas)),
        fallback_schemas_(std::move(fallback_schemas)),
        decoder_(transport_->checksum_negotiated()),
        gtids_(std::move(gtids)),
        file_(start.file),
        offset_(start.offset) {
    for (const TableId& table : options.tables) {
      selected_tables_.insert(table);
      selected_schemas_.insert(table.schema);
    }
    for (const std::string& schema : options.schemas) {
      whole_schemas_.insert(schema);
      selected_schemas_.insert(schema);
    }
    safe_position_ = CurrentPosition();
  }

  Result<std::optional<ChangeEvent>> Next(std::chrono::milliseconds timeout) override {
    if (!failure_.ok()) {
      return failure_;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pending_.empty()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        if (!in_transaction_ && !(safe_position_ == last_heartbeat_position_) &&
            !(engine::Position(safe_position_) == position_)) {
          PushHeartbeat(0);
          break;
        }
        return std::optional<ChangeEvent>();
      }
      auto raw =
          transport_->Next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                           std::chrono::milliseconds(1));
      if (!raw.ok()) {
        failure_ = raw.status();
        return failure_;
      }
      if (!raw->has_value()) {
        continue;
      }
      Status status = Handle(**raw);
      if (!status.ok()) {
        failure_ = status;
        return failure_;
      }
    }
    ChangeEvent event = std::move(pending_.front());
    pending_.pop_front();
    position_ = event.position;
    return std::optional<ChangeEvent>(std::move(event));
  }

  engine::Position position() const override { return position_; }

  // Everything up to `end` is read when no transaction is open and the read offset (which moves
  // past every event outside a transaction, selected or not) has reached it.
  Result<bool> HasReadThrough(const engine::Position& end) const override {
    if (in_transaction_ || !pending_.empty()) {
      return false;
    }
    TANDEM_ASSIGN_OR_RETURN(std::strong_ordering order,
                            engine::Compare(BinlogPosition{file_, offset_, ""}, end));
    return order != std::strong_ordering::less;
  }

 private:
  BinlogPosition CurrentPosition() const {
    return BinlogPosition{file_, offset_, gtids_.ToString()};
  }

  bool IsSelected(const TableId& table) const {
    if (selected_schemas_.empty()) {
      return !IsSystemSchema(table.schema);
    }
    return selected_tables_.count(table) > 0 || whole_schemas_.count(table.schema) > 0;
  }

  bool DdlConcernsSelection(const binlog::QueryEvent& query) const {
    if (selected_schemas_.empty()) {
      return !IsSystemSchema(query.schema);
    }
    if (selected_schemas_.count(query.schema) > 0) {
      return true;
    }
    for (const std::string& schema : selected_schemas_) {
      if (MentionsIdentifier(query.query, schema)) {
        return true;
      }
    }
    return false;
  }

  // True when `name` occurs in `text` as a whole identifier (not inside a longer one: `shop` is
  // not mentioned by "CREATE DATABASE shop2"), quoted or not.
  static bool MentionsIdentifier(std::string_view text, std::string_view name) {
    const auto is_identifier_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$' ||
             static_cast<unsigned char>(c) >= 0x80;
    };
    for (size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
      const size_t end = at + name.size();
      if ((at == 0 || !is_identifier_char(text[at - 1])) &&
          (end == text.size() || !is_identifier_char(text[end]))) {
        return true;
      }
    }
    return false;
  }

  void PushHeartbeat(uint32_t timestamp) {
    ChangeEvent event;
    event.kind = ChangeKind::kHeartbeat;
    event.position = safe_position_;
    event.source_commit_time_us = static_cast<int64_t>(timestamp) * kMicrosPerSecond;
    event.transaction_sequence = sequence_;
    last_heartbeat_position_ = safe_position_;
    pending_.push_back(std::move(event));
  }

  void StartTransaction(const EventHeader& header) {
    in_transaction_ = true;
    begin_emitted_ = false;
    begin_position_ = CurrentPosition();
    begin_position_.offset = header.log_pos != 0 ? header.log_pos : offset_;
    begin_time_ = header.timestamp;
  }

  void ApplyPendingGtid() {
    if (pending_mariadb_gtid_) {
      gtids_.Apply(*pending_mariadb_gtid_);
      pending_mariadb_gtid_.reset();
    }
    if (pending_mysql_gtid_) {
      gtids_.Apply(*pending_mysql_gtid_);
      pending_mysql_gtid_.reset();
    }
  }

  // Ends the current transaction (or standalone statement) at `header`.
  void Commit(const EventHeader& header) {
    ApplyPendingGtid();
    if (header.log_pos != 0) {
      offset_ = header.log_pos;
    }
    safe_position_ = CurrentPosition();
    if (in_transaction_ && begin_emitted_) {
      ChangeEvent event;
      event.kind = ChangeKind::kCommit;
      event.position = safe_position_;
      event.source_commit_time_us = static_cast<int64_t>(header.timestamp) * kMicrosPerSecond;
      event.transaction_sequence = sequence_;
      pending_.push_back(std::move(event));
    }
    in_transaction_ = false;
    begin_emitted_ = false;
  }

  Status Handle(std::string_view raw) {
    TANDEM_ASSIGN_OR_RETURN(DecodedEvent event, decoder_.Decode(raw));
    const EventHeader& header = event.header;
    Status status = std::visit([&](auto& body) { return On(header, body); }, event.body);
    if (!status.ok()) {
      return status;
    }
    // Inside a transaction the offset moves only at its commit, so positions stay resumable.
    if (!in_transaction_ && header.log_pos != 0 && header.type() != binlog::EventType::kRotate &&
        header.type() != binlog::EventType::kHeartbeat &&
        header.type() != binlog::EventType::kHeartbeatV2) {
      offset_ = header.log_pos;
      if (!pending_mariadb_gtid_ && !pending_mysql_gtid_) {
        safe_position_ = CurrentPosition();
      }
    }
    return Status::Ok();
  }

  Status On(const EventHeader&, binlog::SkippedEvent&) { return Status::Ok(); }
  Status On(const EventHeader&, binlog::FormatDescription&) { return Status::Ok(); }
  Status On(const EventHeader& header, binlog::XidEvent&) {
    Commit(header);
    return Status::Ok();
  }

  Status On(const EventHeader& header, binlog::RotateEvent& rotate) {
    (void)header;
    file_ = rotate.file;
    offset_ = rotate.position;
    if (!in_transaction_) {
      safe_position_ = CurrentPosition();
    }
    tables_.clear();
    return Status::Ok();
  }

  Status On(const EventHeader& header, binlog::HeartbeatEvent&) {
    if (!in_transaction_ && pending_.empty()) {
      PushHeartbeat(header.timestamp);
    }
    return Status::Ok();
  }

  Status On(const EventHeader&, binlog::GtidListEvent& list) {
    if (!list.gtids.empty()) {
      gtids_.Reset(list);
    }
    return Status::Ok();
  }

  Status On(const EventHeader& header, binlog::MariaDbGtidEvent& gtid) {
    pending_mariadb_gtid_ = gtid.gtid;
    if (!gtid.standalone()) {
      StartTransaction(header);
    }
    return Status::Ok();
  }

  Status On(const EventHeader&, binlog::MySqlGtidEvent& gtid) {
    pending_mysql_gtid_ = gtid;
    return Status::Ok();
  }

  Status On(const EventHeader& header, binlog::QueryEvent& query) {
    switch (binlog::ClassifyStatement(query.query)) {
      case StatementClass::kBegin:
        if (!in_transaction_) {
          StartTransaction(header);
        }
        return Status::Ok();
      case StatementClass::kCommit:
      case StatementClass::kRollback:
        Commit(header);
        return Status::Ok();
      case StatementClass::kDdl: {
        schema_cache_.clear();
        tables_.clear();
        const bool emit = DdlConcernsSelection(query);
        in_transaction_ = false;
        begin_emitted_ = false;
        Commit(header);
        if (emit) {
          ChangeEvent event;
          event.kind = ChangeKind::kDdl;
          event.statement = query.query;
          event.statement_schema = query.schema;
          event.position = safe_position_;
          event.source_commit_time_us = static_cast<int64_t>(header.timestamp) * kMicrosPerSecond;
          event.transaction_sequence = ++sequence_;
          pending_.push_back(std::move(event));
        }
        return Status::Ok();
      }
      case StatementClass::kOther:
        if (!in_transaction_) {
          Commit(header);  // a standalone statement: skipped, but the position moves past it
        }
        return Status::Ok();
    }
    return Status::Ok();
  }

  Result<std::shared_ptr<const TableSchema>> LoadSchema(const TableId& id, bool fresh) {
    if (!fresh) {
      auto found = schema_cache_.find(id);
      if (found != schema_cache_.end()) {
        return found->second;
      }
    }
    auto described = schemas_->Describe(id);
    if (!described.ok()) {
      return described.status().WithContext("reading the schema of " + id.ToString() +
                                            " for its binlog rows");
    }
    auto schema = std::make_shared<const TableSchema>(std::move(described).value());
    schema_cache_[id] = schema;
    return schema;
  }

  static Result<std::vector<ColumnPlan>> Plan(const TableMapEvent& map, const TableSchema& schema) {
    if (map.columns.size() != schema.columns.size()) {
      return engine::FailedPrecondition(
          "the binlog logs " + std::to_string(map.columns.size()) + " columns for " +
          schema.id.ToString() + " but the catalog has " + std::to_string(schema.columns.size()) +
          ": the table changed since these rows were logged");
    }
    std::vector<ColumnPlan> plans;
    plans.reserve(map.columns.size());
    for (size_t i = 0; i < map.columns.size(); ++i) {
      TANDEM_ASSIGN_OR_RETURN(ColumnPlan plan,
                              binlog::PlanColumn(map.columns[i], schema.columns[i]));
      plans.push_back(std::move(plan));
    }
    return plans;
  }

  Status On(const EventHeader&, TableMapEvent& map) {
    MappedTable mapped;
    const TableId id{map.schema, map.table};
    mapped.name = id.ToString();
    mapped.selected = IsSelected(id);
    if (mapped.selected) {
      TANDEM_ASSIGN_OR_RETURN(mapped.schema, LoadSchema(id, false));
      auto plans = Plan(map, *mapped.schema);
      if (!plans.ok() && plans.status().code() == engine::StatusCode::kFailedPrecondition) {
        // The cache may predate a change: read the catalog again before giving up.
        TANDEM_ASSIGN_OR_RETURN(mapped.schema, LoadSchema(id, true));
        plans = Plan(map, *mapped.schema);
        if (!plans.ok() && plans.status().code() == engine::StatusCode::kFailedPrecondition &&
            fallback_schemas_ != nullptr) {
          // Rows logged before a change the stream has not applied yet: the fallback (the
          // target) may still have the shape they were logged with.
          if (auto fallback = fallback_schemas_->Describe(id); fallback.ok()) {
            auto schema = std::make_shared<const TableSchema>(std::move(fallback).value());
            if (auto fitted = Plan(map, *schema); fitted.ok()) {
              schema_cache_[id] = schema;  // until the next DDL flushes the cache
              mapped.schema = std::move(schema);
              plans = std::move(fitted);
            }
          }
        }
        if (!plans.ok() && plans.status().code() == engine::StatusCode::kFailedPrecondition) {
          return engine::FailedPrecondition(
              plans.status().message() +
              " (the table's current definition cannot decode rows logged before it changed; "
              "restart the stream from a position after the change, with a new snapshot of " +
              id.ToString() + ")");
        }
      }
      if (!plans.ok()) {
        return plans.status();
      }
      mapped.plans = std::move(plans).value();
    }
    tables_[map.table_id] = std::move(mapped);
    return Status::Ok();
  }

  Status On(const EventHeader& header, binlog::RowsEvent& rows) {
    auto found = tables_.find(rows.table_id);
    if (found == tables_.end()) {
      return engine::Corruption("row event at log position " + std::to_string(header.log_pos) +
                                " refers to table id " + std::to_string(rows.table_id) +
                                " that no TABLE_MAP_EVENT bound");
    }
    const MappedTable& table = found->second;
    if (!in_transaction_) {
      StartTransaction(header);
    }
    if (!table.selected) {
      return Status::Ok();
    }
    TANDEM_RETURN_IF_ERROR(binlog::DecodeRows(rows, table.plans, table.name, &images_));
    if (images_.empty()) {
      return Status::Ok();
    }
    if (!begin_emitted_) {
      ChangeEvent begin;
      begin.kind = ChangeKind::kBegin;
      begin.position = begin_position_;
      begin.source_commit_time_us = static_cast<int64_t>(begin_time_) * kMicrosPerSecond;
      begin.transaction_sequence = ++sequence_;
      pending_.push_back(std::move(begin));
      begin_emitted_ = true;
    }
    const BinlogPosition position{file_, header.log_pos, gtids_.ToString()};
    const ChangeKind kind = rows.kind == RowsKind::kWrite    ? ChangeKind::kInsert
                            : rows.kind == RowsKind::kUpdate ? ChangeKind::kUpdate
                                                             : ChangeKind::kDelete;
    for (RowImage& image : images_) {
      ChangeEvent event;
      event.kind = kind;
      event.table = table.schema;
      event.before = std::move(image.before);
      event.after = std::move(image.after);
      event.position = position;
      event.source_commit_time_us = static_cast<int64_t>(header.timestamp) * kMicrosPerSecond;
      event.transaction_sequence = sequence_;
      event.foreign_key_checks_off = (rows.flags & binlog::kRowsNoForeignKeyChecks) != 0;
      pending_.push_back(std::move(event));
    }
    return Status::Ok();
  }

  // Constant after construction.
  const std::unique_ptr<binlog::BinlogTransport> transport_;
  const std::unique_ptr<TableSchemaSource> schemas_;
  const std::unique_ptr<TableSchemaSource> fallback_schemas_;  // may be null
  std::set<TableId> selected_tables_;
  std::set<std::string> selected_schemas_;  // of selected_tables_ and whole_schemas_
  std::set<std::string> whole_schemas_;     // every table of these is selected

  // Decoding state (the owner thread only).
  BinlogEventDecoder decoder_;
  GtidState gtids_;
  std::string file_;
  uint64_t offset_ = 0;
  std::unordered_map<uint64_t, MappedTable> tables_;  // by table id
  std::map<TableId, std::shared_ptr<const TableSchema>> schema_cache_;
  std::optional<binlog::MariaDbGtid> pending_mariadb_gtid_;
  std::optional<binlog::MySqlGtidEvent> pending_mysql_gtid_;
  bool in_transaction_ = false;
  bool begin_emitted_ = false;
  BinlogPosition begin_position_;
  uint32_t begin_time_ = 0;
  uint64_t sequence_ = 0;
  BinlogPosition safe_position_;            // after the last complete transaction
  BinlogPosition last_heartbeat_position_;  // of the last kHeartbeat queued
  std::deque<ChangeEvent> pending_;         // decoded, not yet returned
  std::vector<RowImage> images_;            // scratch for one rows event
  engine::Position position_;               // of the last event returned
  Status failure_;                          // sticky: once failed, always failed
};

// A number the server printed; 0 when it is not one.
uint64_t Number(const std::string& text) {
  uint64_t value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() ? value : 0;
}

std::string Setting(const TextRows& rows, size_t column) {
  if (rows.empty() || column >= rows[0].size() || !rows[0][column].has_value()) {
    return std::string();
  }
  return *rows[0][column];
}

Status CheckSource(MySqlConnection& connection) {
  const std::string where = connection.config().Redacted();
  const std::string action = "checking the binlog settings";
  TANDEM_ASSIGN_OR_RETURN(TextRows rows,
                          connection.QueryText("SELECT @@global.log_bin, @@global.binlog_format, "
                                               "@@global.binlog_row_image",
                                               action));
  const std::string log_bin = Setting(rows, 0);
  const std::string format = Setting(rows, 1);
  const std::string image = Setting(rows, 2);
  if (log_bin != "1" && log_bin != "ON") {
    return engine::Unsupported("binary logging is off on " + where +
                               ": start the server with log_bin (--log-bin) and "
                               "binlog_format=ROW, then take a new snapshot");
  }
  if (format != "ROW") {
    return engine::Unsupported("binlog_format is " + format + " on " + where +
                               ", so row changes are not logged as rows: set binlog_format=ROW "
                               "(SET GLOBAL binlog_format='ROW' and in the server config), then "
                               "take a new snapshot");
  }
  if (image != "FULL") {
    return engine::Unsupported("binlog_row_image is " + image + " on " + where +
                               ", so row events lack full before/after images: set "
                               "binlog_row_image=FULL (SET GLOBAL binlog_row_image='FULL' and in "
                               "the server config), then take a new snapshot");
  }
  TANDEM_ASSIGN_OR_RETURN(const GrantSet grants, ReadGrants(connection, action));
  std::vector<std::string> missing;
  for (const char* privilege : {"REPLICATION SLAVE", "REPLICATION CLIENT"}) {
    if (!grants.HasGlobal(privilege)) {
      missing.push_back(
          PrivilegeForServer(privilege, connection.is_mariadb(), connection.version_number()));
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& privilege : missing) {
      list += (list.empty() ? "" : ", ") + privilege;
    }
    return engine::PermissionDenied("the user of " + where + " lacks " + list +
                                    ", needed to read the binlog as a replica: GRANT " + list +
                                    " ON *.* TO the user");
  }
  return Status::Ok();
}

// Fills an empty start with the server's current position.
Status ResolveStart(MySqlConnection& connection, BinlogPosition* start) {
  const std::string action = "reading the current binlog position";
  TANDEM_ASSIGN_OR_RETURN(TextRows rows, connection.QueryText("SHOW MASTER STATUS", action));
  if (rows.empty()) {
    return engine::Unsupported("SHOW MASTER STATUS is empty on " + connection.config().Redacted() +
                               ": binary logging is off");
  }
  start->file = Setting(rows, 0);
  start->offset = Number(Setting(rows, 1));
  TANDEM_ASSIGN_OR_RETURN(
      TextRows gtid_rows,
      connection.QueryText(connection.is_mariadb() ? "SELECT @@global.gtid_binlog_pos"
                                                   : "SELECT @@global.gtid_executed",
                           action));
  start->gtid_set = Setting(gtid_rows, 0);
  return Status::Ok();
}

// Checks that `start.file` is still on the server and `start.offset` inside it.
Status CheckStartPresent(MySqlConnection& connection, const BinlogPosition& start) {
  TANDEM_ASSIGN_OR_RETURN(TextRows rows,
                          connection.QueryText("SHOW BINARY LOGS", "listing the binlogs"));
  for (const TextRow& row : rows) {
    if (row.size() >= 2 && row[0].has_value() && *row[0] == start.file) {
      const uint64_t size = row[1].has_value() ? Number(*row[1]) : 0;
      if (start.offset > size) {
        return engine::FailedPrecondition(
            "the checkpoint " + start.file + ":" + std::to_string(start.offset) +
            " lies beyond the end of that binlog (" + std::to_string(size) + " bytes) on " +
            connection.config().Redacted() +
            ": the source is not the server the checkpoint came from, or it lost its binlog");
      }
      return Status::Ok();
    }
  }
  const std::string first = rows.empty() || !rows[0][0].has_value() ? "none" : *rows[0][0];
  return engine::FailedPrecondition(
      "binlogs purged past the checkpoint: " + start.file + " is no longer on " +
      connection.config().Redacted() + " (oldest binlog: " + first +
      "); start again from a new snapshot, and keep binlogs longer (expire_logs_days / "
      "binlog_expire_logs_seconds)");
}

}  // namespace

Result<std::unique_ptr<engine::ChangeStream>> NewBinlogChangeStream(
    std::unique_ptr<binlog::BinlogTransport> transport, std::unique_ptr<TableSchemaSource> schemas,
    const BinlogPosition& start, const MySqlChangeStreamOptions& options,
    std::unique_ptr<TableSchemaSource> fallback_schemas) {
  auto gtids = GtidState::Parse(start.gtid_set);
  if (!gtids.ok()) {
    return gtids.status().WithContext("the start position's GTID set");
  }
  return std::unique_ptr<engine::ChangeStream>(std::make_unique<BinlogChangeStream>(
      std::move(transport), std::move(schemas), std::move(fallback_schemas), start,
      std::move(gtids).value(), options));
}

Result<BinlogPosition> ReadBinlogEnd(const engine::ConnectionConfig& config) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, MySqlConnection::Open(config));
  BinlogPosition end;
  TANDEM_RETURN_IF_ERROR(ResolveStart(*connection, &end));
  return end;
}

Status CheckBinlogSource(const engine::ConnectionConfig& config) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, MySqlConnection::Open(config));
  return CheckSource(*connection);
}

Result<std::unique_ptr<engine::ChangeStream>> OpenMySqlChangeStream(
    const engine::ConnectionConfig& config, const BinlogPosition& start,
    const MySqlChangeStreamOptions& options) {
  TANDEM_ASSIGN_OR_RETURN(auto connection, MySqlConnection::Open(config));
  TANDEM_RETURN_IF_ERROR(CheckSource(*connection));
  BinlogPosition effective = start;
  binlog::RplTransportOptions transport_options;
  if (effective.file.empty() && effective.gtid_set.empty()) {
    TANDEM_RETURN_IF_ERROR(ResolveStart(*connection, &effective));
  }
  if (!effective.file.empty()) {
    TANDEM_RETURN_IF_ERROR(CheckStartPresent(*connection, effective));
  } else {
    transport_options.use_gtid = true;
  }
  if (auto parsed = GtidState::Parse(effective.gtid_set); !parsed.ok()) {
    return parsed.status().WithContext("the start position's GTID set");
  }
  transport_options.server_id = options.server_id != 0
                                    ? options.server_id
                                    : 1000000000u + static_cast<uint32_t>(getpid() % 1000000000);
  transport_options.heartbeat = options.heartbeat;
  transport_options.max_queued_bytes = options.max_queued_bytes;
  TANDEM_ASSIGN_OR_RETURN(auto transport,
                          binlog::OpenMariaDbRplTransport(config, effective, transport_options));
  auto schemas = std::make_unique<CatalogSchemaSource>(std::move(connection));
  std::unique_ptr<TableSchemaSource> fallback;
  if (options.schema_fallback) {
    TANDEM_ASSIGN_OR_RETURN(auto fallback_connection,
                            MySqlConnection::Open(*options.schema_fallback));
    fallback = std::make_unique<CatalogSchemaSource>(std::move(fallback_connection));
  }
  return NewBinlogChangeStream(std::move(transport), std::move(schemas), effective, options,
                               std::move(fallback));
}

}  // namespace tandem::connectors::mysql
