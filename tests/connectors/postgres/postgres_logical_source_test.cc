// Tests of the source side of logical replication (postgres_logical_source.h): slot and
// publication names, every refusal of CheckLogicalSource on real servers (shared ones, and private
// ones for server settings), EnsurePublication, the exported-snapshot slot, slot reads and drops,
// and the WAL flush end. Every slot a test creates is dropped by a StreamObjects guard declared
// after the database it lives in (a database holding a slot cannot be dropped).
#include "connectors/postgres/postgres_logical_source.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/connectors/postgres/postgres_test_support.h"

namespace tandem::postgres_test {
namespace {

using connectors::postgres::CheckLogicalSource;
using connectors::postgres::CreateSlotWithExportedSnapshot;
using connectors::postgres::DropPublication;
using connectors::postgres::DropReplicationSlot;
using connectors::postgres::EnsurePublication;
using connectors::postgres::ExportedSnapshotSlot;
using connectors::postgres::PublicationName;
using connectors::postgres::ReadReplicationSlot;
using connectors::postgres::ReadWalFlushEnd;
using connectors::postgres::ReplicationSlotInfo;
using connectors::postgres::ReplicationSlotName;
using engine::ConnectionConfig;
using engine::Lsn;
using engine::StatusCode;
using engine::TableId;
using testing::PostgresOptions;
using testing::PostgresServer;
using testing::Side;
using testing::TempDir;

constexpr auto kWaitLimit = std::chrono::seconds(30);

// A stream name no other test process uses (slots are server-wide).
std::string UniqueStream(const std::string& what) {
  static std::atomic<int> counter{0};
  return "lsrc_" + what + "_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
}

bool ValidSlotName(const std::string& name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

// Polls `condition` until it holds or kWaitLimit passes.
template <typename Condition>
bool WaitFor(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

// Drops the slot and publication of a stream when the test ends, whatever happened. A consumer
// that just disconnected may hold the slot for a moment longer, so the drop is retried.
class StreamObjects {
 public:
  StreamObjects(ConnectionConfig config, std::string stream)
      : config_(std::move(config)), stream_(std::move(stream)) {}
  ~StreamObjects() {
    EXPECT_TRUE(WaitFor([&] { return DropReplicationSlot(config_, stream_).ok(); }))
        << "the slot of stream " << stream_ << " could not be dropped";
    (void)DropPublication(config_, stream_);
  }
  StreamObjects(const StreamObjects&) = delete;
  StreamObjects& operator=(const StreamObjects&) = delete;

 private:
  ConnectionConfig config_;
  std::string stream_;
};

// A walsender connection made with libpq directly (not the code under test), optionally streaming
// from a slot, which makes the slot active.
class RawReplicationClient {
 public:
  RawReplicationClient(const ConnectionConfig& config, const std::string& application_name) {
    const std::string conninfo =
        "host=" + config.host + " port=" + std::to_string(config.port) + " user=" + config.user +
        " password=" + config.password + " dbname=" + config.database +
        " replication=database connect_timeout=10 application_name=" + application_name;
    conn_ = PQconnectdb(conninfo.c_str());
  }
  ~RawReplicationClient() { PQfinish(conn_); }
  RawReplicationClient(const RawReplicationClient&) = delete;
  RawReplicationClient& operator=(const RawReplicationClient&) = delete;

  bool connected() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_); }
  int backend_pid() const { return PQbackendPID(conn_); }

  // START_REPLICATION from `slot`; true once the server entered CopyBoth.
  bool StartStreaming(const std::string& slot, const std::string& publication) {
    const std::string command = "START_REPLICATION SLOT \"" + slot +
                                "\" LOGICAL 0/0 (proto_version '1', publication_names '" +
                                publication + "')";
    PGresult* result = PQexec(conn_, command.c_str());
    const bool streaming = PQresultStatus(result) == PGRES_COPY_BOTH;
    PQclear(result);
    return streaming;
  }

 private:
  PGconn* conn_ = nullptr;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- names -----------------------------------------------------------------------------------

TEST(LogicalSourceNames, SimpleStreamNameIsKeptAfterThePrefix) {
  EXPECT_EQ(ReplicationSlotName("orders"), "tandem_orders");
  EXPECT_EQ(ReplicationSlotName("eu_2024"), "tandem_eu_2024");
  EXPECT_EQ(PublicationName("orders"), "tandem_orders");
}

TEST(LogicalSourceNames, ReplacedCharactersAddAStableHash) {
  const std::string name = ReplicationSlotName("Orders-EU");
  EXPECT_EQ(name, "tandem_orders_eu_2ebbfdd5");
  EXPECT_TRUE(ValidSlotName(name)) << name;
  // Lower-casing alone changes the name, so case variants stay distinct.
  EXPECT_NE(ReplicationSlotName("orders"), ReplicationSlotName("Orders"));
  EXPECT_NE(ReplicationSlotName("orders-eu"), ReplicationSlotName("orders.eu"));
  EXPECT_TRUE(ValidSlotName(ReplicationSlotName("\xc3\xa9t\xc3\xa9 \"x\"")));
  EXPECT_EQ(PublicationName("Orders-EU"), name);
}

TEST(LogicalSourceNames, LongNamesAreCutTo63BytesAndStayDistinct) {
  const std::string base(200, 'a');
  const std::string first = ReplicationSlotName(base + "1");
  const std::string second = ReplicationSlotName(base + "2");
  EXPECT_EQ(first.size(), 63u);
  EXPECT_EQ(second.size(), 63u);
  EXPECT_TRUE(ValidSlotName(first)) << first;
  EXPECT_NE(first, second);
  // The longest name that fits needs no hash.
  const std::string fits(63 - 7, 'b');
  EXPECT_EQ(ReplicationSlotName(fits), "tandem_" + fits);
  EXPECT_EQ(ReplicationSlotName(fits + "b").size(), 63u);
  EXPECT_NE(ReplicationSlotName(fits + "b"), "tandem_" + fits);
}

// --- on the shared source server -------------------------------------------------------------

class LogicalSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Shared() == nullptr) {
      GTEST_SKIP() << "needs the shared servers (TANDEM_TEST_SERVERS)";
    }
    database_ = std::make_unique<ScratchDatabase>(*Shared(), Side::kSource, "pglsrc");
    database_->Execute(R"sql(
      CREATE TABLE public.orders (id bigint PRIMARY KEY, note text);
      CREATE TABLE public.lines (order_id bigint, line int, qty int,
                                 PRIMARY KEY (order_id, line));
      CREATE TABLE public.audit (id bigint PRIMARY KEY, at timestamptz);
      INSERT INTO public.orders VALUES (1, 'first');
    )sql");
    config_ = Config(database_->Uri());
  }

