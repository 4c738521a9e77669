#include "connectors/postgres/postgres_change_applier.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_set>
#include <utility>

#include "connectors/postgres/postgres_checkpoint_table.h"
#include "connectors/postgres/postgres_range_query.h"
#include "connectors/postgres/postgres_value_encoder.h"

namespace tandem::connectors::postgres {

using engine::ChangeEvent;
using engine::ChangeKind;
using engine::Checkpoint;
using engine::ConnectionConfig;
using engine::Result;
using engine::Row;
using engine::Status;
using engine::TableSchema;
using engine::Value;

namespace {

// Statement texts kept per table before that table's cache is emptied.
constexpr size_t kMaxCachedStatements = 256;

// The table's oid when it is an ordinary or partitioned table.
constexpr char kTableOidSql[] = R"sql(
SELECT c.oid FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1::text AND c.relname = $2::text AND c.relkind IN ('r', 'p'))sql";

// Columns in order. The type is the column's base type (domains followed to the end, since a cast
// to a domain over varchar(n) would apply its length explicitly) without the modifier. format_type
// without a modifier prints bpchar as `character` and bit as `bit`, which SQL reads as character(1)
// and bit(1): those (and their arrays) are named by their internal names, which take any length.
constexpr char kColumnsSql[] = R"sql(
SELECT a.attname,
       CASE base.oid
         WHEN 'pg_catalog.bpchar'::pg_catalog.regtype THEN 'pg_catalog.bpchar'
         WHEN 'pg_catalog.bpchar[]'::pg_catalog.regtype THEN 'pg_catalog.bpchar[]'
         WHEN 'pg_catalog.bit'::pg_catalog.regtype THEN 'pg_catalog."bit"'
         WHEN 'pg_catalog.bit[]'::pg_catalog.regtype THEN 'pg_catalog."bit"[]'
         ELSE pg_catalog.format_type(base.oid, NULL) END,
       a.attnotnull, a.atthasdef,
       a.attgenerated <> '', a.attidentity <> '', a.attidentity = 'a'
FROM pg_catalog.pg_attribute a
CROSS JOIN LATERAL (
  WITH RECURSIVE chain(oid, depth) AS (
    SELECT a.atttypid, 0
    UNION ALL
    SELECT t.typbasetype, chain.depth + 1
    FROM chain JOIN pg_catalog.pg_type t ON t.oid = chain.oid
    WHERE t.typtype = 'd')
  SELECT oid FROM chain ORDER BY depth DESC LIMIT 1) base
WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum)sql";

// Unique indexes that can arbitrate ON CONFLICT and hold a unique value (valid, not partial, no
// expressions), one row per key column in key order, the primary key first.
constexpr char kUniqueKeysSql[] = R"sql(
SELECT i.indexrelid, a.attname
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1::oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
  AND i.indexprs IS NULL AND k.ord <= i.indnkeyatts
ORDER BY i.indisprimary DESC, i.indexrelid, k.ord)sql";

// The exact identity of a value (kind and every payload field), for keying rows in maps.
void AppendEncoded(const Value& value, std::string& out) {
  out.push_back(static_cast<char>(value.kind()));
  const int64_t int_value = value.int_value();
  const uint64_t uint_value = value.uint_value();
  const double double_value = value.double_value();
  char fixed[sizeof int_value + sizeof uint_value + sizeof double_value];
  std::memcpy(fixed, &int_value, sizeof int_value);
  std::memcpy(fixed + sizeof int_value, &uint_value, sizeof uint_value);
  std::memcpy(fixed + sizeof int_value + sizeof uint_value, &double_value, sizeof double_value);
  out.append(fixed, sizeof fixed);
  const uint64_t length = value.text().size();
  out.append(reinterpret_cast<const char*>(&length), sizeof length);
  out += value.text();
}

std::string EncodedKey(const Row& key) {
  std::string out;
  for (const Value& value : key) {
    AppendEncoded(value, out);
  }
  return out;
}

size_t EstimatedBytes(const Row& row) {
  size_t bytes = 0;
  for (const Value& value : row) {
    bytes += value.text().size() + 16;
  }
  return bytes;
}

// The identifying key's values of a full-width `row`, in key order.
Row KeyValues(const std::vector<int>& key, const Row& row) {
  Row values;
  values.reserve(key.size());
  for (int column : key) {
    values.push_back(row[static_cast<size_t>(column)]);
  }
  return values;
}

std::string Placeholder(size_t number) { return "$" + std::to_string(number); }

// "(x.a, x.b)" or "v.w0" style lists: `prefix` + each name, comma separated, in parentheses.
std::string Tuple(const std::vector<std::string>& items) {
  std::string out = "(";
  for (size_t i = 0; i < items.size(); ++i) {
    out += (i == 0 ? "" : ", ") + items[i];
  }
  return out + ")";
}

}  // namespace

PostgresChangeApplier::PostgresChangeApplier(std::unique_ptr<PostgresConnection> connection)
    : connection_(std::move(connection)) {}

// An open transaction ends with the connection: the server rolls it back.
PostgresChangeApplier::~PostgresChangeApplier() = default;

Result<std::unique_ptr<PostgresChangeApplier>> PostgresChangeApplier::Open(
    const ConnectionConfig& target) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> connection,
                          PostgresConnection::Connect(target));
  std::unique_ptr<PostgresChangeApplier> applier(new PostgresChangeApplier(std::move(connection)));
  TANDEM_RETURN_IF_ERROR(applier->SetUpSession());
  TANDEM_RETURN_IF_ERROR(EnsureCheckpointTable(*applier->connection_));
  return applier;
}

