// Tests of the PostgreSQL write freeze (postgres_write_freeze.h): the pure helpers, then, against
// ONE PRIVATE server started by this suite (a freeze is server-wide, so the shared fixture servers
// other tests use concurrently are never touched), ordinary roles writing before, during and after
// a freeze, sessions holding transactions terminated, the WAL position, and missing privileges.
#include "connectors/postgres/postgres_write_freeze.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "connectors/postgres/postgres_connection.h"
#include "connectors/postgres/postgres_wal_flush.h"
#include "tests/connectors/postgres/postgres_test_support.h"
#include "tests/harness/files.h"
#include "tests/harness/postgres_client.h"
#include "tests/harness/postgres_server.h"

namespace tandem::postgres_test {
namespace {

using connectors::postgres::FlushWal;
using connectors::postgres::MissingWriteFreezeGrants;
using connectors::postgres::PostgresConnection;
using connectors::postgres::WalWrittenThrough;
using connectors::postgres::WriteFreezePrivileges;
using engine::FreezeOptions;
using engine::Lsn;
using engine::StatusCode;
using testing::PostgresClient;
using testing::PostgresOptions;
using testing::PostgresServer;
using testing::TempDir;

using namespace std::chrono_literals;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- pure helpers ------------------------------------------------------------------------------

TEST(WalWrittenThrough, WrittenAtOrPastInsertIsThrough) {
  EXPECT_TRUE(WalWrittenThrough(Lsn{0x1000}, Lsn{0x1000}, 8192, 16 << 20));
  EXPECT_TRUE(WalWrittenThrough(Lsn{0x1000}, Lsn{0x2000}, 8192, 16 << 20));
  EXPECT_FALSE(WalWrittenThrough(Lsn{0x1008}, Lsn{0x1000}, 8192, 16 << 20));
}

TEST(WalWrittenThrough, InsertJustPastAPageHeaderIsThroughAtTheBoundary) {
  // Short page header (24 bytes) mid-segment.
  EXPECT_TRUE(WalWrittenThrough(Lsn{3 * 8192 + 24}, Lsn{3 * 8192}, 8192, 16 << 20));
  EXPECT_FALSE(WalWrittenThrough(Lsn{3 * 8192 + 32}, Lsn{3 * 8192}, 8192, 16 << 20));
  // Not a boundary: the 24 bytes are a record not yet written.
  EXPECT_FALSE(WalWrittenThrough(Lsn{3 * 8192 + 64}, Lsn{3 * 8192 + 40}, 8192, 16 << 20));
  // Long header (40 bytes) at a segment start.
  const uint64_t segment = 16 << 20;
  EXPECT_TRUE(WalWrittenThrough(Lsn{2 * segment + 40}, Lsn{2 * segment}, 8192, segment));
  EXPECT_FALSE(WalWrittenThrough(Lsn{2 * segment + 24}, Lsn{2 * segment}, 8192, segment));
  EXPECT_FALSE(WalWrittenThrough(Lsn{2 * segment + 40}, Lsn{2 * segment}, 0, 0));
}

TEST(MissingWriteFreezeGrants, SuperuserOrEverythingGrantedNeedsNothing) {
  EXPECT_EQ(MissingWriteFreezeGrants({.superuser = true}, "app", 150005, false), "");
  EXPECT_EQ(MissingWriteFreezeGrants({.superuser = true}, "app", 140005, false), "");
  const WriteFreezePrivileges all{
      .alter_system = true, .reload_conf = true, .signal_backend = true, .read_all_stats = true};
  EXPECT_EQ(MissingWriteFreezeGrants(all, "app", 150005, false), "");
}

TEST(MissingWriteFreezeGrants, NamesEachMissingGrantWithTheQuotedRole) {
  EXPECT_EQ(MissingWriteFreezeGrants({}, "App\"x", 150005, false),
            "GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO \"App\"\"x\"; "
            "GRANT EXECUTE ON FUNCTION pg_catalog.pg_reload_conf() TO \"App\"\"x\"; "
            "GRANT pg_signal_backend, pg_read_all_stats TO \"App\"\"x\" "
            "(or ALTER ROLE \"App\"\"x\" SUPERUSER)");
  const WriteFreezePrivileges no_stats{
      .alter_system = true, .reload_conf = true, .signal_backend = true};
  EXPECT_EQ(MissingWriteFreezeGrants(no_stats, "app", 150005, false),
            "GRANT pg_read_all_stats TO \"app\" (or ALTER ROLE \"app\" SUPERUSER)");
  // Thaw terminates nothing.
  EXPECT_EQ(MissingWriteFreezeGrants(no_stats, "app", 150005, true), "");
}

TEST(MissingWriteFreezeGrants, BeforeFifteenOnlySuperuserHelps) {
  const WriteFreezePrivileges all{
      .alter_system = true, .reload_conf = true, .signal_backend = true, .read_all_stats = true};
  EXPECT_TRUE(Contains(MissingWriteFreezeGrants(all, "app", 140010, false),
                       "ALTER ROLE \"app\" SUPERUSER"));
}

// --- on a private server ----------------------------------------------------------------------

constexpr char kAppPassword[] = "app-secret-pw";
constexpr char kWeakPassword[] = "weak-secret-pw";
constexpr char kDelegatePassword[] = "delegate-secret-pw";

class PostgresWriteFreezeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("pg-freeze");
    PostgresOptions options;
    options.extra_settings = {"max_prepared_transactions = 4"};  // for the two-phase test
    server_ = PostgresServer::Start(dir_->path(), options).release();
    server_->Execute("CREATE TABLE public.writes (id bigserial PRIMARY KEY, tag text NOT NULL)");
    server_->Execute(std::string("CREATE ROLE app LOGIN PASSWORD '") + kAppPassword + "'");
    server_->Execute("GRANT SELECT, INSERT, UPDATE, DELETE ON public.writes TO app");
    server_->Execute("GRANT USAGE ON SEQUENCE public.writes_id_seq TO app");
    server_->Execute(std::string("CREATE ROLE weak LOGIN PASSWORD '") + kWeakPassword + "'");
    // Everything a non-superuser needs (PostgreSQL 15).
    server_->Execute(std::string("CREATE ROLE delegate LOGIN PASSWORD '") + kDelegatePassword +
                     "'");
    server_->Execute(
        "GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO delegate; "
        "GRANT EXECUTE ON FUNCTION pg_catalog.pg_reload_conf() TO delegate; "
        "GRANT pg_signal_backend, pg_read_all_stats TO delegate");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    tandem_ = Open(server_->Uri());
    ASSERT_NE(tandem_, nullptr);
    freeze_ = tandem_->write_freeze();
    ASSERT_NE(freeze_, nullptr);
  }
  void TearDown() override {
    if (freeze_ != nullptr) {
      EXPECT_TRUE(freeze_->Thaw().ok());
    }
  }

