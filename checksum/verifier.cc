#include "checksum/verifier.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "checksum/canonical_encoding.h"
#include "checksum/row_digest.h"
#include "checksum/table_pairing.h"
#include "checksum/verify_state.h"

namespace tandem::checksum {
namespace {

using engine::KeyBound;
using engine::KeyRange;
using engine::Result;
using engine::Row;
using engine::SqlDatabase;
using engine::Status;
using engine::TableId;
using engine::TableSchema;
using Clock = std::chrono::steady_clock;

constexpr int kBuckets = 4096;
constexpr int kMaxBisectDepth = 64;

Result<std::unique_ptr<SqlDatabase>> OpenSql(const engine::DatabaseOpener& open,
                                             const engine::ConnectionConfig& config,
                                             const char* side) {
  Result<std::unique_ptr<engine::Database>> opened = open(config);
  if (!opened.ok()) {
    return opened.status().WithContext(side);
  }
  std::unique_ptr<engine::Database> database = std::move(opened).value();
  auto* sql = dynamic_cast<SqlDatabase*>(database.get());
  if (sql == nullptr || sql->verification() == nullptr) {
    return engine::Unsupported(std::string(side) + " " + config.Redacted() +
                               ": verify compares MySQL/MariaDB and PostgreSQL tables; this "
                               "engine is not supported by this command");
  }
  database.release();
  return std::unique_ptr<SqlDatabase>(sql);
}

// One worker's connections: each used by the worker's thread (the target also by the helper
// thread of a concurrent read, never at the same time as by the worker).
struct Connections {
  std::unique_ptr<SqlDatabase> source;
  std::unique_ptr<SqlDatabase> target;
};

// What one chunk found.
struct ChunkResult {
  int64_t source_rows = 0;
  int64_t target_rows = 0;
  std::vector<Difference> differences;
  std::optional<SkippedRange> skipped;
};

bool CanonicalEqual(const engine::Value& a, const engine::Value& b, std::string* scratch_a,
                    std::string* scratch_b) {
  scratch_a->clear();
  scratch_b->clear();
  AppendCanonical(a, scratch_a);
  AppendCanonical(b, scratch_b);
  return *scratch_a == *scratch_b;
}

// Row-level comparison of two row sets of one keyed range (whole source/target rows).
std::vector<Difference> DiffKeyedRows(const TablePairing& pairing, std::vector<Row> source_rows,
                                      std::vector<Row> target_rows) {
  std::map<std::string, size_t> target_by_key;
  std::vector<Row> target_projected;
  target_projected.reserve(target_rows.size());
  for (size_t i = 0; i < target_rows.size(); ++i) {
    target_projected.push_back(pairing.ProjectTarget(target_rows[i]));
    target_by_key[KeyBytes(pairing.KeyOf(target_projected.back()))] = i;
  }
  std::vector<bool> matched(target_rows.size(), false);
  std::vector<Difference> out;
  std::string scratch_a;
  std::string scratch_b;
  for (Row& source_row : source_rows) {
    Row projected = pairing.ProjectSource(source_row);
    Row key = pairing.KeyOf(projected);
    auto found = target_by_key.find(KeyBytes(key));
    if (found == target_by_key.end()) {
      out.push_back({DifferenceKind::kMissing, std::move(key), {}, std::move(source_row), {}});
      continue;
    }
    matched[found->second] = true;
    const Row& other = target_projected[found->second];
    std::vector<std::string> columns;
    for (size_t c = 0; c < projected.size(); ++c) {
      if (!CanonicalEqual(projected[c], other[c], &scratch_a, &scratch_b)) {
        columns.push_back(pairing.compared[c].name);
      }
    }
    if (!columns.empty()) {
      out.push_back({DifferenceKind::kChanged, std::move(key), std::move(columns),
                     std::move(source_row), target_rows[found->second]});
    }
  }
  for (size_t i = 0; i < target_rows.size(); ++i) {
    if (!matched[i]) {
      out.push_back({DifferenceKind::kExtra,
                     pairing.KeyOf(target_projected[i]),
                     {},
                     {},
                     std::move(target_rows[i])});
    }
  }
  return out;
}

std::string DifferenceIdentity(const Difference& difference) {
  std::string id(1, static_cast<char>(difference.kind));
  id += KeyBytes(difference.key);
  for (const std::string& column : difference.columns) {
    id += '\0' + column;
  }
  return id;
}

// Keeps the differences of `next` that are also in `current`.
std::vector<Difference> Intersect(const std::vector<Difference>& current,
                                  std::vector<Difference> next) {
  std::set<std::string> seen;
  for (const Difference& difference : current) {
    seen.insert(DifferenceIdentity(difference));
  }
  std::vector<Difference> out;
  for (Difference& difference : next) {
    if (seen.count(DifferenceIdentity(difference)) != 0) {
      out.push_back(std::move(difference));
    }
  }
  return out;
}

// Whether chunks start with server digests. kAuto: where measured faster (BENCHMARKS.md, 2M rows):
// MariaDB/MySQL yes (1.16 s vs 1.84 s client-side); PostgreSQL no (4.45 s vs 2.78 s: its
// record-to-text conversion costs more than streaming the rows).
bool ServerHashingFor(Hashing hashing, const engine::ConnectionConfig& source,
                      const engine::ConnectionConfig& target) {
  if (source.engine != target.engine || hashing == Hashing::kClient) {
    return false;
  }
  return hashing == Hashing::kServer || source.engine == engine::EngineKind::kMySql;
}

// Verification of one table. Shared by the workers; every member below `mu_` is guarded by it.
class TableRun {
 public:
  TableRun(const VerifyOptions& options, const TablePairing& pairing, bool live,
           bool server_hashing, SqlDatabase& planner, TableReport* report, VerifyState* state,
           int tables_done, int tables_total)
      : options_(options),
        pairing_(pairing),
        live_(live),
        server_hashing_(server_hashing),
        planner_(planner),
        report_(report),
        state_(state),
        tables_done_(tables_done),
        tables_total_(tables_total) {
    chunk_rows_ = options.chunk_rows > 0 ? options.chunk_rows
                                         : std::max<int64_t>(1, options.initial_chunk_rows);
    for (const ColumnPair& pair : pairing.compared) {
      source_columns_.push_back(pair.source_index);
      target_columns_.push_back(pair.target_index);
    }
    report_->hashing = server_hashing_ ? "server" : "client";
  }

