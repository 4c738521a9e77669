#include "connectors/postgres/pgoutput/pgoutput_message.h"

#include <chrono>
#include <cstring>
#include <initializer_list>
#include <type_traits>
#include <utility>

namespace tandem::connectors::postgres::pgoutput {
namespace {

using engine::Result;
using engine::Status;

std::string Concat(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view part : parts) {
    size += part.size();
  }
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) {
    out.append(part);
  }
  return out;
}

// "'K' (0x4b)" for a printable byte, "0x05" otherwise: how errors show a byte that was wrong.
std::string DescribeByte(uint8_t byte) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  const char hex[] = {'0', 'x', kHexDigits[byte >> 4], kHexDigits[byte & 0x0f]};
  const std::string_view hex_text(hex, sizeof(hex));
  if (byte >= 0x20 && byte < 0x7f) {
    const char quoted[] = {'\'', static_cast<char>(byte), '\''};
    return Concat({std::string_view(quoted, sizeof(quoted)), " (", hex_text, ")"});
  }
  return std::string(hex_text);
}

// Names the field a read is for, in error messages only: the text is put together when an error
// needs it, so naming a field costs nothing on the hot path. Reads "<subject>", or for one column
// of a tuple or relation "<subject> column <n> <part>" (n counts from 1, like PostgreSQL's attnum).
struct FieldName {
  FieldName(const char* subject) : subject(subject) {}  // NOLINT(google-explicit-constructor)
  FieldName(std::string_view subject, std::string_view part) : subject(subject), part(part) {}
  FieldName(std::string_view subject, size_t column, std::string_view part)
      : subject(subject), column(column), part(part) {}

  std::string ToString() const {
    std::string text(subject);
    const auto append_word = [&text](std::string_view word) {
      if (!text.empty()) {
        text.push_back(' ');
      }
      text.append(word);
    };
    if (column != 0) {
      append_word("column " + std::to_string(column));
    }
    if (!part.empty()) {
      append_word(part);
    }
    return text;
  }

  std::string_view subject;
  size_t column = 0;  // 0: not a column
  std::string_view part;
};

