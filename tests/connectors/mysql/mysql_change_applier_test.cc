// MySqlChangeApplier against the shared target server: every sample-data type lands exactly,
// updates (also of the primary key and of unique values) and deletes follow the source's order,
// replays converge, checkpoints commit with the rows or not at all, DDL, foreign-key checks per
// event, generated columns, privileges and a lost connection.

#include "connectors/mysql/mysql_change_applier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>

#include "connectors/mysql/mysql_target_tables.h"
#include "tests/connectors/mysql/mysql_test_util.h"

namespace tandem::connectors::mysql {
namespace {

using engine::BinlogPosition;
using engine::ChangeEvent;
using engine::ChangeKind;
using engine::Checkpoint;
using engine::KeyRange;
using engine::Row;
using engine::Status;
using engine::StatusCode;
using engine::TableId;
using engine::TableSchema;
using engine::Value;
using testing::Side;

using SchemaPtr = std::shared_ptr<const TableSchema>;

ChangeEvent Insert(const SchemaPtr& table, Row after) {
  ChangeEvent event;
  event.kind = ChangeKind::kInsert;
  event.table = table;
  event.after = std::move(after);
  return event;
}

ChangeEvent Update(const SchemaPtr& table, Row before, Row after) {
  ChangeEvent event;
  event.kind = ChangeKind::kUpdate;
  event.table = table;
  event.before = std::move(before);
  event.after = std::move(after);
  return event;
}

ChangeEvent Delete(const SchemaPtr& table, Row before) {
  ChangeEvent event;
  event.kind = ChangeKind::kDelete;
  event.table = table;
  event.before = std::move(before);
  return event;
}

void ExpectOk(const Status& status) { ASSERT_TRUE(status.ok()) << status.ToString(); }

class MySqlChangeApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = testing::SharedServers::GetOrNull();
    if (servers_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS; run through ctest)";
    }
    db_ = std::make_unique<ScratchDatabase>(*servers_, Side::kTarget, "applier");
    target_ = OpenOrThrow(db_->uri());
    auto applier = MySqlChangeApplier::Open(ConfigFor(db_->uri()));
    if (!applier.ok()) {
      throw std::runtime_error(applier.status().ToString());
    }
    applier_ = std::move(*applier);
    stream_ = testing::UniqueName("stream");
  }

  void TearDown() override {
    if (servers_ != nullptr) {
      servers_->ExecuteMySql(Side::kTarget,
                             "DELETE FROM _tandem.checkpoint WHERE stream = '" + stream_ + "'");
    }
  }

  SchemaPtr Describe(const std::string& table) {
    auto schema = target_->DescribeTable({db_->name(), table});
    if (!schema.ok()) {
      throw std::runtime_error(schema.status().ToString());
    }
    return std::make_shared<const TableSchema>(*schema);
  }

  std::vector<Row> Rows(const SchemaPtr& table) {
    return ReadAll(*target_, *table, KeyRange::All());
  }

  Checkpoint MakeCheckpoint(uint64_t offset) {
    return Checkpoint{
        .stream = stream_,
        .position = BinlogPosition{"mariadb-bin.000007", offset, "0-1-" + std::to_string(offset)},
        .transaction_sequence = offset,
        .events_applied = static_cast<int64_t>(offset) * 2};
  }

  // Applies `events` in one transaction committed with a checkpoint at `offset`.
  void ApplyCommitted(const std::vector<ChangeEvent>& events, uint64_t offset = 4) {
    ExpectOk(applier_->Begin());
    ExpectOk(applier_->Apply(events));
    ExpectOk(applier_->Commit(MakeCheckpoint(offset)));
  }

  const testing::SharedServers* servers_ = nullptr;
  std::unique_ptr<ScratchDatabase> db_;
  std::unique_ptr<engine::SqlDatabase> target_;
  std::unique_ptr<MySqlChangeApplier> applier_;
  std::string stream_;
};

