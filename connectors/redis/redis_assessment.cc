#include "connectors/redis/redis_assessment.h"

#include <cstdio>
#include <numeric>

#include "connectors/redis/redis_acl.h"

namespace tandem::connectors::redis {
namespace {

using engine::Assessment;
using engine::Result;
using engine::Role;
using engine::Status;

std::string HumanBytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof(text), "%lld B", static_cast<long long>(bytes));
  } else {
    std::snprintf(text, sizeof(text), "%.1f %s", value, kUnits[unit]);
  }
  return text;
}

std::string JoinNames(const std::vector<std::string>& names, std::string_view separator,
                      std::string_view prefix = "") {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) {
      out += separator;
    }
    out += std::string(prefix) + name;
  }
  return out;
}

std::vector<std::string> RequiredNames(Role role) {
  std::vector<std::string> names;
  for (const RequiredCommand& command : RequiredCommands(role)) {
    names.push_back(command.name);
  }
  return names;
}

std::string_view PermissionCheckName(PermissionCheck check) {
  switch (check) {
    case PermissionCheck::kNoAcl:
      return "no acl";
    case PermissionCheck::kDryRun:
      return "acl dryrun";
    case PermissionCheck::kGetUser:
      return "acl getuser";
    case PermissionCheck::kUnchecked:
      return "unchecked";
  }
  return "unchecked";
}

// INFO <section>, as fields. Errors: the INFO refusal as a Status.
Result<InfoFields> InfoOf(const Connection& connection, const Reply& reply,
                          const std::string& section) {
  if (reply.is_error()) {
    return connection.ErrorStatus(reply, {"INFO", section});
  }
  return InfoFields::Parse(reply.text);
}

// Fills the permission fields of `state`: ACL DRYRUN where the server has it and lets the user run
// it, else the rules from ACL GETUSER, else unchecked.
Status CheckPermissions(Connection& connection, Role role, ServerState* state) {
  if (state->version_number > 0 && state->version_number < 60000) {
    state->permission_check = PermissionCheck::kNoAcl;
    return Status::Ok();
  }
  const std::vector<RequiredCommand>& required = RequiredCommands(role);
  std::string problem;
  if (state->version_number >= 70000) {
    std::vector<Argv> dry_runs;
    for (const RequiredCommand& command : required) {
      Argv argv = {"ACL", "DRYRUN", state->user};
      argv.insert(argv.end(), command.dry_run.begin(), command.dry_run.end());
      dry_runs.push_back(std::move(argv));
    }
    TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, connection.Pipeline(dry_runs));
    bool answered = true;
    std::vector<std::string> denied;
    for (size_t i = 0; i < replies.size(); ++i) {
      if (replies[i].is_error()) {
        answered = false;
        problem = "ACL DRYRUN: " + replies[i].text;
        break;
      }
      // +OK when allowed; a bulk string saying why when not.
      if (!(replies[i].type == ReplyType::kStatus && replies[i].text == "OK")) {
        denied.push_back(required[i].name);
      }
    }
    if (answered) {
      state->permission_check = PermissionCheck::kDryRun;
      state->denied_commands = std::move(denied);
      return Status::Ok();
    }
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                          connection.Pipeline({{"ACL", "GETUSER", state->user}}));
  if (replies[0].is_error()) {
    state->permission_check = PermissionCheck::kUnchecked;
    state->permission_problem =
        (problem.empty() ? "" : problem + "; ") + "ACL GETUSER: " + replies[0].text;
    return Status::Ok();
  }
  auto user = ParseAclGetUser(replies[0]);
  if (!user.ok()) {
    state->permission_check = PermissionCheck::kUnchecked;
    state->permission_problem = "ACL GETUSER: " + user.status().message();
    return Status::Ok();
  }
  state->permission_check = PermissionCheck::kGetUser;
  state->denied_commands = DeniedByRules(*user, required);
  return Status::Ok();
}

}  // namespace

