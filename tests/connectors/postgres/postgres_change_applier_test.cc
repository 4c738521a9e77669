// Integration tests of PostgresChangeApplier against the shared PostgreSQL target: upserts replace
// rows, key changes and deletes (of absent rows too), idempotent replay, future rows holding a
// further unique key, unchanged TOAST columns never written (also merged in net effect), replayed
// partial updates (moves, further unique keys) past future rows, partial moves in source order,
// every common type written and read back exactly, checkpoints committed with (and rolled back
// with) the rows, TRUNCATE through ApplyDdl, the target's definition read again for a new source
// definition, and the errors for a column the target lacks and a moved GENERATED ALWAYS key.
#include "connectors/postgres/postgres_change_applier.h"

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/postgres/postgres_catalog.h"
#include "connectors/postgres/postgres_connection.h"
#include "engine/position.h"
#include "tests/connectors/postgres/postgres_test_support.h"

namespace tandem::postgres_test {
namespace {

using connectors::postgres::OpenPostgresChangeApplier;
using connectors::postgres::PostgresChangeApplier;
using connectors::postgres::PostgresConnection;
using engine::ChangeEvent;
using engine::ChangeKind;
using engine::Checkpoint;
using engine::Row;
using engine::TableSchema;
using engine::Value;
using testing::ResultRows;
using testing::Side;

using Schema = std::shared_ptr<const TableSchema>;

class PostgresChangeApplierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (Shared() != nullptr) {
      database_ = new ScratchDatabase(*Shared(), Side::kTarget, "pgapply");
    }
  }
  static void TearDownTestSuite() {
    delete database_;
    database_ = nullptr;
  }
  void SetUp() override {
    if (database_ == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS)";
    }
    // read_timeout bounds every statement of a test.
    auto applier = PostgresChangeApplier::Open(Config(database_->Uri("?read_timeout=20")));
    ASSERT_TRUE(applier.ok()) << applier.status().ToString();
    applier_ = std::move(applier).value();
    auto connection = PostgresConnection::Connect(Config(database_->Uri("?read_timeout=20")));
    ASSERT_TRUE(connection.ok()) << connection.status().ToString();
    connection_ = std::move(connection).value();
  }

  Schema Describe(const std::string& table) {
    auto described = connectors::postgres::DescribePostgresTable(*connection_, {"public", table});
    EXPECT_TRUE(described.ok()) << described.status().ToString();
    return std::make_shared<const TableSchema>(described.ok() ? *described : TableSchema());
  }

  static ChangeEvent Insert(const Schema& table, Row after) {
    ChangeEvent event;
    event.kind = ChangeKind::kInsert;
    event.table = table;
    event.after = std::move(after);
    return event;
  }
  static ChangeEvent Update(const Schema& table, Row before, Row after,
                            std::vector<int> unchanged = {}, bool before_key_only = false) {
    ChangeEvent event;
    event.kind = ChangeKind::kUpdate;
    event.table = table;
    event.before = std::move(before);
    event.after = std::move(after);
    event.unchanged_columns = std::move(unchanged);
    event.before_key_only = before_key_only;
    return event;
  }
  static ChangeEvent Delete(const Schema& table, Row before) {
    ChangeEvent event;
    event.kind = ChangeKind::kDelete;
    event.table = table;
    event.before = std::move(before);
    return event;
  }
  static Checkpoint At(uint64_t lsn, uint64_t sequence = 1, const std::string& stream = "test/0") {
    Checkpoint checkpoint;
    checkpoint.stream = stream;
    checkpoint.position = engine::Lsn{lsn};
    checkpoint.transaction_sequence = sequence;
    checkpoint.events_applied = static_cast<int64_t>(sequence) * 10;
    return checkpoint;
  }

  // Begin, Apply, Commit; records a failure and returns the first error.
  engine::Status ApplyCommitted(const std::vector<ChangeEvent>& events,
                                const Checkpoint& checkpoint = At(100)) {
    TANDEM_RETURN_IF_ERROR(applier_->Begin());
    TANDEM_RETURN_IF_ERROR(applier_->Apply(events));
    return applier_->Commit(checkpoint);
  }

  static ResultRows Rows(const std::string& sql) { return database_->Query(sql); }
  static std::optional<std::string> Text(const char* text) { return std::string(text); }

  static ScratchDatabase* database_;
  std::unique_ptr<PostgresChangeApplier> applier_;
  std::unique_ptr<PostgresConnection> connection_;
};

ScratchDatabase* PostgresChangeApplierTest::database_ = nullptr;

// 12,800 characters of md5 hex: stored out of line (TOAST), as the values pgoutput leaves unlogged.
constexpr char kToastExpression[] =
    "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)";

TEST_F(PostgresChangeApplierTest, SuperuserSessionRunsAsReplica) {
  EXPECT_TRUE(applier_->replica_session());
  EXPECT_FALSE(applier_->in_transaction());
}