// Every sample-data type (min, max, zero, NULL rows, emoji, NUL bytes, zero dates, large TEXT and
// BLOB) read by ReadRange from the source and applied lands identically; then updates (values
// moved between rows, primary keys changed) and deletes (present and absent rows) give exactly
// the modelled state.
TEST_F(MySqlChangeApplierTest, SampleDataOfEveryTypeLandsExactlyThroughInsertsUpdatesDeletes) {
  ScratchDatabase source_db(*servers_, Side::kSource, "applier_src");
  testing::LoadMySqlSampleData(servers_->mysql_source_uri(),
                               {.rows = 300, .database = source_db.name()});
  auto source = OpenOrThrow(source_db.uri());
  // The target tables, created by tandem from the source definitions in a same-named database.
  servers_->ExecuteMySql(Side::kTarget, "DROP DATABASE IF EXISTS `" + source_db.name() + "`");
  auto source_connection = MySqlConnection::Open(ConfigFor(source_db.uri()));
  ASSERT_TRUE(source_connection.ok());
  std::vector<TableId> tables;
  for (const char* name : {"all_types", "order_lines", "customers"}) {
    tables.push_back({source_db.name(), name});
  }
  auto created = CreateMissingTables(**source_connection, applier_->connection(), tables);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->size(), 3u);
  struct DropTargetCopy {
    const testing::SharedServers& servers;
    std::string name;
    ~DropTargetCopy() {
      servers.ExecuteMySql(Side::kTarget, "DROP DATABASE IF EXISTS `" + name + "`");
    }
  } drop_target_copy{*servers_, source_db.name()};

  uint64_t offset = 100;
  for (const TableId& id : tables) {
    auto described = source->DescribeTable(id);
    ASSERT_TRUE(described.ok()) << described.status().ToString();
    const SchemaPtr table = std::make_shared<const TableSchema>(*described);
    const std::vector<Row> rows = ReadAll(*source, *table, KeyRange::All());
    ASSERT_EQ(rows.size(), 300u) << id.ToString();
    std::vector<ChangeEvent> inserts;
    for (const Row& row : rows) {
      inserts.push_back(Insert(table, row));
    }
    ApplyCommitted(inserts, ++offset);
    EXPECT_EQ(ReadAll(*target_, *table, KeyRange::All()), rows) << id.ToString();
  }

  // all_types: the model is keyed by id.
  auto described = source->DescribeTable({source_db.name(), "all_types"});
  ASSERT_TRUE(described.ok());
  const SchemaPtr table = std::make_shared<const TableSchema>(*described);
  const std::vector<Row> rows = ReadAll(*source, *table, KeyRange::All());
  std::map<uint64_t, Row> model;
  for (const Row& row : rows) {
    model[row[0].uint_value()] = row;
  }
  std::vector<ChangeEvent> changes;
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint64_t id = rows[i][0].uint_value();
    if (id % 7 == 2) {
      changes.push_back(Delete(table, rows[i]));
      model.erase(id);
    } else if (id % 5 == 1 && id > 4) {
      Row after = rows[(i + 1) % rows.size()];  // every column of another row, new key
      after[0] = Value::UInt(id + 1000000);
      changes.push_back(Update(table, rows[i], after));
      model.erase(id);
      model[id + 1000000] = after;
    } else if (id % 3 == 0) {
      Row after = rows[(i + 2) % rows.size()];  // every column of another row, same key
      after[0] = rows[i][0];
      changes.push_back(Update(table, rows[i], after));
      model[id] = after;
    }
  }
  Row absent = rows[5];
  absent[0] = Value::UInt(99999999);
  changes.push_back(Delete(table, absent));
  ApplyCommitted(changes, ++offset);
  std::vector<Row> expected;
  for (auto& [id, row] : model) {
    expected.push_back(row);
  }
  EXPECT_EQ(ReadAll(*target_, *table, KeyRange::All()), expected);
}