Result<std::unique_ptr<engine::ChangeApplier>> OpenPostgresChangeApplier(
    const ConnectionConfig& target) {
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<PostgresChangeApplier> applier,
                          PostgresChangeApplier::Open(target));
  return std::unique_ptr<engine::ChangeApplier>(std::move(applier));
}

Result<bool> UseReplicaSessionRole(PostgresConnection& connection) {
  TANDEM_ASSIGN_OR_RETURN(
      PgResult role,
      connection.Query("checking whether the target role is a superuser",
                       "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user"));
  if (role.rows() != 1 || !role.Bool(0, 0)) {
    return false;
  }
  TANDEM_RETURN_IF_ERROR(connection.Query("setting session_replication_role for replicated writes",
                                          "SET session_replication_role = replica"));
  return true;
}

Status PostgresChangeApplier::SetUpSession() {
  TANDEM_ASSIGN_OR_RETURN(replica_session_, UseReplicaSessionRole(*connection_));
  // The cutover's write freeze (postgres_write_freeze.h) makes every new transaction read-only by
  // default; the stream writes through it (the reverse stream into the frozen old primary).
  TANDEM_RETURN_IF_ERROR(connection_->Query("letting the stream write through a write freeze",
                                            "SET default_transaction_read_only = off"));
  return Status::Ok();
}

Status PostgresChangeApplier::AbortWith(Status error) {
  batch_ = Batch();
  merged_rows_.clear();
  if (in_transaction_) {
    in_transaction_ = false;
    // When the connection is gone the server rolls back on its own: the failure is secondary.
    (void)connection_->Query("rolling back a target transaction", "ROLLBACK");
  }
  return error;
}

Status PostgresChangeApplier::Begin() {
  if (in_transaction_) {
    return engine::Internal("PostgresChangeApplier::Begin with a transaction already open");
  }
  TANDEM_RETURN_IF_ERROR(connection_->Query("starting a target transaction", "BEGIN"));
  in_transaction_ = true;
  return Status::Ok();
}

Status PostgresChangeApplier::Rollback() {
  batch_ = Batch();
  merged_rows_.clear();
  if (!in_transaction_) {
    return Status::Ok();
  }
  in_transaction_ = false;
  return connection_->Query("rolling back a target transaction", "ROLLBACK").status();
}

Status PostgresChangeApplier::Apply(std::span<const ChangeEvent> changes) {
  if (!in_transaction_) {
    return engine::Internal("PostgresChangeApplier::Apply without an open transaction");
  }
  Status status = ApplyChanges(changes);
  merged_rows_.clear();
  retired_plans_.clear();  // the batch is flushed: no op points to them any more
  if (!status.ok()) {
    return AbortWith(std::move(status));
  }
  return Status::Ok();
}

Status PostgresChangeApplier::ApplyChanges(std::span<const ChangeEvent> changes) {
  bool net_effect = true;
  for (const ChangeEvent& change : changes) {
    if (!change.IsRowChange() || change.table == nullptr) {
      return engine::Internal("PostgresChangeApplier::Apply given a " +
                              std::string(engine::ChangeKindName(change.kind)) +
                              " event, which is not a row change of a known table");
    }
    const TableSchema& table = *change.table;
    const size_t width = table.columns.size();
    const bool needs_before = change.kind != ChangeKind::kInsert;
    const bool needs_after = change.kind != ChangeKind::kDelete;
    if ((needs_before && change.before.size() != width) ||
        (needs_after && change.after.size() != width)) {
      return engine::Internal("a " + std::string(engine::ChangeKindName(change.kind)) +
                              " event of " + table.id.ToString() +
                              " has a row image whose width differs from the table's " +
                              std::to_string(width) + " columns");
    }
    for (int column : change.unchanged_columns) {
      if (column < 0 || static_cast<size_t>(column) >= width) {
        return engine::Internal("an update event of " + table.id.ToString() +
                                " names unchanged column " + std::to_string(column) +
                                ", outside its " + std::to_string(width) + " columns");
      }
    }
    TANDEM_ASSIGN_OR_RETURN(Plan * plan, PlanFor(change.table));
    if (!replica_session_ && !table.foreign_keys.empty()) {
      net_effect = false;  // the target checks foreign keys: parent and child keep source order
    }
    if (!change.unchanged_columns.empty() && (!plan->further_unique_keys.empty() ||
                                              EncodedKey(KeyValues(plan->key, change.before)) !=
                                                  EncodedKey(KeyValues(plan->key, change.after)))) {
      // Partial updates could swap unique values, or move rows in an order that net effect does
      // not keep (see the header).
      net_effect = false;
    }
  }
  return net_effect ? ApplyNetEffect(changes) : ApplyInOrder(changes);
}

Result<PostgresChangeApplier::TargetTable> PostgresChangeApplier::DescribeTarget(
    const engine::TableId& table) {
  const std::string action = "reading the target's definition of " + table.ToString();
  TANDEM_ASSIGN_OR_RETURN(
      PgResult oid,
      connection_->Query(action, kTableOidSql, {Param(table.schema), Param(table.name)}));
  if (oid.rows() == 0) {
    return engine::NotFound("table " + table.ToString() + " does not exist on the target " +
                            connection_->config().Redacted() +
                            " (create it with the source's definition, e.g. from pg_dump "
                            "--schema-only --table, then run sync again)");
  }
  const Param table_oid(oid.String(0, 0));
  TANDEM_ASSIGN_OR_RETURN(PgResult columns, connection_->Query(action, kColumnsSql, {table_oid}));
  TANDEM_ASSIGN_OR_RETURN(PgResult keys, connection_->Query(action, kUniqueKeysSql, {table_oid}));
  TargetTable target;
  for (int row = 0; row < columns.rows(); ++row) {
    TargetColumn column;
    column.name = columns.String(row, 0);
    column.type = columns.String(row, 1);
    column.not_null = columns.Bool(row, 2);
    column.has_default = columns.Bool(row, 3);
    column.generated = columns.Bool(row, 4);
    column.identity = columns.Bool(row, 5);
    column.identity_always = columns.Bool(row, 6);
    target.columns.push_back(std::move(column));
  }
  std::string current_index;
  for (int row = 0; row < keys.rows(); ++row) {
    if (row == 0 || keys.View(row, 0) != current_index) {
      current_index = keys.String(row, 0);
      target.unique_keys.emplace_back();
    }
    target.unique_keys.back().push_back(keys.String(row, 1));
  }
  return target;
}