TEST_F(PostgresChangeApplierTest, InsertsAndUpdatesReplaceTheRowHoldingTheirKey) {
  database_->Execute(
      "CREATE TABLE upserts (id int PRIMARY KEY, name text, qty int);"
      "INSERT INTO upserts VALUES (1, 'stale', 0), (3, 'kept', 3)");
  Schema table = Describe("upserts");
  ASSERT_TRUE(ApplyCommitted({
                                 Insert(table, {Value::Int(1), Value::Text("a"), Value::Int(1)}),
                                 Insert(table, {Value::Int(2), Value::Text("b"), Value::Int(2)}),
                                 Update(table, {Value::Int(2), Value::Text("b"), Value::Int(2)},
                                        {Value::Int(2), Value::Text("b2"), Value::Null()}),
                             })
                  .ok());
  EXPECT_EQ(Rows("SELECT id, name, qty FROM upserts ORDER BY id"),
            (ResultRows{{Text("1"), Text("a"), Text("1")},
                        {Text("2"), Text("b2"), std::nullopt},
                        {Text("3"), Text("kept"), Text("3")}}));
}

TEST_F(PostgresChangeApplierTest, KeyChangeRemovesTheBeforeKey) {
  database_->Execute(
      "CREATE TABLE moves (id int PRIMARY KEY, name text);"
      "INSERT INTO moves VALUES (1, 'one'), (2, 'two')");
  Schema table = Describe("moves");
  ASSERT_TRUE(ApplyCommitted({
                                 Update(table, {Value::Int(1), Value::Text("one")},
                                        {Value::Int(10), Value::Text("ten")}),
                                 // REPLICA IDENTITY DEFAULT: the old image holds the key only.
                                 Update(table, {Value::Int(2), Value::Null()},
                                        {Value::Int(20), Value::Text("twenty")}, {}, true),
                             })
                  .ok());
  EXPECT_EQ(Rows("SELECT id, name FROM moves ORDER BY id"),
            (ResultRows{{Text("10"), Text("ten")}, {Text("20"), Text("twenty")}}));
}

TEST_F(PostgresChangeApplierTest, DeleteOfAnAbsentRowIsNotAnError) {
  database_->Execute(
      "CREATE TABLE deletes (id int PRIMARY KEY, name text);"
      "INSERT INTO deletes VALUES (1, 'one'), (2, 'two')");
  Schema table = Describe("deletes");
  ASSERT_TRUE(ApplyCommitted({
                                 Delete(table, {Value::Int(1), Value::Null()}),
                                 Delete(table, {Value::Int(99), Value::Null()}),
                             })
                  .ok());
  EXPECT_EQ(Rows("SELECT id FROM deletes ORDER BY id"), (ResultRows{{Text("2")}}));
}

TEST_F(PostgresChangeApplierTest, ReplayingASpanGivesTheSameTable) {
  database_->Execute(
      "CREATE TABLE replay (a int, b text, v int, PRIMARY KEY (a, b));"
      "INSERT INTO replay VALUES (1, 'x', 1), (2, 'y', 2), (3, 'z', 3)");
  Schema table = Describe("replay");
  const std::vector<ChangeEvent> span = {
      Insert(table, {Value::Int(4), Value::Text("w"), Value::Int(4)}),
      Update(table, {Value::Int(1), Value::Text("x"), Value::Int(1)},
             {Value::Int(1), Value::Text("x"), Value::Int(100)}),
      Update(table, {Value::Int(2), Value::Text("y"), Value::Int(2)},
             {Value::Int(5), Value::Text("y"), Value::Int(2)}),
      Delete(table, {Value::Int(3), Value::Text("z"), Value::Int(3)}),
      Insert(table, {Value::Int(3), Value::Text("z"), Value::Int(33)}),
      Update(table, {Value::Int(4), Value::Text("w"), Value::Int(4)},
             {Value::Int(4), Value::Text("w"), Value::Int(44)}),
      Delete(table, {Value::Int(1), Value::Text("x"), Value::Int(100)}),
  };
  const ResultRows expected = {{Text("3"), Text("z"), Text("33")},
                               {Text("4"), Text("w"), Text("44")},
                               {Text("5"), Text("y"), Text("2")}};
  ASSERT_TRUE(ApplyCommitted(span).ok());
  EXPECT_EQ(Rows("SELECT a, b, v FROM replay ORDER BY a, b"), expected);
  ASSERT_TRUE(ApplyCommitted(span).ok());
  EXPECT_EQ(Rows("SELECT a, b, v FROM replay ORDER BY a, b"), expected);
}

