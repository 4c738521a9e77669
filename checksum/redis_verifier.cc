#include "checksum/redis_verifier.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "checksum/redis_value_digest.h"

namespace tandem::checksum {
namespace {

using Clock = std::chrono::steady_clock;
using engine::KeyspaceVerification;
using engine::Result;
using engine::Status;

// Holds the commands sent to one server to a rate, shared by every thread that talks to it.
// Charged after each call with the commands it sent, so the average stays at or under the rate.
// Thread safety: safe for concurrent use.
class OpsThrottle {
 public:
  explicit OpsThrottle(int64_t max_ops) : max_ops_(max_ops) {}

  void Charge(int64_t ops) {
    if (max_ops_ <= 0 || ops <= 0) {
      return;
    }
    Clock::time_point wake;
    {
      std::lock_guard lock(mu_);
      const Clock::time_point now = Clock::now();
      if (next_ < now) {
        next_ = now;
      }
      next_ += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(ops) / static_cast<double>(max_ops_)));
      wake = next_;
    }
    std::this_thread::sleep_until(wake);
  }

 private:
  const int64_t max_ops_;  // constant after construction
  std::mutex mu_;
  Clock::time_point next_;  // guarded by mu_: when the commands charged so far are paid for
};

// One connection to one side, with its throttle. Owned by one thread at a time.
class Side {
 public:
  static Result<std::unique_ptr<Side>> Open(const engine::ConnectionConfig& config,
                                            const engine::DatabaseOpener& open,
                                            OpsThrottle* throttle, const char* role) {
    auto opened = open(config);
    if (!opened.ok()) {
      return opened.status().WithContext(role);
    }
    auto* key_value = dynamic_cast<engine::KeyValueDatabase*>(opened->get());
    if (key_value == nullptr || key_value->keyspace_verification() == nullptr) {
      return engine::Unsupported(std::string(role) + " " + config.Redacted() +
                                 " is not a Redis server; tandem verify compares Redis with Redis");
    }
    return std::unique_ptr<Side>(new Side(std::move(*opened), key_value, throttle));
  }

  engine::KeyValueDatabase& database() { return *key_value_; }

  // Runs `call` on the port and charges the commands it sent to the throttle.
  template <typename Call>
  auto Run(Call call) {
    KeyspaceVerification& port = *key_value_->keyspace_verification();
    const int64_t before = port.commands_sent();
    auto result = call(port);
    throttle_->Charge(port.commands_sent() - before);
    return result;
  }

 private:
  Side(std::unique_ptr<engine::Database> owner, engine::KeyValueDatabase* key_value,
       OpsThrottle* throttle)
      : owner_(std::move(owner)), key_value_(key_value), throttle_(throttle) {}

  std::unique_ptr<engine::Database> owner_;
  engine::KeyValueDatabase* key_value_;  // owner_, as a KeyValueDatabase
  OpsThrottle* throttle_;                // not owned
};

// What one read learned about one key, reduced to what is compared.
struct KeyState {
  std::string type = "none";
  int64_t ttl_ms = -2;
  std::string digest;       // of the value; "s..." from the server, "x..." computed here
  std::string groups;       // digest of a stream's consumer groups
  bool unstable = false;    // changed type during the read: read again
  bool unreadable = false;  // a type tandem cannot read
};

Result<std::vector<KeyState>> ReadStates(Side& side, const std::vector<std::string>& keys,
                                         const RedisVerifyOptions& options) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<engine::KeyProbe> probes,
                          side.Run([&](KeyspaceVerification& port) {
                            return port.ProbeKeys(keys, options.fetch, options.page_elements);
                          }));
  std::vector<KeyState> states(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    engine::KeyProbe& probe = probes[i];
    KeyState& state = states[i];
    state.type = probe.type;
    state.ttl_ms = probe.ttl_ms;
    state.unstable = probe.unstable;
    if (probe.unstable || probe.type == "none") {
      continue;
    }
    state.groups = GroupsDigest(probe.groups);
    if (!probe.server_digest.empty()) {
      state.digest = "s" + probe.server_digest;
      continue;
    }
    ValueDigest digest(probe.type);
    TANDEM_RETURN_IF_ERROR(digest.Add(probe.elements));
    std::string cursor = probe.next_cursor;
    while (!cursor.empty()) {
      auto page = side.Run([&](KeyspaceVerification& port) {
        return port.ReadValuePage(keys[i], probe.type, cursor, options.page_elements);
      });
      if (!page.ok()) {
        if (page.status().code() == engine::StatusCode::kFailedPrecondition) {
          state.unstable = true;
          break;
        }
        if (page.status().code() == engine::StatusCode::kUnsupported) {
          state.unreadable = true;
          break;
        }
        return page.status();
      }
      TANDEM_RETURN_IF_ERROR(digest.Add(page->elements));
      cursor = std::move(page->next_cursor);
    }
    state.digest = digest.Finish();
  }
  return states;
}

