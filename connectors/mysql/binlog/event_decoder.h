// File: connectors/mysql/binlog/event_decoder.h
//
// BinlogEventDecoder: turns the raw bytes of one binlog event into its header and a typed body,
// keeping the state that later events depend on: the format description (post-header lengths)
// and whether events carry a CRC32 trailer, which is verified and stripped.
//
//   event type                                 body
//   FORMAT_DESCRIPTION_EVENT                   FormatDescription (format_description.h)
//   ROTATE_EVENT / HEARTBEAT_LOG_EVENT         RotateEvent / HeartbeatEvent (rotate_event.h)
//   QUERY_EVENT, QUERY_COMPRESSED_EVENT        QueryEvent (query_event.h)
//   XID_EVENT, GTID_EVENT, GTID_LIST_EVENT,    XidEvent, MariaDbGtidEvent, GtidListEvent,
//   GTID_LOG_EVENT (MySQL)                     MySqlGtidEvent (gtid_events.h)
//   TABLE_MAP_EVENT                            TableMapEvent (table_map_event.h)
//   *_ROWS_EVENT(_V1), *_ROWS_COMPRESSED_*     RowsEvent (rows_event.h; rows decoded later,
//                                              against the table's schema)
//   ANNOTATE_ROWS, BINLOG_CHECKPOINT, STOP,    SkippedEvent: nothing a row stream needs
//   PREVIOUS_GTIDS, ANONYMOUS_GTID, ROWS_QUERY,
//   INTVAR, RAND, USER_VAR, IGNORABLE, ...
//   TRANSACTION_PAYLOAD (MySQL compression),   kUnsupported, naming the server setting to change
//   PARTIAL_UPDATE_ROWS, XA_PREPARE, INCIDENT,
//   START_ENCRYPTION, LOAD events
//
// Thread safety: owned by one thread.
#pragma once

#include <optional>
#include <string_view>
#include <variant>

#include "connectors/mysql/binlog/event_header.h"
#include "connectors/mysql/binlog/format_description.h"
#include "connectors/mysql/binlog/gtid_events.h"
#include "connectors/mysql/binlog/query_event.h"
#include "connectors/mysql/binlog/rotate_event.h"
#include "connectors/mysql/binlog/rows_event.h"
#include "connectors/mysql/binlog/table_map_event.h"
#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

struct SkippedEvent {};

using EventBody =
    std::variant<SkippedEvent, FormatDescription, RotateEvent, HeartbeatEvent, QueryEvent, XidEvent,
                 TableMapEvent, RowsEvent, MariaDbGtidEvent, GtidListEvent, MySqlGtidEvent>;

struct DecodedEvent {
  EventHeader header;
  EventBody body;
};

class BinlogEventDecoder {
 public:
  // `checksum_before_format_description`: whether events that arrive before the first format
  // description carry a CRC32 trailer (true for a dump that negotiated CRC32 with
  // @master_binlog_checksum; false for a binlog file, which starts with the description).
  explicit BinlogEventDecoder(bool checksum_before_format_description = false)
      : checksum_(checksum_before_format_description) {}

  // Decodes one whole event. Errors: kCorruption (truncated, bad checksum, fields that do not
  // parse; the message names the event type and log position), kUnsupported (see above).
  engine::Result<DecodedEvent> Decode(std::string_view event);

  // The last format description, or nullptr before one arrived.
  const FormatDescription* format() const { return format_ ? &*format_ : nullptr; }
  bool checksum() const { return checksum_; }

 private:
  std::optional<FormatDescription> format_;
  bool checksum_;
};

// Splits a binlog file (4-byte magic 0xfe 'b' 'i' 'n', then events back to back) into events.
// Thread safety: a view over borrowed bytes; owned by one thread.
class BinlogFileReader {
 public:
  // Errors: kCorruption when `file` does not start with the magic.
  static engine::Result<BinlogFileReader> Open(std::string_view file);

  // The next whole event, or nullopt at the end. Errors: kCorruption for a truncated event or a
  // size smaller than a header.
  engine::Result<std::optional<std::string_view>> Next();
  size_t offset() const { return offset_; }

 private:
  explicit BinlogFileReader(std::string_view file) : file_(file), offset_(4) {}
  std::string_view file_;
  size_t offset_;
};

}  // namespace tandem::connectors::mysql::binlog