TEST_F(PostgresChangeApplierTest, FurtherUniqueKeyConflictRemovesTheFutureRow) {
  // Row 2 holds 'x@example' as a later (already applied) change left it; the replayed insert of row
  // 1 with that address removes it (the replay of row 2's own change writes it back).
  database_->Execute(
      "CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE, n int);"
      "INSERT INTO accounts VALUES (2, 'x@example', 2), (3, 'z@example', 3)");
  Schema table = Describe("accounts");
  ASSERT_TRUE(
      ApplyCommitted({Insert(table, {Value::Int(1), Value::Text("x@example"), Value::Int(1)}),
                      Insert(table, {Value::Int(4), Value::Null(), Value::Int(4)})})
          .ok());
  EXPECT_EQ(Rows("SELECT id, email FROM accounts ORDER BY id"),
            (ResultRows{{Text("1"), Text("x@example")},
                        {Text("3"), Text("z@example")},
                        {Text("4"), std::nullopt}}));
  ASSERT_TRUE(
      ApplyCommitted({Insert(table, {Value::Int(2), Value::Text("x@example"), Value::Int(2)})})
          .ok());
  EXPECT_EQ(Rows("SELECT id, email FROM accounts ORDER BY id"),
            (ResultRows{{Text("2"), Text("x@example")},
                        {Text("3"), Text("z@example")},
                        {Text("4"), std::nullopt}}));
}

TEST_F(PostgresChangeApplierTest, UnchangedColumnsAreNeverWritten) {
  database_->Execute(std::string("CREATE TABLE toasty (id int PRIMARY KEY, n int, big text);") +
                     "INSERT INTO toasty VALUES (1, 1, " + kToastExpression + "), (2, 2, " +
                     kToastExpression + ")");
  const ResultRows original = Rows("SELECT md5(big) FROM toasty WHERE id = 1");
  Schema table = Describe("toasty");
  ASSERT_TRUE(ApplyCommitted({
                                 Update(table, {Value::Int(1), Value::Null(), Value::Null()},
                                        {Value::Int(1), Value::Int(10), Value::Null()}, {2}, true),
                                 // Absent row: changes nothing, and is no error.
                                 Update(table, {Value::Int(99), Value::Null(), Value::Null()},
                                        {Value::Int(99), Value::Int(99), Value::Null()}, {2}, true),
                                 // A key change moves the row with its unlogged value.
                                 Update(table, {Value::Int(2), Value::Null(), Value::Null()},
                                        {Value::Int(20), Value::Int(20), Value::Null()}, {2}, true),
                             })
                  .ok());
  EXPECT_EQ(Rows("SELECT id, n, md5(big) FROM toasty ORDER BY id"),
            (ResultRows{{Text("1"), Text("10"), original[0][0]},
                        {Text("20"), Text("20"), original[0][0]}}));
}

TEST_F(PostgresChangeApplierTest, UnchangedColumnsOnATableWithFurtherUniqueKeysApplyInOrder) {
  database_->Execute(
      std::string("CREATE TABLE toasty_unique (id int PRIMARY KEY, code text UNIQUE, big text);") +
      "INSERT INTO toasty_unique VALUES (1, 'a', " + kToastExpression + "), (2, 'b', " +
      kToastExpression + ")");
  const ResultRows original = Rows("SELECT md5(big) FROM toasty_unique WHERE id = 1");
  Schema table = Describe("toasty_unique");
  auto row = [](int id, const char* code) {
    return Row{Value::Int(id), Value::Text(code), Value::Null()};
  };
  // Swap the codes through a third value, as the source must.
  ASSERT_TRUE(ApplyCommitted({Update(table, row(1, "a"), row(1, "tmp"), {2}),
                              Update(table, row(2, "b"), row(2, "a"), {2}),
                              Update(table, row(1, "tmp"), row(1, "b"), {2})})
                  .ok());
  EXPECT_EQ(
      Rows("SELECT id, code, md5(big) FROM toasty_unique ORDER BY id"),
      (ResultRows{{Text("1"), Text("b"), original[0][0]}, {Text("2"), Text("a"), original[0][0]}}));
}

TEST_F(PostgresChangeApplierTest, NetEffectMergesAnInsertWithALaterPartialUpdate) {
  database_->Execute("CREATE TABLE merged (id int PRIMARY KEY, n int, big text, note text)");
  Schema table = Describe("merged");
  const std::string big(5000, 'q');
  ASSERT_TRUE(
      ApplyCommitted(
          {
              Insert(table, {Value::Int(5), Value::Int(1), Value::Text(big), Value::Text("first")}),
              Update(table, {Value::Int(5), Value::Null(), Value::Null(), Value::Null()},
                     {Value::Int(5), Value::Int(2), Value::Null(), Value::Text("second")}, {2},
                     true),
              // Two partial updates of one absent row chain into one.
              Update(table, {Value::Int(6), Value::Null(), Value::Null(), Value::Null()},
                     {Value::Int(6), Value::Int(6), Value::Null(), Value::Null()}, {2, 3}, true),
          })
          .ok());
  EXPECT_EQ(Rows("SELECT id, n, length(big), note FROM merged ORDER BY id"),
            (ResultRows{{Text("5"), Text("2"), Text("5000"), Text("second")}}));
}