class KeyedTable : public MySqlChangeApplierTest {
 protected:
  void SetUp() override {
    MySqlChangeApplierTest::SetUp();
    if (servers_ == nullptr) {
      return;
    }
    db_->Execute(
        "CREATE TABLE {db}.kv (id INT NOT NULL PRIMARY KEY, u VARCHAR(10) NOT NULL, v INT NULL,"
        " UNIQUE KEY u (u)) ENGINE=InnoDB");
    table_ = Describe("kv");
  }
  static Row R(int id, const std::string& u, std::optional<int> v) {
    return {Value::Int(id), Value::Text(u), v ? Value::Int(*v) : Value::Null()};
  }
  SchemaPtr table_;
};

TEST_F(KeyedTable, UniqueValueSwapAppliesInOrderAndReplaysToTheSameState) {
  ApplyCommitted({Insert(table_, R(1, "a", 1)), Insert(table_, R(2, "b", 2))});
  // The source swapped the unique values through a temporary one in one transaction.
  const std::vector<ChangeEvent> swap = {
      Update(table_, R(1, "a", 1), R(1, "tmp", 1)),
      Update(table_, R(2, "b", 2), R(2, "a", 2)),
      Update(table_, R(1, "tmp", 1), R(1, "b", 1)),
  };
  ApplyCommitted(swap);
  const std::vector<Row> swapped = {R(1, "b", 1), R(2, "a", 2)};
  EXPECT_EQ(Rows(table_), swapped);
  // A replay after a crash (the same transaction again) and a replay of its second half converge.
  ApplyCommitted(swap);
  EXPECT_EQ(Rows(table_), swapped);
  ApplyCommitted({swap[1], swap[2]});
  EXPECT_EQ(Rows(table_), swapped);
}

TEST_F(KeyedTable, ApplyingTheSameBatchTwiceGivesTheSameState) {
  const std::vector<ChangeEvent> batch = {
      Insert(table_, R(1, "a", 1)),
      Insert(table_, R(2, "b", 2)),
      Insert(table_, R(3, "c", 3)),
      Update(table_, R(1, "a", 1), R(10, "a", 11)),  // primary key change
      Update(table_, R(2, "b", 2), R(2, "bb", 22)),  // unique value change
      Delete(table_, R(3, "c", 3)),
      Insert(table_, R(4, "c", 4)),    // takes the deleted row's unique value
      Delete(table_, R(99, "zz", 0)),  // absent: fine
  };
  ApplyCommitted(batch);
  const std::vector<Row> expected = {R(2, "bb", 22), R(4, "c", 4), R(10, "a", 11)};
  EXPECT_EQ(Rows(table_), expected);
  ApplyCommitted(batch);
  EXPECT_EQ(Rows(table_), expected);
}

// OLTP transactions switch statement kind at every row (sysbench oltp_write_only: update, update,
// delete, re-insert). Without foreign keys a span is applied as its net effect: the state is the
// serial one, in a handful of statements instead of one per row.
TEST_F(KeyedTable, InterleavedKindsApplyAsTheirNetEffectInAFewStatements) {
  std::vector<ChangeEvent> setup;
  for (int id = 1; id <= 200; ++id) {
    setup.push_back(Insert(table_, R(id, "u" + std::to_string(id), 0)));
  }
  ApplyCommitted(setup);
  std::map<int, Row> model;
  for (int id = 1; id <= 200; ++id) {
    model[id] = R(id, "u" + std::to_string(id), 0);
  }
  std::vector<ChangeEvent> span;
  for (int t = 0; t < 100; ++t) {
    const int a = 1 + (t * 7) % 200, b = 1 + (t * 13 + 5) % 200, c = 1 + (t * 29 + 11) % 200;
    Row after_a = model[a];
    after_a[2] = Value::Int(after_a[2].int_value() + 1);
    span.push_back(Update(table_, model[a], after_a));
    model[a] = after_a;
    Row after_b = model[b];
    after_b[2] = Value::Int(after_b[2].int_value() + 10);
    span.push_back(Update(table_, model[b], after_b));
    model[b] = after_b;
    span.push_back(Delete(table_, model[c]));
    span.push_back(Insert(table_, model[c]));
  }
  auto executed = [&] {
    auto rows = applier_->connection().QueryText("SHOW SESSION STATUS LIKE 'Com_stmt_execute'",
                                                 "counting statements");
    EXPECT_TRUE(rows.ok());
    return std::stoll(rows.ok() && !rows->empty() ? rows->at(0)[1].value_or("0") : "0");
  };
  const long long before = executed();
  ApplyCommitted(span, 5);
  const long long statements = executed() - before;
  std::vector<Row> expected;
  for (const auto& [id, row] : model) {
    expected.push_back(row);
  }
  EXPECT_EQ(Rows(table_), expected);
  // One upsert for the 400 rows (their net effect) plus the checkpoint; 400 in order.
  EXPECT_LE(statements, 4) << statements << " statements for " << span.size() << " changes";
}

