#include "orchestration/traffic_monitor.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "orchestration/host_port.h"

namespace tandem::orchestration {
namespace {

// ---------------------------------------------------------------------------------------------
// httplog parsing

// Reads the next space-terminated token of `rest` and moves past it and the one space after.
std::optional<std::string_view> NextToken(std::string_view& rest) {
  if (rest.empty() || rest.front() == ' ') {
    return std::nullopt;
  }
  const size_t space = rest.find(' ');
  std::string_view token = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return token;
}

// A decimal integer with an optional sign ('+' as HAProxy writes with logasap, '-' for -1).
std::optional<int64_t> ParseInteger(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 5424 after "<PRI>": VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
// STRUCTURED-DATA [SP MSG]. Returns MSG.
std::optional<std::string_view> SkipRfc5424Header(std::string_view rest) {
  for (int field = 0; field < 6; ++field) {
    if (!NextToken(rest)) {
      return std::nullopt;
    }
  }
  if (rest.empty()) {
    return std::nullopt;
  }
  if (rest.front() == '-') {
    rest.remove_prefix(1);
  } else {
    // One or more [id param="value" ...] elements; inside quotes, '\' escapes '"', '\' and ']'.
    while (!rest.empty() && rest.front() == '[') {
      size_t i = 1;
      bool in_quotes = false;
      for (; i < rest.size(); ++i) {
        const char c = rest[i];
        if (in_quotes && c == '\\') {
          ++i;
        } else if (c == '"') {
          in_quotes = !in_quotes;
        } else if (c == ']' && !in_quotes) {
          break;
        }
      }
      if (i >= rest.size()) {
        return std::nullopt;
      }
      rest.remove_prefix(i + 1);
    }
  }
  if (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);
  }
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (rest.substr(0, kBom.size()) == kBom) {
    rest.remove_prefix(kBom.size());
  }
  return rest;
}

// RFC 3164 after "<PRI>": "Mmm dd hh:mm:ss " [HOSTNAME SP] TAG ":" SP MSG. Returns MSG.
std::optional<std::string_view> SkipRfc3164Header(std::string_view rest) {
  if (rest.size() < 16 || rest[3] != ' ' || rest[6] != ' ' || rest[9] != ':' || rest[12] != ':' ||
      rest[15] != ' ') {
    return std::nullopt;
  }
  rest.remove_prefix(16);
  for (int token = 0; token < 2; ++token) {
    const std::optional<std::string_view> word = NextToken(rest);
    if (!word) {
      return std::nullopt;
    }
    if (word->back() == ':') {
      return rest;
    }
  }
  return std::nullopt;
}

// The message after the syslog header, or the whole datagram when it has none.
std::optional<std::string_view> SyslogMessage(std::string_view datagram) {
  if (datagram.empty() || datagram.front() != '<') {
    return datagram;
  }
  const size_t close = datagram.find('>');
  if (close == std::string_view::npos || close < 2 || close > 4) {
    return std::nullopt;
  }
  for (size_t i = 1; i < close; ++i) {
    if (!IsDigit(datagram[i])) {
      return std::nullopt;
    }
  }
  const std::string_view rest = datagram.substr(close + 1);
  size_t digits = 0;
  while (digits < rest.size() && digits < 3 && IsDigit(rest[digits])) {
    ++digits;
  }
  if (digits > 0 && digits < rest.size() && rest[digits] == ' ') {
    return SkipRfc5424Header(rest);
  }
  return SkipRfc3164Header(rest);
}

// ---------------------------------------------------------------------------------------------
// Statistics

enum class Side { kOld, kNew };

// Cumulative figures of one side since the monitor started.
struct SideTotals {
  int64_t responses = 0;
  int64_t errors = 0;
  double rtime_weighted_ms = 0;  // sum over polls of (responses in that poll) x rtime
};

struct PollEntry {
  SteadyTime at;
  SideTotals old_side, new_side;
};

struct ServerCounters {
  int64_t responses = 0;
  int64_t errors = 0;
  int64_t sessions = 0;
};

struct TimeSample {
  SteadyTime at;
  int32_t ms;
  Side side;
};

constexpr size_t kMaxTimeSamples = 2'000'000;
constexpr std::chrono::milliseconds kReceiveTimeout{100};

// The value at rank ceil(q * n) (1-based) of `values`; reorders them. REQUIRES: !values.empty().
double NearestRank(std::vector<int32_t>& values, double q) {
  const auto n = static_cast<double>(values.size());
  auto rank = static_cast<size_t>(std::ceil(q * n));
  rank = std::clamp<size_t>(rank, 1, values.size());
  auto nth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
  std::nth_element(values.begin(), nth, values.end());
  return *nth;
}

ResponseTimeSummary SummarizeSamples(std::vector<int32_t> values) {
  ResponseTimeSummary summary;
  summary.from_log = true;
  summary.samples = static_cast<int64_t>(values.size());
  if (!values.empty()) {
    summary.median_ms = NearestRank(values, 0.5);
    summary.p95_ms = NearestRank(values, 0.95);
  }
  return summary;
}

ResponseTimeSummary SummarizeAverages(const SideTotals& from, const SideTotals& to) {
  ResponseTimeSummary summary;
  summary.from_log = false;
  summary.samples = to.responses - from.responses;
  if (summary.samples > 0) {
    summary.median_ms =
        (to.rtime_weighted_ms - from.rtime_weighted_ms) / static_cast<double>(summary.samples);
    summary.p95_ms = summary.median_ms;
  }
  return summary;
}

SideCounts Difference(const SideTotals& from, const SideTotals& to) {
  return SideCounts{to.responses - from.responses, to.errors - from.errors};
}

int64_t ReadInt(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  return it != json.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

double ReadDouble(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  return it != json.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string ErrnoText() { return std::strerror(errno); }

// Binds a UDP socket to "host:port" with a 100 ms receive timeout.
engine::Result<int> BindLogSocket(const std::string& address) {
  const std::string fix = "; give the log address as host:port, such as 127.0.0.1:5140";
  auto parsed = ParseHostPort(address);
  if (!parsed.ok()) {
    return engine::InvalidArgument("log address '" + address + "' " + parsed.status().message() +
                                   fix);
  }
  const std::string& host = parsed->host;
  const std::string port = std::to_string(parsed->port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int resolved = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (resolved != 0) {
    return engine::InvalidArgument("log address '" + address +
                                   "' cannot be resolved: " + gai_strerror(resolved) + fix);
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, &freeaddrinfo);
  const int fd = socket(found->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return engine::FailedPrecondition("cannot create the log socket: " + ErrnoText());
  }
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    const std::string reason = ErrnoText();
    close(fd);
    return engine::FailedPrecondition("cannot bind the log address " + address +
                                      " (UDP): " + reason +
                                      "; choose a free port for `log` in the plan and HAProxy");
  }
  timeval timeout{};
  timeout.tv_usec = std::chrono::microseconds(kReceiveTimeout).count();
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const int buffer_bytes = 4 << 20;  // absorbs bursts; the kernel caps it at rmem_max
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
  return fd;
}

}  // namespace

std::optional<HttplogLine> ParseHttplogLine(std::string_view datagram) {
  while (!datagram.empty() &&
         (datagram.back() == '\n' || datagram.back() == '\r' || datagram.back() == '\0')) {
    datagram.remove_suffix(1);
  }
  std::optional<std::string_view> message = SyslogMessage(datagram);
  if (!message) {
    return std::nullopt;
  }
  std::string_view rest = *message;
  const auto client = NextToken(rest);
  const auto accept_date = NextToken(rest);
  const auto frontend = NextToken(rest);
  const auto backend_server = NextToken(rest);
  const auto timers = NextToken(rest);
  const auto status = NextToken(rest);
  const auto bytes = NextToken(rest);
  if (!client || !accept_date || !frontend || !backend_server || !timers || !status || !bytes) {
    return std::nullopt;
  }
  if (accept_date->size() < 2 || accept_date->front() != '[' || accept_date->back() != ']') {
    return std::nullopt;
  }
  const size_t slash = backend_server->find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == backend_server->size()) {
    return std::nullopt;
  }
  int64_t timer_values[5];
  std::string_view timer_text = *timers;
  for (int i = 0; i < 5; ++i) {
    const size_t end = timer_text.find('/');
    if ((i < 4) == (end == std::string_view::npos)) {
      return std::nullopt;  // fewer or more than five timers
    }
    const std::optional<int64_t> value = ParseInteger(timer_text.substr(0, end));
    if (!value || *value < -1) {
      return std::nullopt;
    }
    timer_values[i] = *value;
    timer_text = i < 4 ? timer_text.substr(end + 1) : std::string_view();
  }
  const std::optional<int64_t> status_value = ParseInteger(*status);
  if (!status_value || *status_value < -1 || *status_value > 999 || !ParseInteger(*bytes)) {
    return std::nullopt;
  }
  HttplogLine line;
  line.frontend = std::string(*frontend);
  if (!line.frontend.empty() && line.frontend.back() == '~') {
    line.frontend.pop_back();
  }
  line.backend = std::string(backend_server->substr(0, slash));
  line.server = std::string(backend_server->substr(slash + 1));
  if (timer_values[3] >= 0 && timer_values[4] >= 0) {
    line.ta_ms = timer_values[4];
  }
  line.status = static_cast<int>(*status_value);
  return line;
}

nlohmann::json TrafficBaseline::ToJson() const {
  return nlohmann::json{{"old_responses", old_side.responses},
                        {"old_errors", old_side.errors},
                        {"old_times",
                         {{"samples", old_times.samples},
                          {"median_ms", old_times.median_ms},
                          {"p95_ms", old_times.p95_ms},
                          {"from_log", old_times.from_log}}},
                        {"span_ms", span.count()}};
}

TrafficBaseline TrafficBaseline::FromJson(const nlohmann::json& json) {
  TrafficBaseline baseline;
  if (!json.is_object()) {
    return baseline;
  }
  baseline.old_side.responses = ReadInt(json, "old_responses");
  baseline.old_side.errors = ReadInt(json, "old_errors");
  baseline.span = std::chrono::milliseconds(ReadInt(json, "span_ms"));
  const auto times = json.find("old_times");
  if (times != json.end() && times->is_object()) {
    baseline.old_times.samples = ReadInt(*times, "samples");
    baseline.old_times.median_ms = ReadDouble(*times, "median_ms");
    baseline.old_times.p95_ms = ReadDouble(*times, "p95_ms");
    const auto from_log = times->find("from_log");
    baseline.old_times.from_log =
        from_log != times->end() && from_log->is_boolean() && from_log->get<bool>();
  }
  return baseline;
}

struct TrafficMonitor::State {
  // Constant after construction.
  TrafficMonitorOptions options;
  std::optional<HaproxyRuntime> haproxy;  // nullopt for a test monitor
  std::map<std::string, Side, std::less<>> sides;
  size_t max_poll_entries = 0;
  int log_fd = -1;  // owned; closed by Stop() after the log thread ended

