#include "engine/connection_config.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace tandem::engine {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `text`; false when an escape is malformed.
bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return false;
    }
    int high = HexDigit(text[i + 1]);
    int low = HexDigit(text[i + 2]);
    if (high < 0 || low < 0) {
      return false;
    }
    out->push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<TlsMode> ParseTlsMode(std::string_view key, std::string_view value) {
  std::string v = Lower(value);
  for (char& c : v) {
    if (c == '_') c = '-';
  }
  if (v == "disable" || v == "disabled" || v == "false" || v == "off") return TlsMode::kDisable;
  if (v == "prefer" || v == "preferred" || v == "allow") return TlsMode::kPrefer;
  if (v == "require" || v == "required" || v == "true" || v == "on") return TlsMode::kRequire;
  if (v == "verify-ca") return TlsMode::kVerifyCa;
  if (v == "verify-full" || v == "verify-identity") return TlsMode::kVerifyFull;
  return InvalidArgument("unknown value '" + std::string(value) + "' for " + std::string(key) +
                         " (use disable, prefer, require, verify-ca or verify-full)");
}

Result<std::chrono::seconds> ParseSeconds(std::string_view key, std::string_view value) {
  int seconds = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error != std::errc() || end != value.data() + value.size() || seconds <= 0 ||
      seconds > 86400) {
    return InvalidArgument(std::string(key) + "=" + std::string(value) +
                           " is not a number of seconds between 1 and 86400");
  }
  return std::chrono::seconds(seconds);
}

std::string_view TlsModeQueryValue(TlsMode mode) {
  switch (mode) {
    case TlsMode::kDisable:
      return "disable";
    case TlsMode::kPrefer:
      return "prefer";
    case TlsMode::kRequire:
      return "require";
    case TlsMode::kVerifyCa:
      return "verify-ca";
    case TlsMode::kVerifyFull:
      return "verify-full";
  }
  return "prefer";
}

}  // namespace

std::string_view EngineKindName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kMySql:
      return "mysql";
    case EngineKind::kPostgres:
      return "postgres";
    case EngineKind::kRedis:
      return "redis";
  }
  return "unknown";
}

std::string ConnectionConfig::Endpoint() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

int ConnectionConfig::RedisDatabase() const { return database.empty() ? 0 : std::stoi(database); }

namespace {

// The URI without the password. `complete`: every option, percent-encoded, so that it parses
// back to the same configuration; otherwise only what differs from the defaults, for reading.
std::string FormatUri(const ConnectionConfig& config, bool complete) {
  std::string out(EngineKindName(config.engine));
  out += "://";
  if (!config.user.empty()) {
    out += PercentEncode(config.user) + "@";
  }
  out += config.Endpoint();
  if (!config.database.empty()) {
    out += "/" + PercentEncode(config.database);
  }
  auto file = [complete](const std::string& path) { return complete ? PercentEncode(path) : path; };
  std::vector<std::string> options;
  const TlsMode engine_default =
      config.engine == EngineKind::kRedis ? TlsMode::kDisable : TlsMode::kPrefer;
  if (complete || config.tls.mode != engine_default) {
    options.push_back("tls=" + std::string(TlsModeQueryValue(config.tls.mode)));
  }
  if (!config.tls.ca_file.empty()) options.push_back("tls-ca=" + file(config.tls.ca_file));
  if (!config.tls.cert_file.empty()) options.push_back("tls-cert=" + file(config.tls.cert_file));
  if (!config.tls.key_file.empty()) options.push_back("tls-key=" + file(config.tls.key_file));
  if (complete) {
    options.push_back("connect_timeout=" + std::to_string(config.connect_timeout.count()));
    options.push_back("read_timeout=" + std::to_string(config.read_timeout.count()));
  }
  for (size_t i = 0; i < options.size(); ++i) {
    out += (i == 0 ? "?" : "&") + options[i];
  }
  return out;
}

}  // namespace

std::string ConnectionConfig::Redacted() const { return FormatUri(*this, /*complete=*/false); }

std::string ConnectionConfig::UriWithoutPassword() const {
  return FormatUri(*this, /*complete=*/true);
}

