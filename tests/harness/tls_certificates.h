// File: tests/harness/tls_certificates.h
//
// Throwaway TLS material for tests that run real servers with TLS: a test CA, a second CA that
// signed nothing here (for "wrong CA" tests), a server certificate for the given host names and IP
// addresses, and a client certificate for mutual TLS, all made with the `openssl` command (P-256
// keys, valid for two days) in a directory of the caller's.
//
//   tandem::testing::TempDir dir;
//   TestCertificates certs = MakeTestCertificates(dir.path() + "/certs", {"localhost"});
//   ... --tls-cert-file certs.server_cert --tls-key-file certs.server_key ...
//   ... ?tls=verify-full&tls-ca=<certs.ca_cert>&tls-cert=<certs.client_cert>&... ...
//
// Key files are written with mode 0600 (openssl's default for new keys). A server that runs as
// another account (PostgreSQL as `postgres`) needs the files handed over: ChownTree(dir, account).
//
// Thread safety: MakeTestCertificates is safe for concurrent use on different directories.
#pragma once

#include <string>
#include <vector>

namespace tandem::testing {

// Paths of the PEM files MakeTestCertificates wrote (all inside `dir`).
struct TestCertificates {
  std::string dir;
  std::string ca_cert;  // the CA that signed the server and client certificates
  std::string ca_key;
  std::string other_ca_cert;  // a self-signed CA that signed nothing here
  std::string server_cert;    // subjectAltName from server_names, extendedKeyUsage serverAuth
  std::string server_key;
  std::string client_cert;  // CN = client_common_name, extendedKeyUsage clientAuth
  std::string client_key;
  // Like server_cert (same names, same CA) but valid only from 2020-01-01 to 2020-01-02 UTC.
  std::string expired_server_cert;
  std::string expired_server_key;
};

// Makes the files above in `dir` (created if missing, mode 0755). Each entry of `server_names` is
// a DNS name ("localhost") or an IPv4/IPv6 address ("127.0.0.1"), which becomes an IP SAN; the
// server certificate's CN is the first entry. `client_common_name` is the client certificate's CN
// (PostgreSQL's cert authentication maps it to the role name).
// REQUIRES: server_names is not empty. Throws std::runtime_error with the tail of dir/openssl.log
// if a command fails.
TestCertificates MakeTestCertificates(const std::string& dir,
                                      const std::vector<std::string>& server_names,
                                      const std::string& client_common_name = "tandem");

}  // namespace tandem::testing