  static std::string UriAs(const std::string& user, const std::string& password) {
    return "postgres://" + user + ":" + password + "@127.0.0.1:" + std::to_string(server_->port()) +
           "/tandem";
  }
  static PostgresClient ConnectApp() {
    return PostgresClient::ConnectUri(UriAs("app", kAppPassword));
  }

  // The server's error for `sql` on `client`, or "" when it succeeded.
  static std::string ErrorOf(PostgresClient& client, const std::string& sql) {
    try {
      client.Execute(sql);
      return "";
    } catch (const std::runtime_error& error) {
      return error.what();
    }
  }

  static int64_t CountTag(const std::string& tag) {
    return std::stoll(
        server_->QueryScalar("SELECT count(*) FROM public.writes WHERE tag = '" + tag + "'")
            .value_or("-1"));
  }

  static void ExpectWritable(PostgresClient& client, const std::string& tag) {
    EXPECT_EQ(ErrorOf(client, "INSERT INTO public.writes (tag) VALUES ('" + tag + "')"), "");
  }
  static void ExpectReadOnly(PostgresClient& client, const std::string& tag) {
    const std::string error =
        ErrorOf(client, "INSERT INTO public.writes (tag) VALUES ('" + tag + "')");
    EXPECT_TRUE(Contains(error, "read-only transaction")) << "error: '" << error << "'";
    EXPECT_EQ(CountTag(tag), 0);
  }