TEST_F(KeyedTable, CheckpointRoundTripsAndMovesWithEachCommit) {
  auto none = applier_->ReadCheckpoint(stream_);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  ApplyCommitted({Insert(table_, R(1, "a", 1))}, 41);
  ApplyCommitted({Insert(table_, R(2, "b", 2))}, 42);
  auto read = applier_->ReadCheckpoint(stream_);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_TRUE(read->has_value());
  const Checkpoint expected = MakeCheckpoint(42);
  EXPECT_EQ((*read)->stream, stream_);
  EXPECT_EQ((*read)->position, expected.position);
  EXPECT_EQ((*read)->transaction_sequence, 42u);
  EXPECT_EQ((*read)->events_applied, 84);
}

TEST_F(KeyedTable, FailureMidTransactionLeavesNeitherRowsNorCheckpoint) {
  // A value the strict session refuses fails Apply: the rows before it are rolled back too.
  ExpectOk(applier_->Begin());
  ExpectOk(applier_->Apply(std::vector<ChangeEvent>{Insert(table_, R(1, "a", 1))}));
  const Status too_long =
      applier_->Apply(std::vector<ChangeEvent>{Insert(table_, R(2, "much too long", 2))});
  EXPECT_FALSE(too_long.ok());
  EXPECT_FALSE(applier_->in_transaction());
  ExpectOk(applier_->Rollback());
  EXPECT_TRUE(Rows(table_).empty());

  // A checkpoint that cannot be written fails Commit: the rows of its transaction do not land.
  ExpectOk(applier_->Begin());
  ExpectOk(applier_->Apply(std::vector<ChangeEvent>{Insert(table_, R(1, "a", 1))}));
  Checkpoint bad = MakeCheckpoint(7);
  bad.stream = std::string(300, 's');  // longer than the stream column: refused in strict mode
  EXPECT_FALSE(applier_->Commit(bad).ok());
  EXPECT_TRUE(Rows(table_).empty());
  auto read = applier_->ReadCheckpoint(stream_);
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->has_value());

  // The applier stays usable.
  ApplyCommitted({Insert(table_, R(1, "a", 1))});
  EXPECT_EQ(Rows(table_).size(), 1u);
}

TEST_F(KeyedTable, DdlRunsInItsSchemaAndRecordsTheCheckpoint) {
  ApplyCommitted({Insert(table_, R(1, "a", 1))}, 10);
  ChangeEvent ddl;
  ddl.kind = ChangeKind::kDdl;
  ddl.statement = "ALTER TABLE kv ADD COLUMN w VARCHAR(5) NULL";  // unqualified: default schema
  ddl.statement_schema = db_->name();
  ExpectOk(applier_->ApplyDdl(ddl, MakeCheckpoint(11)));
  auto read = applier_->ReadCheckpoint(stream_);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->transaction_sequence, 11u);
  // Rows of the new shape apply (statements of the old shape were dropped).
  const SchemaPtr widened = Describe("kv");
  ASSERT_EQ(widened->columns.size(), 4u);
  ApplyCommitted(
      {Insert(widened, {Value::Int(2), Value::Text("b"), Value::Null(), Value::Text("w")}),
       Update(widened, {Value::Int(1), Value::Text("a"), Value::Int(1), Value::Null()},
              {Value::Int(1), Value::Text("a"), Value::Int(5), Value::Text("x")})},
      12);
  const std::vector<Row> expected = {
      {Value::Int(1), Value::Text("a"), Value::Int(5), Value::Text("x")},
      {Value::Int(2), Value::Text("b"), Value::Null(), Value::Text("w")}};
  EXPECT_EQ(Rows(widened), expected);
}

