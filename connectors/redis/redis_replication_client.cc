#include "connectors/redis/redis_replication_client.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstring>
#include <string_view>
#include <utility>

#include "connectors/redis/redis_command.h"
#include "connectors/redis/redis_connection.h"
#include "connectors/redis/redis_errors.h"
#include "connectors/redis/redis_transport.h"

// Wire format, as Redis 7's replication.c speaks it (primary side: syncCommand, replconfCommand,
// replicationCron, sendBulkToSlave / rdbPipe*; replica side: syncWithMaster, readSyncBulkPayload):
//
//   tandem sends                          the primary answers
//   AUTH [user] password, PING            +OK, +PONG (or -WRONGPASS / -NOAUTH / -NOPERM ...)
//   REPLCONF listening-port <port>        +OK
//   REPLCONF capa eof capa psync2         +OK
//   PSYNC <replid> <offset+1> | ? -1      "\n"* then +FULLRESYNC <replid> <offset> | +CONTINUE
//                                         [<replid>] | -NOMASTERLINK / -LOADING / -ERR / -NOPERM
//   (after +FULLRESYNC)                   "\n"* then $<len>\r\n<len bytes>          (disk-based)
//                                                 or $EOF:<40 hex chars>\r\n<rdb><the 40 chars>
//   REPLCONF ACK <offset>                 (nothing: a diskless primary starts the command stream
//                                         only on the first ACK after the transfer)
//   (stream)                              *<n>\r\n($<len>\r\n<bytes>\r\n){n} ...
//
// The "\n" keepalives the primary writes while it prepares a snapshot are not part of the
// replication stream and do not count in offsets; every byte of the command stream does (the
// primary's master_repl_offset advances by exactly the bytes it feeds its replicas, GETACK and
// PING included).

namespace tandem::connectors::redis {
namespace {

using engine::Result;
using engine::Status;
using engine::StatusCode;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunkBytes = 64 * 1024;
constexpr size_t kEofMarkBytes = 40;  // RDB_EOF_MARK_SIZE
constexpr auto kAckInterval = std::chrono::seconds(1);
// Bounds that only garbage exceeds: Redis refuses multibulk counts above 1024*1024*1024 and bulk
// lengths above proto-max-bulk-len (at most 2^63, in practice 512 MB .. a few GB).
constexpr int64_t kMaxArguments = int64_t{1} << 30;
constexpr int64_t kMaxBulkBytes = int64_t{1} << 40;
// A header line ("*<n>" or "$<len>") longer than this without its "\r\n" is not RESP.
constexpr size_t kMaxHeaderLine = 24;

bool ParseInt64(std::string_view text, int64_t* value) {
  if (text.empty()) {
    return false;
  }
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

std::string Seconds(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) {
    return std::to_string(duration.count() / 1000) + " s";
  }
  return std::to_string(duration.count()) + " ms";
}

// A line shown in a message: printable, bounded (a reply that is not the protocol may be binary).
std::string Printable(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 120)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (line.size() > 120) {
    out += "...";
  }
  return out;
}

std::string ReplicationFix(std::string_view user) {
  std::string who = user.empty() ? "default" : std::string(user);
  return "grant the replication commands: ACL SETUSER " + who +
         " +psync +replconf +ping, or use a user with +@admin";
}

}  // namespace

// The snapshot's bytes, read through the client's buffer. Invariants: for a disk-based transfer
// `remaining_` counts the transfer's bytes not yet handed out, the buffered ones included; for a
// diskless one the last kEofMarkBytes buffered bytes are never handed out (they may be the end
// mark) and `ended_` says that only the mark is left.
class ReplicationClient::SnapshotSource final : public RdbByteSource {
 public:
  SnapshotSource(ReplicationClient& client, bool diskless, std::string mark, int64_t length)
      : client_(client), diskless_(diskless), mark_(std::move(mark)), remaining_(length) {}

  Status Read(char* out, size_t size) override {
    return diskless_ ? ReadDiskless(out, size) : ReadSized(out, size);
  }

