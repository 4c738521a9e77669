// File: connectors/mysql/binlog/rows_event.h
//
// WRITE/UPDATE/DELETE_ROWS events (v1: 23-25, MariaDB's default; v2: 30-32, MySQL's) and
// MariaDB's compressed forms (166-168 v1, 169-171 v2), whose row data is a compressed payload
// (compressed_payload.h).
//
//   post-header (8 bytes v1, 10 bytes v2)
//   6    table_id            as mapped by the last TABLE_MAP_EVENT with this id
//   2    flags               0x01 end of statement, 0x02 foreign key checks off, 0x04 unique
//                            checks off, 0x08 complete rows
//   v2:  2 extra data length (including these 2 bytes), then the extra data (skipped)
//   body
//   lenenc  column count n
//   (n+7)/8 columns present in the before image (DELETE, UPDATE) or after image (WRITE)
//   UPDATE: (n+7)/8 columns present in the after image
//   rows: each image is a NULL bitmap over the present columns ((present+7)/8 bytes) followed by
//   the non-NULL values of the present columns in column order (column_value.h). UPDATE rows
//   hold a before image and then an after image.
//
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/binlog/column_value.h"
#include "connectors/mysql/binlog/event_header.h"
#include "engine/status.h"
#include "engine/value.h"

namespace tandem::connectors::mysql::binlog {

inline constexpr uint16_t kRowsNoForeignKeyChecks = 0x02;

enum class RowsKind { kWrite, kUpdate, kDelete };

// Whether `type` is a rows event this decoder handles, and which.
bool IsRowsEvent(EventType type);
RowsKind RowsKindOf(EventType type);

struct RowsEvent {
  RowsKind kind = RowsKind::kWrite;
  uint64_t table_id = 0;
  uint16_t flags = 0;
  uint64_t column_count = 0;
  std::string present_before;  // bitmap; the after-image bitmap for WRITE
  std::string present_after;   // UPDATE only
  std::string rows;            // the row data (decompressed for compressed events)
};

struct RowImage {
  engine::Row before;  // DELETE, UPDATE
  engine::Row after;   // WRITE, UPDATE
};

// `body` is the event without header and checksum; `post_header_length` from the format
// description (8 or 10; 6 or 8 with 4-byte table ids). Errors: kCorruption, kUnsupported.
engine::Result<RowsEvent> ParseRowsEvent(std::string_view body, EventType type,
                                         uint8_t post_header_length);

// Decodes every row of `event` with one plan per column. Images must be full: every column
// present. Errors: kCorruption naming the table and row; kUnsupported when an image is partial
// (binlog_row_image is not FULL) or the column count differs from the plans.
engine::Status DecodeRows(const RowsEvent& event, const std::vector<ColumnPlan>& plans,
                          const std::string& table_name, std::vector<RowImage>* out);

}  // namespace tandem::connectors::mysql::binlog
