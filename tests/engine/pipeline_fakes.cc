#include "tests/engine/pipeline_fakes.h"

#include <algorithm>
#include <sstream>
#include <thread>

namespace tandem::engine::testing {

void ScriptBuilder::Push(ChangeEvent event) {
  event.position = Lsn{events_.size() + 1};
  events_.push_back(std::move(event));
}

uint64_t ScriptBuilder::Transaction(std::vector<ChangeEvent> rows, int64_t commit_time_us) {
  const uint64_t sequence = next_sequence_++;
  ChangeEvent begin;
  begin.kind = ChangeKind::kBegin;
  begin.transaction_sequence = sequence;
  begin.source_commit_time_us = commit_time_us;
  Push(std::move(begin));
  if (!rows.empty()) {
    with_rows_.insert(sequence);
  }
  for (ChangeEvent& row : rows) {
    row.transaction_sequence = sequence;
    row.source_commit_time_us = commit_time_us;
    Push(std::move(row));
  }
  ChangeEvent commit;
  commit.kind = ChangeKind::kCommit;
  commit.transaction_sequence = sequence;
  commit.source_commit_time_us = commit_time_us;
  Push(std::move(commit));
  return sequence;
}

void ScriptBuilder::Ddl(std::string statement, std::shared_ptr<const TableSchema> table) {
  ChangeEvent ddl;
  ddl.kind = ChangeKind::kDdl;
  ddl.statement = std::move(statement);
  ddl.statement_schema = "db";
  ddl.table = std::move(table);
  ddl.transaction_sequence = next_sequence_++;
  Push(std::move(ddl));
}

void ScriptBuilder::Heartbeat(int64_t time_us) {
  ChangeEvent heartbeat;
  heartbeat.kind = ChangeKind::kHeartbeat;
  heartbeat.source_commit_time_us = time_us;
  Push(std::move(heartbeat));
}

ChangeEvent Insert(std::shared_ptr<const TableSchema> table, Row after) {
  ChangeEvent event;
  event.kind = ChangeKind::kInsert;
  event.table = std::move(table);
  event.after = std::move(after);
  return event;
}

ChangeEvent Update(std::shared_ptr<const TableSchema> table, Row before, Row after) {
  ChangeEvent event;
  event.kind = ChangeKind::kUpdate;
  event.table = std::move(table);
  event.before = std::move(before);
  event.after = std::move(after);
  return event;
}

ChangeEvent Delete(std::shared_ptr<const TableSchema> table, Row before) {
  ChangeEvent event;
  event.kind = ChangeKind::kDelete;
  event.table = std::move(table);
  event.before = std::move(before);
  return event;
}

std::shared_ptr<const TableSchema> KeyedTable(std::string name, bool unique_key) {
  auto table = std::make_shared<TableSchema>();
  table->id = TableId{"db", std::move(name)};
  table->columns = {
      Column{"id", "bigint", ValueKind::kInt, false},
      Column{"u", "varchar(20)", ValueKind::kText, true, "utf8mb4", "utf8mb4_bin"},
      Column{"v", "bigint", ValueKind::kInt, true},
  };
  table->keys.push_back(KeyDescriptor{"PRIMARY", {0}, true, true});
  if (unique_key) {
    table->keys.push_back(KeyDescriptor{"u", {1}, false, false});
  }
  return table;
}

Row R(int64_t id, std::optional<std::string> u, int64_t v) {
  return Row{Value::Int(id), u ? Value::Text(*u) : Value::Null(), Value::Int(v)};
}

// ---------------------------------------------------------------------------------------------

size_t StartIndex(const std::optional<Checkpoint>& resume) {
  if (resume) {
    if (const auto* lsn = std::get_if<Lsn>(&resume->position)) {
      return static_cast<size_t>(lsn->value);
    }
  }
  return 0;
}

FakeChangeStream::FakeChangeStream(std::shared_ptr<const Script> script, const Position& start,
                                   FakeStreamOptions options)
    : script_(std::move(script)), options_(std::move(options)) {
  if (const auto* lsn = std::get_if<Lsn>(&start)) {
    next_ = static_cast<size_t>(lsn->value);
  }
}

Result<std::optional<ChangeEvent>> FakeChangeStream::Next(std::chrono::milliseconds timeout) {
  if (next_ >= script_->size()) {
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(2)));
    return std::optional<ChangeEvent>();
  }
  if (options_.fail_at && *options_.fail_at == next_) {
    options_.fail_at.reset();
    return options_.fail_status;
  }
  if (options_.hold_at && *options_.hold_at == next_) {
    if (!options_.release || !options_.release()) {
      std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(2)));
      return std::optional<ChangeEvent>();
    }
    options_.hold_at.reset();
  }
  const ChangeEvent& event = (*script_)[next_++];
  position_ = event.position;
  return std::optional<ChangeEvent>(event);
}