Result<PostgresChangeApplier::Plan*> PostgresChangeApplier::PlanFor(
    const std::shared_ptr<const TableSchema>& schema) {
  const TableSchema& table = *schema;
  const engine::KeyDescriptor* key = table.IdentifyingKey();
  if (key == nullptr) {
    return engine::Unsupported("table " + table.id.ToString() +
                               " has no primary key or unique NOT NULL key, so its changes "
                               "cannot be applied exactly once (add a primary key on the "
                               "source, or leave the table out with --table)");
  }
  auto found = plans_.find(table.id);
  // The plan holds its schema alive, so an equal address is the very same schema.
  if (found != plans_.end() && found->second->table == schema) {
    return found->second.get();
  }
  // A new definition of the table (the stream goes on with a changed source table once the target
  // was altered to match): read the target's definition again, it may have changed too.
  TANDEM_ASSIGN_OR_RETURN(const TargetTable described, DescribeTarget(table.id));
  const TargetTable* target = &described;
  const std::string target_name =
      table.id.ToString() + " on the target " + connection_->config().Redacted();
  auto plan = std::make_unique<Plan>();
  plan->table = schema;
  plan->key = key->columns;
  const size_t width = table.columns.size();
  plan->assignable.assign(width, false);
  plan->types.assign(width, "");
  plan->is_key.assign(width, false);
  std::set<std::string> event_names;
  for (size_t i = 0; i < width; ++i) {
    const engine::Column& column = table.columns[i];
    event_names.insert(column.name);
    auto target_column =
        std::find_if(target->columns.begin(), target->columns.end(),
                     [&](const TargetColumn& candidate) { return candidate.name == column.name; });
    if (target_column == target->columns.end()) {
      return engine::FailedPrecondition(
          "column " + QuoteIdentifier(column.name) + " of table " + table.id.ToString() +
          " is missing on the target " + connection_->config().Redacted() + " (add column " +
          column.name + " to target table " + table.id.ToString() + ": ALTER TABLE " +
          QuoteTable(table.id) + " ADD COLUMN " + QuoteIdentifier(column.name) + " " +
          column.declared_type + "; then run sync again)");
    }
    plan->types[i] = target_column->type;
    if (!target_column->generated) {
      plan->written.push_back(static_cast<int>(i));
      plan->assignable[i] = !target_column->identity_always;
    }
  }
  for (const TargetColumn& column : target->columns) {
    if (!event_names.contains(column.name) && column.not_null && !column.has_default &&
        !column.generated && !column.identity) {
      return engine::FailedPrecondition(
          "column " + QuoteIdentifier(column.name) + " of table " + target_name +
          " is NOT NULL without a default, and the source table has no such column, so rows "
          "cannot be written (drop the column or give it a default: ALTER TABLE " +
          QuoteTable(table.id) + " ALTER COLUMN " + QuoteIdentifier(column.name) +
          " SET DEFAULT ...; then run sync again)");
    }
  }
  std::set<std::string> key_names;
  for (int column : plan->key) {
    plan->is_key[static_cast<size_t>(column)] = true;
    key_names.insert(table.columns[static_cast<size_t>(column)].name);
  }
  bool key_found = false;
  for (const std::vector<std::string>& unique_key : target->unique_keys) {
    const std::set<std::string> names(unique_key.begin(), unique_key.end());
    if (names == key_names && !key_found) {
      key_found = true;
      continue;
    }
    std::vector<int> columns;
    for (const std::string& name : unique_key) {
      const int index = table.ColumnIndex(name);
      if (index < 0 || plan->types[static_cast<size_t>(index)].empty() ||
          std::find(plan->written.begin(), plan->written.end(), index) == plan->written.end()) {
        columns.clear();  // a column the applier does not write: it cannot know the value
        break;
      }
      columns.push_back(index);
    }
    if (!columns.empty()) {
      plan->further_unique_keys.push_back(std::move(columns));
    }
  }
  if (!key_found) {
    std::string names;
    for (int column : plan->key) {
      names += (names.empty() ? "" : ", ") +
               QuoteIdentifier(table.columns[static_cast<size_t>(column)].name);
    }
    return engine::FailedPrecondition(
        "table " + target_name + " has no primary key or unique index on (" + names +
        "), the source's identifying key, so changes cannot be applied idempotently (ALTER TABLE " +
        QuoteTable(table.id) + " ADD PRIMARY KEY (" + names + "); then run sync again)");
  }
  Plan* result = plan.get();
  std::unique_ptr<Plan>& slot = plans_[table.id];
  if (slot != nullptr) {
    retired_plans_.push_back(std::move(slot));
  }
  slot = std::move(plan);
  return result;
}