  std::vector<std::string> PublishedTables(const std::string& stream) const {
    std::vector<std::string> tables;
    for (const auto& row : database_->Query(
             "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = '" +
             PublicationName(stream) + "' ORDER BY 1")) {
      tables.push_back(row[0].value_or(""));
    }
    return tables;
  }

  // A login role for this test, dropped after the database holding its privileges and objects.
  const ScratchRole& MakeRole(const std::string& prefix, const std::string& attributes = "") {
    role_ = std::make_unique<ScratchRole>(*Shared(), Side::kSource, prefix, attributes);
    return *role_;
  }

  std::unique_ptr<ScratchRole> role_;  // declared first: destroyed after database_
  std::unique_ptr<ScratchDatabase> database_;
  ConnectionConfig config_;
  const TableId orders_{"public", "orders"};
  const TableId lines_{"public", "lines"};
  const TableId audit_{"public", "audit"};
};

TEST_F(LogicalSourceTest, AcceptsTablesWithPrimaryKeys) {
  const std::string stream = UniqueStream("ok");
  const engine::Status status = CheckLogicalSource(config_, {orders_, lines_}, stream);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_F(LogicalSourceTest, AcceptsReplicaIdentityFullOnATableWithAPrimaryKey) {
  database_->Execute("ALTER TABLE public.orders REPLICA IDENTITY FULL");
  const engine::Status status = CheckLogicalSource(config_, {orders_}, UniqueStream("full"));
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_F(LogicalSourceTest, AcceptsReplicaIdentityIndexOnTheKeyColumns) {
  database_->Execute(
      "CREATE TABLE public.coded (code text NOT NULL, v int);"
      "CREATE UNIQUE INDEX coded_code ON public.coded (code);"
      "ALTER TABLE public.coded REPLICA IDENTITY USING INDEX coded_code");
  const engine::Status status =
      CheckLogicalSource(config_, {{"public", "coded"}}, UniqueStream("uniq"));
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_F(LogicalSourceTest, RefusesAMissingTable) {
  const engine::Status status =
      CheckLogicalSource(config_, {orders_, {"public", "nosuch"}}, UniqueStream("missing"));
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "public.nosuch")) << status.message();
}

TEST_F(LogicalSourceTest, RefusesATableWithoutPrimaryKey) {
  database_->Execute("CREATE TABLE public.loose (a int, b text)");
  const engine::Status status =
      CheckLogicalSource(config_, {orders_, {"public", "loose"}}, UniqueStream("nokey"));
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "public.loose")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "no primary key")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "REPLICA IDENTITY FULL alone is not enough"))
      << status.message();
}

