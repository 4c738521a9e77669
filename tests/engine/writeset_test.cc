#include "engine/writeset.h"

#include <gtest/gtest.h>

#include "tests/engine/pipeline_fakes.h"

namespace tandem::engine {
namespace {

using testing::Delete;
using testing::Insert;
using testing::KeyedTable;
using testing::R;
using testing::Update;

Writeset Of(std::vector<ChangeEvent> events) { return ComputeWriteset(events); }

ChangeEvent Command(int database, std::vector<std::string> keys, bool known = true) {
  ChangeEvent event;
  event.kind = ChangeKind::kCommand;
  event.command = {"DEL"};
  event.command.insert(event.command.end(), keys.begin(), keys.end());
  event.database = database;
  event.command_keys = std::move(keys);
  event.command_keys_known = known;
  return event;
}

TEST(Writeset, CommandsConflictOnAKeyOfTheSameDatabaseOnly) {
  EXPECT_TRUE(Of({Command(0, {"a", "b"})}).ConflictsWith(Of({Command(0, {"b"})})));
  EXPECT_FALSE(Of({Command(0, {"a"})}).ConflictsWith(Of({Command(0, {"b"})})));
  EXPECT_FALSE(Of({Command(0, {"a"})}).ConflictsWith(Of({Command(1, {"a"})})));
  // No keys (PUBLISH): conflicts with nothing.
  EXPECT_FALSE(Of({Command(0, {})}).ConflictsWith(Of({Command(0, {"a"})})));
}

TEST(Writeset, CommandWithUnknownKeysIsABarrier) {
  Writeset flush = Of({Command(0, {}, /*known=*/false)});
  EXPECT_TRUE(flush.barrier());
  EXPECT_TRUE(flush.ConflictsWith(Of({Command(3, {"z"})})));
}

TEST(Writeset, SameRowConflictsOtherRowsDoNot) {
  auto t = KeyedTable();
  EXPECT_TRUE(Of({Update(t, R(1, "a", 1), R(1, "a", 2))})
                  .ConflictsWith(Of({Update(t, R(1, "a", 2), R(1, "a", 3))})));
  EXPECT_FALSE(Of({Update(t, R(1, "a", 1), R(1, "a", 2))})
                   .ConflictsWith(Of({Update(t, R(2, "b", 1), R(2, "b", 2))})));
}

TEST(Writeset, SameKeyInAnotherTableDoesNotConflict) {
  EXPECT_FALSE(Of({Insert(KeyedTable("t1"), R(1, "a", 1))})
                   .ConflictsWith(Of({Insert(KeyedTable("t2"), R(1, "a", 1))})));
}

// The reason for hashing unique keys: T2 takes the unique value T1 gives up. With the primary key
// alone the two are independent and may be applied in the wrong order.
TEST(Writeset, SwappingAUniqueValueConflicts) {
  auto t = KeyedTable();
  Writeset t1 = Of({Update(t, R(1, "a", 0), R(1, "c", 0))});
  Writeset t2 = Of({Update(t, R(2, "b", 0), R(2, "a", 0))});
  EXPECT_TRUE(t1.ConflictsWith(t2));
  EXPECT_TRUE(t2.ConflictsWith(t1));

  auto pk_only = KeyedTable("t", /*unique_key=*/false);
  EXPECT_FALSE(Of({Update(pk_only, R(1, "a", 0), R(1, "c", 0))})
                   .ConflictsWith(Of({Update(pk_only, R(2, "b", 0), R(2, "a", 0))})));
}

TEST(Writeset, UniqueKeyWithNullDoesNotConstrain) {
  auto t = KeyedTable();
  EXPECT_FALSE(
      Of({Insert(t, R(1, std::nullopt, 0))}).ConflictsWith(Of({Insert(t, R(2, std::nullopt, 0))})));
}

TEST(Writeset, BeforeImageCountsSoAKeyChangeConflictsWithTheOldKey) {
  auto t = KeyedTable();
  // T1 moves row 1 to id 5; T2 inserts a new row 1.
  EXPECT_TRUE(
      Of({Update(t, R(1, "a", 0), R(5, "a", 0))}).ConflictsWith(Of({Insert(t, R(1, "z", 0))})));
  EXPECT_TRUE(Of({Delete(t, R(3, "q", 0))}).ConflictsWith(Of({Insert(t, R(3, "r", 0))})));
}

TEST(Writeset, CaseAndTrailingSpaceVariantsOfAUniqueValueConflict) {
  auto t = KeyedTable();
  EXPECT_TRUE(Of({Insert(t, R(1, "Abc", 0))}).ConflictsWith(Of({Insert(t, R(2, "abc  ", 0))})));
  EXPECT_FALSE(Of({Insert(t, R(1, "abc", 0))}).ConflictsWith(Of({Insert(t, R(2, "abd", 0))})));
}

std::shared_ptr<const TableSchema> Parent() {
  auto parent = std::make_shared<TableSchema>();
  parent->id = {"db", "parent"};
  parent->columns = {Column{"region", "int", ValueKind::kInt, false},
                     Column{"pid", "int", ValueKind::kInt, false}};
  parent->keys = {KeyDescriptor{"PRIMARY", {0, 1}, true, true}};
  return parent;
}

std::shared_ptr<const TableSchema> Child() {
  auto child = std::make_shared<TableSchema>();
  child->id = {"db", "child"};
  child->columns = {Column{"id", "int", ValueKind::kInt, false},
                    Column{"parent_pid", "int", ValueKind::kInt, true},
                    Column{"parent_region", "int", ValueKind::kInt, true}};
  child->keys = {KeyDescriptor{"PRIMARY", {0}, true, true}};
  // Listed in another order than the parent's key: pairs are matched by column name.
  child->foreign_keys = {ForeignKey{"fk", {1, 2}, {"db", "parent"}, {"pid", "region"}}};
  return child;
}

TEST(Writeset, ChildRowConflictsWithItsParentRow) {
  auto parent = Parent();
  auto child = Child();
  Writeset insert_parent = Of({Insert(parent, {Value::Int(1), Value::Int(7)})});
  EXPECT_TRUE(insert_parent.ConflictsWith(
      Of({Insert(child, {Value::Int(100), Value::Int(7), Value::Int(1)})})));
  // Another parent: independent.
  EXPECT_FALSE(insert_parent.ConflictsWith(
      Of({Insert(child, {Value::Int(101), Value::Int(8), Value::Int(1)})})));
  // A NULL reference points at no parent.
  EXPECT_FALSE(insert_parent.ConflictsWith(
      Of({Insert(child, {Value::Int(102), Value::Null(), Value::Int(1)})})));
  // Deleting the parent conflicts with a child that pointed at it before an update.
  EXPECT_TRUE(Of({Delete(parent, {Value::Int(1), Value::Int(7)})})
                  .ConflictsWith(Of({Update(child, {Value::Int(100), Value::Int(7), Value::Int(1)},
                                            {Value::Int(100), Value::Int(9), Value::Int(1)})})));
}

TEST(Writeset, DdlAndUnknownTablesAreBarriers) {
  auto t = KeyedTable();
  ChangeEvent ddl;
  ddl.kind = ChangeKind::kDdl;
  ddl.statement = "ALTER TABLE t ADD COLUMN w INT";
  Writeset barrier = Of({ddl});
  EXPECT_TRUE(barrier.barrier());
  EXPECT_TRUE(barrier.ConflictsWith(Of({Insert(KeyedTable("elsewhere"), R(9, "z", 0))})));
  EXPECT_TRUE(Of({Insert(t, R(9, "z", 0))}).ConflictsWith(barrier));

  ChangeEvent unknown = Insert(nullptr, R(1, "a", 0));
  EXPECT_TRUE(Of({unknown}).barrier());
  ChangeEvent short_image = Insert(t, {Value::Int(1)});
  EXPECT_TRUE(Of({short_image}).barrier());
}

TEST(Writeset, KeylessTableSerialisesItsChanges) {
  auto heap = std::make_shared<TableSchema>();
  heap->id = {"db", "heap"};
  heap->columns = {Column{"x", "int", ValueKind::kInt, true}};
  EXPECT_TRUE(
      Of({Insert(heap, {Value::Int(1)})}).ConflictsWith(Of({Insert(heap, {Value::Int(2)})})));
  EXPECT_FALSE(
      Of({Insert(heap, {Value::Int(1)})}).ConflictsWith(Of({Insert(KeyedTable(), R(1, "a", 0))})));
}

TEST(Writeset, EntriesAreSortedAndUnique) {
  auto t = KeyedTable();
  Writeset writeset =
      Of({Update(t, R(1, "a", 0), R(1, "a", 1)), Update(t, R(1, "a", 1), R(1, "a", 2))});
  EXPECT_EQ(writeset.hashes().size(), 2u);  // (t, id=1) and (t, u='a')
  EXPECT_TRUE(std::is_sorted(writeset.hashes().begin(), writeset.hashes().end()));
  EXPECT_TRUE(Of({}).empty());
}

}  // namespace
}  // namespace tandem::engine