bool TtlDiffers(int64_t source, int64_t target, std::chrono::milliseconds tolerance) {
  if (source < 0 || target < 0) {
    return (source < 0) != (target < 0);
  }
  return std::llabs(source - target) > tolerance.count();
}

struct Verdict {
  bool differs = false;
  DifferenceKind kind = DifferenceKind::kChanged;
  std::vector<std::string> columns;
  bool unreadable = false;  // same type on both sides, one tandem cannot read: not compared
};

Verdict Compare(const KeyState& source, const KeyState& target,
                std::chrono::milliseconds tolerance) {
  Verdict verdict;
  if (source.unstable || target.unstable) {
    return {true, DifferenceKind::kChanged, {"value"}, false};
  }
  const bool source_gone = source.type == "none";
  const bool target_gone = target.type == "none";
  if (source_gone && target_gone) {
    return verdict;
  }
  if (target_gone) {
    return {true, DifferenceKind::kMissing, {}, false};
  }
  if (source_gone) {
    return {true, DifferenceKind::kExtra, {}, false};
  }
  if (source.type != target.type) {
    verdict.columns.push_back("type");
  } else if (source.unreadable || target.unreadable) {
    verdict.unreadable = true;
  } else {
    if (source.digest != target.digest) {
      verdict.columns.push_back("value");
    }
    if (source.groups != target.groups) {
      verdict.columns.push_back("groups");
    }
  }
  if (TtlDiffers(source.ttl_ms, target.ttl_ms, tolerance)) {
    verdict.columns.push_back("ttl");
  }
  verdict.differs = !verdict.columns.empty();
  return verdict;
}

// Batches of keys from the source walk to the workers. Thread safety: safe for concurrent use.
class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity) : capacity_(capacity) {}

  // Waits for room; false when the queue was aborted.
  bool Push(std::vector<std::string> batch) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return aborted_ || items_.size() < capacity_; });
    if (aborted_) {
      return false;
    }
    items_.push_back(std::move(batch));
    not_empty_.notify_one();
    return true;
  }
  // The next batch; nullopt once closed and drained, or aborted.
  std::optional<std::vector<std::string>> Pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return aborted_ || closed_ || !items_.empty(); });
    if (aborted_ || items_.empty()) {
      return std::nullopt;
    }
    std::vector<std::string> batch = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return batch;
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }
  void Abort() {
    std::lock_guard lock(mu_);
    aborted_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  // Guarded by mu_.
  std::deque<std::vector<std::string>> items_;
  bool closed_ = false;
  bool aborted_ = false;
};

// What the threads of one database's pass gather. Thread safety: guarded by mu.
struct PassResults {
  std::mutex mu;
  std::vector<std::string> suspects;
  bool suspects_overflow = false;
  std::map<std::string, TypeCount> types;
  int64_t source_keys = 0;
  int64_t target_keys = 0;
  int64_t batches = 0;
  std::vector<SkippedRange> skipped;
  std::optional<Status> failure;  // the first error of any thread

  void AddSuspect(const std::string& key, size_t limit) {
    if (suspects.size() < limit) {
      suspects.push_back(key);
    } else {
      suspects_overflow = true;
    }
  }
  void Fail(Status status) {
    if (!failure.has_value()) {
      failure = std::move(status);
    }
  }
};

