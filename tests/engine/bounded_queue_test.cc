#include "engine/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace tandem::engine {
namespace {

using std::chrono::milliseconds;

TEST(BoundedQueue, DeliversInOrder) {
  BoundedQueue<int> queue({.max_items = 10});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(queue.Push(i, milliseconds(0)).ok());
  }
  for (int i = 0; i < 5; ++i) {
    Result<int> item = queue.Pop(milliseconds(0));
    ASSERT_TRUE(item.ok());
    EXPECT_EQ(*item, i);
  }
}

TEST(BoundedQueue, PushTimesOutWhenFullOfItems) {
  BoundedQueue<int> queue({.max_items = 2});
  ASSERT_TRUE(queue.Push(1, milliseconds(0)).ok());
  ASSERT_TRUE(queue.Push(2, milliseconds(0)).ok());
  const auto start = std::chrono::steady_clock::now();
  Status full = queue.Push(3, milliseconds(30));
  EXPECT_EQ(full.code(), StatusCode::kTimeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(25));
  EXPECT_EQ(queue.size(), 2u);
}

TEST(BoundedQueue, ByteBudgetBoundsAndAFailedPushKeepsTheItem) {
  BoundedQueue<std::string> queue({.max_items = 0, .max_bytes = 10},
                                  [](const std::string& s) { return s.size(); });
  ASSERT_TRUE(queue.Push(std::string(6, 'a'), milliseconds(0)).ok());
  std::string item(6, 'b');
  EXPECT_EQ(queue.Push(item, milliseconds(0)).code(), StatusCode::kTimeout);
  EXPECT_EQ(item, std::string(6, 'b'));  // not moved from: may be pushed again
  EXPECT_EQ(queue.bytes(), 6u);
  ASSERT_TRUE(queue.Pop(milliseconds(0)).ok());
  EXPECT_TRUE(queue.Push(item, milliseconds(0)).ok());
}

TEST(BoundedQueue, OversizedItemIsAdmittedIntoAnEmptyQueueOnly) {
  BoundedQueue<std::string> queue({.max_items = 0, .max_bytes = 4},
                                  [](const std::string& s) { return s.size(); });
  EXPECT_TRUE(queue.Push(std::string(100, 'x'), milliseconds(0)).ok());
  EXPECT_EQ(queue.Push(std::string(1, 'y'), milliseconds(0)).code(), StatusCode::kTimeout);
}

TEST(BoundedQueue, PopTimesOutWhenEmpty) {
  BoundedQueue<int> queue({.max_items = 1});
  EXPECT_EQ(queue.Pop(milliseconds(10)).status().code(), StatusCode::kTimeout);
  EXPECT_FALSE(queue.TryPop().has_value());
}

TEST(BoundedQueue, CloseWakesBlockedProducerAndConsumer) {
  BoundedQueue<int> full({.max_items = 1});
  ASSERT_TRUE(full.Push(1, milliseconds(0)).ok());
  BoundedQueue<int> empty({.max_items = 1});
  Status pushed;
  Status popped;
  std::thread producer([&] { pushed = full.Push(2, milliseconds(10'000)); });
  std::thread consumer([&] { popped = empty.Pop(milliseconds(10'000)).status(); });
  std::this_thread::sleep_for(milliseconds(20));
  const auto start = std::chrono::steady_clock::now();
  full.Close();
  empty.Close();
  producer.join();
  consumer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5'000));
  EXPECT_EQ(pushed.code(), StatusCode::kCancelled);
  EXPECT_EQ(popped.code(), StatusCode::kCancelled);
}

TEST(BoundedQueue, ItemsPushedBeforeCloseAreStillDelivered) {
  BoundedQueue<int> queue({.max_items = 4});
  ASSERT_TRUE(queue.Push(7, milliseconds(0)).ok());
  queue.Close();
  EXPECT_EQ(queue.Push(8, milliseconds(0)).code(), StatusCode::kCancelled);
  Result<int> item = queue.Pop(milliseconds(0));
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(*item, 7);
  EXPECT_EQ(queue.Pop(milliseconds(0)).status().code(), StatusCode::kCancelled);
}

TEST(BoundedQueue, ManyProducersAndConsumersLoseNothingAndStayBounded) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 2000;
  constexpr size_t kCapacity = 8;
  BoundedQueue<int> queue({.max_items = kCapacity});
  std::atomic<int64_t> sum{0};
  std::atomic<int> received{0};
  std::atomic<size_t> largest{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 1; i <= kPerProducer; ++i) {
        while (!queue.Push(p * kPerProducer + i, milliseconds(100)).ok()) {
        }
      }
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&] {
      for (;;) {
        Result<int> item = queue.Pop(milliseconds(100));
        if (!item.ok()) {
          if (item.status().code() == StatusCode::kCancelled) {
            return;
          }
          continue;
        }
        sum += *item;
        ++received;
      }
    });
  }
  std::atomic<bool> done{false};
  std::thread observer([&] {
    while (!done) {
      largest = std::max(largest.load(), queue.size());
    }
  });
  for (int p = 0; p < kProducers; ++p) {
    threads[p].join();
  }
  queue.Close();
  done = true;
  observer.join();
  for (size_t t = kProducers; t < threads.size(); ++t) {
    threads[t].join();
  }
  const int64_t n = kProducers * kPerProducer;
  EXPECT_EQ(received.load(), n);
  EXPECT_EQ(sum.load(), n * (n + 1) / 2);
  EXPECT_LE(largest.load(), kCapacity);
}

}  // namespace
}  // namespace tandem::engine
