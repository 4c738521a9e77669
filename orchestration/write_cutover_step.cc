#include "orchestration/write_cutover_step.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "engine/write_freeze.h"
#include "orchestration/fault_hold.h"
#include "orchestration/utc_time.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kCutover[] = "cutover";
constexpr char kRevert[] = "revert";

int64_t MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

// Where the two servers of a writer backend stand: in (ready, weight > 0) or not. One `show stat`.
struct WriterServers {
  bool old_in = false;
  bool new_in = false;
  // The writes go to the new side: new in, old out.
  bool on_new() const { return new_in && !old_in; }
};

engine::Result<WriterServers> ReadWriterServers(const HaproxyRuntime& haproxy,
                                                const WriterRoute& route) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<HaproxyServerStats> servers,
                          haproxy.ShowStat(route.haproxy_backend));
  std::optional<bool> old_in, new_in;
  for (const HaproxyServerStats& stats : servers) {
    const bool in = stats.status.find("MAINT") == std::string::npos && stats.weight > 0;
    if (stats.server == route.old_server) old_in = in;
    if (stats.server == route.new_server) new_in = in;
  }
  const std::string* missing = !old_in ? &route.old_server : !new_in ? &route.new_server : nullptr;
  if (missing != nullptr) {
    return engine::NotFound("HAProxy backend " + route.haproxy_backend + " has no server " +
                            *missing);
  }
  return WriterServers{*old_in, *new_in};
}

// Takes `server` out of the writer backend and ends its sessions: clients reconnect and find
// only the servers still in.
engine::Status TakeOut(const HaproxyRuntime& haproxy, const std::string& backend,
                       const std::string& server) {
  TANDEM_RETURN_IF_ERROR(haproxy.SetServerState(backend, server, "maint"));
  return haproxy.ShutdownSessions(backend, server);
}

// Puts `server` into the writer backend, with a weight of at least 1.
engine::Status PutIn(const HaproxyRuntime& haproxy, const std::string& backend,
                     const std::string& server) {
  TANDEM_ASSIGN_OR_RETURN(int64_t weight, haproxy.GetWeight(backend, server));
  if (weight < 1) {
    TANDEM_RETURN_IF_ERROR(haproxy.SetWeight(backend, server, 1));
  }
  return haproxy.SetServerState(backend, server, "ready");
}

// One side's write freeze, over a connection of its own.
class SideFreeze {
 public:
  static engine::Result<SideFreeze> Open(const engine::DatabaseOpener& open,
                                         const engine::ConnectionConfig& config) {
    SideFreeze side;
    TANDEM_ASSIGN_OR_RETURN(side.database_, open(config));
    side.freeze_ = side.database_->write_freeze();
    if (side.freeze_ == nullptr) {
      return engine::Unsupported(config.Redacted() + ": this connector cannot freeze writes");
    }
    return side;
  }
  engine::WriteFreeze& operator*() { return *freeze_; }
  engine::WriteFreeze* operator->() { return freeze_; }

 private:
  std::unique_ptr<engine::Database> database_;
  engine::WriteFreeze* freeze_ = nullptr;
};

// The sub-steps as they complete: timed, journaled, added to the detail.
class SubSteps {
 public:
  SubSteps(const DatastorePlan& datastore, const WriteCutoverPorts& ports, const char* direction,
           nlohmann::json* detail)
      : datastore_(datastore), ports_(ports), direction_(direction), detail_(detail) {
    (*detail_)["datastore"] = datastore.name;
    (*detail_)["direction"] = direction;
    (*detail_)["sub_steps"] = nlohmann::json::array();
  }

  void Begin() { started_ = Clock::now(); }

  engine::Status Done(const std::string& name, nlohmann::json data = nlohmann::json::object()) {
    const int64_t ms = MillisecondsSince(started_);
    (*detail_)["sub_steps"].push_back({{"name", name}, {"ms", ms}});
    return Journal(name, std::move(data), ms);
  }

  // Journals that a sub-step is about to change something (no entry in the detail).
  engine::Status Intent(const std::string& name) {
    return Journal(name, nlohmann::json::object(), MillisecondsSince(started_));
  }

 private:
  engine::Status Journal(const std::string& name, nlohmann::json data, int64_t ms) {
    if (!ports_.record) return engine::Status::Ok();
    data["datastore"] = datastore_.name;
    data["direction"] = direction_;
    data["sub_step"] = name;
    data["at"] = FormatUtcTime(std::chrono::system_clock::now());
    data["ms"] = ms;
    return ports_.record(data);
  }