  static TempDir* dir_;
  static PostgresServer* server_;
  std::unique_ptr<engine::SqlDatabase> tandem_;
  engine::WriteFreeze* freeze_ = nullptr;
};

TempDir* PostgresWriteFreezeTest::dir_ = nullptr;
PostgresServer* PostgresWriteFreezeTest::server_ = nullptr;

TEST_F(PostgresWriteFreezeTest, FreezeStopsOrdinaryWritesOnOldAndNewSessionsAndThawRestoresThem) {
  PostgresClient old_session = ConnectApp();
  ExpectWritable(old_session, "before");
  EXPECT_EQ(CountTag("before"), 1);
  auto state = freeze_->State();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_FALSE(state->frozen) << state->detail;

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    for (int again = 0; again < 2; ++again) {  // a second Freeze changes nothing
      auto report = freeze_->Freeze(FreezeOptions{.lock_wait = 1s});
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      EXPECT_EQ(report->sessions_ended, 0) << report->detail;
      EXPECT_TRUE(Contains(report->detail, "default_transaction_read_only=on")) << report->detail;
    }
    state = freeze_->State();
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    EXPECT_TRUE(state->frozen) << state->detail;
    // A State read over another connection agrees: it is the server's setting.
    auto other = Open(server_->Uri());
    ASSERT_NE(other, nullptr);
    auto other_state = other->write_freeze()->State();
    ASSERT_TRUE(other_state.ok());
    EXPECT_TRUE(other_state->frozen);

    ExpectReadOnly(old_session, "frozen-old");
    PostgresClient new_session = ConnectApp();
    ExpectReadOnly(new_session, "frozen-new");

    for (int again = 0; again < 2; ++again) {
      auto thawed = freeze_->Thaw();
      ASSERT_TRUE(thawed.ok()) << thawed.ToString();
    }
    state = freeze_->State();
    ASSERT_TRUE(state.ok());
    EXPECT_FALSE(state->frozen) << state->detail;
    ExpectWritable(old_session, "thawed-old");
    ExpectWritable(new_session, "thawed-new");
  }
  EXPECT_EQ(CountTag("thawed-old"), 2);
  EXPECT_EQ(CountTag("thawed-new"), 2);
}

TEST_F(PostgresWriteFreezeTest, TheControllersOwnSessionStaysWritable) {
  auto connection = PostgresConnection::Connect(Config(server_->Uri()));
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  auto freeze = connectors::postgres::NewPostgresWriteFreeze(**connection);
  auto report = freeze->Freeze(FreezeOptions{.lock_wait = 1s});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  auto insert = (*connection)
                    ->Query("writing", "INSERT INTO public.writes (tag) VALUES ($1)",
                            {std::string("controller-frozen")});
  EXPECT_TRUE(insert.ok()) << insert.status().ToString();
  ASSERT_TRUE(freeze->Thaw().ok());
  insert = (*connection)
               ->Query("writing", "INSERT INTO public.writes (tag) VALUES ($1)",
                       {std::string("controller-thawed")});
  EXPECT_TRUE(insert.ok()) << insert.status().ToString();
  EXPECT_EQ(CountTag("controller-frozen"), 1);
  EXPECT_EQ(CountTag("controller-thawed"), 1);
}

TEST_F(PostgresWriteFreezeTest, ASessionInAnOlderTransactionIsTerminatedAndItsInsertLost) {
  PostgresClient holder = ConnectApp();
  holder.Execute("BEGIN");
  holder.Execute("INSERT INTO public.writes (tag) VALUES ('uncommitted')");
  const auto started = std::chrono::steady_clock::now();
  auto report = freeze_->Freeze(FreezeOptions{.lock_wait = 1s});
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GE(report->sessions_ended, 1) << report->detail;
  EXPECT_GE(took, 1s);  // it waited lock_wait for the transaction to end by itself
  EXPECT_LT(took, 6s);
  EXPECT_LE(report->elapsed, std::chrono::duration_cast<std::chrono::microseconds>(took));
  EXPECT_FALSE(ErrorOf(holder, "COMMIT").empty()) << "the terminated session could still commit";
  EXPECT_EQ(CountTag("uncommitted"), 0);
  // Idle sessions are left alone, and a walsender would be too (it is not a client backend).
  PostgresClient idle = ConnectApp();
  auto again = freeze_->Freeze(FreezeOptions{.lock_wait = 1s});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->sessions_ended, 0);
  EXPECT_EQ(ErrorOf(idle, "SELECT 1"), "");
}

