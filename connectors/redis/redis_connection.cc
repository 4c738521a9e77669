#include "connectors/redis/redis_connection.h"

#include <cassert>
#include <utility>

#include "connectors/redis/redis_errors.h"

namespace tandem::connectors::redis {
namespace {

using engine::Result;
using engine::Status;
using engine::StatusCode;

constexpr size_t kReadChunkBytes = 64 * 1024;

}  // namespace

std::optional<Argv> LoginCommand(const engine::ConnectionConfig& config) {
  if (config.password.empty() && config.user.empty()) {
    return std::nullopt;
  }
  return config.user.empty() ? Argv{"AUTH", config.password}
                             : Argv{"AUTH", config.user, config.password};
}

Connection::Connection(engine::ConnectionConfig config, std::unique_ptr<Transport> transport)
    : config_(std::move(config)),
      server_(config_.Redacted()),
      transport_(std::move(transport)),
      read_buffer_(kReadChunkBytes) {}

Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::Open(const engine::ConnectionConfig& config) {
  if (config.engine != engine::EngineKind::kRedis) {
    return engine::InvalidArgument("a Redis connection was asked for " + config.Redacted() +
                                   ", which is not a redis:// URI");
  }
  Transport::Deadline deadline = Transport::Clock::now() + config.connect_timeout;
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<Transport> transport,
                          Transport::Connect(config, deadline));
  std::unique_ptr<Connection> connection(new Connection(config, std::move(transport)));
  connection->login_deadline_ = deadline;
  TANDEM_RETURN_IF_ERROR(connection->Login());
  connection->login_deadline_.reset();
  return connection;
}

std::string Connection::user() const { return config_.user.empty() ? "default" : config_.user; }

Status Connection::Login() {
  // One round trip: AUTH, SELECT and CLIENT SETNAME are pipelined, and the first refusal decides.
  std::vector<Argv> commands;
  if (std::optional<Argv> auth = LoginCommand(config_); auth.has_value()) {
    commands.push_back(std::move(*auth));
  }
  int database = config_.RedisDatabase();
  if (database != 0) {
    commands.push_back({"SELECT", std::to_string(database)});
  }
  commands.push_back({"CLIENT", "SETNAME", "tandem"});
  TANDEM_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline(commands));
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].is_error()) {
      continue;
    }
    Status status = ErrorStatus(replies[i], commands[i]);
    bool naming = commands[i][0] == "CLIENT";
    // The client name is a courtesy for whoever reads CLIENT LIST: a user who may not set it still
    // gets in. A refused login or a server still loading its data fails the connection anyway.
    if (naming && status.code() != StatusCode::kAuthenticationFailed &&
        status.code() != StatusCode::kUnavailable) {
      continue;
    }
    return status;
  }
  return Status::Ok();
}

Status Connection::ErrorStatus(const Reply& error_reply, const Argv& argv) const {
  return ErrorReplyToStatus(error_reply.text, argv, server_, user());
}

Transport::Deadline Connection::NextDeadline() const {
  if (login_deadline_.has_value()) {
    return *login_deadline_;
  }
  return Transport::Clock::now() + config_.read_timeout;
}

Status Connection::CheckUsable() const {
  if (broken_.has_value()) {
    return engine::ConnectionFailed(
        "the connection to " + server_ +
        " is unusable after an earlier failure (open a new one): " + broken_->message());
  }
  return Status::Ok();
}

Status Connection::Fail(Status status) {
  assert(!status.ok());  // callers pass the failure that ended the stream
  std::string waiting_for = pending_.empty() ? "a reply" : pending_.front();
  std::string message;
  StatusCode code = status.code();
  if (login_deadline_.has_value()) {
    code = StatusCode::kConnectionFailed;
    // With TLS 1.3 a server that wants a client certificate decides after the handshake, and its
    // alert is often lost in the reset that follows tandem's first write: say what to check.
    std::string tls_hint =
        !transport_->tls() ? " (if the server accepts only TLS, use rediss:// or tls=require)"
        : config_.tls.cert_file.empty()
            ? " (if the server requires client certificates (tls-auth-clients), give tls-cert and "
              "tls-key)"
            : "";
    if (status.code() == StatusCode::kTimeout) {
      message = "cannot connect to " + server_ + ": no reply to " + waiting_for + " within " +
                std::to_string(config_.connect_timeout.count()) +
                " s (is it a Redis server? raise connect_timeout=S in the URI if it is slow)";
    } else if (status.code() == StatusCode::kCorruption) {
      message = "cannot connect to " + server_ +
                ": the server does not speak the Redis protocol (" + status.message() + ")" +
                tls_hint;
    } else {
      message =
          "cannot connect to " + server_ + " while logging in: " + status.message() + tls_hint;
    }
  } else if (status.code() == StatusCode::kTimeout) {
    message = "no reply from " + server_ + " to " + waiting_for + " within " +
              std::to_string(config_.read_timeout.count()) +
              " s (the server may be busy or unreachable; raise read_timeout=S in the URI)";
  } else if (status.code() == StatusCode::kCorruption) {
    message = server_ + " sent a reply to " + waiting_for +
              " that is not valid RESP: " + status.message();
  } else {
    message = "lost the connection to " + server_ + " while waiting for " + waiting_for +
              (parser_.has_partial_input() ? " (in the middle of its reply)" : "") + ": " +
              status.message();
  }
  broken_ = Status(code, message);
  return *broken_;
}

