// File: connectors/redis/rdb/rdb_encodings.cc
#include "connectors/redis/rdb/rdb_encodings.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>

namespace tandem::connectors::redis::rdb_internal {
namespace {

using engine::Corruption;
using engine::Status;

// A read-only cursor over a blob: every read checks the bounds first.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }
  bool Has(size_t count) const { return count <= remaining(); }
  uint8_t Peek() const { return static_cast<uint8_t>(bytes_[offset_]); }
  const unsigned char* data() const {
    return reinterpret_cast<const unsigned char*>(bytes_.data()) + offset_;
  }
  void Skip(size_t count) { offset_ += count; }
  void Seek(size_t offset) { offset_ = offset; }
  std::string_view Take(size_t count) {
    std::string_view taken = bytes_.substr(offset_, count);
    offset_ += count;
    return taken;
  }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
};

uint64_t LoadLittleEndian(const unsigned char* bytes, int size) {
  uint64_t value = 0;
  for (int i = size - 1; i >= 0; --i) {
    value = (value << 8) | bytes[i];
  }
  return value;
}

// Sign-extends the low `bits` bits of `value`.
int64_t SignExtend(uint64_t value, int bits) {
  if (bits == 64) {
    return static_cast<int64_t>(value);
  }
  const uint64_t sign = uint64_t{1} << (bits - 1);
  const uint64_t masked = value & ((uint64_t{1} << bits) - 1);
  return static_cast<int64_t>(masked ^ sign) - static_cast<int64_t>(sign);
}

// listpack.c lpEncodeBacklen: the bytes that must follow an entry of `size` bytes.
size_t EncodeBacklen(uint64_t size, unsigned char out[5]) {
  if (size <= 127) {
    out[0] = static_cast<unsigned char>(size);
    return 1;
  }
  size_t count = size < 16383 ? 2 : size < 2097151 ? 3 : size < 268435455 ? 4 : 5;
  for (size_t i = 0; i < count; ++i) {
    const size_t shift = 7 * (count - 1 - i);
    unsigned char byte = static_cast<unsigned char>((size >> shift) & 127);
    if (i > 0) {
      byte |= 128;
    }
    out[i] = byte;
  }
  return count;
}

std::string EntryError(std::string_view structure, size_t index, size_t offset,
                       std::string_view problem) {
  return std::string(structure) + " entry " + std::to_string(index) + " at byte " +
         std::to_string(offset) + ": " + std::string(problem);
}

}  // namespace

void RdbEntryList::AddInteger(int64_t value) {
  char text[24];
  const auto result = std::to_chars(text, text + sizeof(text), value);
  Add(std::string_view(text, static_cast<size_t>(result.ptr - text)));
}

void RdbEntryList::RemoveFront(size_t count) {
  if (count == 0) {
    return;
  }
  if (count == ends_.size()) {
    Clear();
    return;
  }
  const size_t removed_bytes = ends_[count - 1];
  bytes_.erase(0, removed_bytes);
  ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(count));
  for (size_t& end : ends_) {
    end -= removed_bytes;
  }
}

Status LzfDecompress(std::string_view compressed, size_t expected_size, std::string* out) {
  out->resize(expected_size);
  auto* const output = reinterpret_cast<unsigned char*>(out->data());
  const auto* input = reinterpret_cast<const unsigned char*>(compressed.data());
  const auto* const input_end = input + compressed.size();
  size_t produced = 0;
  while (input < input_end) {
    unsigned int control = *input++;
    if (control < 32) {
      const size_t run = control + 1;
      if (run > expected_size - produced) {
        return Corruption("LZF data decompresses to more than the announced " +
                          std::to_string(expected_size) + " bytes");
      }
      if (run > static_cast<size_t>(input_end - input)) {
        return Corruption("LZF data ends inside a literal run");
      }
      std::memcpy(output + produced, input, run);
      input += run;
      produced += run;
      continue;
    }
    size_t length = control >> 5;
    size_t distance = static_cast<size_t>(control & 0x1f) << 8;
    if (input >= input_end) {
      return Corruption("LZF data ends inside a back reference");
    }
    if (length == 7) {
      length += *input++;
      if (input >= input_end) {
        return Corruption("LZF data ends inside a back reference");
      }
    }
    distance += *input++;
    length += 2;
    if (length > expected_size - produced) {
      return Corruption("LZF data decompresses to more than the announced " +
                        std::to_string(expected_size) + " bytes");
    }
    if (distance + 1 > produced) {
      return Corruption("LZF back reference points before the start of the output");
    }
    size_t from = produced - distance - 1;
    for (size_t i = 0; i < length; ++i) {  // may overlap the bytes being written: byte by byte
      output[produced++] = output[from++];
    }
  }
  if (produced != expected_size) {
    return Corruption("LZF data decompresses to " + std::to_string(produced) +
                      " bytes, not the announced " + std::to_string(expected_size));
  }
  return Status::Ok();
}

