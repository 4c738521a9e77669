// The change stream's event logic (transactions, positions, GTIDs, DDL, heartbeats, errors) over
// a fake transport replaying a captured MariaDB 10.11 binlog, with a fake schema source.

#include <gtest/gtest.h>

#include <deque>

#include "connectors/mysql/binlog/event_decoder.h"
#include "connectors/mysql/mysql_change_stream.h"
#include "tests/connectors/mysql/binlog/binlog_fixture.h"

namespace tandem::connectors::mysql {
namespace {

using binlog::BinlogFileReader;
using engine::BinlogPosition;
using engine::ChangeEvent;
using engine::ChangeKind;

constexpr char kFile[] = "mysql-bin.000003";

// Hands out the events of a binlog file, then nothing (an idle server).
class ReplayTransport final : public binlog::BinlogTransport {
 public:
  explicit ReplayTransport(std::deque<std::string> events) : events_(std::move(events)) {}
  engine::Result<std::optional<std::string>> Next(std::chrono::milliseconds) override {
    if (events_.empty()) {
      return std::optional<std::string>();
    }
    std::string event = std::move(events_.front());
    events_.pop_front();
    return std::optional<std::string>(std::move(event));
  }
  bool checksum_negotiated() const override { return false; }

 private:
  std::deque<std::string> events_;
};

class FixtureSchemas final : public TableSchemaSource {
 public:
  explicit FixtureSchemas(int* calls) : calls_(calls) {}
  engine::Result<engine::TableSchema> Describe(const engine::TableId& table) override {
    ++*calls_;
    if (table.schema != "fx" || table.name != "t") {
      return engine::NotFound("no table " + table.ToString());
    }
    return binlog::FixtureTableSchema();
  }

 private:
  int* calls_;
};

// The fixture table with its last column missing: it fits none of the logged table maps.
class NarrowSchemas final : public TableSchemaSource {
 public:
  engine::Result<engine::TableSchema> Describe(const engine::TableId&) override {
    engine::TableSchema schema = binlog::FixtureTableSchema();
    schema.columns.pop_back();
    return schema;
  }
};

std::deque<std::string> FixtureEvents() {
  static const std::string file = binlog::ReadFixture("mariadb_10_11_all_types_crc32.bin");
  auto reader = BinlogFileReader::Open(file);
  std::deque<std::string> events;
  while (true) {
    auto next = reader->Next();
    if (!next.ok() || !next->has_value()) break;
    events.emplace_back(**next);
  }
  return events;
}

std::vector<ChangeEvent> ReadAll(engine::ChangeStream& stream, size_t limit) {
  std::vector<ChangeEvent> events;
  for (size_t i = 0; i < limit; ++i) {
    // Generous: under sanitizers a batch of skipped events may take longer than a millisecond.
    auto next = stream.Next(std::chrono::milliseconds(500));
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok() || !next->has_value()) break;
    events.push_back(std::move(**next));
  }
  return events;
}

TEST(BinlogChangeStream, TransactionsPositionsAndDdlFromACapturedBinlog) {
  int describe_calls = 0;
  MySqlChangeStreamOptions options;
  options.tables = {{"fx", "t"}};
  auto stream = NewBinlogChangeStream(std::make_unique<ReplayTransport>(FixtureEvents()),
                                      std::make_unique<FixtureSchemas>(&describe_calls),
                                      BinlogPosition{kFile, 4, "0-40589-5"}, options);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  const auto events = ReadAll(**stream, 100);
  std::vector<ChangeKind> kinds;
  for (const ChangeEvent& event : events) kinds.push_back(event.kind);
  using K = ChangeKind;
  const std::vector<ChangeKind> expected = {
      K::kBegin, K::kInsert, K::kCommit, K::kBegin, K::kInsert, K::kCommit,
      K::kBegin, K::kInsert, K::kCommit, K::kBegin, K::kUpdate, K::kCommit,
      K::kBegin, K::kDelete, K::kCommit, K::kDdl,   K::kDdl,    K::kHeartbeat};
  ASSERT_EQ(kinds, expected);
  EXPECT_EQ(events[1].after, binlog::FixtureRow1());
  EXPECT_EQ(events[10].before, binlog::FixtureRow2());
  EXPECT_EQ(events[10].after, binlog::FixtureRow2Updated());
  EXPECT_EQ(events[13].before, binlog::FixtureRow3());
  EXPECT_EQ(std::get<BinlogPosition>(events[2].position),
            (BinlogPosition{kFile, 1228, "0-40589-6"}));
  EXPECT_EQ(std::get<BinlogPosition>(events[14].position),
            (BinlogPosition{kFile, 2579, "0-40589-10"}));
  EXPECT_EQ(events[15].statement, "ALTER TABLE fx.t ADD COLUMN extra INT NULL");
  EXPECT_EQ(events[15].statement_schema, "");
  EXPECT_EQ(std::get<BinlogPosition>(events[15].position).gtid_set, "0-40589-11");
  EXPECT_EQ(std::get<BinlogPosition>(events[16].position).gtid_set, "0-40589-12");
  // After the last event the stream idles at the rotate's position: a heartbeat says where.
  EXPECT_EQ(std::get<BinlogPosition>(events[17].position),
            (BinlogPosition{"mysql-bin.000004", 4, "0-40589-12"}));
  for (size_t i = 0; i < 15; ++i) {
    EXPECT_EQ(events[i].transaction_sequence, i / 3 + 1) << i;
  }
  EXPECT_EQ(events[15].transaction_sequence, 6u);
  EXPECT_EQ(events[16].transaction_sequence, 7u);
  EXPECT_GT(events[1].source_commit_time_us, 1700000000ll * 1000000);
  // The schema is read once, and again after each DDL flushed the cache (no rows after them).
  EXPECT_EQ(describe_calls, 1);
  EXPECT_EQ(std::get<BinlogPosition>((*stream)->position()),
            (BinlogPosition{"mysql-bin.000004", 4, "0-40589-12"}));
  // Idle with nothing new: no further heartbeat for the same position.
  auto idle = (*stream)->Next(std::chrono::milliseconds(1));
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(idle->has_value());
}

TEST(BinlogChangeStream, UnselectedTablesAreSkippedButThePositionMoves) {
  int describe_calls = 0;
  MySqlChangeStreamOptions options;
  options.tables = {{"fx", "other"}};
  auto stream = NewBinlogChangeStream(std::make_unique<ReplayTransport>(FixtureEvents()),
                                      std::make_unique<FixtureSchemas>(&describe_calls),
                                      BinlogPosition{kFile, 4, ""}, options);
  ASSERT_TRUE(stream.ok());
  const auto events = ReadAll(**stream, 100);
  // The DDL names schema fx, which holds a selected table; the rows are skipped.
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, ChangeKind::kDdl);
  EXPECT_EQ(events[1].kind, ChangeKind::kDdl);
  EXPECT_EQ(events[2].kind, ChangeKind::kHeartbeat);
  EXPECT_EQ(describe_calls, 0);
}