TEST_F(LogicalSourceTest, RefusesReplicaIdentityFullWithoutAKey) {
  database_->Execute(
      "CREATE TABLE public.loose (a int, b text); ALTER TABLE public.loose REPLICA IDENTITY FULL");
  const engine::Status status =
      CheckLogicalSource(config_, {{"public", "loose"}}, UniqueStream("fullnokey"));
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "no primary key")) << status.message();
}

TEST_F(LogicalSourceTest, RefusesUniqueKeyWithoutPrimaryKeyUnderDefaultIdentity) {
  database_->Execute(
      "CREATE TABLE public.coded (code text NOT NULL, v int);"
      "CREATE UNIQUE INDEX coded_code ON public.coded (code)");
  const engine::Status status =
      CheckLogicalSource(config_, {{"public", "coded"}}, UniqueStream("uniqdefault"));
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "REPLICA IDENTITY USING INDEX \"coded_code\""))
      << status.message();
}

TEST_F(LogicalSourceTest, RefusesReplicaIdentityNothing) {
  database_->Execute("ALTER TABLE public.lines REPLICA IDENTITY NOTHING");
  const engine::Status status =
      CheckLogicalSource(config_, {orders_, lines_}, UniqueStream("nothing"));
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "public.lines")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "REPLICA IDENTITY NOTHING")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "REPLICA IDENTITY DEFAULT")) << status.message();
}

TEST_F(LogicalSourceTest, RefusesReplicaIdentityIndexOtherThanThePrimaryKey) {
  database_->Execute(
      "CREATE TABLE public.tagged (id int PRIMARY KEY, tag text NOT NULL);"
      "CREATE UNIQUE INDEX tagged_tag ON public.tagged (tag);"
      "ALTER TABLE public.tagged REPLICA IDENTITY USING INDEX tagged_tag");
  const engine::Status status =
      CheckLogicalSource(config_, {{"public", "tagged"}}, UniqueStream("otherindex"));
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "tagged_tag")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "REPLICA IDENTITY DEFAULT")) << status.message();
}

TEST_F(LogicalSourceTest, RefusesAPartitionedTable) {
  database_->Execute(
      "CREATE TABLE public.events (id int, day date, PRIMARY KEY (id, day))"
      " PARTITION BY RANGE (day)");
  const engine::Status status =
      CheckLogicalSource(config_, {{"public", "events"}}, UniqueStream("partitioned"));
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "partitioned")) << status.message();
}

TEST_F(LogicalSourceTest, RefusesARoleWithoutReplication) {
  const ScratchRole& role = MakeRole("pglsrc_norepl");
  database_->Execute("GRANT SELECT ON public.orders TO " + role.name());
  const ConnectionConfig config = Config(database_->UriFor(role.name(), role.password()));
  const engine::Status status = CheckLogicalSource(config, {orders_}, UniqueStream("norepl"));
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "ALTER ROLE \"" + role.name() + "\" REPLICATION"))
      << status.message();
  EXPECT_FALSE(Contains(status.message(), role.password())) << status.message();
}