  // Runs the keyed chunk loop on `workers`. Returns kCancelled when stopped on request.
  Status RunKeyed(std::vector<Connections>& workers) {
    if (state_ != nullptr) {
      TableState& saved = state_->Table(report_->table);
      if (saved.watermark) {
        next_lower_ = KeyBound{*saved.watermark, false};
      }
    }
    std::vector<std::thread> threads;
    for (Connections& worker : workers) {
      threads.emplace_back([this, &worker] { WorkerLoop(worker); });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!fatal_.ok()) {
      report_->skipped.push_back(
          {committed_upper_ ? KeyRange{KeyBound{*committed_upper_, false}, std::nullopt}.ToString()
                            : KeyRange::All().ToString(),
           "not compared: " + fatal_.ToString()});
    }
    if (stopped_) {
      return engine::Cancelled("verification stopped on request; progress is in the state file");
    }
    return Status::Ok();
  }

  // Multiset comparison of a table without an identifying key.
  Status RunKeyless(Connections& worker) {
    report_->warnings.push_back(
        "no primary key or NOT NULL unique key: compared as a multiset of whole rows (duplicates "
        "counted); differences are keyed by every column and repair can only insert or delete "
        "whole rows");
    const int attempts = live_ ? std::max(1, options_.recheck_attempts) : 1;
    std::vector<Difference> differences;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      Result<std::vector<Difference>> found = MultisetDifferences(worker);
      if (!found.ok()) {
        report_->skipped.push_back({KeyRange::All().ToString(), found.status().ToString()});
        return Status::Ok();
      }
      differences = attempt == 0 ? std::move(found).value()
                                 : Intersect(differences, std::move(found).value());
      if (differences.empty()) {
        break;
      }
    }
    report_->chunks = 1;
    for (Difference& difference : differences) {
      AddDifference(std::move(difference));
    }
    return Status::Ok();
  }

 private:
  struct Chunk {
    int64_t index = 0;
    KeyRange range;
    std::optional<Row> upper_key;  // nullopt: the last chunk
  };

