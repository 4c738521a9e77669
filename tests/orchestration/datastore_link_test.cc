// DatastoreLink, DatastoreLagGate and ConsistencyGate against real servers: `tandem sync` runs as
// the link's supervised child (the binary of this build tree), the copy completes, the lag and
// consistency gates pass, a row changed directly on the target fails the consistency gate naming
// it, a kill -9 of the child is repaired by the supervisor, Stop() leaves no child behind, and a
// refused login fails the link at once without a restart loop.
//
// MariaDB uses the shared servers (a fresh database and a stream named after it); Redis uses a
// private pair, since `tandem sync` takes a Redis target whole (it empties it first).
#include "orchestration/datastore_link.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "orchestration/consistency_gate.h"
#include "orchestration/datastore_lag_gate.h"
#include "tests/harness/files.h"
#include "tests/harness/redis_server.h"
#include "tests/harness/shared_servers.h"
#include "tests/harness/wait.h"
#include "tools/applied_position.h"
#include "tools/database_opener.h"
#include "tools/heartbeat_opener.h"

namespace tandem::orchestration {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::PollUntil;
using testing::Side;

DatastoreLinkPorts Ports(const std::string& log_directory) {
  DatastoreLinkPorts ports;
  ports.open_database = tools::OpenDatabase;
  ports.open_applied_reader = tools::OpenAppliedPositionReader;
  ports.lag.writer = tools::OpenHeartbeatWriter;
  ports.lag.reader = tools::OpenHeartbeatReader;  // no probe: sync is no native replication
  ports.tandem_binary = TANDEM_BINARY_PATH;
  ports.log_directory = log_directory;
  ports.sync_threads = 2;
  return ports;
}

DatastorePlan Plan(const std::string& name, const std::string& source_uri,
                   const std::string& target_uri) {
  DatastorePlan plan;
  plan.name = name;
  auto source = engine::ParseConnectionUri(source_uri, "source", "");
  auto target = engine::ParseConnectionUri(target_uri, "target", "");
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_TRUE(target.ok()) << target.status().ToString();
  if (source.ok()) {
    plan.source = *source;
    plan.source_uri_redacted = source->Redacted();
  }
  if (target.ok()) {
    plan.target = *target;
    plan.target_uri_redacted = target->Redacted();
  }
  return plan;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

GateReading Read(Gate& gate) { return gate.Evaluate(std::chrono::steady_clock::now()); }

// Waits until `gate` reads `verdict`; the last reading for the failure message.
bool WaitForVerdict(Gate& gate, GateVerdict verdict, milliseconds timeout, GateReading* last) {
  return PollUntil(timeout, [&] {
    *last = Read(gate);
    return last->verdict == verdict;
  });
}

// The whole life of one link: copy, gates passing, a target write caught, kill -9 repaired, the
// drain, Stop. `write_on_target(tampered)` changes (true) or repairs (false) one row/key on the
// target; `expected_in_summary` are strings the failing consistency reading must name;
// `write_batch_on_source()` writes 100 rows/keys on the source, `batch_on_target()` says whether
// all of them are on the target.
void ExerciseLink(DatastoreLink& link, int64_t rows,
                  const std::function<void(bool tampered)>& write_on_target,
                  const std::vector<std::string>& expected_in_summary,
                  const std::function<bool()>& source_write_arrived,
                  const std::function<void()>& write_batch_on_source,
                  const std::function<bool()>& batch_on_target) {
  ASSERT_TRUE(link.StartStream().ok());
  ASSERT_TRUE(link.StartStream().ok()) << "StartStream is idempotent";

  StreamProgress progress;
  ASSERT_TRUE(PollUntil(seconds(60),
                        [&] {
                          progress = link.Progress();
                          return progress.copy_done || progress.state == StreamState::kFailed;
                        }))
      << "the copy did not complete; state " << StreamStateName(progress.state);
  ASSERT_TRUE(progress.copy_done) << progress.last_error;
  EXPECT_EQ(progress.state, StreamState::kRunning);
  EXPECT_EQ(progress.restarts, 0);
  EXPECT_GT(progress.child_pid, 0);
  // Progress is read once a second at most while copying: take a reading after the copy.
  progress = link.Progress();
  EXPECT_GE(progress.copied, rows);
  EXPECT_GE(progress.total_estimate, progress.copied);
  EXPECT_FALSE(progress.eta.has_value());

  DatastoreLagGate lag_gate(link, milliseconds(100));
  EXPECT_EQ(lag_gate.name(), "lag " + link.name());
  GateReading lag;
  ASSERT_TRUE(WaitForVerdict(lag_gate, GateVerdict::kPassing, seconds(30), &lag)) << lag.Describe();
  EXPECT_GT(lag.samples, 0);
  EXPECT_LT(lag.value, 100.0);
  EXPECT_EQ(lag.threshold, 100.0);

  ConsistencyGate consistency(link, milliseconds(200));
  EXPECT_EQ(consistency.name(), "consistency " + link.name());
  GateReading verdict = Read(consistency);
  EXPECT_EQ(verdict.verdict, GateVerdict::kInsufficient) << verdict.Describe();
  ASSERT_TRUE(WaitForVerdict(consistency, GateVerdict::kPassing, seconds(60), &verdict))
      << verdict.Describe();
  EXPECT_GE(verdict.samples, 1);

  // A write that bypassed the stream is caught, naming the table and key.
  write_on_target(true);
  ASSERT_TRUE(WaitForVerdict(consistency, GateVerdict::kFailing, seconds(60), &verdict))
      << verdict.Describe();
  EXPECT_EQ(verdict.value, 1.0) << verdict.detail;
  EXPECT_EQ(verdict.threshold, 0.0);
  for (const std::string& expected : expected_in_summary) {
    EXPECT_NE(verdict.detail.find(expected), std::string::npos) << verdict.detail;
  }

  // kill -9 of the sync: the supervisor starts it again, and it resumes from its checkpoint.
  const pid_t killed = link.Progress().child_pid;
  ASSERT_GT(killed, 0);
  ASSERT_EQ(::kill(killed, SIGKILL), 0);
  // Heartbeats stop arriving while no sync runs: the lag gate fails on the current lag.
  EXPECT_TRUE(WaitForVerdict(lag_gate, GateVerdict::kFailing, seconds(10), &lag)) << lag.Describe();
  ASSERT_TRUE(PollUntil(seconds(30),
                        [&] {
                          progress = link.Progress();
                          return progress.restarts == 1 &&
                                 progress.state == StreamState::kRunning &&
                                 progress.child_pid > 0 && progress.child_pid != killed;
                        }))
      << "restarts " << progress.restarts << ", state " << StreamStateName(progress.state);
  EXPECT_FALSE(ProcessExists(killed));

  write_on_target(false);  // repair
  ASSERT_TRUE(PollUntil(seconds(60), source_write_arrived))
      << "a source write made after the restart did not arrive";
  ASSERT_TRUE(WaitForVerdict(consistency, GateVerdict::kPassing, seconds(60), &verdict))
      << verdict.Describe();
  ASSERT_TRUE(WaitForVerdict(lag_gate, GateVerdict::kPassing, seconds(30), &lag)) << lag.Describe();
  EXPECT_EQ(link.Progress().restarts, 1);

  // The drain, exact: once the stream's checkpoint has reached the source's position read after
  // a batch of writes, every one of them is on the target, at once (no polling).
  write_batch_on_source();
  auto position = link.SourcePosition();
  ASSERT_TRUE(position.ok()) << position.status().ToString();
  auto drained = link.WaitUntilApplied(*position, seconds(30), [] { return false; });
  ASSERT_TRUE(drained.ok()) << drained.status().ToString();
  EXPECT_TRUE(batch_on_target()) << "drained to " << engine::Serialize(*position)
                                 << " but the batch is not all on the target";
  // A position the stream cannot reach in time (the sync is paused) is a timeout naming it.
  // And a stop ends the wait at once.
  const pid_t paused = link.Progress().child_pid;
  ASSERT_EQ(::kill(paused, SIGSTOP), 0);
  write_batch_on_source();
  auto ahead = link.SourcePosition();
  engine::Result<std::chrono::milliseconds> late = milliseconds(0);
  engine::Result<std::chrono::milliseconds> cancelled = milliseconds(0);
  if (ahead.ok()) {
    late = link.WaitUntilApplied(*ahead, milliseconds(300), [] { return false; });
    cancelled = link.WaitUntilApplied(*ahead, seconds(30), [] { return true; });
  }
  ASSERT_EQ(::kill(paused, SIGCONT), 0);
  ASSERT_TRUE(ahead.ok()) << ahead.status().ToString();
  EXPECT_EQ(late.status().code(), engine::StatusCode::kTimeout) << late.status().ToString();
  EXPECT_NE(late.status().message().find(engine::Serialize(*ahead)), std::string::npos)
      << late.status().message();
  EXPECT_EQ(cancelled.status().code(), engine::StatusCode::kCancelled)
      << cancelled.status().ToString();

  const pid_t running = link.Progress().child_pid;
  ASSERT_GT(running, 0);
  link.Stop();
  EXPECT_FALSE(ProcessExists(running)) << "Stop() left the sync " << running << " running";
  progress = link.Progress();
  EXPECT_EQ(progress.state, StreamState::kStopped);
  EXPECT_EQ(progress.child_pid, 0);
  // A stopped stream has no lag measurement; the gate cannot pass.
  EXPECT_EQ(Read(lag_gate).verdict, GateVerdict::kInsufficient);
}

TEST(UriWithoutPassword, KeepsEverythingButThePassword) {
  auto parsed = engine::ParseConnectionUri(
      "mysql://us%40er:p%40ss-word@db.example:3307/shop%20db?ssl-mode=VERIFY_CA&"
      "ssl-ca=/tmp/ca%26x.pem&ssl-cert=/c.pem&ssl-key=/k.pem&connect_timeout=5&read_timeout=7",
      "source", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const std::string uri = parsed->UriWithoutPassword();
  EXPECT_EQ(uri.find("p%40ss"), std::string::npos) << uri;
  EXPECT_EQ(uri.find("p@ss"), std::string::npos) << uri;
  auto again = engine::ParseConnectionUri(uri, "source", "");
  ASSERT_TRUE(again.ok()) << uri << ": " << again.status().ToString();
  EXPECT_EQ(again->user, "us@er");
  EXPECT_EQ(again->password, "");
  EXPECT_EQ(again->host, "db.example");
  EXPECT_EQ(again->port, 3307);
  EXPECT_EQ(again->database, "shop db");
  EXPECT_EQ(again->tls.mode, engine::TlsMode::kVerifyCa);
  EXPECT_EQ(again->tls.ca_file, "/tmp/ca&x.pem");
  EXPECT_EQ(again->tls.cert_file, "/c.pem");
  EXPECT_EQ(again->tls.key_file, "/k.pem");
  EXPECT_EQ(again->connect_timeout, seconds(5));
  EXPECT_EQ(again->read_timeout, seconds(7));
}

TEST(UriWithoutPassword, KeepsRedisTlsAndDatabase) {
  auto parsed = engine::ParseConnectionUri("rediss://:secret@[::1]:6380/3", "target", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const std::string uri = parsed->UriWithoutPassword();
  EXPECT_EQ(uri.find("secret"), std::string::npos) << uri;
  auto again = engine::ParseConnectionUri(uri, "target", "");
  ASSERT_TRUE(again.ok()) << uri << ": " << again.status().ToString();
  EXPECT_EQ(again->engine, engine::EngineKind::kRedis);
  EXPECT_EQ(again->host, "::1");
  EXPECT_EQ(again->port, 6380);
  EXPECT_EQ(again->database, "3");
  EXPECT_EQ(again->tls.mode, engine::TlsMode::kRequire);
}

lag::LagSnapshot Snapshot(uint64_t samples, double p99_ms, double current_ms) {
  lag::LagSnapshot snapshot;
  snapshot.window.samples = samples;
  snapshot.window.p99_ms = p99_ms;
  snapshot.current_lag_ms = current_ms;
  return snapshot;
}

TEST(DatastoreLagGateRead, NoMeasurementIsInsufficientWithTheReason) {
  const GateReading reading = DatastoreLagGate::Read("lag shop", std::nullopt,
                                                     "cannot measure: refused", milliseconds(100));
  EXPECT_EQ(reading.verdict, GateVerdict::kInsufficient);
  EXPECT_EQ(reading.detail, "cannot measure: refused");
  EXPECT_EQ(reading.name, "lag shop");
  EXPECT_EQ(reading.threshold, 100.0);
}

TEST(DatastoreLagGateRead, NoSampleYetIsInsufficient) {
  EXPECT_EQ(DatastoreLagGate::Read("lag", Snapshot(0, 0, 20), "", milliseconds(100)).verdict,
            GateVerdict::kInsufficient);
}

TEST(DatastoreLagGateRead, P99AndCurrentBelowMaxPass) {
  const GateReading reading =
      DatastoreLagGate::Read("lag", Snapshot(40, 30, 12), "", milliseconds(100));
  EXPECT_EQ(reading.verdict, GateVerdict::kPassing) << reading.detail;
  EXPECT_EQ(reading.value, 30.0);
  EXPECT_EQ(reading.samples, 40);
}

TEST(DatastoreLagGateRead, P99AtOrAboveMaxFails) {
  EXPECT_EQ(DatastoreLagGate::Read("lag", Snapshot(40, 100, 12), "", milliseconds(100)).verdict,
            GateVerdict::kFailing);
}

TEST(DatastoreLagGateRead, StoppedStreamFailsOnCurrentLagWithoutSamples) {
  // No heartbeat arrives any more: the window empties, the oldest unseen one keeps ageing.
  const GateReading reading =
      DatastoreLagGate::Read("lag", Snapshot(0, 0, 2500), "", milliseconds(100));
  EXPECT_EQ(reading.verdict, GateVerdict::kFailing);
  EXPECT_EQ(reading.value, 2500.0);
}

TEST(DatastoreLagGateRead, FailedMeasurementIsInsufficient) {
  lag::LagSnapshot snapshot = Snapshot(40, 10, 10);
  snapshot.error = engine::ConnectionFailed("source went away");
  const GateReading reading = DatastoreLagGate::Read("lag", snapshot, "", milliseconds(100));
  EXPECT_EQ(reading.verdict, GateVerdict::kInsufficient);
  EXPECT_NE(reading.detail.find("source went away"), std::string::npos) << reading.detail;
}

class MariaDbLink : public ::testing::Test {
 protected:
  void TearDown() override {
    if (servers_ != nullptr && !database_.empty()) {
      servers_->ExecuteMySql(Side::kSource, "DROP DATABASE IF EXISTS " + database_);
      servers_->ExecuteMySql(Side::kTarget, "DROP DATABASE IF EXISTS " + database_);
    }
  }

  // A fresh database with `rows` rows in items(id, name, qty) on the source, empty on the target.
  void MakeDatabase(const testing::SharedServers* servers, int rows) {
    servers_ = servers;
    database_ = testing::UniqueName("link");
    servers->ExecuteMySql(Side::kSource, "CREATE DATABASE " + database_);
    servers->ExecuteMySql(Side::kTarget, "CREATE DATABASE " + database_);
    servers->ExecuteMySql(Side::kSource,
                          "CREATE TABLE " + database_ +
                              ".items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT "
                              "NOT NULL) ENGINE=InnoDB");
    std::string insert = "INSERT INTO " + database_ + ".items VALUES ";
    for (int id = 1; id <= rows; ++id) {
      insert += (id > 1 ? "," : "") + std::string("(") + std::to_string(id) + ", 'item " +
                std::to_string(id) + "', " + std::to_string(id * 3) + ")";
    }
    servers->ExecuteMySql(Side::kSource, insert);
  }

  const testing::SharedServers* servers_ = nullptr;
  std::string database_;
};

TEST_F(MariaDbLink, StreamsMeasuresVerifiesSurvivesKillAndStops) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MakeDatabase(servers, 300);
  testing::TempDir logs("tandem-link-logs");
  DatastoreLink link(
      Plan(database_, servers->mysql_source_uri(database_), servers->mysql_target_uri(database_)),
      Ports(logs.path()));
  const std::string table = database_ + ".items";
  ExerciseLink(
      link, 300,
      [&](bool tampered) {
        servers->ExecuteMySql(Side::kTarget, "UPDATE " + table + " SET qty = " +
                                                 (tampered ? "999" : "21") + " WHERE id = 7");
      },
      {table, "id=7", "qty"},
      [&, inserted = false]() mutable {
        if (!inserted) {
          servers->ExecuteMySql(Side::kSource, "INSERT INTO " + table + " VALUES (1001, 'new', 1)");
          inserted = true;
        }
        return !servers->QueryMySql(Side::kTarget, "SELECT id FROM " + table + " WHERE id = 1001")
                    .empty();
      },
      [&, next = 2000]() mutable {
        for (int i = 0; i < 100; ++i, ++next) {
          servers->ExecuteMySql(Side::kSource, "INSERT INTO " + table + " VALUES (" +
                                                   std::to_string(next) + ", 'batch', 1)");
        }
      },
      [&] {
        return servers->QueryMySql(Side::kTarget,
                                   "SELECT COUNT(*) FROM " + table + " WHERE name = 'batch'") ==
               servers->QueryMySql(Side::kSource,
                                   "SELECT COUNT(*) FROM " + table + " WHERE name = 'batch'");
      });
  EXPECT_EQ(link.Progress().copied, 300);
  const std::string log = ReadFile(logs.path() + "/" + database_ + ".sync.log");
  EXPECT_NE(log.find("streaming changes"), std::string::npos) << log;
  EXPECT_EQ(log.find("tandem-secret"), std::string::npos) << "a password reached the log";
}

TEST_F(MariaDbLink, RefusedLoginFailsTheLinkWithoutRestarting) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  MakeDatabase(servers, 10);
  testing::TempDir logs("tandem-link-logs");
  const std::string bad_target = "mysql://tandem:not-the-password@127.0.0.1:" +
                                 std::to_string(servers->mysql_port(Side::kTarget)) + "/" +
                                 database_;
  DatastoreLink link(Plan(database_, servers->mysql_source_uri(database_), bad_target),
                     Ports(logs.path()));
  ASSERT_TRUE(link.StartStream().ok());
  StreamProgress progress;
  ASSERT_TRUE(PollUntil(seconds(30), [&] {
    progress = link.Progress();
    return progress.state == StreamState::kFailed;
  })) << StreamStateName(progress.state);
  EXPECT_NE(progress.last_error.find("tandem sync:"), std::string::npos) << progress.last_error;
  EXPECT_EQ(progress.last_error.find("not-the-password"), std::string::npos);
  EXPECT_EQ(progress.restarts, 0);
  EXPECT_EQ(progress.child_pid, 0);
  // Failed is final: over more than the first backoff nothing restarts it, and StartStream
  // refuses with the reason.
  EXPECT_FALSE(PollUntil(milliseconds(1500), [&] { return link.Progress().restarts > 0; }));
  const engine::Status again = link.StartStream();
  EXPECT_EQ(again.code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("tandem sync:"), std::string::npos) << again.message();
  const std::string log = ReadFile(logs.path() + "/" + database_ + ".sync.log");
  size_t starts = 0;
  for (size_t at = log.find("tandem run starts"); at != std::string::npos;
       at = log.find("tandem run starts", at + 1)) {
    ++starts;
  }
  EXPECT_EQ(starts, 1u) << log;
}

class PostgresLink : public ::testing::Test {
 protected:
  void TearDown() override {
    if (servers_ == nullptr || database_.empty()) {
      return;
    }
    // The stream's slot outlives the sync by design; it would pin WAL and the database.
    servers_->QueryPostgres(Side::kSource,
                            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                            "WHERE database = '" +
                                database_ + "' AND NOT active");
    servers_->ExecutePostgres(Side::kSource,
                              "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    servers_->ExecutePostgres(Side::kTarget,
                              "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
  }

  const testing::SharedServers* servers_ = nullptr;
  std::string database_;
};

TEST_F(PostgresLink, StreamsMeasuresVerifiesSurvivesKillAndStops) {
  TANDEM_SHARED_SERVERS_OR_SKIP(servers);
  servers_ = servers;
  database_ = testing::UniqueName("link");
  const std::string create =
      "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)";
  for (Side side : {Side::kSource, Side::kTarget}) {
    servers->ExecutePostgres(side, "CREATE DATABASE " + database_ + " OWNER tandem");
    servers->ExecutePostgres(side, create, database_);
    servers->ExecutePostgres(side, "ALTER TABLE items OWNER TO tandem", database_);
  }
  servers->ExecutePostgres(Side::kSource,
                           "INSERT INTO items SELECT i, 'item ' || i, i * 3 "
                           "FROM generate_series(1, 300) AS i",
                           database_);
  testing::TempDir logs("tandem-link-logs");
  DatastoreLink link(Plan(database_, servers->postgres_source_uri(database_),
                          servers->postgres_target_uri(database_)),
                     Ports(logs.path()));
  ExerciseLink(
      link, 300,
      [&](bool tampered) {
        servers->ExecutePostgres(
            Side::kTarget,
            std::string("UPDATE items SET qty = ") + (tampered ? "999" : "21") + " WHERE id = 7",
            database_);
      },
      {"public.items", "id=7", "qty"},
      [&, inserted = false]() mutable {
        if (!inserted) {
          servers->ExecutePostgres(Side::kSource, "INSERT INTO items VALUES (1001, 'new', 1)",
                                   database_);
          inserted = true;
        }
        return !servers
                    ->QueryPostgres(Side::kTarget, "SELECT id FROM items WHERE id = 1001",
                                    database_)
                    .empty();
      },
      [&, next = 2000]() mutable {
        for (int i = 0; i < 100; ++i, ++next) {
          servers->ExecutePostgres(
              Side::kSource, "INSERT INTO items VALUES (" + std::to_string(next) + ", 'batch', 1)",
              database_);
        }
      },
      [&] {
        const std::string count = "SELECT count(*) FROM items WHERE name = 'batch'";
        return servers->QueryPostgres(Side::kTarget, count, database_) ==
               servers->QueryPostgres(Side::kSource, count, database_);
      });
  EXPECT_EQ(link.Progress().copied, 300);
}

TEST(RedisLink, StreamsMeasuresVerifiesSurvivesKillAndStops) {
  testing::TempDir dir("tandem-link-redis");
  auto source = testing::RedisServer::Start(dir.path());
  auto target = testing::RedisServer::Start(dir.path());
  for (int i = 0; i < 200; ++i) {
    source->Command({"SET", "k:" + std::to_string(i), "value " + std::to_string(i)});
  }
  DatastoreLink link(Plan("redis_link", source->Uri(0), target->Uri(0)), Ports(dir.path()));
  ExerciseLink(
      link, 200,
      [&](bool tampered) {
        target->Command({"SET", "k:7", tampered ? "tampered" : "value 7"});
      },
      {"redis.db0", "k:7"},
      [&, written = false]() mutable {
        if (!written) {
          source->Command({"SET", "after-restart", "1"});
          written = true;
        }
        return target->Command({"EXISTS", "after-restart"}) == "1";
      },
      [&, next = 0]() mutable {
        for (int i = 0; i < 100; ++i, ++next) {
          source->Command({"SET", "batch:" + std::to_string(next), "1"});
        }
      },
      [&] {
        for (int i = 0;; ++i) {
          const std::string key = "batch:" + std::to_string(i);
          if (source->Command({"EXISTS", key}) != "1") return true;
          if (target->Command({"EXISTS", key}) != "1") return false;
        }
      });
}

// Whether `pid` is gone or a zombie waiting for its new parent to reap it.
bool ProcessGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) {
    return true;
  }
  const size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

TEST(RedisLink, SyncStopsCleanlyWhenTheControllerIsKilled) {
  testing::TempDir dir("tandem-link-redis");
  auto source = testing::RedisServer::Start(dir.path());
  auto target = testing::RedisServer::Start(dir.path());
  source->Command({"SET", "k", "v"});
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const std::string source_uri = source->Uri(0);
  const std::string target_uri = target->Uri(0);
  const std::string logs = dir.path();
  // The controller: a forked copy of this process that starts the link and reports the sync's
  // pid, then waits to be killed.
  const pid_t controller = ::fork();
  ASSERT_GE(controller, 0);
  if (controller == 0) {
    ::close(pipe_fds[0]);
    auto* link = new DatastoreLink(Plan("orphan", source_uri, target_uri), Ports(logs));
    if (!link->StartStream().ok()) {
      ::_exit(1);
    }
    pid_t sync = 0;
    PollUntil(seconds(30), [&] {
      StreamProgress progress = link->Progress();
      sync = progress.copy_done ? progress.child_pid : 0;
      return sync > 0;
    });
    if (::write(pipe_fds[1], &sync, sizeof sync) != sizeof sync) {
      ::_exit(1);
    }
    for (;;) {
      ::pause();
    }
  }
  ::close(pipe_fds[1]);
  pid_t sync = 0;
  const ssize_t got = ::read(pipe_fds[0], &sync, sizeof sync);
  ::close(pipe_fds[0]);
  ::kill(controller, SIGKILL);
  int status = 0;
  ::waitpid(controller, &status, 0);
  ASSERT_EQ(got, static_cast<ssize_t>(sizeof sync));
  ASSERT_GT(sync, 0) << "the controller's sync never finished its copy";
  EXPECT_TRUE(PollUntil(seconds(20), [&] { return ProcessGone(sync); }))
      << "the sync " << sync << " outlived its killed controller";
  if (!ProcessGone(sync)) {
    ::kill(sync, SIGKILL);
  }
  // SIGTERM, not SIGKILL: the sync ended its run itself and said so.
  EXPECT_TRUE(PollUntil(seconds(5), [&] {
    // The report's line "stopped            signal".
    std::istringstream lines(ReadFile(logs + "/orphan.sync.log"));
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("stopped ") && line.ends_with(" signal")) {
        return true;
      }
    }
    return false;
  })) << ReadFile(logs + "/orphan.sync.log");
}

}  // namespace
}  // namespace tandem::orchestration