// A bounds-checked cursor over one message that reads PostgreSQL's network byte order
// (big-endian). Every read checks that its bytes are there and turns a short buffer into
// kCorruption "<protocol> <message> is truncated: ..."; nothing reads past the end.
//
// Thread safety: a value over borrowed bytes, owned by one call. REQUIRES: `data`, `protocol` and
// `message` outlive the reader.
class BigEndianReader {
 public:
  BigEndianReader(std::string_view data, std::string_view protocol, std::string_view message)
      : data_(data), protocol_(protocol), message_(message) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return data_.size() - offset_; }

  Result<uint8_t> Byte(const FieldName& field) {
    if (remaining() < 1) {
      return Truncated(1, field);
    }
    return static_cast<uint8_t>(data_[offset_++]);
  }
  Result<int16_t> Int16(const FieldName& field) {
    TANDEM_ASSIGN_OR_RETURN(uint16_t bits, Unsigned<uint16_t>(field));
    return static_cast<int16_t>(bits);  // two's complement, as the server wrote it
  }
  Result<uint32_t> UInt32(const FieldName& field) { return Unsigned<uint32_t>(field); }
  Result<int32_t> Int32(const FieldName& field) {
    TANDEM_ASSIGN_OR_RETURN(uint32_t bits, Unsigned<uint32_t>(field));
    return static_cast<int32_t>(bits);
  }
  Result<uint64_t> UInt64(const FieldName& field) { return Unsigned<uint64_t>(field); }
  Result<int64_t> Int64(const FieldName& field) {
    TANDEM_ASSIGN_OR_RETURN(uint64_t bits, Unsigned<uint64_t>(field));
    return static_cast<int64_t>(bits);
  }

  // `size` bytes, borrowed from the message.
  Result<std::string_view> Bytes(size_t size, const FieldName& field) {
    if (remaining() < size) {
      return Truncated(size, field);
    }
    std::string_view bytes = data_.substr(offset_, size);
    offset_ += size;
    return bytes;
  }

  // A String: the bytes up to a NUL (borrowed, without the NUL); the NUL is consumed.
  Result<std::string_view> String(const FieldName& field) {
    // memchr is not called on zero bytes: the pointer could be null then.
    const void* nul =
        remaining() == 0 ? nullptr : std::memchr(data_.data() + offset_, '\0', remaining());
    if (nul == nullptr) {
      return Error(Concat({field.ToString(), " has no NUL terminator in the ",
                           std::to_string(remaining()), " bytes left"}));
    }
    const size_t length = static_cast<const char*>(nul) - (data_.data() + offset_);
    std::string_view text = data_.substr(offset_, length);
    offset_ += length + 1;
    return text;
  }

  // Everything not read yet (possibly empty), borrowed; the cursor moves to the end.
  std::string_view Rest() {
    std::string_view rest = data_.substr(offset_);
    offset_ = data_.size();
    return rest;
  }

  // OK when every byte was read; else kCorruption naming how many are left over.
  Status ExpectEnd() const {
    if (remaining() == 0) {
      return Status::Ok();
    }
    return Error(Concat({std::to_string(remaining()), " trailing bytes after the complete ",
                         message_, " message"}));
  }

  // kCorruption "<protocol> <message>: <what> (at byte <offset>)"; ErrorAt names the offset where
  // the wrong field starts (the cursor has moved past it by the time it is checked).
  Status Error(std::string_view what) const { return ErrorAt(offset_, what); }
  Status ErrorAt(size_t offset, std::string_view what) const {
    return engine::Corruption(
        Concat({protocol_, " ", message_, ": ", what, " (at byte ", std::to_string(offset), ")"}));
  }

 private:
  template <typename UnsignedInteger>
  Result<UnsignedInteger> Unsigned(const FieldName& field) {
    static_assert(std::is_unsigned_v<UnsignedInteger>);
    constexpr size_t kSize = sizeof(UnsignedInteger);
    if (remaining() < kSize) {
      return Truncated(kSize, field);
    }
    UnsignedInteger value = 0;
    for (size_t i = 0; i < kSize; ++i) {
      value = static_cast<UnsignedInteger>((value << 8) |
                                           static_cast<unsigned char>(data_[offset_ + i]));
    }
    offset_ += kSize;
    return value;
  }

  Status Truncated(size_t wanted, const FieldName& field) const {
    return engine::Corruption(
        Concat({protocol_, " ", message_, " is truncated: ", field.ToString(), " needs ",
                std::to_string(wanted), " bytes at byte ", std::to_string(offset_), ", only ",
                std::to_string(remaining()), " left"}));
  }

  std::string_view data_;
  std::string_view protocol_;
  std::string_view message_;
  size_t offset_ = 0;
};