Status DecodeListpack(std::string_view blob, RdbEntryList* out) {
  constexpr size_t kHeaderSize = 6;
  if (blob.size() < kHeaderSize + 1) {
    return Corruption("listpack of " + std::to_string(blob.size()) +
                      " bytes is shorter than its header and end byte");
  }
  const auto* header = reinterpret_cast<const unsigned char*>(blob.data());
  const uint64_t total_bytes = LoadLittleEndian(header, 4);
  const uint64_t announced = LoadLittleEndian(header + 4, 2);
  if (total_bytes != blob.size()) {
    return Corruption("listpack header says " + std::to_string(total_bytes) +
                      " bytes but the string holds " + std::to_string(blob.size()));
  }
  if (static_cast<uint8_t>(blob.back()) != 0xFF) {
    return Corruption("listpack does not end with 0xFF");
  }
  Cursor cursor(blob.substr(0, blob.size() - 1));
  cursor.Skip(kHeaderSize);
  size_t count = 0;
  constexpr std::string_view kName = "listpack";
  while (cursor.remaining() > 0) {
    const size_t start = cursor.offset();
    const uint8_t encoding = cursor.Peek();
    size_t header_size = 1;
    uint64_t string_size = 0;
    bool is_string = false;
    int64_t integer = 0;
    if ((encoding & 0x80) == 0) {
      integer = encoding & 0x7f;
    } else if ((encoding & 0xC0) == 0x80) {
      is_string = true;
      string_size = encoding & 0x3f;
    } else if ((encoding & 0xE0) == 0xC0) {
      header_size = 2;
    } else if ((encoding & 0xF0) == 0xE0) {
      header_size = 2;
      is_string = true;
    } else if (encoding == 0xF0) {
      header_size = 5;
      is_string = true;
    } else if (encoding >= 0xF1 && encoding <= 0xF4) {
      header_size = 1;
    } else {
      return Corruption(
          EntryError(kName, count, start, "invalid encoding byte " + std::to_string(encoding)));
    }
    if (!cursor.Has(header_size)) {
      return Corruption(EntryError(kName, count, start, "header runs past the end"));
    }
    const unsigned char* bytes = cursor.data();
    uint64_t data_size = 0;
    if ((encoding & 0xE0) == 0xC0) {
      integer = SignExtend((static_cast<uint64_t>(encoding & 0x1f) << 8) | bytes[1], 13);
    } else if ((encoding & 0xF0) == 0xE0) {
      string_size = (static_cast<uint64_t>(encoding & 0x0f) << 8) | bytes[1];
    } else if (encoding == 0xF0) {
      string_size = LoadLittleEndian(bytes + 1, 4);
    } else if (encoding >= 0xF1 && encoding <= 0xF4) {
      static constexpr int kSizes[] = {2, 3, 4, 8};
      data_size = static_cast<uint64_t>(kSizes[encoding - 0xF1]);
    }
    if (is_string) {
      data_size = string_size;
    }
    cursor.Skip(header_size);
    if (!cursor.Has(data_size)) {
      return Corruption(EntryError(kName, count, start, "data runs past the end"));
    }
    if (is_string) {
      out->Add(cursor.Take(data_size));
    } else {
      if (data_size > 0) {
        integer = SignExtend(LoadLittleEndian(cursor.data(), static_cast<int>(data_size)),
                             static_cast<int>(data_size * 8));
        cursor.Skip(data_size);
      }
      out->AddInteger(integer);
    }
    unsigned char backlen[5];
    const size_t backlen_size = EncodeBacklen(header_size + data_size, backlen);
    if (!cursor.Has(backlen_size) || std::memcmp(cursor.data(), backlen, backlen_size) != 0) {
      return Corruption(EntryError(kName, count, start, "back length does not match the entry"));
    }
    cursor.Skip(backlen_size);
    ++count;
  }
  if (announced != 65535 && announced != count) {
    return Corruption("listpack header announces " + std::to_string(announced) +
                      " entries but holds " + std::to_string(count));
  }
  return Status::Ok();
}

