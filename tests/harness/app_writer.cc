#include "tests/harness/app_writer.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

namespace tandem::testing {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

AppWriter::AppWriter(AppClient client, uint16_t port, int first_id, int writes_per_second,
                     milliseconds run_for)
    : client_(std::move(client)),
      port_(port),
      interval_(std::chrono::microseconds(1'000'000 / std::max(1, writes_per_second))),
      run_for_(run_for),
      next_id_(first_id) {
  thread_ = std::thread([this] { Run(); });
}

AppWriter::~AppWriter() { Stop(); }

void AppWriter::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::set<int> AppWriter::acknowledged_ids() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_;
}

std::set<int> AppWriter::uncertain_ids() const {
  std::lock_guard<std::mutex> lock(mu_);
  return uncertain_;
}

void AppWriter::ResetGap() {
  std::lock_guard<std::mutex> lock(mu_);
  longest_gap_ = milliseconds(0);
}

milliseconds AppWriter::longest_gap() const {
  std::lock_guard<std::mutex> lock(mu_);
  return longest_gap_;
}

void AppWriter::Run() {
  std::function<void(int)> insert;
  std::optional<steady_clock::time_point> last_ack;
  const auto deadline = steady_clock::now() + run_for_;
  while (!stop_.load() && steady_clock::now() < deadline) {
    const auto started = steady_clock::now();
    if (!insert) {
      try {
        insert = client_.connect(port_);
      } catch (const std::exception&) {
        std::this_thread::sleep_for(milliseconds(5));
        continue;
      }
    }
    const int id = next_id_++;
    try {
      insert(id);
      const auto now = steady_clock::now();
      std::lock_guard<std::mutex> lock(mu_);
      acked_.insert(id);
      if (last_ack) {
        longest_gap_ =
            std::max(longest_gap_, std::chrono::duration_cast<milliseconds>(now - *last_ack));
      }
      last_ack = now;
      acknowledged_.fetch_add(1);
    } catch (const std::exception& error) {
      // Refused (read-only) or the connection went away: the outcome of an insert whose
      // connection broke is unknown; a refused one is not written.
      if (!client_.refused(error.what())) {
        std::lock_guard<std::mutex> lock(mu_);
        uncertain_.insert(id);
      }
      insert = nullptr;
    }
    const auto spent = steady_clock::now() - started;
    if (spent < interval_) std::this_thread::sleep_for(interval_ - spent);
  }
}

}  // namespace tandem::testing
