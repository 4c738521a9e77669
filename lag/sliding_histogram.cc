#include "lag/sliding_histogram.h"

#include <cassert>

namespace tandem::lag {

SlidingHistogram::SlidingHistogram(std::chrono::nanoseconds window, int slots)
    : window_(window), slot_width_(window / slots), slots_(static_cast<size_t>(slots)) {
  assert(slots >= 1 && slot_width_.count() > 0);  // documented precondition
}

void SlidingHistogram::Record(LagTime now, std::chrono::microseconds value) {
  const int64_t id = SlotId(now);
  Slot& slot = slots_[static_cast<size_t>(id) % slots_.size()];
  if (slot.id > id) {
    return;  // older than anything the ring still holds
  }
  if (slot.id != id) {
    slot.histogram.Reset();
    slot.id = id;
  }
  slot.histogram.Record(value);
}

LatencyHistogram SlidingHistogram::Window(LagTime now) const {
  const int64_t newest = SlotId(now);
  const int64_t oldest = newest - static_cast<int64_t>(slots_.size()) + 1;
  LatencyHistogram merged;
  for (const Slot& slot : slots_) {
    if (slot.id >= oldest && slot.id <= newest) {
      merged.Merge(slot.histogram);
    }
  }
  return merged;
}

}  // namespace tandem::lag
