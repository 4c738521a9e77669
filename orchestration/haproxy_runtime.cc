#include "orchestration/haproxy_runtime.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <string_view>
#include <utility>

#include "orchestration/host_port.h"
#include "orchestration/socket_fd.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::steady_clock;

// A runtime API reply larger than this is not something tandem asked for.
constexpr size_t kMaxReplyBytes = 64 << 20;

// `text` on one line: its non-empty lines joined with "; " (HAProxy ends replies with "\n\n").
std::string OneLine(std::string_view text) {
  std::string line;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view part = text.substr(start, end - start);
    while (!part.empty() && (part.back() == '\r' || part.back() == ' ')) {
      part.remove_suffix(1);
    }
    if (!part.empty()) {
      if (!line.empty()) {
        line += "; ";
      }
      line += part;
    }
    start = end + 1;
  }
  return line;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// One command's connection. The connect, each write and each read get `timeout` from the moment
// they start waiting. Lives inside one Execute call; `address` must outlive it.
class RuntimeConnection {
 public:
  RuntimeConnection(const std::string& address, std::chrono::milliseconds timeout)
      : address_(address), timeout_(timeout) {}

  engine::Result<std::string> Run(const std::string& command) {
    engine::Result<int> fd = Connect();
    if (!fd.ok()) {
      return fd.status();
    }
    SocketFd socket_fd(*fd);
    const std::string line = command + "\n";
    size_t sent = 0;
    while (sent < line.size()) {
      TANDEM_RETURN_IF_ERROR(Wait(socket_fd.get(), POLLOUT, "sending `" + command + "`"));
      const ssize_t n = send(socket_fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
          continue;
        }
        return Failed(errno);
      }
      sent += static_cast<size_t>(n);
    }
    std::string reply;
    char buffer[16384];
    for (;;) {
      TANDEM_RETURN_IF_ERROR(
          Wait(socket_fd.get(), POLLIN, "waiting for the reply to `" + command + "`"));
      const ssize_t n = recv(socket_fd.get(), buffer, sizeof(buffer), 0);
      if (n == 0) {
        return reply;
      }
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
          continue;
        }
        return Failed(errno);
      }
      reply.append(buffer, static_cast<size_t>(n));
      if (reply.size() > kMaxReplyBytes) {
        return engine::Corruption("HAProxy runtime API at " + address_ + ": the reply to `" +
                                  command + "` exceeds " + std::to_string(kMaxReplyBytes >> 20) +
                                  " MiB");
      }
    }
  }

 private:
  engine::Status Failed(int error) const {
    return engine::ConnectionFailed("HAProxy runtime API at " + address_ + ": " +
                                    std::strerror(error) +
                                    "; check the `stats socket` line of haproxy.cfg");
  }

  // Waits until `fd` is ready for `events`, at most timeout_ from now.
  engine::Status Wait(int fd, short events, const std::string& doing) const {
    const auto deadline = Clock::now() + timeout_;
    for (;;) {
      // Rounded up, so poll never returns before the deadline.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return engine::Timeout("HAProxy runtime API at " + address_ + ": no progress " + doing +
                               " within " + std::to_string(timeout_.count()) + " ms");
      }
      pollfd pfd{fd, events, 0};
      const int n = poll(&pfd, 1, static_cast<int>(left.count()));
      if (n > 0) {
        return engine::Status::Ok();
      }
      if (n < 0 && errno != EINTR) {
        return Failed(errno);
      }
    }
  }

  // Finishes a non-blocking connect started on `fd`.
  engine::Status FinishConnect(int fd) const {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return Failed(errno);
    }
    TANDEM_RETURN_IF_ERROR(Wait(fd, POLLOUT, "connecting"));
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      return Failed(errno);
    }
    return error == 0 ? engine::Status::Ok() : Failed(error);
  }

  engine::Result<int> Connect() const {
    if (address_.find('/') != std::string::npos) {
      sockaddr_un unix_address{};
      if (address_.size() >= sizeof(unix_address.sun_path)) {
        return engine::InvalidArgument("HAProxy runtime API socket path " + address_ + " is " +
                                       std::to_string(address_.size()) + " bytes, over the " +
                                       std::to_string(sizeof(unix_address.sun_path) - 1) +
                                       "-byte limit of unix sockets; use a shorter path");
      }
      unix_address.sun_family = AF_UNIX;
      std::memcpy(unix_address.sun_path, address_.c_str(), address_.size() + 1);
      const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) {
        return Failed(errno);
      }
      if (connect(fd, reinterpret_cast<const sockaddr*>(&unix_address), sizeof(unix_address)) !=
          0) {
        engine::Status status = FinishConnect(fd);
        if (!status.ok()) {
          close(fd);
          return status;
        }
      }
      return fd;
    }
    auto parsed = ParseHostPort(address_);
    if (!parsed.ok()) {
      return engine::InvalidArgument("HAProxy runtime API address '" + address_ +
                                     "' is neither a unix socket path (containing '/') nor "
                                     "host:port: it " +
                                     parsed.status().message());
    }
    const std::string& host = parsed->host;
    const std::string port = std::to_string(parsed->port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int resolved = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (resolved != 0) {
      return engine::ConnectionFailed("HAProxy runtime API at " + address_ + ": " +
                                      gai_strerror(resolved) +
                                      "; check the `stats socket` line of haproxy.cfg");
    }
    engine::Status last = Failed(ECONNREFUSED);
    for (addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
      const int fd =
          socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                 candidate->ai_protocol);
      if (fd < 0) {
        last = Failed(errno);
        continue;
      }
      if (connect(fd, candidate->ai_addr, candidate->ai_addrlen) == 0) {
        freeaddrinfo(found);
        return fd;
      }
      last = FinishConnect(fd);
      if (last.ok()) {
        freeaddrinfo(found);
        return fd;
      }
      close(fd);
    }
    freeaddrinfo(found);
    return last;
  }

  const std::string& address_;
  const std::chrono::milliseconds timeout_;
};