  // FinishSnapshot's part: consumes the end mark / checks nothing is left.
  Status Finish() {
    ReplicationClient& c = client_;
    if (!diskless_) {
      if (remaining_ != 0) {
        return engine::Corruption("the snapshot from " + c.server_ + " was announced as " +
                                  std::to_string(handed_out_ + remaining_) +
                                  " bytes, but its RDB ended after " + std::to_string(handed_out_));
      }
      return Status::Ok();
    }
    while (!ended_ && Buffered() <= kEofMarkBytes) {
      if (!CheckForMark()) {
        TANDEM_RETURN_IF_ERROR(FillTransfer());
      }
    }
    if (!ended_) {
      return engine::Corruption(
          "the diskless snapshot from " + c.server_ + " goes on after its RDB ended at byte " +
          std::to_string(handed_out_) + " (the bytes there are not the transfer's end mark)");
    }
    // Only the mark is left (CheckForMark): consume it.
    c.buffer_start_ = c.buffer_end_ = 0;
    return Status::Ok();
  }

 private:
  size_t Buffered() const { return client_.buffer_end_ - client_.buffer_start_; }

  Status EndedEarly(size_t wanted) const {
    return engine::Corruption("the snapshot from " + client_.server_ +
                              " ended early: the RDB ended after " + std::to_string(handed_out_) +
                              " bytes (" + std::to_string(wanted) + " more were wanted)");
  }

  // Reads more of the transfer; a link silent for stream_timeout is dead.
  Status FillTransfer() {
    ReplicationClient& c = client_;
    auto filled = c.Fill(Clock::now() + c.options_.stream_timeout);
    if (!filled.ok()) {
      return c.IoError(filled.status(), "the snapshot (byte " + std::to_string(handed_out_) + ")");
    }
    return Status::Ok();
  }

  // Diskless: when exactly the held-back bytes remain, whether they are the end mark (the primary
  // sends nothing after it until tandem's ACK, so the mark is always the buffer's tail).
  bool CheckForMark() {
    const ReplicationClient& c = client_;
    ended_ = Buffered() == kEofMarkBytes &&
             std::memcmp(c.buffer_.data() + c.buffer_start_, mark_.data(), kEofMarkBytes) == 0;
    return ended_;
  }

  void Take(char*& out, size_t& size, size_t n) {
    ReplicationClient& c = client_;
    std::memcpy(out, c.buffer_.data() + c.buffer_start_, n);
    c.buffer_start_ += n;
    out += n;
    size -= n;
    handed_out_ += static_cast<int64_t>(n);
  }

  Status ReadSized(char* out, size_t size) {
    ReplicationClient& c = client_;
    if (static_cast<int64_t>(size) > remaining_) {
      return EndedEarly(size);
    }
    remaining_ -= static_cast<int64_t>(size);
    while (size > 0) {
      size_t buffered = Buffered();
      if (buffered > 0) {
        Take(out, size, std::min(buffered, size));
        continue;
      }
      if (size >= kReadChunkBytes) {
        // A large read goes straight to the caller's memory: one copy fewer. It never reads past
        // the transfer because size <= what remained of it.
        auto read = c.transport_->Read(out, size, Clock::now() + c.options_.stream_timeout);
        if (!read.ok()) {
          return c.IoError(read.status(),
                           "the snapshot (byte " + std::to_string(handed_out_) + ")");
        }
        c.last_received_ = Clock::now();
        out += *read;
        size -= *read;
        handed_out_ += static_cast<int64_t>(*read);
        continue;
      }
      TANDEM_RETURN_IF_ERROR(FillTransfer());
    }
    return Status::Ok();
  }

  Status ReadDiskless(char* out, size_t size) {
    const size_t wanted = size;
    while (size > 0) {
      size_t buffered = Buffered();
      if (buffered > kEofMarkBytes) {
        Take(out, size, std::min(buffered - kEofMarkBytes, size));
        continue;
      }
      if (ended_ || CheckForMark()) {
        return EndedEarly(wanted);
      }
      TANDEM_RETURN_IF_ERROR(FillTransfer());
    }
    return Status::Ok();
  }