void AppendBigEndian64(uint64_t value, std::string& out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// ---- Message names --------------------------------------------------------------------------

// The documentation's name of each message type; the primary template is empty so that a message
// type without a name fails the static_assert in PgOutputMessageName.
template <typename Message>
constexpr std::string_view kMessageName = {};
template <>
constexpr std::string_view kMessageName<BeginMessage> = "Begin";
template <>
constexpr std::string_view kMessageName<CommitMessage> = "Commit";
template <>
constexpr std::string_view kMessageName<OriginMessage> = "Origin";
template <>
constexpr std::string_view kMessageName<RelationMessage> = "Relation";
template <>
constexpr std::string_view kMessageName<TypeMessage> = "Type";
template <>
constexpr std::string_view kMessageName<InsertMessage> = "Insert";
template <>
constexpr std::string_view kMessageName<UpdateMessage> = "Update";
template <>
constexpr std::string_view kMessageName<DeleteMessage> = "Delete";
template <>
constexpr std::string_view kMessageName<TruncateMessage> = "Truncate";
template <>
constexpr std::string_view kMessageName<LogicalMessage> = "Message";
template <>
constexpr std::string_view kMessageName<StreamStartMessage> = "Stream Start";
template <>
constexpr std::string_view kMessageName<StreamStopMessage> = "Stream Stop";
template <>
constexpr std::string_view kMessageName<StreamCommitMessage> = "Stream Commit";
template <>
constexpr std::string_view kMessageName<StreamAbortMessage> = "Stream Abort";

// ---- Tuple data -----------------------------------------------------------------------------

// Reads a TupleData. `tuple` names it in errors: "new tuple", "old key" or "old tuple".
Result<TupleData> ReadTupleData(BigEndianReader& reader, std::string_view tuple) {
  const size_t count_offset = reader.offset();
  TANDEM_ASSIGN_OR_RETURN(int16_t count, reader.Int16(FieldName(tuple, "column count")));
  if (count < 0) {
    return reader.ErrorAt(count_offset,
                          Concat({tuple, " column count ", std::to_string(count), " is negative"}));
  }
  // Every column takes at least its kind byte. Checking before reserving keeps a corrupt count
  // from allocating more than the message could fill.
  if (static_cast<size_t>(count) > reader.remaining()) {
    return reader.ErrorAt(count_offset, Concat({tuple, " column count ", std::to_string(count),
                                                " exceeds the ", std::to_string(reader.remaining()),
                                                " bytes left (each column takes at least one)"}));
  }
  TupleData columns;
  columns.reserve(static_cast<size_t>(count));
  for (size_t number = 1; number <= static_cast<size_t>(count); ++number) {
    TANDEM_ASSIGN_OR_RETURN(uint8_t kind, reader.Byte(FieldName(tuple, number, "kind")));
    TupleColumn& column = columns.emplace_back();
    switch (kind) {
      case static_cast<uint8_t>(TupleColumn::Kind::kNull):
        column.kind = TupleColumn::Kind::kNull;
        break;
      case static_cast<uint8_t>(TupleColumn::Kind::kUnchangedToast):
        column.kind = TupleColumn::Kind::kUnchangedToast;
        break;
      case static_cast<uint8_t>(TupleColumn::Kind::kText):
      case static_cast<uint8_t>(TupleColumn::Kind::kBinary): {
        column.kind = static_cast<TupleColumn::Kind>(kind);
        const size_t length_offset = reader.offset();
        TANDEM_ASSIGN_OR_RETURN(int32_t length, reader.Int32(FieldName(tuple, number, "length")));
        if (length < 0) {
          return reader.ErrorAt(length_offset,
                                Concat({FieldName(tuple, number, "length").ToString(), " ",
                                        std::to_string(length), " is negative"}));
        }
        if (static_cast<size_t>(length) > reader.remaining()) {
          return reader.ErrorAt(
              length_offset,
              Concat({FieldName(tuple, number, "length").ToString(), " ", std::to_string(length),
                      " exceeds the ", std::to_string(reader.remaining()), " bytes left"}));
        }
        TANDEM_ASSIGN_OR_RETURN(
            std::string_view value,
            reader.Bytes(static_cast<size_t>(length), FieldName(tuple, number, "value")));
        column.value.assign(value);
        break;
      }
      default:
        return reader.ErrorAt(
            reader.offset() - 1,
            Concat({FieldName(tuple, number, "kind").ToString(), " ", DescribeByte(kind),
                    " is unknown (expected 'n', 'u', 't' or 'b')"}));
    }
  }
  return columns;
}

// ---- Messages -------------------------------------------------------------------------------

// The xid that data messages carry first inside a streamed block; 0 outside one.
Result<uint32_t> ReadStreamedXid(BigEndianReader& reader, bool in_streamed_block) {
  if (!in_streamed_block) {
    return uint32_t{0};
  }
  return reader.UInt32("xid");
}

Result<BeginMessage> ReadBegin(BigEndianReader& reader) {
  BeginMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.final_lsn, reader.UInt64("final LSN"));
  TANDEM_ASSIGN_OR_RETURN(message.commit_time, reader.Int64("commit time"));
  TANDEM_ASSIGN_OR_RETURN(message.xid, reader.UInt32("xid"));
  return message;
}

Result<CommitMessage> ReadCommit(BigEndianReader& reader) {
  CommitMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.flags, reader.Byte("flags"));
  TANDEM_ASSIGN_OR_RETURN(message.commit_lsn, reader.UInt64("commit LSN"));
  TANDEM_ASSIGN_OR_RETURN(message.end_lsn, reader.UInt64("end LSN"));
  TANDEM_ASSIGN_OR_RETURN(message.commit_time, reader.Int64("commit time"));
  return message;
}

Result<OriginMessage> ReadOrigin(BigEndianReader& reader) {
  OriginMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.commit_lsn, reader.UInt64("commit LSN"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view name, reader.String("origin name"));
  message.name.assign(name);
  return message;
}

// The fewest bytes a Relation column can take: flags, an empty name's NUL, type OID, modifier.
constexpr size_t kMinRelationColumnBytes = 1 + 1 + 4 + 4;