  mutable std::mutex mu;
  std::condition_variable cv;  // signalled when stopping becomes true
  // Guarded by mu.
  bool stopping = false;
  std::optional<engine::Status> poll_error;
  std::deque<PollEntry> polls;  // in time order
  SideTotals old_totals, new_totals;
  std::map<std::string, ServerCounters, std::less<>> last_counters;
  std::deque<TimeSample> samples;  // in time order
  int64_t lines_received = 0;
  int64_t lines_unreadable = 0;
  int64_t samples_dropped = 0;

  std::mutex stop_mu;   // serialises Stop()
  bool joined = false;  // guarded by stop_mu
  std::thread poller;
  std::thread log_reader;

  void RecordPoll(SteadyTime at, const engine::Result<std::vector<HaproxyServerStats>>& poll) {
    std::lock_guard lock(mu);
    if (!poll.ok()) {
      poll_error = poll.status();
      return;
    }
    poll_error.reset();
    for (const HaproxyServerStats& stats : *poll) {
      const auto side = sides.find(stats.server);
      if (stats.backend != options.backend || side == sides.end()) {
        continue;
      }
      const ServerCounters now{stats.responses(),
                               stats.http_5xx + stats.connection_errors + stats.response_errors,
                               stats.sessions_total};
      ServerCounters delta{};
      const auto last = last_counters.find(stats.server);
      if (last != last_counters.end()) {
        const ServerCounters& before = last->second;
        const bool restarted = now.responses < before.responses || now.errors < before.errors ||
                               now.sessions < before.sessions;
        delta = restarted ? now
                          : ServerCounters{now.responses - before.responses,
                                           now.errors - before.errors, 0};
        last->second = now;
      } else {
        last_counters.emplace(stats.server, now);  // the first sight sets the zero point
      }
      SideTotals& totals = side->second == Side::kOld ? old_totals : new_totals;
      totals.responses += delta.responses;
      totals.errors += delta.errors;
      totals.rtime_weighted_ms += static_cast<double>(delta.responses) * stats.response_time_ms;
    }
    polls.push_back(PollEntry{at, old_totals, new_totals});
    while (polls.size() > max_poll_entries) {
      polls.pop_front();
    }
  }

