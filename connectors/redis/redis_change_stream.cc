#include "connectors/redis/redis_change_stream.h"

#include <cassert>
#include <charconv>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/redis/redis_command.h"

namespace tandem::connectors::redis {
namespace {

using engine::ChangeEvent;
using engine::ChangeKind;
using engine::Result;
using engine::Status;

}  // namespace

RedisChangeStream::RedisChangeStream(std::unique_ptr<ReplicationClient> client,
                                     engine::ReplicationOffset start, CommandKeyTable keys)
    : client_(std::move(client)),
      keys_(std::move(keys)),
      position_(std::move(start)),
      database_(position_.database) {
  // The caller positioned the client where `start` says (the header's REQUIRES).
  assert(client_->offset() == position_.offset);
  assert(client_->replication_id() == position_.replication_id);
}

RedisChangeStream::~RedisChangeStream() = default;

Result<std::optional<ChangeEvent>> RedisChangeStream::Next(std::chrono::milliseconds timeout) {
  if (!pending_.empty()) {
    ChangeEvent event = std::move(pending_.front());
    pending_.pop_front();
    returned_any_ = true;
    position_.offset = std::get<engine::ReplicationOffset>(event.position).offset;
    position_.database = std::get<engine::ReplicationOffset>(event.position).database;
    return std::optional<ChangeEvent>(std::move(event));
  }
  if (int64_t acknowledged = acknowledged_.load(std::memory_order_relaxed); acknowledged >= 0) {
    client_->SetAcknowledged(acknowledged);
  }
  // Positions are built from the stream's id; position_.replication_id never changes after
  // construction (Acknowledge reads it from other threads).
  auto at = [this](int64_t offset) {
    engine::ReplicationOffset position;
    position.replication_id = position_.replication_id;
    position.offset = offset;
    position.database = database_;
    return position;
  };
  auto event_of = [&](ChangeKind kind, int64_t offset) {
    ChangeEvent event;
    event.kind = kind;
    event.position = at(offset);
    event.transaction_sequence = transaction_sequence_;
    return event;
  };
  auto returned = [this](ChangeEvent event) {
    returned_any_ = true;
    const auto& position = std::get<engine::ReplicationOffset>(event.position);
    position_.offset = position.offset;
    position_.database = position.database;
    return std::optional<ChangeEvent>(std::move(event));
  };

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int64_t before = client_->offset();
    TANDEM_ASSIGN_OR_RETURN(std::optional<ReplicatedCommand> next,
                            client_->NextCommand(std::max(left, std::chrono::milliseconds(0))));
    if (!next.has_value()) {
      // Idle. Bytes consumed without an event (SELECT, GETACK) still move the resume point: a
      // heartbeat carries it, outside a transaction only.
      if (!in_multi_ && client_->offset() != position_.offset) {
        return returned(event_of(ChangeKind::kHeartbeat, client_->offset()));
      }
      return std::optional<ChangeEvent>();
    }
    std::vector<std::string>& arguments = next->arguments;
    const std::string& name = arguments[0];
    const int64_t after = next->offset_after;
    if (EqualsIgnoreCase(name, "select")) {
      int database = -1;
      const std::string* text = arguments.size() == 2 ? &arguments[1] : nullptr;
      if (text == nullptr ||
          std::from_chars(text->data(), text->data() + text->size(), database).ptr !=
              text->data() + text->size() ||
          database < 0) {
        return engine::Corruption(client_->server() + " replicated a SELECT without a database " +
                                  "number at offset " + std::to_string(before));
      }
      database_ = database;
      continue;
    }
    if (EqualsIgnoreCase(name, "ping")) {
      if (in_multi_) {
        continue;
      }
      return returned(event_of(ChangeKind::kHeartbeat, after));
    }
    if (EqualsIgnoreCase(name, "multi")) {
      if (in_multi_) {
        return engine::Corruption(client_->server() + " replicated a MULTI inside a MULTI at " +
                                  "offset " + std::to_string(before));
      }
      in_multi_ = true;
      ++transaction_sequence_;
      return returned(event_of(ChangeKind::kBegin, after));
    }
    if (EqualsIgnoreCase(name, "exec")) {
      if (!in_multi_) {
        return engine::Corruption(client_->server() + " replicated an EXEC without a MULTI at " +
                                  "offset " + std::to_string(before));
      }
      in_multi_ = false;
      return returned(event_of(ChangeKind::kCommit, after));
    }
    if (EqualsIgnoreCase(name, "replconf")) {
      continue;  // GETACK is answered by the client; nothing else of it is data
    }
    ChangeEvent command;
    if (!in_multi_) {
      ++transaction_sequence_;
    }
    command = event_of(ChangeKind::kCommand, after);
    command.database = database_;
    if (auto keys = keys_.Keys(arguments); keys.has_value()) {
      command.command_keys = std::move(*keys);
      command.command_keys_known = true;
    }
    command.command = std::move(arguments);
    if (in_multi_) {
      return returned(std::move(command));
    }
    // A command outside MULTI is a transaction of its own: kBegin (where it starts), the
    // command, kCommit (after it: the resume point).
    ChangeEvent begin = event_of(ChangeKind::kBegin, before);
    pending_.push_back(std::move(command));
    pending_.push_back(event_of(ChangeKind::kCommit, after));
    return returned(std::move(begin));
  }
}

engine::Position RedisChangeStream::position() const {
  if (!returned_any_) {
    return std::monostate();
  }
  return position_;
}

void RedisChangeStream::Acknowledge(const engine::Position& durable) {
  const auto* offset = std::get_if<engine::ReplicationOffset>(&durable);
  if (offset == nullptr || offset->replication_id != position_.replication_id) {
    return;  // not of this stream's history: nothing the primary could be told
  }
  int64_t current = acknowledged_.load(std::memory_order_relaxed);
  while (offset->offset > current &&
         !acknowledged_.compare_exchange_weak(current, offset->offset, std::memory_order_relaxed)) {
  }
}

Result<bool> RedisChangeStream::HasReadThrough(const engine::Position& end) const {
  // Offsets are compared across replication ids: Redis keeps master_repl_offset counting on when
  // it changes its id (a failover's psync2 +CONTINUE, a backlog freed and made anew), so the end
  // read under the old id is still a point of this stream's offsets.
  const auto* offset = std::get_if<engine::ReplicationOffset>(&end);
  if (offset == nullptr) {
    return engine::InvalidArgument("cannot order " + engine::Serialize(end) +
                                   " against the replication stream of " + client_->server() +
                                   " (" + engine::Serialize(engine::Position(position_)) + ")");
  }
  return pending_.empty() && client_->offset() >= offset->offset;
}

}  // namespace tandem::connectors::redis
