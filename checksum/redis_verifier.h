// File: checksum/redis_verifier.h
//
// VerifyRedis: the keyspace comparison behind `tandem verify` for Redis (anchor: redis-full-check,
// which compares in rounds to filter out keys that changed during the check).
//
// For each logical database (options.databases, else every database non-empty on either side):
//   1. Source walk: one thread SCANs the source and hands batches of `batch_keys` keys to
//      `threads` workers through a bounded queue. Each worker owns one source and one target
//      connection and probes its batch on both sides (engine/keyspace_verification.h: TYPE, PTTL
//      and the value's first page, or a server-side Lua digest, pipelined), reads larger values
//      on in pages (HSCAN/SSCAN/ZSCAN/LRANGE/XRANGE/GETRANGE) into an incremental digest
//      (redis_value_digest.h), and compares: type, value (logically: encoding and element order do
//      not matter; zset scores exactly), stream consumer groups, and TTL within `ttl_tolerance`.
//      Memory: one batch per worker plus one page per value in flight.
//   2. Target walk, at the same time: another thread SCANs the target and asks the source which
//      of those keys exist (EXISTS, pipelined); keys only the target has are suspects (`extra`).
//   3. Re-check: a differing key is a suspect, never yet a difference. Suspects are read again up
//      to `recheck_attempts` times in the live order: source read A, then the source's
//      replication offset O, then — when the target is a native replica of the source (same
//      replication id) — wait until the target's offset reached O (at most `catch_up_timeout`),
//      otherwise wait `recheck_delay`; then target read T and a second source read B. A key whose
//      T matches A or B is consistent (the difference was a write in flight, or an expiry); only
//      keys that differ in every attempt are reported. A key that expires on both sides meanwhile
//      is consistent.
// Throttling: with max_ops > 0, commands against each server are held to max_ops per second
// (shared by all threads; engine::KeyspaceVerification::commands_sent is the unit).
//
// The report (RedisVerifyReport) reuses VerifyReport: one TableReport per database, named
// "redis.db<N>", with key column "key", source_rows / target_rows the keys seen, chunks the
// batches; a difference's `columns` are among "type", "value", "groups" (stream consumer groups)
// and "ttl". Key names that are not valid UTF-8 (or hold NUL) are Bytes values (shown 0x hex).
// Keys of types tandem cannot read (module types) are listed in `skipped`.
//
// Errors returned (the run could not start or a server was lost): connection and authentication
// errors, kUnsupported when a side is not Redis or cannot run the digest script, kNotFound for a
// database beyond the server's count, kCancelled when stop_requested.
//
// Thread safety: VerifyRedis may be called from any thread; it starts and joins its own threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "checksum/verify_report.h"
#include "engine/connection_config.h"
#include "engine/database.h"
#include "engine/keyspace_verification.h"
#include "engine/status.h"

namespace tandem::checksum {

struct RedisVerifyOptions {
  std::vector<int> databases;  // empty: every database with keys on either side
  int threads = 4;             // workers; each owns one connection per side
  // kValues is the default because it measured faster: 41.6 s against 96.6 s for kServerDigest
  // on a million mixed keys against a replica, 2 cores (bench/redis_verify_bench.sh); the Lua
  // script's per-element SHA-1 costs the server more CPU than sending the values costs the wire.
  engine::ValueFetch fetch = engine::ValueFetch::kValues;
  int64_t batch_keys = 256;     // keys per pipelined probe
  int64_t scan_count = 1000;    // SCAN COUNT
  int64_t page_elements = 512;  // elements per value page (strings: 512 bytes per element)
  std::chrono::milliseconds ttl_tolerance{1000};
  int64_t max_ops = 0;  // commands per second against each server; 0 = unlimited
  std::chrono::milliseconds catch_up_timeout{30000};
  std::chrono::milliseconds recheck_delay{1000};  // when the target is not a native replica
  int recheck_attempts = 3;
  size_t max_differences = 10000;        // per database kept in the report
  size_t max_suspects = 1000000;         // per database re-checked; beyond: reported as skipped
  std::function<bool()> stop_requested;  // polled between batches
};

// Keys of one type on each side.
struct TypeCount {
  int64_t source = 0;
  int64_t target = 0;
};

struct RedisVerifyReport {
  VerifyReport report;
  std::vector<int> databases;                           // parallel to report.tables
  std::vector<std::map<std::string, TypeCount>> types;  // parallel to report.tables
  std::string digest;                                   // "values" or "lua"
  int64_t rechecked_keys = 0;                           // suspects re-read, all databases

  bool Consistent() const { return report.Consistent(); }
  bool HasDifferences() const { return report.HasDifferences(); }
  // VerifyReport::ToJson() plus, per table, "database" and "types" {type: {source, target}},
  // and top level "digest" and "rechecked_keys".
  nlohmann::json ToJson() const;
  // VerifyReport::ToText() followed by the key counts per type of each database.
  std::string ToText() const;
};

// "redis.db<N>", the table name of database N in reports.
std::string RedisTableName(int database);
// The key as a report Value: Text when valid UTF-8 without NUL, else Bytes (raw bytes kept).
engine::Value RedisKeyValue(const std::string& key);

// Compares the keyspaces of `source` and `target` as the file comment describes, opening every
// connection through `open`. Errors: those listed in the file comment; differences are not errors
// (they are in the report).
engine::Result<RedisVerifyReport> VerifyRedis(const engine::ConnectionConfig& source,
                                              const engine::ConnectionConfig& target,
                                              const engine::DatabaseOpener& open,
                                              const RedisVerifyOptions& options);

}  // namespace tandem::checksum