  const DatastorePlan& datastore_;
  const WriteCutoverPorts& ports_;
  const char* direction_;
  nlohmann::json* detail_;
  Clock::time_point started_ = Clock::now();
};

// Whether an attempt journaled the writer switch of this datastore (its intent or its completion).
bool SwitchJournaled(const DatastorePlan& datastore, const WriteCutoverPorts& ports) {
  for (const nlohmann::json& entry : ports.recorded) {
    const std::string sub_step = entry.value("sub_step", "");
    if (entry.value("datastore", "") == datastore.name &&
        entry.value("direction", "") == kCutover &&
        (sub_step == "switch" || sub_step == "switching")) {
      return true;
    }
  }
  return false;
}

// Whether the journal shows the writer switch of this datastore (its intent or its completion)
// with no finished revert after it: the new side may have taken writes that only the reverse
// stream holds.
bool SwitchedSinceLastRevert(const DatastorePlan& datastore, const WriteCutoverPorts& ports) {
  bool switched = false;
  for (const nlohmann::json& entry : ports.recorded) {
    if (entry.value("datastore", "") != datastore.name) continue;
    const std::string direction = entry.value("direction", "");
    const std::string sub_step = entry.value("sub_step", "");
    if (direction == kCutover && (sub_step == "switch" || sub_step == "switching")) switched = true;
    if (direction == kRevert && sub_step == "forward restarted") switched = false;
  }
  return switched;
}

// When an earlier attempt of this datastore's cutover first froze the old side, if it did.
std::optional<std::chrono::system_clock::time_point> FirstFreeze(const DatastorePlan& datastore,
                                                                 const WriteCutoverPorts& ports) {
  for (const nlohmann::json& entry : ports.recorded) {
    if (entry.value("datastore", "") == datastore.name &&
        entry.value("direction", "") == kCutover && entry.value("sub_step", "") == "freeze" &&
        entry.contains("frozen_at") && entry["frozen_at"].is_string()) {
      if (auto at = ParseUtcTime(entry["frozen_at"].get<std::string>())) return at;
    }
  }
  return std::nullopt;
}

engine::Status CheckPorts(const DatastorePlan& datastore, const WriteCutoverPorts& ports) {
  if (!datastore.writer) {
    return engine::InvalidArgument("datastore " + datastore.name + " has no writer route");
  }
  if (ports.haproxy == nullptr || ports.forward == nullptr || ports.reverse == nullptr ||
      !ports.open_database) {
    return engine::InvalidArgument("write cutover of " + datastore.name +
                                   ": HAProxy, both streams and a database opener are required");
  }
  return engine::Status::Ok();
}

// Waits until `link` has applied what its source holds now: the stream is live from there on.
// Redis: a source without a replication backlog is made to create one by the hand-over (which
// gives it a new replication id); should that fail, the stream's first PSYNC is answered with a
// full resync, for which the source starts a new replication id too. A position read before either
// names the old id and cannot be compared with the stream's checkpoint (kFailedPrecondition). The
// position is then read again, until the two share a history or `timeout` has passed.
engine::Result<std::chrono::milliseconds> WaitForSourceNow(DatastoreLink& link,
                                                           milliseconds timeout,
                                                           const std::function<bool()>& stop,
                                                           bool redis) {
  const auto started = Clock::now();
  const auto deadline = started + timeout;
  const std::function<bool()> stopped = stop ? stop : [] { return false; };
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(engine::Position position, link.SourcePosition());
    const milliseconds left = std::max(
        milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    auto waited = link.WaitUntilApplied(position, left, stopped);
    if (waited.ok()) return milliseconds(MillisecondsSince(started));
    if (!redis || waited.status().code() != engine::StatusCode::kFailedPrecondition ||
        Clock::now() >= deadline) {
      return waited.status();
    }
    if (stopped()) return engine::Cancelled("waiting for " + link.name() + " to start");
    std::this_thread::sleep_for(milliseconds(100));
  }
}

std::string TimeoutProblem(const engine::Status& status, const std::string& what) {
  return what + ": " + status.message();
}

}  // namespace

engine::Result<bool> WritesOnNewSide(const DatastorePlan& datastore,
                                     const HaproxyRuntime& haproxy) {
  if (!datastore.writer) return false;
  TANDEM_ASSIGN_OR_RETURN(WriterServers servers, ReadWriterServers(haproxy, *datastore.writer));
  return servers.on_new();
}