TEST_F(LogicalSourceTest, RefusesARoleWithoutSelect) {
  const ScratchRole& role = MakeRole("pglsrc_nosel", "REPLICATION");
  database_->Execute("GRANT SELECT ON public.orders TO " + role.name());
  const ConnectionConfig config = Config(database_->UriFor(role.name(), role.password()));
  const engine::Status status =
      CheckLogicalSource(config, {orders_, audit_}, UniqueStream("noselect"));
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "public.audit")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "GRANT SELECT ON \"public\".\"audit\""))
      << status.message();
}

TEST_F(LogicalSourceTest, RefusesARoleThatCannotCreateOrExtendThePublication) {
  const ScratchRole& role = MakeRole("pglsrc_nopub", "REPLICATION");
  database_->Execute("GRANT SELECT ON public.orders, public.lines TO " + role.name());
  const ConnectionConfig config = Config(database_->UriFor(role.name(), role.password()));
  const std::string stream = UniqueStream("nopub");

  engine::Status status = CheckLogicalSource(config, {orders_}, stream);
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "GRANT CREATE ON DATABASE")) << status.message();

  database_->Execute("GRANT CREATE ON DATABASE " + database_->name() + " TO " + role.name());
  status = CheckLogicalSource(config, {orders_}, stream);
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "does not own the table")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "public.orders")) << status.message();

  // EnsurePublication itself refuses with the same fix.
  status = EnsurePublication(config, stream, {orders_});
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "must own every published table")) << status.message();

  database_->Execute("ALTER TABLE public.orders OWNER TO " + role.name());
  status = CheckLogicalSource(config, {orders_}, stream);
  EXPECT_TRUE(status.ok()) << status.ToString();
  status = EnsurePublication(config, stream, {orders_});
  EXPECT_TRUE(status.ok()) << status.ToString();
  // The role owns the publication but not `lines`.
  status = CheckLogicalSource(config, {orders_, lines_}, stream);
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "public.lines")) << status.message();
  EXPECT_TRUE(DropPublication(config, stream).ok());
}

TEST_F(LogicalSourceTest, RefusesAnActiveSlotNamingItsHolder) {
  const std::string stream = UniqueStream("active");
  const std::string slot = ReplicationSlotName(stream);
  StreamObjects cleanup(config_, stream);
  ASSERT_TRUE(EnsurePublication(config_, stream, {orders_}).ok());
  database_->Execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");

  RawReplicationClient holder(config_, "lsrc_holder");
  ASSERT_TRUE(holder.connected()) << holder.error();
  ASSERT_TRUE(holder.StartStreaming(slot, PublicationName(stream))) << holder.error();
  std::optional<ReplicationSlotInfo> info;
  ASSERT_TRUE(WaitFor([&] {
    auto read = ReadReplicationSlot(config_, stream);
    info = read.ok() ? *read : std::nullopt;
    return info.has_value() && info->active;
  })) << "the slot never became active";
  EXPECT_EQ(info->active_pid, holder.backend_pid());

  engine::Status status = CheckLogicalSource(config_, {orders_}, stream);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "PID " + std::to_string(holder.backend_pid())))
      << status.message();
  EXPECT_TRUE(Contains(status.message(), "lsrc_holder")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "127.0.0.1")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "another --stream")) << status.message();

  // An active slot is not dropped from under its consumer.
  status = DropReplicationSlot(config_, stream);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), std::to_string(holder.backend_pid()))) << status.message();
}

TEST_F(LogicalSourceTest, RefusesASlotWithAnotherPlugin) {
  const std::string stream = UniqueStream("plugin");
  StreamObjects cleanup(config_, stream);
  database_->Execute("SELECT pg_create_logical_replication_slot('" + ReplicationSlotName(stream) +
                     "', 'test_decoding')");
  const engine::Status status = CheckLogicalSource(config_, {orders_}, stream);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "test_decoding")) << status.message();
  EXPECT_TRUE(Contains(status.message(), ReplicationSlotName(stream))) << status.message();
}