Result<ServerState> GatherServerState(Connection& connection, Role role) {
  // One round trip for everything that does not depend on the version. Each INFO section is asked
  // for separately: Redis before 7 takes one section per INFO.
  static const std::vector<std::string> kSections = {
      "server", "replication", "memory", "persistence", "keyspace", "cluster", "modules"};
  std::vector<Argv> commands;
  for (const std::string& section : kSections) {
    commands.push_back({"INFO", section});
  }
  const size_t config_at = commands.size();
  commands.push_back({"CONFIG", "GET", "save"});
  commands.push_back({"CONFIG", "GET", "repl-diskless-sync"});
  commands.push_back({"CONFIG", "GET", "databases"});
  const size_t modules_at = commands.size();
  commands.push_back({"MODULE", "LIST"});
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, connection.Pipeline(commands));

  InfoFields info;
  for (size_t i = 0; i < kSections.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(InfoFields section, InfoOf(connection, replies[i], kSections[i]));
    info.Append(section);
  }
  ServerState state;
  state.user = connection.user();
  state.tls_protocol = connection.tls_protocol();
  if (info.Get("server_name") == "valkey") {
    state.product = "Valkey";
  }
  state.version = info.Get("redis_version").value_or("");
  state.version_number = ParseVersionNumber(state.version).value_or(0);
  state.redis_mode = info.Get("redis_mode").value_or("standalone");
  state.cluster_enabled = info.GetInt("cluster_enabled").value_or(0) != 0;
  state.role = info.Get("role").value_or("master");
  state.master_host = info.Get("master_host").value_or("");
  state.master_port = info.GetInt("master_port");
  state.master_link_status = info.Get("master_link_status").value_or("");
  state.connected_replicas = info.GetInt("connected_slaves").value_or(0);
  state.repl_backlog_size = info.GetInt("repl_backlog_size");
  state.used_memory = info.GetInt("used_memory").value_or(0);
  state.maxmemory = info.GetInt("maxmemory").value_or(0);
  state.maxmemory_policy = info.Get("maxmemory_policy").value_or("");
  state.aof_enabled = info.GetInt("aof_enabled").value_or(0) != 0;
  state.rdb_last_bgsave_status = info.Get("rdb_last_bgsave_status").value_or("");
  TANDEM_ASSIGN_OR_RETURN(state.keyspaces, ParseKeyspace(info));

  std::map<std::string, std::string> config;
  for (size_t i = config_at; i < modules_at; ++i) {
    if (replies[i].is_error()) {
      state.config_problem = replies[i].text;
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(auto values, ParseConfigReply(replies[i]));
    config.merge(values);
  }
  if (auto save = config.find("save"); save != config.end()) {
    state.rdb_save = save->second;
  }
  if (auto diskless = config.find("repl-diskless-sync"); diskless != config.end()) {
    state.repl_diskless_sync = diskless->second == "yes";
  }
  if (auto databases = config.find("databases"); databases != config.end()) {
    state.databases = ParseInt64(databases->second);
  }
  if (!replies[modules_at].is_error()) {
    TANDEM_ASSIGN_OR_RETURN(state.modules, ParseModuleList(replies[modules_at]));
  } else if (info.Get("module").has_value() || state.version_number >= 60000) {
    // INFO modules lists the same modules (Redis 6+ always has the section, maybe empty).
    state.modules = ModulesFromInfo(info);
  }
  TANDEM_RETURN_IF_ERROR(CheckPermissions(connection, role, &state));
  return state;
}