// Connections of a run, each owned by the thread the pass gives it to.
struct Connections {
  std::vector<std::unique_ptr<Side>> worker_source;
  std::vector<std::unique_ptr<Side>> worker_target;
  std::unique_ptr<Side> scan_source;   // source walk
  std::unique_ptr<Side> scan_target;   // target walk
  std::unique_ptr<Side> exist_source;  // target walk's EXISTS on the source

  std::vector<Side*> All() {
    std::vector<Side*> all = {scan_source.get(), scan_target.get(), exist_source.get()};
    for (auto& side : worker_source) {
      all.push_back(side.get());
    }
    for (auto& side : worker_target) {
      all.push_back(side.get());
    }
    return all;
  }
};

bool StopRequested(const RedisVerifyOptions& options) {
  return options.stop_requested && options.stop_requested();
}

void SourceWalk(Side& source, BatchQueue& queue, PassResults& results,
                const RedisVerifyOptions& options) {
  std::string cursor = "0";
  std::vector<std::string> batch;
  do {
    if (StopRequested(options)) {
      std::lock_guard lock(results.mu);
      results.Fail(engine::Cancelled("verify stopped on request"));
      queue.Abort();
      return;
    }
    auto page = source.Run(
        [&](KeyspaceVerification& port) { return port.ScanKeys(cursor, options.scan_count); });
    if (!page.ok()) {
      std::lock_guard lock(results.mu);
      results.Fail(page.status().WithContext("source"));
      queue.Abort();
      return;
    }
    {
      std::lock_guard lock(results.mu);
      results.source_keys += static_cast<int64_t>(page->keys.size());
    }
    for (std::string& key : page->keys) {
      batch.push_back(std::move(key));
      if (static_cast<int64_t>(batch.size()) >= options.batch_keys) {
        if (!queue.Push(std::move(batch))) {
          return;
        }
        batch.clear();
      }
    }
    cursor = page->cursor;
  } while (cursor != "0");
  if (!batch.empty()) {
    queue.Push(std::move(batch));
  }
  queue.Close();
}

void TargetWalk(Side& target, Side& source, BatchQueue& queue, PassResults& results,
                const RedisVerifyOptions& options) {
  std::string cursor = "0";
  do {
    if (StopRequested(options)) {
      return;  // the source walk reports the cancellation
    }
    auto page = target.Run(
        [&](KeyspaceVerification& port) { return port.ScanKeys(cursor, options.scan_count); });
    if (!page.ok()) {
      std::lock_guard lock(results.mu);
      results.Fail(page.status().WithContext("target"));
      queue.Abort();
      return;
    }
    auto exist = source.Run([&](KeyspaceVerification& port) { return port.KeysExist(page->keys); });
    if (!exist.ok()) {
      std::lock_guard lock(results.mu);
      results.Fail(exist.status().WithContext("source"));
      queue.Abort();
      return;
    }
    std::lock_guard lock(results.mu);
    results.target_keys += static_cast<int64_t>(page->keys.size());
    for (size_t i = 0; i < page->keys.size(); ++i) {
      if (!(*exist)[i]) {
        results.AddSuspect(page->keys[i], options.max_suspects);
      }
    }
    cursor = page->cursor;
  } while (cursor != "0");
}

void Worker(Side& source, Side& target, BatchQueue& queue, PassResults& results,
            const RedisVerifyOptions& options) {
  while (std::optional<std::vector<std::string>> batch = queue.Pop()) {
    auto source_states = ReadStates(source, *batch, options);
    if (!source_states.ok()) {
      std::lock_guard lock(results.mu);
      results.Fail(source_states.status().WithContext("source"));
      queue.Abort();
      return;
    }
    auto target_states = ReadStates(target, *batch, options);
    if (!target_states.ok()) {
      std::lock_guard lock(results.mu);
      results.Fail(target_states.status().WithContext("target"));
      queue.Abort();
      return;
    }
    std::lock_guard lock(results.mu);
    ++results.batches;
    for (size_t i = 0; i < batch->size(); ++i) {
      const KeyState& s = (*source_states)[i];
      const KeyState& t = (*target_states)[i];
      if (s.type != "none") {
        ++results.types[s.type].source;
      }
      if (t.type != "none") {
        ++results.types[t.type].target;
      }
      Verdict verdict = Compare(s, t, options.ttl_tolerance);
      if (verdict.differs) {
        results.AddSuspect((*batch)[i], options.max_suspects);
      } else if (verdict.unreadable && results.skipped.size() < options.max_differences) {
        results.skipped.push_back(SkippedRange{RedisKeyValue((*batch)[i]).ToDisplayString(),
                                               "a module type tandem cannot read"});
      }
    }
  }
}

