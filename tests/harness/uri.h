// File: tests/harness/uri.h
//
// A minimal parser and builder for the URIs of the command-line contract
// (mysql://user:pass@host:port/db, postgres://..., redis://:pass@host:port/N). The harness has its
// own so that it does not depend on the code under test (engine/connection_config.h).
//
// Thread safety: pure functions on values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::testing {

struct ServerUri {
  std::string scheme;    // "mysql", "postgres", "redis", ...
  std::string user;      // percent-decoded; may be empty
  std::string password;  // percent-decoded; may be empty
  std::string host;
  uint16_t port = 0;  // 0 when the URI has none
  std::string path;   // after the first '/', percent-decoded, without the query; may be empty
};

// Throws std::runtime_error (without the password) when `uri` is not
// scheme://[user[:pass]@]host[:port][/path][?query].
ServerUri ParseServerUri(std::string_view uri);

// Percent-encodes everything except unreserved characters (RFC 3986).
std::string PercentEncode(std::string_view text);

// "scheme://user:password@host:port[/path]" with user, password and path percent-encoded; the
// "user:password@" part is left out when both are empty, ":password" when the password is.
std::string BuildServerUri(std::string_view scheme, std::string_view user,
                           std::string_view password, std::string_view host, uint16_t port,
                           std::string_view path);

}  // namespace tandem::testing
