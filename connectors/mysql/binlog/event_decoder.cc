#include "connectors/mysql/binlog/event_decoder.h"

#include "connectors/mysql/binlog/byte_reader.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;

namespace {

std::string Where(const EventHeader& header) {
  return EventTypeName(header.type_code) + " at log position " + std::to_string(header.log_pos);
}

}  // namespace

Result<DecodedEvent> BinlogEventDecoder::Decode(std::string_view event) {
  TANDEM_ASSIGN_OR_RETURN(EventHeader header, ParseEventHeader(event));
  DecodedEvent decoded;
  decoded.header = header;
  if (header.type() == EventType::kFormatDescription) {
    TANDEM_ASSIGN_OR_RETURN(FormatDescription description, ParseFormatDescription(event, header));
    checksum_ = description.checksum == ChecksumAlgorithm::kCrc32;
    format_ = description;
    decoded.body = std::move(description);
    return decoded;
  }
  std::string_view body = event.substr(kEventHeaderSize);
  if (checksum_) {
    TANDEM_RETURN_IF_ERROR(VerifyChecksum(event, header));
    body.remove_suffix(kChecksumSize);
  }
  auto post_header = [&](EventType type, uint8_t fallback) {
    return format_ ? format_->PostHeaderLength(type, fallback) : fallback;
  };
  Result<EventBody> parsed = EventBody(SkippedEvent{});
  auto with_context = [&](auto result) -> Result<EventBody> {
    if (!result.ok()) {
      return result.status().WithContext(Where(header));
    }
    return EventBody(std::move(result).value());
  };
  const EventType type = header.type();
  switch (type) {
    case EventType::kRotate:
      parsed = with_context(ParseRotateEvent(body));
      break;
    case EventType::kHeartbeat:
    case EventType::kHeartbeatV2:
      parsed = with_context(ParseHeartbeatEvent(body));
      break;
    case EventType::kQuery:
    case EventType::kQueryCompressed:
      parsed = with_context(ParseQueryEvent(body, type == EventType::kQueryCompressed));
      break;
    case EventType::kXid:
      parsed = with_context(ParseXidEvent(body));
      break;
    case EventType::kMariaDbGtid:
      parsed = with_context(ParseMariaDbGtidEvent(body, header.server_id));
      break;
    case EventType::kMariaDbGtidList:
      parsed = with_context(ParseGtidListEvent(body));
      break;
    case EventType::kMySqlGtid:
      parsed = with_context(ParseMySqlGtidEvent(body));
      break;
    case EventType::kTableMap: {
      const size_t id_size = post_header(EventType::kTableMap, 8) == 6 ? 4 : 6;
      parsed = with_context(ParseTableMapEvent(body, id_size));
      break;
    }
    case EventType::kTransactionPayload:
      return engine::Unsupported(Where(header) +
                                 ": the source compresses its binlog transactions; set "
                                 "binlog_transaction_compression=OFF on the source");
    case EventType::kPartialUpdateRows:
      return engine::Unsupported(Where(header) +
                                 ": the source logs partial JSON updates; set "
                                 "binlog_row_value_options='' on the source");
    case EventType::kXaPrepare:
      return engine::Unsupported(Where(header) +
                                 ": XA transactions cannot be streamed; commit them "
                                 "without XA PREPARE");
    case EventType::kIncident:
      return engine::FailedPrecondition(
          Where(header) +
          ": the source logged an incident (changes may be missing from its binlog); verify "
          "and resynchronise the target from a new snapshot");
    case EventType::kStartEncryption:
      return engine::Unsupported(Where(header) + ": encrypted binlog events cannot be read");
    case EventType::kBeginLoadQuery:
    case EventType::kExecuteLoadQuery:
      return engine::Unsupported(Where(header) +
                                 ": LOAD DATA logged as a statement; set binlog_format=ROW");
    default:
      if (IsRowsEvent(type)) {
        parsed = with_context(ParseRowsEvent(body, type, post_header(type, 8)));
      }
      break;
  }
  if (!parsed.ok()) {
    return parsed.status();
  }
  decoded.body = std::move(parsed).value();
  return decoded;
}

Result<BinlogFileReader> BinlogFileReader::Open(std::string_view file) {
  if (file.size() < 4 || file.substr(0, 4) != std::string_view("\xfe"
                                                               "bin",
                                                               4)) {
    return engine::Corruption("not a binlog file: it does not start with 0xfe 'bin'");
  }
  return BinlogFileReader(file);
}

Result<std::optional<std::string_view>> BinlogFileReader::Next() {
  if (offset_ == file_.size()) {
    return std::optional<std::string_view>();
  }
  ByteReader reader(file_.substr(offset_), "binlog file");
  TANDEM_RETURN_IF_ERROR(reader.Skip(9, "event header"));
  TANDEM_ASSIGN_OR_RETURN(uint32_t size, reader.U32("event size"));
  if (size < kEventHeaderSize || size > file_.size() - offset_) {
    return engine::Corruption("binlog file: event at offset " + std::to_string(offset_) +
                              " claims " + std::to_string(size) + " bytes; " +
                              std::to_string(file_.size() - offset_) + " remain");
  }
  std::string_view event = file_.substr(offset_, size);
  offset_ += size;
  return std::optional<std::string_view>(event);
}

}  // namespace tandem::connectors::mysql::binlog