TEST_F(LogicalSourceTest, RefusesAPhysicalSlot) {
  const std::string stream = UniqueStream("physical");
  StreamObjects cleanup(config_, stream);
  database_->Execute("SELECT pg_create_physical_replication_slot('" + ReplicationSlotName(stream) +
                     "')");
  const engine::Status status = CheckLogicalSource(config_, {orders_}, stream);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "physical")) << status.message();
}

TEST_F(LogicalSourceTest, RefusesASlotOfAnotherDatabase) {
  ScratchDatabase other(*Shared(), Side::kSource, "pglsrc_other");
  const std::string stream = UniqueStream("otherdb");
  StreamObjects cleanup(Config(other.Uri()), stream);
  other.Execute("SELECT pg_create_logical_replication_slot('" + ReplicationSlotName(stream) +
                "', 'pgoutput')");
  const engine::Status status = CheckLogicalSource(config_, {orders_}, stream);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), other.name())) << status.message();
}

TEST_F(LogicalSourceTest, AcceptsItsOwnInactiveSlot) {
  const std::string stream = UniqueStream("resume");
  StreamObjects cleanup(config_, stream);
  database_->Execute("SELECT pg_create_logical_replication_slot('" + ReplicationSlotName(stream) +
                     "', 'pgoutput')");
  const engine::Status status = CheckLogicalSource(config_, {orders_}, stream);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_F(LogicalSourceTest, EnsurePublicationCreatesThenAddsTablesIdempotently) {
  const std::string stream = UniqueStream("pub");
  StreamObjects cleanup(config_, stream);
  engine::Status status = EnsurePublication(config_, stream, {orders_});
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(PublishedTables(stream), std::vector<std::string>{"public.orders"});
  const auto flags = database_->Query(
      "SELECT pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = '" +
      PublicationName(stream) + "'");
  ASSERT_EQ(flags.size(), 1u);
  for (const auto& flag : flags[0]) {
    EXPECT_EQ(flag.value_or(""), "t");
  }

  status = EnsurePublication(config_, stream, {orders_, lines_, lines_});
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(PublishedTables(stream), (std::vector<std::string>{"public.lines", "public.orders"}));
  status = EnsurePublication(config_, stream, {lines_, orders_});
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(PublishedTables(stream), (std::vector<std::string>{"public.lines", "public.orders"}));
}

TEST_F(LogicalSourceTest, EnsurePublicationTurnsOnMissingActions) {
  const std::string stream = UniqueStream("pubactions");
  StreamObjects cleanup(config_, stream);
  database_->Execute("CREATE PUBLICATION " + PublicationName(stream) +
                     " FOR TABLE public.orders WITH (publish = 'insert')");
  const engine::Status status = EnsurePublication(config_, stream, {orders_});
  ASSERT_TRUE(status.ok()) << status.ToString();
  const auto flags = database_->Query(
      "SELECT pubinsert AND pubupdate AND pubdelete AND pubtruncate FROM pg_publication "
      "WHERE pubname = '" +
      PublicationName(stream) + "'");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0][0].value_or(""), "t");
}

TEST_F(LogicalSourceTest, EnsurePublicationRefusesBadInput) {
  const std::string stream = UniqueStream("pubbad");
  StreamObjects cleanup(config_, stream);
  EXPECT_EQ(EnsurePublication(config_, stream, {}).code(), StatusCode::kInvalidArgument);
  const engine::Status status = EnsurePublication(config_, stream, {{"public", "nosuch"}});
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
}

TEST_F(LogicalSourceTest, DropPublicationIsIdempotent) {
  const std::string stream = UniqueStream("pubdrop");
  ASSERT_TRUE(EnsurePublication(config_, stream, {orders_}).ok());
  EXPECT_TRUE(DropPublication(config_, stream).ok());
  EXPECT_TRUE(PublishedTables(stream).empty());
  EXPECT_TRUE(
      database_
          ->Query("SELECT 1 FROM pg_publication WHERE pubname = '" + PublicationName(stream) + "'")
          .empty());
  EXPECT_TRUE(DropPublication(config_, stream).ok());
}

