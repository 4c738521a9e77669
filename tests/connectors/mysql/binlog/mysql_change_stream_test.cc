// MySqlChangeStream against private MariaDB 10.11 servers: every sample-data type streamed and
// compared with what ReadRange returns, a large transaction, DDL, GTID positions, restarts, and
// the settings the stream refuses.

#include "connectors/mysql/mysql_change_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "engine/key_range.h"
#include "tests/connectors/mysql/mysql_test_util.h"
#include "tests/harness/local_servers.h"
#include "tests/harness/wait.h"

namespace tandem::connectors::mysql {
namespace {

using engine::BinlogPosition;
using engine::ChangeEvent;
using engine::ChangeKind;
using engine::Row;
using testing::MariaDbServer;
using testing::TempDir;

constexpr auto kDeadline = std::chrono::seconds(90);

BinlogPosition MasterPosition(const MariaDbServer& server) {
  const auto rows = server.Query("SHOW MASTER STATUS");
  if (rows.empty()) throw std::runtime_error("SHOW MASTER STATUS is empty");
  BinlogPosition position;
  position.file = *rows[0][0];
  position.offset = std::stoull(*rows[0][1]);
  position.gtid_set = server.QueryScalar("SELECT @@global.gtid_binlog_pos").value_or("");
  return position;
}

std::unique_ptr<engine::ChangeStream> OpenStream(const MariaDbServer& server,
                                                 const BinlogPosition& start,
                                                 std::vector<engine::TableId> tables) {
  MySqlChangeStreamOptions options;
  options.tables = std::move(tables);
  options.heartbeat = std::chrono::milliseconds(200);
  auto stream = OpenMySqlChangeStream(ConfigFor(server.Uri()), start, options);
  if (!stream.ok()) throw std::runtime_error(stream.status().ToString());
  return std::move(stream).value();
}

bool Reached(const ChangeEvent& event, const BinlogPosition& target) {
  const auto* position = std::get_if<BinlogPosition>(&event.position);
  if (position == nullptr || event.kind == ChangeKind::kBegin || event.IsRowChange()) {
    return false;
  }
  return position->file > target.file ||
         (position->file == target.file && position->offset >= target.offset);
}

// Every event (heartbeats left out) until a resume point at or past `target`.
std::vector<ChangeEvent> DrainUntil(engine::ChangeStream& stream, const BinlogPosition& target) {
  std::vector<ChangeEvent> events;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    auto next = stream.Next(std::chrono::milliseconds(500));
    if (!next.ok()) throw std::runtime_error(next.status().ToString());
    if (!next->has_value()) continue;
    ChangeEvent event = std::move(**next);
    const bool done = Reached(event, target);
    if (event.kind != ChangeKind::kHeartbeat) {
      events.push_back(std::move(event));
    }
    if (done) return events;
  }
  throw std::runtime_error("the stream did not reach " + target.file + ":" +
                           std::to_string(target.offset) + " in time");
}

std::string RowText(const Row& row) {
  std::string out;
  for (const auto& value : row) {
    out += std::string(engine::ValueKindName(value.kind())) + ":" + value.ToDisplayString() + "|";
  }
  return out;
}

// Rows of `table` read back by the connector, as sorted texts.
std::vector<std::string> TableRows(engine::SqlDatabase& database,
                                   const engine::TableSchema& table) {
  std::vector<std::string> rows;
  for (const Row& row : ReadAll(database, table, engine::KeyRange::All())) {
    rows.push_back(RowText(row));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

// The images a table's events carry (after images of inserts/updates, or before images).
std::vector<std::string> Images(const std::vector<ChangeEvent>& events, const std::string& table,
                                ChangeKind kind, bool after) {
  std::vector<std::string> rows;
  for (const ChangeEvent& event : events) {
    if (event.kind == kind && event.table && event.table->id.name == table) {
      rows.push_back(RowText(after ? event.after : event.before));
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

void ExpectWellFormedTransactions(const std::vector<ChangeEvent>& events) {
  bool open = false;
  // Sequence numbers continue from earlier batches of the same stream.
  uint64_t sequence = events.empty() ? 0 : events.front().transaction_sequence - 1;
  for (const ChangeEvent& event : events) {
    switch (event.kind) {
      case ChangeKind::kBegin:
        ASSERT_FALSE(open);
        ASSERT_EQ(event.transaction_sequence, sequence + 1);
        sequence = event.transaction_sequence;
        open = true;
        break;
      case ChangeKind::kCommit:
        ASSERT_TRUE(open);
        ASSERT_EQ(event.transaction_sequence, sequence);
        open = false;
        break;
      case ChangeKind::kDdl:
        ASSERT_FALSE(open);
        ASSERT_EQ(event.transaction_sequence, sequence + 1);
        sequence = event.transaction_sequence;
        break;
      default:
        ASSERT_TRUE(open) << "row change outside a transaction";
        ASSERT_EQ(event.transaction_sequence, sequence);
        ASSERT_GT(event.source_commit_time_us, 0);
    }
  }
  EXPECT_FALSE(open);
}

std::vector<engine::TableId> SampleTables() {
  std::vector<engine::TableId> tables;
  for (const std::string& name : testing::kSampleTables) {
    tables.push_back({"shop", name});
  }
  return tables;
}

TEST(MySqlChangeStream, EveryTypeStreamsAsReadRangeReadsIt) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path());
  server->Execute("CREATE DATABASE shop");  // so the sample load's DROP DATABASE is logged
  auto stream = OpenStream(*server, BinlogPosition{}, SampleTables());
  testing::LoadMySqlSampleData(server->Uri(), {.rows = 300});
  auto inserted = DrainUntil(*stream, MasterPosition(*server));
  ExpectWellFormedTransactions(inserted);

  auto database = OpenOrThrow(server->Uri("shop"));
  std::map<std::string, std::vector<std::string>> before_update;
  for (const std::string& name : testing::kSampleTables) {
    auto schema = database->DescribeTable({"shop", name});
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    const auto rows = TableRows(*database, *schema);
    EXPECT_EQ(rows.size(), 300u) << name;
    EXPECT_EQ(Images(inserted, name, ChangeKind::kInsert, true), rows) << name;
    before_update[name] = rows;
  }
  size_t ddl = 0;
  for (const ChangeEvent& event : inserted) {
    ddl += event.kind == ChangeKind::kDdl ? 1 : 0;
    if (event.IsRowChange()) {
      ASSERT_NE(event.table, nullptr);
      EXPECT_EQ(event.after.size(), event.table->columns.size());
    }
  }
  EXPECT_EQ(ddl, 6u);  // DROP DATABASE, CREATE DATABASE, four CREATE TABLE

  // Updates (including a key change) and deletes: images equal the rows before and after.
  server->Execute(
      "UPDATE shop.all_types SET c_int = IFNULL(c_int, 0) DIV 2, c_varchar = CONCAT('u', "
      "IFNULL(c_varchar, '')) WHERE id % 3 = 0;"
      "UPDATE shop.customers SET email = CONCAT('new.', email) WHERE full_name LIKE 'a%';"
      "UPDATE shop.order_lines SET quantity = quantity + 1;"
      "UPDATE shop.events_log SET level = 'TRACE' WHERE level = 'DEBUG';");
  auto updated = DrainUntil(*stream, MasterPosition(*server));
  ExpectWellFormedTransactions(updated);
  std::map<std::string, std::vector<std::string>> after_update;
  for (const std::string& name : testing::kSampleTables) {
    auto schema = database->DescribeTable({"shop", name});
    ASSERT_TRUE(schema.ok());
    after_update[name] = TableRows(*database, *schema);
    const auto befores = Images(updated, name, ChangeKind::kUpdate, false);
    const auto afters = Images(updated, name, ChangeKind::kUpdate, true);
    EXPECT_FALSE(afters.empty()) << name;
    for (const std::string& row : befores) {
      EXPECT_TRUE(std::binary_search(before_update[name].begin(), before_update[name].end(), row))
          << name << " before image not in the table before the update: " << row;
    }
    for (const std::string& row : afters) {
      EXPECT_TRUE(std::binary_search(after_update[name].begin(), after_update[name].end(), row))
          << name << " after image not in the table after the update: " << row;
    }
  }

  server->Execute("DELETE FROM shop.all_types WHERE id % 5 = 0 OR id <= 4");
  auto deleted = DrainUntil(*stream, MasterPosition(*server));
  ExpectWellFormedTransactions(deleted);
  const auto removed = Images(deleted, "all_types", ChangeKind::kDelete, false);
  EXPECT_EQ(removed.size(), 64u);  // ids 5, 10, ..., 300 and 1-4
  for (const std::string& row : removed) {
    EXPECT_TRUE(
        std::binary_search(after_update["all_types"].begin(), after_update["all_types"].end(), row))
        << row;
  }
}

TEST(MySqlChangeStream, LargeTransactionArrivesWholeBetweenOneBeginAndCommit) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path());
  server->Execute("CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, pad VARCHAR(100))");
  auto stream = OpenStream(*server, BinlogPosition{}, {{"big", "t"}});
  server->Execute("INSERT INTO big.t SELECT seq, REPEAT('x', 90) FROM big.seq_1_to_100000");
  auto events = DrainUntil(*stream, MasterPosition(*server));
  ExpectWellFormedTransactions(events);
  size_t inserts = 0;
  for (const ChangeEvent& event : events) {
    if (event.kind == ChangeKind::kInsert) {
      ++inserts;
      EXPECT_EQ(event.after[0], engine::Value::Int(static_cast<int64_t>(inserts)));
    }
  }
  EXPECT_EQ(inserts, 100000u);
  ASSERT_EQ(events.front().kind, ChangeKind::kBegin);
  ASSERT_EQ(events.back().kind, ChangeKind::kCommit);
}

TEST(MySqlChangeStream, DdlGtidsAndRestartFromAReturnedPosition) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path());
  server->Execute(
      "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT);"
      "CREATE DATABASE other; CREATE TABLE other.skip (id INT PRIMARY KEY)");
  const BinlogPosition start = MasterPosition(*server);
  auto stream = OpenStream(*server, start, {{"app", "t"}});
  // The stream reads each table's schema when its rows arrive, so it keeps up statement by
  // statement here: rows logged before the ALTER must be read before the table changes.
  std::vector<ChangeEvent> events;
  for (const char* sql :
       {"INSERT INTO app.t VALUES (1, 10), (2, 20)", "INSERT INTO other.skip VALUES (1)",
        "UPDATE app.t SET v = 11 WHERE id = 1",
        "ALTER TABLE app.t ADD COLUMN note VARCHAR(20) NULL",
        "INSERT INTO app.t VALUES (3, 30, 'after alter')", "DELETE FROM app.t WHERE id = 2"}) {
    server->Execute(sql);
    for (ChangeEvent& event : DrainUntil(*stream, MasterPosition(*server))) {
      events.push_back(std::move(event));
    }
  }
  const BinlogPosition end = MasterPosition(*server);
  ExpectWellFormedTransactions(events);
  std::vector<ChangeKind> kinds;
  for (const ChangeEvent& event : events) kinds.push_back(event.kind);
  const std::vector<ChangeKind> expected = {
      ChangeKind::kBegin,  ChangeKind::kInsert, ChangeKind::kInsert, ChangeKind::kCommit,
      ChangeKind::kBegin,  ChangeKind::kUpdate, ChangeKind::kCommit, ChangeKind::kDdl,
      ChangeKind::kBegin,  ChangeKind::kInsert, ChangeKind::kCommit, ChangeKind::kBegin,
      ChangeKind::kDelete, ChangeKind::kCommit};
  ASSERT_EQ(kinds, expected);
  EXPECT_EQ(events[7].statement, "ALTER TABLE app.t ADD COLUMN note VARCHAR(20) NULL");
  EXPECT_EQ(events[9].after, (Row{engine::Value::Int(3), engine::Value::Int(30),
                                  engine::Value::Text("after alter")}));
  EXPECT_EQ(events[12].before.size(), 3u);
  // The last commit's position is the server's: file, offset and GTID set.
  const auto& last = std::get<BinlogPosition>(events.back().position);
  EXPECT_EQ(last, end);
  EXPECT_EQ(std::get<BinlogPosition>(stream->position()), end);

