// File: connectors/redis/rdb/crc64.h
//
// Redis's CRC-64 (the "Jones" polynomial 0xad93d23594c935a9, reflected, initial value 0, no final
// xor; check value of "123456789" = 0xe9c6d914c4b8d9ca), which trails an RDB file and every
// DUMP/RESTORE payload. Table-driven.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::connectors::redis {

// Continues a CRC over `size` more bytes: RedisCrc64(RedisCrc64(0, a), b) == CRC of a then b.
uint64_t RedisCrc64(uint64_t crc, const void* data, size_t size);

}  // namespace tandem::connectors::redis
