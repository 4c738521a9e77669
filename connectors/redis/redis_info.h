// File: connectors/redis/redis_info.h
//
// Decoding what Redis reports about itself: INFO text, CONFIG GET and MODULE LIST replies, the
// version string. Pure functions over replies, so they are tested without a server.
//
// INFO text (every section alike):
//   # Server\r\n
//   redis_version:7.0.15\r\n
//   ...
//   # Keyspace\r\n
//   db0:keys=12,expires=3,avg_ttl=4041\r\n
//   # Modules\r\n
//   module:name=search,ver=20604,api=1,filters=0,usedby=[],using=[],options=[]\r\n
//
// Thread safety: value types and free functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/redis/redis_reply.h"
#include "engine/database.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

// The fields of one or more INFO replies, in the order the server sent them. A field may repeat
// ("module" once per module).
class InfoFields {
 public:
  // Parses INFO text; lines that are empty, comments ("# Server") or without ':' are skipped.
  static InfoFields Parse(std::string_view text);
  // Adds the fields of `other` after these.
  void Append(const InfoFields& other);

  // The first value of `key`, if present.
  std::optional<std::string> Get(std::string_view key) const;
  // The first value of `key` as an integer; nullopt when absent or not an integer.
  std::optional<int64_t> GetInt(std::string_view key) const;
  // Every value of `key`, in order.
  std::vector<std::string> GetAll(std::string_view key) const;

  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// Parses a whole decimal integer (optionally signed); nullopt for anything else.
std::optional<int64_t> ParseInt64(std::string_view text);

// "7.0.15" -> 70015 (major * 10000 + minor * 100 + patch, as engine::ServerInfo). Missing parts
// count as 0 ("7" -> 70000); nullopt when the text does not start with a number.
std::optional<int> ParseVersionNumber(std::string_view version);

// The keyspace lines of INFO keyspace ("db3:keys=5,expires=1,avg_ttl=0"), ordered by database.
// Errors: kCorruption naming the line when a db line lacks a readable keys= count.
engine::Result<std::vector<engine::KeyspaceInfo>> ParseKeyspace(const InfoFields& info);

// A CONFIG GET reply (a flat array name, value, name, value, ...) as a map.
// Errors: kCorruption when the reply is not such an array.
engine::Result<std::map<std::string, std::string>> ParseConfigReply(const Reply& reply);

// Redis memory sizes in configuration syntax ("0", "100mb", "1gb", "1048576", "64k") in bytes;
// nullopt when unreadable. Units as redis.conf documents: k=1000, kb=1024, m=1e6, mb=2^20, g, gb.
std::optional<int64_t> ParseMemorySize(std::string_view text);

struct ModuleInfo {
  std::string name;
  std::string version;  // as reported ("20604"); may be empty
};

// A MODULE LIST reply (an array of [name, <name>, ver, <ver>, ...] arrays).
// Errors: kCorruption when the reply has another shape.
engine::Result<std::vector<ModuleInfo>> ParseModuleList(const Reply& reply);

// The "module:name=...,ver=..." lines of INFO modules.
std::vector<ModuleInfo> ModulesFromInfo(const InfoFields& info);

}  // namespace tandem::connectors::redis