// A crash after a DDL ran but before its checkpoint committed replays the DDL: with the marker
// committed before the statement ran, the replay's "already exists" counts as done and the
// checkpoint moves on; a DDL that never ran here (no marker) keeps its error.
TEST_F(KeyedTable, ReplayedDdlAfterACrashIsDoneButAFreshConflictIsAnError) {
  ChangeEvent ddl;
  ddl.kind = ChangeKind::kDdl;
  ddl.statement = "ALTER TABLE kv ADD COLUMN w VARCHAR(5) NULL";
  ddl.statement_schema = db_->name();
  ddl.position = MakeCheckpoint(21).position;
  // The crashed run: the marker and the statement are in, the checkpoint is not.
  const std::string position = engine::Serialize(ddl.position);
  servers_->ExecuteMySql(Side::kTarget,
                         "INSERT INTO _tandem.ddl_started (digest, position) VALUES "
                         "(UNHEX(SHA2('" +
                             position + "', 256)), '" + position + "')");
  servers_->ExecuteMySql(Side::kTarget,
                         "ALTER TABLE `" + db_->name() + "`.kv ADD COLUMN w VARCHAR(5) NULL");
  ExpectOk(applier_->ApplyDdl(ddl, MakeCheckpoint(21)));
  auto read = applier_->ReadCheckpoint(stream_);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->transaction_sequence, 21u);
  EXPECT_EQ(servers_->QueryMySql(Side::kTarget,
                                 "SELECT COUNT(*) FROM _tandem.ddl_started WHERE digest = "
                                 "UNHEX(SHA2('" +
                                     position + "', 256))"),
            (testing::ResultRows{{"0"}}));
  // The same statement at another position, never run before: the duplicate column is an error.
  ddl.position = MakeCheckpoint(22).position;
  const Status again = applier_->ApplyDdl(ddl, MakeCheckpoint(22));
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("Duplicate column"), std::string::npos) << again.ToString();
}

TEST_F(KeyedTable, MissingTargetTableIsNotFoundAndKeylessTableUnsupported) {
  TableSchema missing = *table_;
  missing.id.name = "no_such_table";
  const SchemaPtr missing_ptr = std::make_shared<const TableSchema>(missing);
  ExpectOk(applier_->Begin());
  const Status not_found =
      applier_->Apply(std::vector<ChangeEvent>{Insert(missing_ptr, R(1, "a", 1))});
  EXPECT_EQ(not_found.code(), StatusCode::kNotFound) << not_found.ToString();

  db_->Execute("CREATE TABLE {db}.keyless (a INT, b INT)");
  const SchemaPtr keyless = Describe("keyless");
  ExpectOk(applier_->Begin());
  const Status unsupported =
      applier_->Apply(std::vector<ChangeEvent>{Insert(keyless, {Value::Int(1), Value::Int(2)})});
  EXPECT_EQ(unsupported.code(), StatusCode::kUnsupported) << unsupported.ToString();
  EXPECT_NE(unsupported.message().find("primary key"), std::string::npos);
}

