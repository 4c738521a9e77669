// File: connectors/redis/redis_acl.h
//
// Which commands tandem needs on each side of a migration, and whether an ACL user (Redis 6+) may
// run them. On Redis 7 the server answers exactly (ACL DRYRUN); where DRYRUN is missing (Redis 6)
// or refused, the user's rules from ACL GETUSER are evaluated here instead: command rules in order
// ("+@all", "-@admin", "+psync", "allcommands", "nocommands"), against each command's ACL
// categories as Redis 7 declares them, for the user's root rules and each selector (Redis 7: a
// command is allowed when any of them allows it).
//
// Thread safety: value types and free functions.
#pragma once

#include <string>
#include <vector>

#include "connectors/redis/redis_command.h"
#include "connectors/redis/redis_reply.h"
#include "engine/assessment.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

struct RequiredCommand {
  std::string name;                     // lower-case, as ACL rules spell it: "psync"
  Argv dry_run;                         // a representative call for ACL DRYRUN <user> ...
  std::vector<std::string> categories;  // ACL categories without '@': "admin", "slow"
  bool touches_keys = false;            // the call names a key (so key patterns matter)
};

// The key the target-side dry runs name; never written.
inline constexpr char kProbeKey[] = "tandem:probe";

// Source: the replication handshake (SYNC, PSYNC, REPLCONF). Target: what the applier writes
// with (SELECT, RESTORE, DEL, SET, PEXPIREAT, MULTI, EXEC), on any key.
const std::vector<RequiredCommand>& RequiredCommands(engine::Role role);

// One set of rules: the user's root rules or one selector.
struct AclRuleSet {
  std::string commands;                   // "+@all -psync"
  std::vector<std::string> key_patterns;  // "~*", "%R~app:*"; "allkeys" flag becomes "~*"
};

struct AclUser {
  std::vector<AclRuleSet> rule_sets;  // [0] = root rules, then selectors
};

// Decodes an ACL GETUSER reply of Redis 6.0 to 7.x (keys as an array of bare patterns in 6.x, as
// one "~pattern ..." string in 7.x). Errors: kCorruption for another shape; kNotFound for a nil
// reply (no such user).
engine::Result<AclUser> ParseAclGetUser(const Reply& reply);

// Whether `rules` allow `command`.
bool AclAllowsCommand(const AclRuleSet& rules, const RequiredCommand& command);

// Whether `rules` give read and write access to every key.
bool AclAllowsAllKeys(const AclRuleSet& rules);

// Names of the commands in `commands` that no rule set of `user` allows (for commands that touch
// keys, a rule set must also give access to every key).
std::vector<std::string> DeniedByRules(const AclUser& user,
                                       const std::vector<RequiredCommand>& commands);

}  // namespace tandem::connectors::redis
