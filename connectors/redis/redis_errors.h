// File: connectors/redis/redis_errors.h
//
// How error replies from a Redis server become a Status: the error's first word (Redis's error
// "code") and, for plain ERR, well-known texts decide the StatusCode; the message names the server
// (ConnectionConfig::Redacted()), the command (CommandName(): never its arguments) and the fix.
//
//   error reply                                          StatusCode
//   NOAUTH, WRONGPASS, ERR invalid password,             kAuthenticationFailed
//     ERR AUTH ... without any password configured,
//     ERR Client sent AUTH, but no password is set
//   NOPERM                                               kPermissionDenied
//   ERR DB index is out of range, ERR invalid DB index   kNotFound
//   LOADING, BUSY, TRYAGAIN, MASTERDOWN, CLUSTERDOWN,    kUnavailable (retryable)
//     ERR max number of clients reached
//   READONLY, MOVED, ASK, MISCONF                        kFailedPrecondition
//   ERR unknown command                                  kUnsupported (renamed or disabled)
//   WRONGTYPE                                            kInvalidArgument
//   anything else                                        kFailedPrecondition
//
// Thread safety: free functions without shared state.
#pragma once

#include <string_view>

#include "connectors/redis/redis_command.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

// The StatusCode for an error reply's text ("NOPERM this user has no permissions ...").
engine::StatusCode ErrorReplyCode(std::string_view error_text);

// "<server> refused <COMMAND>: <error text> (<fix>)". `user` is the ACL user the connection logged
// in as (empty = "default"); it goes into suggested ACL SETUSER statements.
engine::Status ErrorReplyToStatus(std::string_view error_text, const Argv& argv,
                                  std::string_view server, std::string_view user);

// For a NOPERM reply, the command or key the server refused, as it named it ("config|get");
// empty when the text names none.
std::string_view DeniedCommand(std::string_view error_text);

}  // namespace tandem::connectors::redis