Result<RelationMessage> ReadRelation(BigEndianReader& reader, bool in_streamed_block) {
  RelationMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, ReadStreamedXid(reader, in_streamed_block));
  TANDEM_ASSIGN_OR_RETURN(message.relation_oid, reader.UInt32("relation OID"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view schema, reader.String("namespace"));
  message.schema.assign(schema);
  TANDEM_ASSIGN_OR_RETURN(std::string_view name, reader.String("relation name"));
  message.name.assign(name);
  TANDEM_ASSIGN_OR_RETURN(uint8_t identity, reader.Byte("replica identity"));
  if (identity != 'd' && identity != 'n' && identity != 'f' && identity != 'i') {
    return reader.ErrorAt(reader.offset() - 1,
                          Concat({"replica identity ", DescribeByte(identity),
                                  " is unknown (expected 'd', 'n', 'f' or 'i')"}));
  }
  message.replica_identity = static_cast<char>(identity);
  const size_t count_offset = reader.offset();
  TANDEM_ASSIGN_OR_RETURN(int16_t count, reader.Int16("column count"));
  if (count < 0) {
    return reader.ErrorAt(count_offset,
                          Concat({"column count ", std::to_string(count), " is negative"}));
  }
  if (static_cast<size_t>(count) * kMinRelationColumnBytes > reader.remaining()) {
    return reader.ErrorAt(count_offset, Concat({"column count ", std::to_string(count),
                                                " exceeds the ", std::to_string(reader.remaining()),
                                                " bytes left (each column takes at least ",
                                                std::to_string(kMinRelationColumnBytes), ")"}));
  }
  message.columns.reserve(static_cast<size_t>(count));
  for (size_t number = 1; number <= static_cast<size_t>(count); ++number) {
    RelationColumn& column = message.columns.emplace_back();
    TANDEM_ASSIGN_OR_RETURN(uint8_t flags, reader.Byte(FieldName("", number, "flags")));
    column.part_of_key = (flags & 1) != 0;
    TANDEM_ASSIGN_OR_RETURN(std::string_view column_name,
                            reader.String(FieldName("", number, "name")));
    column.name.assign(column_name);
    TANDEM_ASSIGN_OR_RETURN(column.type_oid, reader.UInt32(FieldName("", number, "type OID")));
    TANDEM_ASSIGN_OR_RETURN(column.type_modifier,
                            reader.Int32(FieldName("", number, "type modifier")));
  }
  return message;
}

Result<TypeMessage> ReadType(BigEndianReader& reader, bool in_streamed_block) {
  TypeMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, ReadStreamedXid(reader, in_streamed_block));
  TANDEM_ASSIGN_OR_RETURN(message.type_oid, reader.UInt32("type OID"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view schema, reader.String("namespace"));
  message.schema.assign(schema);
  TANDEM_ASSIGN_OR_RETURN(std::string_view name, reader.String("type name"));
  message.name.assign(name);
  return message;
}

// Reads the byte that introduces a tuple and checks it is one of `expected` (for example "KO").
Result<uint8_t> ReadTupleMarker(BigEndianReader& reader, std::string_view expected,
                                std::string_view expected_text) {
  TANDEM_ASSIGN_OR_RETURN(uint8_t marker, reader.Byte("tuple marker"));
  if (expected.find(static_cast<char>(marker)) == std::string_view::npos) {
    return reader.ErrorAt(reader.offset() - 1, Concat({"tuple marker ", DescribeByte(marker),
                                                       " is not ", expected_text}));
  }
  return marker;
}

std::string_view OldTupleName(uint8_t marker) { return marker == 'K' ? "old key" : "old tuple"; }

Result<InsertMessage> ReadInsert(BigEndianReader& reader, bool in_streamed_block) {
  InsertMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, ReadStreamedXid(reader, in_streamed_block));
  TANDEM_ASSIGN_OR_RETURN(message.relation_oid, reader.UInt32("relation OID"));
  TANDEM_RETURN_IF_ERROR(ReadTupleMarker(reader, "N", "'N' (new tuple)"));
  TANDEM_ASSIGN_OR_RETURN(message.new_tuple, ReadTupleData(reader, "new tuple"));
  return message;
}

