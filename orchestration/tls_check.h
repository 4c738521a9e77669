// File: orchestration/tls_check.h
//
// The TLS check of phase 5, run before any DNS change: a TLS handshake (OpenSSL) with the new
// address, sending the plan's host name as SNI, then three verdicts on the certificate the server
// presents:
//   - the chain verifies against `ca_file` (a PEM bundle) or, when absent, the system store;
//   - the leaf matches the host name (subjectAltName, as OpenSSL's X509_check_host does);
//   - it is valid now: expired or not yet valid refuses; fewer than `warn_days` days left is a
//     warning that lets the cutover go on.
// A refusal's message carries the certificate's subject, issuer and validity dates, so the
// operator sees which certificate the address served:
//   "TLS at 198.51.100.10:443 for www.example.com: certificate has expired (subject CN=www...,
//    issuer CN=Test CA, valid 2025-01-01T00:00:00Z to 2026-01-01T00:00:00Z); install a current
//    certificate on the new servers before the cutover"
//
// Thread safety: a free function with no shared state; safe from several threads. It returns
// within `timeout` (connect and handshake together).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace tandem::orchestration {

struct TlsCheckOptions {
  std::string host;                    // the name clients use (SNI and the host name check)
  std::string address;                 // "host:port" to connect to (the new side's address)
  std::optional<std::string> ca_file;  // PEM bundle; absent: the system's default store
  int warn_days = 14;
  std::chrono::milliseconds timeout{5000};
  // The moment the validity is judged at; absent: now. (Tests set it to probe the expiry rules.)
  std::optional<std::chrono::system_clock::time_point> at;
};

struct TlsCertificateInfo {
  std::string subject;     // one line, RFC 2253 ("CN=www.example.com,O=Example")
  std::string issuer;      // likewise
  std::string not_before;  // ISO 8601 UTC, "2026-01-01T00:00:00Z"
  std::string not_after;
  double days_left = 0;  // until not_after, from the judging moment (negative when expired)
};

struct TlsCheckResult {
  TlsCertificateInfo leaf;
  std::string protocol;               // e.g. "TLSv1.3"
  std::vector<std::string> warnings;  // e.g. "certificate of www.example.com expires in 9 days"
};

// Errors (one line each, with the certificate's subject, issuer and dates when one was seen):
// kInvalidArgument for an empty host or an unparsable address or an unreadable ca_file;
// kConnectionFailed (cannot connect, or the handshake failed before a certificate was seen);
// kTimeout; kFailedPrecondition for a chain that does not verify, a host name mismatch, an
// expired or not-yet-valid certificate.
engine::Result<TlsCheckResult> CheckTls(const TlsCheckOptions& options);

}  // namespace tandem::orchestration
