#include "orchestration/tls_check.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>
#include <utility>

#include "orchestration/host_port.h"
#include "orchestration/socket_fd.h"
#include "orchestration/utc_time.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::steady_clock;

// unique_ptr deleters for OpenSSL handles: each handle has exactly one owner that frees it.
template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* handle) const {
    Free(handle);
  }
};
using SslContextPtr = std::unique_ptr<SSL_CTX, FreeWith<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, FreeWith<SSL_free>>;
using X509Ptr = std::unique_ptr<X509, FreeWith<X509_free>>;
using BioPtr = std::unique_ptr<BIO, FreeWith<BIO_free_all>>;
using AddrinfoPtr = std::unique_ptr<addrinfo, FreeWith<freeaddrinfo>>;

// Empties this thread's OpenSSL error queue on entry and on every way out, so no error of one call
// is read by the next (the queue is per thread).
class ErrorQueueScope {
 public:
  ErrorQueueScope() { ERR_clear_error(); }
  ErrorQueueScope(const ErrorQueueScope&) = delete;
  ErrorQueueScope& operator=(const ErrorQueueScope&) = delete;
  ~ErrorQueueScope() { ERR_clear_error(); }
};

// The reasons in this thread's OpenSSL error queue, joined with "; ", and the queue emptied.
std::string DrainOpenSslErrors() {
  std::string text;
  while (const unsigned long error = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(error);
    char buffer[256];
    if (reason == nullptr) {
      ERR_error_string_n(error, buffer, sizeof(buffer));
      reason = buffer;
    }
    if (text.find(reason) == std::string::npos) {
      text += (text.empty() ? "" : "; ") + std::string(reason);
    }
  }
  return text;
}

struct Endpoint {
  std::string host;  // without brackets
  std::string port;
};

// "host:port", "198.51.100.10:443" or "[2001:db8::1]:443".
engine::Result<Endpoint> ParseAddress(const std::string& address, const std::string& name) {
  auto parsed = ParseHostPort(address);
  if (!parsed.ok()) {
    return engine::InvalidArgument("TLS check for " + name + ": address '" + address + "' " +
                                   parsed.status().message() +
                                   "; write it as host:port, e.g. 198.51.100.10:443 or "
                                   "[2001:db8::1]:443");
  }
  return Endpoint{parsed->host, std::to_string(parsed->port)};
}

// One line, RFC 2253 ("CN=www.example.com,O=Example"); UTF-8 kept as is rather than escaped.
std::string NameToString(const X509_NAME* name) {
  if (name == nullptr) {
    return "(none)";
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return "(unprintable)";
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string("(empty)");
}

// Seconds since the epoch of an ASN.1 time, or nullopt when it does not parse.
std::optional<std::time_t> ToEpoch(const ASN1_TIME* time) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return std::nullopt;
  }
  return timegm(&parts);
}

// "2026-01-01T00:00:00Z".
std::string IsoDate(std::time_t seconds) {
  return FormatUtcTime(std::chrono::system_clock::from_time_t(seconds));
}

TlsCertificateInfo DescribeCertificate(X509* certificate, std::time_t judged_at) {
  TlsCertificateInfo info;
  info.subject = NameToString(X509_get_subject_name(certificate));
  info.issuer = NameToString(X509_get_issuer_name(certificate));
  const std::optional<std::time_t> not_before = ToEpoch(X509_get0_notBefore(certificate));
  const std::optional<std::time_t> not_after = ToEpoch(X509_get0_notAfter(certificate));
  info.not_before = not_before ? IsoDate(*not_before) : "(unreadable)";
  info.not_after = not_after ? IsoDate(*not_after) : "(unreadable)";
  if (not_after) {
    info.days_left = static_cast<double>(*not_after - judged_at) / 86400.0;
  }
  return info;
}

// "subject CN=..., issuer CN=..., valid 2026-01-01T00:00:00Z to 2026-01-03T00:00:00Z".
std::string DescribeForMessage(const TlsCertificateInfo& info) {
  return "subject " + info.subject + ", issuer " + info.issuer + ", valid " + info.not_before +
         " to " + info.not_after;
}

// "9 days", "47 hours", "12 minutes".
std::string DescribeDuration(double days) {
  if (days >= 2) {
    return std::to_string(static_cast<long>(std::floor(days))) + " days";
  }
  if (days * 24 >= 2) {
    return std::to_string(static_cast<long>(std::floor(days * 24))) + " hours";
  }
  return std::to_string(static_cast<long>(std::floor(days * 24 * 60))) + " minutes";
}

