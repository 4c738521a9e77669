#include "connectors/redis/redis_reply_parser.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <memory>
#include <new>
#include <string>

namespace tandem::connectors::redis {
namespace {

// hiredis calls these while it parses. A reply nested in an array is built in place in its
// parent's `elements`, which CreateArray sized up front, so the pointer returned for it stays
// valid until the parent is complete; only a root reply is heap-allocated, and hiredis hands it
// back from redisReaderGetReply (or frees it with FreeObject when the stream turns out malformed).
// Returning null signals out-of-memory to hiredis.
Reply* Place(const redisReadTask* task, Reply&& reply) noexcept {
  try {
    if (task->parent != nullptr) {
      auto* parent = static_cast<Reply*>(task->parent->obj);
      Reply& slot = parent->elements[static_cast<size_t>(task->idx)];
      slot = std::move(reply);
      return &slot;
    }
    return new Reply(std::move(reply));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void* CreateString(const redisReadTask* task, char* data, size_t length) {
  try {
    std::string text(data, length);
    switch (task->type) {
      case REDIS_REPLY_ERROR:
        return Place(task, Reply::Error(std::move(text)));
      case REDIS_REPLY_STATUS:
        return Place(task, Reply::Status(std::move(text)));
      default:
        return Place(task, Reply::String(std::move(text)));
    }
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void* CreateArray(const redisReadTask* task, int elements) {
  try {
    return Place(task, Reply::Array(std::vector<Reply>(static_cast<size_t>(elements))));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void* CreateInteger(const redisReadTask* task, long long value) {
  return Place(task, Reply::Integer(value));
}

void* CreateNil(const redisReadTask* task) { return Place(task, Reply::Nil()); }

// Called by hiredis only for a root reply (nested ones belong to their parent).
void FreeObject(void* object) { delete static_cast<Reply*>(object); }

redisReplyObjectFunctions kReplyFunctions = {CreateString, CreateArray, CreateInteger, CreateNil,
                                             FreeObject};

}  // namespace

ReplyParser::ReplyParser() : reader_(redisReaderCreateWithFunctions(&kReplyFunctions)) {
  if (reader_ == nullptr) {
    throw std::bad_alloc();
  }
}

ReplyParser::~ReplyParser() { redisReaderFree(reader_); }

engine::Status ReplyParser::Feed(const char* data, size_t size) {
  if (reader_->err != 0) {
    return engine::Corruption(std::string("Redis protocol error: ") + reader_->errstr);
  }
  if (redisReaderFeed(reader_, data, size) != REDIS_OK) {
    return engine::Corruption(std::string("Redis protocol error: ") + reader_->errstr);
  }
  return engine::Status::Ok();
}

engine::Result<std::optional<Reply>> ReplyParser::Next() {
  void* object = nullptr;
  if (redisReaderGetReply(reader_, &object) != REDIS_OK) {
    return engine::Corruption(std::string("Redis protocol error: ") + reader_->errstr);
  }
  if (object == nullptr) {
    return std::optional<Reply>();
  }
  std::unique_ptr<Reply> reply(static_cast<Reply*>(object));
  return std::optional<Reply>(std::move(*reply));
}

bool ReplyParser::has_partial_input() const {
  // hiredis consumes bytes as it goes, so "every byte consumed" does not mean "between replies":
  // a reply has begun when its type byte was read (rstack[0].type is set) or an array is being
  // filled (ridx > 0). An idle reader has ridx -1, or 0 with no type after an attempt found
  // nothing.
  if (reader_->buf != nullptr && reader_->pos < reader_->len) {
    return true;
  }
  return reader_->ridx > 0 || (reader_->ridx == 0 && reader_->rstack[0].type != -1);
}

}  // namespace tandem::connectors::redis
