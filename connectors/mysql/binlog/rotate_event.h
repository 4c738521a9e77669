// File: connectors/mysql/binlog/rotate_event.h
//
// ROTATE_EVENT: the binlog continues in another file. The dump starts with an artificial one
// (log_pos 0) naming the file it reads.
//
//   bytes   field      meaning
//   8       position   offset in the next file where reading continues (4 = its first event)
//   rest    file name  not NUL-terminated
//
// HEARTBEAT_LOG_EVENT (the server is idle) has the current file name as its whole body and the
// current offset in the header's log_pos; it is decoded here too.
//
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace tandem::connectors::mysql::binlog {

struct RotateEvent {
  uint64_t position = 0;
  std::string file;
};

struct HeartbeatEvent {
  std::string file;
};

// `body` is the event without its header and checksum. Errors: kCorruption.
engine::Result<RotateEvent> ParseRotateEvent(std::string_view body);
engine::Result<HeartbeatEvent> ParseHeartbeatEvent(std::string_view body);

}  // namespace tandem::connectors::mysql::binlog