// ---------------------------------------------------------------------------------------------

namespace {

std::string KeyText(const KeyDescriptor& key, const Row& row) {
  std::string text;
  for (int index : key.columns) {
    const Value& value = row.at(index);
    text += std::to_string(static_cast<int>(value.kind())) + ":" + value.ToDisplayString() + "\x1f";
  }
  return text;
}

}  // namespace

void FakeStore::Define(std::shared_ptr<const TableSchema> table) {
  schemas_[table->id] = std::move(table);
}

int FakeStore::Apply(const ChangeEvent& change) {
  auto defined = schemas_.find(change.table->id);
  const TableSchema& schema = defined != schemas_.end() ? *defined->second : *change.table;
  const KeyDescriptor& primary = *schema.IdentifyingKey();
  std::map<std::string, Row>& rows = tables_[schema.id];
  int collisions = 0;
  if (change.kind == ChangeKind::kDelete) {
    rows.erase(KeyText(primary, change.before));
    return 0;
  }
  const std::string key = KeyText(primary, change.after);
  if (change.kind == ChangeKind::kUpdate) {
    rows.erase(KeyText(primary, change.before));
  }
  for (const KeyDescriptor& unique : schema.keys) {
    if (unique.primary) {
      continue;
    }
    bool has_null = std::any_of(unique.columns.begin(), unique.columns.end(),
                                [&](int index) { return change.after[index].is_null(); });
    if (has_null) {
      continue;
    }
    for (auto it = rows.begin(); it != rows.end();) {
      bool same = it->first != key &&
                  std::all_of(unique.columns.begin(), unique.columns.end(),
                              [&](int index) { return it->second[index] == change.after[index]; });
      if (same) {
        it = rows.erase(it);
        ++collisions;
      } else {
        ++it;
      }
    }
  }
  rows[key] = change.after;
  return collisions;
}

std::string FakeStore::Dump() const {
  std::ostringstream out;
  for (const auto& [table, rows] : tables_) {
    for (const auto& [key, row] : rows) {
      out << table.ToString() << " ";
      for (const Value& value : row) {
        out << value.ToDisplayString() << ",";
      }
      out << "\n";
    }
  }
  return out.str();
}

// ---------------------------------------------------------------------------------------------

class FakeApplier : public ChangeApplier {
 public:
  FakeApplier(FakeTarget& target, int id, int incarnation)
      : target_(target), id_(id), incarnation_(incarnation) {}

  ~FakeApplier() override {
    if (open_) {
      std::lock_guard lock(target_.mu_);
      --target_.active_;
    }
  }

  Status Begin() override {
    std::lock_guard lock(target_.mu_);
    TANDEM_RETURN_IF_ERROR(target_.NextOperation(incarnation_, nullptr));
    if (open_) {
      target_.violations_.push_back("Begin with a transaction open on applier " +
                                    std::to_string(id_));
      return Internal("transaction already open");
    }
    open_.emplace();
    ++target_.active_;
    target_.max_active_ = std::max(target_.max_active_, target_.active_);
    target_.history_.push_back(HistoryEntry{HistoryEntry::kBegin, id_, {}});
    return Status::Ok();
  }