TEST_F(MySqlChangeApplierTest, ForeignKeyChecksFollowTheEventFlag) {
  db_->Execute(
      "CREATE TABLE {db}.parent (id INT PRIMARY KEY) ENGINE=InnoDB;"
      "CREATE TABLE {db}.child (id INT PRIMARY KEY, parent_id INT NOT NULL,"
      " FOREIGN KEY (parent_id) REFERENCES {db}.parent (id)) ENGINE=InnoDB");
  const SchemaPtr child = Describe("child");
  ChangeEvent orphan = Insert(child, {Value::Int(1), Value::Int(42)});
  ExpectOk(applier_->Begin());
  const Status refused = applier_->Apply(std::vector<ChangeEvent>{orphan});
  EXPECT_FALSE(refused.ok());
  orphan.foreign_key_checks_off = true;  // the source wrote it with foreign_key_checks = 0
  ApplyCommitted({orphan});
  EXPECT_EQ(Rows(child).size(), 1u);
  // The next event without the flag is checked again.
  ExpectOk(applier_->Begin());
  EXPECT_FALSE(
      applier_->Apply(std::vector<ChangeEvent>{Insert(child, {Value::Int(2), Value::Int(43)})})
          .ok());
}

// An update of a referenced parent row is an in-place upsert, not delete + insert: its children
// survive ON DELETE CASCADE and do not trip ON DELETE RESTRICT.
TEST_F(MySqlChangeApplierTest, UpdatingAReferencedParentKeepsItsChildren) {
  db_->Execute(
      "CREATE TABLE {db}.parent (id INT PRIMARY KEY, name VARCHAR(10)) ENGINE=InnoDB;"
      "CREATE TABLE {db}.cascading (id INT PRIMARY KEY, parent_id INT NOT NULL,"
      " FOREIGN KEY (parent_id) REFERENCES {db}.parent (id) ON DELETE CASCADE) ENGINE=InnoDB;"
      "CREATE TABLE {db}.restricting (id INT PRIMARY KEY, parent_id INT NOT NULL,"
      " FOREIGN KEY (parent_id) REFERENCES {db}.parent (id)) ENGINE=InnoDB");
  const SchemaPtr parent = Describe("parent");
  const SchemaPtr cascading = Describe("cascading");
  const SchemaPtr restricting = Describe("restricting");
  ApplyCommitted({Insert(parent, {Value::Int(1), Value::Text("old")}),
                  Insert(cascading, {Value::Int(10), Value::Int(1)}),
                  Insert(restricting, {Value::Int(20), Value::Int(1)})});
  ApplyCommitted(
      {Update(parent, {Value::Int(1), Value::Text("old")}, {Value::Int(1), Value::Text("new")})});
  const std::vector<Row> renamed = {{Value::Int(1), Value::Text("new")}};
  EXPECT_EQ(Rows(parent), renamed);
  EXPECT_EQ(Rows(cascading).size(), 1u);
  EXPECT_EQ(Rows(restricting).size(), 1u);
}

TEST_F(MySqlChangeApplierTest, GeneratedColumnsAreComputedByTheTarget) {
  db_->Execute(
      "CREATE TABLE {db}.gen (id INT PRIMARY KEY, a INT NOT NULL,"
      " twice INT AS (a * 2) VIRTUAL, thrice INT AS (a * 3) STORED) ENGINE=InnoDB");
  const SchemaPtr gen = Describe("gen");
  ApplyCommitted({Insert(gen, {Value::Int(1), Value::Int(5), Value::Int(10), Value::Int(15)}),
                  Update(gen, {Value::Int(1), Value::Int(5), Value::Int(10), Value::Int(15)},
                         {Value::Int(1), Value::Int(6), Value::Int(12), Value::Int(18)})});
  const std::vector<Row> expected = {
      {Value::Int(1), Value::Int(6), Value::Int(12), Value::Int(18)}};
  EXPECT_EQ(Rows(gen), expected);
}