  void RecordDatagram(SteadyTime at, std::string_view datagram) {
    const std::optional<HttplogLine> line = ParseHttplogLine(datagram);
    std::lock_guard lock(mu);
    ++lines_received;
    if (!line) {
      ++lines_unreadable;
      return;
    }
    const auto side = sides.find(line->server);
    if (line->backend != options.backend || side == sides.end() || !line->ta_ms) {
      return;
    }
    samples.push_back(TimeSample{
        at, static_cast<int32_t>(std::min<int64_t>(*line->ta_ms, INT32_MAX)), side->second});
    while (!samples.empty() && samples.front().at < at - options.history) {
      samples.pop_front();
    }
    while (samples.size() > kMaxTimeSamples) {
      samples.pop_front();
      ++samples_dropped;
    }
  }

  // Index of the first poll at or after `at` (polls.size() if none). REQUIRES: mu held.
  size_t FirstPollAtOrAfter(SteadyTime at) const {
    return static_cast<size_t>(
        std::lower_bound(polls.begin(), polls.end(), at,
                         [](const PollEntry& entry, SteadyTime t) { return entry.at < t; }) -
        polls.begin());
  }

  // Index of the last poll at or before `at`, or nullopt. REQUIRES: mu held.
  std::optional<size_t> LastPollAtOrBefore(SteadyTime at) const {
    const auto after =
        std::upper_bound(polls.begin(), polls.end(), at,
                         [](SteadyTime t, const PollEntry& entry) { return t < entry.at; });
    if (after == polls.begin()) {
      return std::nullopt;
    }
    return static_cast<size_t>(after - polls.begin()) - 1;
  }