// `show stat` CSV: a header line "# pxname,svname,qcur,..." naming the columns, then one line per
// proxy or server, fields separated by ',' (HAProxy quotes nothing; no field tandem reads contains
// a comma). Columns are found by name, since HAProxy versions add columns.
class StatCsv {
 public:
  static engine::Result<StatCsv> Parse(std::string_view text, const std::string& address) {
    StatCsv csv;
    csv.address_ = address;
    size_t start = 0;
    bool header_seen = false;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) {
        end = text.size();
      }
      std::string_view line = text.substr(start, end - start);
      start = end + 1;
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      if (line.empty()) {
        continue;
      }
      if (!header_seen) {
        if (!StartsWith(line, "# ")) {
          return engine::Corruption("HAProxy runtime API at " + address +
                                    ": `show stat` did not start with its CSV header (\"# "
                                    "pxname,svname,...\") but with: " +
                                    OneLine(line.substr(0, 120)));
        }
        line.remove_prefix(2);
        std::vector<std::string_view> names = Split(line);
        for (size_t i = 0; i < names.size(); ++i) {
          if (!names[i].empty()) {
            csv.columns_.emplace(std::string(names[i]), i);
          }
        }
        header_seen = true;
        continue;
      }
      csv.rows_.push_back(Split(line));
    }
    if (!header_seen) {
      return engine::Corruption("HAProxy runtime API at " + address +
                                ": `show stat` returned no CSV header");
    }
    return csv;
  }

  size_t rows() const { return rows_.size(); }

  // The field `column` of row `row`; "" when the row is shorter. Corruption when the header has no
  // such column.
  engine::Result<std::string_view> Field(size_t row, const std::string& column) const {
    auto it = columns_.find(column);
    if (it == columns_.end()) {
      return engine::Corruption("HAProxy runtime API at " + address_ +
                                ": `show stat` has no column '" + column +
                                "'; HAProxy 2.0 or later is needed");
    }
    const std::vector<std::string_view>& fields = rows_[row];
    return it->second < fields.size() ? fields[it->second] : std::string_view();
  }

  // An integer field; an empty field is 0.
  engine::Result<int64_t> Integer(size_t row, const std::string& column) const {
    TANDEM_ASSIGN_OR_RETURN(std::string_view text, Field(row, column));
    if (text.empty()) {
      return int64_t{0};
    }
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
      return engine::Corruption("HAProxy runtime API at " + address_ + ": `show stat` column '" +
                                column + "' holds '" + std::string(text) + "', not an integer");
    }
    return value;
  }

 private:
  static std::vector<std::string_view> Split(std::string_view line) {
    std::vector<std::string_view> fields;
    size_t start = 0;
    for (;;) {
      const size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) {
        fields.push_back(line.substr(start));
        return fields;
      }
      fields.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
  }

  std::string address_;
  std::map<std::string, size_t> columns_;
  std::vector<std::vector<std::string_view>> rows_;
};