TEST_F(KeyedTable, TargetUserWithoutPrivilegesIsRefusedClearly) {
  const std::string user = testing::UniqueName("noprivs");
  servers_->ExecuteMySql(Side::kTarget, "CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw-" + user +
                                            "'; GRANT SELECT ON `" + db_->name() + "`.* TO '" +
                                            user + "'@'%'");
  struct DropUser {
    const testing::SharedServers& servers;
    std::string user;
    ~DropUser() { servers.ExecuteMySql(Side::kTarget, "DROP USER IF EXISTS '" + user + "'@'%'"); }
  } drop_user{*servers_, user};
  engine::ConnectionConfig config = ConfigFor(db_->uri());
  config.user = user;
  config.password = "pw-" + user;
  auto refused = MySqlChangeApplier::Open(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("GRANT ALL ON `_tandem`"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find(config.password), std::string::npos);

  // With `_tandem` writable but only SELECT on the data: the first write names the table.
  servers_->ExecuteMySql(Side::kTarget, "GRANT ALL ON `_tandem`.* TO '" + user + "'@'%'");
  auto applier = MySqlChangeApplier::Open(config);
  ASSERT_TRUE(applier.ok()) << applier.status().ToString();
  ExpectOk((*applier)->Begin());
  const Status denied = (*applier)->Apply(std::vector<ChangeEvent>{Insert(table_, R(1, "a", 1))});
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied) << denied.ToString();
  EXPECT_NE(denied.message().find("kv"), std::string::npos) << denied.message();
}

// Apply rate of one applier (one connection), 1,000-row transactions, for the report.
TEST_F(MySqlChangeApplierTest, ApplyThroughput) {
  db_->Execute(
      "CREATE TABLE {db}.bulk (id BIGINT PRIMARY KEY, a INT, b VARCHAR(64), c DATETIME(6),"
      " d DECIMAL(12,2)) ENGINE=InnoDB");
  const SchemaPtr bulk = Describe("bulk");
  constexpr int kRows = 100000;
  constexpr int kPerTransaction = 1000;
  auto row = [](int id, int version) -> Row {
    return {Value::Int(id), Value::Int(id * 7 + version),
            Value::Text("row-" + std::to_string(id) + std::string(id % 40, 'x')),
            Value::DateTime(2024, 1, 1, static_cast<uint64_t>(id) * 1000000),
            Value::Decimal(std::to_string(id / 100) + "." + std::to_string(10 + id % 90))};
  };
  for (int pass = 0; pass < 2; ++pass) {  // inserts, then updates of every row
    const auto start = std::chrono::steady_clock::now();
    for (int first = 1; first <= kRows; first += kPerTransaction) {
      std::vector<ChangeEvent> events;
      for (int id = first; id < first + kPerTransaction; ++id) {
        events.push_back(pass == 0 ? Insert(bulk, row(id, 0))
                                   : Update(bulk, row(id, 0), row(id, 1)));
      }
      ApplyCommitted(events, static_cast<uint64_t>(first));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "[ measured ] one applier, " << (pass == 0 ? "inserts" : "updates") << ": "
              << static_cast<int64_t>(kRows / seconds) << " rows/s\n";
  }
  EXPECT_EQ(servers_->QueryMySql(Side::kTarget,
                                 "SELECT COUNT(*), SUM(a) FROM `" + db_->name() + "`.bulk"),
            (testing::ResultRows{
                {std::to_string(kRows), std::to_string(7LL * kRows * (kRows + 1) / 2 + kRows)}}));
}

TEST_F(KeyedTable, LostConnectionIsRetryable) {
  ApplyCommitted({Insert(table_, R(1, "a", 1))});
  const unsigned long id = mysql_thread_id(applier_->connection().handle());
  servers_->ExecuteMySql(Side::kTarget, "KILL CONNECTION " + std::to_string(id));
  Status lost = applier_->Begin();
  if (lost.ok()) {
    lost = applier_->Apply(std::vector<ChangeEvent>{Insert(table_, R(2, "b", 2))});
  }
  EXPECT_EQ(lost.code(), StatusCode::kConnectionFailed) << lost.ToString();
  EXPECT_TRUE(lost.retryable());
}

}  // namespace
}  // namespace tandem::connectors::mysql
