// File: engine/bounded_queue.h
//
// BoundedQueue<T>: a blocking first-in-first-out queue between threads that takes ownership of
// its items, bounded by an item count and/or a byte budget, with a timeout on every wait and
// Close() as the stop path. The change pipeline moves decoded events from its reader thread to its
// scheduler through one (engine/change_pipeline.h).
//
//   Push(item, timeout)  waits while the queue is full; kTimeout when it stayed full, kCancelled
//                        once closed (a failed push leaves the item with the caller).
//   Pop(timeout)         waits while the queue is empty; kTimeout when it stayed empty,
//                        kCancelled once closed *and* drained (items pushed before Close() are
//                        still delivered).
//   Close()              wakes every waiter; later pushes fail; idempotent.
//
// "Full" means: the item count would exceed max_items, or the bytes would exceed max_bytes. An item
// larger than max_bytes on its own is admitted when the queue is empty, so one oversized item
// cannot block a stream for ever (the bound is then max(max_bytes, largest item)).
//
// Thread safety: safe for concurrent use by any number of producers and consumers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "engine/status.h"

namespace tandem::engine {

template <typename T>
class BoundedQueue {
 public:
  // Returns the bytes an item counts against max_bytes.
  using SizeFunction = std::function<size_t(const T&)>;

  struct Limits {
    size_t max_items = 1024;                                // 0 = no item bound
    size_t max_bytes = std::numeric_limits<size_t>::max();  // byte budget (with a SizeFunction)
  };

  // REQUIRES: limits.max_items > 0 or limits.max_bytes is finite with a size function, so the
  // queue is bounded. Without a size function every item counts 0 bytes.
  explicit BoundedQueue(Limits limits, SizeFunction size = nullptr)
      : limits_(limits), size_(std::move(size)) {}

  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Moves `item` into the queue, waiting at most `timeout` for room. Errors: kTimeout (the queue
  // stayed full; `item` is untouched and may be pushed again), kCancelled (closed).
  Status Push(T& item, std::chrono::milliseconds timeout) {
    const size_t bytes = size_ ? size_(item) : 0;
    std::unique_lock lock(mu_);
    bool room = not_full_.wait_for(lock, timeout, [&] { return closed_ || HasRoom(bytes); });
    if (closed_) {
      return Cancelled("queue closed");
    }
    if (!room) {
      return Timeout("queue stayed full for " + std::to_string(timeout.count()) + " ms");
    }
    items_.push_back(Entry{std::move(item), bytes});
    bytes_ += bytes;
    not_empty_.notify_one();
    return Status::Ok();
  }
  // As above, for a temporary.
  Status Push(T&& item, std::chrono::milliseconds timeout) { return Push(item, timeout); }

  // The oldest item, waiting at most `timeout` for one. Errors: kTimeout (stayed empty),
  // kCancelled (closed and drained).
  Result<T> Pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) {
      if (closed_) {
        return Cancelled("queue closed");
      }
      return Timeout("queue stayed empty for " + std::to_string(timeout.count()) + " ms");
    }
    Entry entry = std::move(items_.front());
    items_.pop_front();
    bytes_ -= entry.bytes;
    not_full_.notify_all();
    return std::move(entry.item);
  }

  // The oldest item if there is one, without waiting.
  std::optional<T> TryPop() {
    std::lock_guard lock(mu_);
    if (items_.empty()) {
      return std::nullopt;
    }
    Entry entry = std::move(items_.front());
    items_.pop_front();
    bytes_ -= entry.bytes;
    not_full_.notify_all();
    return std::optional<T>(std::move(entry.item));
  }

  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  bool empty() const { return size() == 0; }

 private:
  struct Entry {
    T item;
    size_t bytes;
  };

  // REQUIRES: mu_ held.
  bool HasRoom(size_t bytes) const {
    if (items_.empty()) {
      return true;
    }
    if (limits_.max_items != 0 && items_.size() >= limits_.max_items) {
      return false;
    }
    return bytes <= limits_.max_bytes && bytes_ <= limits_.max_bytes - bytes;
  }

  // Constant after construction.
  const Limits limits_;
  const SizeFunction size_;

  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  // Guarded by mu_.
  std::deque<Entry> items_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace tandem::engine