  Status Apply(std::span<const ChangeEvent> changes) override {
    std::function<std::chrono::milliseconds(uint64_t)> delay;
    {
      std::lock_guard lock(target_.mu_);
      TANDEM_RETURN_IF_ERROR(target_.NextOperation(incarnation_, nullptr));
      if (!open_) {
        target_.violations_.push_back("Apply without a transaction");
        return Internal("no transaction open");
      }
      HistoryEntry entry{HistoryEntry::kApply, id_, {}};
      entry.rows = changes.size();
      for (const ChangeEvent& change : changes) {
        if (!change.IsRowChange()) {
          target_.violations_.push_back("Apply of a non-row event");
        }
        if (entry.sequences.empty() || entry.sequences.back() != change.transaction_sequence) {
          entry.sequences.push_back(change.transaction_sequence);
        }
      }
      target_.history_.push_back(entry);
      delay = target_.apply_delay_;
    }
    open_->insert(open_->end(), changes.begin(), changes.end());
    if (delay) {
      std::set<uint64_t> seen;
      for (const ChangeEvent& change : changes) {
        if (seen.insert(change.transaction_sequence).second) {
          std::this_thread::sleep_for(delay(change.transaction_sequence));
        }
      }
    }
    return Status::Ok();
  }

  Status Commit(const Checkpoint& checkpoint) override {
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(target_.mu_);
      delay = target_.commit_delay_;
    }
    std::this_thread::sleep_for(delay);
    std::chrono::milliseconds acknowledgement{0};
    Status status;
    {
      std::lock_guard lock(target_.mu_);
      bool durable = false;
      status = target_.NextOperation(incarnation_, &durable);
      if (!open_) {
        target_.violations_.push_back("Commit without a transaction");
        return Internal("no transaction open");
      }
      if (status.ok() || durable) {
        target_.CommitLocked(id_, *open_, checkpoint);
      }
      if (target_.acknowledgement_delay_ && !open_->empty()) {
        acknowledgement = target_.acknowledgement_delay_(open_->front().transaction_sequence);
      }
      open_.reset();
      --target_.active_;
    }
    std::this_thread::sleep_for(acknowledgement);
    return status;
  }

  Status Rollback() override {
    std::lock_guard lock(target_.mu_);
    if (open_) {
      open_.reset();
      --target_.active_;
      target_.history_.push_back(HistoryEntry{HistoryEntry::kRollback, id_, {}});
    }
    return target_.NextOperation(incarnation_, nullptr);
  }

  Status ApplyDdl(const ChangeEvent& ddl, const Checkpoint& checkpoint) override {
    std::lock_guard lock(target_.mu_);
    TANDEM_RETURN_IF_ERROR(target_.NextOperation(incarnation_, nullptr));
    if (open_ || target_.active_ != 0) {
      target_.violations_.push_back("ApplyDdl while " + std::to_string(target_.active_) +
                                    " transactions are open");
    }
    HistoryEntry entry{HistoryEntry::kDdl, id_, {ddl.transaction_sequence}};
    entry.checkpoint = checkpoint;
    target_.history_.push_back(entry);
    target_.committed_.insert(ddl.transaction_sequence);
    target_.CheckWatermarkLocked(checkpoint, {});
    target_.checkpoints_[checkpoint.stream] = checkpoint;
    return Status::Ok();
  }

  Result<std::optional<Checkpoint>> ReadCheckpoint(const std::string& stream) override {
    std::lock_guard lock(target_.mu_);
    TANDEM_RETURN_IF_ERROR(target_.NextOperation(incarnation_, nullptr));
    auto it = target_.checkpoints_.find(stream);
    if (it == target_.checkpoints_.end()) {
      return std::optional<Checkpoint>();
    }
    return std::optional<Checkpoint>(it->second);
  }

 private:
  FakeTarget& target_;
  const int id_;
  const int incarnation_;
  std::optional<std::vector<ChangeEvent>> open_;
};

void FakeTarget::Define(std::shared_ptr<const TableSchema> table) {
  std::lock_guard lock(mu_);
  store_.Define(std::move(table));
}

void FakeTarget::RequireSequences(std::set<uint64_t> sequences) {
  std::lock_guard lock(mu_);
  required_ = std::move(sequences);
}

void FakeTarget::SetApplyDelay(std::function<std::chrono::milliseconds(uint64_t)> delay) {
  std::lock_guard lock(mu_);
  apply_delay_ = std::move(delay);
}

void FakeTarget::SetCommitDelay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  commit_delay_ = delay;
}

void FakeTarget::SetAcknowledgementDelay(std::function<std::chrono::milliseconds(uint64_t)> delay) {
  std::lock_guard lock(mu_);
  acknowledgement_delay_ = std::move(delay);
}

