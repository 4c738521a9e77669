// File: engine/connection_config.h
//
// ConnectionConfig: where a server is and how to log in, parsed from the URIs of the command-line
// contract (DESIGN.md):
//   mysql://user:pass@host:port/db            (mariadb:// is accepted as a synonym)
//   postgres://user:pass@host:port/db         (also postgresql://)
//   redis://:pass@host:port/N                 (rediss:// implies tls=require)
// User, password and database are percent-decoded. Query options pass connection settings through:
//   TLS    mysql: ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY, ssl-ca, ssl-cert,
//                 ssl-key
//          postgres: sslmode=disable|prefer|require|verify-ca|verify-full, sslrootcert, sslcert,
//                 sslkey
//          any engine: tls=disable|prefer|require|verify-ca|verify-full, tls-ca, tls-cert, tls-key
//   time   connect_timeout=S (default 10), read_timeout=S (default 60)
// An option tandem does not know is refused (a typo must not silently weaken TLS).
//
// The password may instead come from an environment variable (TANDEM_SOURCE_PASSWORD or
// TANDEM_TARGET_PASSWORD, chosen by the caller); a password in the URI wins.
//
// Passwords never leave this object except to the client library: Redacted() is what logs,
// reports and error messages use.
//
// Thread safety: a value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "engine/status.h"

namespace tandem::engine {

enum class EngineKind { kMySql, kPostgres, kRedis };

// "mysql", "postgres", "redis".
std::string_view EngineKindName(EngineKind kind);

enum class TlsMode {
  kDisable,     // plain TCP
  kPrefer,      // TLS if the server offers it (the client libraries' default for MySQL/PostgreSQL)
  kRequire,     // TLS, certificate not verified
  kVerifyCa,    // TLS, certificate chain verified against the CA
  kVerifyFull,  // TLS, chain and host name verified
};

struct TlsOptions {
  TlsMode mode = TlsMode::kPrefer;
  std::string ca_file;    // PEM CA bundle; empty = the system store
  std::string cert_file;  // client certificate, for mutual TLS
  std::string key_file;   // its private key
};

struct ConnectionConfig {
  EngineKind engine = EngineKind::kMySql;
  std::string user;
  std::string password;  // secret: never log, print or put in a message
  std::string host;
  uint16_t port = 0;
  // MySQL/PostgreSQL: database name (may be empty for MySQL: all databases).
  // Redis: the logical database number as text ("0" when absent).
  std::string database;
  TlsOptions tls;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds read_timeout{60};
  // Query options as given, after the ones above were taken out; always empty after a successful
  // parse (unknown options are refused) but kept for connectors that add options of their own.
  std::map<std::string, std::string> extra_options;

  // The URI without the password: "mysql://tandem@127.0.0.1:3306/shop?ssl-mode=REQUIRED".
  std::string Redacted() const;
  // The URI without the password but with every option (TLS files, timeouts), percent-encoded,
  // so that ParseConnectionUri reads it back as this configuration minus the password: what a
  // child process gets on its command line while the password goes through its environment.
  std::string UriWithoutPassword() const;
  // "host:port".
  std::string Endpoint() const;
  // Redis logical database number. REQUIRES: engine == kRedis.
  int RedisDatabase() const;
};

// How an engine's client names the TLS file options, for messages: {"sslrootcert", ...}.
struct TlsFileOptionNames {
  std::string_view ca;
  std::string_view cert;
  std::string_view key;
};

// Checks that every TLS file `config` names (CA, certificate, key) can be read, before a client
// library turns a missing file into a vague handshake error. No-op when TLS is disabled.
// Errors: kInvalidArgument naming the option (in the engine's spelling and tandem's) and the path.
Status CheckTlsFilesReadable(const ConnectionConfig& config, const TlsFileOptionNames& names);

// Parses `uri`. `what` names the flag in errors ("--source"); `password_env` names the environment
// variable to read the password from when the URI has none (may be empty).
// Errors: kInvalidArgument with one line saying what is wrong and the form expected. The password
// is never part of the message.
Result<ConnectionConfig> ParseConnectionUri(std::string_view uri, std::string_view what,
                                            std::string_view password_env);

}  // namespace tandem::engine
