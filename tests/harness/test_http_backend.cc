#include "tests/harness/test_http_backend.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tests/harness/free_port.h"
#include "tests/harness/server_process.h"
#include "tests/harness/wait.h"

namespace tandem::testing {
namespace {

constexpr int kWorkerThreads = 64;
constexpr size_t kKeepAliveMaxCount = 1000;
constexpr time_t kKeepAliveTimeoutSeconds = 2;
constexpr std::chrono::seconds kStartTimeout{10};

}  // namespace

TestHttpBackend::TestHttpBackend(std::string name) : name_(std::move(name)) {}

TestHttpBackend::~TestHttpBackend() { Stop(); }

std::string TestHttpBackend::address() const { return "127.0.0.1:" + std::to_string(port_); }

void TestHttpBackend::SetFailureRatio(double ratio) {
  failure_ratio_.store(std::clamp(ratio, 0.0, 1.0));
  failure_sequence_.store(0);
}

void TestHttpBackend::SetExtraDelay(std::chrono::milliseconds delay) {
  extra_delay_ms_.store(std::max<int64_t>(0, delay.count()));
}

bool TestHttpBackend::NextRequestFails() {
  const double ratio = failure_ratio_.load();
  if (ratio <= 0) {
    return false;
  }
  const auto n = static_cast<double>(failure_sequence_.fetch_add(1));
  return std::floor((n + 1) * ratio) > std::floor(n * ratio);
}

void TestHttpBackend::Start() {
  if (server_ != nullptr) {
    throw std::logic_error("TestHttpBackend " + name_ + " is already started");
  }
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server->set_keep_alive_max_count(kKeepAliveMaxCount);
  server->set_keep_alive_timeout(kKeepAliveTimeoutSeconds);
  // Headers and body go out in separate writes; Nagle would hold the body for the peer's delayed
  // ACK (~40 ms per request).
  server->set_tcp_nodelay(true);
  server->Get(".*", [this](const httplib::Request&, httplib::Response& response) {
    const int64_t delay_ms = extra_delay_ms_.load();
    if (delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
    const bool fail = NextRequestFails();
    response.status = fail ? 503 : 200;
    response.set_header("X-Backend", name_);
    response.set_content(name_, "text/plain");
    requests_served_.fetch_add(1);
    if (fail) {
      failures_served_.fetch_add(1);
    }
  });
  uint16_t port = 0;
  for (int attempt = 1; port == 0; ++attempt) {
    const uint16_t candidate = PickFreePort();
    if (server->bind_to_port("127.0.0.1", candidate)) {
      port = candidate;
    } else if (attempt == kPortAttempts) {
      throw std::runtime_error("TestHttpBackend " + name_ +
                               ": could not bind a port on 127.0.0.1 "
                               "after " +
                               std::to_string(kPortAttempts) + " attempts");
    }
  }
  port_ = port;
  server_ = std::move(server);
  httplib::Server* raw = server_.get();
  listener_returned_.store(false);
  listener_ = std::thread([this, raw] {
    raw->listen_after_bind();
    listener_returned_.store(true);
  });
  if (!PollUntil(kStartTimeout, [raw] { return raw->is_running(); })) {
    Stop();
    throw std::runtime_error("TestHttpBackend " + name_ + " on 127.0.0.1:" + std::to_string(port) +
                             " was not running after " + std::to_string(kStartTimeout.count()) +
                             " s");
  }
}

void TestHttpBackend::Stop() {
  if (server_ == nullptr) {
    return;
  }
  // httplib's stop() does nothing before listen_after_bind() marks the server running (and must
  // not be called twice), so wait for that first; it returns within the keep-alive timeout once
  // the listening socket is closed.
  httplib::Server* raw = server_.get();
  PollUntil(kStartTimeout, [&] { return raw->is_running() || listener_returned_.load(); });
  if (raw->is_running()) {
    raw->stop();
  }
  if (listener_.joinable()) {
    listener_.join();
  }
  server_.reset();
}

}  // namespace tandem::testing