nlohmann::json ServerFacts(const ServerState& state) {
  using nlohmann::json;
  auto optional = [](const auto& value) -> json {
    return value.has_value() ? json(*value) : json(nullptr);
  };
  json facts = {
      {"product", state.product},
      {"version", state.version},
      {"version_number", state.version_number},
      {"redis_mode", state.redis_mode},
      {"role", state.role},
      {"connected_replicas", state.connected_replicas},
      {"tls_protocol", state.tls_protocol},
      {"used_memory", state.used_memory},
      {"maxmemory", state.maxmemory},
      {"maxmemory_policy", state.maxmemory_policy},
      {"persistence",
       {{"rdb_save", optional(state.rdb_save)},
        {"aof_enabled", state.aof_enabled},
        {"rdb_last_bgsave_status", state.rdb_last_bgsave_status}}},
      {"repl_backlog_size", optional(state.repl_backlog_size)},
      {"repl_diskless_sync", optional(state.repl_diskless_sync)},
      {"databases", optional(state.databases)},
      {"user", state.user},
      {"permission_check", PermissionCheckName(state.permission_check)},
  };
  if (state.role == "slave") {
    facts["master_host"] = state.master_host;
    facts["master_port"] = optional(state.master_port);
    facts["master_link_status"] = state.master_link_status;
  }
  int64_t total = 0;
  json keyspaces = json::array();
  for (const engine::KeyspaceInfo& keyspace : state.keyspaces) {
    total += keyspace.keys;
    keyspaces.push_back({{"database", keyspace.database},
                         {"keys", keyspace.keys},
                         {"expires", keyspace.keys_with_expiry}});
  }
  facts["keys"] = total;
  facts["keyspaces"] = std::move(keyspaces);
  if (state.modules.has_value()) {
    json modules = json::array();
    for (const ModuleInfo& module : *state.modules) {
      modules.push_back({{"name", module.name}, {"version", module.version}});
    }
    facts["modules"] = std::move(modules);
  } else {
    facts["modules"] = nullptr;
  }
  return facts;
}