// HAProxy's one-line refusals to a command on one server.
engine::Status ServerCommandRefusal(const std::string& address, const std::string& backend,
                                    const std::string& server, const std::string& command,
                                    std::string_view reply) {
  const std::string_view text = Trim(reply);
  if (StartsWith(text, "No such backend")) {
    return engine::NotFound("HAProxy has no backend " + backend + " (runtime API at " + address +
                            "); check the backend name against haproxy.cfg");
  }
  if (StartsWith(text, "No such server")) {
    return engine::NotFound("HAProxy backend " + backend + " has no server " + server +
                            " (runtime API at " + address +
                            "); check the server name against haproxy.cfg");
  }
  return engine::FailedPrecondition("HAProxy runtime API at " + address + " refused `" + command +
                                    "`: " + OneLine(text));
}

std::string ServerPath(const std::string& backend, const std::string& server) {
  return backend + "/" + server;
}

}  // namespace

HaproxyRuntime::HaproxyRuntime(std::string address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

engine::Result<std::string> HaproxyRuntime::Execute(const std::string& command) const {
  if (command.empty() || command.find('\n') != std::string::npos ||
      command.find('\r') != std::string::npos) {
    return engine::InvalidArgument("HAProxy runtime API command must be one non-empty line, got '" +
                                   OneLine(command) + "'");
  }
  RuntimeConnection connection(address_, timeout_);
  TANDEM_ASSIGN_OR_RETURN(std::string reply, connection.Run(command));
  const std::string_view text = Trim(reply);
  if (StartsWith(text, "Permission denied")) {
    return engine::PermissionDenied("HAProxy runtime API at " + address_ + " refused `" + command +
                                    "`: Permission denied; declare the stats socket with level "
                                    "admin in haproxy.cfg");
  }
  if (StartsWith(text, "Unknown command")) {
    return engine::FailedPrecondition("HAProxy runtime API at " + address_ +
                                      " does not know the command `" + command +
                                      "`; HAProxy 2.0 or later is needed");
  }
  return reply;
}

engine::Result<std::string> HaproxyRuntime::BalanceAlgorithm(const std::string& backend) const {
  TANDEM_ASSIGN_OR_RETURN(std::string reply, Execute("show stat -1 2 -1"));
  TANDEM_ASSIGN_OR_RETURN(StatCsv csv, StatCsv::Parse(reply, address_));
  for (size_t row = 0; row < csv.rows(); ++row) {
    TANDEM_ASSIGN_OR_RETURN(std::string_view pxname, csv.Field(row, "pxname"));
    TANDEM_ASSIGN_OR_RETURN(std::string_view svname, csv.Field(row, "svname"));
    if (pxname != backend || svname != "BACKEND") {
      continue;
    }
    auto algo = csv.Field(row, "algo");
    if (!algo.ok() || algo->empty()) {
      return engine::FailedPrecondition("HAProxy at " + address_ +
                                        " does not report the balance algorithm of backend " +
                                        backend +
                                        " (`show stat` has no algo, or shows it only to a "
                                        "socket at level operator or admin); declare the stats "
                                        "socket with level admin");
    }
    return std::string(*algo);
  }
  return engine::NotFound("HAProxy has no backend " + backend + " (runtime API at " + address_ +
                          "); check the backend name against haproxy.cfg");
}

engine::Result<std::vector<HaproxyServerStats>> HaproxyRuntime::ShowStat(
    const std::string& backend) const {
  TANDEM_ASSIGN_OR_RETURN(std::string reply, Execute("show stat -1 4 -1"));
  TANDEM_ASSIGN_OR_RETURN(StatCsv csv, StatCsv::Parse(reply, address_));
  std::vector<HaproxyServerStats> servers;
  for (size_t row = 0; row < csv.rows(); ++row) {
    TANDEM_ASSIGN_OR_RETURN(std::string_view pxname, csv.Field(row, "pxname"));
    if (pxname != backend) {
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(std::string_view svname, csv.Field(row, "svname"));
    if (svname == "BACKEND" || svname == "FRONTEND") {
      continue;  // `-1 4 -1` asks for servers only; be robust to an HAProxy that ignores it
    }
    HaproxyServerStats stats;
    stats.backend = std::string(pxname);
    stats.server = std::string(svname);
    TANDEM_ASSIGN_OR_RETURN(std::string_view status, csv.Field(row, "status"));
    stats.status = std::string(status);
    const std::pair<const char*, int64_t*> integers[] = {
        {"weight", &stats.weight},          {"stot", &stats.sessions_total},
        {"hrsp_1xx", &stats.http_1xx},      {"hrsp_2xx", &stats.http_2xx},
        {"hrsp_3xx", &stats.http_3xx},      {"hrsp_4xx", &stats.http_4xx},
        {"hrsp_5xx", &stats.http_5xx},      {"hrsp_other", &stats.http_other},
        {"econ", &stats.connection_errors}, {"eresp", &stats.response_errors},
    };
    for (const auto& [column, target] : integers) {
      TANDEM_ASSIGN_OR_RETURN(*target, csv.Integer(row, column));
    }
    const std::pair<const char*, double*> times[] = {
        {"qtime", &stats.queue_time_ms},
        {"ctime", &stats.connect_time_ms},
        {"rtime", &stats.response_time_ms},
        {"ttime", &stats.total_time_ms},
    };
    for (const auto& [column, target] : times) {
      TANDEM_ASSIGN_OR_RETURN(int64_t value, csv.Integer(row, column));
      *target = static_cast<double>(value);
    }
    servers.push_back(std::move(stats));
  }
  if (servers.empty()) {
    return engine::NotFound("HAProxy has no backend " + backend + " (runtime API at " + address_ +
                            "; `show stat` lists no server for it); check the backend name "
                            "against haproxy.cfg");
  }
  return servers;
}

engine::Result<int64_t> HaproxyRuntime::GetWeight(const std::string& backend,
                                                  const std::string& server) const {
  const std::string command = "get weight " + ServerPath(backend, server);
  TANDEM_ASSIGN_OR_RETURN(std::string reply, Execute(command));
  // "N (initial M)"
  const std::string_view text = Trim(reply);
  int64_t weight = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), weight);
  if (error != std::errc() || end == text.data()) {
    return ServerCommandRefusal(address_, backend, server, command, text);
  }
  if (!StartsWith(std::string_view(end, text.data() + text.size() - end), " (initial ")) {
    return engine::Corruption("HAProxy runtime API at " + address_ + ": `" + command +
                              "` answered '" + OneLine(text) + "', not \"N (initial M)\"");
  }
  return weight;
}