Status Connection::Send(const Argv& argv) {
  TANDEM_RETURN_IF_ERROR(CheckUsable());
  if (argv.empty()) {
    return engine::Internal("an empty command was sent to " + server_);
  }
  AppendEncodedCommand(argv, &outgoing_);
  pending_.push_back(CommandName(argv));
  if (outgoing_.size() - outgoing_offset_ > kSendBufferBytes) {
    return Flush();
  }
  return Status::Ok();
}

Status Connection::DrainParser() {
  for (;;) {
    auto next = parser_.Next();
    if (!next.ok()) {
      return Fail(next.status());
    }
    if (!next->has_value()) {
      return Status::Ok();
    }
    ready_.push_back(std::move(**next));
  }
}

Status Connection::ReadMore() {
  Transport::Deadline deadline = NextDeadline();
  for (;;) {
    auto attempt = transport_->TryRead(read_buffer_.data(), read_buffer_.size());
    if (!attempt.ok()) {
      return Fail(attempt.status());
    }
    if (attempt->bytes > 0) {
      if (Status fed = parser_.Feed(read_buffer_.data(), attempt->bytes); !fed.ok()) {
        return Fail(fed);
      }
      return DrainParser();
    }
    if (Status waited = transport_->Wait(attempt->wait_for, deadline); !waited.ok()) {
      return Fail(waited);
    }
  }
}

Status Connection::Flush() {
  TANDEM_RETURN_IF_ERROR(CheckUsable());
  Transport::Deadline deadline = NextDeadline();
  while (outgoing_offset_ < outgoing_.size()) {
    auto written = transport_->TryWrite(outgoing_.data() + outgoing_offset_,
                                        outgoing_.size() - outgoing_offset_);
    if (!written.ok()) {
      return Fail(written.status());
    }
    if (written->bytes > 0) {
      outgoing_offset_ += written->bytes;
      deadline = NextDeadline();
      continue;
    }
    // The socket takes no more for now. Read what the server has answered meanwhile: a server
    // whose output is not read may stop reading its input, and both sides would wait forever.
    auto read = transport_->TryRead(read_buffer_.data(), read_buffer_.size());
    if (!read.ok()) {
      return Fail(read.status());
    }
    if (read->bytes > 0) {
      if (Status fed = parser_.Feed(read_buffer_.data(), read->bytes); !fed.ok()) {
        return Fail(fed);
      }
      TANDEM_RETURN_IF_ERROR(DrainParser());
      deadline = NextDeadline();
      continue;
    }
    if (Status waited =
            transport_->Wait(static_cast<short>(written->wait_for | read->wait_for), deadline);
        !waited.ok()) {
      return Fail(waited);
    }
  }
  outgoing_.clear();
  outgoing_offset_ = 0;
  return Status::Ok();
}

Result<Reply> Connection::Receive() {
  TANDEM_RETURN_IF_ERROR(CheckUsable());
  if (pending_.empty()) {
    return engine::Internal("Receive() called on the connection to " + server_ +
                            " with no command awaiting a reply");
  }
  TANDEM_RETURN_IF_ERROR(Flush());
  while (ready_.empty()) {
    TANDEM_RETURN_IF_ERROR(ReadMore());
  }
  Reply reply = std::move(ready_.front());
  ready_.pop_front();
  pending_.pop_front();
  return reply;
}

Result<std::vector<Reply>> Connection::Pipeline(const std::vector<Argv>& commands) {
  TANDEM_RETURN_IF_ERROR(CheckUsable());
  if (!pending_.empty()) {
    return engine::Internal("Pipeline() called on the connection to " + server_ + " with " +
                            std::to_string(pending_.size()) + " replies still outstanding");
  }
  for (const Argv& argv : commands) {
    TANDEM_RETURN_IF_ERROR(Send(argv));
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(Reply reply, Receive());
    replies.push_back(std::move(reply));
  }
  return replies;
}

Result<Reply> Connection::Command(const Argv& argv) {
  TANDEM_RETURN_IF_ERROR(CheckUsable());
  if (!pending_.empty()) {
    return engine::Internal("Command() called on the connection to " + server_ + " with " +
                            std::to_string(pending_.size()) + " replies still outstanding");
  }
  TANDEM_RETURN_IF_ERROR(Send(argv));
  TANDEM_ASSIGN_OR_RETURN(Reply reply, Receive());
  if (reply.is_error()) {
    return ErrorStatus(reply, argv);
  }
  return reply;
}

}  // namespace tandem::connectors::redis