  void WorkerLoop(Connections& worker) {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!fatal_.ok() || stopped_) {
          return;
        }
        if (options_.stop_requested && options_.stop_requested()) {
          stopped_ = true;
          return;
        }
      }
      Status throttled = Throttle(worker);
      if (!throttled.ok()) {
        Fail(throttled);
        return;
      }
      Result<std::optional<Chunk>> chunk = NextChunk();
      if (!chunk.ok()) {
        Fail(chunk.status());
        return;
      }
      if (!chunk->has_value()) {
        return;
      }
      const Clock::time_point start = Clock::now();
      Result<ChunkResult> result = CompareChunk(worker, (*chunk)->range);
      if (!result.ok()) {
        Fail(result.status().WithContext("comparing " + report_->table.ToString() + " " +
                                         (*chunk)->range.ToString()));
        return;
      }
      Adapt(result->source_rows, Clock::now() - start);
      Status committed = Commit(std::move(**chunk), std::move(result).value());
      if (!committed.ok()) {
        Fail(committed);
        return;
      }
    }
  }

  void Fail(const Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fatal_.ok()) {
      fatal_ = status;
    }
  }

  Result<std::optional<Chunk>> NextChunk() {
    std::lock_guard<std::mutex> lock(mu_);
    if (planning_done_) {
      return std::optional<Chunk>();
    }
    Chunk chunk;
    chunk.index = next_index_++;
    chunk.range.lower = next_lower_;
    TANDEM_ASSIGN_OR_RETURN(
        std::optional<Row> upper,
        planner_.verification()->KeyAfter(pairing_.source, next_lower_, chunk_rows_ - 1));
    if (!upper) {
      planning_done_ = true;
    } else {
      chunk.range.upper = KeyBound{*upper, true};
      chunk.upper_key = *upper;
      next_lower_ = KeyBound{*upper, false};
    }
    return std::optional<Chunk>(std::move(chunk));
  }

  void Adapt(int64_t rows, Clock::duration elapsed) {
    if (options_.chunk_rows > 0) {
      return;
    }
    const double seconds = std::chrono::duration<double>(elapsed).count();
    if (seconds <= 0 || rows <= 0) {
      return;
    }
    const double wanted = static_cast<double>(rows) / seconds * options_.chunk_time_s;
    std::lock_guard<std::mutex> lock(mu_);
    // Halfway towards the measured size, at most 4x growth per chunk, within [100, 2M].
    double next = (static_cast<double>(chunk_rows_) + wanted) / 2;
    next = std::min(next, static_cast<double>(chunk_rows_) * 4);
    chunk_rows_ = std::clamp<int64_t>(static_cast<int64_t>(next), 100, 2000000);
  }

  Status Commit(Chunk chunk, ChunkResult result) {
    std::lock_guard<std::mutex> lock(mu_);
    finished_.emplace(chunk.index, std::make_pair(std::move(chunk), std::move(result)));
    bool advanced = false;
    while (!finished_.empty() && finished_.begin()->first == next_commit_) {
      auto [done_chunk, done] = std::move(finished_.begin()->second);
      finished_.erase(finished_.begin());
      ++next_commit_;
      advanced = true;
      report_->source_rows += done.source_rows;
      report_->target_rows += done.target_rows;
      ++report_->chunks;
      if (done.skipped) {
        report_->skipped.push_back(*done.skipped);
      }
      for (Difference& difference : done.differences) {
        AddDifference(std::move(difference));
      }
      committed_upper_ = done_chunk.upper_key;
      if (state_ != nullptr) {
        TableState& saved = state_->Table(report_->table);
        saved.source_rows = report_->source_rows;
        saved.target_rows = report_->target_rows;
        saved.chunks = report_->chunks;
        saved.differences = report_->differences;
        saved.watermark = done_chunk.upper_key;
        // A skipped chunk is not finished: the watermark stays put so a resumed run retries it
        // (chunks after it are compared again too; correct, if not minimal).
        if (done.skipped) {
          saved.watermark = std::nullopt;
        }
      }
    }
    if (advanced && state_ != nullptr) {
      TANDEM_RETURN_IF_ERROR(state_->Save());
    }
    if (options_.on_progress) {
      VerifyProgress progress;
      progress.table = report_->table;
      progress.chunks_done = report_->chunks;
      progress.rows_done = report_->source_rows;
      progress.rows_estimated = pairing_.source.estimated_rows;
      progress.tables_done = tables_done_;
      progress.tables_total = tables_total_;
      options_.on_progress(progress);
    }
    return Status::Ok();
  }

  // REQUIRES: mu_ held, or no worker running.
  void AddDifference(Difference difference) {
    if (report_->differences.size() >= options_.max_differences) {
      report_->differences_truncated = true;
      return;
    }
    report_->differences.push_back(std::move(difference));
  }

  Status Throttle(Connections& worker) {
    const Clock::time_point deadline = Clock::now() + options_.throttle_timeout;
    auto pause = std::chrono::milliseconds(50);
    while (true) {
      bool busy = false;
      std::string why;
      if (options_.max_lag_ms >= 0) {
        TANDEM_ASSIGN_OR_RETURN(std::optional<int64_t> lag,
                                worker.target->verification()->ReplicaLagMillis());
        if (lag && *lag > options_.max_lag_ms) {
          busy = true;
          why = "replica lag " + std::to_string(*lag) + " ms > --max-lag " +
                std::to_string(options_.max_lag_ms);
        }
      }
      if (!busy && options_.max_threads_running > 0) {
        TANDEM_ASSIGN_OR_RETURN(int64_t running, worker.source->verification()->ThreadsRunning());
        if (running > options_.max_threads_running) {
          busy = true;
          why = "source runs " + std::to_string(running) + " statements > " +
                std::to_string(options_.max_threads_running);
        }
      }
      if (!busy) {
        return Status::Ok();
      }
      if (Clock::now() >= deadline) {
        return engine::Timeout("throttled for longer than " +
                               std::to_string(options_.throttle_timeout.count() / 1000) +
                               " s: " + why);
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    }
  }

  Result<ChunkDigest> Digest(SqlDatabase& database, bool source, const KeyRange& range) {
    ChunkDigest digest;
    std::string scratch;
    const TableSchema& schema = source ? pairing_.source : pairing_.target;
    Status status = database.ReadRange(schema, range, [&](Row&& row) {
      digest.Add(
          HashRow(source ? pairing_.ProjectSource(row) : pairing_.ProjectTarget(row), &scratch));
      return true;
    });
    if (!status.ok()) {
      return status;
    }
    return digest;
  }

  // What one side's rows of a range hash to: the server's digest (`server`) or the client-side
  // ChunkDigest. Fingerprints of the two sides compare only when made the same way.
  struct Fingerprint {
    int64_t rows = 0;
    std::string digest;  // ServerDigest method + aggregate, or the ChunkDigest's sum
    friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
  };

  Result<Fingerprint> FingerprintOf(SqlDatabase& database, bool source, const KeyRange& range,
                                    bool server) {
    Fingerprint fingerprint;
    if (server) {
      TANDEM_ASSIGN_OR_RETURN(
          engine::ServerDigest digest,
          database.verification()->DigestRange(source ? pairing_.source : pairing_.target,
                                               source ? source_columns_ : target_columns_, range));
      fingerprint.rows = digest.rows;
      fingerprint.digest = digest.method + ":" + digest.aggregate;
      return fingerprint;
    }
    TANDEM_ASSIGN_OR_RETURN(ChunkDigest digest, Digest(database, source, range));
    fingerprint.rows = digest.rows();
    fingerprint.digest = "client:" + digest.sum().ToHex();
    return fingerprint;
  }

  // Both sides' fingerprints of `range`. Without `live_order`, read at the same time (the target
  // on a helper thread). With it, in the live order: source, then its position P, then wait until
  // the target applied P, then target; nullopt (and *unconfirmed set) when the target did not
  // catch up in time.
  Result<std::optional<std::pair<Fingerprint, Fingerprint>>> FingerprintBoth(
      Connections& worker, const KeyRange& range, bool server, bool live_order,
      std::optional<SkippedRange>* unconfirmed) {
    if (live_order) {
      TANDEM_ASSIGN_OR_RETURN(Fingerprint source,
                              FingerprintOf(*worker.source, true, range, server));
      std::string position;
      TANDEM_ASSIGN_OR_RETURN(bool caught_up, CatchUp(worker, &position));
      if (!caught_up) {
        *unconfirmed = SkippedRange{range.ToString(), CatchUpTimeoutReason(position)};
        return std::optional<std::pair<Fingerprint, Fingerprint>>();
      }
      TANDEM_ASSIGN_OR_RETURN(Fingerprint target,
                              FingerprintOf(*worker.target, false, range, server));
      return std::make_optional(std::make_pair(std::move(source), std::move(target)));
    }
    std::future<Result<Fingerprint>> target = std::async(std::launch::async, [&] {
      return FingerprintOf(*worker.target, /*source=*/false, range, server);
    });
    Result<Fingerprint> source = FingerprintOf(*worker.source, /*source=*/true, range, server);
    Result<Fingerprint> target_fingerprint = target.get();
    TANDEM_RETURN_IF_ERROR_CONTEXT(source, "source");
    TANDEM_RETURN_IF_ERROR_CONTEXT(target_fingerprint, "target");
    return std::make_optional(std::make_pair(std::move(*source), std::move(*target_fingerprint)));
  }

  // Waits until the target applied what the source holds now. False on timeout.
  Result<bool> CatchUp(Connections& worker, std::string* position) {
    TANDEM_ASSIGN_OR_RETURN(*position, worker.source->verification()->CurrentPosition());
    return worker.target->verification()->WaitForPosition(*position, options_.catch_up_timeout);
  }

  std::string CatchUpTimeoutReason(const std::string& position) const {
    return "the target did not apply source position " + position + " within " +
           std::to_string(options_.catch_up_timeout.count()) +
           " ms, so a difference seen here could not be confirmed";
  }

  // Called when server digests differed but the rows agreed: server text that differs for equal
  // values. After a few, the table is hashed client-side only (kAuto), which is then cheaper.
  void NoteServerFalseMismatch() {
    std::lock_guard<std::mutex> lock(mu_);
    if (options_.hashing == Hashing::kAuto && ++server_false_mismatches_ >= 3) {
      DropServerHashingLocked();
    }
  }

  void DropServerHashingLocked() {
    if (server_hashing_.exchange(false)) {
      report_->hashing = "server+client";
    }
  }

  // Whether `range` holds the same rows on both sides, read the way `live_order` says. Server
  // digests are tried first when enabled; when they differ the rows are hashed client-side, which
  // decides (a server digest difference can be a difference of text only).
  Result<std::optional<std::pair<Fingerprint, Fingerprint>>> SameRows(
      Connections& worker, const KeyRange& range, bool live_order, bool* same,
      std::optional<SkippedRange>* unconfirmed) {
    const bool server = server_hashing_.load();
    std::optional<std::pair<Fingerprint, Fingerprint>> both;
    if (server) {
      TANDEM_ASSIGN_OR_RETURN(both, FingerprintBoth(worker, range, true, live_order, unconfirmed));
      if (!both || both->first == both->second) {
        *same = both.has_value();
        return both;
      }
      if (both->first.digest.substr(0, both->first.digest.find(':')) !=
          both->second.digest.substr(0, both->second.digest.find(':'))) {
        std::lock_guard<std::mutex> lock(mu_);
        DropServerHashingLocked();  // different server versions: their digests never compare
      }
    }
    TANDEM_ASSIGN_OR_RETURN(both, FingerprintBoth(worker, range, false, live_order, unconfirmed));
    *same = both && both->first == both->second;
    if (*same && server && !live_) {
      NoteServerFalseMismatch();
    }
    return both;
  }

  Result<ChunkResult> CompareChunk(Connections& worker, const KeyRange& range) {
    ChunkResult result;
    bool same = false;
    std::optional<std::pair<Fingerprint, Fingerprint>> both;
    const bool server = server_hashing_.load();
    if (live_) {
      // At the same time first (the fast path), then once more in the live order: a difference
      // the replica had not applied yet goes away. Drill-down reads in the live order too, and
      // leaves are re-read recheck_attempts times; they compare rows exactly, so a server digest
      // difference of text only ends there with no row reported.
      TANDEM_ASSIGN_OR_RETURN(both, FingerprintBoth(worker, range, server, false, &result.skipped));
      same = both->first == both->second;
      if (!same) {
        TANDEM_ASSIGN_OR_RETURN(both,
                                FingerprintBoth(worker, range, server, true, &result.skipped));
        same = both && both->first == both->second;
      }
    } else {
      TANDEM_ASSIGN_OR_RETURN(both, SameRows(worker, range, false, &same, &result.skipped));
    }
    if (!both) {
      return result;  // not confirmed in time: a skipped range
    }
    result.source_rows = both->first.rows;
    result.target_rows = both->second.rows;
    if (same) {
      return result;
    }
    TANDEM_ASSIGN_OR_RETURN(result.differences, DrillDown(worker, range, result.source_rows,
                                                          result.target_rows, 0, &result));
    if (live_ && server && result.differences.empty() && !result.skipped) {
      NoteServerFalseMismatch();
    }
    return result;
  }

  Result<std::vector<Difference>> DrillDown(Connections& worker, const KeyRange& range,
                                            int64_t source_rows, int64_t target_rows, int depth,
                                            ChunkResult* result) {
    const int64_t larger = std::max(source_rows, target_rows);
    if (larger <= options_.leaf_rows || depth >= kMaxBisectDepth) {
      return LeafDifferences(worker, range, result);
    }
    const bool split_on_source = source_rows >= target_rows;
    SqlDatabase& splitter = split_on_source ? *worker.source : *worker.target;
    TANDEM_ASSIGN_OR_RETURN(
        std::optional<Row> middle,
        splitter.verification()->KeyAfter(split_on_source ? pairing_.source : pairing_.target,
                                          range.lower, larger / 2 - 1));
    if (!middle || (range.upper && KeyBytes(*middle) == KeyBytes(range.upper->key))) {
      return LeafDifferences(worker, range, result);
    }
    std::vector<Difference> out;
    KeyRange halves[2];
    halves[0].lower = range.lower;
    halves[0].upper = KeyBound{*middle, true};
    halves[1].lower = KeyBound{*middle, false};
    halves[1].upper = range.upper;
    for (const KeyRange& half : halves) {
      // Server digests when enabled (a half that differs only in text ends in leaves whose rows
      // compare equal), in the live order under a live replica so rows in flight do not count.
      TANDEM_ASSIGN_OR_RETURN(auto both, FingerprintBoth(worker, half, server_hashing_.load(),
                                                         live_, &result->skipped));
      if (!both || both->first == both->second) {
        continue;
      }
      TANDEM_ASSIGN_OR_RETURN(
          std::vector<Difference> found,
          DrillDown(worker, half, both->first.rows, both->second.rows, depth + 1, result));
      for (Difference& difference : found) {
        out.push_back(std::move(difference));
      }
    }
    return out;
  }

  Result<std::vector<Row>> ReadRows(SqlDatabase& database, bool source, const KeyRange& range) {
    std::vector<Row> rows;
    TANDEM_RETURN_IF_ERROR(
        database.ReadRange(source ? pairing_.source : pairing_.target, range, [&](Row&& row) {
          rows.push_back(std::move(row));
          return true;
        }));
    return rows;
  }

  Result<std::vector<Difference>> LeafDifferences(Connections& worker, const KeyRange& range,
                                                  ChunkResult* result) {
    const int attempts = live_ ? std::max(1, options_.recheck_attempts) : 1;
    std::vector<Difference> current;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      std::vector<Row> source_rows;
      std::vector<Row> target_rows;
      if (live_) {
        TANDEM_ASSIGN_OR_RETURN(source_rows, ReadRows(*worker.source, true, range));
        std::string position;
        TANDEM_ASSIGN_OR_RETURN(bool caught_up, CatchUp(worker, &position));
        if (!caught_up) {
          result->skipped = SkippedRange{range.ToString(), CatchUpTimeoutReason(position)};
          return std::vector<Difference>();
        }
        TANDEM_ASSIGN_OR_RETURN(target_rows, ReadRows(*worker.target, false, range));
        // The source once more: a row the load changed while the replica caught up shows the
        // target's (newer) value here, so it differs only from the first read. A row that differs
        // from both reads is different, not in flight.
        TANDEM_ASSIGN_OR_RETURN(std::vector<Row> source_again,
                                ReadRows(*worker.source, true, range));
        std::vector<Row> target_copy = target_rows;
        std::vector<Difference> before =
            DiffKeyedRows(pairing_, std::move(source_rows), std::move(target_copy));
        std::vector<Difference> found = Intersect(
            before, DiffKeyedRows(pairing_, std::move(source_again), std::move(target_rows)));
        current = attempt == 0 ? std::move(found) : Intersect(current, std::move(found));
        if (current.empty()) {
          break;
        }
        continue;
      } else {
        std::future<Result<std::vector<Row>>> target =
            std::async(std::launch::async, [&] { return ReadRows(*worker.target, false, range); });
        Result<std::vector<Row>> source = ReadRows(*worker.source, true, range);
        Result<std::vector<Row>> target_read = target.get();
        TANDEM_RETURN_IF_ERROR_CONTEXT(source, "source");
        TANDEM_RETURN_IF_ERROR_CONTEXT(target_read, "target");
        source_rows = std::move(source).value();
        target_rows = std::move(target_read).value();
      }
      std::vector<Difference> found =
          DiffKeyedRows(pairing_, std::move(source_rows), std::move(target_rows));
      current = attempt == 0 ? std::move(found) : Intersect(current, std::move(found));
      if (current.empty()) {
        break;
      }
    }
    return current;
  }

  // One multiset pass over the whole table (both sides), see the file comment of verifier.h.
  Result<std::vector<Difference>> MultisetDifferences(Connections& worker) {
    auto bucket_of = [](const Digest128& digest) {
      return static_cast<size_t>(digest.high >> 52);  // 4096 buckets
    };
    auto bucket_pass = [&](SqlDatabase& database, bool source) -> Result<std::vector<ChunkDigest>> {
      std::vector<ChunkDigest> buckets(kBuckets);
      std::string scratch;
      const TableSchema& schema = source ? pairing_.source : pairing_.target;
      TANDEM_RETURN_IF_ERROR(database.ReadRange(schema, KeyRange::All(), [&](Row&& row) {
        const Digest128 digest =
            HashRow(source ? pairing_.ProjectSource(row) : pairing_.ProjectTarget(row), &scratch);
        buckets[bucket_of(digest)].Add(digest);
        return true;
      }));
      return buckets;
    };
    std::vector<ChunkDigest> source_buckets;
    std::vector<ChunkDigest> target_buckets;
    if (live_) {
      TANDEM_ASSIGN_OR_RETURN(source_buckets, bucket_pass(*worker.source, true));
      std::string position;
      TANDEM_ASSIGN_OR_RETURN(bool caught_up, CatchUp(worker, &position));
      if (!caught_up) {
        return engine::Timeout(CatchUpTimeoutReason(position));
      }
      TANDEM_ASSIGN_OR_RETURN(target_buckets, bucket_pass(*worker.target, false));
    } else {
      auto target =
          std::async(std::launch::async, [&] { return bucket_pass(*worker.target, false); });
      auto source = bucket_pass(*worker.source, true);
      auto target_result = target.get();
      TANDEM_RETURN_IF_ERROR_CONTEXT(source, "source");
      TANDEM_RETURN_IF_ERROR_CONTEXT(target_result, "target");
      source_buckets = std::move(source).value();
      target_buckets = std::move(target_result).value();
    }
    int64_t source_total = 0;
    int64_t target_total = 0;
    std::vector<bool> differing(kBuckets, false);
    bool any = false;
    for (int i = 0; i < kBuckets; ++i) {
      source_total += source_buckets[static_cast<size_t>(i)].rows();
      target_total += target_buckets[static_cast<size_t>(i)].rows();
      if (!(source_buckets[static_cast<size_t>(i)] == target_buckets[static_cast<size_t>(i)])) {
        differing[static_cast<size_t>(i)] = true;
        any = true;
      }
    }
    report_->source_rows = source_total;
    report_->target_rows = target_total;
    if (!any) {
      return std::vector<Difference>();
    }
    struct Copies {
      int64_t source = 0;
      int64_t target = 0;
      Row projected;
      Row source_row;
      Row target_row;
    };
    std::map<Digest128, Copies> rows;
    std::mutex rows_mu;
    auto collect = [&](SqlDatabase& database, bool source) -> Status {
      std::string scratch;
      const TableSchema& schema = source ? pairing_.source : pairing_.target;
      return database.ReadRange(schema, KeyRange::All(), [&](Row&& row) {
        Row projected = source ? pairing_.ProjectSource(row) : pairing_.ProjectTarget(row);
        const Digest128 digest = HashRow(projected, &scratch);
        if (!differing[bucket_of(digest)]) {
          return true;
        }
        std::lock_guard<std::mutex> lock(rows_mu);
        Copies& copies = rows[digest];
        if (copies.projected.empty()) {
          copies.projected = std::move(projected);
        }
        if (source) {
          ++copies.source;
          copies.source_row = std::move(row);
        } else {
          ++copies.target;
          copies.target_row = std::move(row);
        }
        return true;
      });
    };
    if (live_) {
      TANDEM_RETURN_IF_ERROR_CONTEXT(collect(*worker.source, true), "source");
      std::string position;
      TANDEM_ASSIGN_OR_RETURN(bool caught_up, CatchUp(worker, &position));
      if (!caught_up) {
        return engine::Timeout(CatchUpTimeoutReason(position));
      }
      TANDEM_RETURN_IF_ERROR_CONTEXT(collect(*worker.target, false), "target");
    } else {
      auto target = std::async(std::launch::async, [&] { return collect(*worker.target, false); });
      Status source = collect(*worker.source, true);
      Status target_status = target.get();
      TANDEM_RETURN_IF_ERROR_CONTEXT(source, "source");
      TANDEM_RETURN_IF_ERROR_CONTEXT(target_status, "target");
    }
    std::vector<Difference> out;
    for (auto& [digest, copies] : rows) {
      for (int64_t i = copies.target; i < copies.source; ++i) {
        out.push_back({DifferenceKind::kMissing, copies.projected, {}, copies.source_row, {}});
      }
      for (int64_t i = copies.source; i < copies.target; ++i) {
        out.push_back({DifferenceKind::kExtra, copies.projected, {}, {}, copies.target_row});
      }
    }
    return out;
  }

  // Constant after construction.
  const VerifyOptions& options_;
  const TablePairing& pairing_;
  const bool live_;
  std::vector<int> source_columns_;  // the compared columns' indexes on each side
  std::vector<int> target_columns_;
  // Whether chunks are digested by the servers first; cleared (never set again) by any worker.
  std::atomic<bool> server_hashing_;
  SqlDatabase& planner_;       // used under mu_ only, by whichever worker plans
  TableReport* const report_;  // guarded by mu_ while workers run
  VerifyState* const state_;   // guarded by mu_; may be nullptr
  const int tables_done_;
  const int tables_total_;

  std::mutex mu_;
  std::optional<KeyBound> next_lower_;
  bool planning_done_ = false;
  int64_t next_index_ = 0;
  int64_t next_commit_ = 0;
  int64_t chunk_rows_ = 1000;
  std::map<int64_t, std::pair<Chunk, ChunkResult>> finished_;
  std::optional<Row> committed_upper_;
  Status fatal_;
  bool stopped_ = false;
  int server_false_mismatches_ = 0;

 public:
  // Joins missing/extra pairs of one key into `changed` (or drops them when the rows are equal):
  // rows that engines with different collations placed in different chunks.
  static void JoinMisplaced(const TablePairing& pairing, TableReport* report) {
    std::map<std::string, size_t> missing;
    for (size_t i = 0; i < report->differences.size(); ++i) {
      if (report->differences[i].kind == DifferenceKind::kMissing) {
        missing[KeyBytes(report->differences[i].key)] = i;
      }
    }
    if (missing.empty()) {
      return;
    }
    std::vector<bool> drop(report->differences.size(), false);
    std::vector<Difference> joined;
    for (size_t i = 0; i < report->differences.size(); ++i) {
      Difference& extra = report->differences[i];
      if (extra.kind != DifferenceKind::kExtra) {
        continue;
      }
      auto found = missing.find(KeyBytes(extra.key));
      if (found == missing.end() || drop[found->second]) {
        continue;
      }
      Difference& gone = report->differences[found->second];
      std::vector<Difference> diff = DiffKeyedRows(pairing, {gone.source_row}, {extra.target_row});
      drop[i] = true;
      drop[found->second] = true;
      for (Difference& difference : diff) {
        joined.push_back(std::move(difference));
      }
    }
    std::vector<Difference> kept;
    for (size_t i = 0; i < report->differences.size(); ++i) {
      if (!drop[i]) {
        kept.push_back(std::move(report->differences[i]));
      }
    }
    for (Difference& difference : joined) {
      kept.push_back(std::move(difference));
    }
    report->differences = std::move(kept);
  }
};

