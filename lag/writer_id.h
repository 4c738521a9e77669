// File: lag/writer_id.h
//
// A fresh heartbeat writer id per measuring process (engine/heartbeat.h): random, positive and
// 63 bits wide, so it fits a signed BIGINT and several tandem processes measuring the same pair
// never read each other's heartbeats (a collision needs about 3 billion processes at once).
//
// Thread safety: safe for concurrent use.
#pragma once

#include "engine/heartbeat.h"

namespace tandem::lag {

// From std::random_device; never 0.
engine::HeartbeatWriterId NewWriterId();

}  // namespace tandem::lag