  ReplicationClient& client_;
  const bool diskless_;
  const std::string mark_;  // diskless: the 40 bytes that end the transfer
  int64_t remaining_;       // disk-based: bytes of the transfer not yet handed out
  int64_t handed_out_ = 0;
  bool ended_ = false;  // diskless: what is left of the buffer is the mark
};

ReplicationClient::ReplicationClient(engine::ConnectionConfig config, Options options,
                                     std::unique_ptr<Transport> transport)
    : config_(std::move(config)),
      options_(options),
      transport_(std::move(transport)),
      server_(config_.Redacted()),
      buffer_(kReadChunkBytes, '\0') {}

ReplicationClient::~ReplicationClient() = default;

Result<std::unique_ptr<ReplicationClient>> ReplicationClient::Connect(
    const engine::ConnectionConfig& config, Options options) {
  if (config.engine != engine::EngineKind::kRedis) {
    return engine::InvalidArgument("a Redis replication stream was asked for " + config.Redacted() +
                                   ", which is not a redis:// URI");
  }
  Clock::time_point deadline = Clock::now() + config.connect_timeout;
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<Transport> transport,
                          Transport::Connect(config, deadline));
  std::unique_ptr<ReplicationClient> client(
      new ReplicationClient(config, options, std::move(transport)));
  TANDEM_RETURN_IF_ERROR(client->Login(deadline));
  return client;
}

Status ReplicationClient::Login(Clock::time_point deadline) {
  std::vector<Argv> commands;
  if (std::optional<Argv> auth = LoginCommand(config_); auth.has_value()) {
    commands.push_back(std::move(*auth));
  }
  commands.push_back({"PING"});
  std::string encoded;
  for (const Argv& argv : commands) {
    AppendEncodedCommand(argv, &encoded);
  }
  if (Status written = transport_->WriteAll(encoded, deadline); !written.ok()) {
    return engine::ConnectionFailed("cannot connect to " + server_ +
                                    " while logging in: " + written.message());
  }
  for (const Argv& argv : commands) {
    auto line =
        ReadLine(argv[0], false,
                 std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()), deadline);
    if (!line.ok()) {
      if (line.status().code() == StatusCode::kTimeout) {
        return engine::ConnectionFailed(
            "cannot connect to " + server_ + ": no reply to " + argv[0] + " within " +
            std::to_string(config_.connect_timeout.count()) +
            " s (is it a Redis server? raise connect_timeout=S in the URI if it is slow)");
      }
      return engine::ConnectionFailed("cannot connect to " + server_ +
                                      " while logging in: " + line.status().message());
    }
    if (!line->empty() && line->front() == '-') {
      std::string user = config_.user.empty() ? "default" : config_.user;
      return ErrorReplyToStatus(std::string_view(*line).substr(1), argv, server_, user);
    }
    if (line->empty() || line->front() != '+') {
      return engine::ConnectionFailed("cannot connect to " + server_ +
                                      ": the server does not speak the Redis protocol (it "
                                      "answered " +
                                      argv[0] + " with '" + Printable(*line) + "')");
    }
  }
  return Status::Ok();
}

Result<size_t> ReplicationClient::Fill(Clock::time_point deadline) {
  if (buffer_start_ == buffer_end_) {
    buffer_start_ = buffer_end_ = 0;
  } else if (buffer_.size() - buffer_end_ < kReadChunkBytes && buffer_start_ > 0) {
    // Compact: the unconsumed bytes move to the front (a partial command or the held-back tail).
    std::memmove(buffer_.data(), buffer_.data() + buffer_start_, buffer_end_ - buffer_start_);
    buffer_end_ -= buffer_start_;
    buffer_start_ = 0;
  }
  if (buffer_.size() - buffer_end_ < kReadChunkBytes) {
    // One command larger than the buffer: grow geometrically so a huge value costs O(size).
    buffer_.resize(std::max(buffer_.size() * 2, buffer_end_ + kReadChunkBytes));
  }
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(
        Transport::Attempt attempt,
        transport_->TryRead(buffer_.data() + buffer_end_, buffer_.size() - buffer_end_));
    if (attempt.bytes > 0) {
      buffer_end_ += attempt.bytes;
      last_received_ = Clock::now();
      return attempt.bytes;
    }
    TANDEM_RETURN_IF_ERROR(transport_->Wait(attempt.wait_for, deadline));
  }
}

