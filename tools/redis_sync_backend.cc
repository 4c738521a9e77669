// SyncBackend for Redis -> Redis, tandem attached to the source as a replica
// (tools/sync_backend.h).
//
// The run, in order (each step resumable; the target's _tandem: keys in database 0 say where a
// killed run stopped):
//   1. Checks: both servers answer; the target is a primary (a replica target is read-only); the
//      target holds no data, or only this stream's (its checkpoint or its "loading" mark), since
//      a full resync replaces the target's whole dataset as a native replica does; the target has
//      as many databases as the source uses; how values travel (RESTORE when the target reads the
//      source's RDB version, else rewritten into commands).
//   2. The lock _tandem:lock:<stream> holds the CLIENT ID of this run's lock connection; a new run
//      takes it over only when that client is gone (CLIENT LIST ID), so a kill -9 never blocks
//      the next run, and two live runs never share a stream.
//   3. No checkpoint: PSYNC ? -1 (full resync). In one MULTI the target is emptied (FLUSHALL) and
//      marked "loading"; the snapshot is parsed as it arrives and loaded (RedisSnapshotLoader);
//      then, in one MULTI, the checkpoint "<stream>" = the snapshot's replication offset is set
//      and the mark removed. A kill before that finds the mark and loads again from scratch.
//   4. The stream continues on the same connection (the primary buffered the commands written
//      during the load). A restart asks PSYNC <replid> <checkpoint offset + 1>: +CONTINUE when the
//      source's backlog still holds it (a partial resync, no reload), else step 3 again.
//
// Commands on different keys are applied by --threads workers in parallel (the writeset keeps
// commands on one key, MULTI/EXEC blocks and commands whose keys are unknown in order). Each target
// commit is one MULTI/EXEC holding its commands, its checkpoint and the record of the transactions
// it applied, which is what makes a restart exact for commands that are not idempotent
// (redis_change_applier.h).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "connectors/redis/rdb/rdb_parser.h"
#include "connectors/redis/redis_change_applier.h"
#include "connectors/redis/redis_change_stream.h"
#include "connectors/redis/redis_command_keys.h"
#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_info.h"
#include "connectors/redis/redis_replication_client.h"
#include "connectors/redis/redis_snapshot_loader.h"
#include "engine/change_pipeline.h"
#include "tools/sync_backend.h"

namespace tandem::tools {
namespace {

namespace rd = connectors::redis;
using engine::Status;
using Clock = std::chrono::steady_clock;

// Every key of tandem's own on the target is in database 0 (redis_change_applier.h).
std::string LoadingKey(const std::string& stream) {
  return std::string(rd::kTandemKeyPrefix) + "loading:" + stream;
}

engine::Result<rd::InfoFields> ReadInfo(rd::Connection& connection, const std::string& section) {
  TANDEM_ASSIGN_OR_RETURN(rd::Reply reply, connection.Command({"INFO", section}));
  if (!reply.is_text()) {
    return engine::Corruption("INFO " + section + " on " + connection.config().Redacted() +
                              " did not return text");
  }
  return rd::InfoFields::Parse(reply.text);
}

// CLIENT SETNAME takes no spaces or newlines: anything but [A-Za-z0-9_.-] becomes '_'.
std::string ClientNameSafe(const std::string& text) {
  std::string safe = text;
  for (char& c : safe) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      c = '_';
    }
  }
  return safe;
}

// A connection in database 0, where tandem's keys live.
engine::Result<std::unique_ptr<rd::Connection>> OpenDatabaseZero(engine::ConnectionConfig config) {
  config.database = "0";
  return rd::Connection::Open(config);
}

// Whether MULTI ... EXEC ran (a nil EXEC reply means a WATCHed key changed).
engine::Result<bool> RunTransaction(rd::Connection& connection, const std::vector<rd::Argv>& body,
                                    const std::string& what) {
  std::vector<rd::Argv> commands;
  commands.reserve(body.size() + 2);
  commands.push_back({"MULTI"});
  commands.insert(commands.end(), body.begin(), body.end());
  commands.push_back({"EXEC"});
  TANDEM_ASSIGN_OR_RETURN(std::vector<rd::Reply> replies, connection.Pipeline(commands));
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error()) {
      return engine::FailedPrecondition(what + " on " + connection.config().Redacted() + ": " +
                                        rd::CommandName(commands[i]) + " refused (" +
                                        replies[i].text + ")");
    }
  }
  const rd::Reply& exec = replies.back();
  if (exec.is_nil()) {
    return false;
  }
  for (const rd::Reply& element : exec.elements) {
    if (element.is_error()) {
      return engine::FailedPrecondition(what + " on " + connection.config().Redacted() + ": " +
                                        element.text);
    }
  }
  return true;
}

