#include "connectors/redis/redis_keyspace_verification.h"

#include <string_view>
#include <utility>

#include "connectors/redis/redis_change_applier.h"
#include "connectors/redis/redis_info.h"

namespace tandem::connectors::redis {

using engine::KeyProbe;
using engine::Result;
using engine::Status;
using engine::ValuePage;

const char kValueDigestScript[] = R"lua(#!lua flags=no-writes
local limit = tonumber(ARGV[1])
local byte_limit = tonumber(ARGV[2])
local M = 4503599627370496
local function lp(s) return #s .. ':' .. s end
local function fold(acc, s)
  local h = redis.sha1hex(s)
  acc[1] = (acc[1] + tonumber(string.sub(h, 1, 13), 16)) % M
  acc[2] = (acc[2] + tonumber(string.sub(h, 14, 26), 16)) % M
  acc[3] = (acc[3] + tonumber(string.sub(h, 27, 39), 16)) % M
end
local function sum(n, acc)
  return string.format('%d:%.0f,%.0f,%.0f', n, acc[1], acc[2], acc[3])
end
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k)['ok']
  local ttl = redis.call('PTTL', k)
  local d = false
  local g = false
  if t == 'string' then
    if redis.call('STRLEN', k) <= byte_limit then d = redis.sha1hex(redis.call('GET', k)) end
  elseif t == 'list' then
    if redis.call('LLEN', k) <= limit then
      local v = redis.call('LRANGE', k, 0, -1)
      local parts = {}
      for j = 1, #v do parts[j] = lp(v[j]) end
      d = redis.sha1hex(table.concat(parts))
    end
  elseif t == 'hash' then
    if redis.call('HLEN', k) <= limit then
      local v = redis.call('HGETALL', k)
      local acc = {0, 0, 0}
      for j = 1, #v, 2 do fold(acc, lp(v[j]) .. v[j + 1]) end
      d = sum(#v / 2, acc)
    end
  elseif t == 'set' then
    if redis.call('SCARD', k) <= limit then
      local v = redis.call('SMEMBERS', k)
      local acc = {0, 0, 0}
      for j = 1, #v do fold(acc, v[j]) end
      d = sum(#v, acc)
    end
  elseif t == 'zset' then
    if redis.call('ZCARD', k) <= limit then
      local v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
      local acc = {0, 0, 0}
      for j = 1, #v, 2 do
        fold(acc, lp(v[j]) .. string.format('%.17g', tonumber(v[j + 1])))
      end
      d = sum(#v / 2, acc)
    end
  elseif t == 'stream' then
    if redis.call('XLEN', k) <= limit then
      local v = redis.call('XRANGE', k, '-', '+')
      local parts = {}
      for j = 1, #v do
        local e = v[j]
        local p = {lp(e[1])}
        for f = 1, #e[2] do p[#p + 1] = lp(e[2][f]) end
        parts[j] = lp(table.concat(p))
      end
      d = redis.sha1hex(table.concat(parts))
    end
    local groups = redis.call('XINFO', 'GROUPS', k)
    local gp = {}
    for j = 1, #groups do
      local f = {}
      local x = groups[j]
      for n = 1, #x, 2 do f[x[n]] = x[n + 1] end
      gp[j] = lp(f['name']) .. lp(tostring(f['consumers'])) .. lp(tostring(f['pending'])) ..
              lp(f['last-delivered-id'])
    end
    g = redis.sha1hex(table.concat(gp))
  end
  out[i] = {t, ttl, d, g}
end
return out
)lua";

namespace {

// Bytes of a string read per page, per element of the page limit.
constexpr int64_t kBytesPerElement = 512;

std::string LengthPrefixed(const std::string& text) {
  return std::to_string(text.size()) + ":" + text;
}

Status Malformed(const Connection& connection, const std::string& command, const Reply& reply) {
  return engine::Corruption(connection.server() + " answered " + command + " with '" +
                            reply.DebugString().substr(0, 200) + "', which is not its reply shape");
}

bool IsScanReply(const Reply& reply) {
  return reply.type == ReplyType::kArray && reply.elements.size() == 2 &&
         reply.elements[0].is_text() && reply.elements[1].type == ReplyType::kArray;
}

// The commands that read the page of `key` (type `type`) starting at `cursor`.
Result<std::vector<Argv>> PageCommands(const std::string& key, const std::string& type,
                                       const std::string& cursor, int64_t page) {
  const std::string count = std::to_string(page);
  if (type == "string") {
    std::optional<int64_t> offset = ParseInt64(cursor);
    if (!offset.has_value() || *offset < 0) {
      return engine::InvalidArgument("bad string cursor '" + cursor + "'");
    }
    const int64_t bytes = page * kBytesPerElement;
    return std::vector<Argv>{
        {"GETRANGE", key, std::to_string(*offset), std::to_string(*offset + bytes - 1)},
        {"STRLEN", key}};
  }
  if (type == "list") {
    std::optional<int64_t> start = ParseInt64(cursor);
    if (!start.has_value() || *start < 0) {
      return engine::InvalidArgument("bad list cursor '" + cursor + "'");
    }
    return std::vector<Argv>{
        {"LRANGE", key, std::to_string(*start), std::to_string(*start + page - 1)}};
  }
  if (type == "hash") {
    return std::vector<Argv>{{"HSCAN", key, cursor, "COUNT", count}};
  }
  if (type == "set") {
    return std::vector<Argv>{{"SSCAN", key, cursor, "COUNT", count}};
  }
  if (type == "zset") {
    return std::vector<Argv>{{"ZSCAN", key, cursor, "COUNT", count}};
  }
  if (type == "stream") {
    return std::vector<Argv>{{"XRANGE", key, cursor == "0" ? "-" : cursor, "+", "COUNT", count}};
  }
  return engine::Unsupported("keys of type '" + type +
                             "' cannot be read by tandem verify (module types are not supported)");
}

// Decodes the replies to PageCommands(). Returns false when the reply shape is wrong, and sets
// *wrong_type when the server said WRONGTYPE (the key changed type under us).
bool DecodePage(const std::string& type, const std::string& cursor, int64_t page,
                const std::vector<Reply>& replies, ValuePage* out, bool* wrong_type) {
  for (const Reply& reply : replies) {
    if (reply.is_error()) {
      *wrong_type = reply.text.rfind("WRONGTYPE", 0) == 0;
      return *wrong_type;
    }
  }
  out->elements.clear();
  out->next_cursor.clear();
  if (type == "string") {
    if (replies.size() != 2 || !replies[0].is_text() || replies[1].type != ReplyType::kInteger) {
      return false;
    }
    const int64_t offset = ParseInt64(cursor).value_or(0);
    if (!replies[0].text.empty()) {
      out->elements.push_back(replies[0].text);
    }
    const int64_t end = offset + page * kBytesPerElement;
    if (end < replies[1].integer) {
      out->next_cursor = std::to_string(end);
    }
    return true;
  }
  const Reply& reply = replies.at(0);
  if (type == "list") {
    if (reply.type != ReplyType::kArray) {
      return false;
    }
    for (const Reply& element : reply.elements) {
      out->elements.push_back(element.text);
    }
    if (static_cast<int64_t>(reply.elements.size()) == page) {
      out->next_cursor = std::to_string(ParseInt64(cursor).value_or(0) + page);
    }
    return true;
  }
  if (type == "hash" || type == "set" || type == "zset") {
    if (!IsScanReply(reply)) {
      return false;
    }
    for (const Reply& element : reply.elements[1].elements) {
      out->elements.push_back(element.text);
    }
    if (reply.elements[0].text != "0") {
      out->next_cursor = reply.elements[0].text;
    }
    return true;
  }
  if (type == "stream") {
    if (reply.type != ReplyType::kArray) {
      return false;
    }
    std::string last_id;
    for (const Reply& entry : reply.elements) {
      if (entry.type != ReplyType::kArray || entry.elements.size() != 2 ||
          !entry.elements[0].is_text()) {
        return false;
      }
      std::string encoded = LengthPrefixed(entry.elements[0].text);
      for (const Reply& field : entry.elements[1].elements) {
        encoded += LengthPrefixed(field.text);
      }
      out->elements.push_back(std::move(encoded));
      last_id = entry.elements[0].text;
    }
    if (static_cast<int64_t>(reply.elements.size()) == page) {
      out->next_cursor = "(" + last_id;
    }
    return true;
  }
  return false;
}

// XINFO GROUPS: one flat map per group.
bool DecodeGroups(const Reply& reply, std::vector<std::string>* groups) {
  if (reply.type != ReplyType::kArray) {
    return false;
  }
  for (const Reply& group : reply.elements) {
    if (group.type != ReplyType::kArray) {
      return false;
    }
    std::string name, consumers, pending, last_id;
    for (size_t i = 0; i + 1 < group.elements.size(); i += 2) {
      const std::string& field = group.elements[i].text;
      const Reply& value = group.elements[i + 1];
      const std::string text =
          value.type == ReplyType::kInteger ? std::to_string(value.integer) : value.text;
      if (field == "name") {
        name = text;
      } else if (field == "consumers") {
        consumers = text;
      } else if (field == "pending") {
        pending = text;
      } else if (field == "last-delivered-id") {
        last_id = text;
      }
    }
    groups->push_back(LengthPrefixed(name) + LengthPrefixed(consumers) + LengthPrefixed(pending) +
                      LengthPrefixed(last_id));
  }
  return true;
}

}  // namespace

Result<std::vector<Reply>> RedisKeyspaceVerification::Pipeline(const std::vector<Argv>& commands) {
  commands_sent_ += static_cast<int64_t>(commands.size());
  return connection_->Pipeline(commands);
}

Status RedisKeyspaceVerification::SelectDatabase(int database) {
  ++commands_sent_;
  TANDEM_ASSIGN_OR_RETURN(Reply reply, connection_->Command({"SELECT", std::to_string(database)}));
  (void)reply;
  return Status::Ok();
}

Result<engine::KeyScanPage> RedisKeyspaceVerification::ScanKeys(const std::string& cursor,
                                                                int64_t count) {
  ++commands_sent_;
  TANDEM_ASSIGN_OR_RETURN(Reply reply,
                          connection_->Command({"SCAN", cursor, "COUNT", std::to_string(count)}));
  if (!IsScanReply(reply)) {
    return Malformed(*connection_, "SCAN", reply);
  }
  engine::KeyScanPage page;
  page.cursor = reply.elements[0].text;
  page.keys.reserve(reply.elements[1].elements.size());
  for (Reply& key : reply.elements[1].elements) {
    // tandem's own keys (checkpoints, sync state, heartbeats) are not the user's data.
    if (std::string_view(key.text).starts_with(kTandemKeyPrefix)) {
      continue;
    }
    page.keys.push_back(std::move(key.text));
  }
  return page;
}

Result<std::vector<KeyProbe>> RedisKeyspaceVerification::ProbeKeys(
    const std::vector<std::string>& keys, engine::ValueFetch fetch, int64_t page_elements) {
  if (keys.empty()) {
    return std::vector<KeyProbe>{};
  }
  if (fetch == engine::ValueFetch::kServerDigest) {
    return ProbeWithScript(keys, page_elements);
  }
  return ProbeWithValues(keys, page_elements);
}

Result<std::vector<KeyProbe>> RedisKeyspaceVerification::ProbeWithValues(
    const std::vector<std::string>& keys, int64_t page_elements) {
  std::vector<Argv> first;
  first.reserve(keys.size() * 2);
  for (const std::string& key : keys) {
    first.push_back({"TYPE", key});
    first.push_back({"PTTL", key});
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline(first));
  std::vector<KeyProbe> probes(keys.size());
  std::vector<Argv> second;
  // For each key: the index of its first command in `second`, how many, and whether an XINFO
  // GROUPS follows.
  struct Span {
    size_t first = 0;
    size_t count = 0;
    bool groups = false;
  };
  std::vector<Span> spans(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const Reply& type = replies[2 * i];
    const Reply& ttl = replies[2 * i + 1];
    if (type.is_error() || !type.is_text() || ttl.type != ReplyType::kInteger) {
      return type.is_error()  ? connection_->ErrorStatus(type, first[2 * i])
             : ttl.is_error() ? connection_->ErrorStatus(ttl, first[2 * i + 1])
                              : Malformed(*connection_, "TYPE/PTTL", type);
    }
    probes[i].type = type.text;
    probes[i].ttl_ms = ttl.integer;
    if (type.text == "none") {
      continue;
    }
    auto commands = PageCommands(keys[i], type.text, "0", page_elements);
    if (!commands.ok()) {
      // A module type: the caller finds out from ReadValuePage.
      probes[i].next_cursor = "0";
      continue;
    }
    spans[i].first = second.size();
    spans[i].count = commands->size();
    for (Argv& command : *commands) {
      second.push_back(std::move(command));
    }
    if (type.text == "stream") {
      second.push_back({"XINFO", "GROUPS", keys[i]});
      spans[i].groups = true;
    }
  }
  if (second.empty()) {
    return probes;
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> pages, Pipeline(second));
  for (size_t i = 0; i < keys.size(); ++i) {
    if (spans[i].count == 0) {
      continue;
    }
    std::vector<Reply> mine(
        pages.begin() + static_cast<ptrdiff_t>(spans[i].first),
        pages.begin() + static_cast<ptrdiff_t>(spans[i].first + spans[i].count));
    ValuePage page;
    bool wrong_type = false;
    if (!DecodePage(probes[i].type, "0", page_elements, mine, &page, &wrong_type)) {
      return Malformed(*connection_, CommandName(second[spans[i].first]), mine[0]);
    }
    if (wrong_type) {
      probes[i].unstable = true;
      continue;
    }
    probes[i].elements = std::move(page.elements);
    probes[i].next_cursor = std::move(page.next_cursor);
    if (spans[i].groups) {
      const Reply& groups = pages[spans[i].first + spans[i].count];
      if (groups.is_error()) {
        // The stream was deleted or replaced between the commands.
        probes[i].unstable = true;
      } else if (!DecodeGroups(groups, &probes[i].groups)) {
        return Malformed(*connection_, "XINFO GROUPS", groups);
      }
    }
  }
  return probes;
}

Result<std::vector<KeyProbe>> RedisKeyspaceVerification::ProbeWithScript(
    const std::vector<std::string>& keys, int64_t page_elements) {
  if (script_sha_.empty()) {
    ++commands_sent_;
    auto loaded = connection_->Command({"SCRIPT", "LOAD", kValueDigestScript});
    if (!loaded.ok()) {
      return engine::Unsupported(connection_->server() +
                                 " cannot run the digest script (Redis 7.0 or later with "
                                 "scripting is needed; use --digest values): " +
                                 loaded.status().message());
    }
    script_sha_ = loaded->text;
  }
  Argv call = {"EVALSHA", script_sha_, std::to_string(keys.size())};
  call.insert(call.end(), keys.begin(), keys.end());
  call.push_back(std::to_string(page_elements));
  call.push_back(std::to_string(page_elements * kBytesPerElement));
  commands_sent_ += 4 * static_cast<int64_t>(keys.size());
  TANDEM_ASSIGN_OR_RETURN(Reply reply, connection_->Command(call));
  if (reply.type != ReplyType::kArray || reply.elements.size() != keys.size()) {
    return Malformed(*connection_, "EVALSHA", reply);
  }
  std::vector<KeyProbe> probes(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const Reply& row = reply.elements[i];
    if (row.type != ReplyType::kArray || row.elements.size() < 2 || !row.elements[0].is_text() ||
        row.elements[1].type != ReplyType::kInteger) {
      return Malformed(*connection_, "EVALSHA", row);
    }
    probes[i].type = row.elements[0].text;
    probes[i].ttl_ms = row.elements[1].integer;
    if (row.elements.size() > 2 && row.elements[2].is_text()) {
      probes[i].server_digest = row.elements[2].text;
    } else if (probes[i].type != "none") {
      probes[i].next_cursor = "0";
    }
    if (row.elements.size() > 3 && row.elements[3].is_text()) {
      probes[i].groups.push_back(row.elements[3].text);
    }
  }
  return probes;
}

Result<ValuePage> RedisKeyspaceVerification::ReadValuePage(const std::string& key,
                                                           const std::string& type,
                                                           const std::string& cursor,
                                                           int64_t page_elements) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<Argv> commands,
                          PageCommands(key, type, cursor, page_elements));
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline(commands));
  ValuePage page;
  bool wrong_type = false;
  if (!DecodePage(type, cursor, page_elements, replies, &page, &wrong_type)) {
    for (size_t i = 0; i < replies.size(); ++i) {
      if (replies[i].is_error()) {
        return connection_->ErrorStatus(replies[i], commands[i]);
      }
    }
    return Malformed(*connection_, CommandName(commands[0]), replies[0]);
  }
  if (wrong_type) {
    return engine::FailedPrecondition(connection_->server() + ": a key changed type from " + type +
                                      " while it was being read");
  }
  return page;
}

