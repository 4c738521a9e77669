#include "connectors/mysql/binlog/format_description.h"

#include "connectors/mysql/binlog/byte_reader.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;

namespace {
constexpr size_t kServerVersionSize = 50;
// binlog_version + server_version + create_timestamp + header_length.
constexpr size_t kFixedBodySize = 2 + kServerVersionSize + 4 + 1;
}  // namespace

uint8_t FormatDescription::PostHeaderLength(EventType type, uint8_t fallback) const {
  const size_t index = static_cast<size_t>(type) - 1;
  if (static_cast<size_t>(type) == 0 || index >= post_header_lengths.size()) {
    return fallback;
  }
  return post_header_lengths[index];
}

Result<FormatDescription> ParseFormatDescription(std::string_view event,
                                                 const EventHeader& header) {
  const std::string what = "FORMAT_DESCRIPTION_EVENT";
  if (event.size() < kEventHeaderSize + kFixedBodySize + 1 + kChecksumSize) {
    return engine::Corruption(
        what + " is truncated: " + std::to_string(event.size()) + " bytes, at least " +
        std::to_string(kEventHeaderSize + kFixedBodySize + 1 + kChecksumSize) + " expected");
  }
  FormatDescription description;
  const uint8_t algorithm = static_cast<uint8_t>(event[event.size() - kChecksumSize - 1]);
  if (algorithm != 0 && algorithm != 1) {
    return engine::Corruption(what + " names an unknown checksum algorithm " +
                              std::to_string(algorithm));
  }
  description.checksum = static_cast<ChecksumAlgorithm>(algorithm);
  if (description.checksum == ChecksumAlgorithm::kCrc32) {
    TANDEM_RETURN_IF_ERROR(VerifyChecksum(event, header));
  }
  ByteReader reader(
      event.substr(kEventHeaderSize, event.size() - kEventHeaderSize - kChecksumSize - 1), what);
  TANDEM_ASSIGN_OR_RETURN(description.binlog_version, reader.U16("binlog version"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view version,
                          reader.Bytes(kServerVersionSize, "server version"));
  description.server_version.assign(version.substr(0, version.find('\0')));
  TANDEM_RETURN_IF_ERROR(reader.Skip(4, "create timestamp"));
  TANDEM_ASSIGN_OR_RETURN(description.header_length, reader.U8("header length"));
  std::string_view lengths = reader.Rest();
  description.post_header_lengths.assign(lengths.begin(), lengths.end());
  if (description.binlog_version != 4) {
    return engine::Unsupported("binlog version " + std::to_string(description.binlog_version) +
                               " (server " + description.server_version +
                               "): only version 4 (MySQL 5.0+ / MariaDB) can be streamed");
  }
  if (description.header_length != kEventHeaderSize) {
    return engine::Unsupported("binlog event header length " +
                               std::to_string(description.header_length) + " (server " +
                               description.server_version + "): only 19 is supported");
  }
  return description;
}

}  // namespace tandem::connectors::mysql::binlog