engine::Status HaproxyRuntime::SetWeight(const std::string& backend, const std::string& server,
                                         int64_t weight) const {
  if (weight < 0 || weight > 256) {
    return engine::InvalidArgument("HAProxy weight " + std::to_string(weight) + " for " +
                                   ServerPath(backend, server) + " is outside 0..256");
  }
  const std::string command =
      "set weight " + ServerPath(backend, server) + " " + std::to_string(weight);
  TANDEM_ASSIGN_OR_RETURN(std::string reply, Execute(command));
  if (!Trim(reply).empty()) {
    return ServerCommandRefusal(address_, backend, server, command, reply);
  }
  return engine::Status::Ok();
}

engine::Status HaproxyRuntime::SetServerState(const std::string& backend, const std::string& server,
                                              const std::string& state) const {
  if (state != "ready" && state != "drain" && state != "maint") {
    return engine::InvalidArgument("HAProxy server state '" + state + "' for " +
                                   ServerPath(backend, server) +
                                   " is not one of ready, drain, maint");
  }
  const std::string command = "set server " + ServerPath(backend, server) + " state " + state;
  TANDEM_ASSIGN_OR_RETURN(std::string reply, Execute(command));
  if (!Trim(reply).empty()) {
    return ServerCommandRefusal(address_, backend, server, command, reply);
  }
  return engine::Status::Ok();
}

engine::Status HaproxyRuntime::ShutdownSessions(const std::string& backend,
                                                const std::string& server) const {
  const std::string command = "shutdown sessions server " + ServerPath(backend, server);
  TANDEM_ASSIGN_OR_RETURN(std::string reply, Execute(command));
  if (!Trim(reply).empty()) {
    return ServerCommandRefusal(address_, backend, server, command, reply);
  }
  return engine::Status::Ok();
}

}  // namespace tandem::orchestration
