// File: engine/writeset.h
//
// Writeset: what a source transaction writes, as a set of 64-bit hashes, so the change pipeline can
// tell which transactions may be applied in parallel (MySQL's WRITESET dependency tracking, Vitess
// VReplication). Two transactions conflict when their writesets intersect or either is a barrier;
// conflicting transactions must be applied in source order, others may run in any order.
//
// Entries, for every row change, over its before image (update, delete) and after image (insert,
// update):
//
//   entry                         hashes                                              why
//   primary key                   (table, {key column name = value})                  same row
//   each unique key               (table, {key column name = value}); skipped when    a value moved
//                                 a key column is NULL (NULLs never collide)          between rows
//   each foreign key              (referenced table, {referenced column name =        parent row of
//                                 child's value}); skipped when a column is NULL      a child row
//   table without a key           (table): every change of the table conflicts        rows unknown
//   key-value command (kCommand)  (database, key) for each of its command_keys         same key
//
// Key columns are hashed as name = value pairs sorted by column name, so a child's foreign-key
// entry equals the parent's primary/unique key entry whenever the referenced columns are that
// key's columns (engine/table_schema.h ForeignKey). Hashing the primary key alone is not enough:
// T1 `UPDATE t SET u='c' WHERE id=1` (u was 'a') and T2 `UPDATE t SET u='a' WHERE id=2` touch
// different rows, but T2 may only run after T1 frees 'a'; the unique-key entry (t, u='a') is in
// both writesets.
//
// Text values are hashed case-folded (ASCII) with trailing spaces removed, because a
// case-insensitive, PAD SPACE collation makes 'a', 'A' and 'a ' one unique value; folding only adds
// conflicts, never hides one. Folding of accented letters that accent-insensitive collations equate
// is not modelled: such two transactions may be reordered, and idempotent apply (replace on unique
// conflict) still converges to the source's final state.
//
// A barrier (DDL, a command whose keys are unknown, a row change without a schema or with an image
// shorter than its key) conflicts with everything. So does a row change whose images lack a value
// an entry needs (ChangeEvent::before_key_only on a table with further unique keys or foreign keys;
// an unchanged, unlogged column that belongs to a key): the old unique or parent values are
// unknown, so the change is ordered against everything. Hash collisions only add conflicts
// (serialise two independent transactions).
//
// Thread safety: a value type.
#pragma once

#include <cassert>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/change_event.h"

namespace tandem::engine {

// Built by Add() calls, then Seal(); read after that.
class Writeset {
 public:
  // Adds the entries of one change (kBegin/kCommit/kHeartbeat add nothing). A DDL, or a change the
  // table cannot be keyed for, makes the writeset a barrier. REQUIRES: not sealed.
  void Add(const ChangeEvent& event);
  void AddBarrier() { barrier_ = true; }
  // Sorts and deduplicates the entries; no Add() after it.
  void Seal();

  bool barrier() const { return barrier_; }
  // REQUIRES: sealed. Sorted, without duplicates.
  const std::vector<uint64_t>& hashes() const { return hashes_; }
  bool empty() const { return !barrier_ && hashes_.empty(); }

  // Whether applying this and `other` in either order could differ: a common entry, or a barrier.
  // REQUIRES: both sealed.
  bool ConflictsWith(const Writeset& other) const;

 private:
  std::vector<uint64_t> hashes_;  // sorted and unique once sealed
  bool barrier_ = false;
  bool sealed_ = false;
};

// The sealed writeset of a transaction's events.
Writeset ComputeWriteset(std::span<const ChangeEvent> events);

}  // namespace tandem::engine