Result<std::vector<bool>> RedisKeyspaceVerification::KeysExist(
    const std::vector<std::string>& keys) {
  std::vector<Argv> commands;
  commands.reserve(keys.size());
  for (const std::string& key : keys) {
    commands.push_back({"EXISTS", key});
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline(commands));
  std::vector<bool> exist(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (replies[i].is_error()) {
      return connection_->ErrorStatus(replies[i], commands[i]);
    }
    exist[i] = replies[i].integer > 0;
  }
  return exist;
}

Result<engine::ReplicationState> RedisKeyspaceVerification::Replication() {
  ++commands_sent_;
  TANDEM_ASSIGN_OR_RETURN(Reply reply, connection_->Command({"INFO", "replication"}));
  InfoFields info = InfoFields::Parse(reply.text);
  engine::ReplicationState state;
  state.replica = info.Get("role") == std::optional<std::string>("slave");
  state.link_up = info.Get("master_link_status") == std::optional<std::string>("up");
  state.replid = info.Get("master_replid").value_or("");
  std::optional<int64_t> offset =
      info.GetInt(state.replica ? "slave_repl_offset" : "master_repl_offset");
  if (!offset.has_value()) {
    return engine::Corruption(connection_->server() +
                              " reported no replication offset in INFO replication");
  }
  state.offset = *offset;
  return state;
}

Result<std::vector<engine::DumpedKey>> RedisKeyspaceVerification::DumpKeys(
    const std::vector<std::string>& keys) {
  std::vector<Argv> commands;
  commands.reserve(keys.size() * 2);
  for (const std::string& key : keys) {
    commands.push_back({"DUMP", key});
    commands.push_back({"PTTL", key});
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline(commands));
  std::vector<engine::DumpedKey> dumped(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = 2 * i; j < 2 * i + 2; ++j) {
      if (replies[j].is_error()) {
        return connection_->ErrorStatus(replies[j], commands[j]);
      }
    }
    if (replies[2 * i].is_text()) {
      dumped[i].payload = std::move(replies[2 * i].text);
    }
    dumped[i].ttl_ms = replies[2 * i + 1].integer;
  }
  return dumped;
}

}  // namespace tandem::connectors::redis
