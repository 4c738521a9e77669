// File: tests/tools/writer_migration.h
//
// A whole migration with a writer route, for the `tandem run` tests of phases 5 and 6 and of
// --rollback: two private servers of one engine (old, holding the seed rows; new, with the schema
// only), the application's ordinary account on both (bound by the write freeze), the traffic rig's
// HAProxy with the TCP writer backend "orders_db" (old in, new out), a plan with the datastore
// "orders" and phase 6, and an application-like writer (tests/harness/app_writer.h) inserting ids
// through the writer frontend at 300 writes/s.
//
// What the engine contributes (WriterEngine): the servers, their URIs, the application's client
// and how the application's ids are read back. MariaDB, PostgreSQL and Redis.
//
// A watcher thread reads the writer backend every 20 ms (one `show stat`, so one instant) for the
// whole test and records any moment with both servers in the backend: the invariant that two
// writable primaries are never reachable by clients at once.
//
// Threading: the test thread owns the object; the writer and the watcher run threads of their own.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "tests/harness/app_writer.h"
#include "tests/harness/files.h"
#include "tests/tools/run_plan_support.h"

namespace tandem::testing {

enum class MigrationSide { kOld, kNew };

class WriterEngine {
 public:
  virtual ~WriterEngine() = default;
  virtual const char* name() const = 0;
  virtual std::string Uri(MigrationSide side) const = 0;  // tandem's account
  virtual uint16_t Port(MigrationSide side) const = 0;
  virtual AppClient App() const = 0;  // the ordinary account's client
  // The application's ids present on the side (the seed's are below kFirstAppId).
  virtual std::set<int> AppIds(MigrationSide side) const = 0;
  // Whether the side refuses an ordinary client's write right now.
  virtual bool FrozenForClients(MigrationSide side) const = 0;
  // Whether the old side stays frozen once the writes went to the new side. Not for Redis: its
  // CLIENT PAUSE is lifted when the reverse stream starts (the old side is out of the writer
  // backend then, so no client reaches it); SQL engines keep the old side read-only.
  virtual bool OldStaysFrozenAfterTheSwitch() const { return true; }
  // PostgreSQL: the side's WAL position now (pg_current_wal_lsn()); nullopt for other engines.
  virtual std::optional<std::string> WalPosition(MigrationSide /*side*/) const {
    return std::nullopt;
  }
  // PostgreSQL: whether every logical replication slot on the side has confirmed `lsn` (from
  // WalPosition).
  virtual bool SlotsConfirmed(MigrationSide /*side*/, const std::string& /*lsn*/) const {
    return false;
  }
  // Changes a seed row (key) on the side as an administrator, behind tandem's back, so that the
  // sides differ.
  virtual void ChangeBehindTandem(MigrationSide side) const = 0;
};

// MariaDB: database shop, table items (id, name, qty) with 300 seed rows; account app.
std::unique_ptr<WriterEngine> StartMariaDbWriterEngine(const std::string& dir);
// PostgreSQL: database shop, table items (id, name, qty) with 300 seed rows on the old side and
// the table alone on the new one; role app (no superuser).
std::unique_ptr<WriterEngine> StartPostgresWriterEngine(const std::string& dir);
// Redis: keys item:<id> in db 0, 300 seed keys on the old side; a plain client as the application.
std::unique_ptr<WriterEngine> StartRedisWriterEngine(const std::string& dir);

class WriterMigration {
 public:
  static constexpr int kFirstAppId = 100'000;

  struct Options {
    std::string window = "10m";  // [monitor] window
    bool rollback_on_breach = false;
    std::string extra_plan;  // appended to the plan (e.g. a [dns] section)
  };

  // `start_engine` starts the engine's servers in a directory the migration owns (removed after
  // them).
  using EngineStarter = std::unique_ptr<WriterEngine> (*)(const std::string& dir);
  WriterMigration(EngineStarter start_engine, const Options& options);
  ~WriterMigration();

  const std::string& plan() const { return plan_; }
  WriterEngine& engine() { return *engine_; }
  TrafficRig& rig() { return *rig_; }
  AppWriter& writer() { return *writer_; }
  nlohmann::json Status() const;  // `tandem status --format json`
  // Starts the application's writer (300 writes/s) through the writer frontend, with ids after
  // every earlier writer's; a writer still running is stopped (as by StopWriter) first.
  void StartWriter();
  // Stops it; returns the ids it saw acknowledged and those of unknown outcome.
  void StopWriter(std::set<int>* acknowledged, std::set<int>* uncertain);

  // Whether the writer backend sends new connections to the new side (new in, old out).
  bool WritesOnNew();
  // The moments the watcher saw both servers in the writer backend ("" when none).
  std::string BothInBackend() const;

  // Waits (up to `timeout`) until `tandem status` shows the run at step `step`, or `run` ended.
  bool WaitForStep(TandemProcess& run, const std::string& step, std::chrono::milliseconds timeout);

  // After a rollback (or a resumed run): the writes end on the side that holds them, every
  // acknowledged id there, nothing on it that nobody wrote, and the other side equal once
  // the stream that now runs has caught up (`tandem sync ... --until-caught-up`). After a
  // completed run whose outcome says the reverse stream's slot was dropped (PostgreSQL), no stream
  // runs to the old side: only the new side is checked.
  void ExpectNothingLost(MigrationSide writes_on);

 private:
  void Watch();

  TempDir servers_dir_;
  std::unique_ptr<WriterEngine> engine_;
  std::unique_ptr<TrafficRig> rig_;
  std::unique_ptr<AppWriter> writer_;
  std::string plan_;
  std::atomic<bool> stop_watch_{false};
  mutable std::mutex watch_mu_;
  std::string both_in_;  // guarded by watch_mu_
  std::thread watcher_;
  std::set<int> acknowledged_, uncertain_;  // of writers stopped so far
  int next_id_ = kFirstAppId;
};

}  // namespace tandem::testing