Status DecodeZiplist(std::string_view blob, RdbEntryList* out) {
  constexpr size_t kHeaderSize = 10;
  if (blob.size() < kHeaderSize + 1) {
    return Corruption("ziplist of " + std::to_string(blob.size()) +
                      " bytes is shorter than its header and end byte");
  }
  const auto* header = reinterpret_cast<const unsigned char*>(blob.data());
  const uint64_t total_bytes = LoadLittleEndian(header, 4);
  const uint64_t tail_offset = LoadLittleEndian(header + 4, 4);
  const uint64_t announced = LoadLittleEndian(header + 8, 2);
  if (total_bytes != blob.size()) {
    return Corruption("ziplist header says " + std::to_string(total_bytes) +
                      " bytes but the string holds " + std::to_string(blob.size()));
  }
  if (static_cast<uint8_t>(blob.back()) != 0xFF) {
    return Corruption("ziplist does not end with 0xFF");
  }
  Cursor cursor(blob.substr(0, blob.size() - 1));
  cursor.Skip(kHeaderSize);
  size_t count = 0;
  size_t previous_size = 0;
  size_t last_start = kHeaderSize;
  constexpr std::string_view kName = "ziplist";
  while (cursor.remaining() > 0) {
    const size_t start = cursor.offset();
    last_start = start;
    // prevlen
    uint64_t previous_length = cursor.Peek();
    if (previous_length == 0xFE) {
      if (!cursor.Has(5)) {
        return Corruption(EntryError(kName, count, start, "previous length runs past the end"));
      }
      previous_length = LoadLittleEndian(cursor.data() + 1, 4);
      cursor.Skip(5);
    } else if (previous_length == 0xFF) {
      return Corruption(EntryError(kName, count, start, "invalid previous length byte 0xFF"));
    } else {
      cursor.Skip(1);
    }
    if (previous_length != previous_size) {
      return Corruption(EntryError(kName, count, start,
                                   "previous length " + std::to_string(previous_length) +
                                       " differs from the previous entry's size " +
                                       std::to_string(previous_size)));
    }
    if (!cursor.Has(1)) {
      return Corruption(EntryError(kName, count, start, "encoding runs past the end"));
    }
    const uint8_t encoding = cursor.Peek();
    const unsigned char* bytes = cursor.data();
    if (encoding < 0xC0) {
      size_t header_size = 1;
      uint64_t string_size = 0;
      switch (encoding >> 6) {
        case 0:
          string_size = encoding & 0x3f;
          break;
        case 1:
          header_size = 2;
          if (!cursor.Has(2)) {
            return Corruption(EntryError(kName, count, start, "encoding runs past the end"));
          }
          string_size = (static_cast<uint64_t>(encoding & 0x3f) << 8) | bytes[1];
          break;
        default:
          header_size = 5;
          if (!cursor.Has(5)) {
            return Corruption(EntryError(kName, count, start, "encoding runs past the end"));
          }
          string_size = (uint64_t{bytes[1]} << 24) | (uint64_t{bytes[2]} << 16) |
                        (uint64_t{bytes[3]} << 8) | bytes[4];
          break;
      }
      cursor.Skip(header_size);
      if (!cursor.Has(string_size)) {
        return Corruption(EntryError(kName, count, start, "string runs past the end"));
      }
      out->Add(cursor.Take(string_size));
    } else {
      int data_size = 0;
      switch (encoding) {
        case 0xC0:
          data_size = 2;
          break;
        case 0xD0:
          data_size = 4;
          break;
        case 0xE0:
          data_size = 8;
          break;
        case 0xF0:
          data_size = 3;
          break;
        case 0xFE:
          data_size = 1;
          break;
        default:
          if (encoding >= 0xF1 && encoding <= 0xFD) {
            data_size = 0;
          } else {
            return Corruption(EntryError(kName, count, start,
                                         "invalid encoding byte " + std::to_string(encoding)));
          }
      }
      cursor.Skip(1);
      if (!cursor.Has(static_cast<size_t>(data_size))) {
        return Corruption(EntryError(kName, count, start, "integer runs past the end"));
      }
      int64_t integer = 0;
      if (data_size == 0) {
        integer = (encoding & 0x0f) - 1;
      } else {
        integer = SignExtend(LoadLittleEndian(cursor.data(), data_size), data_size * 8);
        cursor.Skip(static_cast<size_t>(data_size));
      }
      out->AddInteger(integer);
    }
    previous_size = cursor.offset() - start;
    ++count;
  }
  if (tail_offset != last_start) {
    return Corruption("ziplist tail offset " + std::to_string(tail_offset) +
                      " is not the last entry's offset " + std::to_string(last_start));
  }
  if (announced != 65535 && announced != count) {
    return Corruption("ziplist header announces " + std::to_string(announced) +
                      " entries but holds " + std::to_string(count));
  }
  return Status::Ok();
}