Result<std::string> ReplicationClient::ReadLine(const std::string& what, bool skip_keepalives,
                                                std::chrono::milliseconds silence,
                                                Clock::time_point deadline) {
  for (;;) {
    const char* begin = buffer_.data() + buffer_start_;
    const char* end = buffer_.data() + buffer_end_;
    const char* newline = static_cast<const char*>(std::memchr(begin, '\n', end - begin));
    if (newline != nullptr) {
      size_t length = static_cast<size_t>(newline - begin);
      buffer_start_ += length + 1;
      if (length > 0 && begin[length - 1] == '\r') {
        --length;
      }
      if (length == 0 && skip_keepalives) {
        continue;
      }
      return std::string(begin, length);
    }
    if (end - begin > 64 * 1024) {
      return engine::Corruption("the reply to " + what + " is not a line of the protocol: " +
                                Printable(std::string_view(begin, end - begin)));
    }
    Clock::time_point until = std::min(deadline, Clock::now() + silence);
    auto filled = Fill(until);
    if (!filled.ok()) {
      return filled.status();
    }
  }
}

Status ReplicationClient::Send(const std::vector<std::string>& argv, Clock::time_point deadline) {
  std::string encoded;
  AppendEncodedCommand(argv, &encoded);
  return transport_->WriteAll(encoded, deadline);
}

Status ReplicationClient::SendAck() {
  last_ack_sent_ = Clock::now();
  Status sent = Send({"REPLCONF", "ACK", std::to_string(std::max<int64_t>(acknowledged_, 0))},
                     last_ack_sent_ + options_.reply_timeout);
  if (!sent.ok()) {
    return IoError(sent, "REPLCONF ACK to be sent");
  }
  return Status::Ok();
}

Status ReplicationClient::IoError(const Status& status, const std::string& waiting_for) const {
  if (status.code() == StatusCode::kCorruption) {
    return status;
  }
  std::string where = state_ == State::kStream
                          ? " on the replication stream at offset " + std::to_string(offset_)
                          : "";
  if (status.code() == StatusCode::kTimeout) {
    return Status(
        state_ == State::kHandshake ? StatusCode::kTimeout : StatusCode::kConnectionFailed,
        "no bytes from " + server_ + where + " while waiting for " + waiting_for +
            " (the link is dead or the primary is stuck; tandem reconnects from its checkpoint)");
  }
  return engine::ConnectionFailed("lost the connection to " + server_ + where +
                                  " while waiting for " + waiting_for + ": " + status.message());
}

Status ReplicationClient::Refusal(const std::string& command, std::string_view line) const {
  std::string_view error = line.substr(1);
  std::string_view word = error.substr(0, error.find(' '));
  StatusCode code = ErrorReplyCode(error);
  std::string fix;
  if (word == "NOMASTERLINK" || word == "LOADING" || word == "MASTERDOWN") {
    code = StatusCode::kUnavailable;
    fix = word == "LOADING"
              ? "the server is loading its dataset: retry when it has"
              : "the server is a replica without a working link to its own primary: retry "
                "when its link is up, or attach tandem to the primary";
  } else if (code == StatusCode::kUnavailable) {
    fix = "the server is busy: retry later";
  } else if (code == StatusCode::kPermissionDenied) {
    fix = ReplicationFix(config_.user);
  } else if (code == StatusCode::kAuthenticationFailed) {
    fix = "check the user name and password";
  } else if (code == StatusCode::kUnsupported) {
    fix =
        "the command is renamed or disabled on this server (rename-command): tandem needs "
        "PSYNC and REPLCONF to attach as a replica";
  } else {
    code = StatusCode::kFailedPrecondition;
    fix =
        "the server does not accept tandem as a replica: attach it to a primary (or a "
        "replica whose link to its primary is up) that allows replicas";
  }
  return Status(code,
                server_ + " refused " + command + ": " + std::string(error) + " (" + fix + ")");
}

