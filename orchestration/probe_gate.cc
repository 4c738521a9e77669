#include "orchestration/probe_gate.h"

#include <httplib.h>

#include <charconv>
#include <utility>

#include "orchestration/host_port.h"

namespace tandem::orchestration {
namespace {

struct ProbeTarget {
  std::string host;
  int port = 80;
  std::string path;
};

// `url` with any user information (a password, perhaps) replaced by "***".
std::string Redacted(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const size_t authority_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const size_t authority_end = url.find_first_of("/?#", authority_start);
  const size_t at = url.rfind('@', authority_end == std::string::npos ? url.size() : authority_end);
  if (at == std::string::npos || at < authority_start) {
    return url;
  }
  return url.substr(0, authority_start) + "***" + url.substr(at);
}

engine::Result<ProbeTarget> ParseProbeUrl(const std::string& url) {
  const auto refuse = [&url](const std::string& why) {
    return engine::InvalidArgument("probe URL '" + Redacted(url) + "' " + why +
                                   "; write it as http://host[:port][/path]");
  };
  constexpr std::string_view kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) {
    return refuse(url.compare(0, 8, "https://") == 0 ? "uses https, which probes do not support"
                                                     : "does not start with http://");
  }
  const std::string rest = url.substr(kScheme.size());
  const size_t path_start = rest.find_first_of("/?");
  const std::string authority = rest.substr(0, path_start);
  ProbeTarget target;
  target.path = path_start == std::string::npos ? "/" : rest.substr(path_start);
  if (!target.path.empty() && target.path.front() == '?') {
    target.path.insert(0, "/");
  }
  if (authority.find('@') != std::string::npos) {
    return refuse("contains user information");
  }
  auto parsed = ParseHostPort(authority, static_cast<uint16_t>(target.port));
  if (!parsed.ok()) return refuse(parsed.status().message());
  target.host = parsed->host;
  target.port = parsed->port;
  return target;
}

// Why an attempt got no answer, in words.
std::string NoAnswerReason(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "could not connect";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "no reply (read failed or timed out)";
    case httplib::Error::Write:
      return "could not send the request";
    default:
      return "request failed: " + httplib::to_string(error);
  }
}

}  // namespace

ProbeGate::ProbeGate(std::string url, std::chrono::milliseconds interval,
                     std::chrono::milliseconds timeout)
    : url_(std::move(url)), interval_(interval), timeout_(timeout) {}

ProbeGate::~ProbeGate() { Stop(); }

engine::Status ProbeGate::Start() {
  auto target = ParseProbeUrl(url_);
  if (!target.ok()) {
    return target.status();
  }
  if (interval_ <= std::chrono::milliseconds(0) || timeout_ <= std::chrono::milliseconds(0)) {
    return engine::InvalidArgument("probe " + url_ + ": interval and timeout must be positive");
  }
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    if (started_ || stopping_) {
      return engine::FailedPrecondition("probe " + url_ + " was already started" +
                                        (stopping_ ? " and stopped" : ""));
    }
    started_ = true;
  }
  thread_ = std::thread(
      [this, target = std::move(*target)] { Run(target.host, target.port, target.path); });
  return engine::Status::Ok();
}

void ProbeGate::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void ProbeGate::Run(std::string host, int port, std::string path) {
  httplib::Client client(host, port);
  client.set_keep_alive(false);
  client.set_connection_timeout(timeout_);
  client.set_read_timeout(timeout_);
  client.set_write_timeout(timeout_);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto attempt_start = std::chrono::steady_clock::now();
    lock.unlock();
    const httplib::Result result = client.Get(path);
    if (result) {
      Record(result->status, "");
    } else {
      Record(std::nullopt, NoAnswerReason(result.error()));
    }
    lock.lock();
    cv_.wait_until(lock, attempt_start + interval_, [this] { return stopping_; });
  }
}

void ProbeGate::Record(std::optional<int> status, const std::string& error) {
  std::lock_guard lock(mu_);
  ++attempts_;
  const bool success = status && *status >= 200 && *status <= 299;
  consecutive_failures_ = success ? 0 : consecutive_failures_ + 1;
  consecutive_unanswered_ = status ? 0 : consecutive_unanswered_ + 1;
  if (status) {
    last_answer_status_ = status;
  } else {
    last_error_ = error;
  }
}

GateReading ProbeGate::Evaluate(std::chrono::steady_clock::time_point /*now*/) {
  std::lock_guard lock(mu_);
  GateReading reading;
  reading.name = name();
  reading.unit = "failures";
  reading.samples = attempts_;
  reading.min_samples = 1;
  reading.value = static_cast<double>(consecutive_failures_);
  const bool latest_unanswered = consecutive_unanswered_ > 0;
  reading.threshold = latest_unanswered ? 1 : 0;

  std::string last_answer =
      last_answer_status_ ? "last answer " + std::to_string(*last_answer_status_) : "no answer yet";
  if (latest_unanswered) {
    reading.detail = std::to_string(consecutive_unanswered_) + " attempt(s) in a row unanswered (" +
                     last_error_ + "); " + last_answer;
  } else {
    reading.detail = last_answer;
  }
  reading.detail += "; " + std::to_string(attempts_) + " attempt(s), one every " +
                    std::to_string(interval_.count()) + " ms";

  if (attempts_ == 0) {
    reading.verdict = GateVerdict::kInsufficient;
    reading.detail = started_ ? "no probe attempt has completed yet" : "the probe is not running";
  } else if (reading.value > reading.threshold) {
    reading.verdict = GateVerdict::kFailing;
  } else if (!last_answer_status_) {
    reading.verdict = GateVerdict::kInsufficient;
  } else {
    reading.verdict = GateVerdict::kPassing;
  }
  return reading;
}

}  // namespace tandem::orchestration