// The attached replica connection a full resync leaves for the stream to continue on.
struct Attached {
  std::unique_ptr<rd::ReplicationClient> client;
  engine::ReplicationOffset start;
};

class RedisSyncBackend : public SyncBackend {
 public:
  RedisSyncBackend(const SyncSettings& settings, NoteFunction note)
      : settings_(settings), note_(std::move(note)) {}

  // Redis has no tables: the stream carries every database.
  engine::Result<SyncSelection> SelectTables() override { return SyncSelection{}; }

  Status CheckSource(const SyncSelection& selection) override {
    (void)selection;
    TANDEM_ASSIGN_OR_RETURN(auto source, rd::Connection::Open(settings_.source));
    TANDEM_ASSIGN_OR_RETURN(auto target, OpenDatabaseZero(settings_.target));
    TANDEM_ASSIGN_OR_RETURN(rd::InfoFields source_info, ReadInfo(*source, "everything"));
    TANDEM_ASSIGN_OR_RETURN(rd::InfoFields target_info, ReadInfo(*target, "everything"));

    const std::string source_version = source_info.Get("redis_version").value_or("");
    const std::string target_version = target_info.Get("redis_version").value_or("");
    const std::optional<int> source_rdb = rd::RdbVersionOfRedis(source_version);
    const std::optional<int> target_rdb = rd::RdbVersionOfRedis(target_version);
    if (!source_rdb || *source_rdb > 11) {
      return engine::Unsupported("source " + settings_.source.Redacted() + " runs Redis " +
                                 source_version +
                                 ", whose snapshots tandem cannot read (it reads Redis 2.8 to "
                                 "7.2): sync from a supported version");
    }
    if (!target_rdb) {
      return engine::Unsupported("target " + settings_.target.Redacted() + " runs Redis '" +
                                 target_version + "', which tandem does not recognise");
    }
    target_has_functions_ = rd::ParseVersionNumber(target_version).value_or(0) >= 70000;
    mode_ = *target_rdb >= *source_rdb ? rd::SnapshotLoaderOptions::Mode::kRestore
                                       : rd::SnapshotLoaderOptions::Mode::kCommands;
    if (target_info.Get("role").value_or("") != "master") {
      return engine::FailedPrecondition(
          "target " + settings_.target.Redacted() +
          " is a replica (read-only to tandem): make it a primary with REPLICAOF NO ONE");
    }
    for (const rd::ModuleInfo& module : rd::ModulesFromInfo(source_info)) {
      note_("the source loads module '" + module.name +
            "': keys of module data types cannot be synced; the snapshot load stops at the first "
            "one");
    }

    // Databases: the target must have every one the source holds keys in.
    TANDEM_ASSIGN_OR_RETURN(std::vector<engine::KeyspaceInfo> source_keyspace,
                            rd::ParseKeyspace(source_info));
    TANDEM_ASSIGN_OR_RETURN(std::vector<engine::KeyspaceInfo> target_keyspace,
                            rd::ParseKeyspace(target_info));
    auto databases = target->Command({"CONFIG", "GET", "databases"});
    if (databases.ok()) {
      auto config = rd::ParseConfigReply(*databases);
      if (config.ok() && config->count("databases")) {
        const std::optional<int64_t> count = rd::ParseInt64(config->at("databases"));
        for (const engine::KeyspaceInfo& db : source_keyspace) {
          if (count && db.database >= *count) {
            return engine::FailedPrecondition(
                "the source holds keys in database " + std::to_string(db.database) +
                " but the target " + settings_.target.Redacted() + " has only " +
                std::to_string(*count) + " databases: raise `databases` in its redis.conf");
          }
        }
      }
      auto policy = target->Command({"CONFIG", "GET", "maxmemory*"});
      if (policy.ok()) {
        auto fields = rd::ParseConfigReply(*policy);
        if (fields.ok() && fields->count("maxmemory") && fields->at("maxmemory") != "0" &&
            fields->count("maxmemory-policy") && fields->at("maxmemory-policy") != "noeviction") {
          note_("warning: the target evicts keys under memory pressure (maxmemory-policy " +
                fields->at("maxmemory-policy") +
                "): evicted keys are lost silently; set maxmemory-policy noeviction");
        }
      }
    }

    // The target holds nothing, or only what this stream put there. --from-now: the target is
    // expected to hold the source's data already (nothing is loaded into it).
    TANDEM_ASSIGN_OR_RETURN(bool ours, TargetHoldsThisStream(*target));
    if (!ours && !settings_.from_now) {
      int64_t user_keys = 0;
      for (const engine::KeyspaceInfo& db : target_keyspace) {
        user_keys += db.keys;
      }
      if (user_keys > 0) {
        TANDEM_ASSIGN_OR_RETURN(user_keys, CountUserKeys(*target, target_keyspace));
      }
      if (user_keys > 0) {
        return engine::FailedPrecondition(
            "the target " + settings_.target.Redacted() + " holds " + std::to_string(user_keys) +
            " key(s) and no state of stream '" + settings_.stream +
            "': a full sync replaces the target's whole dataset, as a replica does; empty it "
            "(FLUSHALL) or point at an empty server");
      }
    }
    // The source must let us in as a replica; the handshake itself is the check (PSYNC is only
    // sent by CopyOnce/OpenStream), so only permission is probed here where ACL can say.
    auto dry_run = source->Command({"ACL", "WHOAMI"});
    if (dry_run.ok() && dry_run->is_text()) {
      auto allowed = source->Command({"ACL", "DRYRUN", dry_run->text, "PSYNC", "?", "-1"});
      if (allowed.ok() && allowed->is_text() && allowed->text != "OK") {
        return engine::PermissionDenied("source " + settings_.source.Redacted() + ": user '" +
                                        dry_run->text + "' may not attach as a replica (" +
                                        allowed->text +
                                        "): grant +psync +replconf +ping, e.g. ACL SETUSER " +
                                        dry_run->text + " +psync +replconf +ping");
      }
    }
    return Status::Ok();
  }

