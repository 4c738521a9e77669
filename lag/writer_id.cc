#include "lag/writer_id.h"

#include <random>

namespace tandem::lag {

engine::HeartbeatWriterId NewWriterId() {
  std::random_device device;
  std::uniform_int_distribution<int64_t> distribution(1, INT64_MAX);
  return distribution(device);
}

}  // namespace tandem::lag
