#include "connectors/mysql/binlog/rotate_event.h"

#include "connectors/mysql/binlog/byte_reader.h"

namespace tandem::connectors::mysql::binlog {

engine::Result<RotateEvent> ParseRotateEvent(std::string_view body) {
  ByteReader reader(body, "ROTATE_EVENT");
  RotateEvent event;
  TANDEM_ASSIGN_OR_RETURN(event.position, reader.U64("position"));
  event.file = std::string(reader.Rest());
  if (event.file.empty()) {
    return reader.Error("empty file name");
  }
  return event;
}

engine::Result<HeartbeatEvent> ParseHeartbeatEvent(std::string_view body) {
  HeartbeatEvent event;
  event.file = std::string(body);
  return event;
}

}  // namespace tandem::connectors::mysql::binlog