Status ReplicationClient::SendPsync(const std::optional<engine::ReplicationOffset>& resume) {
  if (state_ != State::kHandshake || psync_sent_) {
    return engine::Internal("PSYNC sent twice on the replication client of " + server_);
  }
  psync_sent_ = true;
  const std::vector<Argv> replconf = {
      {"REPLCONF", "listening-port", std::to_string(options_.listening_port)},
      {"REPLCONF", "capa", "eof", "capa", "psync2"}};
  // The REPLCONFs go together; PSYNC only once their replies are read (a primary refuses PSYNC
  // from a client with replies still pending: "SYNC and PSYNC are invalid with pending output").
  std::string encoded;
  AppendEncodedCommand(replconf[0], &encoded);
  AppendEncodedCommand(replconf[1], &encoded);
  const Clock::time_point reply_deadline = Clock::now() + options_.reply_timeout;
  if (Status written = transport_->WriteAll(encoded, reply_deadline); !written.ok()) {
    return IoError(written, "REPLCONF to be sent");
  }
  for (const Argv& argv : replconf) {
    auto read = ReadLine(CommandName(argv), false, options_.reply_timeout, reply_deadline);
    if (!read.ok()) {
      return IoError(read.status(), "the reply to " + CommandName(argv));
    }
    const std::string& line = *read;
    if (!line.empty() && line.front() == '-') {
      return Refusal(CommandName(argv), line);
    }
    if (line.empty() || line.front() != '+') {
      return engine::Corruption(server_ + " answered " + CommandName(argv) +
                                " with something that is not a status reply: '" + Printable(line) +
                                "'");
    }
  }
  const Argv psync = resume.has_value()
                         ? Argv{"PSYNC", resume->replication_id, std::to_string(resume->offset + 1)}
                         : Argv{"PSYNC", "?", "-1"};
  encoded.clear();
  AppendEncodedCommand(psync, &encoded);
  if (Status written = transport_->WriteAll(encoded, Clock::now() + options_.reply_timeout);
      !written.ok()) {
    return IoError(written, "PSYNC to be sent");
  }
  return Status::Ok();
}

Result<PsyncOutcome> ReplicationClient::Psync(
    const std::optional<engine::ReplicationOffset>& resume) {
  if (state_ != State::kHandshake || psync_sent_) {
    return engine::Internal("Psync() called twice on the replication client of " + server_);
  }
  TANDEM_RETURN_IF_ERROR(SendPsync(resume));
  // The primary may write "\n" keepalives before its PSYNC reply while it waits to start a
  // snapshot (a diskless sync's delay): those keep the link alive for snapshot_start_timeout.
  auto read = ReadLine("PSYNC", true, options_.snapshot_start_timeout,
                       Clock::now() + options_.snapshot_start_timeout);
  if (!read.ok()) {
    return IoError(read.status(), "the reply to PSYNC");
  }
  const std::string line = std::move(*read);
  if (!line.empty() && line.front() == '-') {
    return Refusal("PSYNC", line);
  }
  if (line.empty() || line.front() != '+') {
    return engine::Corruption(server_ +
                              " answered PSYNC with something that is not a status reply: '" +
                              Printable(line) + "'");
  }

  PsyncOutcome outcome;
  std::string_view reply = std::string_view(line).substr(1);
  auto bad_reply = [&] {
    return engine::Corruption(server_ + " answered PSYNC with '" + Printable(line) +
                              "', which is neither +FULLRESYNC <replid> <offset> nor +CONTINUE");
  };
  if (reply.starts_with("CONTINUE")) {
    if (!resume.has_value()) {
      return bad_reply();
    }
    std::string_view rest = reply.substr(8);
    while (rest.starts_with(' ')) {
      rest.remove_prefix(1);
    }
    // psync2: a new id means the primary changed history name (a failover) and still serves our
    // offset from its backlog under the new id.
    replication_id_ = rest.empty() ? resume->replication_id : std::string(rest);
    offset_ = resume->offset;
    outcome.full_resync = false;
    outcome.replication_id = replication_id_;
    outcome.offset = offset_;
    state_ = State::kStream;
    last_received_ = Clock::now();
    return outcome;
  }
  if (!reply.starts_with("FULLRESYNC ")) {
    return bad_reply();
  }
  std::string_view rest = reply.substr(11);
  size_t space = rest.find(' ');
  int64_t offset = 0;
  if (space == std::string_view::npos || space == 0 ||
      !ParseInt64(rest.substr(space + 1), &offset) || offset < 0) {
    return bad_reply();
  }
  replication_id_ = std::string(rest.substr(0, space));
  offset_ = offset;

  // The transfer's header, after keepalives while the primary prepares the snapshot.
  auto header = ReadLine("the snapshot", true, options_.snapshot_start_timeout,
                         Clock::now() + options_.snapshot_start_timeout);
  if (!header.ok()) {
    return IoError(header.status(), "the snapshot to start (after +FULLRESYNC)");
  }
  std::string_view bulk = *header;
  bool diskless = bulk.starts_with("$EOF:");
  int64_t length = 0;
  if (diskless) {
    if (bulk.size() != 5 + kEofMarkBytes) {
      return engine::Corruption(server_ + " announced a diskless snapshot with an end mark of " +
                                std::to_string(bulk.size() - 5) + " bytes instead of 40");
    }
  } else if (!bulk.starts_with('$') || !ParseInt64(bulk.substr(1), &length) || length < 0) {
    return engine::Corruption(server_ + " sent '" + Printable(bulk) +
                              "' where a snapshot's $<length> or $EOF:<mark> belongs");
  }
  snapshot_ = std::make_unique<SnapshotSource>(
      *this, diskless, diskless ? std::string(bulk.substr(5)) : std::string(), length);
  state_ = State::kSnapshot;
  outcome.full_resync = true;
  outcome.replication_id = replication_id_;
  outcome.offset = offset_;
  outcome.diskless = diskless;
  return outcome;
}