TEST_F(PostgresWriteFreezeTest, APreparedTransactionStopsTheFreezeNamingItsGid) {
  PostgresClient app = ConnectApp();
  app.Execute("BEGIN");
  app.Execute("INSERT INTO public.writes (tag) VALUES ('prepared')");
  app.Execute("PREPARE TRANSACTION 'cutover-gx'");
  engine::FreezeOptions options;
  options.lock_wait = std::chrono::milliseconds(200);
  auto frozen = freeze_->Freeze(options);
  ASSERT_FALSE(frozen.ok());
  EXPECT_EQ(frozen.status().code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(frozen.status().message(), "'cutover-gx'")) << frozen.status().message();
  server_->Execute("ROLLBACK PREPARED 'cutover-gx'");
  EXPECT_EQ(CountTag("prepared"), 0);
  auto again = freeze_->Freeze(options);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST_F(PostgresWriteFreezeTest, AWalsenderIsLeftAlone) {
  // A logical replication connection (tandem's change stream uses one) is a walsender, not a client
  // backend, even while it holds a transaction begun before the freeze (PostgreSQL 15 does not show
  // a walsender's xact_start, so the backend_type filter is a second line of defence).
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(server_->port()) +
                               " user=tandem password=tandem-secret dbname=tandem "
                               "replication=database connect_timeout=10";
  std::unique_ptr<PGconn, decltype(&PQfinish)> walsender(PQconnectdb(conninfo.c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(walsender.get()), CONNECTION_OK) << PQerrorMessage(walsender.get());
  PGresult* begin = PQexec(walsender.get(), "BEGIN");
  ASSERT_EQ(PQresultStatus(begin), PGRES_COMMAND_OK) << PQerrorMessage(walsender.get());
  PQclear(begin);
  const std::string pid = std::to_string(PQbackendPID(walsender.get()));
  ASSERT_EQ(server_->QueryScalar("SELECT backend_type FROM pg_stat_activity WHERE pid = " + pid),
            std::optional<std::string>("walsender"));
  auto report = freeze_->Freeze(FreezeOptions{.lock_wait = 200ms});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->sessions_ended, 0) << report->detail;
  EXPECT_EQ(server_->QueryScalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid),
            std::optional<std::string>("1"));
  EXPECT_EQ(PQstatus(walsender.get()), CONNECTION_OK);
}

TEST_F(PostgresWriteFreezeTest, CurrentPositionIsAnLsnThatOnlyMovesForward) {
  const std::string before_text = server_->QueryScalar("SELECT pg_current_wal_lsn()").value();
  auto before = engine::ParseLsn(before_text);
  ASSERT_TRUE(before.ok());
  auto first = freeze_->CurrentPosition();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(std::holds_alternative<Lsn>(*first)) << engine::Serialize(*first);
  EXPECT_GE(std::get<Lsn>(*first), *before);
  EXPECT_TRUE(Contains(engine::Serialize(*first), "pg:"));
  server_->Execute("INSERT INTO public.writes (tag) VALUES ('position')");
  auto second = freeze_->CurrentPosition();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(std::get<Lsn>(*second), std::get<Lsn>(*first));
}

// The server runs with synchronous_commit = off (the harness's setting): an acknowledged commit
// is inserted, not yet written or flushed, until the WAL writer's next round. With
// wal_writer_delay at 10 s that round is seconds away, so these tests see whether the flush
// happens at once. (A synchronous commit of a transaction whose only act is txid_current() writes
// no WAL before its commit record, so PostgreSQL commits it asynchronously: no flush; the drain
// of the write cutover used to wait here for the WAL writer.)
class SlowWalWriter {
 public:
  explicit SlowWalWriter(PostgresServer& server) : server_(server) {
    server_.Execute("ALTER SYSTEM SET wal_writer_delay = '10s'");
    server_.Execute("SELECT pg_reload_conf()");
  }
  ~SlowWalWriter() {
    server_.Execute("ALTER SYSTEM RESET wal_writer_delay");
    server_.Execute("SELECT pg_reload_conf()");
  }