TEST_F(LogicalSourceTest, ExportedSnapshotIsImportableWhileTheSlotObjectLives) {
  const std::string stream = UniqueStream("snapshot");
  StreamObjects cleanup(config_, stream);
  auto created = CreateSlotWithExportedSnapshot(config_, stream);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<ExportedSnapshotSlot> slot = std::move(*created);
  EXPECT_EQ(slot->slot_name(), ReplicationSlotName(stream));
  ASSERT_FALSE(slot->snapshot_name().empty());

  auto info = ReadReplicationSlot(config_, stream);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_TRUE(info->has_value());
  EXPECT_EQ((*info)->confirmed_flush, slot->consistent_point());
  EXPECT_EQ((*info)->plugin, "pgoutput");

  // A row written after the slot: invisible in the snapshot, visible outside it.
  database_->Execute("INSERT INTO public.orders VALUES (2, 'after the slot')");
  testing::PostgresClient reader = database_->ConnectAdmin();
  reader.Execute("BEGIN ISOLATION LEVEL REPEATABLE READ");
  reader.Execute("SET TRANSACTION SNAPSHOT '" + slot->snapshot_name() + "'");
  EXPECT_EQ(reader.QueryScalar("SELECT count(*) FROM public.orders").value_or(""), "1");
  reader.Execute("COMMIT");

  // Creating it again is refused; the slot stays.
  auto again = CreateSlotWithExportedSnapshot(config_, stream);
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition) << again.status().ToString();
  EXPECT_TRUE(Contains(again.status().message(), "already exists")) << again.status().message();

  // Destroying the object releases the snapshot but keeps the slot.
  const std::string snapshot_name = slot->snapshot_name();
  slot.reset();
  EXPECT_TRUE(WaitFor([&] {
    testing::PostgresClient late = database_->ConnectAdmin();
    late.Execute("BEGIN ISOLATION LEVEL REPEATABLE READ");
    try {
      late.Execute("SET TRANSACTION SNAPSHOT '" + snapshot_name + "'");
      late.Execute("ROLLBACK");
      return false;
    } catch (const std::runtime_error&) {
      return true;
    }
  })) << "the snapshot stayed importable after the slot object was destroyed";
  info = ReadReplicationSlot(config_, stream);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->has_value());
}

TEST_F(LogicalSourceTest, ReadReplicationSlotReportsItsFields) {
  const std::string stream = UniqueStream("read");
  StreamObjects cleanup(config_, stream);
  auto absent = ReadReplicationSlot(config_, stream);
  ASSERT_TRUE(absent.ok()) << absent.status().ToString();
  EXPECT_FALSE(absent->has_value());

  database_->Execute("SELECT pg_create_logical_replication_slot('" + ReplicationSlotName(stream) +
                     "', 'pgoutput')");
  auto read = ReadReplicationSlot(config_, stream);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_TRUE(read->has_value());
  const ReplicationSlotInfo& info = **read;
  EXPECT_EQ(info.name, ReplicationSlotName(stream));
  EXPECT_EQ(info.slot_type, "logical");
  EXPECT_EQ(info.plugin, "pgoutput");
  EXPECT_EQ(info.database, database_->name());
  EXPECT_GT(info.confirmed_flush.value, 0u);
  EXPECT_GT(info.restart_lsn.value, 0u);
  EXPECT_LE(info.restart_lsn, info.confirmed_flush);
  EXPECT_FALSE(info.active);
  EXPECT_EQ(info.active_pid, 0);
  EXPECT_GE(info.retained_bytes, 0);
  EXPECT_EQ(info.wal_status, "reserved");
  const auto expected_lsn = database_->Query(
      "SELECT confirmed_flush_lsn::text, restart_lsn::text FROM pg_replication_slots "
      "WHERE slot_name = '" +
      ReplicationSlotName(stream) + "'");
  ASSERT_EQ(expected_lsn.size(), 1u);
  EXPECT_EQ(engine::FormatLsn(info.confirmed_flush), expected_lsn[0][0].value_or(""));
  EXPECT_EQ(engine::FormatLsn(info.restart_lsn), expected_lsn[0][1].value_or(""));

  // WAL written after the slot is held back by it.
  database_->Execute("INSERT INTO public.audit SELECT g, now() FROM generate_series(1, 2000) g");
  read = ReadReplicationSlot(config_, stream);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_GT((*read)->retained_bytes, 0);
}