Status PostgresChangeApplier::ApplyInOrder(std::span<const ChangeEvent> changes) {
  for (const ChangeEvent& change : changes) {
    TANDEM_ASSIGN_OR_RETURN(Plan * plan, PlanFor(change.table));
    const bool alone = !plan->further_unique_keys.empty();
    switch (change.kind) {
      case ChangeKind::kInsert: {
        Row key = KeyValues(plan->key, change.after);
        std::string encoded = EncodedKey(key);
        TANDEM_RETURN_IF_ERROR(
            Add(Op{OpKind::kUpsert, plan, std::move(key), &change.after, {}}, {encoded}, false));
        break;
      }
      case ChangeKind::kUpdate: {
        Row before_key = KeyValues(plan->key, change.before);
        Row after_key = KeyValues(plan->key, change.after);
        std::string before_encoded = EncodedKey(before_key);
        std::string after_encoded = EncodedKey(after_key);
        if (!change.unchanged_columns.empty()) {
          std::vector<bool> unchanged(plan->types.size(), false);
          for (int column : change.unchanged_columns) {
            unchanged[static_cast<size_t>(column)] = true;
          }
          TANDEM_ASSIGN_OR_RETURN(std::vector<bool> set,
                                  PartialSet(*plan, unchanged, before_key, after_key));
          if (std::find(set.begin(), set.end(), true) != set.end()) {
            TANDEM_RETURN_IF_ERROR(Add(
                Op{OpKind::kPartial, plan, std::move(before_key), &change.after, std::move(set)},
                {before_encoded, after_encoded}, alone));
          }
          break;
        }
        if (before_encoded != after_encoded) {
          TANDEM_RETURN_IF_ERROR(Add(Op{OpKind::kDelete, plan, std::move(before_key), nullptr, {}},
                                     {before_encoded}, false));
        }
        TANDEM_RETURN_IF_ERROR(
            Add(Op{OpKind::kUpsert, plan, std::move(after_key), &change.after, {}}, {after_encoded},
                false));
        break;
      }
      case ChangeKind::kDelete: {
        Row key = KeyValues(plan->key, change.before);
        std::string encoded = EncodedKey(key);
        TANDEM_RETURN_IF_ERROR(
            Add(Op{OpKind::kDelete, plan, std::move(key), nullptr, {}}, {encoded}, false));
        break;
      }
      default:
        break;  // excluded by IsRowChange() in ApplyChanges
    }
  }
  return Flush();
}

Result<std::vector<bool>> PostgresChangeApplier::PartialSet(const Plan& plan,
                                                            const std::vector<bool>& unchanged,
                                                            const Row& where, const Row& after) {
  const TableSchema& table = *plan.table;
  std::vector<bool> changed(plan.key.size(), false);  // per key column: the update changes it
  for (size_t k = 0; k < plan.key.size(); ++k) {
    std::string old_value;
    std::string new_value;
    AppendEncoded(where[k], old_value);
    AppendEncoded(after[k], new_value);
    changed[k] = old_value != new_value;
  }
  const bool moved = std::find(changed.begin(), changed.end(), true) != changed.end();
  std::vector<bool> set(plan.types.size(), false);
  for (int column : plan.written) {
    const size_t c = static_cast<size_t>(column);
    // The key is written only when the row moves (then all of it: the row keeps unlogged values).
    set[c] = plan.assignable[c] && !unchanged[c] && (!plan.is_key[c] || moved);
  }
  for (size_t k = 0; k < plan.key.size(); ++k) {
    const size_t c = static_cast<size_t>(plan.key[k]);
    if (changed[k] && !plan.assignable[c]) {
      // UPDATE cannot assign it: leaving it out would silently keep the row at its old key.
      const std::string column = QuoteIdentifier(table.columns[c].name);
      return engine::Unsupported(
          "an update of table " + table.id.ToString() + " changes its key column " + column +
          ", GENERATED ALWAYS AS IDENTITY on the target, without logging every column, so the row "
          "cannot be moved (on the target: ALTER TABLE " +
          QuoteTable(table.id) + " ALTER COLUMN " + column +
          " SET GENERATED BY DEFAULT; then run sync again)");
    }
  }
  return set;
}

