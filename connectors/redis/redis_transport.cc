#include "connectors/redis/redis_transport.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "connectors/redis/redis_tls.h"

namespace tandem::connectors::redis {
namespace {

using engine::ConnectionConfig;
using engine::Result;
using engine::Status;
using engine::TlsMode;

static_assert(Transport::kReadable == POLLIN && Transport::kWritable == POLLOUT,
              "Transport::Readiness mirrors poll(2) events");

// Owns a socket while a connection is being set up.
class SocketOwner {
 public:
  explicit SocketOwner(int fd) : fd_(fd) {}
  ~SocketOwner() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  SocketOwner(const SocketOwner&) = delete;
  SocketOwner& operator=(const SocketOwner&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// poll(2) on one descriptor until `deadline`: 1 when ready, 0 on timeout, -1 on error (errno set).
int PollUntil(int fd, short events, Transport::Deadline deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Transport::Clock::now());
    if (left.count() <= 0) {
      return 0;
    }
    pollfd entry{fd, events, 0};
    int ready = poll(&entry, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    return ready < 0 ? -1 : (ready > 0 ? 1 : 0);
  }
}

std::string ConnectFailure(const ConnectionConfig& config, const std::string& what) {
  return "cannot connect to " + config.Redacted() + ": " + what;
}

std::string TimeoutHint(const ConnectionConfig& config) {
  return "no answer within " + std::to_string(config.connect_timeout.count()) +
         " s (is the host reachable and the port open? raise connect_timeout=S in the URI if the "
         "network is slow)";
}

Result<int> ConnectTcp(const ConnectionConfig& config, Transport::Deadline deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* addresses = nullptr;
  std::string port = std::to_string(config.port);
  int resolved = getaddrinfo(config.host.c_str(), port.c_str(), &hints, &addresses);
  if (resolved != 0) {
    std::string reason = resolved == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(resolved);
    return engine::ConnectionFailed(ConnectFailure(
        config, "cannot resolve host '" + config.host + "': " + reason + " (check the host name)"));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(addresses, freeaddrinfo);
  std::string failure = "no address to connect to";
  for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    SocketOwner socket_fd(socket(address->ai_family,
                                 address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                 address->ai_protocol));
    if (socket_fd.get() < 0) {
      failure = std::string("cannot create a socket: ") + std::strerror(errno);
      continue;
    }
    int error = 0;
    if (connect(socket_fd.get(), address->ai_addr, address->ai_addrlen) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        int ready = PollUntil(socket_fd.get(), POLLOUT, deadline);
        if (ready == 0) {
          return engine::ConnectionFailed(ConnectFailure(config, TimeoutHint(config)));
        }
        socklen_t length = sizeof(error);
        if (ready < 0) {
          error = errno;
        } else if (getsockopt(socket_fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
          error = errno;
        }
      }
    }
    if (error == ECONNREFUSED) {
      failure =
          "connection refused (is the server running and listening on " + config.Endpoint() + "?)";
      continue;
    }
    if (error == ENETUNREACH || error == EHOSTUNREACH || error == ETIMEDOUT) {
      failure = std::string(std::strerror(error)) + " (check the host and the network route to " +
                config.Endpoint() + ")";
      continue;
    }
    if (error != 0) {
      failure = std::strerror(error);
      continue;
    }
    int on = 1;
    setsockopt(socket_fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    setsockopt(socket_fd.get(), SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    return socket_fd.release();
  }
  return engine::ConnectionFailed(ConnectFailure(config, failure));
}

// The handshake of a TLS session on a connected socket, before `deadline`.
Status TlsHandshake(SSL* ssl, int fd, const ConnectionConfig& config, TlsMode mode,
                    Transport::Deadline deadline) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int result = SSL_connect(ssl);
    if (result == 1) {
      return Status::Ok();
    }
    int error = SSL_get_error(ssl, result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      int ready = PollUntil(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
      if (ready == 0) {
        return engine::ConnectionFailed(ConnectFailure(
            config,
            "the TLS handshake got " + TimeoutHint(config) + " (is this the server's TLS port?)"));
      }
      if (ready < 0) {
        return engine::ConnectionFailed(
            ConnectFailure(config, std::string("poll failed: ") + std::strerror(errno)));
      }
      continue;
    }
    bool verifying = mode == TlsMode::kVerifyCa || mode == TlsMode::kVerifyFull;
    long verify_result = SSL_get_verify_result(ssl);
    if (verifying && verify_result != X509_V_OK) {
      std::string reason = X509_verify_cert_error_string(verify_result);
      std::string fix;
      if (verify_result == X509_V_ERR_HOSTNAME_MISMATCH ||
          verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        fix = "the server's certificate is not issued for " + config.host +
              ": connect by a name the certificate lists, or use tls=verify-ca";
      } else if (config.tls.ca_file.empty()) {
        fix =
            "no tls-ca was given, so the system's CA store was used: give tls-ca=<CA file that "
            "signed the server's certificate>";
      } else {
        fix = "check that tls-ca (" + config.tls.ca_file +
              ") is the CA that signed the server's certificate";
      }
      ERR_clear_error();
      return engine::ConnectionFailed(ConnectFailure(
          config, "TLS certificate verification failed: " + reason + " (" + fix + ")"));
    }
    std::string reason;
    if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      reason = errno == 0 ? "the server closed the connection during the TLS handshake"
                          : std::string("TLS handshake failed: ") + std::strerror(errno);
    } else {
      reason = "TLS handshake failed: " + TakeOpenSslErrors("unknown TLS error");
    }
    std::string fix;
    if (reason.find("wrong version number") != std::string::npos ||
        reason.find("packet length too long") != std::string::npos ||
        reason.find("record layer failure") != std::string::npos) {
      fix = "the port does not speak TLS: use the server's tls-port, or tls=disable";
    } else if (reason.find("certificate required") != std::string::npos ||
               reason.find("closed the connection") != std::string::npos) {
      fix =
          "is this the server's TLS port? does it require a client certificate (tls-cert, "
          "tls-key)?";
    } else {
      fix = "check the server's TLS settings (tls-port, tls-protocols) against tandem's TLS 1.2+";
    }
    return engine::ConnectionFailed(ConnectFailure(config, reason + " (" + fix + ")"));
  }
}

std::string IoFailure(int saved_errno) {
  if (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE) {
    return saved_errno == ECONNRESET ? "the connection was reset by the server"
                                     : "the server closed the connection";
  }
  return std::strerror(saved_errno);
}

// The reason for a failed SSL_read/SSL_write that is not a retry.
std::string TlsIoFailure(int ssl_error, int saved_errno) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    return "the server closed the connection";
  }
  if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    return IoFailure(saved_errno);
  }
  std::string reason = "TLS error: " + TakeOpenSslErrors("unknown TLS error");
  if (reason.find("certificate required") != std::string::npos) {
    reason += " (the server requires a client certificate: give tls-cert and tls-key)";
  }
  return reason;
}

}  // namespace

