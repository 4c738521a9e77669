#include "connectors/redis/redis_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cstdint>

namespace tandem::connectors::redis {
namespace {

int FdOf(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

int SocketBioWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t written = send(FdOf(bio), data, static_cast<size_t>(size), MSG_NOSIGNAL);
  if (written < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      BIO_set_retry_write(bio);
    }
    return -1;
  }
  return static_cast<int>(written);
}

int SocketBioRead(BIO* bio, char* buffer, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t received = recv(FdOf(bio), buffer, static_cast<size_t>(size), 0);
  if (received < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      BIO_set_retry_read(bio);
    }
    return -1;
  }
  return static_cast<int>(received);  // 0 = the server closed the connection
}

long SocketBioControl(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  // Writes go straight to the socket, so there is never anything to flush; every other control
  // (kTLS offload, fd queries) is reported as unsupported.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int SocketBioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// Built once, never freed: BIO methods live as long as the process.
BIO_METHOD* SocketBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tandem socket");
    if (m != nullptr) {
      BIO_meth_set_write(m, SocketBioWrite);
      BIO_meth_set_read(m, SocketBioRead);
      BIO_meth_set_ctrl(m, SocketBioControl);
      BIO_meth_set_create(m, SocketBioCreate);
    }
    return m;
  }();
  return method;
}

}  // namespace

bool IsIpLiteral(const std::string& host) {
  unsigned char address[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address) == 1;
}

std::string TakeOpenSslErrors(std::string fallback) {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    std::string text = reason != nullptr ? reason : "OpenSSL error " + std::to_string(code);
    if (out.find(text) != std::string::npos) {
      continue;
    }
    if (!out.empty()) {
      out += "; ";
    }
    out += text;
  }
  return out.empty() ? std::move(fallback) : out;
}

engine::Result<SslContextPtr> MakeClientTlsContext(const engine::TlsOptions& options,
                                                   const std::string& server) {
  ERR_clear_error();
  SslContextPtr context(SSL_CTX_new(TLS_client_method()));
  if (context == nullptr) {
    return engine::Internal("cannot create a TLS context for " + server + ": " +
                            TakeOpenSslErrors("out of memory"));
  }
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  // Partial writes and a moving buffer let Transport write from its own buffer without blocking.
  SSL_CTX_set_mode(context.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  bool verify =
      options.mode == engine::TlsMode::kVerifyCa || options.mode == engine::TlsMode::kVerifyFull;
  if (verify) {
    int loaded = options.ca_file.empty() ? SSL_CTX_set_default_verify_paths(context.get())
                                         : SSL_CTX_load_verify_locations(
                                               context.get(), options.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return engine::InvalidArgument(
          "cannot load the TLS CA " +
          (options.ca_file.empty() ? std::string("store of the system") : options.ca_file) +
          " for " + server + ": " + TakeOpenSslErrors("unreadable") +
          " (tls-ca must name a readable PEM file)");
    }
  }
  SSL_CTX_set_verify(context.get(), verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!options.key_file.empty() && options.cert_file.empty()) {
    return engine::InvalidArgument("tls-key is given for " + server +
                                   " without tls-cert (give both, or neither)");
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(context.get(), options.cert_file.c_str()) != 1) {
      return engine::InvalidArgument("cannot load the TLS client certificate " + options.cert_file +
                                     " for " + server + ": " + TakeOpenSslErrors("unreadable") +
                                     " (tls-cert must name a readable PEM file)");
    }
    // Without tls-key the key is read from the certificate file (a PEM may hold both).
    const std::string& key = options.key_file.empty() ? options.cert_file : options.key_file;
    if (SSL_CTX_use_PrivateKey_file(context.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return engine::InvalidArgument("cannot load the TLS client key " + key + " for " + server +
                                     ": " + TakeOpenSslErrors("unreadable") +
                                     " (tls-key must name a readable, unencrypted PEM key)");
    }
    if (SSL_CTX_check_private_key(context.get()) != 1) {
      return engine::InvalidArgument("the TLS client key " + key +
                                     " does not match the "
                                     "certificate " +
                                     options.cert_file + " for " + server);
    }
  }
  return context;
}

engine::Result<SslPtr> NewClientSession(SSL_CTX* context, int fd, const std::string& host,
                                        engine::TlsMode mode) {
  ERR_clear_error();
  SslPtr ssl(SSL_new(context));
  BIO_METHOD* method = SocketBioMethod();
  BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
  if (ssl == nullptr || bio == nullptr) {
    BIO_free(bio);
    return engine::Internal("cannot create a TLS session: " + TakeOpenSslErrors("out of memory"));
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  SSL_set_bio(ssl.get(), bio, bio);  // the session owns the BIO from here on
  bool ip = IsIpLiteral(host);
  if (!ip) {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  }
  if (mode == engine::TlsMode::kVerifyFull) {
    int set = 0;
    if (ip) {
      set = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), host.c_str());
    } else {
      SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      set = SSL_set1_host(ssl.get(), host.c_str());
    }
    if (set != 1) {
      return engine::Internal("cannot set the expected TLS host name " + host + ": " +
                              TakeOpenSslErrors("unknown error"));
    }
  }
  SSL_set_connect_state(ssl.get());
  return ssl;
}

}  // namespace tandem::connectors::redis