Result<ConnectionConfig> ParseConnectionUri(std::string_view uri, std::string_view what,
                                            std::string_view password_env) {
  const std::string prefix = std::string(what) + " ";
  auto bad = [&](const std::string& problem) {
    return InvalidArgument(prefix + "URI is invalid: " + problem +
                           " (expected mysql://user:pass@host:port/db, "
                           "postgres://user:pass@host:port/db or redis://:pass@host:port/N)");
  };
  ConnectionConfig config;
  size_t scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos) {
    return bad("no scheme");
  }
  std::string scheme = Lower(uri.substr(0, scheme_end));
  bool implied_tls = false;
  if (scheme == "mysql" || scheme == "mariadb") {
    config.engine = EngineKind::kMySql;
    config.port = 3306;
  } else if (scheme == "postgres" || scheme == "postgresql") {
    config.engine = EngineKind::kPostgres;
    config.port = 5432;
  } else if (scheme == "redis" || scheme == "rediss") {
    config.engine = EngineKind::kRedis;
    config.port = 6379;
    implied_tls = scheme == "rediss";
    config.tls.mode = implied_tls ? TlsMode::kRequire : TlsMode::kDisable;
  } else {
    return bad("unknown scheme '" + scheme + "'");
  }
  std::string_view rest = uri.substr(scheme_end + 3);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  std::string_view path;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  // userinfo@host: the last '@' separates them, so a password may contain an unescaped '@'.
  std::string_view host_port = authority;
  bool has_password = false;
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    host_port = authority.substr(at + 1);
    std::string_view user_part = userinfo;
    if (size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      user_part = userinfo.substr(0, colon);
      if (!PercentDecode(userinfo.substr(colon + 1), &config.password)) {
        return bad("the password has a malformed %-escape");
      }
      has_password = true;
    }
    if (!PercentDecode(user_part, &config.user)) {
      return bad("the user name has a malformed %-escape");
    }
  }
  if (host_port.empty()) {
    return bad("no host");
  }
  std::string_view port_text;
  if (host_port.front() == '[') {
    size_t close = host_port.find(']');
    if (close == std::string_view::npos) {
      return bad("unterminated [ in the host");
    }
    config.host = std::string(host_port.substr(1, close - 1));
    std::string_view after = host_port.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return bad("unexpected text after ]");
      }
      port_text = after.substr(1);
    }
  } else if (size_t colon = host_port.rfind(':'); colon != std::string_view::npos) {
    config.host = std::string(host_port.substr(0, colon));
    port_text = host_port.substr(colon + 1);
  } else {
    config.host = std::string(host_port);
  }
  if (config.host.empty()) {
    return bad("no host");
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return bad("port '" + std::string(port_text) + "' is not a number from 1 to 65535");
    }
    config.port = static_cast<uint16_t>(port);
  }
  if (!PercentDecode(path, &config.database)) {
    return bad("the database name has a malformed %-escape");
  }
  if (config.engine == EngineKind::kRedis) {
    if (config.database.empty()) {
      config.database = "0";
    }
    int db = -1;
    auto [end, error] = std::from_chars(config.database.data(),
                                        config.database.data() + config.database.size(), db);
    if (error != std::errc() || end != config.database.data() + config.database.size() || db < 0 ||
        db > 65535) {
      return bad("the Redis database '" + config.database + "' is not a number");
    }
  } else if (config.database.find('/') != std::string::npos) {
    return bad("the database name contains '/'");
  }
  // Query options.
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    size_t eq = pair.find('=');
    std::string key = Lower(pair.substr(0, eq));
    std::string value;
    if (!PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), &value)) {
      return bad("option " + key + " has a malformed %-escape");
    }
    for (char& c : key) {
      if (c == '_' && key != "connect_timeout" && key != "read_timeout") c = '-';
    }
    if (key == "tls" || key == "ssl-mode" || key == "sslmode" || key == "ssl") {
      auto mode = ParseTlsMode(key, value);
      if (!mode.ok()) {
        return bad(mode.status().message());
      }
      config.tls.mode = *mode;
    } else if (key == "tls-ca" || key == "ssl-ca" || key == "sslrootcert") {
      config.tls.ca_file = value;
    } else if (key == "tls-cert" || key == "ssl-cert" || key == "sslcert") {
      config.tls.cert_file = value;
    } else if (key == "tls-key" || key == "ssl-key" || key == "sslkey") {
      config.tls.key_file = value;
    } else if (key == "connect_timeout" || key == "connect-timeout") {
      auto seconds = ParseSeconds(key, value);
      if (!seconds.ok()) {
        return bad(seconds.status().message());
      }
      config.connect_timeout = *seconds;
    } else if (key == "read_timeout" || key == "read-timeout") {
      auto seconds = ParseSeconds(key, value);
      if (!seconds.ok()) {
        return bad(seconds.status().message());
      }
      config.read_timeout = *seconds;
    } else {
      return bad("unknown option '" + key +
                 "' (known: tls/ssl-mode/sslmode, tls-ca, tls-cert, tls-key, connect_timeout, "
                 "read_timeout)");
    }
  }
  if (!has_password && !password_env.empty()) {
    if (const char* from_env = std::getenv(std::string(password_env).c_str())) {
      config.password = from_env;
    }
  }
  if (config.user.empty() && config.engine != EngineKind::kRedis) {
    return bad("no user name (write user@host)");
  }
  return config;
}

Status CheckTlsFilesReadable(const ConnectionConfig& config, const TlsFileOptionNames& names) {
  if (config.tls.mode == TlsMode::kDisable) {
    return Status::Ok();
  }
  const std::pair<std::string, const std::string*> files[] = {
      {std::string(names.ca) + " (tls-ca)", &config.tls.ca_file},
      {std::string(names.cert) + " (tls-cert)", &config.tls.cert_file},
      {std::string(names.key) + " (tls-key)", &config.tls.key_file}};
  for (const auto& [option, path] : files) {
    if (!path->empty() && access(path->c_str(), R_OK) != 0) {
      return InvalidArgument("cannot connect to " + config.Redacted() + ": the " + option +
                             " file " + *path + " cannot be read: " + std::strerror(errno) +
                             " (give the path of a readable PEM file)");
    }
  }
  return Status::Ok();
}

}  // namespace tandem::engine
