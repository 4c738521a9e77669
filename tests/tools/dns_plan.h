// File: tests/tools/dns_plan.h
//
// The test zone and the plan's [dns] section shared by the `tandem run` tests with a Knot DNS
// primary and secondary (tests/harness/knot_server.h): zone example.test. with www A 192.0.2.10
// and api CNAME old-lb.example.test., switched to 198.51.100.10 and new-lb.example.test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/harness/knot_server.h"

namespace tandem::testing {

// The zone example.test. with every record's TTL at `record_ttl` seconds.
KnotServerOptions ExampleZone(uint32_t record_ttl);

// The [dns] section for `knot`'s zone: www A and api CNAME from their old to their new values, the
// TTL lowered to `ttl` in phase 1, propagation watched at the primary and the secondary; `extra`
// is appended inside the section (e.g. a `tls = {...}` line).
std::string DnsToml(const KnotServer& knot, const std::string& extra = "", int ttl = 60);

// A certificate clients of www.example.test would refuse, served by a test TLS listener: `what`
// it is, its files, the CA the plan trusts, and the text the refusal must name.
struct RefusedCertificate {
  std::string what, cert, key, ca, expect;
};

// The three refusals the cutover must stop at: a wrong host name, an expired certificate, an
// unknown CA (certificates made under `dir`, tests/harness/tls_certificates.h).
std::vector<RefusedCertificate> RefusedCertificates(const std::string& dir);

// `tls = {...}` for www.example.test at `address` ("host:port"), trusting `ca`.
std::string TlsToml(const std::string& address, const std::string& ca);

}  // namespace tandem::testing