  engine::Result<std::shared_ptr<void>> LockStream() override {
    TANDEM_ASSIGN_OR_RETURN(std::shared_ptr<rd::Connection> connection,
                            OpenDatabaseZero(settings_.target));
    // The lock names this connection's CLIENT ID, and the connection is named after the stream:
    // a holder counts as alive only while a client of that id and name exists, so neither a
    // killed run (its connection closes) nor a target restart (ids start again) blocks the stream.
    const std::string client_name = "tandem-sync-lock-" + ClientNameSafe(settings_.stream);
    TANDEM_RETURN_IF_ERROR(connection->Command({"CLIENT", "SETNAME", client_name}).status());
    TANDEM_ASSIGN_OR_RETURN(rd::Reply id, connection->Command({"CLIENT", "ID"}));
    const std::string mine = std::to_string(id.integer);
    const std::string key = rd::StreamLockKey(settings_.stream);
    for (int attempt = 0; attempt < 5; ++attempt) {
      TANDEM_RETURN_IF_ERROR(connection->Command({"WATCH", key}).status());
      TANDEM_ASSIGN_OR_RETURN(rd::Reply holder, connection->Command({"GET", key}));
      if (holder.is_text() && holder.text != mine) {
        TANDEM_ASSIGN_OR_RETURN(rd::Reply alive,
                                connection->Command({"CLIENT", "LIST", "ID", holder.text}));
        if (alive.is_text() && alive.text.find(" name=" + client_name + " ") != std::string::npos) {
          (void)connection->Command({"UNWATCH"});
          return engine::FailedPrecondition("another tandem sync of stream '" + settings_.stream +
                                            "' is running against " + settings_.target.Redacted() +
                                            " (client id " + holder.text + " holds " + key +
                                            "): stop it first, or give this one another --stream");
        }
      }
      TANDEM_ASSIGN_OR_RETURN(bool done,
                              RunTransaction(*connection, {{"SET", key, mine}}, "taking the lock"));
      if (done) {
        lock_holder_ = mine;
        return std::shared_ptr<void>(std::move(connection));
      }
    }
    return engine::FailedPrecondition("could not take " + key + " on " +
                                      settings_.target.Redacted() +
                                      ": another run keeps changing it");
  }

  engine::Result<CopySummary> CopyOnce(const SyncSelection& selection,
                                       const std::atomic<bool>* stop) override {
    (void)selection;
    stop_ = stop;
    CopySummary summary;
    TANDEM_ASSIGN_OR_RETURN(std::optional<engine::Checkpoint> checkpoint, ReadCheckpoint());
    if (checkpoint) {
      summary.already_complete = true;
      return summary;
    }
    const auto started = Clock::now();
    TANDEM_ASSIGN_OR_RETURN(Attached attached, Attach(std::nullopt));
    summary.rows_copied = last_load_keys_.load();
    summary.chunks_copied = 1;
    summary.elapsed = Clock::now() - started;
    std::lock_guard lock(mu_);
    handover_ = std::move(attached);
    return summary;
  }