// A key still different after the re-checks, with the last verdict.
struct Confirmed {
  std::string key;
  Verdict verdict;
  std::string target_type;
};

// Waits until the target applied the source's stream up to `offset`; false after the timeout.
Result<bool> WaitForOffset(Side& target, int64_t offset, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::chrono::milliseconds pause(2);
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(
        engine::ReplicationState state,
        target.Run([](KeyspaceVerification& port) { return port.Replication(); }));
    if (state.offset >= offset) {
      return true;
    }
    if (Clock::now() + pause > deadline) {
      return false;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

void SleepUnlessStopped(std::chrono::milliseconds duration, const RedisVerifyOptions& options) {
  const Clock::time_point end = Clock::now() + duration;
  while (Clock::now() < end && !StopRequested(options)) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(50)));
  }
}

Result<std::vector<Confirmed>> Recheck(Side& source, Side& target, bool native_replica,
                                       std::vector<std::string> suspects,
                                       const RedisVerifyOptions& options) {
  std::vector<Confirmed> confirmed;
  const size_t batch = static_cast<size_t>(std::max<int64_t>(1, options.batch_keys));
  for (int attempt = 0; attempt < std::max(1, options.recheck_attempts) && !suspects.empty();
       ++attempt) {
    if (StopRequested(options)) {
      return engine::Cancelled("verify stopped on request");
    }
    std::vector<KeyState> first_source;
    first_source.reserve(suspects.size());
    for (size_t start = 0; start < suspects.size(); start += batch) {
      std::vector<std::string> keys(
          suspects.begin() + static_cast<ptrdiff_t>(start),
          suspects.begin() + static_cast<ptrdiff_t>(std::min(suspects.size(), start + batch)));
      auto states = ReadStates(source, keys, options);
      if (!states.ok()) {
        return states.status().WithContext("source");
      }
      for (KeyState& state : *states) {
        first_source.push_back(std::move(state));
      }
    }
    if (native_replica) {
      auto position = source.Run([](KeyspaceVerification& port) { return port.Replication(); });
      if (!position.ok()) {
        return position.status().WithContext("source");
      }
      auto reached = WaitForOffset(target, position->offset, options.catch_up_timeout);
      if (!reached.ok()) {
        return reached.status().WithContext("target");
      }
    } else {
      SleepUnlessStopped(options.recheck_delay, options);
    }
    std::vector<std::string> remaining;
    confirmed.clear();
    for (size_t start = 0; start < suspects.size(); start += batch) {
      std::vector<std::string> keys(
          suspects.begin() + static_cast<ptrdiff_t>(start),
          suspects.begin() + static_cast<ptrdiff_t>(std::min(suspects.size(), start + batch)));
      auto target_states = ReadStates(target, keys, options);
      if (!target_states.ok()) {
        return target_states.status().WithContext("target");
      }
      auto second_source = ReadStates(source, keys, options);
      if (!second_source.ok()) {
        return second_source.status().WithContext("source");
      }
      for (size_t i = 0; i < keys.size(); ++i) {
        const KeyState& t = (*target_states)[i];
        Verdict before = Compare(first_source[start + i], t, options.ttl_tolerance);
        Verdict after = Compare((*second_source)[i], t, options.ttl_tolerance);
        if (!before.differs || !after.differs) {
          continue;
        }
        remaining.push_back(keys[i]);
        confirmed.push_back(Confirmed{keys[i], std::move(after), t.type});
      }
    }
    suspects = std::move(remaining);
  }
  return confirmed;
}

