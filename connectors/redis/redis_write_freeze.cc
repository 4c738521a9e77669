#include "connectors/redis/redis_write_freeze.h"

#include <algorithm>
#include <ctime>
#include <string>
#include <utility>

#include "connectors/redis/redis_command.h"

// Why the freeze guarantee holds on Redis (engine/write_freeze.h):
//
// - CLIENT PAUSE runs in the event loop like any command. Every write executed before it has
//   already been appended to the replication stream (master_repl_offset counts it) and every
//   write command processed after it, even one already waiting in a client's query buffer, is
//   postponed until the pause ends. So once Freeze returns OK no ordinary client's write commits,
//   and INFO replication read afterwards names an offset at or after every acknowledged write.
// - Replicas are not paused and keep being fed. On Redis 7.0 (checked against 7.0.15 with a
//   replica attached and repl-ping-replica-period 1) the primary keeps sending a PING every
//   repl-ping-replica-period while writes are paused, so master_repl_offset advances by 14 bytes
//   ("*1\r\n$4\r\nPING\r\n") per period and no data changes; later servers that report
//   paused_actions also stop those PINGs. Nothing else moves it: keys do not expire and are not
//   evicted during the pause, and the REPLCONF GETACK that WAIT asks replicas for is held back
//   until the pause ends (7.0.15: WAIT 1 200 under the pause timed out, master_repl_offset stayed
//   put, and the GETACK reached the replica only after CLIENT UNPAUSE), so WAIT cannot be used
//   to make a paused primary emit bytes either. A PING is bytes of the stream like any other, so
//   tandem's change stream passes it and reaches (and then passes) a position read during the
//   freeze; the drain's exact comparison stays sound.
// - Without any replica the server keeps no backlog and master_repl_offset stays where it is
//   (0 on a fresh server).

