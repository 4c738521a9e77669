#include "tests/tools/dns_plan.h"

#include "tests/harness/tls_certificates.h"

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

std::vector<RefusedCertificate> RefusedCertificates(const std::string& dir) {
  const TestCertificates certs =
      MakeTestCertificates(dir + "/certs", {"www.example.test", "127.0.0.1"});
  const TestCertificates other_host = MakeTestCertificates(dir + "/other", {"other.example.test"});
  return {
      {"wrong host name", other_host.server_cert, other_host.server_key, other_host.ca_cert,
       "www.example.test"},
      {"expired", certs.expired_server_cert, certs.expired_server_key, certs.ca_cert, "expired"},
      {"unknown CA", certs.server_cert, certs.server_key, certs.other_ca_cert, "CN=tandem test CA"},
  };
}

std::string TlsToml(const std::string& address, const std::string& ca) {
  return "tls = { host = \"www.example.test\", address = \"" + address + "\", ca = \"" + ca +
         "\" }\n";
}

}  // namespace tandem::testing
