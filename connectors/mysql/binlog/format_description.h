// File: connectors/mysql/binlog/format_description.h
//
// FORMAT_DESCRIPTION_EVENT: the first event of every binlog file (and the second of every dump,
// after the fake ROTATE). It says how the events that follow are laid out.
//
//   bytes   field                 meaning
//   2       binlog_version        4
//   50      server_version        NUL-padded, e.g. "10.11.6-MariaDB-log"
//   4       create_timestamp
//   1       header_length         19
//   n       post_header_lengths   one byte per event type code 1..n
//   1       checksum_algorithm    0 = none, 1 = CRC32 (servers with checksums, i.e. all we accept)
//   4       checksum              CRC32 of the event when the algorithm is CRC32
//
// The checksum algorithm byte sits 5 bytes from the end whatever n is, which is how a reader
// learns whether this and every later event carries a CRC32 trailer.
//
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/binlog/event_header.h"
#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

enum class ChecksumAlgorithm : uint8_t { kNone = 0, kCrc32 = 1 };

struct FormatDescription {
  uint16_t binlog_version = 4;
  std::string server_version;
  uint8_t header_length = kEventHeaderSize;
  std::vector<uint8_t> post_header_lengths;  // index = type code - 1
  ChecksumAlgorithm checksum = ChecksumAlgorithm::kNone;

  // The post-header length of `type`, or `fallback` when the event did not list it.
  uint8_t PostHeaderLength(EventType type, uint8_t fallback) const;
  bool is_mariadb() const { return server_version.find("MariaDB") != std::string::npos; }
};

// `event` is the whole event (header included). Verifies the event's own checksum when its
// algorithm is CRC32. Errors: kCorruption (truncated, unknown checksum algorithm, bad CRC),
// kUnsupported (binlog version other than 4, header length other than 19).
engine::Result<FormatDescription> ParseFormatDescription(std::string_view event,
                                                         const EventHeader& header);

}  // namespace tandem::connectors::mysql::binlog
