#include "connectors/mysql/binlog/event_header.h"

#include <zlib.h>

#include "connectors/mysql/binlog/byte_reader.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;
using engine::Status;

std::string EventTypeName(uint8_t type_code) {
  switch (static_cast<EventType>(type_code)) {
    case EventType::kStartV3:
      return "START_EVENT_V3";
    case EventType::kQuery:
      return "QUERY_EVENT";
    case EventType::kStop:
      return "STOP_EVENT";
    case EventType::kRotate:
      return "ROTATE_EVENT";
    case EventType::kIntvar:
      return "INTVAR_EVENT";
    case EventType::kRand:
      return "RAND_EVENT";
    case EventType::kUserVar:
      return "USER_VAR_EVENT";
    case EventType::kFormatDescription:
      return "FORMAT_DESCRIPTION_EVENT";
    case EventType::kXid:
      return "XID_EVENT";
    case EventType::kBeginLoadQuery:
      return "BEGIN_LOAD_QUERY_EVENT";
    case EventType::kExecuteLoadQuery:
      return "EXECUTE_LOAD_QUERY_EVENT";
    case EventType::kTableMap:
      return "TABLE_MAP_EVENT";
    case EventType::kWriteRowsV1:
      return "WRITE_ROWS_EVENT_V1";
    case EventType::kUpdateRowsV1:
      return "UPDATE_ROWS_EVENT_V1";
    case EventType::kDeleteRowsV1:
      return "DELETE_ROWS_EVENT_V1";
    case EventType::kIncident:
      return "INCIDENT_EVENT";
    case EventType::kHeartbeat:
      return "HEARTBEAT_LOG_EVENT";
    case EventType::kIgnorable:
      return "IGNORABLE_LOG_EVENT";
    case EventType::kRowsQuery:
      return "ROWS_QUERY_LOG_EVENT";
    case EventType::kWriteRowsV2:
      return "WRITE_ROWS_EVENT";
    case EventType::kUpdateRowsV2:
      return "UPDATE_ROWS_EVENT";
    case EventType::kDeleteRowsV2:
      return "DELETE_ROWS_EVENT";
    case EventType::kMySqlGtid:
      return "GTID_LOG_EVENT";
    case EventType::kMySqlAnonymousGtid:
      return "ANONYMOUS_GTID_LOG_EVENT";
    case EventType::kMySqlPreviousGtids:
      return "PREVIOUS_GTIDS_LOG_EVENT";
    case EventType::kTransactionContext:
      return "TRANSACTION_CONTEXT_EVENT";
    case EventType::kViewChange:
      return "VIEW_CHANGE_EVENT";
    case EventType::kXaPrepare:
      return "XA_PREPARE_LOG_EVENT";
    case EventType::kPartialUpdateRows:
      return "PARTIAL_UPDATE_ROWS_EVENT";
    case EventType::kTransactionPayload:
      return "TRANSACTION_PAYLOAD_EVENT";
    case EventType::kHeartbeatV2:
      return "HEARTBEAT_LOG_EVENT_V2";
    case EventType::kAnnotateRows:
      return "ANNOTATE_ROWS_EVENT";
    case EventType::kBinlogCheckpoint:
      return "BINLOG_CHECKPOINT_EVENT";
    case EventType::kMariaDbGtid:
      return "GTID_EVENT";
    case EventType::kMariaDbGtidList:
      return "GTID_LIST_EVENT";
    case EventType::kStartEncryption:
      return "START_ENCRYPTION_EVENT";
    case EventType::kQueryCompressed:
      return "QUERY_COMPRESSED_EVENT";
    case EventType::kWriteRowsCompressedV1:
      return "WRITE_ROWS_COMPRESSED_EVENT_V1";
    case EventType::kUpdateRowsCompressedV1:
      return "UPDATE_ROWS_COMPRESSED_EVENT_V1";
    case EventType::kDeleteRowsCompressedV1:
      return "DELETE_ROWS_COMPRESSED_EVENT_V1";
    case EventType::kWriteRowsCompressedV2:
      return "WRITE_ROWS_COMPRESSED_EVENT";
    case EventType::kUpdateRowsCompressedV2:
      return "UPDATE_ROWS_COMPRESSED_EVENT";
    case EventType::kDeleteRowsCompressedV2:
      return "DELETE_ROWS_COMPRESSED_EVENT";
    case EventType::kUnknown:
      break;
  }
  return "event type " + std::to_string(type_code);
}

Result<EventHeader> ParseEventHeader(std::string_view event) {
  ByteReader reader(event, "binlog event header");
  EventHeader header;
  TANDEM_ASSIGN_OR_RETURN(header.timestamp, reader.U32("timestamp"));
  TANDEM_ASSIGN_OR_RETURN(header.type_code, reader.U8("type code"));
  TANDEM_ASSIGN_OR_RETURN(header.server_id, reader.U32("server id"));
  TANDEM_ASSIGN_OR_RETURN(header.event_size, reader.U32("event size"));
  TANDEM_ASSIGN_OR_RETURN(header.log_pos, reader.U32("log position"));
  TANDEM_ASSIGN_OR_RETURN(header.flags, reader.U16("flags"));
  if (header.event_size != event.size()) {
    return engine::Corruption(EventTypeName(header.type_code) + " at log position " +
                              std::to_string(header.log_pos) + " says it is " +
                              std::to_string(header.event_size) + " bytes long but " +
                              std::to_string(event.size()) + " bytes arrived");
  }
  return header;
}

uint32_t Crc32(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; events are far below 4 GiB, but feed in slices to be exact.
  while (!bytes.empty()) {
    const size_t chunk = std::min<size_t>(bytes.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(chunk));
    bytes.remove_prefix(chunk);
  }
  return static_cast<uint32_t>(crc);
}

Status VerifyChecksum(std::string_view event, const EventHeader& header) {
  if (event.size() < kEventHeaderSize + kChecksumSize) {
    return engine::Corruption(EventTypeName(header.type_code) + " at log position " +
                              std::to_string(header.log_pos) +
                              " is too short to carry its CRC32 checksum");
  }
  const std::string_view covered = event.substr(0, event.size() - kChecksumSize);
  ByteReader trailer(event.substr(event.size() - kChecksumSize), "checksum");
  TANDEM_ASSIGN_OR_RETURN(uint32_t stored, trailer.U32("crc32"));
  const uint32_t computed = Crc32(covered);
  if (stored != computed) {
    return engine::Corruption(
        EventTypeName(header.type_code) + " at log position " + std::to_string(header.log_pos) +
        " fails its CRC32 checksum (stored " + std::to_string(stored) + ", computed " +
        std::to_string(computed) + "): the event was damaged in transit or on disk");
  }
  return Status::Ok();
}

}  // namespace tandem::connectors::mysql::binlog
