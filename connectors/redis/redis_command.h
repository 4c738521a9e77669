// File: connectors/redis/redis_command.h
//
// Commands as argument vectors, their encoding in the Redis protocol (RESP, via hiredis's
// redisFormatCommandArgv), and a safe name for a command in messages.
//
// Thread safety: free functions without shared state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tandem::connectors::redis {

// One command: the name then its arguments, each binary-safe. {"SET", "k", "v"}.
using Argv = std::vector<std::string>;

// Appends the RESP encoding of `argv` ("*3\r\n$3\r\nSET\r\n...") to `out`.
// REQUIRES: !argv.empty().
void AppendEncodedCommand(const Argv& argv, std::string* out);

// The name of `argv` for messages, upper-case, with the subcommand for container commands
// ("CONFIG GET", "CLIENT SETNAME", "ACL DRYRUN", "GET"). Never includes keys, values or a password.
std::string CommandName(const Argv& argv);

// Whether `argument` is `lower` (an ASCII lower-case name such as "multi") in any letter case:
// how command names in a stream compare.
bool EqualsIgnoreCase(std::string_view argument, std::string_view lower);

}  // namespace tandem::connectors::redis
