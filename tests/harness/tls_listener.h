// File: tests/harness/tls_listener.h
//
// A real TLS listener for tests: `openssl s_server -www` on 127.0.0.1 at a free port, serving one
// certificate and key (e.g. of tls_certificates.h). Started in the constructor (retried on a port
// taken meanwhile) and stopped by PID in the destructor.
//
//   TestCertificates certs = MakeTestCertificates(dir + "/certs", {"www.example.test"});
//   TlsListener listener(certs.server_cert, certs.server_key, dir + "/s_server.log");
//   ... connect to listener.address() ...
//
// Thread safety: one owner; address() is safe from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "tests/harness/subprocess.h"

namespace tandem::testing {

class TlsListener {
 public:
  // Throws std::runtime_error with the tail of `log` when openssl does not come up in 10 s.
  TlsListener(const std::string& cert, const std::string& key, const std::string& log);
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;
  ~TlsListener();

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  ChildProcess child_;
};

// Whether something accepts TCP connections at 127.0.0.1:`port` now.
bool AcceptsConnections(uint16_t port);

}  // namespace tandem::testing
