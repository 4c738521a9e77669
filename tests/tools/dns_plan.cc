#include "tests/tools/dns_plan.h"

namespace tandem::testing {

KnotServerOptions ExampleZone(uint32_t record_ttl) {
  KnotServerOptions options;
  options.zone = "example.test.";
  options.api_target = "old-lb.example.test.";
  options.record_ttl = record_ttl;
  return options;
}

std::string DnsToml(const KnotServer& knot, const std::string& extra, int ttl) {
  return "\n[dns]\nserver = \"" + knot.primary_address() + "\"\nzone = \"" + knot.zone() +
         "\"\ntsig = \"" + knot.key_algorithm() + ":" + knot.key_name() + ":" + knot.key_secret() +
         "\"\nttl = " + std::to_string(ttl) + "\nrecords = [\n  { name = \"www." + knot.zone() +
         "\", type = \"A\", old = \"192.0.2.10\", new = \"198.51.100.10\" },\n  { name = \"api." +
         knot.zone() + "\", type = \"CNAME\", old = \"old-lb." + knot.zone() +
         "\", new = \"new-lb." + knot.zone() + "\" },\n]\nresolvers = [\"" +
         knot.primary_address() + "\", \"" + knot.secondary_address() + "\"]\n" + extra;
}

}  // namespace tandem::testing