namespace tandem::connectors::redis {
namespace {

using engine::Result;
using engine::Status;
using Clock = std::chrono::steady_clock;

// "2026-11-26T10:01:02Z".
std::string FormatUtc(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

}  // namespace

Status ValidateFreezeHold(std::chrono::milliseconds hold) {
  if (hold < kMinFreezeHold || hold > kMaxFreezeHold) {
    return engine::InvalidArgument("a Redis write freeze holds for " +
                                   std::to_string(hold.count()) +
                                   " ms: give a hold between 1000 ms (1 s) and 3600000 ms (1 h)");
  }
  return Status::Ok();
}

std::optional<ServerPauseState> ParsePauseState(const InfoFields& info) {
  std::optional<std::string> reason = info.Get("paused_reason");
  std::optional<std::string> actions = info.Get("paused_actions");
  if (!reason.has_value() && !actions.has_value()) {
    return std::nullopt;
  }
  ServerPauseState state;
  state.reason = reason.value_or("");
  state.actions = actions.value_or("");
  state.timeout_ms = info.GetInt("paused_timeout_milliseconds");
  return state;
}

Result<engine::ReplicationOffset> ParseReplicationPosition(const InfoFields& info,
                                                           std::string_view server) {
  std::optional<std::string> replid = info.Get("master_replid");
  if (!replid.has_value() || replid->size() != 40 || !IsHex(*replid)) {
    return engine::Corruption(std::string(server) +
                              " reported no readable master_replid in INFO replication ('" +
                              replid.value_or("") + "'; expected 40 hex characters)");
  }
  std::optional<int64_t> offset = info.GetInt("master_repl_offset");
  if (!offset.has_value() || *offset < 0) {
    return engine::Corruption(std::string(server) +
                              " reported no readable master_repl_offset in INFO replication ('" +
                              info.Get("master_repl_offset").value_or("") + "')");
  }
  engine::ReplicationOffset position;
  position.replication_id = *replid;
  position.offset = *offset;
  return position;
}

std::string WriteFreezeAclFix(std::string_view user) {
  return "ACL SETUSER " + std::string(user.empty() ? "default" : user) +
         " +client|pause +client|unpause +info";
}

Result<Reply> RedisWriteFreeze::Run(const Argv& argv) {
  Result<Reply> reply = connection_->Command(argv);
  if (!reply.ok() && reply.status().code() == engine::StatusCode::kPermissionDenied) {
    return engine::PermissionDenied(
        connection_->server() + " refused " + CommandName(argv) + " to user " +
        connection_->user() +
        ", which the write freeze needs (grant client|pause, client|unpause and info: " +
        WriteFreezeAclFix(connection_->user()) + "); the server said: " + reply.status().message());
  }
  return reply;
}

Result<engine::FreezeReport> RedisWriteFreeze::Freeze(const engine::FreezeOptions& options) {
  TANDEM_RETURN_IF_ERROR(ValidateFreezeHold(options.hold));
  const Clock::time_point start = Clock::now();
  const std::chrono::system_clock::time_point wall_start = std::chrono::system_clock::now();
  TANDEM_ASSIGN_OR_RETURN(Reply reply,
                          Run({"CLIENT", "PAUSE", std::to_string(options.hold.count()), "WRITE"}));
  if (reply.text != "OK") {
    return engine::Corruption(connection_->server() + " answered CLIENT PAUSE with '" +
                              reply.DebugString() + "' instead of OK");
  }
  // The server keeps the later deadline of two pauses; so does this object. Measured from before
  // the command was sent, the local deadline is never after the server's.
  const bool renewed = paused_until_.has_value() && *paused_until_ > start;
  if (!paused_until_.has_value() || *paused_until_ < start + options.hold) {
    paused_until_ = start + options.hold;
    paused_until_wall_ = wall_start + options.hold;
  }
  engine::FreezeReport report;
  report.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  report.detail = std::string(renewed ? "renewed " : "") + "CLIENT PAUSE " +
                  std::to_string(options.hold.count()) +
                  " WRITE: writes of every client except replicas wait until " +
                  FormatUtc(*paused_until_wall_) + " unless renewed by Freeze or ended by Thaw";
  return report;
}

Status RedisWriteFreeze::Thaw() {
  TANDEM_ASSIGN_OR_RETURN(Reply reply, Run({"CLIENT", "UNPAUSE"}));
  if (reply.text != "OK") {
    return engine::Corruption(connection_->server() + " answered CLIENT UNPAUSE with '" +
                              reply.DebugString() + "' instead of OK");
  }
  paused_until_.reset();
  paused_until_wall_.reset();
  return Status::Ok();
}

Result<engine::WriteFreezeState> RedisWriteFreeze::State() {
  TANDEM_ASSIGN_OR_RETURN(Reply clients_reply, Run({"INFO", "clients"}));
  TANDEM_ASSIGN_OR_RETURN(Reply server_reply, Run({"INFO", "server"}));
  const InfoFields clients = InfoFields::Parse(clients_reply.text);
  const InfoFields server = InfoFields::Parse(server_reply.text);
  engine::WriteFreezeState state;
  if (std::optional<ServerPauseState> pause = ParsePauseState(clients); pause.has_value()) {
    state.frozen = pause->frozen();
    state.detail = "paused_reason=" + pause->reason + " paused_actions=" + pause->actions;
    if (pause->timeout_ms.has_value()) {
      state.detail += " paused_timeout_milliseconds=" + std::to_string(*pause->timeout_ms);
    }
    state.detail += " (INFO clients)";
    return state;
  }
  const std::string product = server.Get("server_name") == "valkey" ? "Valkey" : "Redis";
  const std::string version = server.Get("redis_version").value_or("?");
  const std::string invisible = "pause state not visible on " + product + " " + version +
                                " (INFO reports no paused_reason/paused_actions); ";
  const Clock::time_point now = Clock::now();
  if (paused_until_.has_value() && now < *paused_until_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*paused_until_ - now);
    state.frozen = true;
    state.detail = invisible + "paused for WRITE by this connection until " +
                   FormatUtc(*paused_until_wall_) + " (" + std::to_string(left.count()) +
                   " ms left) unless another client ran CLIENT UNPAUSE";
  } else if (paused_until_.has_value()) {
    state.frozen = false;
    state.detail = invisible + "the pause this connection set expired at " +
                   FormatUtc(*paused_until_wall_) + "; another client may have paused it since";
  } else {
    state.frozen = false;
    state.detail = invisible +
                   "this connection holds no pause (never frozen, or thawed); another client may "
                   "have paused it";
  }
  return state;
}

Result<engine::Position> RedisWriteFreeze::CurrentPosition() {
  TANDEM_ASSIGN_OR_RETURN(Reply reply, Run({"INFO", "replication"}));
  TANDEM_ASSIGN_OR_RETURN(
      engine::ReplicationOffset position,
      ParseReplicationPosition(InfoFields::Parse(reply.text), connection_->server()));
  return engine::Position(std::move(position));
}

}  // namespace tandem::connectors::redis
