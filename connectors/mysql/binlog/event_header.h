// File: connectors/mysql/binlog/event_header.h
//
// The common header of every binlog event (binlog version 4), the event type codes, and the
// CRC32 checksum trailer.
//
//   bytes  field       meaning
//   4      timestamp   seconds since the epoch when the statement began (UTC)
//   1      type_code   EventType
//   4      server_id   the server that originally logged the event
//   4      event_size  header + body + checksum, in bytes
//   4      log_pos     offset of the next event in the binlog file (0 for artificial events)
//   2      flags       LOG_EVENT_*_F (0x20 = artificial)
//   ...    body
//   4      crc32       only when the binlog checksum is CRC32 (zlib's CRC-32 over header + body)
//
// Thread safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

inline constexpr size_t kEventHeaderSize = 19;
inline constexpr size_t kChecksumSize = 4;
inline constexpr uint16_t kArtificialEventFlag = 0x20;

enum class EventType : uint8_t {
  kUnknown = 0,
  kStartV3 = 1,
  kQuery = 2,
  kStop = 3,
  kRotate = 4,
  kIntvar = 5,
  kRand = 13,
  kUserVar = 14,
  kFormatDescription = 15,
  kXid = 16,
  kBeginLoadQuery = 17,
  kExecuteLoadQuery = 18,
  kTableMap = 19,
  kWriteRowsV1 = 23,
  kUpdateRowsV1 = 24,
  kDeleteRowsV1 = 25,
  kIncident = 26,
  kHeartbeat = 27,
  kIgnorable = 28,
  kRowsQuery = 29,
  kWriteRowsV2 = 30,
  kUpdateRowsV2 = 31,
  kDeleteRowsV2 = 32,
  kMySqlGtid = 33,
  kMySqlAnonymousGtid = 34,
  kMySqlPreviousGtids = 35,
  kTransactionContext = 36,
  kViewChange = 37,
  kXaPrepare = 38,
  kPartialUpdateRows = 39,
  kTransactionPayload = 40,
  kHeartbeatV2 = 41,
  kAnnotateRows = 160,
  kBinlogCheckpoint = 161,
  kMariaDbGtid = 162,
  kMariaDbGtidList = 163,
  kStartEncryption = 164,
  kQueryCompressed = 165,
  kWriteRowsCompressedV1 = 166,
  kUpdateRowsCompressedV1 = 167,
  kDeleteRowsCompressedV1 = 168,
  kWriteRowsCompressedV2 = 169,
  kUpdateRowsCompressedV2 = 170,
  kDeleteRowsCompressedV2 = 171,
};

// "TABLE_MAP_EVENT", or "event type 200" for codes not listed.
std::string EventTypeName(uint8_t type_code);

struct EventHeader {
  uint32_t timestamp = 0;
  uint8_t type_code = 0;
  uint32_t server_id = 0;
  uint32_t event_size = 0;
  uint32_t log_pos = 0;
  uint16_t flags = 0;

  EventType type() const { return static_cast<EventType>(type_code); }
  bool artificial() const { return (flags & kArtificialEventFlag) != 0 || log_pos == 0; }
};

// Reads the header of `event` (the whole event as sent: header, body, checksum if any) and checks
// that event_size equals event.size(). Errors: kCorruption.
engine::Result<EventHeader> ParseEventHeader(std::string_view event);

// CRC-32 (zlib's polynomial) of `bytes`.
uint32_t Crc32(std::string_view bytes);

// Checks the 4-byte trailer of `event` against the CRC-32 of everything before it.
// Errors: kCorruption naming the event type and log_pos when it does not match or is missing.
engine::Status VerifyChecksum(std::string_view event, const EventHeader& header);

}  // namespace tandem::connectors::mysql::binlog