// What the verify callback saw during the handshake. Lives on CheckTls's stack; the callback finds
// it through the SSL object's app data. Used by the handshaking thread only.
struct VerifyFindings {
  struct Problem {
    int error = X509_V_OK;
    int depth = 0;
    std::string subject;  // of the certificate at `depth`
  };
  X509Ptr leaf;  // the server's certificate, once the callback saw it
  std::vector<Problem> problems;
};

// Records every verification error and lets the handshake go on, so the check can report on the
// certificate (subject, issuer, dates) instead of a bare handshake failure. The verdict is made
// after the handshake from the recorded problems.
int RecordAndContinue(int ok, X509_STORE_CTX* store) {
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) {
    return ok;
  }
  auto* findings = static_cast<VerifyFindings*>(SSL_get_app_data(ssl));
  if (findings == nullptr) {
    return ok;
  }
  try {
    const int depth = X509_STORE_CTX_get_error_depth(store);
    X509* certificate = X509_STORE_CTX_get_current_cert(store);
    if (depth == 0 && certificate != nullptr && findings->leaf == nullptr &&
        X509_up_ref(certificate) == 1) {
      findings->leaf.reset(certificate);
    }
    if (ok == 0) {
      findings->problems.push_back(
          {X509_STORE_CTX_get_error(store), depth,
           certificate != nullptr ? NameToString(X509_get_subject_name(certificate)) : ""});
    }
  } catch (...) {
    return 0;  // out of memory: abort the handshake rather than lose a problem
  }
  return 1;
}

// The verdict on one certificate problem: what is wrong, and what to do about it.
struct Verdict {
  int rank;  // order in the message: trust, host name, expiry, the rest
  std::string what;
  std::string fix;
  int depth = 0;  // of the certificate in the chain (0: the server's own), set by the caller
};

Verdict Judge(const VerifyFindings::Problem& problem, const TlsCheckOptions& options) {
  const std::string trust =
      options.ca_file ? "the CA file " + *options.ca_file : std::string("the system's CA store");
  const std::string trust_fix = options.ca_file
                                    ? "point `ca` at the CA that signed the new servers' "
                                      "certificate, or install one signed by a CA in it"
                                    : "install a certificate from a CA the system trusts, or set "
                                      "`ca` to the CA that signed it";
  const std::string renew = "install a current certificate on the new servers before the cutover";
  const bool leaf = problem.depth == 0;
  switch (problem.error) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return {0, "certificate is self-signed and not trusted by " + trust + " (unknown CA)",
              trust_fix};
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return {0,
              "certificate chain ends in the self-signed CA " + problem.subject +
                  ", which is not in " + trust + " (unknown CA)",
              trust_fix};
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return {0,
              "certificate is from an unknown CA: its issuer is not in " + trust +
                  ", and the server sent no chain up to one that is",
              trust_fix};
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return {1, "certificate does not match the host name " + options.host,
              "install a certificate whose subjectAltName covers " + options.host};
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return {2,
              leaf ? "certificate has expired"
                   : "CA certificate " + problem.subject + " in its chain has expired",
              renew};
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return {2,
              leaf ? "certificate is not yet valid"
                   : "CA certificate " + problem.subject + " in its chain is not yet valid",
              "install a certificate valid now, or check the clocks of the new servers and of "
              "this host"};
    default:
      return {3,
              std::string(leaf ? "certificate" : "CA certificate " + problem.subject) +
                  " does not verify: " + X509_verify_cert_error_string(problem.error),
              "install a certificate that verifies with `openssl verify`"};
  }
}

// One check: connection, handshake and verdict. Lives inside one CheckTls call.
class TlsProbe {
 public:
  TlsProbe(const TlsCheckOptions& options, Endpoint endpoint)
      : options_(options),
        endpoint_(std::move(endpoint)),
        prefix_("TLS at " + options.address + " for " + options.host + ": "),
        deadline_(Clock::now() + options.timeout) {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    judged_at_ = options.at ? std::chrono::system_clock::to_time_t(*options.at) : now;
  }