RdbByteSource& ReplicationClient::snapshot() {
  assert(snapshot_ != nullptr);  // REQUIRES: Psync() returned full_resync
  return *snapshot_;
}

Status ReplicationClient::FinishSnapshot() {
  if (state_ != State::kSnapshot) {
    return engine::Internal("FinishSnapshot() called without a snapshot in progress from " +
                            server_);
  }
  TANDEM_RETURN_IF_ERROR(snapshot_->Finish());
  snapshot_.reset();
  state_ = State::kStream;
  last_received_ = Clock::now();
  // A primary that streamed the snapshot (diskless) starts the command stream on the first ACK;
  // after a disk-based one the ACK is harmless. It reports only what SetAcknowledged gave.
  return SendAck();
}

void ReplicationClient::SetAcknowledged(int64_t offset) {
  acknowledged_ = std::max(acknowledged_, offset);
}

Result<std::optional<ReplicatedCommand>> ReplicationClient::ParseCommand() {
  // First pass: find where every argument lies without copying, so that an incomplete command
  // (a large value still arriving) costs only this scan per read.
  const char* const base = buffer_.data() + buffer_start_;
  const size_t size = buffer_end_ - buffer_start_;
  size_t pos = 0;
  auto corrupt = [&](const std::string& what) {
    return engine::Corruption(server_ + " sent bytes that are not a command on the replication " +
                              "stream at offset " + std::to_string(offset_) + ": " + what);
  };
  // Reads "<prefix><integer>\r\n" at pos; 1 parsed, 0 incomplete, -1 malformed.
  auto header = [&](char prefix, int64_t* value) -> int {
    if (pos >= size) {
      return 0;
    }
    if (base[pos] != prefix) {
      return -1;
    }
    size_t limit = std::min(size, pos + 1 + kMaxHeaderLine);
    const char* cr = static_cast<const char*>(std::memchr(base + pos + 1, '\r', limit - pos - 1));
    if (cr == nullptr) {
      return limit - pos - 1 >= kMaxHeaderLine ? -1 : 0;
    }
    size_t cr_pos = static_cast<size_t>(cr - base);
    if (cr_pos + 1 >= size) {
      return 0;
    }
    if (base[cr_pos + 1] != '\n' ||
        !ParseInt64(std::string_view(base + pos + 1, cr_pos - pos - 1), value)) {
      return -1;
    }
    pos = cr_pos + 2;
    return 1;
  };
  int64_t count = 0;
  int parsed = header('*', &count);
  if (parsed < 0 || (parsed > 0 && (count < 1 || count > kMaxArguments))) {
    return corrupt("expected *<argument count>, found '" +
                   Printable(std::string_view(base, std::min<size_t>(size, 32))) + "'");
  }
  if (parsed == 0) {
    return std::optional<ReplicatedCommand>();
  }
  std::vector<std::pair<size_t, size_t>>& spans = argument_spans_;
  spans.clear();
  for (int64_t i = 0; i < count; ++i) {
    int64_t length = 0;
    parsed = header('$', &length);
    if (parsed < 0 || (parsed > 0 && (length < 0 || length > kMaxBulkBytes))) {
      return corrupt("argument " + std::to_string(i) + " is not a bulk string");
    }
    if (parsed == 0 || size - pos < static_cast<size_t>(length) + 2) {
      return std::optional<ReplicatedCommand>();
    }
    if (base[pos + length] != '\r' || base[pos + length + 1] != '\n') {
      return corrupt("argument " + std::to_string(i) + " does not end with \\r\\n");
    }
    spans.emplace_back(pos, static_cast<size_t>(length));
    pos += static_cast<size_t>(length) + 2;
  }
  ReplicatedCommand command;
  command.arguments.reserve(spans.size());
  for (const auto& [start, length] : spans) {
    command.arguments.emplace_back(base + start, length);
  }
  buffer_start_ += pos;
  offset_ += static_cast<int64_t>(pos);
  command.offset_after = offset_;
  return std::optional<ReplicatedCommand>(std::move(command));
}

