// File: connectors/redis/redis_tls.h
//
// OpenSSL plumbing for Transport (private to connectors/redis; nothing outside includes it):
// an owned client SSL_CTX built from engine::TlsOptions, a socket BIO that writes with
// MSG_NOSIGNAL (so a server that hangs up cannot kill the process with SIGPIPE, and the library
// need not touch the process's signal dispositions), and the error texts OpenSSL leaves behind.
//
//   TlsMode      certificate chain          host name        client certificate
//   kRequire     not verified               not checked      sent when tls-cert is given
//   kVerifyCa    verified against tls-ca    not checked      (or the system store without
//   kVerifyFull  verified against tls-ca    checked (DNS      tls-ca)
//                                           name or IP SAN)
// kPrefer is decided by Transport (see redis_transport.h); kDisable never reaches this file.
//
// Thread safety: MakeClientTlsContext and NewSocketBio may be called from any thread; an SSL_CTX
// is safe to share once built, an SSL belongs to one thread.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

struct SslContextDeleter {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslContextPtr = std::unique_ptr<SSL_CTX, SslContextDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// A client context for `options` (TLS 1.2 or newer, partial writes, verification per mode, CA,
// client certificate and key). `server` names the server in messages.
// REQUIRES: options.mode != kDisable.
// Errors: kInvalidArgument when a CA, certificate or key file cannot be loaded (naming the file and
// OpenSSL's reason) or a key is given without a certificate.
engine::Result<SslContextPtr> MakeClientTlsContext(const engine::TlsOptions& options,
                                                   const std::string& server);

// An SSL session on the connected socket `fd` (which stays owned by the caller and must outlive
// the session), with SNI and, for kVerifyFull, the expected host name or IP address set.
// Errors: kInternal when OpenSSL cannot allocate.
engine::Result<SslPtr> NewClientSession(SSL_CTX* context, int fd, const std::string& host,
                                        engine::TlsMode mode);

// Whether `host` is an IPv4 or IPv6 literal (no SNI for those; IP SAN check for verify-full).
bool IsIpLiteral(const std::string& host);

// Drains OpenSSL's thread-local error queue into one line of reasons ("wrong version number;
// ..."); `fallback` when the queue is empty.
std::string TakeOpenSslErrors(std::string fallback);

}  // namespace tandem::connectors::redis