Transport::Transport(int fd, ssl_st* ssl) : fd_(fd), ssl_(ssl) {}

Transport::~Transport() {
  if (ssl_ != nullptr) {
    // Best effort close_notify; the socket is non-blocking, so this cannot hang.
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
    SSL_free(ssl_);
  }
  close(fd_);
}

Result<std::unique_ptr<Transport>> Transport::Connect(const ConnectionConfig& config,
                                                      Deadline deadline) {
  TlsMode mode = config.tls.mode;
  if (mode == TlsMode::kDisable || mode == TlsMode::kPrefer) {
    TANDEM_ASSIGN_OR_RETURN(int fd, ConnectTcp(config, deadline));
    std::unique_ptr<Transport> plain(new Transport(fd, nullptr));
    if (mode == TlsMode::kDisable) {
      return plain;
    }
    // kPrefer: probe with an inline PING. A plain server answers "+PONG" or "-NOAUTH ..."; a TLS
    // port fails the bytes as a TLS record and drops the connection or answers with an alert.
    bool plain_server = false;
    if (plain->WriteAll("PING\r\n", deadline).ok()) {
      char first = 0;
      auto read = plain->Read(&first, 1, deadline);
      if (!read.ok() && read.status().code() == engine::StatusCode::kTimeout) {
        return engine::ConnectionFailed(ConnectFailure(config, TimeoutHint(config)));
      }
      plain_server = read.ok() && (first == '+' || first == '-');
      // Consume the rest of the probe's reply line; the server sends nothing else unasked.
      for (char c = first; plain_server && c != '\n';) {
        TANDEM_ASSIGN_OR_RETURN(size_t ignored, plain->Read(&c, 1, deadline));
        (void)ignored;
      }
    }
    if (plain_server) {
      return plain;
    }
    plain.reset();
    mode = TlsMode::kRequire;
  }
  TANDEM_ASSIGN_OR_RETURN(SslContextPtr context,
                          MakeClientTlsContext(config.tls, config.Redacted()));
  // kPrefer came down to kRequire above; the context was built for its mode, which verifies
  // nothing, exactly as kRequire.
  TANDEM_ASSIGN_OR_RETURN(int fd, ConnectTcp(config, deadline));
  SocketOwner socket_fd(fd);
  TANDEM_ASSIGN_OR_RETURN(SslPtr ssl, NewClientSession(context.get(), fd, config.host, mode));
  TANDEM_RETURN_IF_ERROR(TlsHandshake(ssl.get(), fd, config, mode, deadline));
  return std::unique_ptr<Transport>(new Transport(socket_fd.release(), ssl.release()));
}