  // Restarting from the first commit gives exactly the events after it, by file:offset and by
  // GTID set alone.
  const auto resume = std::get<BinlogPosition>(events[3].position);
  auto render = [](const std::vector<ChangeEvent>& list) {
    std::vector<std::string> out;
    for (const ChangeEvent& event : list) {
      out.push_back(std::string(engine::ChangeKindName(event.kind)) + " " + RowText(event.before) +
                    " " + RowText(event.after) + " " + event.statement + " " +
                    engine::Serialize(event.position));
    }
    return out;
  };
  // The table changed since the first transaction was logged, so that part cannot be re-read;
  // from after the ALTER it can.
  const auto after_alter = std::get<BinlogPosition>(events[7].position);
  std::vector<ChangeEvent> tail(events.begin() + 8, events.end());
  auto restarted = OpenStream(*server, after_alter, {{"app", "t"}});
  auto again = DrainUntil(*restarted, end);
  EXPECT_EQ(render(again), render(tail));
  BinlogPosition by_gtid;
  by_gtid.gtid_set = after_alter.gtid_set;
  auto gtid_stream = OpenStream(*server, by_gtid, {{"app", "t"}});
  auto by_gtid_events = DrainUntil(*gtid_stream, end);
  ASSERT_EQ(by_gtid_events.size(), tail.size());
  for (size_t i = 0; i < tail.size(); ++i) {
    EXPECT_EQ(by_gtid_events[i].kind, tail[i].kind);
    EXPECT_EQ(by_gtid_events[i].after, tail[i].after);
    EXPECT_EQ(by_gtid_events[i].before, tail[i].before);
  }
  // Rows logged before the ALTER no longer match the table: a clear refusal, not wrong values.
  auto stale = OpenStream(*server, resume, {{"app", "t"}});
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    auto next = stale->Next(std::chrono::milliseconds(500));
    if (!next.ok()) {
      EXPECT_EQ(next.status().code(), engine::StatusCode::kFailedPrecondition)
          << next.status().ToString();
      EXPECT_NE(next.status().message().find("app.t"), std::string::npos);
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
}

TEST(MySqlChangeStream, IdleStreamSendsHeartbeatsWithTheCurrentPosition) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path());
  server->Execute("CREATE DATABASE idle; CREATE TABLE idle.t (id INT PRIMARY KEY)");
  auto stream = OpenStream(*server, BinlogPosition{}, {{"idle", "other"}});
  server->Execute("INSERT INTO idle.t VALUES (1)");  // unselected: skipped, position moves
  const BinlogPosition end = MasterPosition(*server);
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  bool reached = false;
  while (!reached && std::chrono::steady_clock::now() < deadline) {
    auto next = stream->Next(std::chrono::milliseconds(300));
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (next->has_value()) {
      ASSERT_EQ((*next)->kind, ChangeKind::kHeartbeat);
      reached = std::get<BinlogPosition>((*next)->position) == end;
    }
  }
  EXPECT_TRUE(reached);
}