Status PostgresChangeApplier::ApplyNetEffect(std::span<const ChangeEvent> changes) {
  // The last state of each touched row, keyed by table and identifying key. A partial state holds
  // an image whose `unchanged` columns are still placeholders and the key (`where`) the row had at
  // the start of the span, where the partial UPDATE finds it.
  struct State {
    Plan* plan = nullptr;
    bool live = false;
    bool partial = false;
    Row where;
    std::string where_encoded;
    const Row* image = nullptr;
    std::vector<bool> unchanged;  // partial: per column, still a placeholder
  };
  struct Deletion {
    Plan* plan = nullptr;
    Row key;
    std::string encoded;
  };
  std::vector<State> states;  // in the order of each row's last change
  std::map<std::pair<engine::TableId, std::string>, size_t> live_state;
  std::vector<Deletion> deletions;
  std::set<std::pair<engine::TableId, std::string>> deleted;
  std::vector<Plan*> tables;  // in order of first appearance

  auto add_deletion = [&](Plan* plan, const Row& key, const std::string& encoded) {
    if (deleted.insert({plan->table->id, encoded}).second) {
      deletions.push_back({plan, key, encoded});
    }
  };
  // The live state of a row, or nullptr.
  auto find = [&](Plan* plan, const std::string& encoded) -> State* {
    auto slot = live_state.find({plan->table->id, encoded});
    return slot == live_state.end() ? nullptr : &states[slot->second];
  };
  // Ends the live state of a row (when there is one) that is replaced by an unrelated write: a
  // partial state that had moved its row from elsewhere leaves that original row to delete.
  auto retire = [&](Plan* plan, const std::string& encoded) {
    auto slot = live_state.find({plan->table->id, encoded});
    if (slot == live_state.end()) {
      return;
    }
    State& state = states[slot->second];
    if (state.partial && state.where_encoded != encoded) {
      add_deletion(plan, state.where, state.where_encoded);
    }
    state.live = false;
    live_state.erase(slot);
  };
  auto set_state = [&](const std::string& encoded, State state) {
    const engine::TableId id = state.plan->table->id;
    live_state[{id, encoded}] = states.size();
    states.push_back(std::move(state));
  };

  for (const ChangeEvent& change : changes) {
    TANDEM_ASSIGN_OR_RETURN(Plan * plan, PlanFor(change.table));
    if (std::find(tables.begin(), tables.end(), plan) == tables.end()) {
      tables.push_back(plan);
    }
    switch (change.kind) {
      case ChangeKind::kInsert: {
        const std::string encoded = EncodedKey(KeyValues(plan->key, change.after));
        retire(plan, encoded);
        set_state(encoded, State{plan, true, false, {}, {}, &change.after, {}});
        break;
      }
      case ChangeKind::kDelete: {
        Row key = KeyValues(plan->key, change.before);
        const std::string encoded = EncodedKey(key);
        if (State* state = find(plan, encoded); state != nullptr && state->partial) {
          add_deletion(plan, state->where, state->where_encoded);
        } else {
          add_deletion(plan, key, encoded);
        }
        retire(plan, encoded);
        break;
      }
      case ChangeKind::kUpdate: {
        Row before_key = KeyValues(plan->key, change.before);
        Row after_key = KeyValues(plan->key, change.after);
        const std::string before_encoded = EncodedKey(before_key);
        const std::string after_encoded = EncodedKey(after_key);
        State* prior = find(plan, before_encoded);
        // Merge: an unchanged column takes the value the span logged for the row before.
        std::vector<bool> unchanged(change.after.size(), false);
        const Row* image = &change.after;
        Row* merged = nullptr;
        bool unresolved = false;
        for (int column : change.unchanged_columns) {
          const size_t c = static_cast<size_t>(column);
          if (prior != nullptr && (!prior->partial || !prior->unchanged[c])) {
            if (merged == nullptr) {
              merged_rows_.push_back(std::make_unique<Row>(change.after));
              merged = merged_rows_.back().get();
              image = merged;
            }
            (*merged)[c] = (*prior->image)[c];
          } else {
            unchanged[c] = true;
            unresolved = true;
          }
        }
        Row where = before_key;
        std::string where_encoded = before_encoded;
        if (prior != nullptr && prior->partial) {
          where = prior->where;
          where_encoded = prior->where_encoded;
        }
        if (prior != nullptr) {  // consumed: its where (if partial) is inherited
          prior->live = false;
          live_state.erase({plan->table->id, before_encoded});
        }
        retire(plan, after_encoded);
        if (unresolved) {
          set_state(after_encoded, State{plan, true, true, std::move(where),
                                         std::move(where_encoded), image, std::move(unchanged)});
        } else {
          if (where_encoded != after_encoded) {
            add_deletion(plan, where, where_encoded);
          }
          set_state(after_encoded, State{plan, true, false, {}, {}, image, {}});
        }
        break;
      }
      default:
        break;  // excluded by IsRowChange() in ApplyChanges
    }
  }

  // 1. Rows that end deleted or moved away, except rows a partial UPDATE still has to move.
  std::set<std::pair<engine::TableId, std::string>> partial_sources;
  for (const State& state : states) {
    if (state.live && state.partial) {
      partial_sources.insert({state.plan->table->id, state.where_encoded});
    }
  }
  for (Plan* plan : tables) {
    for (Deletion& deletion : deletions) {
      if (deletion.plan == plan && !partial_sources.contains({plan->table->id, deletion.encoded})) {
        TANDEM_RETURN_IF_ERROR(Add(Op{OpKind::kDelete, plan, std::move(deletion.key), nullptr, {}},
                                   {deletion.encoded}, false));
      }
    }
  }
  // 2. Per table: partial UPDATEs (they may free keys that upserts reuse), then upserts.
  for (Plan* plan : tables) {
    for (bool partial : {true, false}) {
      for (State& state : states) {
        if (!state.live || state.plan != plan || state.partial != partial) {
          continue;
        }
        Row key = KeyValues(plan->key, *state.image);
        std::string encoded = EncodedKey(key);
        if (!partial) {
          TANDEM_RETURN_IF_ERROR(
              Add(Op{OpKind::kUpsert, plan, std::move(key), state.image, {}}, {encoded}, false));
          continue;
        }
        TANDEM_ASSIGN_OR_RETURN(std::vector<bool> set,
                                PartialSet(*plan, state.unchanged, state.where, key));
        if (std::find(set.begin(), set.end(), true) != set.end()) {
          TANDEM_RETURN_IF_ERROR(
              Add(Op{OpKind::kPartial, plan, std::move(state.where), state.image, std::move(set)},
                  {state.where_encoded, encoded}, false));
        }
      }
    }
  }
  return Flush();
}

Status PostgresChangeApplier::Add(Op op, std::vector<std::string> row_keys, bool alone) {
  const Plan& plan = *op.plan;
  size_t parameters = 0;
  size_t bytes = 0;
  switch (op.kind) {
    case OpKind::kDelete:
      parameters = plan.key.size();
      bytes = EstimatedBytes(op.key);
      break;
    case OpKind::kUpsert:
      parameters = plan.written.size();
      bytes = EstimatedBytes(*op.image);
      break;
    case OpKind::kPartial:
      parameters =
          plan.key.size() + static_cast<size_t>(std::count(op.set.begin(), op.set.end(), true));
      bytes = EstimatedBytes(*op.image);
      break;
  }
  bool fits = !batch_.ops.empty() && !alone && !batch_.alone &&
              batch_.ops.front().plan == op.plan && batch_.ops.front().kind == op.kind &&
              (op.kind != OpKind::kPartial || batch_.ops.front().set == op.set) &&
              batch_.ops.size() < kMaxRowsPerStatement &&
              batch_.parameters + parameters <= kMaxParameters &&
              batch_.bytes + bytes <= kMaxBytesPerStatement;
  if (fits && op.kind != OpKind::kDelete) {
    for (const std::string& key : row_keys) {
      fits = fits && !batch_.row_keys.contains(key);
    }
  }
  if (!fits) {
    TANDEM_RETURN_IF_ERROR(Flush());
    batch_.alone = alone;
  }
  for (std::string& key : row_keys) {
    batch_.row_keys.insert(std::move(key));
  }
  batch_.ops.push_back(std::move(op));
  batch_.parameters += parameters;
  batch_.bytes += bytes;
  return Status::Ok();
}