Result<UpdateMessage> ReadUpdate(BigEndianReader& reader, bool in_streamed_block) {
  UpdateMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, ReadStreamedXid(reader, in_streamed_block));
  TANDEM_ASSIGN_OR_RETURN(message.relation_oid, reader.UInt32("relation OID"));
  TANDEM_ASSIGN_OR_RETURN(uint8_t marker, ReadTupleMarker(reader, "KON",
                                                          "'K' (old key), 'O' (old tuple) or "
                                                          "'N' (new tuple)"));
  if (marker != 'N') {
    message.old_kind = static_cast<OldTupleKind>(marker);
    TANDEM_ASSIGN_OR_RETURN(message.old_tuple, ReadTupleData(reader, OldTupleName(marker)));
    TANDEM_RETURN_IF_ERROR(ReadTupleMarker(reader, "N", "'N' (new tuple)"));
  }
  TANDEM_ASSIGN_OR_RETURN(message.new_tuple, ReadTupleData(reader, "new tuple"));
  return message;
}

Result<DeleteMessage> ReadDelete(BigEndianReader& reader, bool in_streamed_block) {
  DeleteMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, ReadStreamedXid(reader, in_streamed_block));
  TANDEM_ASSIGN_OR_RETURN(message.relation_oid, reader.UInt32("relation OID"));
  TANDEM_ASSIGN_OR_RETURN(uint8_t marker,
                          ReadTupleMarker(reader, "KO", "'K' (old key) or 'O' (old tuple)"));
  message.old_kind = static_cast<OldTupleKind>(marker);
  TANDEM_ASSIGN_OR_RETURN(message.old_tuple, ReadTupleData(reader, OldTupleName(marker)));
  return message;
}

constexpr uint8_t kTruncateCascade = 1;
constexpr uint8_t kTruncateRestartIdentity = 2;

Result<TruncateMessage> ReadTruncate(BigEndianReader& reader, bool in_streamed_block) {
  TruncateMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, ReadStreamedXid(reader, in_streamed_block));
  const size_t count_offset = reader.offset();
  TANDEM_ASSIGN_OR_RETURN(int32_t count, reader.Int32("relation count"));
  if (count < 0) {
    return reader.ErrorAt(count_offset,
                          Concat({"relation count ", std::to_string(count), " is negative"}));
  }
  TANDEM_ASSIGN_OR_RETURN(uint8_t options, reader.Byte("options"));
  message.cascade = (options & kTruncateCascade) != 0;
  message.restart_identity = (options & kTruncateRestartIdentity) != 0;
  // Every OID takes 4 bytes; checked before reserving so a corrupt count allocates nothing.
  if (static_cast<uint64_t>(count) * 4 > reader.remaining()) {
    return reader.ErrorAt(count_offset, Concat({"relation count ", std::to_string(count), " needs ",
                                                std::to_string(static_cast<uint64_t>(count) * 4),
                                                " bytes of OIDs, only ",
                                                std::to_string(reader.remaining()), " left"}));
  }
  message.relation_oids.reserve(static_cast<size_t>(count));
  for (size_t number = 1; number <= static_cast<size_t>(count); ++number) {
    TANDEM_ASSIGN_OR_RETURN(uint32_t oid, reader.UInt32("relation OID"));
    message.relation_oids.push_back(oid);
  }
  return message;
}

constexpr uint8_t kMessageTransactional = 1;

Result<LogicalMessage> ReadLogicalMessage(BigEndianReader& reader, bool in_streamed_block) {
  LogicalMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, ReadStreamedXid(reader, in_streamed_block));
  TANDEM_ASSIGN_OR_RETURN(uint8_t flags, reader.Byte("flags"));
  message.transactional = (flags & kMessageTransactional) != 0;
  TANDEM_ASSIGN_OR_RETURN(message.lsn, reader.UInt64("LSN"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view prefix, reader.String("prefix"));
  message.prefix.assign(prefix);
  const size_t length_offset = reader.offset();
  TANDEM_ASSIGN_OR_RETURN(int32_t length, reader.Int32("content length"));
  if (length < 0) {
    return reader.ErrorAt(length_offset,
                          Concat({"content length ", std::to_string(length), " is negative"}));
  }
  if (static_cast<size_t>(length) > reader.remaining()) {
    return reader.ErrorAt(length_offset,
                          Concat({"content length ", std::to_string(length), " exceeds the ",
                                  std::to_string(reader.remaining()), " bytes left"}));
  }
  TANDEM_ASSIGN_OR_RETURN(std::string_view content,
                          reader.Bytes(static_cast<size_t>(length), "content"));
  message.content.assign(content);
  return message;
}

