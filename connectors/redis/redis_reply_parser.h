// File: connectors/redis/redis_reply_parser.h
//
// ReplyParser: turns the bytes a Redis server sends into Reply trees. It is hiredis's protocol
// reader (redisReader) with object callbacks that build tandem's Reply directly, so a reply is
// allocated once and owned by value; the parser owns its redisReader and frees it.
//
// Bytes may arrive in any split: Feed() what was read, then call Next() until it returns no reply.
// A malformed stream is kCorruption and the parser stays failed (a RESP stream cannot be resynced).
// Nesting is limited by hiredis 0.14 to 7 levels of arrays, far more than any command tandem uses.
//
// Thread safety: owned by one thread.
#pragma once

#include <cstddef>
#include <optional>

#include "connectors/redis/redis_reply.h"
#include "engine/status.h"

struct redisReader;

namespace tandem::connectors::redis {

class ReplyParser {
 public:
  ReplyParser();
  ~ReplyParser();
  ReplyParser(const ReplyParser&) = delete;
  ReplyParser& operator=(const ReplyParser&) = delete;

  // Appends bytes received from the server. Errors: kCorruption when the parser already failed.
  engine::Status Feed(const char* data, size_t size);

  // The next complete reply, or std::nullopt when more bytes are needed.
  // Errors: kCorruption naming the protocol problem (the stream is unusable afterwards).
  engine::Result<std::optional<Reply>> Next();

  // Whether bytes were fed that do not yet form a complete reply.
  bool has_partial_input() const;

 private:
  redisReader* reader_;  // owned; never null (allocation failure throws std::bad_alloc)
};

}  // namespace tandem::connectors::redis