TEST_F(PostgresChangeApplierTest, PartialMoveRunsBeforeItsOldKeyIsReused) {
  database_->Execute(std::string("CREATE TABLE reused (id int PRIMARY KEY, n int, big text);") +
                     "INSERT INTO reused VALUES (1, 1, " + kToastExpression + ")");
  const ResultRows original = Rows("SELECT md5(big) FROM reused");
  Schema table = Describe("reused");
  // Row 1 moves to 2 keeping its unlogged value; a new row 1 is inserted, updated and deleted,
  // then inserted again: the move must run before key 1 is written, and the delete of the
  // short-lived row 1 must not remove the row that moves.
  ASSERT_TRUE(
      ApplyCommitted({
                         Update(table, {Value::Int(1), Value::Null(), Value::Null()},
                                {Value::Int(2), Value::Int(2), Value::Null()}, {2}, true),
                         Insert(table, {Value::Int(1), Value::Int(10), Value::Text("new")}),
                         Delete(table, {Value::Int(1), Value::Null(), Value::Null()}),
                         Insert(table, {Value::Int(1), Value::Int(11), Value::Text("again")}),
                     })
          .ok());
  EXPECT_EQ(Rows("SELECT id, n, md5(big) FROM reused ORDER BY id"),
            (ResultRows{{Text("1"), Text("11"), Rows("SELECT md5('again')")[0][0]},
                        {Text("2"), Text("2"), original[0][0]}}));
}

TEST_F(PostgresChangeApplierTest, EveryCommonTypeRoundTrips) {
  database_->Execute(R"sql(
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
    CREATE DOMAIN short_code AS varchar(3);
    CREATE TABLE typed (
      id int PRIMARY KEY, i8 bigint, num numeric, num2 numeric(5,2), f8 double precision,
      f8nan double precision, f4 real, t text, vc varchar(3), bp char(4), by bytea,
      tstz timestamptz, d date, jb jsonb, u uuid, b boolean, ints integer[], m mood,
      dom positive, code short_code, bits bit(5), chars char(3)[], note text);
    INSERT INTO typed (id) VALUES (2);
  )sql");
  Schema table = Describe("typed");
  // 2024-02-29 13:45:00.000001 UTC
  const int64_t timestamp = 1709214300000001;
  const Row values = {Value::Int(1),
                      Value::Int(-9223372036854775807LL - 1),
                      Value::Decimal("-12345678901234567890.123456789"),
                      Value::Decimal("123.45"),
                      Value::Double(-0.0),
                      Value::Double(std::numeric_limits<double>::quiet_NaN()),
                      Value::Float(0.1f),
                      Value::Text("h\xc3\xa9 \xf0\x9f\x98\x80"),
                      Value::Text("abc"),
                      Value::Text("ab  "),
                      Value::Bytes(std::string("\x00\xff\x10", 3)),
                      Value::Timestamp(timestamp),
                      Value::Date(2024, 2, 29),
                      Value::Json(R"({"a": [1, 2], "b": null})"),
                      Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                      Value::Bool(true),
                      Value::Other("{1,NULL,3}"),
                      Value::Text("happy"),
                      Value::Int(7),
                      Value::Text("xyz"),
                      Value::Bits(0b10110, 5),
                      Value::Other("{\"ab \",c}"),
                      Value::Text("n")};
  Row partial = values;
  partial[0] = Value::Int(2);
  partial[22] = Value::Null();  // `note` left unlogged: every other column goes through a cast
  Row before(values.size());
  before[0] = Value::Int(2);
  ASSERT_TRUE(
      ApplyCommitted({Insert(table, values), Update(table, before, partial, {22}, true)}).ok());
  const std::string select =
      "SELECT i8, num, num2, f8, f8nan, f4, t, vc, bp, by, "
      "to_char(tstz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), d, jb, u, b, ints, m, dom, "
      "code, bits, chars FROM typed WHERE id = ";
  const testing::ResultRow expected = {Text("-9223372036854775808"),
                                       Text("-12345678901234567890.123456789"),
                                       Text("123.45"),
                                       Text("-0"),
                                       Text("NaN"),
                                       Text("0.1"),
                                       Text("h\xc3\xa9 \xf0\x9f\x98\x80"),
                                       Text("abc"),
                                       Text("ab  "),
                                       Text("\\x00ff10"),
                                       Text("2024-02-29 13:45:00.000001"),
                                       Text("2024-02-29"),
                                       Text(R"({"a": [1, 2], "b": null})"),
                                       Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                                       Text("t"),
                                       Text("{1,NULL,3}"),
                                       Text("happy"),
                                       Text("7"),
                                       Text("xyz"),
                                       Text("10110"),
                                       Text("{\"ab \",\"c  \"}")};
  EXPECT_EQ(Rows(select + "1"), ResultRows{expected});
  EXPECT_EQ(Rows(select + "2"), ResultRows{expected});
  EXPECT_EQ(Rows("SELECT note FROM typed ORDER BY id"), (ResultRows{{Text("n")}, {std::nullopt}}));
}

