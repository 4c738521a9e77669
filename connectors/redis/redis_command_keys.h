// File: connectors/redis/redis_command_keys.h
//
// CommandKeyTable: which arguments of a replicated Redis command are keys, so the change pipeline
// can apply commands on different keys in parallel and keep those on one key in order
// (engine/writeset.h). Built from the source's own COMMAND reply (name, arity, flags, first key,
// last key, step: Redis's legacy key specification), so it matches the server's version:
//
//   command shape                           keys
//   fixed positions (SET, HSET, RENAME,     arguments first..last by step (last < 0 counts from
//   MSET, DEL, ...)                         the end: -1 the last argument)
//   "movablekeys" flag, with a rule here    the rule's keys: ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE
//                                           (dest + numkeys keys), SORT/SORT_RO (key, STORE dest),
//                                           LMPOP/ZMPOP/BLMPOP/BZMPOP (numkeys keys), XREAD(GROUP)
//                                           (after STREAMS), GEORADIUS(BYMEMBER) (key, STORE/
//                                           STOREDIST dest), MIGRATE (not replicated: unknown)
//   MOVE, COPY (a key of another          unknown: a barrier
//   database)
//   everything else: no key spec, movable   unknown: a barrier (FLUSHDB, FLUSHALL, SWAPDB,
//   keys without a rule, EVAL/EVALSHA/      FUNCTION, SCRIPT, MULTI/EXEC themselves, commands the
//   FCALL (keys given but the script may    table does not know)
//   touch others), unknown commands
//
// Names compare case-insensitively; subcommand containers (e.g. OBJECT, XGROUP) take the
// container's spec (XGROUP CREATE key ...: the key is argument 2, Redis 7 reports it per
// subcommand: "xgroup|create"), which the table reads from COMMAND's subcommands element.
//
// Thread safety: immutable after construction; safe to share.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connectors/redis/redis_reply.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

class Connection;

class CommandKeyTable {
 public:
  // COMMAND on `source`. Errors: the connection's; kPermissionDenied when COMMAND is not allowed
  // (named, with the ACL fix "+command").
  static engine::Result<CommandKeyTable> Load(Connection& source);
  // From a COMMAND reply (tests use recorded ones). Errors: kCorruption when it is not the shape
  // COMMAND returns.
  static engine::Result<CommandKeyTable> FromCommandReply(const Reply& reply);

  // The keys of `arguments` (arguments[0] the command name), or nullopt when they cannot be told
  // (see above): the caller orders such a command against everything.
  std::optional<std::vector<std::string>> Keys(const std::vector<std::string>& arguments) const;

  size_t size() const { return specs_.size(); }

 private:
  struct Spec {
    int arity = 0;  // as COMMAND: negative = at least -arity arguments
    int first = 0;
    int last = 0;
    int step = 0;
    bool movable = false;
  };
  std::unordered_map<std::string, Spec> specs_;  // lower-case "name" and "container|sub"
};

}  // namespace tandem::connectors::redis