  engine::Result<TlsCheckResult> Run() {
    // Bad input (the CA file, the host name) is reported before anything touches the network.
    TANDEM_ASSIGN_OR_RETURN(SslContextPtr context, MakeContext());
    SslPtr ssl(SSL_new(context.get()));
    BIO* incoming = BIO_new(BIO_s_mem());
    BIO* outgoing = BIO_new(BIO_s_mem());
    if (ssl == nullptr || incoming == nullptr || outgoing == nullptr) {
      BIO_free(incoming);
      BIO_free(outgoing);
      return engine::Internal(prefix_ + "cannot set up the TLS client: " + DrainOpenSslErrors());
    }
    // An empty buffer means "wait for the network", not end of stream.
    BIO_set_mem_eof_return(incoming, -1);
    SSL_set_bio(ssl.get(), incoming, outgoing);  // ssl owns both from here
    TANDEM_RETURN_IF_ERROR(Configure(ssl.get()));
    TANDEM_ASSIGN_OR_RETURN(SocketFd socket_fd, Connect());

    VerifyFindings findings;
    SSL_set_app_data(ssl.get(), &findings);
    engine::Status handshake = Handshake(ssl.get(), socket_fd.get(), incoming, outgoing, findings);
    SSL_set_app_data(ssl.get(), nullptr);
    if (findings.leaf == nullptr) {
      findings.leaf.reset(SSL_get1_peer_certificate(ssl.get()));
    }
    if (handshake.ok()) {
      // A close_notify, best effort: the verdict does not depend on it.
      if (SSL_shutdown(ssl.get()) >= 0) {
        (void)Flush(socket_fd.get(), outgoing, /*wait=*/false);
      }
    }
    return Decide(ssl.get(), std::move(handshake), findings);
  }

