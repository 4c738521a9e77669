#include "tests/tools/counter_load.h"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <random>
#include <utility>

namespace tandem::testing {

CounterLoad::CounterLoad(CounterLoadOptions options)
    : options_(std::move(options)), tally_(options_.counters + 1, 0) {
  thread_ = std::thread([this] { Run(); });
}

CounterLoad::~CounterLoad() { Stop(); }

std::string CounterLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  return error_;
}

void CounterLoad::Run() {
  try {
    const int64_t counters = options_.counters;
    std::mt19937_64 random(2024);
    auto pick = [&](int64_t low, int64_t high) {
      return std::uniform_int_distribution<int64_t>(low, high)(random);
    };
    int64_t next_big = options_.first_big_id;
    while (!stop_) {
      std::vector<int64_t> pending(counters + 1, 0);
      std::string sql = "BEGIN";
      const int64_t kind = pick(0, 99);
      if (kind < 70) {  // a few single-counter statements
        for (int64_t i = pick(1, 5); i > 0; --i) {
          const int64_t id = pick(1, counters);
          sql += "; UPDATE k.counters SET n = n + 1 WHERE id = " + std::to_string(id);
          ++pending[id];
        }
      } else if (kind < 97) {  // a range of hundreds of counters in one statement
        const int64_t first = pick(1, counters - 1000);
        const int64_t last = first + pick(200, 999);
        sql += "; UPDATE k.counters SET n = n + 1 WHERE id BETWEEN " + std::to_string(first) +
               " AND " + std::to_string(last);
        for (int64_t id = first; id <= last; ++id) {
          ++pending[id];
        }
        const int64_t again = pick(first, last);  // the same row twice in one transaction
        sql += "; UPDATE k.counters SET n = n + 1 WHERE id = " + std::to_string(again);
        ++pending[again];
      } else {  // every counter, plus 1,000 new rows
        sql += "; UPDATE k.counters SET n = n + 1; " + options_.insert_thousand_big_rows(next_big);
        next_big += 1000;
        for (int64_t id = 1; id <= counters; ++id) {
          ++pending[id];
        }
      }
      const int64_t first_new = next_big;
      next_big += 2;
      sql += "; INSERT INTO k.big (id, grp, pad) VALUES (" + std::to_string(first_new) +
             ", 1, 'new'), (" + std::to_string(first_new + 1) + ", 2, 'new')";
      sql += "; DELETE FROM k.big WHERE id = " + std::to_string(pick(1, next_big - 1));
      sql += "; COMMIT";
      // One round trip; an error rolls back (the connection is the load's alone, so a failure
      // before COMMIT leaves nothing committed, and COMMIT itself does not fail on a local server
      // that stays up: any error fails the test).
      options_.execute(sql);
      int64_t added = 0;
      for (int64_t id = 1; id <= counters; ++id) {
        tally_[id] += pending[id];
        added += pending[id];
      }
      increments_ += added;
      ++transactions_;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // leave the 2 cores some air
    }
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

int CountersDifferingFromTally(const std::vector<int64_t>& source,
                               const std::vector<int64_t>& target,
                               const std::vector<int64_t>& tally) {
  int differing = 0;
  for (size_t id = 1; id < tally.size(); ++id) {
    const int64_t on_source = id < source.size() ? source[id] : 0;
    const int64_t on_target = id < target.size() ? target[id] : 0;
    if (on_source != tally[id] || on_target != tally[id]) {
      if (++differing <= 10) {
        ADD_FAILURE() << "counter " << id << ": load committed " << tally[id] << ", source has "
                      << on_source << ", target has " << on_target;
      }
    }
  }
  return differing;
}

}  // namespace tandem::testing