 private:
  PostgresServer& server_;
};

// An insert by the ordinary role, acknowledged; returns the insert position right after it.
Lsn InsertAcknowledged(PostgresClient& app, PostgresServer& server, const std::string& tag) {
  app.Execute("INSERT INTO public.writes (tag) VALUES ('" + tag + "')");
  auto insert = engine::ParseLsn(server.QueryScalar("SELECT pg_current_wal_insert_lsn()").value());
  EXPECT_TRUE(insert.ok());
  return insert.ok() ? *insert : Lsn{};
}

Lsn FlushedNow(PostgresServer& server) {
  auto flushed = engine::ParseLsn(server.QueryScalar("SELECT pg_current_wal_flush_lsn()").value());
  EXPECT_TRUE(flushed.ok());
  return flushed.ok() ? *flushed : Lsn{};
}

TEST_F(PostgresWriteFreezeTest, CurrentPositionFlushesAnAsynchronousCommitAtOnce) {
  SlowWalWriter slow(*server_);
  std::this_thread::sleep_for(300ms);  // the WAL writer's round under the old delay ends
  PostgresClient app = ConnectApp();
  for (int round = 0; round < 3; ++round) {
    const Lsn inserted = InsertAcknowledged(app, *server_, "async-" + std::to_string(round));
    const auto started = std::chrono::steady_clock::now();
    auto position = freeze_->CurrentPosition();
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(position.ok()) << position.status().ToString();
    EXPECT_GE(std::get<Lsn>(*position), inserted) << "round " << round;
    EXPECT_GE(FlushedNow(*server_), std::get<Lsn>(*position)) << "round " << round;
    EXPECT_LT(took, 2s) << "round " << round << ": waited for the WAL writer";
  }
}

TEST_F(PostgresWriteFreezeTest, FlushWalFlushesAnAsynchronousCommitAtOnceAlsoWhenFrozen) {
  SlowWalWriter slow(*server_);
  std::this_thread::sleep_for(300ms);
  PostgresClient app = ConnectApp();
  const Lsn inserted = InsertAcknowledged(app, *server_, "async-frozen");
  ASSERT_TRUE(freeze_->Freeze(FreezeOptions{}).ok());
  auto delegate = PostgresConnection::Connect(Config(UriAs("delegate", kDelegatePassword)));
  ASSERT_TRUE(delegate.ok()) << delegate.status().ToString();
  const auto started = std::chrono::steady_clock::now();
  auto flushed = FlushWal(**delegate, 15s);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(flushed.ok()) << flushed.status().ToString();
  EXPECT_GE(*flushed, inserted);
  EXPECT_GE(FlushedNow(*server_), inserted);
  EXPECT_LT(took, 2s) << "waited for the WAL writer";
  // Thawed before SlowWalWriter reloads the configuration again: a reload of someone else's,
  // signalled just before, could end Thaw's wait for its own.
  EXPECT_TRUE(freeze_->Thaw().ok());
}

TEST_F(PostgresWriteFreezeTest, FlushWalWithoutTheMessageFunctionWaitsForTheWalWriterInstead) {
  server_->Execute(
      "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, text) "
      "FROM PUBLIC");
  struct Regrant {
    PostgresServer& server;
    ~Regrant() {
      server.Execute(
          "GRANT EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, text) "
          "TO PUBLIC");
    }
  } regrant{*server_};
  PostgresClient app = ConnectApp();
  const Lsn inserted = InsertAcknowledged(app, *server_, "async-fallback");
  auto delegate = PostgresConnection::Connect(Config(UriAs("delegate", kDelegatePassword)));
  ASSERT_TRUE(delegate.ok()) << delegate.status().ToString();
  auto flushed = FlushWal(**delegate, 15s);
  ASSERT_TRUE(flushed.ok()) << flushed.status().ToString();
  EXPECT_GE(*flushed, inserted);
  EXPECT_GE(FlushedNow(*server_), inserted);
  // The connection is usable afterwards: no transaction left open by the refused message.
  auto status = (*delegate)->Query("checking the session", "SELECT 1");
  EXPECT_TRUE(status.ok()) << status.status().ToString();
}

