#include "connectors/redis/redis_snapshot_loader.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>

#include "connectors/redis/redis_change_applier.h"
#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_errors.h"

namespace tandem::connectors::redis {
namespace {

using engine::Status;
using engine::StatusCode;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// A key for a one-line message: printable ASCII as is, other bytes as \xNN, cut after 200 bytes.
std::string PrintableKey(std::string_view key) {
  constexpr size_t kMaxShown = 200;
  std::string out;
  for (size_t i = 0; i < key.size() && i < kMaxShown; ++i) {
    auto byte = static_cast<unsigned char>(key[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out.push_back(static_cast<char>(byte));
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  if (key.size() > kMaxShown) {
    out += "...";
  }
  return out;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The oldest Redis that reads RDB version `version`.
std::string_view OldestRedisReading(int version) {
  switch (version) {
    case 12:
      return "7.4";
    case 11:
      return "7.2";
    case 10:
      return "7.0";
    case 9:
      return "5.0";
    case 8:
      return "4.0";
    case 7:
      return "3.2";
    default:
      return version > 12 ? "a newer release" : "2.6";
  }
}

// The RDB version a DUMP/RESTORE payload carries (2 bytes LE before the 8-byte CRC); 0 if short.
int PayloadRdbVersion(std::string_view payload) {
  if (payload.size() < 10) {
    return 0;
  }
  size_t at = payload.size() - 10;
  return static_cast<unsigned char>(payload[at]) |
         (static_cast<unsigned char>(payload[at + 1]) << 8);
}

// Score text that a Redis server parses back (strtod) into exactly `score`.
void FormatScore(double score, std::string* out) {
  if (std::isinf(score)) {
    out->assign(score > 0 ? "inf" : "-inf");
    return;
  }
  char buffer[32];
  int length = std::snprintf(buffer, sizeof(buffer), "%.17g", score);
  out->assign(buffer, static_cast<size_t>(length));
}

}  // namespace

std::optional<int> RdbVersionOfRedis(std::string_view redis_version) {
  int major = 0;
  int minor = 0;
  size_t at = 0;
  auto number = [&](int* out) {
    size_t start = at;
    while (at < redis_version.size() && redis_version[at] >= '0' && redis_version[at] <= '9' &&
           at - start < 6) {
      *out = *out * 10 + (redis_version[at] - '0');
      ++at;
    }
    return at > start;
  };
  if (!number(&major) || at >= redis_version.size() || redis_version[at] != '.') {
    return std::nullopt;
  }
  ++at;
  if (!number(&minor)) {
    return std::nullopt;
  }
  int version = major * 100 + minor;
  if (version >= 704) return 12;
  if (version >= 702) return 11;
  if (version >= 700) return 10;
  if (version >= 500) return 9;
  if (version >= 400) return 8;
  if (version >= 302) return 7;
  if (version >= 206) return 6;
  return std::nullopt;
}

RedisSnapshotLoader::RedisSnapshotLoader(Connection& target, SnapshotLoaderOptions options)
    : target_(target), options_(options) {
  if (options_.max_in_flight_commands == 0) {
    options_.max_in_flight_commands = 1;
  }
  if (options_.command_elements == 0) {
    options_.command_elements = 1;
  }
}

std::string RedisSnapshotLoader::Where(const InFlight& entry) const {
  if (entry.what == What::kFunction) {
    return "a function library";
  }
  if (entry.what == What::kSelect) {
    return "database " + std::to_string(entry.database);
  }
  return "key '" + PrintableKey(entry.key) + "' (database " + std::to_string(entry.database) + ")";
}

Status RedisSnapshotLoader::CheckReply(const InFlight& entry, const Reply& reply) const {
  if (!reply.is_error()) {
    return Status::Ok();
  }
  const std::string& text = reply.text;
  const std::string& server = target_.server();
  if (Contains(text, "DB index is out of range") || StartsWith(text, "ERR invalid DB index")) {
    return engine::FailedPrecondition("the target has fewer databases than the source (database " +
                                      std::to_string(entry.database) +
                                      "): raise `databases` in the target's redis.conf (" + server +
                                      " refused SELECT: " + text + ")");
  }
  if (StartsWith(text, "OOM")) {
    return engine::FailedPrecondition("the target " + server + " is out of memory writing " +
                                      Where(entry) + ": raise maxmemory on the target (" + text +
                                      ")");
  }
  if (entry.what == What::kRestore &&
      (StartsWith(text, "ERR Bad data format") ||
       Contains(text, "DUMP payload version or checksum are wrong"))) {
    int version = snapshot_rdb_version_;
    std::string written_by =
        source_redis_version_.empty() ? "" : " (written by Redis " + source_redis_version_ + ")";
    return engine::FailedPrecondition(
        "the target " + server + " cannot read this snapshot's RDB version " +
        std::to_string(version) + written_by + " restoring " + Where(entry) + ": it needs Redis " +
        std::string(OldestRedisReading(version)) +
        " or newer; upgrade the target, or load with commands instead of RESTORE (" + text + ")");
  }
  // Anything else: the connection's mapping (it names the command and the fix), with the key.
  static constexpr std::string_view kNames[] = {"SELECT",    "RESTORE",      "DEL",  "SET",
                                                "RPUSH",     "SADD",         "ZADD", "HSET",
                                                "PEXPIREAT", "FUNCTION LOAD"};
  Argv name = {std::string(kNames[static_cast<int>(entry.what)])};
  Status status = target_.ErrorStatus(reply, name);
  StatusCode code = status.code();
  if (code != StatusCode::kUnavailable && code != StatusCode::kPermissionDenied &&
      code != StatusCode::kAuthenticationFailed) {
    code = StatusCode::kFailedPrecondition;
  }
  return Status(code, "loading " + Where(entry) + " into the target: " + status.message());
}

Status RedisSnapshotLoader::ReceiveOne() {
  TANDEM_ASSIGN_OR_RETURN(Reply reply, target_.Receive());
  InFlight entry = std::move(in_flight_.front());
  in_flight_.pop_front();
  in_flight_bytes_ -= entry.bytes;
  return CheckReply(entry, reply);
}

Status RedisSnapshotLoader::ReceiveDownTo(size_t commands, size_t bytes) {
  while (!in_flight_.empty() && (in_flight_.size() > commands || in_flight_bytes_ > bytes)) {
    Status status = ReceiveOne();
    if (!status.ok()) {
      // Read the rest so the connection stays in step; the first error is the one reported.
      while (!in_flight_.empty() && target_.Receive().ok()) {
        in_flight_.pop_front();
      }
      in_flight_.clear();
      in_flight_bytes_ = 0;
      return status;
    }
  }
  return Status::Ok();
}

Status RedisSnapshotLoader::Send(const Argv& argv, What what, std::string_view key, size_t bytes) {
  TANDEM_RETURN_IF_ERROR(target_.Send(argv));
  in_flight_.push_back(InFlight{what, database_, std::string(key), bytes});
  in_flight_bytes_ += bytes;
  summary_.bytes += static_cast<int64_t>(bytes);
  if (in_flight_.size() >= options_.max_in_flight_commands ||
      in_flight_bytes_ >= options_.max_in_flight_bytes) {
    // Down to half, so the next half goes out as one batch rather than one command per wait.
    return ReceiveDownTo(options_.max_in_flight_commands / 2, options_.max_in_flight_bytes / 2);
  }
  return Status::Ok();
}

Status RedisSnapshotLoader::CheckStop() const {
  if (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed)) {
    return engine::Cancelled("the snapshot load into " + target_.server() + " stopped on request");
  }
  return Status::Ok();
}

Status RedisSnapshotLoader::EnsureDatabase(int database) {
  if (database == database_) {
    return Status::Ok();
  }
  // Every write already sent goes to the database it was meant for; the SELECT is waited for, so
  // no write can land in the wrong database if it fails.
  TANDEM_RETURN_IF_ERROR(ReceiveDownTo(0, 0));
  database_ = database;
  argv_.assign({"SELECT", std::to_string(database)});
  Status sent = Send(argv_, What::kSelect, {}, 0);
  if (sent.ok()) {
    sent = ReceiveDownTo(0, 0);
  }
  if (!sent.ok()) {
    database_ = -1;
  }
  return sent;
}

Status RedisSnapshotLoader::OnAux(std::string_view name, std::string_view value) {
  if (name == "redis-ver") {
    source_redis_version_ = std::string(value.substr(0, 64));
  } else if (name == "repl-stream-db") {
    int database = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), database);
    if (error == std::errc() && end == value.data() + value.size() && database >= 0) {
      stream_database_ = database;
    }
  }
  return Status::Ok();
}

Status RedisSnapshotLoader::OnSelectDatabase(int database) { return EnsureDatabase(database); }

Status RedisSnapshotLoader::OnValue(const RdbKeyHeader& header, std::string_view payload) {
  TANDEM_RETURN_IF_ERROR(CheckStop());
  if (IsTandemBookkeepingKey(header.database, header.key)) {
    return Status::Ok();  // another tandem sync's state on the source (a chain A -> B -> C)
  }
  if (header.expire_at_ms.has_value() && *header.expire_at_ms <= NowUnixMs()) {
    ++summary_.expired_skipped;
    return Status::Ok();
  }
  TANDEM_RETURN_IF_ERROR(EnsureDatabase(header.database));
  if (snapshot_rdb_version_ == 0) {
    snapshot_rdb_version_ = PayloadRdbVersion(payload);
  }
  if (options_.mode == SnapshotLoaderOptions::Mode::kRestore) {
    argv_.resize(6);
    argv_[0].assign("RESTORE");
    argv_[1].assign(header.key);
    argv_[2].assign(header.expire_at_ms.has_value() ? std::to_string(*header.expire_at_ms) : "0");
    argv_[3].assign(payload);
    argv_[4].assign("REPLACE");
    argv_[5].assign("ABSTTL");
    ++summary_.keys;
    return Send(argv_, What::kRestore, header.key, payload.size());
  }
  // kCommands: only strings come whole (the parser runs with max_value_bytes 0).
  if (header.kind == RdbValueKind::kStream) {
    return engine::Unsupported(
        "key '" + PrintableKey(header.key) + "' (database " + std::to_string(header.database) +
        ") is a stream, which tandem can copy only with RESTORE, and the target cannot read this "
        "snapshot's RDB version: upgrade the target to the source's Redis version (or newer), or "
        "remove the stream keys from the source");
  }
  if (header.kind != RdbValueKind::kString) {
    return engine::Internal("the snapshot loader in command mode was handed a whole " +
                            std::string(RdbValueKindName(header.kind)) + " value (key '" +
                            PrintableKey(header.key) +
                            "'): the parser must run with max_value_bytes 0");
  }
  argv_.resize(3);
  argv_[0].assign("SET");
  argv_[1].assign(header.key);
  engine::Result<std::string> value = DecodeStringPayload(payload);
  if (!value.ok()) {
    return engine::Corruption("the string value of key '" + PrintableKey(header.key) +
                              "' (database " + std::to_string(header.database) +
                              ") in the snapshot does not decode: " + value.status().message());
  }
  argv_[2] = std::move(*value);
  ++summary_.keys;
  size_t bytes = argv_[2].size();
  TANDEM_RETURN_IF_ERROR(Send(argv_, What::kSet, header.key, bytes));
  return SendExpiry(header);
}

Status RedisSnapshotLoader::SendExpiry(const RdbKeyHeader& header) {
  if (!header.expire_at_ms.has_value()) {
    return Status::Ok();
  }
  argv_.resize(3);
  argv_[0].assign("PEXPIREAT");
  argv_[1].assign(header.key);
  argv_[2].assign(std::to_string(*header.expire_at_ms));
  return Send(argv_, What::kExpire, header.key, 0);
}

Status RedisSnapshotLoader::OnValuePiece(const RdbKeyHeader& header, const RdbValuePiece& piece) {
  if (IsTandemBookkeepingKey(header.database, header.key)) {
    return Status::Ok();
  }
  TANDEM_RETURN_IF_ERROR(CheckStop());
  if (piece.first) {
    // Decided once per key, so a key is never left half-written because it expired meanwhile.
    skipping_key_ = header.expire_at_ms.has_value() && *header.expire_at_ms <= NowUnixMs();
    if (skipping_key_) {
      ++summary_.expired_skipped;
    }
  }
  if (skipping_key_) {
    return Status::Ok();
  }
  if (header.kind == RdbValueKind::kStream) {
    return engine::Unsupported("key '" + PrintableKey(header.key) + "' (database " +
                               std::to_string(header.database) +
                               ") is a stream handed over in pieces: streams can only be RESTOREd");
  }
  TANDEM_RETURN_IF_ERROR(EnsureDatabase(header.database));
  if (piece.first) {
    // A string's SET replaces the key (and its expiry) by itself.
    if (header.kind != RdbValueKind::kString) {
      argv_.resize(2);
      argv_[0].assign("DEL");
      argv_[1].assign(header.key);
      TANDEM_RETURN_IF_ERROR(Send(argv_, What::kDelete, header.key, 0));
    }
    ++summary_.keys;
    ++summary_.pieces;
  }
  const std::vector<std::string>& elements = piece.elements;
  std::string_view command;
  What what = What::kSet;
  size_t stride = 1;  // elements per logical element (hash: field and value)
  switch (header.kind) {
    case RdbValueKind::kList:
      command = "RPUSH";
      what = What::kRpush;
      break;
    case RdbValueKind::kSet:
      command = "SADD";
      what = What::kSadd;
      break;
    case RdbValueKind::kZset:
      command = "ZADD";
      what = What::kZadd;
      if (piece.scores.size() != elements.size()) {
        return engine::Internal("a sorted set piece of key '" + PrintableKey(header.key) +
                                "' has " + std::to_string(elements.size()) + " members and " +
                                std::to_string(piece.scores.size()) + " scores");
      }
      break;
    case RdbValueKind::kHash:
      command = "HSET";
      what = What::kHset;
      stride = 2;
      if (elements.size() % 2 != 0) {
        return engine::Internal("a hash piece of key '" + PrintableKey(header.key) +
                                "' has an odd number of fields and values");
      }
      break;
    case RdbValueKind::kString:
      command = "SET";
      what = What::kSet;
      if (elements.size() > 1) {
        return engine::Internal("a string piece of key '" + PrintableKey(header.key) +
                                "' has more than one element");
      }
      break;
    case RdbValueKind::kStream:
      break;  // refused above
  }
  size_t per_command = options_.command_elements * stride;
  for (size_t begin = 0; begin < elements.size(); begin += per_command) {
    size_t end = std::min(elements.size(), begin + per_command);
    bool zset = header.kind == RdbValueKind::kZset;
    argv_.resize(2 + (end - begin) * (zset ? 2 : 1));
    argv_[0].assign(command);
    argv_[1].assign(header.key);
    size_t bytes = 0;
    size_t out = 2;
    for (size_t i = begin; i < end; ++i) {
      if (zset) {
        FormatScore(piece.scores[i], &argv_[out++]);
      }
      argv_[out++].assign(elements[i]);
      bytes += elements[i].size();
    }
    TANDEM_RETURN_IF_ERROR(Send(argv_, what, header.key, bytes));
  }
  if (piece.last) {
    return SendExpiry(header);
  }
  return Status::Ok();
}

Status RedisSnapshotLoader::OnFunctionLibrary(std::string_view code) {
  TANDEM_RETURN_IF_ERROR(CheckStop());
  argv_.resize(4);
  argv_[0].assign("FUNCTION");
  argv_[1].assign("LOAD");
  argv_[2].assign("REPLACE");
  argv_[3].assign(code);
  ++summary_.functions;
  return Send(argv_, What::kFunction, {}, code.size());
}

Status RedisSnapshotLoader::OnEnd() { return ReceiveDownTo(0, 0); }

}  // namespace tandem::connectors::redis
