// File: orchestration/host_port.h
//
// Network addresses as the plan and the orchestration's clients write them: "host:port", where the
// host is a name or an IPv4 address, or an IPv6 address in brackets ("[2001:db8::1]:443"), and the
// port a number from 1 to 65535. One parser for every "host:port" of a plan (HAProxy's runtime
// API, the log listener, DNS servers and resolvers, the TLS address, probe URLs' authorities).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace tandem::orchestration {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};

// Parses `text`. With `default_port`, the port may be left out ("192.0.2.53", "[2001:db8::53]",
// or a bare IPv6 address "2001:db8::53"); without it, a missing port is an error.
// Errors: kInvalidArgument whose message is a phrase saying what is wrong, written to follow the
// address in the caller's sentence ("'<text>' has no port"): "is empty", "contains white space",
// "has an unterminated '['", "has 'x' in brackets, which is not an IPv6 address",
// "has text after ']' that is not ':port'", "has no port",
// "is an IPv6 address without brackets", "has no host", "has a '/' in the host",
// "has a port that is not a number from 1 to 65535".
engine::Result<HostPort> ParseHostPort(std::string_view text,
                                       std::optional<uint16_t> default_port = std::nullopt);

// Whether `host` is an IPv4 or IPv6 address literal (no brackets).
bool IsIpLiteral(const std::string& host);

}  // namespace tandem::orchestration