TEST_F(PostgresWriteFreezeTest, ARoleWithoutPrivilegesGetsPermissionDeniedWithTheFix) {
  auto weak = Open(UriAs("weak", kWeakPassword));
  ASSERT_NE(weak, nullptr);
  auto report = weak->write_freeze()->Freeze(FreezeOptions{});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kPermissionDenied);
  const std::string message = report.status().message();
  EXPECT_TRUE(Contains(message,
                       "GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only "
                       "TO \"weak\""))
      << message;
  EXPECT_TRUE(Contains(message, "pg_signal_backend")) << message;
  EXPECT_TRUE(Contains(message, "SUPERUSER")) << message;
  EXPECT_FALSE(Contains(message, kWeakPassword)) << message;
  auto thaw = weak->write_freeze()->Thaw();
  EXPECT_EQ(thaw.code(), StatusCode::kPermissionDenied) << thaw.ToString();
  auto state = freeze_->State();
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->frozen) << "a refused Freeze changed the server";
}

TEST_F(PostgresWriteFreezeTest, ANonSuperuserWithTheGrantsFreezesAndTerminates) {
  auto delegate = Open(UriAs("delegate", kDelegatePassword));
  ASSERT_NE(delegate, nullptr);
  PostgresClient holder = ConnectApp();
  holder.Execute("BEGIN");
  holder.Execute("INSERT INTO public.writes (tag) VALUES ('delegate-uncommitted')");
  auto report = delegate->write_freeze()->Freeze(FreezeOptions{.lock_wait = 200ms});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GE(report->sessions_ended, 1) << report->detail;
  PostgresClient fresh = ConnectApp();
  ExpectReadOnly(fresh, "delegate-frozen");
  auto thaw = delegate->write_freeze()->Thaw();
  ASSERT_TRUE(thaw.ok()) << thaw.ToString();
  ExpectWritable(fresh, "delegate-thawed");
  EXPECT_EQ(CountTag("delegate-uncommitted"), 0);
}

TEST_F(PostgresWriteFreezeTest, AConcurrentWriterLosesNoAcknowledgedInsertAndGetsNoneInAfter) {
  std::atomic<bool> stop{false};
  std::atomic<bool> frozen{false};  // set once Freeze has returned
  std::atomic<int64_t> acknowledged{0};
  std::atomic<int64_t> acknowledged_after_freeze{0};
  std::atomic<int64_t> refused_after_freeze{0};
  std::string writer_error;  // written by the writer thread, read after join
  std::thread writer([&] {
    std::optional<PostgresClient> client;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      try {
        if (!client) {
          client.emplace(ConnectApp());
        }
      } catch (const std::runtime_error& error) {
        writer_error = error.what();
        std::this_thread::sleep_for(20ms);
        continue;
      }
      const bool after_freeze = frozen.load();
      const std::string error =
          ErrorOf(*client, "INSERT INTO public.writes (tag) VALUES ('writer')");
      if (error.empty()) {
        acknowledged.fetch_add(1);
        if (after_freeze) {
          acknowledged_after_freeze.fetch_add(1);
        }
      } else if (Contains(error, "read-only transaction")) {
        if (after_freeze) {
          refused_after_freeze.fetch_add(1);
        }
      } else {
        client.reset();  // terminated: reconnect
      }
      std::this_thread::sleep_for(2ms);
    }
  });

  const auto wait_until = [](const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!condition() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    return condition();
  };
  EXPECT_TRUE(wait_until([&] { return acknowledged.load() >= 100; })) << writer_error;
  auto report = freeze_->Freeze(FreezeOptions{.lock_wait = 500ms});
  frozen.store(true);
  const int64_t acknowledged_at_freeze = acknowledged.load();
  EXPECT_TRUE(wait_until([&] { return refused_after_freeze.load() >= 50; })) << writer_error;
  stop.store(true);
  writer.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();

  EXPECT_EQ(acknowledged_after_freeze.load(), 0);
  EXPECT_EQ(acknowledged.load(), acknowledged_at_freeze);
  EXPECT_EQ(CountTag("writer"), acknowledged.load());
}

}  // namespace
}  // namespace tandem::postgres_test
