// File: checksum/verifier.h
//
// Verify: the chunked consistency check behind `tandem verify` and the orchestrator's data gate.
//
// For each table (keyed by its primary key, else a NOT NULL unique key):
//   1. Chunks are planned over the key on the source: the boundary of the next chunk is the key
//      `chunk_rows` rows further (VerificationSupport::KeyAfter, an index walk), chunk_rows adapted
//      after every chunk so that a chunk takes about `chunk_time_s` (unless fixed by chunk_rows).
//   2. `threads` workers take chunks; each worker owns one source and one target connection and
//      reads both sides of a chunk at the same time (the target on a helper thread), hashing every
//      row client-side (XXH3-128 of the canonical encoding of the compared columns, summed with a
//      row count: row_digest.h). Memory: one row per side in flight. Where source and target are
//      the same engine the servers digest the chunk themselves instead (Hashing below) and only
//      a chunk whose server digests differ is hashed client-side.
//   3. A chunk whose digests differ is, when the target is a native replica of the source (same
//      engine, the target reports replica lag), read once more in the live order: source read,
//      then the source position P, then wait until the target applied P (bounded by
//      `catch_up_timeout`), then target read. If it matches, the chunk is consistent: the
//      difference was replication in flight. A server digest difference is always confirmed by
//      client-side hashing before the chunk counts as different.
//   4. A chunk still different is bisected (split at the middle key of the side with more rows,
//      halves re-hashed (server digests when enabled; in the live order under a live replica),
//      only differing halves followed) down to `leaf_rows` rows, and each leaf
//      is read whole on both sides and joined on the key: `missing` (in the target), `extra` (in
//      the target), `changed` (with the columns). Under a live replica a leaf is read
//      `recheck_attempts` times in the live order, plus a second source read after the target
//      read; only differences against both source reads, in every attempt, are reported (a row
//      the load changed while the replica caught up matches the second read). Missing/extra pairs
//      with the same key found in different chunks (engines whose collations order text keys
//      differently) are joined at the end of the table.
// Tables without an identifying key are compared as multisets: every row's digest goes to one of
// 4096 buckets with counts on both sides; rows of differing buckets are collected by digest and
// each surplus copy reported (`missing`/`extra` keyed by the whole row), with a warning.
//
// Throttling before every chunk: while the target's replica lag exceeds `max_lag_ms`, or the
// source runs more than `max_threads_running` statements, the worker pauses (at most
// `throttle_timeout`, then the run stops with kTimeout).
//
// Resume: with `state_path`, finished chunks are recorded durably (verify_state.h) and a new run
// with the same state skips them.
//
// Errors returned (the run could not start): kNotFound for a named table missing on the source,
// connection/permission errors opening connections, kUnsupported for a non-SQL engine, state file
// errors, kCancelled when stop_requested (progress saved). Problems of one table (missing on the
// target, column sets that differ, a server lost mid-table) are entries in the report's `skipped`
// instead, so the other tables are still answered.
//
// Thread safety: Verify may be called from any thread; it starts and joins its own workers.
// Callbacks in VerifyOptions are called from worker threads, one at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "checksum/verify_report.h"
#include "engine/connection_config.h"
#include "engine/database.h"
#include "engine/status.h"
#include "engine/table_schema.h"

namespace tandem::checksum {

struct VerifyProgress {
  engine::TableId table;
  int64_t chunks_done = 0;
  int64_t rows_done = 0;       // source rows compared so far in this table
  int64_t rows_estimated = 0;  // the catalog's estimate (-1 unknown)
  int tables_done = 0;
  int tables_total = 0;
};

// How chunks are hashed. kServer: each side's server computes a digest of the range
// (VerificationSupport::DigestRange, only where source and target are the same engine), and a
// mismatch is confirmed with client-side hashing before anything is called different; kClient:
// rows are streamed and hashed here. kAuto: kServer where the engines match (measured faster:
// BENCHMARKS.md), dropping to kClient for a table whose server digests keep disagreeing while its
// rows agree (values whose server text differs, e.g. DECIMAL columns of different scale).
enum class Hashing { kAuto, kServer, kClient };

struct VerifyOptions {
  std::vector<engine::TableId> tables;  // default empty: every table the source URI shows
  int threads = 2;                      // parallel chunks; each uses one connection per side
  double chunk_time_s = 0.5;            // target time per chunk (adaptive sizing)
  int64_t chunk_rows = 0;               // > 0: fixed rows per chunk, no adaptation
  int64_t initial_chunk_rows = 1000;    // first chunk's size when adaptive
  int64_t max_lag_ms = -1;              // < 0: do not throttle on replica lag
  int64_t max_threads_running = 25;     // <= 0: do not throttle on source load
  std::chrono::milliseconds catch_up_timeout{30000};
  std::chrono::milliseconds throttle_timeout{600000};
  Hashing hashing = Hashing::kAuto;
  int recheck_attempts = 3;        // live re-reads of a differing chunk / leaf
  int64_t leaf_rows = 64;          // bisect until a range has at most this many rows
  size_t max_differences = 10000;  // per table kept in the report (and state)
  std::string state_path;          // empty: no resume state
  std::function<void(const VerifyProgress&)> on_progress;
  std::function<bool()> stop_requested;  // polled between chunks
};

// Compares `source` with `target`. `open` opens one connection (must give SqlDatabases).
engine::Result<VerifyReport> Verify(const engine::ConnectionConfig& source,
                                    const engine::ConnectionConfig& target,
                                    const engine::DatabaseOpener& open,
                                    const VerifyOptions& options);

// The pairing used for one table, for repair statements (re-describes both sides).
engine::Result<TablePairing> DescribePair(engine::SqlDatabase& source, engine::SqlDatabase& target,
                                          const engine::TableId& table);

}  // namespace tandem::checksum