TEST(MySqlChangeStream, CompressedBinlogEventsDecode) {
  TempDir dir;
  auto server = MariaDbServer::Start(
      dir.path(), {.extra_args = {"--log-bin-compress=ON", "--log-bin-compress-min-len=10"}});
  server->Execute(
      "CREATE DATABASE z; CREATE TABLE z.t (id INT PRIMARY KEY, body TEXT, n "
      "DECIMAL(10,3))");
  auto stream = OpenStream(*server, BinlogPosition{}, {{"z", "t"}});
  server->Execute(
      "INSERT INTO z.t SELECT seq, REPEAT(CONCAT('row ', seq, ' '), 40), seq / 8 "
      "FROM z.seq_1_to_500; UPDATE z.t SET body = 'short' WHERE id <= 10;"
      "ALTER TABLE z.t COMMENT 'compressed query event'");
  auto events = DrainUntil(*stream, MasterPosition(*server));
  ExpectWellFormedTransactions(events);
  auto database = OpenOrThrow(server->Uri("z"));
  auto schema = database->DescribeTable({"z", "t"});
  ASSERT_TRUE(schema.ok());
  const auto rows = TableRows(*database, *schema);
  ASSERT_EQ(rows.size(), 500u);
  const auto updated = Images(events, "t", ChangeKind::kUpdate, true);
  ASSERT_EQ(updated.size(), 10u);
  for (const std::string& row : updated) {
    EXPECT_TRUE(std::binary_search(rows.begin(), rows.end(), row)) << row;
  }
  EXPECT_EQ(Images(events, "t", ChangeKind::kInsert, true).size(), 500u);
  EXPECT_EQ(events.back().kind, ChangeKind::kDdl);
  EXPECT_EQ(events.back().statement, "ALTER TABLE z.t COMMENT 'compressed query event'");
}

