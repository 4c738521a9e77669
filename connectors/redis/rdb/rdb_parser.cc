// File: connectors/redis/rdb/rdb_parser.cc
//
// One pass over the source with exact-size reads (never past the checksum: the replication
// stream continues on the same socket). Every byte read goes into the running file CRC; while a
// value may still go out as a DUMP payload, its bytes are also appended to `capture_` (which
// starts with the type byte), so the payload is built without re-encoding. The decoded elements
// of a collection accumulate in `pending_` at the same time; once the captured bytes exceed
// max_value_bytes the capture is dropped and `pending_` is handed out in pieces from then on.
#include "connectors/redis/rdb/rdb_parser.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_set>

#include "connectors/redis/rdb/crc64.h"
#include "connectors/redis/rdb/rdb_encodings.h"

namespace tandem::connectors::redis {
namespace {

using engine::Corruption;
using engine::Result;
using engine::Status;
using engine::StatusCode;
using rdb_internal::RdbEntryList;

constexpr int kMaxSupportedVersion = 11;

// Opcodes (rdb.h).
constexpr uint8_t kOpFunction2 = 245;
constexpr uint8_t kOpFunctionPreGa = 246;
constexpr uint8_t kOpModuleAux = 247;
constexpr uint8_t kOpIdle = 248;
constexpr uint8_t kOpFreq = 249;
constexpr uint8_t kOpAux = 250;
constexpr uint8_t kOpResizeDb = 251;
constexpr uint8_t kOpExpireTimeMs = 252;
constexpr uint8_t kOpExpireTime = 253;
constexpr uint8_t kOpSelectDb = 254;
constexpr uint8_t kOpEof = 255;

// Value types (rdb.h).
constexpr uint8_t kTypeString = 0;
constexpr uint8_t kTypeList = 1;
constexpr uint8_t kTypeSet = 2;
constexpr uint8_t kTypeZset = 3;
constexpr uint8_t kTypeHash = 4;
constexpr uint8_t kTypeZset2 = 5;
constexpr uint8_t kTypeModulePreGa = 6;
constexpr uint8_t kTypeModule2 = 7;
constexpr uint8_t kTypeHashZipmap = 9;
constexpr uint8_t kTypeListZiplist = 10;
constexpr uint8_t kTypeSetIntset = 11;
constexpr uint8_t kTypeZsetZiplist = 12;
constexpr uint8_t kTypeHashZiplist = 13;
constexpr uint8_t kTypeListQuicklist = 14;
constexpr uint8_t kTypeStreamListpacks = 15;
constexpr uint8_t kTypeHashListpack = 16;
constexpr uint8_t kTypeZsetListpack = 17;
constexpr uint8_t kTypeListQuicklist2 = 18;
constexpr uint8_t kTypeStreamListpacks2 = 19;
constexpr uint8_t kTypeSetListpack = 20;
constexpr uint8_t kTypeStreamListpacks3 = 21;

// Special string encodings (the low 6 bits of a 11xxxxxx length byte).
constexpr uint64_t kEncodingInt8 = 0;
constexpr uint64_t kEncodingInt16 = 1;
constexpr uint64_t kEncodingInt32 = 2;
constexpr uint64_t kEncodingLzf = 3;

// quicklist_2 node containers.
constexpr uint64_t kContainerPlain = 1;
constexpr uint64_t kContainerPacked = 2;

// Strings longer than this are read in chunks of this size, so a corrupt length cannot make the
// parser allocate more than the source actually delivers.
constexpr size_t kReadChunk = size_t{1} << 20;

// LZF expands at most 264 bytes from 3 input bytes: a larger announced size is corrupt.
constexpr uint64_t kLzfMaxRatio = 100;

std::optional<RdbValueKind> KindOfType(uint8_t type) {
  switch (type) {
    case kTypeString:
      return RdbValueKind::kString;
    case kTypeList:
    case kTypeListZiplist:
    case kTypeListQuicklist:
    case kTypeListQuicklist2:
      return RdbValueKind::kList;
    case kTypeSet:
    case kTypeSetIntset:
    case kTypeSetListpack:
      return RdbValueKind::kSet;
    case kTypeZset:
    case kTypeZset2:
    case kTypeZsetZiplist:
    case kTypeZsetListpack:
      return RdbValueKind::kZset;
    case kTypeHash:
    case kTypeHashZipmap:
    case kTypeHashZiplist:
    case kTypeHashListpack:
      return RdbValueKind::kHash;
    case kTypeStreamListpacks:
    case kTypeStreamListpacks2:
    case kTypeStreamListpacks3:
      return RdbValueKind::kStream;
    default:
      return std::nullopt;
  }
}

// module.c moduleTypeNameByID: the 9-character type name packed into the top 54 bits.
std::string ModuleTypeName(uint64_t module_id) {
  static constexpr char kCharset[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string name(9, '?');
  module_id >>= 10;
  for (int i = 8; i >= 0; --i) {
    name[static_cast<size_t>(i)] = kCharset[module_id & 63];
    module_id >>= 6;
  }
  return name;
}

Status ModuleUnsupported(uint64_t module_id) {
  return engine::Unsupported("the source uses module type '" + ModuleTypeName(module_id) +
                             "'; tandem cannot copy module data: remove those keys or sync "
                             "without them");
}

// A key for an error message: printable ASCII as is, other bytes as \xNN, at most 64 bytes.
std::string PrintableKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < key.size() && i < 64; ++i) {
    const auto byte = static_cast<unsigned char>(key[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '"') {
      out.push_back(static_cast<char>(byte));
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
  }
  if (key.size() > 64) {
    out += "...";
  }
  return out;
}

uint64_t LoadLittleEndian(const unsigned char* bytes, int size) {
  uint64_t value = 0;
  for (int i = size - 1; i >= 0; --i) {
    value = (value << 8) | bytes[i];
  }
  return value;
}

void AppendLittleEndian(std::string* out, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

// The state of one Parse() call.
class ParseRun {
 public:
  ParseRun(const RdbParserOptions& options, RdbByteSource& source, RdbVisitor& visitor)
      : options_(options), source_(source), visitor_(visitor) {}

  Result<RdbSummary> Run();
  // One RDB string in any encoding from the source, decoded into *out (DecodeStringPayload).
  Status ReadOneString(std::string* out) { return ReadString(out); }

 private:
  // ---- Reading (every byte: CRC, offset, and the capture while capturing_) ----
  Status Read(void* out, size_t size);
  Status ReadByte(uint8_t* out);
  // A length or, with *encoded set, a special string encoding number.
  Status ReadLengthOrEncoding(uint64_t* length, bool* encoded);
  // A plain length; `what` names it in the error when it is a string encoding instead.
  Status ReadLength(uint64_t* length, std::string_view what);
  // A string in any encoding, decoded into *out (replaced).
  Status ReadString(std::string* out);
  Status ReadRawBytes(size_t size, std::string* out);

  // An error of ours (not the source's or the visitor's): names the offset and the key.
  Status Error(StatusCode code, std::string_view what) const;
  Status CorruptionAt(std::string_view what) const { return Error(StatusCode::kCorruption, what); }
  // Prefixes a decoder's kCorruption with the offset and the key.
  Status Wrap(const Status& status, std::string_view structure) const;

  // ---- Values ----
  Status ReadKeyAndValue(uint8_t type);
  Status ReadValue(uint8_t type);
  Status ReadStream(uint8_t type);
  Status ReadZsetPairs(const RdbEntryList& entries, std::string_view structure);
  Status ReadBinaryDouble(double* out);
  Status ReadStringDouble(double* out);
  Status ReadStreamId(std::string_view what);

  // Decoded elements: `entries_per_unit_` entries make one unit (a hash pair).
  Status AddScored(std::string_view member, double score);
  // Hands out full pieces when in piece mode; all that is pending when `final`.
  Status EmitPieces(bool final);
  size_t PendingUnits() const { return pending_.size() / entries_per_unit_; }
  // Switches from payload to piece delivery (the value outgrew max_value_bytes). For the
  // element-by-element encodings, whose elements are not kept while a payload is still possible,
  // first decodes again the elements already captured.
  Status SwitchToPieces();
  // Whether decoded elements go to pending_: always for the single-blob encodings (they are
  // decoded whole anyway), for the element-by-element ones only once in piece mode.
  bool KeepElements() const { return piece_mode_ || !per_element_; }
  Status FinishValue();

  const RdbParserOptions& options_;
  RdbByteSource& source_;
  RdbVisitor& visitor_;

  RdbSummary summary_;
  uint64_t crc_ = 0;
  int64_t offset_ = 0;  // bytes read so far
  int database_ = 0;
  std::optional<int64_t> pending_expire_ms_;

  // The current value.
  bool in_value_ = false;
  RdbKeyHeader header_;
  bool capturing_ = false;   // payload delivery still possible; capture_ = type byte + bytes
  bool pieceable_ = false;   // a list/set/zset/hash: may switch to pieces
  bool piece_mode_ = false;  // pieces from now on
  bool first_piece_sent_ = false;
  bool over_limit_ = false;     // the capture outgrew max_value_bytes: switch at the next boundary
  bool per_element_ = false;    // types 1-5, 14, 18: read element by element (or node by node)
  uint64_t elements_done_ = 0;  // per_element_: elements (nodes) read completely
  uint64_t element_limit_ = UINT64_MAX;  // stop after this many (re-decoding a captured prefix)
  uint64_t decoded_entries_ = 0;         // per_element_: entries decoded so far (kept or not)
  size_t entries_per_unit_ = 1;
  std::string capture_;
  RdbEntryList pending_;
  std::vector<double> pending_scores_;
  RdbValuePiece piece_;

  // Scratch buffers, reused.
  std::string string_;
  std::string string2_;
  std::string compressed_;
  RdbEntryList decoded_;
};

Status ParseRun::Read(void* out, size_t size) {
  TANDEM_RETURN_IF_ERROR(source_.Read(static_cast<char*>(out), size));
  crc_ = RedisCrc64(crc_, out, size);
  offset_ += static_cast<int64_t>(size);
  if (capturing_) {
    if (size == 1) {
      capture_.push_back(*static_cast<const char*>(out));
    } else {
      capture_.append(static_cast<const char*>(out), size);
    }
    if (pieceable_ && capture_.size() - 1 > options_.max_value_bytes) {
      over_limit_ = true;
    }
  }
  return Status::Ok();
}

Status ParseRun::ReadByte(uint8_t* out) { return Read(out, 1); }

Status ParseRun::ReadLengthOrEncoding(uint64_t* length, bool* encoded) {
  unsigned char first = 0;
  TANDEM_RETURN_IF_ERROR(Read(&first, 1));
  *encoded = false;
  switch (first >> 6) {
    case 0:
      *length = first & 0x3f;
      return Status::Ok();
    case 1: {
      unsigned char second = 0;
      TANDEM_RETURN_IF_ERROR(Read(&second, 1));
      *length = (static_cast<uint64_t>(first & 0x3f) << 8) | second;
      return Status::Ok();
    }
    case 3:
      *encoded = true;
      *length = first & 0x3f;
      return Status::Ok();
    default:
      break;
  }
  unsigned char bytes[8];
  if (first == 0x80) {
    TANDEM_RETURN_IF_ERROR(Read(bytes, 4));
    *length = (uint64_t{bytes[0]} << 24) | (uint64_t{bytes[1]} << 16) | (uint64_t{bytes[2]} << 8) |
              bytes[3];
    return Status::Ok();
  }
  if (first == 0x81) {
    TANDEM_RETURN_IF_ERROR(Read(bytes, 8));
    uint64_t value = 0;
    for (unsigned char byte : bytes) {
      value = (value << 8) | byte;
    }
    *length = value;
    return Status::Ok();
  }
  return CorruptionAt("invalid length byte " + std::to_string(first));
}

Status ParseRun::ReadLength(uint64_t* length, std::string_view what) {
  bool encoded = false;
  TANDEM_RETURN_IF_ERROR(ReadLengthOrEncoding(length, &encoded));
  if (encoded) {
    return CorruptionAt(std::string(what) + " has a string encoding (" + std::to_string(*length) +
                        ") where a length belongs");
  }
  return Status::Ok();
}

Status ParseRun::ReadRawBytes(size_t size, std::string* out) {
  if (size <= kReadChunk) {
    out->resize(size);
    return Read(out->data(), size);
  }
  out->clear();
  while (out->size() < size) {
    const size_t done = out->size();
    const size_t chunk = std::min(kReadChunk, size - done);
    out->resize(done + chunk);
    TANDEM_RETURN_IF_ERROR(Read(out->data() + done, chunk));
  }
  return Status::Ok();
}

Status ParseRun::ReadString(std::string* out) {
  uint64_t length = 0;
  bool encoded = false;
  TANDEM_RETURN_IF_ERROR(ReadLengthOrEncoding(&length, &encoded));
  if (!encoded) {
    return ReadRawBytes(length, out);
  }
  unsigned char bytes[4];
  switch (length) {
    case kEncodingInt8:
      TANDEM_RETURN_IF_ERROR(Read(bytes, 1));
      *out = std::to_string(static_cast<int8_t>(bytes[0]));
      return Status::Ok();
    case kEncodingInt16:
      TANDEM_RETURN_IF_ERROR(Read(bytes, 2));
      *out = std::to_string(static_cast<int16_t>(LoadLittleEndian(bytes, 2)));
      return Status::Ok();
    case kEncodingInt32:
      TANDEM_RETURN_IF_ERROR(Read(bytes, 4));
      *out = std::to_string(static_cast<int32_t>(LoadLittleEndian(bytes, 4)));
      return Status::Ok();
    case kEncodingLzf: {
      uint64_t compressed_size = 0;
      uint64_t size = 0;
      TANDEM_RETURN_IF_ERROR(ReadLength(&compressed_size, "LZF compressed length"));
      TANDEM_RETURN_IF_ERROR(ReadLength(&size, "LZF uncompressed length"));
      if (size == 0 || compressed_size == 0 || size / kLzfMaxRatio > compressed_size) {
        return CorruptionAt("LZF string of " + std::to_string(compressed_size) +
                            " compressed bytes cannot decompress to " + std::to_string(size));
      }
      TANDEM_RETURN_IF_ERROR(ReadRawBytes(compressed_size, &compressed_));
      return Wrap(rdb_internal::LzfDecompress(compressed_, size, out), "LZF string");
    }
    default:
      return CorruptionAt("unknown string encoding " + std::to_string(length));
  }
}

Status ParseRun::Error(StatusCode code, std::string_view what) const {
  std::string message = "RDB byte " + std::to_string(offset_);
  if (in_value_) {
    message += " (key \"" + PrintableKey(header_.key) + "\", database " +
               std::to_string(header_.database) + ", type " + std::to_string(header_.rdb_type) +
               ")";
  }
  message += ": ";
  message += what;
  return Status(code, std::move(message));
}

Status ParseRun::Wrap(const Status& status, std::string_view structure) const {
  if (status.ok()) {
    return status;
  }
  return Error(status.code(), std::string(structure) + ": " + status.message());
}

Status ParseRun::ReadBinaryDouble(double* out) {
  unsigned char bytes[8];
  TANDEM_RETURN_IF_ERROR(Read(bytes, 8));
  const uint64_t bits = LoadLittleEndian(bytes, 8);
  std::memcpy(out, &bits, sizeof(*out));
  return Status::Ok();
}

Status ParseRun::ReadStringDouble(double* out) {
  uint8_t length = 0;
  TANDEM_RETURN_IF_ERROR(ReadByte(&length));
  switch (length) {
    case 253:
      *out = std::nan("");
      return Status::Ok();
    case 254:
      *out = HUGE_VAL;
      return Status::Ok();
    case 255:
      *out = -HUGE_VAL;
      return Status::Ok();
    default:
      break;
  }
  char text[256];
  TANDEM_RETURN_IF_ERROR(Read(text, length));
  if (!rdb_internal::ParseScore(std::string_view(text, length), out)) {
    return CorruptionAt("sorted set score \"" + PrintableKey(std::string_view(text, length)) +
                        "\" is not a number");
  }
  return Status::Ok();
}

Status ParseRun::SwitchToPieces() {
  if (per_element_ && elements_done_ > 0) {
    // capture_ holds the type byte, then exactly the count and elements_done_ elements.
    RdbBufferSource prefix(std::string_view(capture_).substr(1));
    ParseRun again(options_, prefix, visitor_);
    again.header_ = header_;
    again.in_value_ = true;
    again.pieceable_ = true;
    again.entries_per_unit_ = entries_per_unit_;
    again.element_limit_ = elements_done_;
    const Status status = again.ReadValue(header_.rdb_type);
    if (!status.ok()) {
      return engine::Internal("decoding the captured start of a value again failed: " +
                              status.ToString());
    }
    pending_ = std::move(again.pending_);
    pending_scores_ = std::move(again.pending_scores_);
  }
  capturing_ = false;
  piece_mode_ = true;
  capture_.clear();
  return Status::Ok();
}

Status ParseRun::AddScored(std::string_view member, double score) {
  if (std::isnan(score)) {
    return CorruptionAt("sorted set member \"" + PrintableKey(member) + "\" has a NaN score");
  }
  if (KeepElements()) {
    pending_.Add(member);
    pending_scores_.push_back(score);
  }
  return Status::Ok();
}

Status ParseRun::EmitPieces(bool final) {
  if (over_limit_ && !piece_mode_) {
    TANDEM_RETURN_IF_ERROR(SwitchToPieces());
  }
  if (!piece_mode_) {
    return Status::Ok();
  }
  const size_t units = PendingUnits();
  const size_t per_piece = std::max<size_t>(options_.piece_elements, 1);
  size_t begin = 0;
  const bool zset = header_.kind == RdbValueKind::kZset;
  // Keep back the last (partial or full) piece until the value ends, so the last piece is never
  // empty and carries `last`.
  while (units - begin > per_piece || (final && begin < units)) {
    const size_t count = std::min(per_piece, units - begin);
    const size_t entry_begin = begin * entries_per_unit_;
    const size_t entry_count = count * entries_per_unit_;
    piece_.elements.resize(entry_count);
    for (size_t i = 0; i < entry_count; ++i) {
      piece_.elements[i].assign(pending_[entry_begin + i]);
    }
    piece_.scores.clear();
    if (zset) {
      piece_.scores.assign(pending_scores_.begin() + static_cast<std::ptrdiff_t>(begin),
                           pending_scores_.begin() + static_cast<std::ptrdiff_t>(begin + count));
    }
    begin += count;
    piece_.first = !first_piece_sent_;
    piece_.last = final && begin == units;
    if (piece_.first) {
      ++summary_.keys;
    }
    first_piece_sent_ = true;
    TANDEM_RETURN_IF_ERROR(visitor_.OnValuePiece(header_, piece_));
  }
  pending_.RemoveFront(begin * entries_per_unit_);
  if (zset) {
    pending_scores_.erase(pending_scores_.begin(),
                          pending_scores_.begin() + static_cast<std::ptrdiff_t>(begin));
  }
  return Status::Ok();
}

Status ParseRun::ReadZsetPairs(const RdbEntryList& entries, std::string_view structure) {
  if (entries.size() % 2 != 0) {
    return CorruptionAt(std::string(structure) + " of a sorted set holds an odd number (" +
                        std::to_string(entries.size()) + ") of entries");
  }
  for (size_t i = 0; i < entries.size(); i += 2) {
    double score = 0;
    if (!rdb_internal::ParseScore(entries[i + 1], &score)) {
      return CorruptionAt(std::string(structure) + " score \"" + PrintableKey(entries[i + 1]) +
                          "\" is not a number");
    }
    TANDEM_RETURN_IF_ERROR(AddScored(entries[i], score));
  }
  return Status::Ok();
}

Status ParseRun::ReadStreamId(std::string_view what) {
  uint64_t part = 0;
  TANDEM_RETURN_IF_ERROR(ReadLength(&part, what));
  return ReadLength(&part, what);
}

Status ParseRun::ReadStream(uint8_t type) {
  uint64_t nodes = 0;
  TANDEM_RETURN_IF_ERROR(ReadLength(&nodes, "stream listpack count"));
  for (uint64_t i = 0; i < nodes; ++i) {
    TANDEM_RETURN_IF_ERROR(ReadString(&string_));
    if (string_.size() != 16) {
      return CorruptionAt("stream node key of " + std::to_string(string_.size()) +
                          " bytes (a stream ID is 16)");
    }
    TANDEM_RETURN_IF_ERROR(ReadString(&string_));
    decoded_.Clear();
    TANDEM_RETURN_IF_ERROR(
        Wrap(rdb_internal::DecodeListpack(string_, &decoded_), "stream node " + std::to_string(i)));
    if (decoded_.empty()) {
      return CorruptionAt("stream node " + std::to_string(i) + " is an empty listpack");
    }
    TANDEM_RETURN_IF_ERROR(
        Wrap(rdb_internal::ValidateStreamListpack(decoded_), "stream node " + std::to_string(i)));
  }
  uint64_t number = 0;
  TANDEM_RETURN_IF_ERROR(ReadLength(&number, "stream length"));
  TANDEM_RETURN_IF_ERROR(ReadStreamId("stream last ID"));
  if (type >= kTypeStreamListpacks2) {
    TANDEM_RETURN_IF_ERROR(ReadStreamId("stream first ID"));
    TANDEM_RETURN_IF_ERROR(ReadStreamId("stream max deleted ID"));
    TANDEM_RETURN_IF_ERROR(ReadLength(&number, "stream entries added"));
  }
  uint64_t groups = 0;
  TANDEM_RETURN_IF_ERROR(ReadLength(&groups, "stream consumer group count"));
  std::unordered_set<std::string> group_pel;
  for (uint64_t g = 0; g < groups; ++g) {
    TANDEM_RETURN_IF_ERROR(ReadString(&string_));  // group name
    TANDEM_RETURN_IF_ERROR(ReadStreamId("consumer group last ID"));
    if (type >= kTypeStreamListpacks2) {
      TANDEM_RETURN_IF_ERROR(ReadLength(&number, "consumer group entries read"));
    }
    uint64_t pending = 0;
    TANDEM_RETURN_IF_ERROR(ReadLength(&pending, "consumer group pending count"));
    group_pel.clear();
    char id[16];
    unsigned char time[8];
    for (uint64_t p = 0; p < pending; ++p) {
      TANDEM_RETURN_IF_ERROR(Read(id, sizeof(id)));
      TANDEM_RETURN_IF_ERROR(Read(time, sizeof(time)));  // delivery time
      TANDEM_RETURN_IF_ERROR(ReadLength(&number, "pending entry delivery count"));
      if (!group_pel.emplace(id, sizeof(id)).second) {
        return CorruptionAt("consumer group " + std::to_string(g) + " lists a pending entry twice");
      }
    }
    uint64_t consumers = 0;
    TANDEM_RETURN_IF_ERROR(ReadLength(&consumers, "consumer count"));
    for (uint64_t c = 0; c < consumers; ++c) {
      TANDEM_RETURN_IF_ERROR(ReadString(&string_));      // consumer name
      TANDEM_RETURN_IF_ERROR(Read(time, sizeof(time)));  // seen time
      if (type >= kTypeStreamListpacks3) {
        TANDEM_RETURN_IF_ERROR(Read(time, sizeof(time)));  // active time
      }
      uint64_t owned = 0;
      TANDEM_RETURN_IF_ERROR(ReadLength(&owned, "consumer pending count"));
      for (uint64_t p = 0; p < owned; ++p) {
        TANDEM_RETURN_IF_ERROR(Read(id, sizeof(id)));
        if (group_pel.find(std::string(id, sizeof(id))) == group_pel.end()) {
          return CorruptionAt("a consumer of consumer group " + std::to_string(g) +
                              " owns a pending entry the group does not list");
        }
      }
    }
  }
  return Status::Ok();
}

Status ParseRun::ReadValue(uint8_t type) {
  uint64_t count = 0;
  switch (type) {
    case kTypeString:
      return ReadString(&string_);
    case kTypeList:
    case kTypeSet:
      TANDEM_RETURN_IF_ERROR(ReadLength(&count, "element count"));
      for (uint64_t i = 0; i < count && i < element_limit_; ++i) {
        TANDEM_RETURN_IF_ERROR(ReadString(&string_));
        if (KeepElements()) {
          pending_.Add(string_);
        }
        elements_done_ = i + 1;
        ++decoded_entries_;
        TANDEM_RETURN_IF_ERROR(EmitPieces(false));
      }
      return Status::Ok();
    case kTypeHash:
      TANDEM_RETURN_IF_ERROR(ReadLength(&count, "field count"));
      for (uint64_t i = 0; i < count && i < element_limit_; ++i) {
        TANDEM_RETURN_IF_ERROR(ReadString(&string_));
        TANDEM_RETURN_IF_ERROR(ReadString(&string2_));
        if (KeepElements()) {
          pending_.Add(string_);
          pending_.Add(string2_);
        }
        elements_done_ = i + 1;
        decoded_entries_ += 2;
        TANDEM_RETURN_IF_ERROR(EmitPieces(false));
      }
      return Status::Ok();
    case kTypeZset:
    case kTypeZset2:
      TANDEM_RETURN_IF_ERROR(ReadLength(&count, "member count"));
      for (uint64_t i = 0; i < count && i < element_limit_; ++i) {
        double score = 0;
        TANDEM_RETURN_IF_ERROR(ReadString(&string_));
        TANDEM_RETURN_IF_ERROR(type == kTypeZset2 ? ReadBinaryDouble(&score)
                                                  : ReadStringDouble(&score));
        TANDEM_RETURN_IF_ERROR(AddScored(string_, score));
        elements_done_ = i + 1;
        ++decoded_entries_;
        TANDEM_RETURN_IF_ERROR(EmitPieces(false));
      }
      return Status::Ok();
    case kTypeHashZipmap:
    case kTypeHashZiplist:
    case kTypeHashListpack: {
      TANDEM_RETURN_IF_ERROR(ReadString(&string_));
      const size_t before = pending_.size();
      if (type == kTypeHashZipmap) {
        TANDEM_RETURN_IF_ERROR(Wrap(rdb_internal::DecodeZipmap(string_, &pending_), "zipmap"));
      } else if (type == kTypeHashZiplist) {
        TANDEM_RETURN_IF_ERROR(Wrap(rdb_internal::DecodeZiplist(string_, &pending_), "ziplist"));
      } else {
        TANDEM_RETURN_IF_ERROR(Wrap(rdb_internal::DecodeListpack(string_, &pending_), "listpack"));
      }
      if ((pending_.size() - before) % 2 != 0) {
        return CorruptionAt("hash encoding holds an odd number of entries (" +
                            std::to_string(pending_.size() - before) + ")");
      }
      return EmitPieces(false);
    }
    case kTypeListZiplist:
      TANDEM_RETURN_IF_ERROR(ReadString(&string_));
      TANDEM_RETURN_IF_ERROR(Wrap(rdb_internal::DecodeZiplist(string_, &pending_), "ziplist"));
      return EmitPieces(false);
    case kTypeSetIntset:
      TANDEM_RETURN_IF_ERROR(ReadString(&string_));
      TANDEM_RETURN_IF_ERROR(Wrap(rdb_internal::DecodeIntset(string_, &pending_), "intset"));
      return EmitPieces(false);
    case kTypeSetListpack:
      TANDEM_RETURN_IF_ERROR(ReadString(&string_));
      TANDEM_RETURN_IF_ERROR(Wrap(rdb_internal::DecodeListpack(string_, &pending_), "listpack"));
      return EmitPieces(false);
    case kTypeZsetZiplist:
    case kTypeZsetListpack: {
      TANDEM_RETURN_IF_ERROR(ReadString(&string_));
      decoded_.Clear();
      const bool ziplist = type == kTypeZsetZiplist;
      TANDEM_RETURN_IF_ERROR(Wrap(ziplist ? rdb_internal::DecodeZiplist(string_, &decoded_)
                                          : rdb_internal::DecodeListpack(string_, &decoded_),
                                  ziplist ? "ziplist" : "listpack"));
      TANDEM_RETURN_IF_ERROR(ReadZsetPairs(decoded_, ziplist ? "ziplist" : "listpack"));
      return EmitPieces(false);
    }
    case kTypeListQuicklist:
    case kTypeListQuicklist2:
      TANDEM_RETURN_IF_ERROR(ReadLength(&count, "quicklist node count"));
      for (uint64_t i = 0; i < count && i < element_limit_; ++i) {
        uint64_t container = kContainerPacked;
        if (type == kTypeListQuicklist2) {
          TANDEM_RETURN_IF_ERROR(ReadLength(&container, "quicklist node container"));
          if (container != kContainerPlain && container != kContainerPacked) {
            return CorruptionAt("quicklist node " + std::to_string(i) + " has container " +
                                std::to_string(container) + " (1 plain or 2 packed)");
          }
        }
        TANDEM_RETURN_IF_ERROR(ReadString(&string_));
        RdbEntryList* const target = KeepElements() ? &pending_ : &decoded_;
        if (target == &decoded_) {
          decoded_.Clear();
        }
        const size_t before = target->size();
        if (container == kContainerPlain) {
          target->Add(string_);
        } else {
          const Status status = type == kTypeListQuicklist2
                                    ? rdb_internal::DecodeListpack(string_, target)
                                    : rdb_internal::DecodeZiplist(string_, target);
          if (!status.ok()) {
            return Wrap(status, "quicklist node " + std::to_string(i));
          }
        }
        decoded_entries_ += target->size() - before;
        elements_done_ = i + 1;
        TANDEM_RETURN_IF_ERROR(EmitPieces(false));
      }
      return Status::Ok();
    case kTypeStreamListpacks:
    case kTypeStreamListpacks2:
    case kTypeStreamListpacks3:
      return ReadStream(type);
    default:
      return CorruptionAt("unknown value type " + std::to_string(type));
  }
}

Status ParseRun::FinishValue() {
  const RdbValueKind kind = header_.kind;
  if (kind == RdbValueKind::kString && options_.max_value_bytes == 0) {
    piece_.elements.resize(1);
    piece_.elements[0] = string_;
    piece_.scores.clear();
    piece_.first = true;
    piece_.last = true;
    ++summary_.keys;
    return visitor_.OnValuePiece(header_, piece_);
  }
  if (pieceable_) {
    const bool empty = per_element_ ? decoded_entries_ == 0 : pending_.empty();
    if (empty && !first_piece_sent_) {
      // An empty collection: Redis skips such keys when loading an RDB, and so does tandem.
      return Status::Ok();
    }
    if (piece_mode_ || over_limit_) {
      return EmitPieces(true);
    }
  }
  AppendLittleEndian(&capture_, static_cast<uint64_t>(summary_.version), 2);
  AppendLittleEndian(&capture_, RedisCrc64(0, capture_.data(), capture_.size()), 8);
  ++summary_.keys;
  return visitor_.OnValue(header_, capture_);
}

Status ParseRun::ReadKeyAndValue(uint8_t type) {
  const std::optional<RdbValueKind> kind = KindOfType(type);
  if (type == kTypeModulePreGa || type == kTypeModule2) {
    TANDEM_RETURN_IF_ERROR(ReadString(&header_.key));
    uint64_t module_id = 0;
    TANDEM_RETURN_IF_ERROR(ReadLength(&module_id, "module id"));
    return ModuleUnsupported(module_id);
  }
  if (!kind.has_value()) {
    return CorruptionAt("unknown opcode or value type " + std::to_string(type));
  }
  TANDEM_RETURN_IF_ERROR(ReadString(&header_.key));
  header_.database = database_;
  header_.expire_at_ms = pending_expire_ms_;
  pending_expire_ms_.reset();
  header_.kind = *kind;
  header_.rdb_type = type;

  in_value_ = true;
  pieceable_ = *kind != RdbValueKind::kString && *kind != RdbValueKind::kStream;
  entries_per_unit_ = *kind == RdbValueKind::kHash ? 2 : 1;
  piece_mode_ = false;
  first_piece_sent_ = false;
  over_limit_ = false;
  per_element_ = type == kTypeList || type == kTypeSet || type == kTypeZset || type == kTypeHash ||
                 type == kTypeZset2 || type == kTypeListQuicklist || type == kTypeListQuicklist2;
  elements_done_ = 0;
  element_limit_ = UINT64_MAX;
  decoded_entries_ = 0;
  pending_.Clear();
  pending_scores_.clear();
  capture_.assign(1, static_cast<char>(type));
  capturing_ = true;
  if (pieceable_ && options_.max_value_bytes == 0) {
    TANDEM_RETURN_IF_ERROR(SwitchToPieces());  // nothing captured yet: cannot fail
  }
  Status status = ReadValue(type);
  capturing_ = false;
  if (status.ok()) {
    status = FinishValue();
  }
  in_value_ = false;
  return status;
}

Result<RdbSummary> ParseRun::Run() {
  char magic[9];
  TANDEM_RETURN_IF_ERROR(Read(magic, sizeof(magic)));
  if (std::memcmp(magic, "REDIS", 5) != 0) {
    return CorruptionAt("bad magic: the snapshot does not start with \"REDIS\"");
  }
  int version = 0;
  for (int i = 5; i < 9; ++i) {
    if (magic[i] < '0' || magic[i] > '9') {
      return CorruptionAt("bad magic: the RDB version is not 4 digits");
    }
    version = version * 10 + (magic[i] - '0');
  }
  summary_.version = version;
  if (version < 1) {
    return CorruptionAt("RDB version 0 does not exist");
  }
  if (version > kMaxSupportedVersion) {
    return Error(StatusCode::kUnsupported,
                 "RDB version " + std::to_string(version) +
                     " is newer than tandem reads (up to 11): upgrade tandem or sync from a "
                     "Redis <= 7.2");
  }
  while (true) {
    uint8_t opcode = 0;
    TANDEM_RETURN_IF_ERROR(ReadByte(&opcode));
    switch (opcode) {
      case kOpEof: {
        const uint64_t computed = crc_;
        if (version >= 5) {
          unsigned char stored_bytes[8];
          TANDEM_RETURN_IF_ERROR(source_.Read(reinterpret_cast<char*>(stored_bytes), 8));
          offset_ += 8;
          const uint64_t stored = LoadLittleEndian(stored_bytes, 8);
          if (stored != 0) {
            if (stored != computed) {
              char text[128];
              std::snprintf(text, sizeof(text),
                            "checksum mismatch: the RDB says %016llx, its "
                            "bytes give %016llx",
                            static_cast<unsigned long long>(stored),
                            static_cast<unsigned long long>(computed));
              return CorruptionAt(text);
            }
            summary_.checksum_checked = true;
          }
        }
        summary_.bytes = offset_;
        TANDEM_RETURN_IF_ERROR(visitor_.OnEnd());
        return summary_;
      }
      case kOpSelectDb: {
        uint64_t database = 0;
        TANDEM_RETURN_IF_ERROR(ReadLength(&database, "SELECTDB database number"));
        if (database > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
          return CorruptionAt("SELECTDB database number " + std::to_string(database) +
                              " is out of range");
        }
        database_ = static_cast<int>(database);
        TANDEM_RETURN_IF_ERROR(visitor_.OnSelectDatabase(database_));
        break;
      }
      case kOpResizeDb: {
        uint64_t size = 0;
        TANDEM_RETURN_IF_ERROR(ReadLength(&size, "RESIZEDB key count"));
        TANDEM_RETURN_IF_ERROR(ReadLength(&size, "RESIZEDB expires count"));
        break;
      }
      case kOpExpireTimeMs: {
        unsigned char bytes[8];
        TANDEM_RETURN_IF_ERROR(Read(bytes, 8));
        pending_expire_ms_ = static_cast<int64_t>(LoadLittleEndian(bytes, 8));
        break;
      }
      case kOpExpireTime: {
        unsigned char bytes[4];
        TANDEM_RETURN_IF_ERROR(Read(bytes, 4));
        pending_expire_ms_ = int64_t{static_cast<int32_t>(LoadLittleEndian(bytes, 4))} * 1000;
        break;
      }
      case kOpAux: {
        TANDEM_RETURN_IF_ERROR(ReadString(&string_));
        TANDEM_RETURN_IF_ERROR(ReadString(&string2_));
        TANDEM_RETURN_IF_ERROR(visitor_.OnAux(string_, string2_));
        break;
      }
      case kOpIdle: {
        uint64_t idle = 0;
        TANDEM_RETURN_IF_ERROR(ReadLength(&idle, "IDLE time"));
        break;
      }
      case kOpFreq: {
        uint8_t frequency = 0;
        TANDEM_RETURN_IF_ERROR(ReadByte(&frequency));
        break;
      }
      case kOpFunction2:
        TANDEM_RETURN_IF_ERROR(ReadString(&string_));
        TANDEM_RETURN_IF_ERROR(visitor_.OnFunctionLibrary(string_));
        break;
      case kOpFunctionPreGa:
        return Error(StatusCode::kUnsupported,
                     "the RDB holds functions in the pre-release Redis 7.0 RC format (FUNCTION "
                     "opcode 246): sync from a released Redis 7");
      case kOpModuleAux: {
        uint64_t module_id = 0;
        TANDEM_RETURN_IF_ERROR(ReadLength(&module_id, "module id"));
        return ModuleUnsupported(module_id);
      }
      default:
        TANDEM_RETURN_IF_ERROR(ReadKeyAndValue(opcode));
        break;
    }
  }
}

}  // namespace

Status RdbBufferSource::Read(char* out, size_t size) {
  if (size > bytes_.size() - offset_) {
    return Corruption("the RDB ended after " + std::to_string(bytes_.size()) +
                      " bytes (truncated)");
  }
  if (size == 1) {
    *out = bytes_[offset_];
  } else if (size > 0) {
    std::memcpy(out, bytes_.data() + offset_, size);
  }
  offset_ += size;
  return Status::Ok();
}

std::string_view RdbValueKindName(RdbValueKind kind) {
  switch (kind) {
    case RdbValueKind::kString:
      return "string";
    case RdbValueKind::kList:
      return "list";
    case RdbValueKind::kSet:
      return "set";
    case RdbValueKind::kZset:
      return "zset";
    case RdbValueKind::kHash:
      return "hash";
    case RdbValueKind::kStream:
      return "stream";
  }
  return "unknown";
}

engine::Result<RdbSummary> RdbParser::Parse(RdbByteSource& source, RdbVisitor& visitor) {
  ParseRun run(options_, source, visitor);
  return run.Run();
}

namespace {
// Receives nothing: DecodeStringPayload reads one string, no snapshot.
class NoVisitor final : public RdbVisitor {
 public:
  Status OnAux(std::string_view, std::string_view) override { return Status::Ok(); }
  Status OnSelectDatabase(int) override { return Status::Ok(); }
  Status OnValue(const RdbKeyHeader&, std::string_view) override { return Status::Ok(); }
  Status OnValuePiece(const RdbKeyHeader&, const RdbValuePiece&) override { return Status::Ok(); }
  Status OnFunctionLibrary(std::string_view) override { return Status::Ok(); }
  Status OnEnd() override { return Status::Ok(); }
};
}  // namespace

engine::Result<std::string> DecodeStringPayload(std::string_view payload) {
  // Type byte 0, the string, 2 bytes of RDB version, 8 of CRC.
  constexpr size_t kTrailer = 10;
  if (payload.size() < 1 + kTrailer + 1 || payload[0] != 0) {
    return engine::Corruption("not the payload of a string value");
  }
  RdbBufferSource source(payload.substr(1, payload.size() - 1 - kTrailer));
  NoVisitor visitor;
  ParseRun run(RdbParserOptions{}, source, visitor);
  std::string value;
  TANDEM_RETURN_IF_ERROR(run.ReadOneString(&value));
  if (source.remaining() != 0) {
    return engine::Corruption("the string payload has " + std::to_string(source.remaining()) +
                              " bytes after its value");
  }
  return value;
}

}  // namespace tandem::connectors::redis
