#include "connectors/mysql/binlog/compressed_payload.h"

#include <zlib.h>

#include "connectors/mysql/binlog/byte_reader.h"

namespace tandem::connectors::mysql::binlog {

namespace {
// Refuse announced sizes beyond what a binlog event can hold (max_allowed_packet is 1 GiB).
constexpr uint64_t kMaxUncompressed = 1ull << 30;
}  // namespace

engine::Result<std::string> DecompressPayload(std::string_view payload, std::string_view what) {
  ByteReader reader(payload, what);
  TANDEM_ASSIGN_OR_RETURN(uint8_t header, reader.U8("compression header"));
  const int algorithm = (header >> 4) & 0x07;
  const size_t length_bytes = header & 0x07;
  if ((header & 0x80) == 0) {
    return reader.Error("compression header without its marker bit");
  }
  if (algorithm != 0) {
    return engine::Unsupported(std::string(what) + " uses compression algorithm " +
                               std::to_string(algorithm) + "; only zlib (0) is known");
  }
  if (length_bytes < 1 || length_bytes > 4) {
    return reader.Error("compressed length field of " + std::to_string(length_bytes) +
                        " bytes (1 to 4 expected)");
  }
  TANDEM_ASSIGN_OR_RETURN(uint64_t size, reader.UIntBE(length_bytes, "uncompressed length"));
  if (size > kMaxUncompressed) {
    return reader.Error("uncompressed length " + std::to_string(size) + " is implausible");
  }
  const std::string_view compressed = reader.Rest();
  std::string out(static_cast<size_t>(size), '\0');
  uLongf out_size = static_cast<uLongf>(size);
  const int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &out_size,
                            reinterpret_cast<const Bytef*>(compressed.data()),
                            static_cast<uLong>(compressed.size()));
  if (rc != Z_OK || out_size != size) {
    return engine::Corruption(std::string(what) + ": compressed payload does not inflate to the " +
                              std::to_string(size) + " bytes it announces (zlib error " +
                              std::to_string(rc) + ")");
  }
  return out;
}

}  // namespace tandem::connectors::mysql::binlog