  // The response times of `side` received in [from, to]. REQUIRES: mu held.
  std::vector<int32_t> SamplesIn(Side side, SteadyTime from, SteadyTime to) const {
    std::vector<int32_t> values;
    auto it = std::lower_bound(samples.begin(), samples.end(), from,
                               [](const TimeSample& s, SteadyTime t) { return s.at < t; });
    for (; it != samples.end() && it->at <= to; ++it) {
      if (it->side == side) {
        values.push_back(it->ms);
      }
    }
    return values;
  }

  // Fills `window`'s counts and times from polls [base, end] and samples in [window.start, to].
  // REQUIRES: mu held; base <= end < polls.size(), or base == polls.size() (no polls).
  void Measure(size_t base, std::optional<size_t> end, SteadyTime to, TrafficWindow& window,
               std::vector<int32_t>& old_values, std::vector<int32_t>& new_values) const {
    if (end && base <= *end) {
      const PollEntry& from = polls[base];
      const PollEntry& until = polls[*end];
      window.old_side = Difference(from.old_side, until.old_side);
      window.new_side = Difference(from.new_side, until.new_side);
      if (!options.log_address) {
        window.old_times = SummarizeAverages(from.old_side, until.old_side);
        window.new_times = SummarizeAverages(from.new_side, until.new_side);
      }
    }
    if (options.log_address) {
      old_values = SamplesIn(Side::kOld, window.start, to);
      new_values = SamplesIn(Side::kNew, window.start, to);
    }
  }