Assessment EvaluateServerState(const ServerState& state, Role role) {
  Assessment assessment;
  assessment.facts = ServerFacts(state);
  const bool source = role == Role::kSource;
  const std::string side = source ? "source" : "target";

  if (source && state.version_number > 0 && state.version_number < 40000) {
    assessment.Block("redis_version_unsupported", "server",
                     "Redis " + state.version +
                         " is older than 4.0 and has no PSYNC2, so a replication stream cannot "
                         "be resumed after a reconnect",
                     "upgrade the source to Redis 6.2 or newer before migrating");
  } else if (source && state.version_number > 0 && state.version_number < 60000) {
    assessment.Warn("redis_version_old", "server",
                    "Redis " + state.version +
                        " is past its end of life and has no ACLs, so tandem cannot check its "
                        "permissions",
                    "upgrade the source to Redis 6.2 or newer if you can");
  }
  if (state.cluster_enabled) {
    assessment.Block("redis_cluster_mode", "server",
                     "the " + side +
                         " is a Redis Cluster node and holds only the slots assigned to it; "
                         "tandem migrates one standalone server",
                     "migrate from and to standalone servers (cluster-enabled no)");
  }
  if (state.role == "slave") {
    std::string master =
        state.master_host + ":" + (state.master_port ? std::to_string(*state.master_port) : "?");
    if (source) {
      assessment.Warn(
          "redis_source_is_replica", "server",
          "the source is a replica of " + master + " (link " +
              (state.master_link_status.empty() ? "unknown" : state.master_link_status) +
              "): the stream tandem reads trails that primary and stops when the "
              "link breaks",
          "point --source at the primary " + master +
              ", unless reading from a "
              "replica is intended");
    } else {
      assessment.Block("redis_target_is_replica", "server",
                       "the target is a replica of " + master +
                           ": it refuses writes and would overwrite tandem's with its primary's "
                           "data",
                       "REPLICAOF NO ONE on the target, or pick a standalone primary");
    }
  }
  if (state.maxmemory > 0 && !state.maxmemory_policy.empty() &&
      state.maxmemory_policy != "noeviction") {
    assessment.Warn(
        "redis_eviction_policy", "server",
        "maxmemory-policy is " + state.maxmemory_policy + " with maxmemory " +
            HumanBytes(state.maxmemory) + ": the " + side +
            " evicts keys when full, so keys may vanish during the migration",
        source ? "CONFIG SET maxmemory-policy noeviction on the source, or raise maxmemory well "
                 "above used memory"
               : "CONFIG SET maxmemory-policy noeviction on the target and size maxmemory above "
                 "the source's used memory");
  }
  if (!state.config_problem.empty()) {
    assessment.Warn("redis_config_unreadable", "user " + state.user,
                    "CONFIG GET was refused (" + state.config_problem +
                        "), so the save, repl-diskless-sync and databases settings are unknown",
                    "grant it: ACL SETUSER " + state.user + " +config|get");
  }
  if (state.permission_check == PermissionCheck::kUnchecked) {
    assessment.Warn("redis_permissions_unchecked", "user " + state.user,
                    "cannot tell whether user " + state.user + " may run " +
                        JoinNames(RequiredNames(role), ", ") + ": " + state.permission_problem,
                    "grant +acl|dryrun (Redis 7) or +acl|getuser so tandem can check, or verify "
                    "the user's rules by hand");
  }
  if (!state.denied_commands.empty()) {
    bool keys = false;
    for (const RequiredCommand& command : RequiredCommands(role)) {
      for (const std::string& denied : state.denied_commands) {
        keys = keys || (command.name == denied && command.touches_keys);
      }
    }
    std::string purpose = source ? "to stream changes as a replica" : "to write the migrated keys";
    assessment.Block("redis_missing_permission", "user " + state.user,
                     "user " + state.user + " may not run " +
                         JoinNames(state.denied_commands, ", ") + " on the " + side +
                         ", which tandem needs " + purpose + (keys ? " (on every key)" : ""),
                     "ACL SETUSER " + state.user + " " +
                         JoinNames(state.denied_commands, " ", "+") + (keys ? " ~*" : ""));
  }

  if (source) {
    if (state.modules.has_value()) {
      for (const ModuleInfo& module : *state.modules) {
        assessment.Block("redis_module_loaded", "module " + module.name,
                         "module " + module.name +
                             " is loaded on the source; keys of module data types cannot be "
                             "replicated by tandem",
                         "move this module's data another way and unload it (MODULE UNLOAD " +
                             module.name + "), or migrate with the module vendor's tooling");
      }
    } else {
      assessment.Warn("redis_modules_unchecked", "server",
                      "neither MODULE LIST nor INFO modules answered, so loaded modules are "
                      "unknown",
                      "grant +module|list to user " + state.user +
                          ", or confirm by hand that "
                          "no module is loaded");
    }
    if (state.repl_backlog_size.has_value() && *state.repl_backlog_size < kMinReplBacklogBytes) {
      assessment.Warn("redis_small_repl_backlog", "server",
                      "repl-backlog-size is " + HumanBytes(*state.repl_backlog_size) +
                          ": if tandem's stream drops for longer than the source takes to write "
                          "that much, resuming needs a full resync (a new RDB transfer)",
                      "CONFIG SET repl-backlog-size 256mb (more on busy servers)");
    }
    if (state.rdb_last_bgsave_status == "err" && state.repl_diskless_sync != true) {
      assessment.Warn("redis_bgsave_failing", "server",
                      "the source's last BGSAVE failed, and a full resync (tandem's initial copy) "
                      "is a BGSAVE while repl-diskless-sync is off",
                      "fix the BGSAVE error in the source's log (disk space, permissions), or "
                      "CONFIG SET repl-diskless-sync yes");
    }
  } else {
    int64_t total = 0;
    std::string where;
    for (const engine::KeyspaceInfo& keyspace : state.keyspaces) {
      total += keyspace.keys;
      if (keyspace.keys > 0) {
        where += std::string(where.empty() ? "" : ", ") + std::to_string(keyspace.keys) + " in db" +
                 std::to_string(keyspace.database);
      }
    }
    if (total > 0) {
      assessment.Block("redis_target_not_empty", "keyspace",
                       "the target holds " + std::to_string(total) + " keys (" + where +
                           "); tandem copies into an empty server so that nothing stale survives",
                       "FLUSHALL on the target, or pick an empty one");
    }
  }
  return assessment;
}

}  // namespace tandem::connectors::redis
