// File: orchestration/dns_client.h
//
// A DNS client for phase 5 (cutover), built on ldns (Debian libldns-dev): plain queries to one
// server, and RFC 2136 dynamic updates signed with TSIG (RFC 8945; HMAC-SHA256 by default) whose
// prerequisites make every change a compare-and-swap.
//
// Queries go over UDP (RD clear unless asked: the server answers from its own data) and are
// retried over TCP when the answer is truncated. Updates go over TCP with RD clear (RFC 2136).
// Each public call, with all its exchanges (the TCP retry, an update's read-back), is bounded by
// one timeout. Every answer must match its request (QR set, ID, opcode, question: kCorruption
// otherwise); with a key, an answer whose data is used (NOERROR, NXDOMAIN) must carry a TSIG that
// verifies with the key and the request's MAC (kPermissionDenied otherwise), and an unsigned
// error answer (REFUSED, SERVFAIL) is reported as that error, marked "(unsigned)".
//
// Compare-and-swap: ReplaceRecords sends ONE update message for all the changes. For each change
// its prerequisite section holds "RRset exists (value dependent)" (RFC 2136 2.4.2) with the
// expected value, and its update section deletes the RRset and adds the new value with the new
// TTL. The server applies all of it or none of it, and bumps the zone's SOA serial once. When a
// prerequisite fails (rcode NXRRSET or YXRRSET), the error names the first record whose live value
// differs (read back with Query) and says nothing was changed.
//
// Secrets: the TSIG secret never appears in a message or a log line.
//
// Thread safety: const methods, no shared state; safe to call from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace tandem::orchestration {

// A TSIG key as the plan names it ("hmac-sha256:keyname:BASE64SECRET").
struct TsigKey {
  std::string algorithm = "hmac-sha256";  // "hmac-sha256" or "hmac-sha512" (see the .cc: ldns
                                          // 1.8 cannot sign hmac-sha384)
  std::string name;                       // e.g. "tandem-key." (a trailing dot is added if absent)
  std::string secret_base64;
};

// One resource record as a server holds it. `name` is fully qualified with a trailing dot; `value`
// is the presentation form of the RDATA ("192.0.2.10", "old-lb.example.com.").
struct DnsRecord {
  std::string name;
  std::string type;  // "A", "AAAA", "CNAME", "SOA", ...
  uint32_t ttl = 0;
  std::string value;
};

// One compare-and-swap change of ReplaceRecords: `name`/`type` must hold exactly `expected_value`
// (a one-record RRset) and will hold exactly `new_value` with `new_ttl`. For a TTL change alone,
// new_value == expected_value.
struct DnsRecordReplacement {
  std::string name;  // fully qualified, trailing dot
  std::string type;  // "A", "AAAA" or "CNAME"
  std::string expected_value;
  std::string new_value;
  uint32_t new_ttl = 60;
};

// Whether `left` and `right` are the same record data of `type` in canonical form (case and the
// trailing dot of names, the spelling of IPv6 addresses). False when either does not parse.
bool SameDnsValue(const std::string& type, const std::string& left, const std::string& right);

// Whether `held` (a Query's answer for one name and `type`) is exactly one record whose value is
// `value` (SameDnsValue): what the DNS steps require before a compare-and-swap.
bool HoldsExactly(const std::vector<DnsRecord>& held, const std::string& type,
                  const std::string& value);

// The values of `held` for messages: "192.0.2.10, 192.0.2.11", or "nothing" when empty.
std::string HeldValues(const std::vector<DnsRecord>& held);

class DnsClient {
 public:
  // `server`: "host:port" (IPv4 or [IPv6]:port; port defaults to 53 when absent). `key`: signs
  // updates (and queries, when set: a server whose ACL needs the key for reads answers). `timeout`
  // bounds each exchange (connect, send, receive) and is the only wait.
  DnsClient(std::string server, std::optional<TsigKey> key,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

  const std::string& server() const { return server_; }

  // The records of `name`/`type` the server holds (empty when the name or type has none:
  // NXDOMAIN and NODATA both give an empty list).
  // Errors: kInvalidArgument (a name or type ldns cannot read, an unparsable server address),
  // kConnectionFailed (network error, naming the server), kTimeout, kFailedPrecondition for a
  // SERVFAIL/REFUSED answer (with the rcode), kCorruption for an answer ldns cannot parse.
  // `recursion_desired` sets RD: false asks the server for its own data (a primary, a secondary);
  // true lets a recursive resolver resolve (what clients see). With a key, the answer must carry a
  // valid TSIG from it (kPermissionDenied otherwise); every answer must match the question.
  engine::Result<std::vector<DnsRecord>> Query(const std::string& name, const std::string& type,
                                               bool recursion_desired = false) const;

  // The serial of `zone`'s SOA as the server holds it. Errors: as Query; kNotFound when the server
  // has no SOA for the zone (it is not authoritative for it).
  engine::Result<uint32_t> SoaSerial(const std::string& zone) const;

  // One signed UPDATE of `zone` holding every replacement (see the file comment). Needs a key.
  // Errors: kFailedPrecondition "<name> <type> holds <live values>, not <expected> as the plan
  // says; nothing was changed" when a prerequisite fails; kPermissionDenied when the server
  // refuses the update (REFUSED, NOTAUTH, a TSIG error: "the DNS server <server> refused the
  // update signed with key <name>: <rcode>; allow the key to update the zone (e.g. Knot's acl
  // with action: update)"); kInvalidArgument for an empty list, a record outside the zone, a
  // value ldns cannot read, or no key; kConnectionFailed/kTimeout as Query.
  engine::Status ReplaceRecords(const std::string& zone,
                                const std::vector<DnsRecordReplacement>& replacements) const;

 private:
  std::string server_;
  std::optional<TsigKey> key_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tandem::orchestration