std::string Transport::tls_protocol() const { return ssl_ != nullptr ? SSL_get_version(ssl_) : ""; }

Result<Transport::Attempt> Transport::TryRead(char* buffer, size_t size) {
  if (ssl_ == nullptr) {
    for (;;) {
      ssize_t received = recv(fd_, buffer, size, 0);
      if (received > 0) {
        return Attempt{static_cast<size_t>(received), kNone};
      }
      if (received == 0) {
        return engine::ConnectionFailed("the server closed the connection");
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return Attempt{0, kReadable};
      }
      return engine::ConnectionFailed(IoFailure(errno));
    }
  }
  ERR_clear_error();
  errno = 0;
  size_t received = 0;
  int result = SSL_read_ex(ssl_, buffer, size, &received);
  if (result == 1) {
    return Attempt{received, kNone};
  }
  int saved_errno = errno;
  int error = SSL_get_error(ssl_, result);
  if (error == SSL_ERROR_WANT_READ) {
    return Attempt{0, kReadable};
  }
  if (error == SSL_ERROR_WANT_WRITE) {
    return Attempt{0, kWritable};
  }
  return engine::ConnectionFailed(TlsIoFailure(error, saved_errno));
}

Result<Transport::Attempt> Transport::TryWrite(const char* data, size_t size) {
  if (ssl_ == nullptr) {
    for (;;) {
      ssize_t written = send(fd_, data, size, MSG_NOSIGNAL);
      if (written >= 0) {
        return Attempt{static_cast<size_t>(written), written > 0 ? kNone : kWritable};
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return Attempt{0, kWritable};
      }
      return engine::ConnectionFailed(IoFailure(errno));
    }
  }
  ERR_clear_error();
  errno = 0;
  size_t written = 0;
  int result = SSL_write_ex(ssl_, data, size, &written);
  if (result == 1) {
    return Attempt{written, kNone};
  }
  int saved_errno = errno;
  int error = SSL_get_error(ssl_, result);
  if (error == SSL_ERROR_WANT_WRITE) {
    return Attempt{0, kWritable};
  }
  if (error == SSL_ERROR_WANT_READ) {
    return Attempt{0, kReadable};
  }
  return engine::ConnectionFailed(TlsIoFailure(error, saved_errno));
}

Status Transport::Wait(short events, Deadline deadline) {
  int ready = PollUntil(fd_, events, deadline);
  if (ready == 0) {
    return engine::Timeout("the server did not answer in time");
  }
  if (ready < 0) {
    return engine::ConnectionFailed(std::string("poll failed: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Result<size_t> Transport::Read(char* buffer, size_t size, Deadline deadline) {
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(Attempt attempt, TryRead(buffer, size));
    if (attempt.bytes > 0) {
      return attempt.bytes;
    }
    TANDEM_RETURN_IF_ERROR(Wait(attempt.wait_for, deadline));
  }
}

Status Transport::WriteAll(std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    TANDEM_ASSIGN_OR_RETURN(Attempt attempt, TryWrite(data.data(), data.size()));
    if (attempt.bytes > 0) {
      data.remove_prefix(attempt.bytes);
      continue;
    }
    TANDEM_RETURN_IF_ERROR(Wait(attempt.wait_for, deadline));
  }
  return Status::Ok();
}

}  // namespace tandem::connectors::redis
