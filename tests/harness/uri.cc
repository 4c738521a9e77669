#include "tests/harness/uri.h"

#include <cctype>
#include <stdexcept>

namespace tandem::testing {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string PercentDecode(std::string_view text, std::string_view what) {
  std::string result;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      int high = i + 2 < text.size() ? HexDigit(text[i + 1]) : -1;
      int low = i + 2 < text.size() ? HexDigit(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        throw std::runtime_error("bad percent-encoding in the " + std::string(what) + " of a URI");
      }
      result += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      result += text[i];
    }
  }
  return result;
}

}  // namespace

ServerUri ParseServerUri(std::string_view uri) {
  ServerUri result;
  size_t scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    throw std::runtime_error("not a server URI (expected scheme://user:password@host:port/path)");
  }
  result.scheme = std::string(uri.substr(0, scheme_end));
  std::string_view rest = uri.substr(scheme_end + 3);
  if (size_t query = rest.find('?'); query != std::string_view::npos) {
    rest = rest.substr(0, query);
  }
  std::string_view authority = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    result.path = PercentDecode(rest.substr(slash + 1), "path");
  }
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    if (size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      result.user = PercentDecode(userinfo.substr(0, colon), "user");
      result.password = PercentDecode(userinfo.substr(colon + 1), "password");
    } else {
      result.user = PercentDecode(userinfo, "user");
    }
  }
  std::string_view host = authority;
  if (size_t colon = authority.rfind(':');
      colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    host = authority.substr(0, colon);
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    if (port.empty() || port.size() > 5) {
      throw std::runtime_error("bad port in URI host '" + std::string(authority) + "'");
    }
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        throw std::runtime_error("bad port in URI host '" + std::string(authority) + "'");
      }
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) {
      throw std::runtime_error("port out of range in URI host '" + std::string(authority) + "'");
    }
    result.port = static_cast<uint16_t>(value);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    throw std::runtime_error("URI has no host");
  }
  result.host = std::string(host);
  return result;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string result;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      result += static_cast<char>(c);
    } else {
      result += '%';
      result += kHex[c >> 4];
      result += kHex[c & 15];
    }
  }
  return result;
}

std::string BuildServerUri(std::string_view scheme, std::string_view user,
                           std::string_view password, std::string_view host, uint16_t port,
                           std::string_view path) {
  std::string result = std::string(scheme) + "://";
  if (!user.empty() || !password.empty()) {
    result += PercentEncode(user);
    if (!password.empty()) {
      result += ":" + PercentEncode(password);
    }
    result += "@";
  }
  result += std::string(host) + ":" + std::to_string(port);
  if (!path.empty()) {
    result += "/" + PercentEncode(path);
  }
  return result;
}

}  // namespace tandem::testing