bool IsValidUtf8WithoutNul(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    if (c == 0) {
      return false;
    } else if (c < 0x80) {
      length = 1;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      length = 2;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      length = 4;
    } else {
      return false;
    }
    if (i + length > text.size()) {
      return false;
    }
    for (size_t j = 1; j < length; ++j) {
      if ((static_cast<unsigned char>(text[i + j]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += length;
  }
  return true;
}

std::string PositionText(const engine::ReplicationState& state) {
  return state.replid + ":" + std::to_string(state.offset);
}

}  // namespace

std::string RedisTableName(int database) { return "redis.db" + std::to_string(database); }

engine::Value RedisKeyValue(const std::string& key) {
  return IsValidUtf8WithoutNul(key) ? engine::Value::Text(key) : engine::Value::Bytes(key);
}

nlohmann::json RedisVerifyReport::ToJson() const {
  nlohmann::json out = report.ToJson();
  for (size_t i = 0; i < report.tables.size() && i < databases.size(); ++i) {
    nlohmann::json& table = out["tables"][i];
    table["database"] = databases[i];
    nlohmann::json counts = nlohmann::json::object();
    for (const auto& [type, count] : types[i]) {
      counts[type] = {{"source", count.source}, {"target", count.target}};
    }
    table["types"] = std::move(counts);
  }
  out["digest"] = digest;
  out["rechecked_keys"] = rechecked_keys;
  return out;
}

std::string RedisVerifyReport::ToText() const {
  std::ostringstream out;
  out << report.ToText();
  for (size_t i = 0; i < report.tables.size() && i < types.size(); ++i) {
    out << report.tables[i].table.ToString() << " keys by type (source/target):";
    for (const auto& [type, count] : types[i]) {
      out << " " << type << " " << count.source << "/" << count.target;
    }
    out << "\n";
  }
  return out.str();
}

Result<RedisVerifyReport> VerifyRedis(const engine::ConnectionConfig& source_config,
                                      const engine::ConnectionConfig& target_config,
                                      const engine::DatabaseOpener& open,
                                      const RedisVerifyOptions& input_options) {
  const Clock::time_point started = Clock::now();
  RedisVerifyOptions options = input_options;
  options.threads = std::clamp(options.threads, 1, 64);
  options.batch_keys = std::max<int64_t>(1, options.batch_keys);
  options.page_elements = std::max<int64_t>(1, options.page_elements);
  if (options.max_ops > 0) {
    // A batch costs a few commands per key: keep one batch's pause under a second or so.
    options.batch_keys = std::clamp<int64_t>(options.max_ops / 4, 1, options.batch_keys);
    options.scan_count = std::clamp<int64_t>(options.max_ops, 1, options.scan_count);
  }
  OpsThrottle source_throttle(options.max_ops);
  OpsThrottle target_throttle(options.max_ops);

  Connections connections;
  auto open_side = [&](bool source, std::unique_ptr<Side>* out) -> Status {
    auto side =
        Side::Open(source ? source_config : target_config, open,
                   source ? &source_throttle : &target_throttle, source ? "source" : "target");
    if (!side.ok()) {
      return side.status();
    }
    *out = std::move(*side);
    return Status::Ok();
  };
  TANDEM_RETURN_IF_ERROR(open_side(true, &connections.scan_source));
  TANDEM_RETURN_IF_ERROR(open_side(false, &connections.scan_target));

  // Which databases.
  std::vector<int> databases = options.databases;
  if (databases.empty()) {
    std::set<int> found;
    for (Side* side : {connections.scan_source.get(), connections.scan_target.get()}) {
      TANDEM_ASSIGN_OR_RETURN(std::vector<engine::KeyspaceInfo> keyspaces,
                              side->database().DescribeKeyspaces());
      for (const engine::KeyspaceInfo& keyspace : keyspaces) {
        found.insert(keyspace.database);
      }
    }
    databases.assign(found.begin(), found.end());
  }

  // Is the target a native replica of the source (same replication stream)?
  auto source_replication =
      connections.scan_source->Run([](KeyspaceVerification& port) { return port.Replication(); });
  if (!source_replication.ok()) {
    return source_replication.status().WithContext("source");
  }
  auto target_replication =
      connections.scan_target->Run([](KeyspaceVerification& port) { return port.Replication(); });
  if (!target_replication.ok()) {
    return target_replication.status().WithContext("target");
  }
  const bool native_replica = target_replication->replica && target_replication->link_up &&
                              target_replication->replid == source_replication->replid;

  TANDEM_RETURN_IF_ERROR(open_side(true, &connections.exist_source));
  connections.worker_source.resize(static_cast<size_t>(options.threads));
  connections.worker_target.resize(static_cast<size_t>(options.threads));
  for (int i = 0; i < options.threads; ++i) {
    TANDEM_RETURN_IF_ERROR(open_side(true, &connections.worker_source[static_cast<size_t>(i)]));
    TANDEM_RETURN_IF_ERROR(open_side(false, &connections.worker_target[static_cast<size_t>(i)]));
  }

  RedisVerifyReport result;
  result.digest = options.fetch == engine::ValueFetch::kServerDigest ? "lua" : "values";
  for (int database : databases) {
    for (Side* side : connections.All()) {
      Status selected =
          side->Run([&](KeyspaceVerification& port) { return port.SelectDatabase(database); });
      if (!selected.ok()) {
        return selected;
      }
    }
    PassResults pass;
    BatchQueue queue(static_cast<size_t>(options.threads) * 2);
    std::vector<std::thread> threads;
    threads.emplace_back([&] { SourceWalk(*connections.scan_source, queue, pass, options); });
    threads.emplace_back([&] {
      TargetWalk(*connections.scan_target, *connections.exist_source, queue, pass, options);
    });
    for (int i = 0; i < options.threads; ++i) {
      threads.emplace_back([&, i] {
        Worker(*connections.worker_source[static_cast<size_t>(i)],
               *connections.worker_target[static_cast<size_t>(i)], queue, pass, options);
      });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
    if (pass.failure.has_value()) {
      return *pass.failure;
    }
    // A key can be a suspect of both walks (deleted from the source between them).
    std::sort(pass.suspects.begin(), pass.suspects.end());
    pass.suspects.erase(std::unique(pass.suspects.begin(), pass.suspects.end()),
                        pass.suspects.end());
    result.rechecked_keys += static_cast<int64_t>(pass.suspects.size());
    TANDEM_ASSIGN_OR_RETURN(std::vector<Confirmed> confirmed,
                            Recheck(*connections.worker_source[0], *connections.worker_target[0],
                                    native_replica, std::move(pass.suspects), options));

    TableReport table;
    table.table = engine::TableId{"redis", "db" + std::to_string(database)};
    table.key_columns = {"key"};
    table.source_rows = pass.source_keys;
    table.target_rows = pass.target_keys;
    table.chunks = pass.batches;
    table.skipped = std::move(pass.skipped);
    if (pass.suspects_overflow) {
      table.skipped.push_back(SkippedRange{
          "keys beyond the first " + std::to_string(options.max_suspects) + " differing",
          "too many differing keys to re-check; fix the first ones and verify again"});
    }
    for (Confirmed& difference : confirmed) {
      if (difference.verdict.unreadable) {
        table.skipped.push_back(SkippedRange{RedisKeyValue(difference.key).ToDisplayString(),
                                             "a module type tandem cannot read"});
        continue;
      }
      if (difference.verdict.kind == DifferenceKind::kExtra) {
        ++pass.types[difference.target_type].target;
      }
      if (table.differences.size() >= options.max_differences) {
        table.differences_truncated = true;
        continue;
      }
      Difference entry;
      entry.kind = difference.verdict.kind;
      entry.key = {RedisKeyValue(difference.key)};
      entry.columns = std::move(difference.verdict.columns);
      table.differences.push_back(std::move(entry));
    }
    result.report.tables.push_back(std::move(table));
    result.databases.push_back(database);
    result.types.push_back(std::move(pass.types));
  }

  auto source_end =
      connections.scan_source->Run([](KeyspaceVerification& port) { return port.Replication(); });
  auto target_end =
      connections.scan_target->Run([](KeyspaceVerification& port) { return port.Replication(); });
  if (source_end.ok()) {
    result.report.source_position = PositionText(*source_end);
  }
  if (target_end.ok()) {
    result.report.target_position = PositionText(*target_end);
  }
  result.report.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

}  // namespace tandem::checksum