Status DecodeIntset(std::string_view blob, RdbEntryList* out) {
  if (blob.size() < 8) {
    return Corruption("intset of " + std::to_string(blob.size()) +
                      " bytes is shorter than its 8-byte header");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(blob.data());
  const uint64_t width = LoadLittleEndian(bytes, 4);
  const uint64_t length = LoadLittleEndian(bytes + 4, 4);
  if (width != 2 && width != 4 && width != 8) {
    return Corruption("intset has invalid integer width " + std::to_string(width));
  }
  if (8 + width * length != blob.size()) {
    return Corruption("intset of " + std::to_string(length) + " " + std::to_string(width) +
                      "-byte integers does not fill its " + std::to_string(blob.size()) + " bytes");
  }
  int64_t previous = 0;
  for (uint64_t i = 0; i < length; ++i) {
    const int64_t value =
        SignExtend(LoadLittleEndian(bytes + 8 + i * width, static_cast<int>(width)),
                   static_cast<int>(width * 8));
    if (i > 0 && value <= previous) {
      return Corruption("intset integer " + std::to_string(i) + " (" + std::to_string(value) +
                        ") is not greater than the one before it");
    }
    previous = value;
    out->AddInteger(value);
  }
  return Status::Ok();
}

Status DecodeZipmap(std::string_view blob, RdbEntryList* out) {
  Cursor cursor(blob);
  if (!cursor.Has(1)) {
    return Corruption("zipmap is empty (no length byte)");
  }
  const uint8_t announced = cursor.Peek();
  cursor.Skip(1);
  size_t count = 0;
  constexpr std::string_view kName = "zipmap";
  // Reads one zipmap length; false at the end marker.
  auto read_length = [&](size_t start, uint64_t* length, bool* at_end) -> Status {
    *at_end = false;
    if (!cursor.Has(1)) {
      return Corruption(EntryError(kName, count, start, "ends without the 0xFF end byte"));
    }
    const uint8_t first = cursor.Peek();
    if (first == 0xFF) {
      *at_end = true;
      cursor.Skip(1);
      return Status::Ok();
    }
    if (first == 0xFE) {
      if (!cursor.Has(5)) {
        return Corruption(EntryError(kName, count, start, "length runs past the end"));
      }
      *length = LoadLittleEndian(cursor.data() + 1, 4);
      cursor.Skip(5);
    } else {
      *length = first;
      cursor.Skip(1);
    }
    return Status::Ok();
  };
  while (true) {
    const size_t start = cursor.offset();
    uint64_t field_size = 0;
    bool at_end = false;
    TANDEM_RETURN_IF_ERROR(read_length(start, &field_size, &at_end));
    if (at_end) {
      break;
    }
    if (!cursor.Has(field_size)) {
      return Corruption(EntryError(kName, count, start, "field runs past the end"));
    }
    out->Add(cursor.Take(field_size));
    uint64_t value_size = 0;
    TANDEM_RETURN_IF_ERROR(read_length(start, &value_size, &at_end));
    if (at_end) {
      return Corruption(EntryError(kName, count, start, "field without a value"));
    }
    if (!cursor.Has(1)) {
      return Corruption(EntryError(kName, count, start, "free byte runs past the end"));
    }
    const size_t free_size = cursor.Peek();
    cursor.Skip(1);
    if (!cursor.Has(value_size) || !cursor.Has(value_size + free_size)) {
      return Corruption(EntryError(kName, count, start, "value runs past the end"));
    }
    out->Add(cursor.Take(value_size));
    cursor.Skip(free_size);
    ++count;
  }
  if (cursor.remaining() != 0) {
    return Corruption("zipmap has " + std::to_string(cursor.remaining()) +
                      " bytes after its end byte");
  }
  if (announced < 254 && announced != count) {
    return Corruption("zipmap header announces " + std::to_string(announced) + " pairs but holds " +
                      std::to_string(count));
  }
  return Status::Ok();
}

bool ParseStrictInt64(std::string_view text, int64_t* value) {
  if (text.empty() || text.size() > 20) {
    return false;
  }
  if (text == "0") {
    *value = 0;
    return true;
  }
  const size_t digits_start = text[0] == '-' ? 1 : 0;
  if (digits_start >= text.size() || text[digits_start] < '1' || text[digits_start] > '9') {
    return false;  // "-", "-0", leading zeros, "+1", " 1"
  }
  const auto result = std::from_chars(text.data(), text.data() + text.size(), *value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

bool ParseScore(std::string_view text, double* value) {
  if (text.empty()) {
    return false;
  }
  // Redis writes infinities as "inf"/"-inf" and, in old RDBs, may have written "nan".
  const auto result = std::from_chars(text.data(), text.data() + text.size(), *value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

Status ValidateStreamListpack(const RdbEntryList& entries) {
  size_t index = 0;
  auto next_integer = [&](std::string_view what, int64_t* value) -> Status {
    if (index >= entries.size()) {
      return Corruption("stream listpack ends before its " + std::string(what));
    }
    if (!ParseStrictInt64(entries[index], value)) {
      return Corruption("stream listpack " + std::string(what) + " (entry " +
                        std::to_string(index) + ") is not an integer");
    }
    ++index;
    return Status::Ok();
  };
  auto skip = [&](int64_t count, std::string_view what) -> Status {
    if (count < 0 || static_cast<uint64_t>(count) > entries.size() - index) {
      return Corruption("stream listpack ends inside the " + std::string(what));
    }
    index += static_cast<size_t>(count);
    return Status::Ok();
  };
  int64_t entry_count = 0;
  int64_t deleted_count = 0;
  int64_t master_fields = 0;
  int64_t zero = 0;
  TANDEM_RETURN_IF_ERROR(next_integer("entry count", &entry_count));
  TANDEM_RETURN_IF_ERROR(next_integer("deleted count", &deleted_count));
  TANDEM_RETURN_IF_ERROR(next_integer("master field count", &master_fields));
  TANDEM_RETURN_IF_ERROR(skip(master_fields, "master field names"));
  TANDEM_RETURN_IF_ERROR(next_integer("master entry terminator", &zero));
  if (zero != 0) {
    return Corruption("stream listpack master entry terminator is " + std::to_string(zero) +
                      ", not 0");
  }
  if (entry_count < 0 || deleted_count < 0 ||
      entry_count > std::numeric_limits<int64_t>::max() - deleted_count) {
    return Corruption("stream listpack has invalid entry counts");
  }
  constexpr int64_t kSameFieldsFlag = 2;
  for (int64_t remaining = entry_count + deleted_count; remaining > 0; --remaining) {
    int64_t flags = 0;
    int64_t delta = 0;
    TANDEM_RETURN_IF_ERROR(next_integer("entry flags", &flags));
    TANDEM_RETURN_IF_ERROR(next_integer("entry ms delta", &delta));
    TANDEM_RETURN_IF_ERROR(next_integer("entry seq delta", &delta));
    int64_t fields = master_fields;
    int64_t extra = 3;
    if ((flags & kSameFieldsFlag) == 0) {
      TANDEM_RETURN_IF_ERROR(next_integer("entry field count", &fields));
      if (fields < 0 || fields > static_cast<int64_t>(entries.size())) {
        return Corruption("stream listpack entry has invalid field count " +
                          std::to_string(fields));
      }
      TANDEM_RETURN_IF_ERROR(skip(fields * 2, "entry fields and values"));
      extra += fields + 1;
    } else {
      TANDEM_RETURN_IF_ERROR(skip(fields, "entry values"));
    }
    int64_t lp_count = 0;
    TANDEM_RETURN_IF_ERROR(next_integer("entry lp-count", &lp_count));
    if (lp_count != fields + extra) {
      return Corruption("stream listpack entry lp-count " + std::to_string(lp_count) +
                        " does not match its " + std::to_string(fields + extra) + " elements");
    }
  }
  if (index != entries.size()) {
    return Corruption("stream listpack has " + std::to_string(entries.size() - index) +
                      " elements after its last entry");
  }
  return Status::Ok();
}

}  // namespace tandem::connectors::redis::rdb_internal