  void RunPoller() {
    std::unique_lock lock(mu);
    while (!stopping) {
      if (cv.wait_for(lock, options.poll_interval, [this] { return stopping; })) {
        break;
      }
      lock.unlock();
      const auto poll = haproxy->ShowStat(options.backend);
      RecordPoll(std::chrono::steady_clock::now(), poll);
      lock.lock();
    }
  }

  void RunLogReader() {
    std::vector<char> buffer(65536);
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) {
          return;
        }
      }
      const ssize_t n = recv(log_fd, buffer.data(), buffer.size(), 0);
      if (n < 0) {
        // EAGAIN / EWOULDBLOCK: the 100 ms timeout, the chance to see a stop request. EINTR is
        // retried at once; any other error after a pause, so it cannot spin.
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          std::unique_lock lock(mu);
          cv.wait_for(lock, kReceiveTimeout, [this] { return stopping; });
        }
        continue;
      }
      RecordDatagram(std::chrono::steady_clock::now(),
                     std::string_view(buffer.data(), static_cast<size_t>(n)));
    }
  }
};

TrafficMonitor::TrafficMonitor(std::unique_ptr<State> state) : state_(std::move(state)) {}

TrafficMonitor::~TrafficMonitor() { Stop(); }

engine::Result<std::unique_ptr<TrafficMonitor>> TrafficMonitor::Start(
    const HaproxyRuntime& haproxy, const TrafficMonitorOptions& options) {
  if (options.backend.empty() || options.old_servers.empty() || options.new_servers.empty()) {
    return engine::InvalidArgument(
        "the traffic monitor needs a backend and at least one old and one new server");
  }
  if (options.poll_interval <= std::chrono::milliseconds(0) ||
      options.recent_span <= std::chrono::milliseconds(0) ||
      options.history < options.poll_interval) {
    return engine::InvalidArgument(
        "the traffic monitor's poll interval and recent span must be positive and its history "
        "at least one poll interval");
  }
  std::unique_ptr<TrafficMonitor> monitor = ForTesting(options);
  State& state = *monitor->state_;
  for (const std::string& server : options.old_servers) {
    if (options.new_servers.end() !=
        std::find(options.new_servers.begin(), options.new_servers.end(), server)) {
      return engine::InvalidArgument("server " + server +
                                     " is named both old and new; name each server once");
    }
  }
  auto first = haproxy.ShowStat(options.backend);
  if (!first.ok()) {
    return first.status();
  }
  for (const auto& [server, side] : state.sides) {
    const bool present = std::any_of(first->begin(), first->end(), [&](const auto& stats) {
      return stats.backend == options.backend && stats.server == server;
    });
    if (!present) {
      return engine::NotFound("HAProxy backend " + options.backend + " has no server " + server +
                              "; check the server names of [traffic] against haproxy.cfg");
    }
  }
  if (options.log_address) {
    auto fd = BindLogSocket(*options.log_address);
    if (!fd.ok()) {
      return fd.status();
    }
    state.log_fd = *fd;
  }
  state.haproxy.emplace(haproxy);
  state.RecordPoll(std::chrono::steady_clock::now(), first);
  state.poller = std::thread([&state] { state.RunPoller(); });
  if (state.log_fd >= 0) {
    state.log_reader = std::thread([&state] { state.RunLogReader(); });
  }
  return monitor;
}