// Whether the target is a native replica of the source whose progress can be waited for.
bool IsLiveReplica(SqlDatabase& source, SqlDatabase& target) {
  if (source.config().engine != target.config().engine) {
    return false;
  }
  Result<std::optional<int64_t>> lag = target.verification()->ReplicaLagMillis();
  if (!lag.ok() || !lag->has_value()) {
    return false;
  }
  return source.verification()->CurrentPosition().ok();
}

}  // namespace

Result<TablePairing> DescribePair(SqlDatabase& source, SqlDatabase& target, const TableId& table) {
  TANDEM_ASSIGN_OR_RETURN(TableSchema source_schema, source.DescribeTable(table));
  Result<TableSchema> target_schema = target.DescribeTable(table);
  if (!target_schema.ok()) {
    if (target_schema.status().code() == engine::StatusCode::kNotFound) {
      return engine::NotFound("table " + table.ToString() +
                              " is missing on the target: create it (and copy its rows) first");
    }
    return target_schema.status();
  }
  return PairTables(source_schema, *target_schema);
}

Result<VerifyReport> Verify(const engine::ConnectionConfig& source_config,
                            const engine::ConnectionConfig& target_config,
                            const engine::DatabaseOpener& open, const VerifyOptions& options) {
  const Clock::time_point start = Clock::now();
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<SqlDatabase> source,
                          OpenSql(open, source_config, "source"));
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<SqlDatabase> target,
                          OpenSql(open, target_config, "target"));

  std::vector<TableId> tables = options.tables;
  if (tables.empty()) {
    TANDEM_ASSIGN_OR_RETURN(tables, source->ListTables(""));
    std::sort(tables.begin(), tables.end());
  } else {
    for (const TableId& table : tables) {
      Result<TableSchema> described = source->DescribeTable(table);
      if (!described.ok()) {
        if (described.status().code() == engine::StatusCode::kNotFound) {
          return engine::NotFound("table " + table.ToString() + " does not exist on the source " +
                                  source_config.Redacted() + ": check --table (schema.table)");
        }
        return described.status().WithContext("source");
      }
    }
  }

  std::optional<VerifyState> state;
  if (!options.state_path.empty()) {
    TANDEM_ASSIGN_OR_RETURN(
        VerifyState opened,
        VerifyState::Open(options.state_path,
                          source_config.Redacted() + " -> " + target_config.Redacted()));
    state = std::move(opened);
  }

  const bool live = IsLiveReplica(*source, *target);
  const bool server_hashing = ServerHashingFor(options.hashing, source_config, target_config);
  std::vector<Connections> workers(static_cast<size_t>(std::max(1, options.threads)));
  for (Connections& worker : workers) {
    TANDEM_ASSIGN_OR_RETURN(worker.source, OpenSql(open, source_config, "source"));
    TANDEM_ASSIGN_OR_RETURN(worker.target, OpenSql(open, target_config, "target"));
  }

  VerifyReport report;
  int tables_done = 0;
  for (const TableId& table : tables) {
    TableReport table_report;
    table_report.table = table;
    Result<TablePairing> pairing = DescribePair(*source, *target, table);
    if (!pairing.ok()) {
      table_report.skipped.push_back({KeyRange::All().ToString(), pairing.status().message()});
      report.tables.push_back(std::move(table_report));
      ++tables_done;
      continue;
    }
    table_report.skipped_columns = pairing->skipped_columns;
    table_report.key_columns = pairing->KeyColumnNames();
    if (!pairing->keyed()) {
      table_report.key_columns.clear();
      for (const ColumnPair& pair : pairing->compared) {
        table_report.key_columns.push_back(pair.name);
      }
    }
    const TableState* saved = state ? state->Find(table) : nullptr;
    if (saved != nullptr) {
      table_report.source_rows = saved->source_rows;
      table_report.target_rows = saved->target_rows;
      table_report.chunks = saved->chunks;
      table_report.resumed_chunks = saved->chunks;
      table_report.differences = saved->differences;
    }
    if (saved != nullptr && saved->finished) {
      if (!pairing->keyed()) {
        table_report.warnings.push_back("no identifying key: compared as a multiset (resumed)");
      }
      report.tables.push_back(std::move(table_report));
      ++tables_done;
      continue;
    }
    TableRun run(options, *pairing, live, server_hashing, *source, &table_report,
                 state ? &*state : nullptr, tables_done, static_cast<int>(tables.size()));
    Status status = pairing->keyed() ? run.RunKeyed(workers) : run.RunKeyless(workers.front());
    if (status.code() == engine::StatusCode::kCancelled) {
      return status;
    }
    TableRun::JoinMisplaced(*pairing, &table_report);
    if (state && table_report.skipped.empty()) {
      TableState& entry = state->Table(table);
      entry.finished = true;
      entry.source_rows = table_report.source_rows;
      entry.target_rows = table_report.target_rows;
      entry.chunks = table_report.chunks;
      entry.differences = table_report.differences;
      TANDEM_RETURN_IF_ERROR(state->Save());
    }
    report.tables.push_back(std::move(table_report));
    ++tables_done;
  }

  if (Result<std::string> position = source->verification()->CurrentPosition(); position.ok()) {
    report.source_position = *position;
  }
  if (Result<std::string> position = target->verification()->CurrentPosition(); position.ok()) {
    report.target_position = *position;
  }
  report.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace tandem::checksum