Status PostgresChangeApplier::Flush() {
  if (batch_.ops.empty()) {
    return Status::Ok();
  }
  Batch batch = std::move(batch_);
  batch_ = Batch();
  Plan& plan = *batch.ops.front().plan;
  if (plan.statements.size() > kMaxCachedStatements) {
    plan.statements.clear();
  }
  switch (batch.ops.front().kind) {
    case OpKind::kDelete:
      return FlushDelete(plan, batch.ops);
    case OpKind::kUpsert:
      return FlushUpsert(plan, batch.ops);
    case OpKind::kPartial:
      return FlushPartial(plan, batch.ops);
  }
  return Status::Ok();
}

Status PostgresChangeApplier::Execute(const std::string& action, const std::string& sql,
                                      const std::vector<Param>& params) {
  return connection_->Query(action, sql, params).status();
}

namespace {

// Appends `value` (column `column` of `table`) to `params`, naming the column on error.
Status Bind(const Value& value, const TableSchema& table, int column, std::vector<Param>& params) {
  Result<Param> encoded = EncodePostgresParam(value);
  if (!encoded.ok()) {
    return engine::InvalidArgument("column " + table.columns[static_cast<size_t>(column)].name +
                                   " of " + table.id.ToString() + ": " +
                                   encoded.status().message());
  }
  params.push_back(std::move(*encoded));
  return Status::Ok();
}

}  // namespace

Status PostgresChangeApplier::FlushDelete(Plan& plan, const std::vector<Op>& ops) {
  const TableSchema& table = *plan.table;
  std::string& sql = plan.statements["d" + std::to_string(ops.size())];
  if (sql.empty()) {
    std::vector<std::string> names;
    for (int column : plan.key) {
      names.push_back(QuoteIdentifier(table.columns[static_cast<size_t>(column)].name));
    }
    sql = "DELETE FROM " + QuoteTable(table.id) + " WHERE " +
          (names.size() == 1 ? names[0] : Tuple(names)) + " IN (";
    size_t number = 1;
    for (size_t r = 0; r < ops.size(); ++r) {
      std::vector<std::string> placeholders;
      for (size_t k = 0; k < plan.key.size(); ++k) {
        placeholders.push_back(Placeholder(number++));
      }
      sql +=
          (r == 0 ? "" : ", ") + (placeholders.size() == 1 ? placeholders[0] : Tuple(placeholders));
    }
    sql += ")";
  }
  std::vector<Param> params;
  params.reserve(ops.size() * plan.key.size());
  for (const Op& op : ops) {
    for (size_t k = 0; k < plan.key.size(); ++k) {
      TANDEM_RETURN_IF_ERROR(Bind(op.key[k], table, plan.key[k], params));
    }
  }
  return Execute("deleting " + std::to_string(ops.size()) + " rows from " + table.id.ToString(),
                 sql, params);
}

Status PostgresChangeApplier::DeleteUniqueHolders(Plan& plan, size_t u,
                                                  const std::vector<Row>& rows, size_t excluded) {
  if (rows.empty()) {
    return Status::Ok();
  }
  const TableSchema& table = *plan.table;
  auto name = [&](int column) {
    return QuoteIdentifier(table.columns[static_cast<size_t>(column)].name);
  };
  const std::vector<int>& unique_key = plan.further_unique_keys[u];
  std::vector<int> columns = unique_key;
  for (size_t e = 0; e < excluded; ++e) {
    columns.insert(columns.end(), plan.key.begin(), plan.key.end());
  }
  std::string& sql = plan.statements["x" + std::to_string(u) + "e" + std::to_string(excluded) +
                                     ":" + std::to_string(rows.size())];
  if (sql.empty()) {
    std::vector<std::string> aliases;
    for (size_t i = 0; i < columns.size(); ++i) {
      aliases.push_back("c" + std::to_string(i));
    }
    sql = "DELETE FROM " + QuoteTable(table.id) + " AS x USING (VALUES ";
    size_t number = 1;
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<std::string> values;
      for (int column : columns) {
        values.push_back(Placeholder(number++) + "::" + plan.types[static_cast<size_t>(column)]);
      }
      sql += (r == 0 ? "" : ", ") + Tuple(values);
    }
    sql += ") AS v" + Tuple(aliases) + " WHERE ";
    for (size_t i = 0; i < unique_key.size(); ++i) {
      sql += "x." + name(unique_key[i]) + " = v." + aliases[i] + " AND ";
    }
    std::vector<std::string> target_key;
    for (int column : plan.key) {
      target_key.push_back("x." + name(column));
    }
    for (size_t e = 0; e < excluded; ++e) {
      std::vector<std::string> value_key;
      for (size_t k = 0; k < plan.key.size(); ++k) {
        value_key.push_back("v." + aliases[unique_key.size() + e * plan.key.size() + k]);
      }
      sql += (e == 0 ? "" : " AND ") + Tuple(target_key) + " IS DISTINCT FROM " + Tuple(value_key);
    }
  }
  std::vector<Param> params;
  params.reserve(rows.size() * columns.size());
  for (const Row& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      TANDEM_RETURN_IF_ERROR(Bind(row[i], table, columns[i], params));
    }
  }
  return Execute(
      "removing rows of " + table.id.ToString() + " that hold a unique value the changes write",
      sql, params);
}

