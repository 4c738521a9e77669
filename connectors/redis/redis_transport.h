// File: connectors/redis/redis_transport.h
//
// Transport: a byte stream to one Redis server: a non-blocking TCP socket, optionally wrapped in
// TLS (OpenSSL), where every wait is bounded by a deadline. It knows nothing of the Redis protocol
// beyond the one probe kPrefer needs, so it carries both command traffic (Connection) and raw
// streams such as a replication stream after PSYNC.
//
// TLS modes (engine::TlsOptions; details in redis_tls.h):
//   kDisable  plain TCP.
//   kPrefer   Redis cannot offer TLS on a plain port (there is no STARTTLS), so the port is probed:
//             an inline PING is sent in the clear (it carries no secret); a '+' or '-' reply means
//             a plain server, anything else (a TLS port drops the connection) means reconnect with
//             TLS as for kRequire.
//   kRequire, kVerifyCa, kVerifyFull  TLS, with the checks of redis_tls.h.
//
// Non-blocking use (pipelines that must read while they write): TryRead/TryWrite make one attempt
// and say which readiness to Wait() for when they could not move a byte. Read/WriteAll block.
//
// Errors after the connection is up are kConnectionFailed with a short reason ("the server closed
// the connection"), kTimeout when a deadline passes; the caller adds which server and command.
//
// Thread safety: owned by one thread. The socket is closed by the destructor.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "engine/connection_config.h"
#include "engine/status.h"

struct ssl_st;

namespace tandem::connectors::redis {

class Transport {
 public:
  using Clock = std::chrono::steady_clock;
  using Deadline = Clock::time_point;

  // Readiness to wait for, as poll(2) events.
  enum Readiness : short { kNone = 0, kReadable = 0x001 /*POLLIN*/, kWritable = 0x004 /*POLLOUT*/ };

  // The outcome of one attempt: `bytes` moved, or none and what to wait for before retrying.
  struct Attempt {
    size_t bytes = 0;
    short wait_for = kNone;
  };

  // Resolves config.host, connects to config.port and sets up TLS per config.tls, all before
  // `deadline`.
  // Errors (message "cannot connect to <config.Redacted()>: <what> (<fix>)"):
  //   kConnectionFailed: the name does not resolve, connection refused, no answer before the
  //     deadline, TLS handshake or certificate verification failed (naming OpenSSL's reason).
  //   kInvalidArgument: a TLS CA, certificate or key file cannot be loaded.
  static engine::Result<std::unique_ptr<Transport>> Connect(const engine::ConnectionConfig& config,
                                                            Deadline deadline);

  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  bool tls() const { return ssl_ != nullptr; }
  // The negotiated protocol ("TLSv1.3"), or "" without TLS.
  std::string tls_protocol() const;

  // One attempt to read up to `size` bytes. Errors: kConnectionFailed (closed, reset, TLS error).
  engine::Result<Attempt> TryRead(char* buffer, size_t size);
  // One attempt to write up to `size` bytes. After an attempt that moved nothing, the next attempt
  // must offer at least the same bytes (OpenSSL's retry rule; the buffer may move).
  // Errors: kConnectionFailed.
  engine::Result<Attempt> TryWrite(const char* data, size_t size);
  // Waits until the socket is ready for `events` (kReadable | kWritable).
  // Errors: kTimeout when `deadline` passes first; kConnectionFailed when poll fails.
  engine::Status Wait(short events, Deadline deadline);

  // Reads at least one byte (at most `size`) before `deadline`.
  engine::Result<size_t> Read(char* buffer, size_t size, Deadline deadline);
  // Writes all of `data` before `deadline`.
  engine::Status WriteAll(std::string_view data, Deadline deadline);

 private:
  Transport(int fd, ssl_st* ssl);

  int fd_;       // owned, closed by the destructor; constant after construction
  ssl_st* ssl_;  // owned (SSL_free), null without TLS; constant after construction
};

}  // namespace tandem::connectors::redis