void FakeTarget::InjectFailure(int64_t operation, Status status, bool durable, bool crash) {
  std::lock_guard lock(mu_);
  fail_at_ = operations_ + operation;
  fail_status_ = std::move(status);
  fail_durable_ = durable;
  fail_crash_ = crash;
}

void FakeTarget::ClearFailure() {
  std::lock_guard lock(mu_);
  fail_at_ = 0;
}

int FakeTarget::Restart() {
  std::lock_guard lock(mu_);
  return ++incarnation_;
}

int FakeTarget::incarnation() const {
  std::lock_guard lock(mu_);
  return incarnation_;
}

std::unique_ptr<ChangeApplier> FakeTarget::NewApplier() {
  std::lock_guard lock(mu_);
  return std::make_unique<FakeApplier>(*this, next_applier_++, incarnation_);
}

Status FakeTarget::NextOperation(int incarnation, bool* durable_failure) {
  if (incarnation <= dead_incarnation_) {
    return ConnectionFailed("fake target: connection lost (process killed)");
  }
  ++operations_;
  if (fail_at_ != 0 && operations_ == fail_at_) {
    fail_at_ = 0;
    if (durable_failure != nullptr) {
      *durable_failure = fail_durable_;
    }
    if (fail_crash_) {
      dead_incarnation_ = incarnation;
    }
    return fail_status_;
  }
  return Status::Ok();
}

void FakeTarget::CheckWatermarkLocked(const Checkpoint& checkpoint,
                                      const std::set<uint64_t>& with_this) {
  for (uint64_t sequence : required_) {
    if (sequence > checkpoint.transaction_sequence) {
      break;
    }
    if (!committed_.contains(sequence) && !with_this.contains(sequence)) {
      violations_.push_back("checkpoint " + checkpoint.stream + " at sequence " +
                            std::to_string(checkpoint.transaction_sequence) + " (" +
                            Serialize(checkpoint.position) + ") but transaction " +
                            std::to_string(sequence) + " is not committed");
    }
  }
  auto previous = checkpoints_.find(checkpoint.stream);
  if (previous != checkpoints_.end()) {
    Result<std::strong_ordering> order = Compare(checkpoint.position, previous->second.position);
    if (order.ok() && *order == std::strong_ordering::less) {
      violations_.push_back("checkpoint " + checkpoint.stream + " went back");
    }
  }
}

void FakeTarget::CommitLocked(int applier, const std::vector<ChangeEvent>& changes,
                              const Checkpoint& checkpoint) {
  HistoryEntry entry{HistoryEntry::kCommit, applier, {}};
  entry.checkpoint = checkpoint;
  std::set<uint64_t> sequences;
  for (const ChangeEvent& change : changes) {
    unique_collisions_ += store_.Apply(change);
    if (sequences.insert(change.transaction_sequence).second) {
      entry.sequences.push_back(change.transaction_sequence);
    }
  }
  CheckWatermarkLocked(checkpoint, sequences);
  committed_.insert(sequences.begin(), sequences.end());
  checkpoints_[checkpoint.stream] = checkpoint;
  history_.push_back(entry);
}

FakeStore FakeTarget::Store() const {
  std::lock_guard lock(mu_);
  return store_;
}
std::map<std::string, Checkpoint> FakeTarget::Checkpoints() const {
  std::lock_guard lock(mu_);
  return checkpoints_;
}
std::vector<HistoryEntry> FakeTarget::History() const {
  std::lock_guard lock(mu_);
  return history_;
}
std::vector<std::string> FakeTarget::Violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}
int FakeTarget::UniqueCollisions() const {
  std::lock_guard lock(mu_);
  return unique_collisions_;
}
int FakeTarget::MaxConcurrentTransactions() const {
  std::lock_guard lock(mu_);
  return max_active_;
}
int FakeTarget::OpenTransactions() const {
  std::lock_guard lock(mu_);
  return active_;
}
bool FakeTarget::Committed(uint64_t sequence) const {
  std::lock_guard lock(mu_);
  return committed_.contains(sequence);
}
int64_t FakeTarget::operations() const {
  std::lock_guard lock(mu_);
  return operations_;
}

}  // namespace tandem::engine::testing