Result<StreamStartMessage> ReadStreamStart(BigEndianReader& reader) {
  StreamStartMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, reader.UInt32("xid"));
  TANDEM_ASSIGN_OR_RETURN(uint8_t first_segment, reader.Byte("first segment"));
  message.first_segment = first_segment == 1;
  return message;
}

Result<StreamStopMessage> ReadStreamStop(BigEndianReader&) { return StreamStopMessage{}; }

Result<StreamCommitMessage> ReadStreamCommit(BigEndianReader& reader) {
  StreamCommitMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, reader.UInt32("xid"));
  TANDEM_ASSIGN_OR_RETURN(message.flags, reader.Byte("flags"));
  TANDEM_ASSIGN_OR_RETURN(message.commit_lsn, reader.UInt64("commit LSN"));
  TANDEM_ASSIGN_OR_RETURN(message.end_lsn, reader.UInt64("end LSN"));
  TANDEM_ASSIGN_OR_RETURN(message.commit_time, reader.Int64("commit time"));
  return message;
}

Result<StreamAbortMessage> ReadStreamAbort(BigEndianReader& reader) {
  StreamAbortMessage message;
  TANDEM_ASSIGN_OR_RETURN(message.xid, reader.UInt32("xid"));
  TANDEM_ASSIGN_OR_RETURN(message.subtransaction_xid, reader.UInt32("subtransaction xid"));
  // Protocol 4 with streaming = parallel appends both fields; without them the message ends here.
  if (reader.remaining() > 0) {
    TANDEM_ASSIGN_OR_RETURN(message.abort_lsn, reader.UInt64("abort LSN"));
    TANDEM_ASSIGN_OR_RETURN(message.abort_time, reader.Int64("abort time"));
  }
  return message;
}

// Decodes the whole of `bytes` as a `Message`: the type byte, the fields `read_fields` reads, and
// nothing after them.
template <typename Message, typename ReadFields>
Result<PgOutputMessage> DecodeWhole(std::string_view bytes, ReadFields read_fields) {
  BigEndianReader reader(bytes, "pgoutput", kMessageName<Message>);
  TANDEM_RETURN_IF_ERROR(reader.Byte("message type"));
  TANDEM_ASSIGN_OR_RETURN(Message message, read_fields(reader));
  TANDEM_RETURN_IF_ERROR(reader.ExpectEnd());
  return PgOutputMessage(std::in_place_type<Message>, std::move(message));
}

Status TwoPhaseUnsupported(std::string_view message_name) {
  return engine::Unsupported(
      Concat({"pgoutput ", message_name,
              ": two-phase commit messages are not supported (tandem does not request "
              "two_phase; check the START_REPLICATION options)"}));
}

}  // namespace

// ---- Replication protocol frames --------------------------------------------------------------

Result<ReplicationFrame> DecodeReplicationFrame(std::string_view bytes) {
  if (bytes.empty()) {
    return engine::Corruption(
        "replication frame is empty (expected 'w' XLogData or 'k' Primary keepalive)");
  }
  switch (bytes.front()) {
    case 'w': {
      BigEndianReader reader(bytes, "replication", "XLogData");
      TANDEM_RETURN_IF_ERROR(reader.Byte("message type"));
      XLogData frame;
      TANDEM_ASSIGN_OR_RETURN(frame.start_lsn, reader.UInt64("start LSN"));
      TANDEM_ASSIGN_OR_RETURN(frame.wal_end, reader.UInt64("end of WAL"));
      TANDEM_ASSIGN_OR_RETURN(frame.send_time, reader.Int64("send time"));
      frame.payload.assign(reader.Rest());
      return ReplicationFrame(std::in_place_type<XLogData>, std::move(frame));
    }
    case 'k': {
      BigEndianReader reader(bytes, "replication", "Primary keepalive");
      TANDEM_RETURN_IF_ERROR(reader.Byte("message type"));
      PrimaryKeepalive frame;
      TANDEM_ASSIGN_OR_RETURN(frame.wal_end, reader.UInt64("end of WAL"));
      TANDEM_ASSIGN_OR_RETURN(frame.send_time, reader.Int64("send time"));
      TANDEM_ASSIGN_OR_RETURN(uint8_t reply_requested, reader.Byte("reply requested"));
      frame.reply_requested = reply_requested != 0;
      TANDEM_RETURN_IF_ERROR(reader.ExpectEnd());
      return ReplicationFrame(std::in_place_type<PrimaryKeepalive>, frame);
    }
    default:
      return engine::Corruption(Concat({"replication frame: unknown type ",
                                        DescribeByte(static_cast<uint8_t>(bytes.front())),
                                        " (expected 'w' XLogData or 'k' Primary keepalive)"}));
  }
}