  engine::Result<engine::Position> ReadSourceEnd() override {
    TANDEM_ASSIGN_OR_RETURN(auto source, rd::Connection::Open(settings_.source));
    TANDEM_ASSIGN_OR_RETURN(rd::InfoFields info, ReadInfo(*source, "replication"));
    std::optional<std::string> id = info.Get("master_replid");
    std::optional<int64_t> offset = info.GetInt("master_repl_offset");
    if (!id || !offset) {
      return engine::Corruption("INFO replication on " + settings_.source.Redacted() +
                                " lacks master_replid / master_repl_offset");
    }
    return engine::Position{engine::ReplicationOffset{*id, *offset, 0}};
  }

  // --from-now. The position is INFO's master_replid:master_repl_offset; the stream resumes there
  // by PSYNC <replid> <offset + 1>, and its commands then apply in the database of the last SELECT
  // the primary propagated before that offset, which INFO does not tell (the primary propagates a
  // SELECT only when the database of what it propagates changes). So it is made known: one
  // pipeline (the server runs a client's buffered commands back to back) reads the offset, writes
  // the key _tandem:from-now:<stream> in database 1 and then in database 0, and reads the offset
  // again. The primary propagates [SELECT 1] SET, SELECT 0, SET: when the offset grew by exactly
  // those bytes, nothing else entered the stream in between, so at the second offset the stream
  // is in database 0, exactly. Otherwise (another client's write, an expiry, a PING to a replica
  // landed in between) it tries again, 20 times; if every attempt is disturbed it goes on with
  // database 0 and says so: then a write of another client in another database between the last
  // SET and INFO would make the stream apply the commands that follow it, up to the next SELECT,
  // in database 0 (a race of microseconds, on a source written that busily). The two keys stay on
  // the source (tandem verify skips _tandem: keys): deleting them would put SELECTs into the
  // stream right after the start, which only hides the race, never closes it.
  // The offset is continuable only while the source has a replication backlog (without one the
  // offset does not even advance, and a PSYNC from it gets +FULLRESYNC: Attach would FLUSHALL
  // the target and reload it from the source's snapshot). A primary has none until a replica
  // first asks it for a sync, nor repl-backlog-ttl after the last one left (the reverse stream's
  // source, the new side of a cutover, typically never had one), so first EnsureBacklog makes
  // the source create it. Only when that fails (the source refuses tandem as a replica, or does
  // not show the backlog in time) does the stream start at an offset its first PSYNC cannot
  // continue: then the full resync reloads the target (nothing is lost, but it is a full copy),
  // which is noted here. The same happens when the stream first attaches more than
  // repl-backlog-ttl after this (--checkpoint-now), the backlog freed meanwhile.
  engine::Result<engine::Position> StartAtSourceEnd(const SyncSelection& selection) override {
    (void)selection;
    TANDEM_ASSIGN_OR_RETURN(auto source, OpenDatabaseZero(settings_.source));
    const std::optional<std::string> no_backlog = EnsureBacklog(*source);
    const std::string key = std::string(rd::kTandemKeyPrefix) + "from-now:" + settings_.stream;
    const std::string value = "written by tandem sync --from-now";
    const auto resp_bytes = [](const rd::Argv& argv) {
      int64_t bytes = 1 + static_cast<int64_t>(std::to_string(argv.size()).size()) + 2;
      for (const std::string& argument : argv) {
        bytes += 1 + static_cast<int64_t>(std::to_string(argument.size()).size()) + 2 +
                 static_cast<int64_t>(argument.size()) + 2;
      }
      return bytes;
    };
    const int64_t select_one = resp_bytes({"SELECT", "1"});
    const int64_t tail = resp_bytes({"SET", key, value}) + resp_bytes({"SELECT", "0"}) +
                         resp_bytes({"SET", key, value});
    const auto offset_of = [this](const rd::Reply& reply) -> engine::Result<engine::Position> {
      if (!reply.is_text()) {
        return engine::Corruption("INFO replication on " + settings_.source.Redacted() +
                                  " did not return text");
      }
      const rd::InfoFields info = rd::InfoFields::Parse(reply.text);
      std::optional<std::string> id = info.Get("master_replid");
      std::optional<int64_t> offset = info.GetInt("master_repl_offset");
      if (!id || !offset) {
        return engine::Corruption("INFO replication on " + settings_.source.Redacted() +
                                  " lacks master_replid / master_repl_offset");
      }
      if (info.Get("role").value_or("") != "master") {
        return engine::FailedPrecondition(
            "source " + settings_.source.Redacted() +
            " is a replica: --from-now needs the primary (a replica's offset and database at it "
            "cannot be pinned by writes)");
      }
      if (info.GetInt("repl_backlog_active").value_or(0) == 0) {
        backlog_missing_ = true;
      }
      return engine::Position{engine::ReplicationOffset{*id, *offset, 0}};
    };
    for (int attempt = 1;; ++attempt) {
      backlog_missing_ = false;
      TANDEM_ASSIGN_OR_RETURN(std::vector<rd::Reply> replies,
                              source->Pipeline({{"INFO", "replication"},
                                                {"SELECT", "1"},
                                                {"SET", key, value},
                                                {"SELECT", "0"},
                                                {"SET", key, value},
                                                {"INFO", "replication"}}));
      if (replies.size() != 6) {
        return engine::Corruption("the source " + settings_.source.Redacted() +
                                  " answered a pipeline of 6 commands with " +
                                  std::to_string(replies.size()) + " replies");
      }
      for (size_t i : {size_t{2}, size_t{3}, size_t{4}}) {
        if (replies[i].is_error()) {
          return engine::FailedPrecondition("source " + settings_.source.Redacted() + ": writing " +
                                            key + " refused (" + replies[i].text +
                                            "): --from-now writes it to pin the stream's database");
        }
      }
      const bool single_database = replies[1].is_error();  // `databases 1`: only database 0
      TANDEM_ASSIGN_OR_RETURN(engine::Position before, offset_of(replies[0]));
      TANDEM_ASSIGN_OR_RETURN(engine::Position after, offset_of(replies[5]));
      const auto& from = std::get<engine::ReplicationOffset>(before);
      const auto& to = std::get<engine::ReplicationOffset>(after);
      const int64_t grown = to.offset - from.offset;
      const bool exact =
          from.replication_id == to.replication_id && (grown == tail || grown == tail + select_one);
      if (single_database || backlog_missing_ || exact || attempt >= 20) {
        if (backlog_missing_) {
          note_("the source " + settings_.source.Redacted() +
                " has no replication backlog (no replica attached since it started, or "
                "repl-backlog-ttl passed) and tandem could not make it create one (" +
                no_backlog.value_or("it was freed again at once") +
                "): the stream's first PSYNC will be answered with a full resync, which reloads "
                "the target from the source's snapshot");
        } else if (!single_database && !exact) {
          note_(
              "warning: other writes on the source kept interleaving with --from-now's "
              "bookkeeping writes; the stream is taken to be in database 0 at " +
              engine::Serialize(after) +
              " (wrong only if another client wrote another database in that instant)");
        }
        return after;
      }
    }
  }

