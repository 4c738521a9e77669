#include "connectors/redis/redis_change_applier.h"

#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_errors.h"
#include "engine/position.h"

namespace tandem::connectors::redis {
namespace {

using engine::Result;
using engine::Status;
using engine::StatusCode;

constexpr std::string_view kCheckpointPrefix = "_tandem:checkpoint:";
constexpr std::string_view kAppliedPrefix = "_tandem:applied:";

template <typename Integer>
bool ParseInteger(std::string_view text, Integer* out) {
  if (text.empty()) {
    return false;
  }
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

// Appends `key` for a one-line message: printable ASCII as is, other bytes as \xNN, cut after 200
// bytes.
void AppendPrintableKey(std::string_view key, std::string* out) {
  constexpr size_t kMaxShown = 200;
  for (size_t i = 0; i < key.size() && i < kMaxShown; ++i) {
    auto byte = static_cast<unsigned char>(key[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out->push_back(static_cast<char>(byte));
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out->append("\\x");
      out->push_back(kHex[byte >> 4]);
      out->push_back(kHex[byte & 0xf]);
    }
  }
  if (key.size() > kMaxShown) {
    out->append("...");
  }
}

}  // namespace

std::string CheckpointKey(std::string_view checkpoint_name) {
  std::string key(kCheckpointPrefix);
  key += checkpoint_name;
  return key;
}

std::string StreamLockKey(std::string_view stream) {
  std::string key(kTandemKeyPrefix);
  key += "lock:";
  key += stream;
  return key;
}

bool IsTandemBookkeepingKey(int database, std::string_view key) {
  if (database != 0 || !key.starts_with(kTandemKeyPrefix)) {
    return false;
  }
  const std::string_view rest = key.substr(kTandemKeyPrefix.size());
  for (std::string_view kind : {"checkpoint:", "lock:", "loading:", "applied:"}) {
    if (rest.starts_with(kind)) {
      return true;
    }
  }
  return false;
}

Argv CheckpointWriteCommand(const engine::Checkpoint& checkpoint) {
  std::string value = engine::Serialize(checkpoint.position);
  value += '\n';
  value += std::to_string(checkpoint.transaction_sequence);
  value += '\n';
  value += std::to_string(checkpoint.events_applied);
  return {"SET", CheckpointKey(checkpoint.stream), std::move(value)};
}

Result<engine::Checkpoint> ParseCheckpointValue(std::string_view name, std::string_view value) {
  auto corrupt = [&](std::string_view what) {
    return engine::Corruption("the checkpoint " + CheckpointKey(name) + " on the target " +
                              std::string(what) +
                              " (it is not a value tandem wrote: delete the key to start over)");
  };
  size_t first = value.find('\n');
  size_t second = first == std::string_view::npos ? first : value.find('\n', first + 1);
  if (second == std::string_view::npos) {
    return corrupt("is not three lines (position, transaction sequence, events applied)");
  }
  engine::Checkpoint checkpoint;
  checkpoint.stream = std::string(name);
  auto position = engine::ParsePosition(value.substr(0, first));
  if (!position.ok()) {
    return corrupt("holds a position that does not parse: " + position.status().message());
  }
  checkpoint.position = std::move(*position);
  if (!ParseInteger(value.substr(first + 1, second - first - 1),
                    &checkpoint.transaction_sequence)) {
    return corrupt("holds a transaction sequence that is not a number");
  }
  if (!ParseInteger(value.substr(second + 1), &checkpoint.events_applied)) {
    return corrupt("holds an applied-events count that is not a number");
  }
  return checkpoint;
}

RedisChangeApplier::RedisChangeApplier(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}

RedisChangeApplier::~RedisChangeApplier() = default;

Result<std::unique_ptr<RedisChangeApplier>> RedisChangeApplier::Open(
    const engine::ConnectionConfig& target, const std::string& stream,
    const std::string& lock_holder) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, Connection::Open(target));
  std::unique_ptr<RedisChangeApplier> applier(new RedisChangeApplier(std::move(connection)));
  if (!stream.empty()) {
    applier->applied_key_ = std::string(kAppliedPrefix) + stream;
    if (!lock_holder.empty()) {
      applier->lock_key_ = StreamLockKey(stream);
      applier->lock_holder_ = lock_holder;
    }
  }
  // Connection::Open selected the URI's database.
  applier->selected_database_ = target.RedisDatabase();
  return applier;
}

Status RedisChangeApplier::Begin() {
  if (open_) {
    return engine::Internal("Begin() on the Redis applier for " + connection_->server() +
                            " with a transaction already open");
  }
  if (!applied_key_.empty() && !applied_loaded_) {
    TANDEM_RETURN_IF_ERROR(LoadAppliedTransactions());
  }
  // Queued in the connection's send buffer: it goes out with the first command or at Commit.
  TANDEM_RETURN_IF_ERROR(connection_->Send({"MULTI"}));
  open_ = true;
  committing_.clear();
  queued_ = 0;
  queued_text_.clear();  // keeps its capacity: no allocation per command once warm
  queued_ends_.clear();
  return Status::Ok();
}

Status RedisChangeApplier::SendQueued(const Argv& argv, std::string_view key) {
  TANDEM_RETURN_IF_ERROR(connection_->Send(argv));
  ++queued_;
  queued_text_.append(CommandName(argv));
  if (!key.empty()) {
    queued_text_.append(" on key '");
    AppendPrintableKey(key, &queued_text_);
    queued_text_.push_back('\'');
  }
  queued_ends_.push_back(queued_text_.size());
  return Status::Ok();
}

Status RedisChangeApplier::SelectInTransaction(int database) {
  if (database == selected_database_) {
    return Status::Ok();
  }
  TANDEM_RETURN_IF_ERROR(SendQueued({"SELECT", std::to_string(database)}, {}));
  // Takes effect at EXEC; a DISCARD or a failed commit makes the database unknown again.
  selected_database_ = database;
  return Status::Ok();
}

Status RedisChangeApplier::Apply(std::span<const engine::ChangeEvent> changes) {
  if (!open_) {
    return engine::Internal("Apply() on the Redis applier for " + connection_->server() +
                            " without Begin()");
  }
  for (const engine::ChangeEvent& change : changes) {
    if (change.kind != engine::ChangeKind::kCommand || change.command.empty()) {
      return engine::Internal("the Redis applier for " + connection_->server() + " was given a " +
                              std::string(engine::ChangeKindName(change.kind)) +
                              " event; it applies only commands");
    }
    if (!in_transaction_ || change.transaction_sequence != current_sequence_) {
      // A new source transaction, named by the offset after its first command.
      in_transaction_ = true;
      current_sequence_ = change.transaction_sequence;
      const auto* at = std::get_if<engine::ReplicationOffset>(&change.position);
      current_skipped_ = at != nullptr && applied_.count(at->offset) != 0;
      if (current_skipped_) {
        ++skipped_transactions_;
      } else if (at != nullptr && !applied_key_.empty()) {
        committing_.push_back(at->offset);
      }
    }
    if (current_skipped_) {
      continue;
    }
    bool bookkeeping = false;
    for (const std::string& key : change.command_keys) {
      bookkeeping = bookkeeping || IsTandemBookkeepingKey(change.database, key);
    }
    if (bookkeeping) {
      continue;  // an upstream tandem sync's state (redis_snapshot_loader.h)
    }
    TANDEM_RETURN_IF_ERROR(SelectInTransaction(change.database));
    std::string_view key =
        change.command_keys.empty() ? std::string_view() : std::string_view(change.command_keys[0]);
    TANDEM_RETURN_IF_ERROR(SendQueued(change.command, key));
  }
  return Status::Ok();
}

void RedisChangeApplier::Close() {
  open_ = false;
  queued_ = 0;
  in_transaction_ = false;
}

std::string RedisChangeApplier::QueuedCommand(size_t index) const {
  size_t begin = index == 0 ? 0 : queued_ends_[index - 1];
  return queued_text_.substr(begin, queued_ends_[index] - begin);
}

Status RedisChangeApplier::Commit(const engine::Checkpoint& checkpoint) {
  if (!open_) {
    return engine::Internal("Commit() on the Redis applier for " + connection_->server() +
                            " without Begin()");
  }
  // From here on, a failure leaves the selected database unknown (EXEC may not have run).
  Status sent = SelectInTransaction(0);
  if (sent.ok()) {
    Argv write = CheckpointWriteCommand(checkpoint);
    sent = SendQueued(write, write[1]);
  }
  if (sent.ok() && !lock_key_.empty()) {
    sent = SendQueued({"SET", lock_key_, lock_holder_}, lock_key_);
  }
  if (sent.ok() && !applied_key_.empty()) {
    if (!committing_.empty()) {
      Argv add = {"ZADD", applied_key_};
      for (int64_t offset : committing_) {
        add.push_back(std::to_string(offset));
        add.push_back(std::to_string(offset));
      }
      sent = SendQueued(add, applied_key_);
    }
    const auto* watermark = std::get_if<engine::ReplicationOffset>(&checkpoint.position);
    if (sent.ok() && watermark != nullptr) {
      sent =
          SendQueued({"ZREMRANGEBYSCORE", applied_key_, "-inf", std::to_string(watermark->offset)},
                     applied_key_);
    }
  }
  if (sent.ok()) {
    sent = connection_->Send({"EXEC"});
  }
  if (!sent.ok()) {
    selected_database_ = -1;
    Close();
    return sent;
  }
  // Every reply of the transaction: MULTI's, one per queued command (QUEUED or a refusal), EXEC's.
  // All are read before any is judged, so the connection stays in step whatever failed.
  Result<Reply> multi = connection_->Receive();
  std::vector<Reply> queued_replies;
  queued_replies.reserve(queued_);
  Status received = multi.status();
  for (size_t i = 0; received.ok() && i < queued_; ++i) {
    Result<Reply> reply = connection_->Receive();
    received = reply.status();
    if (received.ok()) {
      queued_replies.push_back(std::move(*reply));
    }
  }
  Result<Reply> exec = received.ok() ? connection_->Receive() : Result<Reply>(received);
  int database_after = selected_database_;
  selected_database_ = -1;
  Close();
  if (!exec.ok()) {
    return exec.status();
  }
  if (multi->is_error()) {
    return connection_->ErrorStatus(*multi, {"MULTI"});
  }
  // The first command refused while queuing, if any (its reply is an error instead of QUEUED).
  size_t refused = queued_replies.size();
  for (size_t i = 0; i < queued_replies.size(); ++i) {
    if (queued_replies[i].is_error()) {
      refused = i;
      break;
    }
  }
  if (exec->is_error()) {
    if (refused == queued_replies.size()) {
      return connection_->ErrorStatus(*exec, {"EXEC"});
    }
    // EXECABORT: nothing of the MULTI ran, checkpoint included.
    const std::string& text = queued_replies[refused].text;
    StatusCode code = ErrorReplyCode(text);
    if (code != StatusCode::kUnavailable && code != StatusCode::kPermissionDenied &&
        code != StatusCode::kAuthenticationFailed) {
      code = StatusCode::kFailedPrecondition;
    }
    return Status(code, connection_->server() + " refused " + QueuedCommand(refused) + " (" + text +
                            "): nothing of the transaction was applied and the checkpoint did "
                            "not move; the target must accept every command the source "
                            "propagates (same or newer Redis, no renamed or disabled commands, "
                            "memory to spare)");
  }
  if (refused != queued_replies.size()) {
    // Refused without aborting the transaction (a nested MULTI or WATCH): EXEC ran the rest.
    return engine::FailedPrecondition(
        "the target " + connection_->server() + " refused " + QueuedCommand(refused) + " (" +
        queued_replies[refused].text +
        ") inside a transaction whose other commands and checkpoint were applied: the target has "
        "diverged from the source; run tandem verify, then resynchronise the target");
  }
  if (exec->type != ReplyType::kArray || exec->elements.size() != queued_ends_.size()) {
    return engine::Internal(connection_->server() + " answered EXEC of " +
                            std::to_string(queued_ends_.size()) + " commands with " +
                            std::string(ReplyTypeName(exec->type)) + " of " +
                            std::to_string(exec->elements.size()) + " elements");
  }
  for (size_t i = 0; i < exec->elements.size(); ++i) {
    const Reply& reply = exec->elements[i];
    if (reply.is_error()) {
      // Redis does not roll back the others: the checkpoint committed with them.
      return engine::FailedPrecondition(
          "the target " + connection_->server() + " refused " + QueuedCommand(i) + " (" +
          reply.text +
          "): it has diverged from the source, which never propagates a failed command; run "
          "tandem verify to see the differences, then resynchronise the target (the transaction's "
          "other commands and its checkpoint are applied)");
    }
  }
  selected_database_ = database_after;
  return Status::Ok();
}

Status RedisChangeApplier::LoadAppliedTransactions() {
  Argv select = {"SELECT", "0"};
  Argv range = {"ZRANGE", applied_key_, "0", "-1"};
  selected_database_ = -1;
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, connection_->Pipeline({select, range}));
  if (replies[0].is_error()) {
    return connection_->ErrorStatus(replies[0], select);
  }
  selected_database_ = 0;
  if (replies[1].is_error()) {
    return connection_->ErrorStatus(replies[1], range);
  }
  for (const Reply& member : replies[1].elements) {
    int64_t offset = 0;
    if (!ParseInteger(std::string_view(member.text), &offset)) {
      return engine::Corruption("the set " + applied_key_ + " on " + connection_->server() +
                                " holds '" + member.text.substr(0, 40) +
                                "', not a replication offset (delete the key only if no sync of "
                                "this stream is running, then resynchronise)");
    }
    applied_.insert(offset);
  }
  applied_loaded_ = true;
  return Status::Ok();
}

