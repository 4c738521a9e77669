// File: connectors/redis/redis_keyspace_verification.h
//
// The Redis implementation of engine::KeyspaceVerification (see engine/keyspace_verification.h
// for the commands behind each call) over a Connection it borrows, and the Lua digest script.
//
// ScanKeys leaves out tandem's own keys, those starting with "_tandem:" (kTandemKeyPrefix,
// redis_change_applier.h: a sync's checkpoints, state and lock, and the heartbeat keys), on either
// side, so `tandem verify` compares only the user's data and never counts or reports them. A
// page may therefore hold fewer keys than SCAN returned, or none, with a cursor to continue from.
//
// The digest script (kServerDigest) runs as `#!lua flags=no-writes`, so it is allowed on
// read-only replicas; it is loaded once per connection with SCRIPT LOAD and called with EVALSHA.
// For each key it returns {type, pttl, digest or nil, groups digest or nil}. Digests are SHA-1
// (redis.sha1hex) over a canonical form of the value:
//   string        sha1(value)
//   list, stream  sha1 of the elements (stream entries: ID, fields, values), length-prefixed
//   hash/set/zset "<count>:<a>,<b>,<c>": per element (field+value, member, member+score with the
//                 score re-printed with %.17g from its double), three 52-bit slices of the
//                 element's SHA-1 summed modulo 2^52, so member order and encoding do not matter
// A value with more elements than the page limit (a string longer than the byte limit) gets no
// digest and is read in pages by the caller instead, so one call never blocks the server long.
//
// Thread safety: owned by the thread that owns the Connection.
#pragma once

#include <string>

#include "connectors/redis/redis_connection.h"
#include "engine/keyspace_verification.h"

namespace tandem::connectors::redis {

// The digest script's source, for tests and for the benchmark.
extern const char kValueDigestScript[];

class RedisKeyspaceVerification final : public engine::KeyspaceVerification {
 public:
  // `connection` must outlive this object.
  explicit RedisKeyspaceVerification(Connection* connection) : connection_(connection) {}

  engine::Status SelectDatabase(int database) override;
  engine::Result<engine::KeyScanPage> ScanKeys(const std::string& cursor, int64_t count) override;
  engine::Result<std::vector<engine::KeyProbe>> ProbeKeys(const std::vector<std::string>& keys,
                                                          engine::ValueFetch fetch,
                                                          int64_t page_elements) override;
  engine::Result<engine::ValuePage> ReadValuePage(const std::string& key, const std::string& type,
                                                  const std::string& cursor,
                                                  int64_t page_elements) override;
  engine::Result<std::vector<bool>> KeysExist(const std::vector<std::string>& keys) override;
  engine::Result<engine::ReplicationState> Replication() override;
  engine::Result<std::vector<engine::DumpedKey>> DumpKeys(
      const std::vector<std::string>& keys) override;
  int64_t commands_sent() const override { return commands_sent_; }

 private:
  engine::Result<std::vector<Reply>> Pipeline(const std::vector<Argv>& commands);
  engine::Result<std::vector<engine::KeyProbe>> ProbeWithValues(
      const std::vector<std::string>& keys, int64_t page_elements);
  engine::Result<std::vector<engine::KeyProbe>> ProbeWithScript(
      const std::vector<std::string>& keys, int64_t page_elements);

  Connection* const connection_;  // not owned
  std::string script_sha_;        // set once the digest script is loaded
  int64_t commands_sent_ = 0;
};

}  // namespace tandem::connectors::redis