std::string EncodeStandbyStatusUpdate(uint64_t written_lsn, uint64_t flushed_lsn,
                                      uint64_t applied_lsn, int64_t client_time,
                                      bool reply_requested) {
  std::string out;
  out.reserve(1 + 4 * 8 + 1);
  out.push_back('r');
  AppendBigEndian64(written_lsn, out);
  AppendBigEndian64(flushed_lsn, out);
  AppendBigEndian64(applied_lsn, out);
  AppendBigEndian64(static_cast<uint64_t>(client_time), out);
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

int64_t PostgresEpochMicrosNow() {
  const auto since_unix_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(since_unix_epoch).count() -
         kPostgresEpochOffsetMicros;
}

// ---- pgoutput messages ------------------------------------------------------------------------

Result<PgOutputMessage> DecodePgOutputMessage(std::string_view bytes, bool in_streamed_block) {
  if (bytes.empty()) {
    return engine::Corruption("pgoutput message is empty");
  }
  const auto streamed = [in_streamed_block](auto read_fields) {
    return [read_fields, in_streamed_block](BigEndianReader& reader) {
      return read_fields(reader, in_streamed_block);
    };
  };
  switch (bytes.front()) {
    case 'B':
      return DecodeWhole<BeginMessage>(bytes, ReadBegin);
    case 'C':
      return DecodeWhole<CommitMessage>(bytes, ReadCommit);
    case 'O':
      return DecodeWhole<OriginMessage>(bytes, ReadOrigin);
    case 'R':
      return DecodeWhole<RelationMessage>(bytes, streamed(ReadRelation));
    case 'Y':
      return DecodeWhole<TypeMessage>(bytes, streamed(ReadType));
    case 'I':
      return DecodeWhole<InsertMessage>(bytes, streamed(ReadInsert));
    case 'U':
      return DecodeWhole<UpdateMessage>(bytes, streamed(ReadUpdate));
    case 'D':
      return DecodeWhole<DeleteMessage>(bytes, streamed(ReadDelete));
    case 'T':
      return DecodeWhole<TruncateMessage>(bytes, streamed(ReadTruncate));
    case 'M':
      return DecodeWhole<LogicalMessage>(bytes, streamed(ReadLogicalMessage));
    case 'S':
      return DecodeWhole<StreamStartMessage>(bytes, ReadStreamStart);
    case 'E':
      return DecodeWhole<StreamStopMessage>(bytes, ReadStreamStop);
    case 'c':
      return DecodeWhole<StreamCommitMessage>(bytes, ReadStreamCommit);
    case 'A':
      return DecodeWhole<StreamAbortMessage>(bytes, ReadStreamAbort);
    case 'b':
      return TwoPhaseUnsupported("Begin Prepare");
    case 'P':
      return TwoPhaseUnsupported("Prepare");
    case 'K':
      return TwoPhaseUnsupported("Commit Prepared");
    case 'r':
      return TwoPhaseUnsupported("Rollback Prepared");
    case 'p':
      return TwoPhaseUnsupported("Stream Prepare");
    default:
      return engine::Corruption(Concat(
          {"pgoutput message: unknown type ", DescribeByte(static_cast<uint8_t>(bytes.front())),
           " (", std::to_string(bytes.size()), " bytes; is the slot's plugin pgoutput?)"}));
  }
}

std::string_view PgOutputMessageName(const PgOutputMessage& message) {
  return std::visit(
      [](const auto& alternative) {
        using Message = std::decay_t<decltype(alternative)>;
        static_assert(!kMessageName<Message>.empty(), "every message type has a name");
        return kMessageName<Message>;
      },
      message);
}

}  // namespace tandem::connectors::postgres::pgoutput