TEST_F(PostgresChangeApplierTest, TooLongValueIsRefusedNotTruncated) {
  database_->Execute(
      "CREATE TABLE narrow (id int PRIMARY KEY, vc varchar(3), big text);"
      "INSERT INTO narrow VALUES (1, 'abc', 'x')");
  Schema table = Describe("narrow");
  Row before = {Value::Int(1), Value::Null(), Value::Null()};
  engine::Status status = ApplyCommitted(
      {Update(table, before, {Value::Int(1), Value::Text("abcdef"), Value::Null()}, {2}, true)});
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(applier_->in_transaction());
  EXPECT_EQ(Rows("SELECT vc FROM narrow"), (ResultRows{{Text("abc")}}));
}

TEST_F(PostgresChangeApplierTest, CommitWritesTheCheckpointThatReadCheckpointReturns) {
  database_->Execute("CREATE TABLE checkpointed (id int PRIMARY KEY)");
  Schema table = Describe("checkpointed");
  auto none = applier_->ReadCheckpoint("nobody/0");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  Checkpoint checkpoint = At(0x16B3748, 0xFFFFFFFFFFFFFFF0ULL, "commit/0");
  ASSERT_TRUE(ApplyCommitted({Insert(table, {Value::Int(1)})}, checkpoint).ok());
  auto read = applier_->ReadCheckpoint("commit/0");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ(engine::Serialize((*read)->position), "pg:0/16B3748");
  EXPECT_EQ((*read)->transaction_sequence, checkpoint.transaction_sequence);
  EXPECT_EQ((*read)->events_applied, checkpoint.events_applied);
  // A later commit replaces the row.
  ASSERT_TRUE(ApplyCommitted({}, At(0x20000000, 7, "commit/0")).ok());
  read = applier_->ReadCheckpoint("commit/0");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(engine::Serialize((*read)->position), "pg:0/20000000");
  EXPECT_EQ((*read)->transaction_sequence, 7u);
}

TEST_F(PostgresChangeApplierTest, FailureMidSpanRollsBackEverythingAndTheCheckpoint) {
  database_->Execute("CREATE TABLE failing (id int PRIMARY KEY, name text NOT NULL)");
  Schema table = Describe("failing");
  ASSERT_TRUE(ApplyCommitted({}, At(1000, 1, "fail/0")).ok());
  ASSERT_TRUE(applier_->Begin().ok());
  ASSERT_TRUE(
      applier_->Apply(std::vector<ChangeEvent>{Insert(table, {Value::Int(1), Value::Text("ok")})})
          .ok());
  engine::Status failed =
      applier_->Apply(std::vector<ChangeEvent>{Insert(table, {Value::Int(2), Value::Null()})});
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(applier_->in_transaction());
  EXPECT_EQ(Rows("SELECT count(*) FROM failing"), (ResultRows{{Text("0")}}));
  // The checkpoint is still the last committed one, and the applier is usable again.
  auto read = applier_->ReadCheckpoint("fail/0");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(engine::Serialize((*read)->position), engine::Serialize(engine::Lsn{1000}));
  ASSERT_TRUE(
      ApplyCommitted({Insert(table, {Value::Int(3), Value::Text("three")})}, At(2000, 2, "fail/0"))
          .ok());
  EXPECT_EQ(Rows("SELECT id FROM failing"), (ResultRows{{Text("3")}}));
}

TEST_F(PostgresChangeApplierTest, TruncateThroughApplyDdlCommitsWithTheCheckpoint) {
  database_->Execute(
      "CREATE TABLE truncated (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v int);"
      "INSERT INTO truncated (v) VALUES (1), (2)");
  ChangeEvent ddl;
  ddl.kind = ChangeKind::kDdl;
  ddl.statement = R"(TRUNCATE ONLY "public"."truncated" RESTART IDENTITY)";
  ddl.statement_schema = "public";
  ASSERT_TRUE(applier_->ApplyDdl(ddl, At(3000, 3, "ddl/0")).ok());
  EXPECT_EQ(Rows("SELECT count(*) FROM truncated"), (ResultRows{{Text("0")}}));
  auto read = applier_->ReadCheckpoint("ddl/0");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(engine::Serialize((*read)->position), engine::Serialize(engine::Lsn{3000}));

  // A failing statement leaves the checkpoint as it was.
  ddl.statement = R"(TRUNCATE ONLY "public"."no_such_table")";
  EXPECT_FALSE(applier_->ApplyDdl(ddl, At(4000, 4, "ddl/0")).ok());
  EXPECT_FALSE(applier_->in_transaction());
  read = applier_->ReadCheckpoint("ddl/0");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(engine::Serialize((*read)->position), engine::Serialize(engine::Lsn{3000}));
}