void ExpectRefused(const MariaDbServer& server, const BinlogPosition& start,
                   engine::StatusCode code, const std::string& words) {
  auto stream = OpenMySqlChangeStream(ConfigFor(server.Uri()), start, {});
  engine::Status status = stream.status();
  if (stream.ok()) {
    // Some refusals come from the server once the dump starts.
    auto next = (*stream)->Next(std::chrono::seconds(10));
    status = next.status();
  }
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), code) << status.ToString();
  EXPECT_NE(status.message().find(words), std::string::npos) << status.ToString();
  EXPECT_EQ(status.message().find('\n'), std::string::npos) << "one line: " << status.ToString();
}

TEST(MySqlChangeStream, RefusesStatementFormat) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path(), {.binlog_format = "STATEMENT"});
  ExpectRefused(*server, {}, engine::StatusCode::kUnsupported, "binlog_format=ROW");
}

TEST(MySqlChangeStream, RefusesMinimalRowImage) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path(), {.binlog_row_image = "MINIMAL"});
  ExpectRefused(*server, {}, engine::StatusCode::kUnsupported, "binlog_row_image=FULL");
}

TEST(MySqlChangeStream, RefusesBinlogsPurgedPastTheCheckpoint) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path());
  server->Execute(
      "CREATE DATABASE p; CREATE TABLE p.t (id INT PRIMARY KEY); INSERT INTO p.t "
      "VALUES (1)");
  const BinlogPosition old = MasterPosition(*server);
  server->Execute("FLUSH BINARY LOGS; INSERT INTO p.t VALUES (2)");
  // MariaDB keeps a binlog until InnoDB no longer needs it for crash recovery: poll until the
  // purge took the old file.
  const bool purged = testing::PollUntil(std::chrono::seconds(30), [&] {
    server->Execute("FLUSH BINARY LOGS");
    const BinlogPosition now = MasterPosition(*server);
    server->Execute("PURGE BINARY LOGS TO '" + now.file + "'");
    return server->Query("SHOW BINARY LOGS").size() == 1;
  });
  ASSERT_TRUE(purged) << "the server kept its old binlogs";
  ExpectRefused(*server, old, engine::StatusCode::kFailedPrecondition,
                "binlogs purged past the checkpoint");
  BinlogPosition by_gtid;
  by_gtid.gtid_set = "0-" + std::to_string(server->server_id()) + "-1";
  ExpectRefused(*server, by_gtid, engine::StatusCode::kFailedPrecondition,
                "binlogs purged past the checkpoint");
}

TEST(MySqlChangeStream, RefusesAUserWithoutReplicationPrivileges) {
  TempDir dir;
  auto server = MariaDbServer::Start(dir.path());
  server->Execute(
      "CREATE USER plain@'%' IDENTIFIED BY 'plain-secret'; GRANT SELECT ON *.* TO "
      "plain@'%'");
  auto config = ConfigFor("mysql://plain:plain-secret@127.0.0.1:" + std::to_string(server->port()));
  auto stream = OpenMySqlChangeStream(config, {}, {});
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), engine::StatusCode::kPermissionDenied);
  EXPECT_NE(stream.status().message().find("REPLICATION SLAVE"), std::string::npos);
  EXPECT_EQ(stream.status().message().find("plain-secret"), std::string::npos);
}

}  // namespace
}  // namespace tandem::connectors::mysql
