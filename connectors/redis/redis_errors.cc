#include "connectors/redis/redis_errors.h"

#include <string>

namespace tandem::connectors::redis {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string_view FirstWord(std::string_view text) { return text.substr(0, text.find(' ')); }

std::string Fix(engine::StatusCode code, std::string_view error_text, std::string_view user) {
  std::string who = user.empty() ? "default" : std::string(user);
  std::string_view word = FirstWord(error_text);
  switch (code) {
    case engine::StatusCode::kAuthenticationFailed:
      if (word == "NOAUTH") {
        return "the server requires a password: put it in the URI (redis://:PASSWORD@host:port/N) "
               "or in TANDEM_SOURCE_PASSWORD / TANDEM_TARGET_PASSWORD";
      }
      if (Contains(error_text, "without any password configured") ||
          Contains(error_text, "no password is set")) {
        return "the server has no password for this user: remove the password from the URI "
               "and the environment";
      }
      return "check the user name and password";
    case engine::StatusCode::kPermissionDenied: {
      std::string_view denied = DeniedCommand(error_text);
      if (Contains(error_text, "access a key") || Contains(error_text, "access one of the keys")) {
        return "let the user access every key: ACL SETUSER " + who + " ~*";
      }
      if (Contains(error_text, "channel")) {
        return "let the user use every channel: ACL SETUSER " + who + " &*";
      }
      if (!denied.empty()) {
        return "grant it: ACL SETUSER " + who + " +" + std::string(denied);
      }
      return "grant the user the missing permission with ACL SETUSER " + who;
    }
    case engine::StatusCode::kNotFound:
      return "use a database number below the server's 'databases' setting";
    case engine::StatusCode::kUnavailable:
      if (word == "LOADING") {
        return "wait until the server has loaded its dataset, then retry";
      }
      if (word == "BUSY") {
        return "a script or function is running: wait for it or stop it, then retry";
      }
      if (Contains(error_text, "max number of clients")) {
        return "close idle clients or raise maxclients, then retry";
      }
      return "retry when the server is available";
    case engine::StatusCode::kFailedPrecondition:
      if (word == "READONLY") {
        return "connect to the primary, or make this server writable with REPLICAOF NO ONE";
      }
      if (word == "MOVED" || word == "ASK") {
        return "this is a Redis Cluster node: tandem works with one standalone server";
      }
      if (word == "MISCONF") {
        return "the server cannot persist to disk: fix its RDB/AOF errors (see its log)";
      }
      return "see the server's message";
    case engine::StatusCode::kUnsupported:
      return "the command is renamed or disabled on this server (rename-command / ACL): enable "
             "it for tandem";
    case engine::StatusCode::kInvalidArgument:
      return "the key holds another type than expected";
    default:
      return "see the server's message";
  }
}

}  // namespace

engine::StatusCode ErrorReplyCode(std::string_view error_text) {
  using engine::StatusCode;
  std::string_view word = FirstWord(error_text);
  if (word == "NOAUTH" || word == "WRONGPASS") return StatusCode::kAuthenticationFailed;
  if (word == "NOPERM") return StatusCode::kPermissionDenied;
  if (word == "LOADING" || word == "BUSY" || word == "TRYAGAIN" || word == "MASTERDOWN" ||
      word == "CLUSTERDOWN") {
    return StatusCode::kUnavailable;
  }
  if (word == "READONLY" || word == "MOVED" || word == "ASK" || word == "MISCONF") {
    return StatusCode::kFailedPrecondition;
  }
  if (word == "WRONGTYPE") return StatusCode::kInvalidArgument;
  if (word == "ERR") {
    if (StartsWith(error_text, "ERR invalid password") ||
        Contains(error_text, "without any password configured") ||
        Contains(error_text, "but no password is set")) {
      return StatusCode::kAuthenticationFailed;
    }
    if (Contains(error_text, "DB index is out of range") ||
        StartsWith(error_text, "ERR invalid DB index")) {
      return StatusCode::kNotFound;
    }
    if (Contains(error_text, "max number of clients reached")) return StatusCode::kUnavailable;
    if (StartsWith(error_text, "ERR unknown command")) return StatusCode::kUnsupported;
  }
  return StatusCode::kFailedPrecondition;
}

std::string_view DeniedCommand(std::string_view error_text) {
  // Redis 6 and 7: "NOPERM this user has no permissions to run the 'config|get' command" (6.x
  // writes "or its subcommand" after the quote).
  size_t open = error_text.find('\'');
  if (open == std::string_view::npos || !Contains(error_text, "to run the")) {
    return {};
  }
  size_t close = error_text.find('\'', open + 1);
  if (close == std::string_view::npos) {
    return {};
  }
  return error_text.substr(open + 1, close - open - 1);
}

engine::Status ErrorReplyToStatus(std::string_view error_text, const Argv& argv,
                                  std::string_view server, std::string_view user) {
  engine::StatusCode code = ErrorReplyCode(error_text);
  std::string message = std::string(server) + " refused " + CommandName(argv) + ": " +
                        std::string(error_text) + " (" + Fix(code, error_text, user) + ")";
  return engine::Status(code, std::move(message));
}

}  // namespace tandem::connectors::redis