Result<std::optional<ReplicatedCommand>> ReplicationClient::NextCommand(
    std::chrono::milliseconds timeout) {
  if (state_ != State::kStream) {
    return engine::Internal("NextCommand() called on the replication client of " + server_ +
                            " before the command stream (after +CONTINUE or FinishSnapshot)");
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  bool read_once = false;
  for (;;) {
    Result<std::optional<ReplicatedCommand>> parsed = ParseCommand();
    if (!parsed.ok() || parsed->has_value()) {
      if (parsed.ok()) {
        const std::vector<std::string>& arguments = (*parsed)->arguments;
        if (arguments.size() >= 2 && EqualsIgnoreCase(arguments[0], "replconf") &&
            EqualsIgnoreCase(arguments[1], "getack")) {
          TANDEM_RETURN_IF_ERROR(SendAck());
          continue;
        }
      }
      return parsed;
    }
    Clock::time_point now = Clock::now();
    if (now - last_ack_sent_ >= kAckInterval) {
      TANDEM_RETURN_IF_ERROR(SendAck());
    }
    if (read_once && now >= deadline) {
      // Bytes keep coming but no whole command yet (a large value): the caller gets control back
      // on time all the same.
      return std::optional<ReplicatedCommand>();
    }
    read_once = true;
    // One attempt without waiting (a deadline already reached): bytes may be ready, or buffered
    // inside TLS where poll cannot see them.
    auto filled = Fill(now);
    if (filled.ok()) {
      continue;
    }
    if (filled.status().code() != StatusCode::kTimeout) {
      return IoError(filled.status(), "the next command");
    }
    now = Clock::now();
    Clock::time_point silent_until = last_received_ + options_.stream_timeout;
    if (now >= silent_until) {
      return engine::ConnectionFailed(
          "no bytes from " + server_ + " on the replication stream at offset " +
          std::to_string(offset_) + " for " + Seconds(options_.stream_timeout) +
          " (the primary PINGs every repl-ping-replica-period, 10 s by default: the link is "
          "dead; tandem reconnects from its checkpoint)");
    }
    if (now >= deadline) {
      return std::optional<ReplicatedCommand>();
    }
    Clock::time_point until = std::min({deadline, silent_until, last_ack_sent_ + kAckInterval});
    filled = Fill(until);
    if (!filled.ok() && filled.status().code() != StatusCode::kTimeout) {
      return IoError(filled.status(), "the next command");
    }
  }
}

}  // namespace tandem::connectors::redis