 private:
  engine::Result<SslContextPtr> MakeContext() const {
    SslContextPtr context(SSL_CTX_new(TLS_client_method()));
    if (context == nullptr) {
      return engine::Internal(prefix_ +
                              "cannot create an OpenSSL context: " + DrainOpenSslErrors());
    }
    if (options_.ca_file) {
      const std::string& path = *options_.ca_file;
      std::FILE* file = std::fopen(path.c_str(), "r");
      if (file == nullptr) {
        return engine::InvalidArgument(prefix_ + "cannot read the CA file " + path + ": " +
                                       std::strerror(errno) +
                                       "; set `ca` to a readable PEM bundle");
      }
      std::fclose(file);
      if (SSL_CTX_load_verify_locations(context.get(), path.c_str(), nullptr) != 1) {
        return engine::InvalidArgument(prefix_ + "the CA file " + path +
                                       " holds no usable PEM certificate (" + DrainOpenSslErrors() +
                                       "); set `ca` to a PEM bundle of the CA that signed the new "
                                       "servers' certificate");
      }
    } else if (SSL_CTX_set_default_verify_paths(context.get()) != 1) {
      return engine::InvalidArgument(prefix_ + "cannot load the system's CA store (" +
                                     DrainOpenSslErrors() + "); set `ca` to a PEM bundle");
    }
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, RecordAndContinue);
    return context;
  }

  // SNI, the host name (or IP address) to match and the moment to judge validity at.
  engine::Status Configure(SSL* ssl) const {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set_time(param, judged_at_);
    if (IsIpLiteral(options_.host)) {
      // RFC 6066: SNI carries host names only; an address is matched against the IP SANs.
      if (X509_VERIFY_PARAM_set1_ip_asc(param, options_.host.c_str()) != 1) {
        return engine::InvalidArgument(prefix_ + "cannot use the address " + options_.host +
                                       " for the host check; set the plan's host name");
      }
      return engine::Status::Ok();
    }
    if (X509_VERIFY_PARAM_set1_host(param, options_.host.c_str(), options_.host.size()) != 1 ||
        SSL_set_tlsext_host_name(ssl, options_.host.c_str()) != 1) {
      return engine::InvalidArgument(prefix_ + "'" + options_.host +
                                     "' is not a usable host name (" + DrainOpenSslErrors() +
                                     "); set the plan's host name");
    }
    return engine::Status::Ok();
  }

  engine::Status Failed(const std::string& what, int error) const {
    return engine::ConnectionFailed(prefix_ + what + ": " + std::strerror(error) +
                                    "; check that the new servers listen for TLS on " +
                                    options_.address);
  }

  // " (certificate seen: subject ..., issuer ..., valid ... to ...)", or "" before one was seen.
  std::string Seen(const VerifyFindings* findings) const {
    if (findings == nullptr || findings->leaf == nullptr) {
      return "";
    }
    return " (certificate seen: " +
           DescribeForMessage(DescribeCertificate(findings->leaf.get(), judged_at_)) + ")";
  }

  engine::Status TimedOut(const std::string& doing, const VerifyFindings* findings) const {
    return engine::Timeout(prefix_ + "no answer " + doing + " within " +
                           std::to_string(options_.timeout.count()) + " ms" + Seen(findings) +
                           "; check that " + options_.address +
                           " is reachable and serves TLS (a TCP listener that does not speak TLS "
                           "looks like this)");
  }

  // Waits until `fd` is ready for `events` or the deadline passes (then returns false).
  engine::Result<bool> Wait(int fd, short events) const {
    for (;;) {
      // Rounded up, so poll never returns before the deadline.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd pfd{fd, events, 0};
      const int n = poll(&pfd, 1, static_cast<int>(left.count()));
      if (n > 0) {
        return true;
      }
      if (n < 0 && errno != EINTR) {
        return Failed("waiting for the socket", errno);
      }
    }
  }

  // A connected non-blocking socket to one of the endpoint's addresses, tried in order.
  engine::Result<SocketFd> Connect() const {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    // getaddrinfo has no timeout of its own; addresses in the plan are usually literal.
    const int resolved =
        getaddrinfo(endpoint_.host.c_str(), endpoint_.port.c_str(), &hints, &found);
    if (resolved != 0) {
      return engine::ConnectionFailed(
          prefix_ + "cannot resolve " + endpoint_.host + ": " +
          (resolved == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(resolved)) +
          "; check the address of the new servers in the plan");
    }
    AddrinfoPtr addresses(found);
    engine::Status last = Failed("cannot connect", ECONNREFUSED);
    for (const addrinfo* candidate = addresses.get(); candidate != nullptr;
         candidate = candidate->ai_next) {
      SocketFd fd(socket(candidate->ai_family,
                         candidate->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                         candidate->ai_protocol));
      if (fd.get() < 0) {
        last = Failed("cannot create a socket", errno);
        continue;
      }
      if (connect(fd.get(), candidate->ai_addr, candidate->ai_addrlen) == 0) {
        return fd;
      }
      if (errno != EINPROGRESS && errno != EINTR) {
        last = Failed("cannot connect", errno);
        continue;
      }
      TANDEM_ASSIGN_OR_RETURN(bool ready, Wait(fd.get(), POLLOUT));
      if (!ready) {
        return TimedOut("while connecting", nullptr);
      }
      int error = 0;
      socklen_t length = sizeof(error);
      if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        error = errno;
      }
      if (error == 0) {
        return fd;
      }
      last = Failed("cannot connect", error);
    }
    return last;
  }

  // Sends what OpenSSL wrote to `outgoing`. With `wait` false, sends only what the socket takes
  // now (for the close_notify after the verdict is known).
  engine::Result<bool> Flush(int fd, BIO* outgoing, bool wait) const {
    char buffer[16384];
    while (BIO_ctrl_pending(outgoing) > 0) {
      const int size = BIO_read(outgoing, buffer, sizeof(buffer));
      if (size <= 0) {
        break;
      }
      int sent = 0;
      while (sent < size) {
        const ssize_t n = send(fd, buffer + sent, static_cast<size_t>(size - sent), MSG_NOSIGNAL);
        if (n >= 0) {
          sent += static_cast<int>(n);
          continue;
        }
        if (errno == EINTR) {
          continue;
        }
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait) {
          TANDEM_ASSIGN_OR_RETURN(bool ready, Wait(fd, POLLOUT));
          if (!ready) {
            return false;
          }
          continue;
        }
        if (!wait) {
          return true;
        }
        return Failed("sending the TLS handshake", errno);
      }
    }
    return true;
  }

  // Runs the client handshake over memory BIOs, moving bytes between them and the socket, so every
  // wait is a poll bounded by the deadline and no write can raise SIGPIPE. OK when it completed;
  // otherwise the reason (the verify callback has recorded what it saw of the certificate).
  engine::Status Handshake(SSL* ssl, int fd, BIO* incoming, BIO* outgoing,
                           const VerifyFindings& findings) const {
    char buffer[16384];
    for (;;) {
      ERR_clear_error();
      const int result = SSL_connect(ssl);
      const int error = result == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, result);
      std::string openssl_errors = error == SSL_ERROR_NONE ? "" : DrainOpenSslErrors();
      engine::Result<bool> flushed = Flush(fd, outgoing, /*wait=*/true);
      if (error == SSL_ERROR_NONE) {
        if (!flushed.ok()) {
          return flushed.status();
        }
        return *flushed ? engine::Status::Ok() : TimedOut("in the TLS handshake", &findings);
      }
      if (error != SSL_ERROR_WANT_READ) {
        return HandshakeFailed(openssl_errors.empty() ? "the handshake failed" : openssl_errors,
                               findings);
      }
      if (!flushed.ok()) {
        return flushed.status();
      }
      if (!*flushed) {
        return TimedOut("in the TLS handshake", &findings);
      }
      TANDEM_ASSIGN_OR_RETURN(bool readable, Wait(fd, POLLIN));
      if (!readable) {
        return TimedOut("in the TLS handshake", &findings);
      }
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n == 0) {
        return HandshakeFailed("the server closed the connection during the handshake", findings);
      }
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
          continue;
        }
        return HandshakeFailed(std::string("reading the handshake: ") + std::strerror(errno),
                               findings);
      }
      if (BIO_write(incoming, buffer, static_cast<int>(n)) != n) {
        return engine::Internal(prefix_ + "cannot buffer the handshake: " + DrainOpenSslErrors());
      }
    }
  }

  engine::Status HandshakeFailed(const std::string& why, const VerifyFindings& findings) const {
    return engine::ConnectionFailed(prefix_ + "TLS handshake failed: " + why + Seen(&findings) +
                                    "; check that " + options_.address +
                                    " serves TLS for this host name");
  }

  engine::Result<TlsCheckResult> Decide(SSL* ssl, engine::Status handshake,
                                        const VerifyFindings& findings) const {
    if (findings.leaf == nullptr) {
      if (!handshake.ok()) {
        return handshake;
      }
      return engine::FailedPrecondition(prefix_ +
                                        "the server presented no certificate; configure the new "
                                        "servers with a certificate for " +
                                        options_.host);
    }
    TlsCheckResult result;
    result.leaf = DescribeCertificate(findings.leaf.get(), judged_at_);
    std::vector<Verdict> verdicts;
    const auto add = [&](Verdict verdict) {
      for (const Verdict& known : verdicts) {
        if (known.what == verdict.what) {
          return;
        }
      }
      verdicts.push_back(std::move(verdict));
    };
    for (const VerifyFindings::Problem& problem : findings.problems) {
      Verdict verdict = Judge(problem, options_);
      verdict.depth = problem.depth;
      add(std::move(verdict));
    }
    if (verdicts.empty() && handshake.ok()) {
      // The callback saw every error so far; this catches one reported without it.
      const long verify_result = SSL_get_verify_result(ssl);
      if (verify_result != X509_V_OK) {
        add(Judge({static_cast<int>(verify_result), 0, result.leaf.subject}, options_));
      }
    }
    if (!verdicts.empty()) {
      std::stable_sort(verdicts.begin(), verdicts.end(), [](const Verdict& a, const Verdict& b) {
        return a.rank != b.rank ? a.rank < b.rank : a.depth < b.depth;
      });
      std::string what;
      std::vector<std::string> fixes;
      for (const Verdict& verdict : verdicts) {
        what += (what.empty() ? "" : "; also: ") + verdict.what;
        if (std::find(fixes.begin(), fixes.end(), verdict.fix) == fixes.end()) {
          fixes.push_back(verdict.fix);
        }
      }
      std::string message = prefix_ + what + " (" + DescribeForMessage(result.leaf) + ")";
      for (const std::string& fix : fixes) {
        message += "; " + fix;
      }
      return engine::FailedPrecondition(std::move(message));
    }
    if (!handshake.ok()) {
      return handshake;
    }
    const char* version = SSL_get_version(ssl);
    result.protocol = version != nullptr ? version : "";
    if (result.leaf.days_left < options_.warn_days) {
      result.warnings.push_back("certificate of " + options_.host + " at " + options_.address +
                                " expires in " + DescribeDuration(result.leaf.days_left) +
                                " (not after " + result.leaf.not_after +
                                "); renew it before the cutover");
    }
    return result;
  }

  const TlsCheckOptions& options_;
  const Endpoint endpoint_;
  const std::string prefix_;
  const Clock::time_point deadline_;
  std::time_t judged_at_ = 0;
};

}  // namespace

engine::Result<TlsCheckResult> CheckTls(const TlsCheckOptions& options) {
  ErrorQueueScope error_queue;
  if (options.host.empty()) {
    return engine::InvalidArgument("TLS check at " + options.address +
                                   ": no host name given; set the host name clients use");
  }
  if (options.timeout.count() <= 0) {
    return engine::InvalidArgument("TLS check for " + options.host + ": timeout of " +
                                   std::to_string(options.timeout.count()) +
                                   " ms; give a positive timeout");
  }
  TANDEM_ASSIGN_OR_RETURN(Endpoint endpoint, ParseAddress(options.address, options.host));
  TlsProbe probe(options, std::move(endpoint));
  return probe.Run();
}

}  // namespace tandem::orchestration
