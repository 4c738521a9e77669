#include "engine/change_event.h"

namespace tandem::engine {

std::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kBegin:
      return "begin";
    case ChangeKind::kInsert:
      return "insert";
    case ChangeKind::kUpdate:
      return "update";
    case ChangeKind::kDelete:
      return "delete";
    case ChangeKind::kCommit:
      return "commit";
    case ChangeKind::kDdl:
      return "ddl";
    case ChangeKind::kHeartbeat:
      return "heartbeat";
    case ChangeKind::kCommand:
      return "command";
  }
  return "unknown";
}

namespace {
size_t RowBytes(const Row& row) {
  size_t bytes = row.capacity() * sizeof(Value);
  for (const Value& value : row) {
    bytes += value.text().capacity() > 15 ? value.text().capacity() : 0;
  }
  return bytes;
}
}  // namespace

size_t ApproximateBytes(const ChangeEvent& event) {
  size_t bytes = sizeof(ChangeEvent) + RowBytes(event.before) + RowBytes(event.after) +
                 event.statement.size() + event.statement_schema.size();
  for (const std::string& argument : event.command) {
    bytes += sizeof(std::string) + argument.capacity();
  }
  for (const std::string& key : event.command_keys) {
    bytes += sizeof(std::string) + key.capacity();
  }
  if (const auto* binlog = std::get_if<BinlogPosition>(&event.position)) {
    bytes += binlog->file.size() + binlog->gtid_set.size();
  } else if (const auto* offset = std::get_if<ReplicationOffset>(&event.position)) {
    bytes += offset->replication_id.capacity();
  }
  return bytes;
}

}  // namespace tandem::engine
