#include "connectors/redis/redis_reply.h"

namespace tandem::connectors::redis {

std::string_view ReplyTypeName(ReplyType type) {
  switch (type) {
    case ReplyType::kString:
      return "string";
    case ReplyType::kStatus:
      return "status";
    case ReplyType::kError:
      return "error";
    case ReplyType::kInteger:
      return "integer";
    case ReplyType::kNil:
      return "nil";
    case ReplyType::kArray:
      return "array";
  }
  return "unknown";
}

std::string Reply::DebugString() const {
  switch (type) {
    case ReplyType::kString:
    case ReplyType::kStatus:
      return text;
    case ReplyType::kError:
      return "(error) " + text;
    case ReplyType::kInteger:
      return "(integer) " + std::to_string(integer);
    case ReplyType::kNil:
      return "(nil)";
    case ReplyType::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) {
          out += ", ";
        }
        out += elements[i].DebugString();
      }
      return out + "]";
    }
  }
  return "(unknown)";
}

}  // namespace tandem::connectors::redis