bool RevertBegun(const DatastorePlan& datastore, const std::vector<nlohmann::json>& recorded) {
  for (auto it = recorded.rbegin(); it != recorded.rend(); ++it) {
    if (it->value("datastore", "") != datastore.name) continue;
    return it->value("direction", "") == kRevert &&
           it->value("sub_step", "") != "forward restarted";
  }
  return false;
}

DatastorePlan ReversePlan(const DatastorePlan& datastore) {
  DatastorePlan reverse = datastore;
  reverse.name = datastore.name + ".reverse";
  std::swap(reverse.source, reverse.target);
  std::swap(reverse.source_uri_redacted, reverse.target_uri_redacted);
  return reverse;
}

engine::Result<WriteCutoverResult> CutOverWrites(const DatastorePlan& datastore,
                                                 const WriteCutoverPorts& ports,
                                                 const WriteCutoverOptions& options) {
  TANDEM_RETURN_IF_ERROR(CheckPorts(datastore, ports));
  const WriterRoute& route = *datastore.writer;
  const HaproxyRuntime& haproxy = *ports.haproxy;
  const auto stop = options.stop ? options.stop : [] { return false; };
  const bool redis = datastore.source.engine == engine::EngineKind::kRedis;
  WriteCutoverResult result;
  SubSteps steps(datastore, ports, kCutover, &result.detail);
  result.detail["verify"] = nullptr;

  // A crash after the switch: the writers are on the new side already; only the reverse stream
  // has to run again.
  TANDEM_ASSIGN_OR_RETURN(WriterServers servers, ReadWriterServers(haproxy, route));
  if (servers.on_new()) {
    if (!SwitchJournaled(datastore, ports)) {
      // Not this cutover's doing: the writes may have gone to the new side without a freeze, a
      // drain or a verify. Nothing is touched.
      result.problem =
          "HAProxy backend " + route.haproxy_backend + " already sends the writes of " +
          datastore.name + " to " + route.new_server + " (" + route.old_server +
          " out), but no cutover of this run switched them: put " + route.old_server + " in and " +
          route.new_server + " out (state maint) and check both sides before running the cutover";
      return result;
    }
    result.detail["already_switched"] = true;
    ports.forward->Stop();
    TANDEM_RETURN_IF_ERROR(ports.reverse->StartStream());
    result.switched = true;
    return result;
  }
  result.detail["already_switched"] = false;
  if (servers.new_in) {
    // Both in: never produced by a cutover (the new server enters after the old one left). Take
    // the new one out before anything else, so the state is one a freeze can start from.
    TANDEM_RETURN_IF_ERROR(TakeOut(haproxy, route.haproxy_backend, route.new_server));
  }

  // 1. freeze (the forward stream's heartbeats stop first: a frozen source would block them)
  steps.Begin();
  ports.forward->StopLagMonitor();
  const auto frozen_at = FirstFreeze(datastore, ports).value_or(std::chrono::system_clock::now());
  TANDEM_ASSIGN_OR_RETURN(SideFreeze old_side,
                          SideFreeze::Open(ports.open_database, datastore.source));
  engine::FreezeOptions freeze_options;
  freeze_options.lock_wait = options.lock_wait;
  freeze_options.hold = options.redis_pause_hold;
  TANDEM_ASSIGN_OR_RETURN(engine::FreezeReport frozen, old_side->Freeze(freeze_options));
  TANDEM_RETURN_IF_ERROR(TakeOut(haproxy, route.haproxy_backend, route.old_server));
  result.detail["frozen_at"] = FormatUtcTime(frozen_at);
  TANDEM_RETURN_IF_ERROR(steps.Done("freeze", {{"frozen_at", FormatUtcTime(frozen_at)},
                                               {"sessions_ended", frozen.sessions_ended},
                                               {"freeze", frozen.detail}}));

  // 2. drain
  steps.Begin();
  TANDEM_ASSIGN_OR_RETURN(engine::Position old_position, old_side->CurrentPosition());
  result.detail["old_position"] = engine::Serialize(old_position);
  TANDEM_RETURN_IF_ERROR(ports.forward->StartStream());  // idempotent; a resumed run needs it
  auto drained = ports.forward->WaitUntilApplied(old_position, options.drain_timeout, stop);
  if (!drained.ok()) {
    if (drained.status().code() == engine::StatusCode::kTimeout) {
      result.problem = TimeoutProblem(drained.status(), "drain of " + datastore.name);
      return result;
    }
    return drained.status();
  }
  result.detail["drain_ms"] = drained->count();
  ports.forward->Stop();
  TANDEM_RETURN_IF_ERROR(steps.Done(
      "drain", {{"position", engine::Serialize(old_position)}, {"drain_ms", drained->count()}}));

  // 3. verify
  if (options.final_verify) {
    steps.Begin();
    std::atomic<bool> stop_flag{false};
    auto verified = ports.forward->Verify(&stop_flag);
    if (!verified.ok()) return verified.status();
    result.detail["verify"] = {{"consistent", verified->consistent},
                               {"differing", verified->differing},
                               {"summary", verified->summary},
                               {"ms", verified->elapsed.count()}};
    if (!verified->consistent) {
      result.problem =
          "final verify of " + datastore.name + " before the writer switch: " + verified->summary;
      return result;
    }
    TANDEM_RETURN_IF_ERROR(steps.Done("verify", {{"summary", verified->summary}}));
  }

  // 4. reverse
  steps.Begin();
  if (redis) {
    TANDEM_RETURN_IF_ERROR(old_side->Thaw());  // out of the writer backend; the reverse writes
  } else {
    // MySQL's super_read_only would stop the reverse stream's applier too; read_only stays.
    TANDEM_RETURN_IF_ERROR(old_side->AdmitPrivilegedWriters());
  }
  // Handed over at the new side's present position, whatever an earlier (reverted) cutover left
  // in its checkpoint: nobody but the forward stream, stopped at step 2, has written the new side.
  TANDEM_RETURN_IF_ERROR(ports.reverse->CheckpointAtSourceEnd(options.reverse_start_timeout));
  TANDEM_RETURN_IF_ERROR(ports.reverse->StartStream());
  auto reverse_live = WaitForSourceNow(*ports.reverse, options.reverse_start_timeout, stop, redis);
  if (!reverse_live.ok()) {
    if (reverse_live.status().code() == engine::StatusCode::kTimeout) {
      result.problem = TimeoutProblem(reverse_live.status(), "start of the reverse stream");
      return result;
    }
    return reverse_live.status();
  }
  TANDEM_ASSIGN_OR_RETURN(engine::Position reverse_position, ports.reverse->SourcePosition());
  result.detail["reverse_position"] = engine::Serialize(reverse_position);
  TANDEM_RETURN_IF_ERROR(
      steps.Done("reverse", {{"position", engine::Serialize(reverse_position)}}));

  // 5. switch
  steps.Begin();
  TANDEM_RETURN_IF_ERROR(steps.Intent("switching"));  // a crash after PutIn resumes as switched
  HoldAtFaultPoint("writes.switching");
  TANDEM_RETURN_IF_ERROR(PutIn(haproxy, route.haproxy_backend, route.new_server));
  HoldAtFaultPoint("writes.switched");
  const auto switched_at = std::chrono::system_clock::now();
  const int64_t pause_ms =
      std::chrono::duration_cast<milliseconds>(switched_at - frozen_at).count();
  result.detail["switched_at"] = FormatUtcTime(switched_at);
  result.detail["write_pause_ms"] = pause_ms;
  result.switched = true;
  TANDEM_RETURN_IF_ERROR(steps.Done("switch", {{"write_pause_ms", pause_ms}}));
  return result;
}

