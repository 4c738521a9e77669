#include "tests/harness/http_load.h"

#include <httplib.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "tests/harness/wait.h"

namespace tandem::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Longest single sleep while pacing, so Stop() is noticed promptly.
constexpr std::chrono::milliseconds kMaxPacingSleep{50};

std::map<std::string, int64_t> Subtract(const std::map<std::string, int64_t>& later,
                                        const std::map<std::string, int64_t>& earlier) {
  std::map<std::string, int64_t> result = later;
  for (const auto& [name, count] : earlier) {
    result[name] -= count;
  }
  return result;
}

}  // namespace

HttpLoadCounts HttpLoadCounts::operator-(const HttpLoadCounts& earlier) const {
  HttpLoadCounts d;
  d.requests = requests - earlier.requests;
  d.responses = responses - earlier.responses;
  d.status_1xx = status_1xx - earlier.status_1xx;
  d.status_2xx = status_2xx - earlier.status_2xx;
  d.status_3xx = status_3xx - earlier.status_3xx;
  d.status_4xx = status_4xx - earlier.status_4xx;
  d.status_5xx = status_5xx - earlier.status_5xx;
  d.errors = errors - earlier.errors;
  d.by_backend = Subtract(by_backend, earlier.by_backend);
  d.by_backend_5xx = Subtract(by_backend_5xx, earlier.by_backend_5xx);
  return d;
}

int64_t HttpLoadCounts::ResponsesFrom(const std::vector<std::string>& backends) const {
  int64_t total = 0;
  for (const std::string& backend : backends) {
    auto it = by_backend.find(backend);
    if (it != by_backend.end()) {
      total += it->second;
    }
  }
  return total;
}

double HttpLoadCounts::PercentFrom(const std::vector<std::string>& backends) const {
  if (responses <= 0) {
    return 0;
  }
  return 100.0 * static_cast<double>(ResponsesFrom(backends)) / static_cast<double>(responses);
}

std::string HttpLoadCounts::ToString() const {
  std::ostringstream out;
  out << "requests=" << requests << " responses=" << responses << " 2xx=" << status_2xx
      << " 3xx=" << status_3xx << " 4xx=" << status_4xx << " 5xx=" << status_5xx
      << " errors=" << errors;
  for (const auto& [name, count] : by_backend) {
    out << " " << (name.empty() ? "(unattributed)" : name) << "=" << count;
    auto failed = by_backend_5xx.find(name);
    if (failed != by_backend_5xx.end() && failed->second != 0) {
      out << "(5xx=" << failed->second << ")";
    }
  }
  return out.str();
}

HttpLoad::HttpLoad(HttpLoadOptions options) : options_(std::move(options)) {}

HttpLoad::~HttpLoad() { Stop(); }

void HttpLoad::Start() {
  if (!workers_.empty()) {
    throw std::logic_error("HttpLoad: already running");
  }
  if (options_.port == 0) {
    throw std::logic_error("HttpLoad: HttpLoadOptions::port is 0; set the frontend's port");
  }
  stop_.store(false);
  const int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) {
    workers_.emplace_back([this, i] { Worker(i); });
  }
}

void HttpLoad::Stop() {
  stop_.store(true);
  for (std::thread& worker : workers_) {
    worker.join();
  }
  workers_.clear();
}

HttpLoadCounts HttpLoad::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

bool HttpLoad::WaitForResponses(int64_t responses, std::chrono::milliseconds timeout) const {
  return PollUntil(timeout, [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_.responses >= responses;
  });
}

void HttpLoad::Record(int status, const std::string& backend) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.requests;
  ++counts_.responses;
  switch (status / 100) {
    case 1:
      ++counts_.status_1xx;
      break;
    case 2:
      ++counts_.status_2xx;
      break;
    case 3:
      ++counts_.status_3xx;
      break;
    case 4:
      ++counts_.status_4xx;
      break;
    default:
      ++counts_.status_5xx;
      ++counts_.by_backend_5xx[backend];
      break;
  }
  ++counts_.by_backend[backend];
}

void HttpLoad::RecordError() {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.requests;
  ++counts_.errors;
}

void HttpLoad::Worker(int index) {
  httplib::Client client(options_.host, options_.port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(options_.timeout);
  client.set_read_timeout(options_.timeout);
  client.set_write_timeout(options_.timeout);

  const int threads = std::max(1, options_.threads);
  const bool paced = options_.requests_per_second > 0;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(paced ? threads / options_.requests_per_second : 0));
  // Stagger the workers across one interval so the total rate is smooth.
  Clock::time_point next = Clock::now() + interval * index / threads;
  while (!stop_.load()) {
    if (paced) {
      const auto now = Clock::now();
      if (now < next) {
        std::this_thread::sleep_for(std::min<Clock::duration>(next - now, kMaxPacingSleep));
        continue;
      }
    }
    httplib::Result result = client.Get(options_.path.c_str());
    if (!result) {
      RecordError();
    } else {
      std::string backend = result->get_header_value("X-Backend");
      if (backend.empty() && result->status / 100 == 2) {
        backend = result->body;
        while (!backend.empty() && (backend.back() == '\n' || backend.back() == '\r')) {
          backend.pop_back();
        }
      }
      Record(result->status, backend);
    }
    if (paced) {
      next += interval;
      const auto now = Clock::now();
      if (now - next > interval) {
        next = now;  // fell behind: skip ahead rather than burst
      }
    }
  }
}

}  // namespace tandem::testing
