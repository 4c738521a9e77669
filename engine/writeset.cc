#include "engine/writeset.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tandem::engine {
namespace {

// FNV-1a over the bytes fed in, finished with a SplitMix64 round so nearby inputs spread over all
// 64 bits. Strings are length-prefixed so ("ab", "c") and ("a", "bc") differ.
class Hasher {
 public:
  void Byte(uint8_t byte) {
    state_ ^= byte;
    state_ *= 0x100000001b3ULL;
  }
  void U64(uint64_t value) {
    for (int i = 0; i < 8; ++i) {
      Byte(static_cast<uint8_t>(value >> (8 * i)));
    }
  }
  void Bytes(std::string_view bytes) {
    U64(bytes.size());
    for (char c : bytes) {
      Byte(static_cast<uint8_t>(c));
    }
  }
  uint64_t Finish() const {
    uint64_t z = state_ + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

void HashValue(Hasher& hasher, const Value& value) {
  switch (value.kind()) {
    case ValueKind::kText: {
      // ASCII case fold and trailing-space strip: see the header.
      std::string_view text = value.text();
      while (!text.empty() && text.back() == ' ') {
        text.remove_suffix(1);
      }
      std::string folded(text);
      for (char& c : folded) {
        if (c >= 'A' && c <= 'Z') {
          c = static_cast<char>(c - 'A' + 'a');
        }
      }
      hasher.Byte(static_cast<uint8_t>(ValueKind::kText));
      hasher.Bytes(folded);
      return;
    }
    case ValueKind::kUInt:
      // An unsigned column referencing a signed one (or the reverse) holds equal numbers.
      if (value.uint_value() <= static_cast<uint64_t>(INT64_MAX)) {
        hasher.Byte(static_cast<uint8_t>(ValueKind::kInt));
        hasher.U64(value.uint_value());
        return;
      }
      break;
    case ValueKind::kFloat:
    case ValueKind::kDouble: {
      double number = value.double_value() == 0 ? 0.0 : value.double_value();  // -0 == 0
      hasher.Byte(static_cast<uint8_t>(ValueKind::kDouble));
      hasher.U64(std::bit_cast<uint64_t>(number));
      return;
    }
    default:
      break;
  }
  hasher.Byte(static_cast<uint8_t>(value.kind()));
  hasher.U64(static_cast<uint64_t>(value.int_value()));
  hasher.U64(value.uint_value());
  hasher.Bytes(value.text());
}

// (table, {name = value} sorted by name). nullopt when a value is NULL.
std::optional<uint64_t> KeyEntry(const TableId& table,
                                 std::vector<std::pair<std::string_view, const Value*>> pairs) {
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Hasher hasher;
  hasher.Byte('k');
  hasher.Bytes(table.schema);
  hasher.Bytes(table.name);
  for (const auto& [name, value] : pairs) {
    if (value->is_null()) {
      return std::nullopt;
    }
    hasher.Bytes(name);
    HashValue(hasher, *value);
  }
  return hasher.Finish();
}

// (database, key) of a key-value command.
uint64_t CommandKeyEntry(int database, std::string_view key) {
  Hasher hasher;
  hasher.Byte('r');
  hasher.U64(static_cast<uint64_t>(database));
  hasher.Bytes(key);
  return hasher.Finish();
}

uint64_t TableEntry(const TableId& table) {
  Hasher hasher;
  hasher.Byte('t');
  hasher.Bytes(table.schema);
  hasher.Bytes(table.name);
  return hasher.Finish();
}

}  // namespace

void Writeset::Seal() {
  std::sort(hashes_.begin(), hashes_.end());
  hashes_.erase(std::unique(hashes_.begin(), hashes_.end()), hashes_.end());
  sealed_ = true;
}

namespace {

// Whether `column` belongs to a key of `table` other than its identifying key, or to a foreign key.
bool InSecondaryKey(const TableSchema& table, int column) {
  const KeyDescriptor* identifying = table.IdentifyingKey();
  for (const KeyDescriptor& key : table.keys) {
    if (&key != identifying &&
        std::find(key.columns.begin(), key.columns.end(), column) != key.columns.end()) {
      return true;
    }
  }
  for (const ForeignKey& foreign_key : table.foreign_keys) {
    if (std::find(foreign_key.columns.begin(), foreign_key.columns.end(), column) !=
        foreign_key.columns.end()) {
      return true;
    }
  }
  return false;
}

// Whether an image of `event` lacks a value some entry would hash: a before image that holds only
// the identifying key while the table has other unique keys or foreign keys, or an after image
// whose unlogged (unchanged) columns include a key column.
bool HasUnknownKeyValues(const TableSchema& table, const ChangeEvent& event) {
  if (event.before_key_only && event.kind != ChangeKind::kInsert) {
    const KeyDescriptor* identifying = table.IdentifyingKey();
    if (identifying == nullptr || table.keys.size() > 1 || !table.foreign_keys.empty()) {
      return true;
    }
  }
  for (int column : event.unchanged_columns) {
    if (InSecondaryKey(table, column)) {
      return true;
    }
    const KeyDescriptor* identifying = table.IdentifyingKey();
    if (identifying != nullptr &&
        std::find(identifying->columns.begin(), identifying->columns.end(), column) !=
            identifying->columns.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

void Writeset::Add(const ChangeEvent& event) {
  assert(!sealed_);  // Seal() sorted the entries; appending would break ConflictsWith
  if (event.kind == ChangeKind::kDdl) {
    barrier_ = true;
    return;
  }
  if (event.kind == ChangeKind::kCommand) {
    if (!event.command_keys_known) {
      barrier_ = true;
      return;
    }
    for (const std::string& key : event.command_keys) {
      hashes_.push_back(CommandKeyEntry(event.database, key));
    }
    return;
  }
  if (!event.IsRowChange()) {
    return;
  }
  if (event.table == nullptr) {
    barrier_ = true;  // cannot tell which rows it touches
    return;
  }
  const TableSchema& table = *event.table;
  const size_t width = table.columns.size();
  if (HasUnknownKeyValues(table, event)) {
    barrier_ = true;
    return;
  }
  auto add_image = [&](const Row& row) -> bool {
    if (row.size() < width) {
      return false;
    }
    bool keyed = false;
    for (const KeyDescriptor& key : table.keys) {
      std::vector<std::pair<std::string_view, const Value*>> pairs;
      for (int index : key.columns) {
        if (index < 0 || static_cast<size_t>(index) >= width) {
          return false;
        }
        pairs.emplace_back(table.columns[index].name, &row[index]);
      }
      if (std::optional<uint64_t> entry = KeyEntry(table.id, std::move(pairs))) {
        hashes_.push_back(*entry);
      }
      keyed = keyed || key.primary || key.all_not_null;
    }
    if (!keyed) {
      hashes_.push_back(TableEntry(table.id));
    }
    for (const ForeignKey& foreign_key : table.foreign_keys) {
      if (foreign_key.columns.size() != foreign_key.referenced_columns.size()) {
        return false;
      }
      std::vector<std::pair<std::string_view, const Value*>> pairs;
      for (size_t i = 0; i < foreign_key.columns.size(); ++i) {
        int index = foreign_key.columns[i];
        if (index < 0 || static_cast<size_t>(index) >= width) {
          return false;
        }
        pairs.emplace_back(foreign_key.referenced_columns[i], &row[index]);
      }
      if (std::optional<uint64_t> entry =
              KeyEntry(foreign_key.referenced_table, std::move(pairs))) {
        hashes_.push_back(*entry);
      }
    }
    return true;
  };
  bool ok = true;
  if (event.kind != ChangeKind::kInsert) {
    ok = add_image(event.before) && ok;
  }
  if (event.kind != ChangeKind::kDelete) {
    ok = add_image(event.after) && ok;
  }
  if (!ok) {
    barrier_ = true;
  }
}

bool Writeset::ConflictsWith(const Writeset& other) const {
  assert(sealed_ && other.sealed_);  // the merge below needs sorted entries
  if (barrier_ || other.barrier_) {
    return true;
  }
  auto a = hashes_.begin();
  auto b = other.hashes_.begin();
  while (a != hashes_.end() && b != other.hashes_.end()) {
    if (*a < *b) {
      ++a;
    } else if (*b < *a) {
      ++b;
    } else {
      return true;
    }
  }
  return false;
}

Writeset ComputeWriteset(std::span<const ChangeEvent> events) {
  Writeset writeset;
  for (const ChangeEvent& event : events) {
    writeset.Add(event);
  }
  writeset.Seal();
  return writeset;
}

}  // namespace tandem::engine