std::unique_ptr<TrafficMonitor> TrafficMonitor::ForTesting(const TrafficMonitorOptions& options) {
  auto state = std::make_unique<State>();
  state->options = options;
  for (const std::string& server : options.old_servers) {
    state->sides.emplace(server, Side::kOld);
  }
  for (const std::string& server : options.new_servers) {
    state->sides.emplace(server, Side::kNew);
  }
  const auto interval = std::max(options.poll_interval, std::chrono::milliseconds(1));
  state->max_poll_entries =
      static_cast<size_t>(std::max<int64_t>(2, options.history / interval + 1));
  return std::unique_ptr<TrafficMonitor>(new TrafficMonitor(std::move(state)));
}

void TrafficMonitor::RecordPollForTesting(
    SteadyTime at, const engine::Result<std::vector<HaproxyServerStats>>& poll) {
  state_->RecordPoll(at, poll);
}

void TrafficMonitor::RecordDatagramForTesting(SteadyTime at, std::string_view datagram) {
  state_->RecordDatagram(at, datagram);
}

void TrafficMonitor::Stop() {
  State& state = *state_;
  std::lock_guard stop_lock(state.stop_mu);
  if (state.joined) {
    return;
  }
  {
    std::lock_guard lock(state.mu);
    state.stopping = true;
  }
  state.cv.notify_all();
  if (state.poller.joinable()) {
    state.poller.join();
  }
  if (state.log_reader.joinable()) {
    state.log_reader.join();
  }
  if (state.log_fd >= 0) {
    close(state.log_fd);
    state.log_fd = -1;
  }
  state.joined = true;
}

std::optional<engine::Status> TrafficMonitor::poll_error() const {
  std::lock_guard lock(state_->mu);
  return state_->poll_error;
}

TrafficWindow TrafficMonitor::Window(SteadyTime since, SteadyTime now,
                                     int64_t min_new_responses) const {
  const State& state = *state_;
  TrafficWindow window;
  window.end = now;
  const SteadyTime preferred = std::max(since, now - state.options.recent_span);
  window.start = preferred;
  std::vector<int32_t> old_values, new_values;
  {
    std::lock_guard lock(state.mu);
    const std::optional<size_t> end = state.LastPollAtOrBefore(now);
    size_t base = state.FirstPollAtOrAfter(preferred);
    if (end) {
      base = std::min(base, *end);
      const auto new_responses = [&](size_t from) {
        return state.polls[*end].new_side.responses - state.polls[from].new_side.responses;
      };
      while (new_responses(base) < min_new_responses && base > 0 &&
             state.polls[base - 1].at >= since) {
        --base;
      }
      if (state.polls[base].at >= since) {
        window.start = state.polls[base].at;
      }
    }
    state.Measure(base, end, now, window, old_values, new_values);
  }
  if (state.options.log_address) {
    window.old_times = SummarizeSamples(std::move(old_values));
    window.new_times = SummarizeSamples(std::move(new_values));
  }
  return window;
}

TrafficBaseline TrafficMonitor::MeasureBaseline(SteadyTime start, SteadyTime end) const {
  const State& state = *state_;
  TrafficWindow window;
  window.start = start;
  window.end = end;
  std::vector<int32_t> old_values, new_values;
  {
    std::lock_guard lock(state.mu);
    const size_t base = state.FirstPollAtOrAfter(start);
    const std::optional<size_t> last = state.LastPollAtOrBefore(end);
    if (last && base <= *last) {
      window.start = state.polls[base].at;
    }
    state.Measure(base, last, end, window, old_values, new_values);
  }
  if (state.options.log_address) {
    window.old_times = SummarizeSamples(std::move(old_values));
  }
  TrafficBaseline baseline;
  baseline.old_side = window.old_side;
  baseline.old_times = window.old_times;
  baseline.span = std::chrono::duration_cast<std::chrono::milliseconds>(end - start);
  return baseline;
}

int64_t TrafficMonitor::log_lines_received() const {
  std::lock_guard lock(state_->mu);
  return state_->lines_received;
}

int64_t TrafficMonitor::log_lines_unreadable() const {
  std::lock_guard lock(state_->mu);
  return state_->lines_unreadable;
}

int64_t TrafficMonitor::response_times_dropped() const {
  std::lock_guard lock(state_->mu);
  return state_->samples_dropped;
}

}  // namespace tandem::orchestration