engine::Result<WriteCutoverResult> RevertWrites(const DatastorePlan& datastore,
                                                const WriteCutoverPorts& ports,
                                                const WriteCutoverOptions& options) {
  TANDEM_RETURN_IF_ERROR(CheckPorts(datastore, ports));
  const WriterRoute& route = *datastore.writer;
  const HaproxyRuntime& haproxy = *ports.haproxy;
  const auto stop = options.stop ? options.stop : [] { return false; };
  WriteCutoverResult result;
  SubSteps steps(datastore, ports, kRevert, &result.detail);

  TANDEM_ASSIGN_OR_RETURN(WriterServers servers, ReadWriterServers(haproxy, route));
  TANDEM_ASSIGN_OR_RETURN(SideFreeze new_side,
                          SideFreeze::Open(ports.open_database, datastore.target));
  TANDEM_ASSIGN_OR_RETURN(engine::WriteFreezeState new_state, new_side->State());
  steps.Begin();
  // Journaled first: a crash from here on is resumed as this revert, never as a cutover.
  TANDEM_RETURN_IF_ERROR(steps.Intent("begun"));
  const auto frozen_at = std::chrono::system_clock::now();
  // From the journal as well as the live state: a revert interrupted after it took the new side
  // out (and, Redis, lifted its pause before the drain) looks like "never switched" live, and
  // must still drain the reverse stream and hand the forward one over.
  const bool took_writes =
      servers.new_in || new_state.frozen || SwitchedSinceLastRevert(datastore, ports);
  if (took_writes) {
    // The new side took writes (or an earlier revert froze it): freeze it, take it out, and drain
    // everything it acknowledged into the old side.
    engine::FreezeOptions freeze_options;
    freeze_options.lock_wait = options.lock_wait;
    freeze_options.hold = options.redis_pause_hold;
    ports.reverse->StopLagMonitor();
    TANDEM_ASSIGN_OR_RETURN(engine::FreezeReport frozen, new_side->Freeze(freeze_options));
    TANDEM_RETURN_IF_ERROR(TakeOut(haproxy, route.haproxy_backend, route.new_server));
    if (datastore.source.engine != engine::EngineKind::kRedis) {
      // Out of the backend: the forward stream's hand-over writes its checkpoint there.
      TANDEM_RETURN_IF_ERROR(new_side->AdmitPrivilegedWriters());
    }
    TANDEM_RETURN_IF_ERROR(steps.Done("freeze new", {{"freeze", frozen.detail}}));
    steps.Begin();
    TANDEM_ASSIGN_OR_RETURN(engine::Position new_position, new_side->CurrentPosition());
    if (datastore.source.engine == engine::EngineKind::kRedis) {
      TANDEM_RETURN_IF_ERROR(new_side->Thaw());  // out of the backend; pauses block no drain
    }
    TANDEM_RETURN_IF_ERROR(ports.reverse->StartStream());
    auto drained = ports.reverse->WaitUntilApplied(new_position, options.drain_timeout, stop);
    if (!drained.ok()) {
      if (drained.status().code() == engine::StatusCode::kTimeout) {
        result.problem = TimeoutProblem(drained.status(), "drain of the reverse stream");
        return result;
      }
      return drained.status();
    }
    result.detail["drain_ms"] = drained->count();
    TANDEM_RETURN_IF_ERROR(steps.Done(
        "drain reverse",
        {{"position", engine::Serialize(new_position)}, {"drain_ms", drained->count()}}));
  } else {
    TANDEM_RETURN_IF_ERROR(TakeOut(haproxy, route.haproxy_backend, route.new_server));
  }
  ports.reverse->Stop();
  if (took_writes && !servers.old_in) {
    // Old and new hold the same data now, and only tandem has written the old side since the
    // cutover (the reverse stream): the forward stream is handed over at the old side's present
    // position, so it does not stream the reverse stream's writes back (a Redis INCR would count
    // twice). Not once the old side took writes again: those must be streamed.
    steps.Begin();
    TANDEM_RETURN_IF_ERROR(ports.forward->CheckpointAtSourceEnd(options.reverse_start_timeout));
    TANDEM_RETURN_IF_ERROR(steps.Done("forward handed over"));
  }

  // The old side takes the writes again.
  steps.Begin();
  TANDEM_ASSIGN_OR_RETURN(SideFreeze old_side,
                          SideFreeze::Open(ports.open_database, datastore.source));
  TANDEM_RETURN_IF_ERROR(old_side->Thaw());
  TANDEM_RETURN_IF_ERROR(PutIn(haproxy, route.haproxy_backend, route.old_server));
  const auto switched_at = std::chrono::system_clock::now();
  result.switched = true;
  result.detail["switched_at"] = FormatUtcTime(switched_at);
  result.detail["write_pause_ms"] =
      std::chrono::duration_cast<milliseconds>(switched_at - frozen_at).count();
  TANDEM_RETURN_IF_ERROR(steps.Done("switch to old"));

  // The new side is written by the forward stream only, as before the cutover.
  steps.Begin();
  TANDEM_RETURN_IF_ERROR(new_side->Thaw());
  if (took_writes) {
    // The reverse stream is not resumed by a later cutover (it is handed over afresh): its
    // PostgreSQL slot would only retain the new side's WAL. Dropped before the forward stream
    // writes the new side again (the drop catches up first: there is nothing to catch up).
    TANDEM_RETURN_IF_ERROR(ports.reverse->DropSourceSlot(options.drain_timeout));
  }
  TANDEM_RETURN_IF_ERROR(ports.forward->StartStream());
  TANDEM_RETURN_IF_ERROR(steps.Done("forward restarted"));
  return result;
}

}  // namespace tandem::orchestration
