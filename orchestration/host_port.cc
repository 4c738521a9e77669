#include "orchestration/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

namespace tandem::orchestration {

bool IsIpLiteral(const std::string& host) {
  in6_addr bytes{};
  return inet_pton(AF_INET, host.c_str(), &bytes) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &bytes) == 1;
}

engine::Result<HostPort> ParseHostPort(std::string_view text,
                                       std::optional<uint16_t> default_port) {
  const auto problem = [](const std::string& what) { return engine::InvalidArgument(what); };
  if (text.empty()) return problem("is empty");
  if (std::any_of(text.begin(), text.end(), [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
      })) {
    return problem("contains white space");
  }
  HostPort parsed;
  std::optional<std::string_view> port;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return problem("has an unterminated '['");
    parsed.host = std::string(text.substr(1, close - 1));
    in6_addr bytes{};
    if (inet_pton(AF_INET6, parsed.host.c_str(), &bytes) != 1) {
      return problem("has '" + parsed.host + "' in brackets, which is not an IPv6 address");
    }
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return problem("has text after ']' that is not ':port'");
      port = rest.substr(1);
    }
  } else if (default_port && IsIpLiteral(std::string(text))) {
    parsed.host = std::string(text);  // an address alone, IPv6 included
  } else if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    parsed.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (parsed.host.find(':') != std::string::npos) {
      return problem("is an IPv6 address without brackets");
    }
  } else {
    parsed.host = std::string(text);
  }
  if (parsed.host.empty()) return problem("has no host");
  if (parsed.host.find('/') != std::string::npos) return problem("has a '/' in the host");
  if (!port) {
    if (!default_port) return problem("has no port");
    parsed.port = *default_port;
    return parsed;
  }
  unsigned value = 0;
  const char* end = port->data() + port->size();
  const auto [stopped, error] = std::from_chars(port->data(), end, value);
  if (port->empty() || error != std::errc() || stopped != end || value < 1 || value > 65535) {
    return problem("has a port that is not a number from 1 to 65535");
  }
  parsed.port = static_cast<uint16_t>(value);
  return parsed;
}

}  // namespace tandem::orchestration