  engine::Result<std::unique_ptr<engine::ChangeStream>> OpenStream(
      const SyncSelection& selection, const std::optional<engine::Checkpoint>& resume) override {
    (void)selection;
    TANDEM_ASSIGN_OR_RETURN(const rd::CommandKeyTable* keys, KeyTable());
    std::optional<Attached> attached;
    {
      std::lock_guard lock(mu_);
      if (handover_) {
        const auto* at =
            resume ? std::get_if<engine::ReplicationOffset>(&resume->position) : nullptr;
        if (at != nullptr && *at == handover_->start) {
          attached = std::move(handover_);
        }
        handover_.reset();
      }
    }
    if (!attached) {
      std::optional<engine::ReplicationOffset> from;
      if (resume) {
        const auto* at = std::get_if<engine::ReplicationOffset>(&resume->position);
        if (at == nullptr) {
          return engine::FailedPrecondition(
              "the target's checkpoint of stream '" + settings_.stream + "' (" +
              engine::Serialize(resume->position) +
              ") is not a Redis replication offset: the target was filled by another kind of "
              "source; use another --stream or an empty target");
        }
        from = *at;
      }
      TANDEM_ASSIGN_OR_RETURN(Attached fresh, Attach(from));
      attached = std::move(fresh);
    }
    return std::unique_ptr<engine::ChangeStream>(std::make_unique<rd::RedisChangeStream>(
        std::move(attached->client), attached->start, *keys));
  }

  engine::Result<std::unique_ptr<engine::ChangeApplier>> OpenApplier() override {
    TANDEM_ASSIGN_OR_RETURN(auto applier, rd::RedisChangeApplier::Open(
                                              settings_.target, settings_.stream, lock_holder_));
    return std::unique_ptr<engine::ChangeApplier>(std::move(applier));
  }

