// File: tests/tools/counter_load.h
//
// CounterLoad: the write load of the `tandem sync` kill -9 tests (MariaDB and PostgreSQL). On a
// source with tables
//   k.counters (id PRIMARY KEY, n NOT NULL)   ids 1..counters, n starting at 0
//   k.big      (id PRIMARY KEY, grp NOT NULL, pad NOT NULL)
// it commits multi-statement transactions in one round trip each: a few single-counter
// increments (70 %), a range of 200-1,000 counters plus one of them again (27 %), or every
// counter plus 1,000 new k.big rows (3 %); each also inserts two k.big rows and deletes one. It
// keeps an exact tally of the increments it committed, so a test can tell a lost or doubled change
// on the target.
//
// Thread safety: runs its own thread; tally() only after Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace tandem::testing {

struct CounterLoadOptions {
  int counters = 2000;
  int64_t first_big_id = 1;  // ids the load inserts into k.big start here
  // Runs one ';'-separated transaction; throws on error. Called from the load's thread only.
  std::function<void(const std::string& sql)> execute;
  // The statement inserting 1,000 rows into k.big with ids first .. first + 999 (the dialects
  // differ: MariaDB's seq tables, PostgreSQL's generate_series).
  std::function<std::string(int64_t first)> insert_thousand_big_rows;
};

class CounterLoad {
 public:
  explicit CounterLoad(CounterLoadOptions options);
  ~CounterLoad();
  CounterLoad(const CounterLoad&) = delete;
  CounterLoad& operator=(const CounterLoad&) = delete;

  // Stops and joins; returns the load's error ("" when none).
  std::string Stop();
  // REQUIRES: stopped. Index = counter id.
  const std::vector<int64_t>& tally() const { return tally_; }
  int64_t transactions() const { return transactions_.load(); }
  int64_t increments() const { return increments_.load(); }

 private:
  void Run();

  CounterLoadOptions options_;
  std::vector<int64_t> tally_;  // load thread while it runs; readers after Stop()
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> increments_{0};
  std::string error_;
  std::thread thread_;
};

// The counters (ids 1 .. tally.size() - 1) on which `source` or `target` differ from what a load
// committed (`tally`, index = id), each of the first ten also added as a test failure naming the
// three values. 0 = nothing lost or applied twice.
int CountersDifferingFromTally(const std::vector<int64_t>& source,
                               const std::vector<int64_t>& target,
                               const std::vector<int64_t>& tally);

}  // namespace tandem::testing