TEST_F(LogicalSourceTest, DropReplicationSlotIsIdempotent) {
  const std::string stream = UniqueStream("drop");
  StreamObjects cleanup(config_, stream);
  engine::Status status = DropReplicationSlot(config_, stream);
  EXPECT_TRUE(status.ok()) << status.ToString();
  database_->Execute("SELECT pg_create_logical_replication_slot('" + ReplicationSlotName(stream) +
                     "', 'pgoutput')");
  status = DropReplicationSlot(config_, stream);
  EXPECT_TRUE(status.ok()) << status.ToString();
  auto read = ReadReplicationSlot(config_, stream);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_FALSE(read->has_value());
  status = DropReplicationSlot(config_, stream);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_F(LogicalSourceTest, ReadWalFlushEndAdvancesAfterAWrite) {
  auto before = ReadWalFlushEnd(config_);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_GT(before->value, 0u);
  database_->Execute("INSERT INTO public.audit SELECT g, now() FROM generate_series(1, 100) g");
  // The shared servers commit asynchronously: the WAL writer flushes within wal_writer_delay.
  Lsn after;
  EXPECT_TRUE(WaitFor([&] {
    auto read = ReadWalFlushEnd(config_);
    after = read.ok() ? *read : Lsn{};
    return after > *before;
  })) << "flush end stayed at "
      << engine::FormatLsn(*before);
}

// --- on private servers ----------------------------------------------------------------------

TEST(LogicalSourcePrivateServer, RefusesWalLevelReplica) {
  TempDir dir("pglsrc-replica");
  auto server = PostgresServer::Start(dir.path(), PostgresOptions{.wal_level = "replica"});
  server->Execute("CREATE TABLE public.orders (id int PRIMARY KEY)");
  const engine::Status status =
      CheckLogicalSource(Config(server->Uri()), {{"public", "orders"}}, "walreplica");
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "wal_level = replica")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "set wal_level = logical in postgresql.conf and restart"))
      << status.message();
  EXPECT_FALSE(Contains(status.message(), "tandem-secret")) << status.message();
}

TEST(LogicalSourcePrivateServer, RefusesWhenNoSlotOrWalSenderIsFree) {
  TempDir dir("pglsrc-full");
  auto server = PostgresServer::Start(
      dir.path(), PostgresOptions{.max_replication_slots = 1, .max_wal_senders = 1});
  server->Execute("CREATE TABLE public.orders (id int PRIMARY KEY)");
  const ConnectionConfig config = Config(server->Uri());
  const std::vector<TableId> tables = {{"public", "orders"}};

  server->Execute("SELECT pg_create_logical_replication_slot('someone_else', 'pgoutput')");
  engine::Status status = CheckLogicalSource(config, tables, "needs_a_slot");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "max_replication_slots = 1")) << status.message();
  // A stream that already has its slot needs no free one.
  server->Execute("SELECT pg_drop_replication_slot('someone_else')");
  server->Execute("SELECT pg_create_logical_replication_slot('" +
                  ReplicationSlotName("has_its_slot") + "', 'pgoutput')");
  status = CheckLogicalSource(config, tables, "has_its_slot");
  EXPECT_TRUE(status.ok()) << status.ToString();

  RawReplicationClient sender(config, "lsrc_sender");
  ASSERT_TRUE(sender.connected()) << sender.error();
  status = CheckLogicalSource(config, tables, "has_its_slot");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_TRUE(Contains(status.message(), "max_wal_senders = 1")) << status.message();
}

}  // namespace
}  // namespace tandem::postgres_test