  void AddToReport(nlohmann::json& report) override {
    report["redis"] = {
        {"full_resyncs", full_resyncs_.load()},
        {"partial_resyncs", partial_resyncs_.load()},
        {"keys_loaded", keys_loaded_.load()},
        {"apply_mode", mode_ == rd::SnapshotLoaderOptions::Mode::kRestore ? "restore" : "commands"},
    };
  }

 private:
  engine::Result<std::optional<engine::Checkpoint>> ReadCheckpoint() {
    TANDEM_ASSIGN_OR_RETURN(auto applier, rd::RedisChangeApplier::Open(settings_.target));
    return engine::ReadResumePosition(*applier, settings_.stream);
  }

  // Whether database 0 holds this stream's checkpoint or loading mark.
  engine::Result<bool> TargetHoldsThisStream(rd::Connection& target) {
    TANDEM_ASSIGN_OR_RETURN(
        rd::Reply count,
        target.Command({"EXISTS", LoadingKey(settings_.stream), rd::CheckpointKey(settings_.stream),
                        rd::CheckpointKey(settings_.stream + "/0")}));
    return count.integer > 0;
  }

  // Keys outside tandem's own (_tandem:...) over every database listed in INFO keyspace.
  engine::Result<int64_t> CountUserKeys(rd::Connection& target,
                                        const std::vector<engine::KeyspaceInfo>& keyspace) {
    int64_t user_keys = 0;
    for (const engine::KeyspaceInfo& db : keyspace) {
      if (db.database != 0) {
        user_keys += db.keys;
        continue;
      }
      // Database 0 may hold tandem's lock and heartbeat keys: count what is not ours.
      std::string cursor = "0";
      do {
        TANDEM_ASSIGN_OR_RETURN(rd::Reply page, target.Command({"SCAN", cursor, "COUNT", "1000"}));
        if (page.elements.size() != 2) {
          return engine::Corruption("SCAN on " + target.config().Redacted() +
                                    " returned an unexpected reply");
        }
        cursor = page.elements[0].text;
        for (const rd::Reply& key : page.elements[1].elements) {
          if (!key.text.starts_with(rd::kTandemKeyPrefix)) {
            ++user_keys;
          }
        }
      } while (cursor != "0" && user_keys == 0);
    }
    return user_keys;
  }