TEST(BinlogChangeStream, CorruptEventFailsTheStreamForGood) {
  auto events = FixtureEvents();
  events[5][30] ^= 0x40;  // inside the first transaction, covered by its CRC32
  int describe_calls = 0;
  MySqlChangeStreamOptions options;
  auto stream = NewBinlogChangeStream(std::make_unique<ReplayTransport>(std::move(events)),
                                      std::make_unique<FixtureSchemas>(&describe_calls),
                                      BinlogPosition{kFile, 4, ""}, options);
  ASSERT_TRUE(stream.ok());
  engine::Status failure;
  for (int i = 0; i < 100 && failure.ok(); ++i) {
    auto next = (*stream)->Next(std::chrono::milliseconds(500));
    if (!next.ok()) failure = next.status();
  }
  ASSERT_FALSE(failure.ok());
  EXPECT_EQ(failure.code(), engine::StatusCode::kCorruption);
  auto again = (*stream)->Next(std::chrono::milliseconds(1));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), engine::StatusCode::kCorruption);
}

TEST(BinlogChangeStream, TableMapThatDisagreesWithTheCatalogIsRefused) {
  auto stream =
      NewBinlogChangeStream(std::make_unique<ReplayTransport>(FixtureEvents()),
                            std::make_unique<NarrowSchemas>(), BinlogPosition{kFile, 4, ""}, {});
  ASSERT_TRUE(stream.ok());
  engine::Status failure;
  for (int i = 0; i < 100 && failure.ok(); ++i) {
    auto next = (*stream)->Next(std::chrono::milliseconds(500));
    if (!next.ok()) failure = next.status();
  }
  EXPECT_EQ(failure.code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_NE(failure.message().find("fx.t"), std::string::npos) << failure.ToString();
}

// A stream resumed from before a DDL it has not applied: the source's catalog already has the new
// shape (one column more here), the fallback (the target) still has the shape the rows were logged
// with, and the rows decode with it; until the DDL flushes the cache the fallback serves the table.
TEST(BinlogChangeStream, RowsLoggedBeforeAChangeDecodeWithTheFallbackSchema) {
  class WiderSchemas final : public TableSchemaSource {
   public:
    engine::Result<engine::TableSchema> Describe(const engine::TableId&) override {
      engine::TableSchema schema = binlog::FixtureTableSchema();
      engine::Column extra = schema.columns.back();
      extra.name = "extra";
      schema.columns.push_back(extra);
      return schema;
    }
  };
  int fallback_calls = 0;
  MySqlChangeStreamOptions options;
  options.tables = {{"fx", "t"}};
  auto stream = NewBinlogChangeStream(
      std::make_unique<ReplayTransport>(FixtureEvents()), std::make_unique<WiderSchemas>(),
      BinlogPosition{kFile, 4, ""}, options, std::make_unique<FixtureSchemas>(&fallback_calls));
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  const auto events = ReadAll(**stream, 100);
  ASSERT_GE(events.size(), 15u);
  EXPECT_EQ(events[1].after, binlog::FixtureRow1());
  EXPECT_EQ(events[10].after, binlog::FixtureRow2Updated());
  EXPECT_EQ(events[13].before, binlog::FixtureRow3());
  EXPECT_EQ(fallback_calls, 1);  // cached after the first fit
}

// Neither the source's nor the fallback's definition fits: refused, naming the table.
TEST(BinlogChangeStream, NoFittingSchemaAnywhereIsRefused) {
  auto stream = NewBinlogChangeStream(
      std::make_unique<ReplayTransport>(FixtureEvents()), std::make_unique<NarrowSchemas>(),
      BinlogPosition{kFile, 4, ""}, {}, std::make_unique<NarrowSchemas>());
  ASSERT_TRUE(stream.ok());
  engine::Status failure;
  for (int i = 0; i < 100 && failure.ok(); ++i) {
    auto next = (*stream)->Next(std::chrono::milliseconds(500));
    if (!next.ok()) failure = next.status();
  }
  EXPECT_EQ(failure.code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_NE(failure.message().find("fx.t"), std::string::npos) << failure.ToString();
}

TEST(BinlogChangeStream, BadStartGtidSetIsInvalidArgument) {
  auto stream = NewBinlogChangeStream(std::make_unique<ReplayTransport>(FixtureEvents()), nullptr,
                                      BinlogPosition{kFile, 4, "not-a-gtid"}, {});
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), engine::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::connectors::mysql
