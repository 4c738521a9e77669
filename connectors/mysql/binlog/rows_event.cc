#include "connectors/mysql/binlog/rows_event.h"

#include "connectors/mysql/binlog/byte_reader.h"
#include "connectors/mysql/binlog/compressed_payload.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;
using engine::Status;

namespace {

bool IsCompressed(EventType type) {
  const auto code = static_cast<uint8_t>(type);
  return code >= static_cast<uint8_t>(EventType::kWriteRowsCompressedV1) &&
         code <= static_cast<uint8_t>(EventType::kDeleteRowsCompressedV2);
}

bool AllSet(std::string_view bitmap, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    if (((static_cast<unsigned char>(bitmap[i / 8]) >> (i % 8)) & 1) == 0) {
      return false;
    }
  }
  return true;
}

Status ReadImage(ByteReader& reader, const std::vector<ColumnPlan>& plans, engine::Row* row) {
  const size_t count = plans.size();
  TANDEM_ASSIGN_OR_RETURN(std::string_view nulls, reader.Bytes((count + 7) / 8, "NULL bitmap"));
  row->clear();
  row->reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if ((static_cast<unsigned char>(nulls[i / 8]) >> (i % 8)) & 1) {
      row->emplace_back();
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(engine::Value value, ReadColumnValue(reader, plans[i]));
    row->push_back(std::move(value));
  }
  return Status::Ok();
}

}  // namespace

bool IsRowsEvent(EventType type) {
  switch (type) {
    case EventType::kWriteRowsV1:
    case EventType::kUpdateRowsV1:
    case EventType::kDeleteRowsV1:
    case EventType::kWriteRowsV2:
    case EventType::kUpdateRowsV2:
    case EventType::kDeleteRowsV2:
    case EventType::kWriteRowsCompressedV1:
    case EventType::kUpdateRowsCompressedV1:
    case EventType::kDeleteRowsCompressedV1:
    case EventType::kWriteRowsCompressedV2:
    case EventType::kUpdateRowsCompressedV2:
    case EventType::kDeleteRowsCompressedV2:
      return true;
    default:
      return false;
  }
}

RowsKind RowsKindOf(EventType type) {
  switch (type) {
    case EventType::kUpdateRowsV1:
    case EventType::kUpdateRowsV2:
    case EventType::kUpdateRowsCompressedV1:
    case EventType::kUpdateRowsCompressedV2:
      return RowsKind::kUpdate;
    case EventType::kDeleteRowsV1:
    case EventType::kDeleteRowsV2:
    case EventType::kDeleteRowsCompressedV1:
    case EventType::kDeleteRowsCompressedV2:
      return RowsKind::kDelete;
    default:
      return RowsKind::kWrite;
  }
}

Result<RowsEvent> ParseRowsEvent(std::string_view body, EventType type,
                                 uint8_t post_header_length) {
  const std::string what = EventTypeName(static_cast<uint8_t>(type));
  ByteReader reader(body, what);
  RowsEvent event;
  event.kind = RowsKindOf(type);
  if (post_header_length != 6 && post_header_length != 8 && post_header_length != 10) {
    return engine::Corruption(what + " has a post-header of " + std::to_string(post_header_length) +
                              " bytes (8 or 10 expected)");
  }
  const size_t table_id_size = post_header_length == 6 ? 4 : 6;
  TANDEM_ASSIGN_OR_RETURN(event.table_id, reader.UIntLE(table_id_size, "table id"));
  TANDEM_ASSIGN_OR_RETURN(event.flags, reader.U16("flags"));
  if (post_header_length == 10) {
    TANDEM_ASSIGN_OR_RETURN(uint16_t extra, reader.U16("extra data length"));
    if (extra < 2) {
      return reader.Error("extra data length " + std::to_string(extra) + " (at least 2)");
    }
    TANDEM_RETURN_IF_ERROR(reader.Skip(extra - 2u, "extra data"));
  }
  TANDEM_ASSIGN_OR_RETURN(event.column_count, reader.PackedInt("column count"));
  if (event.column_count == 0 || event.column_count > 4096) {
    return reader.Error("column count " + std::to_string(event.column_count));
  }
  const uint64_t bitmap_size = (event.column_count + 7) / 8;
  TANDEM_ASSIGN_OR_RETURN(std::string_view before, reader.Bytes(bitmap_size, "columns present"));
  event.present_before = std::string(before);
  if (event.kind == RowsKind::kUpdate) {
    TANDEM_ASSIGN_OR_RETURN(std::string_view after,
                            reader.Bytes(bitmap_size, "columns present after"));
    event.present_after = std::string(after);
  }
  if (IsCompressed(type)) {
    TANDEM_ASSIGN_OR_RETURN(event.rows, DecompressPayload(reader.Rest(), what));
  } else {
    event.rows = std::string(reader.Rest());
  }
  return event;
}

Status DecodeRows(const RowsEvent& event, const std::vector<ColumnPlan>& plans,
                  const std::string& table_name, std::vector<RowImage>* out) {
  out->clear();
  if (event.column_count != plans.size()) {
    return engine::FailedPrecondition(
        "row event for " + table_name + " has " + std::to_string(event.column_count) +
        " columns but its table map has " + std::to_string(plans.size()));
  }
  if (!AllSet(event.present_before, event.column_count) ||
      (event.kind == RowsKind::kUpdate && !AllSet(event.present_after, event.column_count))) {
    return engine::Unsupported("row event for " + table_name +
                               " logs a partial row image: set binlog_row_image=FULL on the "
                               "source (SET GLOBAL binlog_row_image='FULL' and in its config)");
  }
  const std::string what = "rows of " + table_name;
  ByteReader reader(event.rows, what);
  while (!reader.empty()) {
    RowImage image;
    const size_t row_start = reader.offset();
    Status status;
    if (event.kind == RowsKind::kWrite) {
      status = ReadImage(reader, plans, &image.after);
    } else {
      status = ReadImage(reader, plans, &image.before);
      if (status.ok() && event.kind == RowsKind::kUpdate) {
        status = ReadImage(reader, plans, &image.after);
      }
    }
    if (!status.ok()) {
      return status.WithContext("row " + std::to_string(out->size() + 1) + " (byte " +
                                std::to_string(row_start) + ")");
    }
    out->push_back(std::move(image));
  }
  return Status::Ok();
}

}  // namespace tandem::connectors::mysql::binlog