  // StartAtSourceEnd: makes the source (a primary) have a replication backlog. Redis creates one
  // only as it takes a PSYNC it cannot continue from a replica while it has none (syncCommand:
  // the backlog is created, under a new replication id, before the full resync's snapshot is
  // even started), and keeps it while a replica is attached and for repl-backlog-ttl (3600 s by
  // default) after the last one left. So tandem attaches for a moment: a ReplicationClient sends
  // PSYNC ? -1 (with capa eof), INFO replication is read until repl_backlog_active:1, and the
  // client is dropped without reading a reply or a snapshot. What that costs the source: the
  // backlog's memory (repl-backlog-size, 1 MB by default), and, depending on its configuration,
  // a snapshot it starts for the vanished replica. With repl-diskless-sync yes and
  // repl-diskless-sync-delay > 0 (Redis 7's defaults) none: the fork waits for the delay and is
  // never made once the replica is gone. With a delay of 0, or a disk-based sync (the default
  // before Redis 7), it forks at once (a BGSAVE's cost: the fork, and copy-on-write memory while
  // the child runs, until it finishes or the primary sees no replica waits for it and ends it:
  // redis-server 7.0.15 ended it within 20 ms, disk-based or diskless). No variant of PSYNC
  // (another id, another offset, SYNC) avoids this: they all take the same full resync path.
  // Returns nullopt when the source has a backlog (it had one already, or it was created), else why
  // not (for StartAtSourceEnd's note; it then goes on without one).
  std::optional<std::string> EnsureBacklog(rd::Connection& source) {
    auto info = ReadInfo(source, "replication");
    if (!info.ok()) {
      return info.status().message();
    }
    if (info->Get("role").value_or("") != "master" ||
        info->GetInt("repl_backlog_active").value_or(0) != 0) {
      return std::nullopt;  // a replica is refused by StartAtSourceEnd
    }
    auto replica = rd::ReplicationClient::Connect(settings_.source);
    if (!replica.ok()) {
      return replica.status().message();
    }
    if (Status sent = (*replica)->SendPsync(std::nullopt); !sent.ok()) {
      return sent.message();
    }
    // The primary takes PSYNC as soon as it reads it (the REPLCONF replies before it were read);
    // a PSYNC refused (ACL, rename-command) shows no backlog and ends this after the timeout.
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    for (;;) {
      info = ReadInfo(source, "replication");
      if (!info.ok()) {
        return info.status().message();
      }
      if (info->GetInt("repl_backlog_active").value_or(0) != 0) {
        note_("the source " + settings_.source.Redacted() +
              " had no replication backlog: tandem attached to it as a replica for a moment, "
              "which made it create one (replication id " +
              info->Get("master_replid").value_or("?") +
              "), so that the stream continues from its offset by partial resync");
        return std::nullopt;
      }
      if (Clock::now() >= deadline) {
        return "no repl_backlog_active:1 in its INFO replication within 5 s of tandem's PSYNC";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Replaces every checkpoint row of the stream by one at `start`, in one MULTI.
  Status MoveCheckpointTo(const engine::ReplicationOffset& start) {
    engine::Checkpoint checkpoint;
    checkpoint.stream = settings_.stream;
    checkpoint.position = start;
    note_("the source changed its replication id (a failover); checkpoint moved to " +
          engine::Serialize(checkpoint.position));
    return ReplaceAllCheckpointRows(checkpoint, "moving the checkpoint to the new replication id");
  }

  // --checkpoint-now: every row replaced (the total applied count kept in the one left).
  Status ReplaceCheckpoint(engine::Checkpoint checkpoint) override {
    TANDEM_ASSIGN_OR_RETURN(auto applier, OpenApplier());
    TANDEM_ASSIGN_OR_RETURN(std::optional<engine::Checkpoint> total,
                            engine::ReadResumePosition(*applier, settings_.stream));
    checkpoint.events_applied = total ? total->events_applied : 0;
    return ReplaceAllCheckpointRows(checkpoint, "replacing the checkpoint (--checkpoint-now)");
  }

  Status ReplaceAllCheckpointRows(const engine::Checkpoint& checkpoint, const std::string& what) {
    TANDEM_ASSIGN_OR_RETURN(auto target, OpenDatabaseZero(settings_.target));
    std::vector<rd::Argv> body;
    rd::Argv remove = {"DEL"};
    for (int worker = 0; worker < engine::kMaxPipelineWorkers; ++worker) {
      remove.push_back(rd::CheckpointKey(settings_.stream + "/" + std::to_string(worker)));
    }
    body.push_back(std::move(remove));
    body.push_back(rd::CheckpointWriteCommand(checkpoint));
    return RunTransaction(*target, body, what).status();
  }

  engine::Result<const rd::CommandKeyTable*> KeyTable() {
    std::lock_guard lock(mu_);
    if (!keys_) {
      TANDEM_ASSIGN_OR_RETURN(auto source, rd::Connection::Open(settings_.source));
      TANDEM_ASSIGN_OR_RETURN(rd::CommandKeyTable table, rd::CommandKeyTable::Load(*source));
      keys_ = std::make_unique<rd::CommandKeyTable>(std::move(table));
    }
    return keys_.get();
  }

  // PSYNC from `resume` (nullopt: a full resync). A +CONTINUE hands back the connection at the
  // command stream; a full resync first replaces the target's data with the snapshot.
  engine::Result<Attached> Attach(const std::optional<engine::ReplicationOffset>& resume) {
    TANDEM_ASSIGN_OR_RETURN(auto client, rd::ReplicationClient::Connect(settings_.source));
    TANDEM_ASSIGN_OR_RETURN(rd::PsyncOutcome outcome, client->Psync(resume));
    if (!outcome.full_resync) {
      ++partial_resyncs_;
      note_("partial resync: the source continues the stream at offset " +
            std::to_string(outcome.offset) + " (replication id " + outcome.replication_id + ")");
      const engine::ReplicationOffset start{outcome.replication_id, outcome.offset,
                                            resume ? resume->database : 0};
      if (resume && resume->replication_id != outcome.replication_id) {
        // A failover: the offsets go on under the new id. The checkpoint rows move to it, so the
        // stream's positions can be ordered against them (a restart, the watermark).
        TANDEM_RETURN_IF_ERROR(MoveCheckpointTo(start));
      }
      return Attached{std::move(client), start};
    }
    ++full_resyncs_;
    if (resume) {
      note_("full resync: the source's backlog no longer holds offset " +
            std::to_string(resume->offset) + " of replication id " + resume->replication_id +
            "; reloading the target from a new snapshot (raise repl-backlog-size on the source "
            "to avoid this)");
    }
    note_(std::string("loading the source's snapshot (") +
          (outcome.diskless ? "diskless" : "disk") + " transfer) at offset " +
          std::to_string(outcome.offset) + " into " + settings_.target.Redacted());
    const auto started = Clock::now();
    TANDEM_ASSIGN_OR_RETURN(auto target, OpenDatabaseZero(settings_.target));
    // Empty the target and mark it "loading" in one step, keeping the lock.
    std::vector<rd::Argv> reset = {{"FLUSHALL", "ASYNC"},
                                   {"SET", LoadingKey(settings_.stream),
                                    outcome.replication_id + ":" + std::to_string(outcome.offset)}};
    if (!lock_holder_.empty()) {
      reset.push_back({"SET", rd::StreamLockKey(settings_.stream), lock_holder_});
    }
    if (target_has_functions_) {
      reset.push_back({"FUNCTION", "FLUSH"});  // FLUSHALL keeps function libraries
    }
    TANDEM_RETURN_IF_ERROR(RunTransaction(*target, reset, "emptying the target").status());

    rd::SnapshotLoaderOptions loader_options;
    loader_options.mode = mode_;
    loader_options.stop = stop_;
    rd::RedisSnapshotLoader loader(*target, loader_options);
    rd::RdbParserOptions parser_options;
    if (mode_ == rd::SnapshotLoaderOptions::Mode::kCommands) {
      parser_options.max_value_bytes = 0;
    }
    rd::RdbParser parser(parser_options);
    auto parsed = parser.Parse(client->snapshot(), loader);
    if (!parsed.ok()) {
      return parsed.status().WithContext(
          "loading the source's snapshot (the target stays marked "
          "as loading; the next run loads it again)");
    }
    TANDEM_RETURN_IF_ERROR(client->FinishSnapshot());

    const engine::ReplicationOffset start{outcome.replication_id, outcome.offset,
                                          loader.stream_database()};
    engine::Checkpoint checkpoint;
    checkpoint.stream = settings_.stream;
    checkpoint.position = start;
    // The loader left the connection in the snapshot's last database.
    TANDEM_RETURN_IF_ERROR(target->Command({"SELECT", "0"}).status());
    TANDEM_RETURN_IF_ERROR(RunTransaction(*target,
                                          {rd::CheckpointWriteCommand(checkpoint),
                                           {"DEL", LoadingKey(settings_.stream)}},
                                          "recording the snapshot's position")
                               .status());
    const rd::SnapshotLoadSummary& loaded = loader.summary();
    last_load_keys_ = loaded.keys;
    keys_loaded_ += loaded.keys;
    char line[256];
    std::snprintf(line, sizeof line,
                  "loaded %lld keys (%lld in pieces, %lld already expired) and %lld function "
                  "libraries, %.1f MB of snapshot, in %.1f s",
                  static_cast<long long>(loaded.keys), static_cast<long long>(loaded.pieces),
                  static_cast<long long>(loaded.expired_skipped),
                  static_cast<long long>(loaded.functions),
                  static_cast<double>(parsed->bytes) / (1024.0 * 1024.0),
                  std::chrono::duration<double>(Clock::now() - started).count());
    note_(line);
    return Attached{std::move(client), start};
  }

  const SyncSettings& settings_;
  NoteFunction note_;
  rd::SnapshotLoaderOptions::Mode mode_ = rd::SnapshotLoaderOptions::Mode::kRestore;
  bool target_has_functions_ = false;  // Redis 7+: FUNCTION FLUSH with the FLUSHALL
  std::string lock_holder_;  // CLIENT ID of the lock connection (main thread, before streaming)
  const std::atomic<bool>* stop_ = nullptr;
  bool backlog_missing_ = false;  // StartAtSourceEnd (main thread)

  std::mutex mu_;  // guards handover_ and keys_ (main thread and the pipeline's reader thread)
  std::optional<Attached> handover_;
  std::unique_ptr<rd::CommandKeyTable> keys_;

  std::atomic<int64_t> full_resyncs_{0};
  std::atomic<int64_t> partial_resyncs_{0};
  std::atomic<int64_t> keys_loaded_{0};
  std::atomic<int64_t> last_load_keys_{0};
};

}  // namespace

std::unique_ptr<SyncBackend> NewRedisSyncBackend(const SyncSettings& settings, NoteFunction note) {
  return std::make_unique<RedisSyncBackend>(settings, std::move(note));
}

}  // namespace tandem::tools