Status PostgresChangeApplier::FlushUpsert(Plan& plan, const std::vector<Op>& ops) {
  const TableSchema& table = *plan.table;
  auto name = [&](int column) {
    return QuoteIdentifier(table.columns[static_cast<size_t>(column)].name);
  };
  // Future rows holding a further unique key's value under another identifying key go first.
  for (size_t u = 0; u < plan.further_unique_keys.size(); ++u) {
    std::vector<Row> rows;
    for (const Op& op : ops) {
      Row row = KeyValues(plan.further_unique_keys[u], *op.image);
      if (std::any_of(row.begin(), row.end(), [](const Value& v) { return v.is_null(); })) {
        continue;  // NULLs never clash
      }
      for (int column : plan.key) {
        row.push_back((*op.image)[static_cast<size_t>(column)]);
      }
      rows.push_back(std::move(row));
    }
    TANDEM_RETURN_IF_ERROR(DeleteUniqueHolders(plan, u, rows, 1));
  }

  std::string& sql = plan.statements["u" + std::to_string(ops.size())];
  if (sql.empty()) {
    std::vector<std::string> columns;
    for (int column : plan.written) {
      columns.push_back(name(column));
    }
    sql = "INSERT INTO " + QuoteTable(table.id) + " " + Tuple(columns) +
          " OVERRIDING SYSTEM VALUE VALUES ";
    size_t number = 1;
    for (size_t r = 0; r < ops.size(); ++r) {
      std::vector<std::string> placeholders;
      for (size_t i = 0; i < plan.written.size(); ++i) {
        placeholders.push_back(Placeholder(number++));
      }
      sql += (r == 0 ? "" : ", ") + Tuple(placeholders);
    }
    std::vector<std::string> key_names;
    for (int column : plan.key) {
      key_names.push_back(name(column));
    }
    std::string updates;
    for (int column : plan.written) {
      const size_t c = static_cast<size_t>(column);
      if (plan.is_key[c] || !plan.assignable[c]) {
        continue;
      }
      updates += (updates.empty() ? "" : ", ") + name(column) + " = EXCLUDED." + name(column);
    }
    sql += " ON CONFLICT " + Tuple(key_names) +
           (updates.empty() ? " DO NOTHING" : " DO UPDATE SET " + updates);
  }
  std::vector<Param> params;
  params.reserve(ops.size() * plan.written.size());
  for (const Op& op : ops) {
    for (int column : plan.written) {
      TANDEM_RETURN_IF_ERROR(Bind((*op.image)[static_cast<size_t>(column)], table, column, params));
    }
  }
  return Execute("writing " + std::to_string(ops.size()) + " rows to " + table.id.ToString(), sql,
                 params);
}