Status RedisChangeApplier::Rollback() {
  if (!open_) {
    return Status::Ok();
  }
  // MULTI, the queued commands and DISCARD are answered in order; read them all to stay in step.
  Status status = connection_->Send({"DISCARD"});
  size_t replies = 1 + queued_ + 1;
  selected_database_ = -1;
  Close();
  for (size_t i = 0; status.ok() && i < replies; ++i) {
    status = connection_->Receive().status();
  }
  return status;
}

Status RedisChangeApplier::ApplyDdl(const engine::ChangeEvent& ddl,
                                    const engine::Checkpoint& checkpoint) {
  (void)ddl;
  (void)checkpoint;
  return engine::Unsupported("a Redis target has no DDL to apply (the Redis applier for " +
                             connection_->server() + " was given a ddl event)");
}

Result<std::optional<engine::Checkpoint>> RedisChangeApplier::ReadCheckpoint(
    const std::string& stream) {
  if (open_) {
    return engine::Internal("ReadCheckpoint() on the Redis applier for " + connection_->server() +
                            " with a transaction open");
  }
  Argv get = {"GET", CheckpointKey(stream)};
  Reply value;
  if (selected_database_ == 0) {
    TANDEM_ASSIGN_OR_RETURN(value, connection_->Command(get));
  } else {
    Argv select = {"SELECT", "0"};
    selected_database_ = -1;
    TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, connection_->Pipeline({select, get}));
    if (replies[0].is_error()) {
      return connection_->ErrorStatus(replies[0], select);
    }
    selected_database_ = 0;
    if (replies[1].is_error()) {
      return connection_->ErrorStatus(replies[1], get);
    }
    value = std::move(replies[1]);
  }
  if (value.is_nil()) {
    return std::optional<engine::Checkpoint>();
  }
  if (value.type != ReplyType::kString) {
    return engine::Corruption("the checkpoint " + get[1] + " on " + connection_->server() +
                              " is a " + std::string(ReplyTypeName(value.type)) +
                              " reply, not a string");
  }
  TANDEM_ASSIGN_OR_RETURN(engine::Checkpoint checkpoint, ParseCheckpointValue(stream, value.text));
  return std::optional<engine::Checkpoint>(std::move(checkpoint));
}

}  // namespace tandem::connectors::redis