TEST_F(PostgresChangeApplierTest, ColumnMissingOnTheTargetIsFailedPrecondition) {
  database_->Execute("CREATE TABLE narrower (id int PRIMARY KEY, kept text)");
  TableSchema source = *Describe("narrower");
  engine::Column extra;
  extra.name = "extra";
  extra.declared_type = "integer";
  extra.kind = engine::ValueKind::kInt;
  source.columns.push_back(extra);
  Schema table = std::make_shared<const TableSchema>(source);
  engine::Status status =
      ApplyCommitted({Insert(table, {Value::Int(1), Value::Text("a"), Value::Int(5)})});
  EXPECT_EQ(status.code(), engine::StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_NE(status.message().find("extra"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("public.narrower"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("ALTER TABLE"), std::string::npos) << status.message();
  EXPECT_FALSE(applier_->in_transaction());
}

TEST_F(PostgresChangeApplierTest, NotNullTargetColumnTheSourceLacksIsFailedPrecondition) {
  database_->Execute("CREATE TABLE wider (id int PRIMARY KEY, required int NOT NULL)");
  TableSchema source = *Describe("wider");
  source.columns.pop_back();
  Schema table = std::make_shared<const TableSchema>(source);
  engine::Status status = ApplyCommitted({Insert(table, {Value::Int(1)})});
  EXPECT_EQ(status.code(), engine::StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_NE(status.message().find("required"), std::string::npos) << status.message();
}

TEST_F(PostgresChangeApplierTest, RoleWithoutCreateGetsTheGrantThenRunsWithTriggersOn) {
  // Declared before its database, so it is dropped after it.
  ScratchRole role(*Shared(), Side::kTarget, "pgapplier");
  ScratchDatabase own(*Shared(), Side::kTarget, "pgapplyrole");
  const engine::ConnectionConfig config =
      Config(own.UriFor(role.name(), role.password()) + "?read_timeout=20");
  auto refused = PostgresChangeApplier::Open(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), engine::StatusCode::kPermissionDenied)
      << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("GRANT CREATE ON DATABASE"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find(role.password()), std::string::npos);

  own.Execute("GRANT CREATE ON DATABASE " + own.name() + " TO " + role.name());
  own.Execute(
      "CREATE TABLE audited (id int PRIMARY KEY, v int); CREATE TABLE audit (id int);"
      "CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS "
      "$$BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NEW; END$$;"
      "CREATE TRIGGER audited_rows AFTER INSERT ON audited FOR EACH ROW "
      "EXECUTE FUNCTION audit_row();"
      "GRANT ALL ON audited, audit TO " +
      role.name());
  auto applier = PostgresChangeApplier::Open(config);
  ASSERT_TRUE(applier.ok()) << applier.status().ToString();
  EXPECT_FALSE((*applier)->replica_session());
  auto connection = PostgresConnection::Connect(config);
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto described = connectors::postgres::DescribePostgresTable(**connection, {"public", "audited"});
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  Schema table = std::make_shared<const TableSchema>(*described);
  ASSERT_TRUE((*applier)->Begin().ok());
  ASSERT_TRUE((*applier)
                  ->Apply(std::vector<ChangeEvent>{Insert(table, {Value::Int(1), Value::Int(1)})})
                  .ok());
  ASSERT_TRUE((*applier)->Commit(At(5000, 1, "role/0")).ok());
  // Not a superuser: the session keeps session_replication_role = origin, so triggers fire.
  EXPECT_EQ(own.Query("SELECT id FROM audit"), (ResultRows{{Text("1")}}));
}

TEST_F(PostgresChangeApplierTest, GeneratedColumnsAreNotWritten) {
  database_->Execute(
      "CREATE TABLE generated (id int PRIMARY KEY, v int, doubled int GENERATED ALWAYS AS "
      "(v * 2) STORED)");
  Schema table = Describe("generated");
  ASSERT_TRUE(
      ApplyCommitted({Insert(table, {Value::Int(1), Value::Int(4), Value::Int(999)})}).ok());
  EXPECT_EQ(Rows("SELECT v, doubled FROM generated"), (ResultRows{{Text("4"), Text("8")}}));
}

TEST_F(PostgresChangeApplierTest, ManyRowsSplitIntoBoundedStatements) {
  database_->Execute("CREATE TABLE many (id int PRIMARY KEY, a text, b text, c int)");
  Schema table = Describe("many");
  std::vector<ChangeEvent> span;
  for (int id = 0; id < 25'000; ++id) {
    span.push_back(
        Insert(table, {Value::Int(id), Value::Text("a"), Value::Text("b"), Value::Int(id)}));
  }
  for (int id = 0; id < 25'000; id += 2) {
    span.push_back(Delete(table, {Value::Int(id), Value::Null(), Value::Null(), Value::Null()}));
  }
  ASSERT_TRUE(ApplyCommitted(span).ok());
  EXPECT_EQ(Rows("SELECT count(*), sum(c) FROM many"),
            (ResultRows{{Text("12500"), Text("156250000")}}));
}

// Replay after a crash (engine/change_pipeline.h): T1 `UPDATE SET id = 2 WHERE id = 1` (big left
// unlogged) and T2 `INSERT id = 1` were both applied, so T1's replay finds its own result at 2 and
// T2's future row at 1. The move drops the future row (T2's replay writes it back) instead of
// failing on the primary key forever; with row 1 absent, row 2 (the only copy) is kept.
TEST_F(PostgresChangeApplierTest, ReplayedPartialMoveDropsTheFutureRowAtItsOldKey) {
  // `plain` is applied as net effect; `coded` (a further unique key) in order.
  for (const std::string name : {"move_plain", "move_coded"}) {
    SCOPED_TRACE(name);
    const bool coded = name == "move_coded";
    database_->Execute("CREATE TABLE " + name + " (id int PRIMARY KEY, n int, big text" +
                       (coded ? ", code text UNIQUE" : "") + ");" + "INSERT INTO " + name +
                       " VALUES (2, 2, " + kToastExpression + (coded ? ", 'b'" : "") +
                       "), (1, 10, 'new'" + (coded ? ", 'a'" : "") + ")");
    const ResultRows original = Rows("SELECT md5(big) FROM " + name + " WHERE id = 2");
    Schema table = Describe(name);
    auto row = [&](int id, Value n, Value big, Value code) {
      Row out = {Value::Int(id), std::move(n), std::move(big)};
      if (coded) {
        out.push_back(std::move(code));
      }
      return out;
    };
    const ChangeEvent t1 =
        Update(table, row(1, Value::Null(), Value::Null(), Value::Null()),
               row(2, Value::Int(2), Value::Null(), Value::Text("b")), {2}, true);
    const ChangeEvent t2 =
        Insert(table, row(1, Value::Int(10), Value::Text("new"), Value::Text("a")));
    const ResultRows expected = {{Text("1"), Text("10"), Rows("SELECT md5('new')")[0][0]},
                                 {Text("2"), Text("2"), original[0][0]}};
    const std::string select = "SELECT id, n, md5(big) FROM " + name + " ORDER BY id";
    engine::Status replayed = ApplyCommitted({t1});
    EXPECT_TRUE(replayed.ok()) << replayed.ToString();
    EXPECT_EQ(Rows(select), (ResultRows{{Text("2"), Text("2"), original[0][0]}}));
    // Row 1 absent: nothing is deleted, row 2 keeps its unlogged value.
    replayed = ApplyCommitted({t1});
    EXPECT_TRUE(replayed.ok()) << replayed.ToString();
    EXPECT_EQ(Rows(select), (ResultRows{{Text("2"), Text("2"), original[0][0]}}));
    EXPECT_TRUE(ApplyCommitted({t2}).ok());
    EXPECT_EQ(Rows(select), expected);
    // Both replayed in one span.
    replayed = ApplyCommitted({t1, t2});
    EXPECT_TRUE(replayed.ok()) << replayed.ToString();
    EXPECT_EQ(Rows(select), expected);
  }
}

// users(id PK, email UNIQUE, big TOAST), REPLICA IDENTITY FULL. T1 `UPDATE SET email = 'x' WHERE
// id = 1` (big unlogged), T3 `UPDATE SET email = 'y' WHERE id = 1`, T4 `INSERT (2, 'x')`; all
// applied, then T1 is replayed: row 2 is a future row holding 'x', which the partial update removes
// first (T4's replay writes it back).
TEST_F(PostgresChangeApplierTest, ReplayedPartialUpdateRemovesTheFutureRowHoldingItsUniqueValue) {
  database_->Execute(std::string("CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE, "
                                 "big text, note text);") +
                     "INSERT INTO users VALUES (1, 'y', " + kToastExpression +
                     ", 'three'), (2, 'x', 'four', 'four')");
  const ResultRows original = Rows("SELECT md5(big) FROM users WHERE id = 1");
  Schema table = Describe("users");
  auto row = [](int id, const char* email, Value big, const char* note) {
    return Row{Value::Int(id), Value::Text(email), std::move(big), Value::Text(note)};
  };
  const ChangeEvent t1 =
      Update(table, row(1, "old", Value::Null(), "zero"), row(1, "x", Value::Null(), "one"), {2});
  const ChangeEvent t3 =
      Update(table, row(1, "x", Value::Null(), "one"), row(1, "y", Value::Null(), "three"), {2});
  const ChangeEvent t4 = Insert(table, row(2, "x", Value::Text("four"), "four"));
  engine::Status replayed = ApplyCommitted({t1});
  ASSERT_TRUE(replayed.ok()) << replayed.ToString();
  EXPECT_EQ(Rows("SELECT id, email, md5(big), note FROM users ORDER BY id"),
            (ResultRows{{Text("1"), Text("x"), original[0][0], Text("one")}}));
  ASSERT_TRUE(ApplyCommitted({t3}).ok());
  ASSERT_TRUE(ApplyCommitted({t4}).ok());
  const ResultRows expected = {
      {Text("1"), Text("y"), original[0][0], Text("three")},
      {Text("2"), Text("x"), Rows("SELECT md5('four')")[0][0], Text("four")}};
  EXPECT_EQ(Rows("SELECT id, email, md5(big), note FROM users ORDER BY id"), expected);
  // The whole suffix again, in one span.
  replayed = ApplyCommitted({t1, t3, t4});
  ASSERT_TRUE(replayed.ok()) << replayed.ToString();
  EXPECT_EQ(Rows("SELECT id, email, md5(big), note FROM users ORDER BY id"), expected);
}

// The stream goes on with a new source definition once the target was altered to match: the
// applier reads the target's definition again instead of using the one it read before.
TEST_F(PostgresChangeApplierTest, NewSourceDefinitionReadsTheTargetAgain) {
  database_->Execute("CREATE TABLE evolving (id int PRIMARY KEY, n int, big text)");
  {
    Schema before = Describe("evolving");
    ASSERT_TRUE(
        ApplyCommitted({Insert(before, {Value::Int(1), Value::Int(1), Value::Text("b")})}).ok());
  }  // the old definition is gone, as the stream drops it: its address may be reused
  database_->Execute("ALTER TABLE evolving ADD COLUMN c int");
  Schema added = Describe("evolving");
  engine::Status status = ApplyCommitted(
      {Insert(added, {Value::Int(2), Value::Int(2), Value::Text("b"), Value::Int(7)})});
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Rows("SELECT id, c FROM evolving ORDER BY id"),
            (ResultRows{{Text("1"), std::nullopt}, {Text("2"), Text("7")}}));
  // Same column names, a wider type: the partial update's casts follow the target's new type.
  database_->Execute("ALTER TABLE evolving ALTER COLUMN n TYPE bigint");
  Schema widened = Describe("evolving");
  status = ApplyCommitted({Update(
      widened, {Value::Int(1), Value::Null(), Value::Null(), Value::Null()},
      {Value::Int(1), Value::Int(5'000'000'000LL), Value::Null(), Value::Int(8)}, {2}, true)});
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Rows("SELECT id, n, big, c FROM evolving ORDER BY id"),
            (ResultRows{{Text("1"), Text("5000000000"), Text("b"), Text("8")},
                        {Text("2"), Text("2"), Text("b"), Text("7")}}));
}

// UPDATE cannot assign a GENERATED ALWAYS identity column, so a partial update that moves such a
// key cannot be applied: refused with the fix, never left silently at the old key.
TEST_F(PostgresChangeApplierTest, PartialMoveOfAGeneratedAlwaysKeyIsUnsupported) {
  for (const std::string name : {"always_plain", "always_coded"}) {
    SCOPED_TRACE(name);
    const bool coded = name == "always_coded";
    database_->Execute("CREATE TABLE " + name +
                       " (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int, big text" +
                       (coded ? ", code text UNIQUE" : "") + ");" + "INSERT INTO " + name +
                       " (n, big) VALUES (1, 'b')");
    Schema table = Describe(name);
    Row before(table->columns.size());
    before[0] = Value::Int(1);
    Row after(table->columns.size());
    after[0] = Value::Int(2);
    after[1] = Value::Int(2);
    // Not moving: the key stays out of SET and the update applies.
    Row same = after;
    same[0] = Value::Int(1);
    engine::Status status = ApplyCommitted({Update(table, before, same, {2}, true)});
    ASSERT_TRUE(status.ok()) << status.ToString();
    status = ApplyCommitted({Update(table, before, after, {2}, true)});
    EXPECT_EQ(status.code(), engine::StatusCode::kUnsupported) << status.ToString();
    EXPECT_NE(status.message().find("public." + name), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("id"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("GENERATED BY DEFAULT"), std::string::npos) << status.message();
    EXPECT_FALSE(applier_->in_transaction());
    EXPECT_EQ(Rows("SELECT id, n FROM " + name), (ResultRows{{Text("1"), Text("2")}}));
  }
}

// Partial moves keep source order: X moves 2 -> 5, Y moves 1 -> 2 (X's old key), then X is updated
// again. Ordered by each row's last change, Y's move would run while X still holds key 2.
TEST_F(PostgresChangeApplierTest, PartialMovesIntoAKeyJustFreedKeepSourceOrder) {
  database_->Execute(std::string("CREATE TABLE chained (id int PRIMARY KEY, n int, big text);") +
                     "INSERT INTO chained VALUES (1, 1, 'y'), (2, 2, 'x')");
  Schema table = Describe("chained");
  auto row = [](int id, Value n) { return Row{Value::Int(id), std::move(n), Value::Null()}; };
  engine::Status status =
      ApplyCommitted({Update(table, row(2, Value::Null()), row(5, Value::Int(5)), {2}, true),
                      Update(table, row(1, Value::Null()), row(2, Value::Int(20)), {2}, true),
                      Update(table, row(5, Value::Null()), row(5, Value::Int(50)), {2}, true)});
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Rows("SELECT id, n, big FROM chained ORDER BY id"),
            (ResultRows{{Text("2"), Text("20"), Text("y")}, {Text("5"), Text("50"), Text("x")}}));
}

}  // namespace
}  // namespace tandem::postgres_test
