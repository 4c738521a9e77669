// File: connectors/redis/redis_connection.h
//
// Connection: one logged-in session with a Redis server, speaking RESP2 over a Transport (TCP or
// TLS). Open() connects, authenticates (AUTH password, or AUTH user password for an ACL user),
// selects the URI's logical database and names the client "tandem" (CLIENT SETNAME; skipped
// silently when the user may not run it).
//
// Commands can be pipelined: Send() queues commands, Receive() returns their replies in order, and
// Pipeline() does both for a batch. Queued bytes go out when Receive() or Flush() is called, or
// when more than kSendBufferBytes are queued; while it writes, the connection also reads what the
// server already answered, so a long pipeline cannot deadlock with full socket buffers on both
// sides.
//
// Timeouts: Open() completes within config.connect_timeout (TCP, TLS and the login round trip
// together). After that, any wait in which the server neither accepts nor sends a byte for
// config.read_timeout fails with kTimeout; progress restarts the clock, so a large reply that keeps
// flowing is not cut off.
//
// Errors: an error reply is a Reply (ReplyType::kError) from Receive()/Pipeline(), and a Status
// from Command(). I/O failures are kConnectionFailed, silence kTimeout, a stream that is not RESP
// kCorruption; after any of these the connection is unusable (the stream position is lost) and
// every later call returns kConnectionFailed saying so. Messages name the server by
// config.Redacted() and commands by CommandName(): never a password, key or value.
//
// Thread safety: owned by one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/redis/redis_command.h"
#include "connectors/redis/redis_reply.h"
#include "connectors/redis/redis_reply_parser.h"
#include "connectors/redis/redis_transport.h"
#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::connectors::redis {

// The AUTH command that logs in as `config`'s user (AUTH password, or AUTH user password for an
// ACL user; a user without a password is sent with an empty one, which ACL users marked nopass
// accept), or nullopt when `config` names neither user nor password. Shared by Connection and
// ReplicationClient (redis_replication_client.h), which log in alike.
std::optional<Argv> LoginCommand(const engine::ConnectionConfig& config);

class Connection {
 public:
  // Queued command bytes beyond which Send() writes to the socket without waiting for Receive().
  static constexpr size_t kSendBufferBytes = 64 * 1024;

  // Connects and logs in to the server `config` names.
  // Errors: kConnectionFailed (unreachable, refused, timeout, TLS), kAuthenticationFailed (wrong
  // password, a password missing or given where none is set), kPermissionDenied (the user may not
  // SELECT), kNotFound (the database number is beyond the server's `databases`),
  // kInvalidArgument (unreadable TLS files, or `config` is not for Redis). Each message is one
  // line naming config.Redacted().
  static engine::Result<std::unique_ptr<Connection>> Open(const engine::ConnectionConfig& config);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The configuration this connection was opened with (holds the password: never print it).
  const engine::ConnectionConfig& config() const { return config_; }
  // config().Redacted(), for messages.
  const std::string& server() const { return server_; }
  // The ACL user logged in as ("default" when the URI names none).
  std::string user() const;
  bool tls() const { return transport_->tls(); }
  // "TLSv1.3", or "" without TLS.
  std::string tls_protocol() const { return transport_->tls_protocol(); }

  // Queues `argv`; its reply is returned by a later Receive(). REQUIRES: !argv.empty().
  // Errors: those of Flush() when the queue passes kSendBufferBytes.
  engine::Status Send(const Argv& argv);
  // Writes every queued command to the server (reading replies into memory meanwhile).
  engine::Status Flush();
  // The reply to the oldest command whose reply has not been received yet, flushing first.
  // Error replies are returned as replies. Errors: kInternal when no reply is outstanding.
  engine::Result<Reply> Receive();
  // Sends all `commands` then returns one reply per command, in order; error replies stay replies.
  // REQUIRES: no reply outstanding from earlier Send() calls (else kInternal).
  engine::Result<std::vector<Reply>> Pipeline(const std::vector<Argv>& commands);
  // Runs one command. An error reply becomes a Status (ErrorReplyToStatus, redis_errors.h).
  // REQUIRES: no reply outstanding (else kInternal).
  engine::Result<Reply> Command(const Argv& argv);

  // The Status for an error reply to `argv` (see redis_errors.h).
  engine::Status ErrorStatus(const Reply& error_reply, const Argv& argv) const;

  // Replies still to be received for commands sent.
  size_t pending_replies() const { return pending_.size(); }

 private:
  Connection(engine::ConnectionConfig config, std::unique_ptr<Transport> transport);

  engine::Status Login();
  // Reads once from the socket (waiting if needed) and parses what arrived into ready_.
  engine::Status ReadMore();
  // Parses every complete reply in the parser's buffer into ready_.
  engine::Status DrainParser();
  // The deadline for the next wait: the fixed login deadline while logging in, else now +
  // read_timeout.
  Transport::Deadline NextDeadline() const;
  // Marks the connection broken with `status` (adding the server and, for timeouts, the command
  // waited for) and returns that status.
  engine::Status Fail(engine::Status status);
  engine::Status CheckUsable() const;

  // Constant after construction.
  const engine::ConnectionConfig config_;
  const std::string server_;
  const std::unique_ptr<Transport> transport_;

  // Protocol state.
  std::string outgoing_;        // encoded commands not yet written
  size_t outgoing_offset_ = 0;  // bytes of outgoing_ already written
  std::deque<std::string>
      pending_;              // CommandName() of each command awaiting its reply, oldest first
  std::deque<Reply> ready_;  // replies parsed but not yet returned, oldest first
  ReplyParser parser_;
  std::vector<char> read_buffer_;
  std::optional<Transport::Deadline> login_deadline_;  // set only while Open() logs in
  std::optional<engine::Status> broken_;               // the failure that made the stream unusable
};

}  // namespace tandem::connectors::redis