Status PostgresChangeApplier::FlushPartial(Plan& plan, const std::vector<Op>& ops) {
  const TableSchema& table = *plan.table;
  const std::vector<bool>& set = ops.front().set;
  std::vector<int> set_columns;
  std::string shape = "p";
  for (size_t c = 0; c < set.size(); ++c) {
    shape += set[c] ? '1' : '0';
    if (set[c]) {
      set_columns.push_back(static_cast<int>(c));
    }
  }
  auto name = [&](int column) {
    return QuoteIdentifier(table.columns[static_cast<size_t>(column)].name);
  };
  // The ops move their rows when the shape writes the key (PartialSet writes it only then).
  const bool moves = std::any_of(plan.key.begin(), plan.key.end(),
                                 [&](int c) { return set[static_cast<size_t>(c)]; });
  if (moves) {
    // In replay the row may be found at both keys: the new key holds this change's own earlier
    // result (or a later one) and the old key a "future" row of a later transaction that reused
    // it, which that transaction's replay writes back. Drop the old key then; never the new one
    // (with the old key absent it is the only copy of the row).
    std::string& move_sql =
        plan.statements["m" + shape.substr(1) + ":" + std::to_string(ops.size())];
    if (move_sql.empty()) {
      std::vector<std::string> aliases;
      for (size_t i = 0; i < 2 * plan.key.size(); ++i) {
        aliases.push_back("c" + std::to_string(i));
      }
      move_sql = "DELETE FROM " + QuoteTable(table.id) + " AS x USING (VALUES ";
      size_t number = 1;
      for (size_t r = 0; r < ops.size(); ++r) {
        std::vector<std::string> values;
        for (size_t i = 0; i < 2 * plan.key.size(); ++i) {
          values.push_back(Placeholder(number++) +
                           "::" + plan.types[static_cast<size_t>(plan.key[i % plan.key.size()])]);
        }
        move_sql += (r == 0 ? "" : ", ") + Tuple(values);
      }
      move_sql += ") AS v" + Tuple(aliases) + " WHERE ";
      std::string at_new_key;
      for (size_t k = 0; k < plan.key.size(); ++k) {
        move_sql += (k == 0 ? "x." : " AND x.") + name(plan.key[k]) + " = v." + aliases[k];
        at_new_key += (k == 0 ? "y." : " AND y.") + name(plan.key[k]) + " = v." +
                      aliases[plan.key.size() + k];
      }
      move_sql +=
          " AND EXISTS (SELECT 1 FROM " + QuoteTable(table.id) + " AS y WHERE " + at_new_key + ")";
    }
    std::vector<Param> params;
    params.reserve(ops.size() * 2 * plan.key.size());
    for (const Op& op : ops) {
      for (size_t k = 0; k < plan.key.size(); ++k) {
        TANDEM_RETURN_IF_ERROR(Bind(op.key[k], table, plan.key[k], params));
      }
      for (int column : plan.key) {
        TANDEM_RETURN_IF_ERROR(
            Bind((*op.image)[static_cast<size_t>(column)], table, column, params));
      }
    }
    TANDEM_RETURN_IF_ERROR(Execute("removing rows of " + table.id.ToString() +
                                       " found at both the old and the new key of a moved row",
                                   move_sql, params));
  }
  // Future rows holding the new value of a further unique key the update writes (every column of
  // it logged or in the key) under an identifying key other than the row's old and new ones.
  for (size_t u = 0; u < plan.further_unique_keys.size(); ++u) {
    const std::vector<int>& unique_key = plan.further_unique_keys[u];
    if (!std::all_of(unique_key.begin(), unique_key.end(), [&](int column) {
          const size_t c = static_cast<size_t>(column);
          return set[c] || plan.is_key[c];
        })) {
      continue;
    }
    std::vector<Row> rows;
    for (const Op& op : ops) {
      Row row = KeyValues(unique_key, *op.image);
      if (std::any_of(row.begin(), row.end(), [](const Value& v) { return v.is_null(); })) {
        continue;  // NULLs never clash
      }
      row.insert(row.end(), op.key.begin(), op.key.end());
      for (int column : plan.key) {
        row.push_back((*op.image)[static_cast<size_t>(column)]);
      }
      rows.push_back(std::move(row));
    }
    TANDEM_RETURN_IF_ERROR(DeleteUniqueHolders(plan, u, rows, 2));
  }

  std::string& sql = plan.statements[shape + ":" + std::to_string(ops.size())];
  if (sql.empty()) {
    std::vector<int> columns = plan.key;
    columns.insert(columns.end(), set_columns.begin(), set_columns.end());
    std::vector<std::string> aliases;
    for (size_t i = 0; i < columns.size(); ++i) {
      aliases.push_back("c" + std::to_string(i));
    }
    sql = "UPDATE " + QuoteTable(table.id) + " AS x SET ";
    for (size_t i = 0; i < set_columns.size(); ++i) {
      sql += (i == 0 ? "" : ", ") + name(set_columns[i]) + " = v." + aliases[plan.key.size() + i];
    }
    sql += " FROM (VALUES ";
    size_t number = 1;
    for (size_t r = 0; r < ops.size(); ++r) {
      std::vector<std::string> values;
      for (int column : columns) {
        values.push_back(Placeholder(number++) + "::" + plan.types[static_cast<size_t>(column)]);
      }
      sql += (r == 0 ? "" : ", ") + Tuple(values);
    }
    sql += ") AS v" + Tuple(aliases) + " WHERE ";
    for (size_t k = 0; k < plan.key.size(); ++k) {
      sql += (k == 0 ? "x." : " AND x.") + name(plan.key[k]) + " = v." + aliases[k];
    }
  }
  std::vector<Param> params;
  params.reserve(ops.size() * (plan.key.size() + set_columns.size()));
  for (const Op& op : ops) {
    for (size_t k = 0; k < plan.key.size(); ++k) {
      TANDEM_RETURN_IF_ERROR(Bind(op.key[k], table, plan.key[k], params));
    }
    for (int column : set_columns) {
      TANDEM_RETURN_IF_ERROR(Bind((*op.image)[static_cast<size_t>(column)], table, column, params));
    }
  }
  return Execute("updating " + std::to_string(ops.size()) + " rows of " + table.id.ToString() +
                     " (columns the source logged)",
                 sql, params);
}

Status PostgresChangeApplier::Commit(const Checkpoint& checkpoint) {
  if (!in_transaction_) {
    return engine::Internal("PostgresChangeApplier::Commit without an open transaction");
  }
  Status written = Flush();
  if (written.ok()) {
    written = WriteCheckpoint(*connection_, checkpoint);
  }
  if (!written.ok()) {
    return AbortWith(std::move(written));
  }
  Result<PgResult> committed = connection_->Query("committing a target transaction", "COMMIT");
  if (!committed.ok()) {
    return AbortWith(committed.status());
  }
  in_transaction_ = false;
  // COMMIT of a transaction that failed earlier reports ROLLBACK instead of an error.
  if (std::strcmp(PQcmdStatus(committed->get()), "COMMIT") != 0) {
    return engine::Internal("committing a target transaction on " +
                            connection_->config().Redacted() +
                            " rolled it back: a statement of it had failed unnoticed");
  }
  return Status::Ok();
}

Status PostgresChangeApplier::ApplyDdl(const ChangeEvent& ddl, const Checkpoint& checkpoint) {
  if (in_transaction_) {
    return engine::Internal("PostgresChangeApplier::ApplyDdl with a transaction open");
  }
  if (ddl.kind != ChangeKind::kDdl) {
    return engine::Internal("PostgresChangeApplier::ApplyDdl given a " +
                            std::string(engine::ChangeKindName(ddl.kind)) + " event");
  }
  TANDEM_RETURN_IF_ERROR(Begin());
  const std::string action = "applying DDL `" + ddl.statement.substr(0, 200) + "`";
  Status ran = Status::Ok();
  if (!ddl.statement_schema.empty()) {
    ran = Execute(action + " (setting the search path)",
                  "SET LOCAL search_path = " + QuoteIdentifier(ddl.statement_schema), {});
  }
  if (ran.ok()) {
    ran = Execute(action, ddl.statement, {});
  }
  // Table shapes may have changed: read them again, with statements written for the new shapes.
  plans_.clear();
  if (!ran.ok()) {
    return AbortWith(std::move(ran));
  }
  return Commit(checkpoint);
}

Result<std::optional<Checkpoint>> PostgresChangeApplier::ReadCheckpoint(const std::string& stream) {
  return postgres::ReadCheckpoint(*connection_, stream);
}

}  // namespace tandem::connectors::postgres
