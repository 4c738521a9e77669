// pgoutput messages and replication-protocol frames decoded from hand-built bytes, laid out as the
// PostgreSQL documentation's "Logical Replication Message Formats" and "Streaming Replication
// Protocol" describe them: every message kind whole, inside and outside a streamed block,
// truncated at every length, with trailing bytes, and corrupted.

#include "connectors/postgres/pgoutput/pgoutput_message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <random>

namespace tandem::connectors::postgres::pgoutput {
namespace {

using engine::StatusCode;
using ::testing::HasSubstr;
using Kind = TupleColumn::Kind;

// Writes bytes the way the server does: big-endian integers, NUL-terminated strings.
class WireWriter {
 public:
  WireWriter& Byte(uint8_t value) {
    bytes_.push_back(static_cast<char>(value));
    return *this;
  }
  WireWriter& Int16(int16_t value) { return BigEndian(static_cast<uint16_t>(value), 2); }
  WireWriter& Int32(int32_t value) { return BigEndian(static_cast<uint32_t>(value), 4); }
  WireWriter& UInt32(uint32_t value) { return BigEndian(value, 4); }
  WireWriter& Int64(int64_t value) { return BigEndian(static_cast<uint64_t>(value), 8); }
  WireWriter& UInt64(uint64_t value) { return BigEndian(value, 8); }
  WireWriter& String(std::string_view text) {
    bytes_.append(text);
    bytes_.push_back('\0');
    return *this;
  }
  WireWriter& Raw(std::string_view bytes) {
    bytes_.append(bytes);
    return *this;
  }

  // TupleData columns (after an Int16 column count).
  WireWriter& NullColumn() { return Byte('n'); }
  WireWriter& UnchangedToastColumn() { return Byte('u'); }
  WireWriter& TextColumn(std::string_view value) {
    return Byte('t').Int32(static_cast<int32_t>(value.size())).Raw(value);
  }
  WireWriter& BinaryColumn(std::string_view value) {
    return Byte('b').Int32(static_cast<int32_t>(value.size())).Raw(value);
  }

  const std::string& bytes() const { return bytes_; }

 private:
  WireWriter& BigEndian(uint64_t value, int size) {
    for (int shift = 8 * (size - 1); shift >= 0; shift -= 8) {
      bytes_.push_back(static_cast<char>((value >> shift) & 0xff));
    }
    return *this;
  }

  std::string bytes_;
};

constexpr uint64_t kLsn = 0x0000'0001'16A3'B1C8;
constexpr uint64_t kEndLsn = 0x0000'0001'16A3'B200;
constexpr int64_t kTime = 817'000'000'123'456;  // late 2025, in PostgreSQL-epoch microseconds
constexpr uint32_t kXid = 0x8000'0001;          // above 2^31: must not come back negative
constexpr uint32_t kOid = 16'385;

// Decodes `bytes` and returns the `Message` it holds; records a failure (and returns a default
// message) when decoding fails or gives another message kind.
template <typename Message>
Message DecodeAs(const std::string& bytes, bool in_streamed_block = false) {
  auto decoded = DecodePgOutputMessage(bytes, in_streamed_block);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  if (!decoded.ok()) {
    return Message{};
  }
  const Message* message = std::get_if<Message>(&*decoded);
  EXPECT_NE(message, nullptr) << "decoded as " << PgOutputMessageName(*decoded);
  return message != nullptr ? *message : Message{};
}

engine::Status DecodeError(const std::string& bytes, bool in_streamed_block = false) {
  auto decoded = DecodePgOutputMessage(bytes, in_streamed_block);
  EXPECT_FALSE(decoded.ok()) << "decoded as " << PgOutputMessageName(*decoded);
  return decoded.status();
}

// ---- Messages whole --------------------------------------------------------------------------

std::string BeginBytes() {
  return WireWriter().Byte('B').UInt64(kLsn).Int64(kTime).UInt32(kXid).bytes();
}

TEST(PgOutputMessage, BeginCarriesFinalLsnCommitTimeAndXid) {
  const auto begin = DecodeAs<BeginMessage>(BeginBytes());
  EXPECT_EQ(begin.final_lsn, kLsn);
  EXPECT_EQ(begin.commit_time, kTime);
  EXPECT_EQ(begin.xid, kXid);
}

std::string CommitBytes() {
  return WireWriter().Byte('C').Byte(0).UInt64(kLsn).UInt64(kEndLsn).Int64(kTime).bytes();
}

TEST(PgOutputMessage, CommitCarriesFlagsLsnsAndCommitTime) {
  const auto commit = DecodeAs<CommitMessage>(
      WireWriter().Byte('C').Byte(0x5a).UInt64(kLsn).UInt64(kEndLsn).Int64(-kTime).bytes());
  EXPECT_EQ(commit.flags, 0x5a);
  EXPECT_EQ(commit.commit_lsn, kLsn);
  EXPECT_EQ(commit.end_lsn, kEndLsn);
  EXPECT_EQ(commit.commit_time, -kTime);  // before 2000: negative on the wire and decoded
}

std::string OriginBytes() { return WireWriter().Byte('O').UInt64(kLsn).String("pg_16390").bytes(); }

TEST(PgOutputMessage, OriginCarriesCommitLsnAndName) {
  const auto origin = DecodeAs<OriginMessage>(OriginBytes());
  EXPECT_EQ(origin.commit_lsn, kLsn);
  EXPECT_EQ(origin.name, "pg_16390");
}

// public.orders (id int4 key, note text, price numeric(10,2)), REPLICA IDENTITY DEFAULT.
WireWriter RelationFields(WireWriter writer) {
  return writer.UInt32(kOid)
      .String("public")
      .String("orders")
      .Byte('d')
      .Int16(3)
      .Byte(1)
      .String("id")
      .UInt32(23)
      .Int32(-1)
      .Byte(0)
      .String("note")
      .UInt32(25)
      .Int32(-1)
      .Byte(0)
      .String("price")
      .UInt32(1700)
      .Int32((10 << 16 | 2) + 4);
}

std::string RelationBytes() { return RelationFields(WireWriter().Byte('R')).bytes(); }

TEST(PgOutputMessage, RelationCarriesColumnsKeyFlagsTypesAndModifiers) {
  const auto relation = DecodeAs<RelationMessage>(RelationBytes());
  EXPECT_EQ(relation.xid, 0u);
  EXPECT_EQ(relation.relation_oid, kOid);
  EXPECT_EQ(relation.schema, "public");
  EXPECT_EQ(relation.name, "orders");
  EXPECT_EQ(relation.replica_identity, 'd');
  const std::vector<RelationColumn> expected = {
      {true, "id", 23, -1}, {false, "note", 25, -1}, {false, "price", 1700, (10 << 16 | 2) + 4}};
  EXPECT_EQ(relation.columns, expected);
}

TEST(PgOutputMessage, RelationInPgCatalogHasAnEmptyNamespaceAndMayHaveNoColumns) {
  const auto relation = DecodeAs<RelationMessage>(
      WireWriter().Byte('R').UInt32(1259).String("").String("pg_class").Byte('n').Int16(0).bytes());
  EXPECT_EQ(relation.schema, "");
  EXPECT_EQ(relation.name, "pg_class");
  EXPECT_EQ(relation.replica_identity, 'n');
  EXPECT_TRUE(relation.columns.empty());
}

TEST(PgOutputMessage, RelationAcceptsEveryReplicaIdentity) {
  for (char identity : {'d', 'n', 'f', 'i'}) {
    const auto relation = DecodeAs<RelationMessage>(WireWriter()
                                                        .Byte('R')
                                                        .UInt32(kOid)
                                                        .String("s")
                                                        .String("t")
                                                        .Byte(identity)
                                                        .Int16(0)
                                                        .bytes());
    EXPECT_EQ(relation.replica_identity, identity);
  }
}

TEST(PgOutputMessage, RelationColumnFlagsOtherThanTheKeyBitAreIgnored) {
  const auto relation = DecodeAs<RelationMessage>(WireWriter()
                                                      .Byte('R')
                                                      .UInt32(kOid)
                                                      .String("s")
                                                      .String("t")
                                                      .Byte('f')
                                                      .Int16(2)
                                                      .Byte(0x03)
                                                      .String("a")
                                                      .UInt32(23)
                                                      .Int32(-1)
                                                      .Byte(0x02)
                                                      .String("b")
                                                      .UInt32(23)
                                                      .Int32(-1)
                                                      .bytes());
  ASSERT_EQ(relation.columns.size(), 2u);
  EXPECT_TRUE(relation.columns[0].part_of_key);
  EXPECT_FALSE(relation.columns[1].part_of_key);
}

std::string TypeBytes() {
  return WireWriter().Byte('Y').UInt32(16'400).String("public").String("mood").bytes();
}

TEST(PgOutputMessage, TypeCarriesOidNamespaceAndName) {
  const auto type = DecodeAs<TypeMessage>(TypeBytes());
  EXPECT_EQ(type.xid, 0u);
  EXPECT_EQ(type.type_oid, 16'400u);
  EXPECT_EQ(type.schema, "public");
  EXPECT_EQ(type.name, "mood");
}

const std::string kBinaryValue("\x00\xff\x7f\x80\x01", 5);

// A new tuple with one column of each kind.
WireWriter EveryKindTuple(WireWriter writer) {
  return writer.Int16(5)
      .NullColumn()
      .UnchangedToastColumn()
      .TextColumn("hello")
      .BinaryColumn(kBinaryValue)
      .TextColumn("");
}

const TupleData kEveryKindTuple = {
    {Kind::kNull, ""},      {Kind::kUnchangedToast, ""},
    {Kind::kText, "hello"}, {Kind::kBinary, kBinaryValue},
    {Kind::kText, ""},
};

std::string InsertBytes() {
  return EveryKindTuple(WireWriter().Byte('I').UInt32(kOid).Byte('N')).bytes();
}

TEST(PgOutputMessage, InsertDecodesEveryTupleColumnKind) {
  const auto insert = DecodeAs<InsertMessage>(InsertBytes());
  EXPECT_EQ(insert.xid, 0u);
  EXPECT_EQ(insert.relation_oid, kOid);
  EXPECT_EQ(insert.new_tuple, kEveryKindTuple);
}

TEST(PgOutputMessage, InsertIntoATableWithoutColumnsHasAnEmptyTuple) {
  const auto insert =
      DecodeAs<InsertMessage>(WireWriter().Byte('I').UInt32(kOid).Byte('N').Int16(0).bytes());
  EXPECT_TRUE(insert.new_tuple.empty());
}

TEST(PgOutputMessage, TextValuesKeepEmbeddedNulAndHighBytes) {
  const std::string value("a\0b\xc3\xa9", 5);
  const auto insert = DecodeAs<InsertMessage>(
      WireWriter().Byte('I').UInt32(kOid).Byte('N').Int16(1).TextColumn(value).bytes());
  ASSERT_EQ(insert.new_tuple.size(), 1u);
  EXPECT_EQ(insert.new_tuple[0].value, value);
}

std::string UpdateWithOldKeyBytes() {
  return WireWriter()
      .Byte('U')
      .UInt32(kOid)
      .Byte('K')
      .Int16(2)
      .TextColumn("7")
      .NullColumn()
      .Byte('N')
      .Int16(2)
      .TextColumn("8")
      .UnchangedToastColumn()
      .bytes();
}

TEST(PgOutputMessage, UpdateWithOldKey) {
  const auto update = DecodeAs<UpdateMessage>(UpdateWithOldKeyBytes());
  EXPECT_EQ(update.relation_oid, kOid);
  EXPECT_EQ(update.old_kind, OldTupleKind::kKey);
  EXPECT_EQ(update.old_tuple, (TupleData{{Kind::kText, "7"}, {Kind::kNull, ""}}));
  EXPECT_EQ(update.new_tuple, (TupleData{{Kind::kText, "8"}, {Kind::kUnchangedToast, ""}}));
}

TEST(PgOutputMessage, UpdateWithOldTuple) {
  const auto update = DecodeAs<UpdateMessage>(WireWriter()
                                                  .Byte('U')
                                                  .UInt32(kOid)
                                                  .Byte('O')
                                                  .Int16(2)
                                                  .TextColumn("7")
                                                  .TextColumn("old")
                                                  .Byte('N')
                                                  .Int16(2)
                                                  .TextColumn("7")
                                                  .TextColumn("new")
                                                  .bytes());
  EXPECT_EQ(update.old_kind, OldTupleKind::kFull);
  EXPECT_EQ(update.old_tuple, (TupleData{{Kind::kText, "7"}, {Kind::kText, "old"}}));
  EXPECT_EQ(update.new_tuple, (TupleData{{Kind::kText, "7"}, {Kind::kText, "new"}}));
}

std::string UpdateWithoutOldTupleBytes() {
  return EveryKindTuple(WireWriter().Byte('U').UInt32(kOid).Byte('N')).bytes();
}

TEST(PgOutputMessage, UpdateWithoutOldTuple) {
  const auto update = DecodeAs<UpdateMessage>(UpdateWithoutOldTupleBytes());
  EXPECT_EQ(update.old_kind, OldTupleKind::kNone);
  EXPECT_TRUE(update.old_tuple.empty());
  EXPECT_EQ(update.new_tuple, kEveryKindTuple);
}

std::string DeleteWithOldKeyBytes() {
  return WireWriter()
      .Byte('D')
      .UInt32(kOid)
      .Byte('K')
      .Int16(3)
      .TextColumn("7")
      .NullColumn()
      .NullColumn()
      .bytes();
}

TEST(PgOutputMessage, DeleteWithOldKey) {
  const auto deleted = DecodeAs<DeleteMessage>(DeleteWithOldKeyBytes());
  EXPECT_EQ(deleted.relation_oid, kOid);
  EXPECT_EQ(deleted.old_kind, OldTupleKind::kKey);
  EXPECT_EQ(deleted.old_tuple,
            (TupleData{{Kind::kText, "7"}, {Kind::kNull, ""}, {Kind::kNull, ""}}));
}

TEST(PgOutputMessage, DeleteWithOldTuple) {
  const auto deleted = DecodeAs<DeleteMessage>(
      EveryKindTuple(WireWriter().Byte('D').UInt32(kOid).Byte('O')).bytes());
  EXPECT_EQ(deleted.old_kind, OldTupleKind::kFull);
  EXPECT_EQ(deleted.old_tuple, kEveryKindTuple);
}

std::string TruncateBytes(uint8_t options) {
  return WireWriter()
      .Byte('T')
      .Int32(3)
      .Byte(options)
      .UInt32(kOid)
      .UInt32(kOid + 1)
      .UInt32(0xffff'fff0)
      .bytes();
}

TEST(PgOutputMessage, TruncateCarriesOptionsAndRelationOids) {
  struct Case {
    uint8_t options;
    bool cascade;
    bool restart_identity;
  };
  for (const Case& c :
       {Case{0, false, false}, Case{1, true, false}, Case{2, false, true}, Case{3, true, true}}) {
    SCOPED_TRACE(static_cast<int>(c.options));
    const auto truncate = DecodeAs<TruncateMessage>(TruncateBytes(c.options));
    EXPECT_EQ(truncate.cascade, c.cascade);
    EXPECT_EQ(truncate.restart_identity, c.restart_identity);
    EXPECT_EQ(truncate.relation_oids, (std::vector<uint32_t>{kOid, kOid + 1, 0xffff'fff0}));
  }
}

std::string LogicalMessageBytes(uint8_t flags, std::string_view content) {
  return WireWriter()
      .Byte('M')
      .Byte(flags)
      .UInt64(kLsn)
      .String("tandem")
      .Int32(static_cast<int32_t>(content.size()))
      .Raw(content)
      .bytes();
}

TEST(PgOutputMessage, TransactionalLogicalMessage) {
  const std::string content("{\"heartbeat\":1}\0tail", 20);
  const auto message = DecodeAs<LogicalMessage>(LogicalMessageBytes(1, content));
  EXPECT_EQ(message.xid, 0u);
  EXPECT_TRUE(message.transactional);
  EXPECT_EQ(message.lsn, kLsn);
  EXPECT_EQ(message.prefix, "tandem");
  EXPECT_EQ(message.content, content);
}

TEST(PgOutputMessage, NonTransactionalLogicalMessageWithEmptyContent) {
  const auto message = DecodeAs<LogicalMessage>(LogicalMessageBytes(0, ""));
  EXPECT_FALSE(message.transactional);
  EXPECT_EQ(message.prefix, "tandem");
  EXPECT_EQ(message.content, "");
}

std::string StreamStartBytes(uint8_t first_segment) {
  return WireWriter().Byte('S').UInt32(kXid).Byte(first_segment).bytes();
}

TEST(PgOutputMessage, StreamStartSaysWhetherItIsTheFirstSegment) {
  const auto first = DecodeAs<StreamStartMessage>(StreamStartBytes(1));
  EXPECT_EQ(first.xid, kXid);
  EXPECT_TRUE(first.first_segment);
  const auto later = DecodeAs<StreamStartMessage>(StreamStartBytes(0));
  EXPECT_EQ(later.xid, kXid);
  EXPECT_FALSE(later.first_segment);
}

TEST(PgOutputMessage, StreamStopIsOneByte) {
  auto decoded = DecodePgOutputMessage("E", /*in_streamed_block=*/true);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(std::holds_alternative<StreamStopMessage>(*decoded));
}

std::string StreamCommitBytes() {
  return WireWriter()
      .Byte('c')
      .UInt32(kXid)
      .Byte(0)
      .UInt64(kLsn)
      .UInt64(kEndLsn)
      .Int64(kTime)
      .bytes();
}

TEST(PgOutputMessage, StreamCommitCarriesXidLsnsAndCommitTime) {
  const auto commit = DecodeAs<StreamCommitMessage>(StreamCommitBytes());
  EXPECT_EQ(commit.xid, kXid);
  EXPECT_EQ(commit.flags, 0);
  EXPECT_EQ(commit.commit_lsn, kLsn);
  EXPECT_EQ(commit.end_lsn, kEndLsn);
  EXPECT_EQ(commit.commit_time, kTime);
}

std::string StreamAbortBytes() {
  return WireWriter().Byte('A').UInt32(kXid).UInt32(kXid + 5).bytes();
}

std::string ParallelStreamAbortBytes() {
  return WireWriter().Byte('A').UInt32(kXid).UInt32(kXid).UInt64(kLsn).Int64(kTime).bytes();
}

TEST(PgOutputMessage, StreamAbortOfASubtransaction) {
  const auto abort = DecodeAs<StreamAbortMessage>(StreamAbortBytes());
  EXPECT_EQ(abort.xid, kXid);
  EXPECT_EQ(abort.subtransaction_xid, kXid + 5);
  EXPECT_EQ(abort.abort_lsn, 0u);
  EXPECT_EQ(abort.abort_time, 0);
}

TEST(PgOutputMessage, StreamAbortReadsTheProtocol4LsnAndTimeWhenPresent) {
  const auto abort = DecodeAs<StreamAbortMessage>(ParallelStreamAbortBytes());
  EXPECT_EQ(abort.xid, kXid);
  EXPECT_EQ(abort.subtransaction_xid, kXid);
  EXPECT_EQ(abort.abort_lsn, kLsn);
  EXPECT_EQ(abort.abort_time, kTime);
}

TEST(PgOutputMessage, StreamAbortWithOnlyPartOfTheProtocol4FieldsIsCorruption) {
  for (size_t size = StreamAbortBytes().size() + 1; size < ParallelStreamAbortBytes().size();
       ++size) {
    SCOPED_TRACE(size);
    EXPECT_EQ(DecodeError(ParallelStreamAbortBytes().substr(0, size)).code(),
              StatusCode::kCorruption);
  }
}

// ---- Streamed blocks -------------------------------------------------------------------------

constexpr uint32_t kStreamXid = 901;

TEST(PgOutputMessage, DataMessagesInsideAStreamedBlockCarryTheXidFirst) {
  const auto relation =
      DecodeAs<RelationMessage>(RelationFields(WireWriter().Byte('R').UInt32(kStreamXid)).bytes(),
                                /*in_streamed_block=*/true);
  EXPECT_EQ(relation.xid, kStreamXid);
  EXPECT_EQ(relation.relation_oid, kOid);
  EXPECT_EQ(relation.columns.size(), 3u);

  const auto type = DecodeAs<TypeMessage>(
      WireWriter().Byte('Y').UInt32(kStreamXid).UInt32(16'400).String("s").String("t").bytes(),
      true);
  EXPECT_EQ(type.xid, kStreamXid);
  EXPECT_EQ(type.type_oid, 16'400u);

  const auto insert = DecodeAs<InsertMessage>(
      EveryKindTuple(WireWriter().Byte('I').UInt32(kStreamXid).UInt32(kOid).Byte('N')).bytes(),
      true);
  EXPECT_EQ(insert.xid, kStreamXid);
  EXPECT_EQ(insert.relation_oid, kOid);
  EXPECT_EQ(insert.new_tuple, kEveryKindTuple);

  const auto update = DecodeAs<UpdateMessage>(WireWriter()
                                                  .Byte('U')
                                                  .UInt32(kStreamXid)
                                                  .UInt32(kOid)
                                                  .Byte('K')
                                                  .Int16(1)
                                                  .TextColumn("1")
                                                  .Byte('N')
                                                  .Int16(1)
                                                  .TextColumn("2")
                                                  .bytes(),
                                              true);
  EXPECT_EQ(update.xid, kStreamXid);
  EXPECT_EQ(update.old_kind, OldTupleKind::kKey);
  EXPECT_EQ(update.new_tuple, (TupleData{{Kind::kText, "2"}}));

  const auto deleted = DecodeAs<DeleteMessage>(WireWriter()
                                                   .Byte('D')
                                                   .UInt32(kStreamXid)
                                                   .UInt32(kOid)
                                                   .Byte('K')
                                                   .Int16(1)
                                                   .TextColumn("2")
                                                   .bytes(),
                                               true);
  EXPECT_EQ(deleted.xid, kStreamXid);
  EXPECT_EQ(deleted.relation_oid, kOid);

  const auto truncate = DecodeAs<TruncateMessage>(
      WireWriter().Byte('T').UInt32(kStreamXid).Int32(1).Byte(1).UInt32(kOid).bytes(), true);
  EXPECT_EQ(truncate.xid, kStreamXid);
  EXPECT_TRUE(truncate.cascade);
  EXPECT_EQ(truncate.relation_oids, (std::vector<uint32_t>{kOid}));

  const auto message = DecodeAs<LogicalMessage>(WireWriter()
                                                    .Byte('M')
                                                    .UInt32(kStreamXid)
                                                    .Byte(1)
                                                    .UInt64(kLsn)
                                                    .String("p")
                                                    .Int32(1)
                                                    .Raw("x")
                                                    .bytes(),
                                                true);
  EXPECT_EQ(message.xid, kStreamXid);
  EXPECT_TRUE(message.transactional);
  EXPECT_EQ(message.content, "x");
}

TEST(PgOutputMessage, ControlMessagesNeverCarryAnXidEvenInsideAStreamedBlock) {
  EXPECT_EQ(DecodeAs<BeginMessage>(BeginBytes(), true).xid, kXid);
  EXPECT_EQ(DecodeAs<CommitMessage>(CommitBytes(), true).end_lsn, kEndLsn);
  EXPECT_EQ(DecodeAs<OriginMessage>(OriginBytes(), true).name, "pg_16390");
  EXPECT_EQ(DecodeAs<StreamStartMessage>(StreamStartBytes(1), true).xid, kXid);
  EXPECT_EQ(DecodeAs<StreamCommitMessage>(StreamCommitBytes(), true).xid, kXid);
  EXPECT_EQ(DecodeAs<StreamAbortMessage>(StreamAbortBytes(), true).subtransaction_xid, kXid + 5);
}

TEST(PgOutputMessage, StreamedInsertDecodedOutsideAStreamIsCorruption) {
  // The xid is read as the relation OID, then the OID's first byte is not 'N'.
  const std::string streamed =
      WireWriter().Byte('I').UInt32(kStreamXid).UInt32(kOid).Byte('N').Int16(0).bytes();
  const engine::Status status = DecodeError(streamed, /*in_streamed_block=*/false);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_THAT(status.message(), HasSubstr("pgoutput Insert: tuple marker 0x00 is not 'N'"));
}

TEST(PgOutputMessage, UnstreamedInsertDecodedInsideAStreamIsCorruption) {
  EXPECT_EQ(DecodeError(InsertBytes(), /*in_streamed_block=*/true).code(), StatusCode::kCorruption);
}

// ---- Truncated, trailing and corrupt bytes ---------------------------------------------------

struct ValidMessage {
  std::string name;
  std::string bytes;
  bool in_streamed_block = false;
};

// One valid message of every kind (and every tuple shape) the decoder knows.
std::vector<ValidMessage> EveryValidMessage() {
  return {
      {"Begin", BeginBytes()},
      {"Commit", CommitBytes()},
      {"Origin", OriginBytes()},
      {"Relation", RelationBytes()},
      {"streamed Relation", RelationFields(WireWriter().Byte('R').UInt32(kStreamXid)).bytes(),
       true},
      {"Type", TypeBytes()},
      {"Insert", InsertBytes()},
      {"streamed Insert",
       EveryKindTuple(WireWriter().Byte('I').UInt32(kStreamXid).UInt32(kOid).Byte('N')).bytes(),
       true},
      {"Update K", UpdateWithOldKeyBytes()},
      {"Update", UpdateWithoutOldTupleBytes()},
      {"Delete K", DeleteWithOldKeyBytes()},
      {"Truncate", TruncateBytes(3)},
      {"Message", LogicalMessageBytes(1, "content")},
      {"Stream Start", StreamStartBytes(1)},
      {"Stream Stop", "E", true},
      {"Stream Commit", StreamCommitBytes()},
      {"Stream Abort", StreamAbortBytes()},
  };
}

TEST(PgOutputMessage, EveryValidMessageDecodesAndIsNamed) {
  const std::vector<std::pair<std::string, std::string_view>> expected_names = {
      {"Begin", "Begin"},
      {"Commit", "Commit"},
      {"Origin", "Origin"},
      {"Relation", "Relation"},
      {"streamed Relation", "Relation"},
      {"Type", "Type"},
      {"Insert", "Insert"},
      {"streamed Insert", "Insert"},
      {"Update K", "Update"},
      {"Update", "Update"},
      {"Delete K", "Delete"},
      {"Truncate", "Truncate"},
      {"Message", "Message"},
      {"Stream Start", "Stream Start"},
      {"Stream Stop", "Stream Stop"},
      {"Stream Commit", "Stream Commit"},
      {"Stream Abort", "Stream Abort"},
  };
  const std::vector<ValidMessage> messages = EveryValidMessage();
  ASSERT_EQ(messages.size(), expected_names.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    SCOPED_TRACE(messages[i].name);
    ASSERT_EQ(messages[i].name, expected_names[i].first);
    auto decoded = DecodePgOutputMessage(messages[i].bytes, messages[i].in_streamed_block);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(PgOutputMessageName(*decoded), expected_names[i].second);
  }
}

TEST(PgOutputMessage, TruncationAtEveryByteIsCorruption) {
  std::vector<ValidMessage> messages = EveryValidMessage();
  messages.push_back({"parallel Stream Abort", ParallelStreamAbortBytes()});
  for (const ValidMessage& message : messages) {
    for (size_t size = 0; size < message.bytes.size(); ++size) {
      // A protocol-4 Stream Abort cut right after the subtransaction xid is a whole protocol-2 one.
      if (message.name == "parallel Stream Abort" && size == StreamAbortBytes().size()) {
        continue;
      }
      SCOPED_TRACE(message.name + " cut to " + std::to_string(size) + " bytes");
      auto decoded =
          DecodePgOutputMessage(message.bytes.substr(0, size), message.in_streamed_block);
      ASSERT_FALSE(decoded.ok()) << "decoded as " << PgOutputMessageName(*decoded);
      EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption) << decoded.status().ToString();
    }
  }
}

TEST(PgOutputMessage, TruncatedMessageErrorNamesTheMessageAndTheField) {
  const std::string bytes = BeginBytes();
  const engine::Status status = DecodeError(bytes.substr(0, bytes.size() - 2));
  EXPECT_EQ(status.message(),
            "pgoutput Begin is truncated: xid needs 4 bytes at byte 17, only 2 left");
}

TEST(PgOutputMessage, TrailingBytesAfterAnyCompleteMessageAreCorruption) {
  for (const ValidMessage& message : EveryValidMessage()) {
    SCOPED_TRACE(message.name);
    // A Stream Abort followed by 16 more bytes is a protocol-4 one; one extra byte is not.
    const engine::Status status = DecodeError(message.bytes + '\x01', message.in_streamed_block);
    EXPECT_EQ(status.code(), StatusCode::kCorruption);
    if (message.name != "Stream Abort") {
      EXPECT_THAT(status.message(), HasSubstr("1 trailing bytes after the complete"));
    }
  }
  const engine::Status status = DecodeError(ParallelStreamAbortBytes() + "xy");
  EXPECT_EQ(status.message(),
            "pgoutput Stream Abort: 2 trailing bytes after the complete Stream Abort message (at "
            "byte 25)");
}

TEST(PgOutputMessage, EmptyMessageIsCorruption) {
  EXPECT_EQ(DecodeError("").code(), StatusCode::kCorruption);
}

TEST(PgOutputMessage, UnknownMessageTypeIsCorruption) {
  for (char type : {'X', 'Z', 'w', 'k', '\0', '\x80'}) {
    const engine::Status status = DecodeError(std::string(1, type) + "abcdefgh");
    EXPECT_EQ(status.code(), StatusCode::kCorruption);
    EXPECT_THAT(status.message(), HasSubstr("pgoutput message: unknown type"));
  }
  EXPECT_THAT(DecodeError("Xabc").message(), HasSubstr("unknown type 'X' (0x58)"));
  EXPECT_THAT(DecodeError(std::string("\x05", 1)).message(), HasSubstr("unknown type 0x05"));
}

TEST(PgOutputMessage, UnknownTupleColumnKindIsCorruption) {
  const std::string bytes =
      WireWriter().Byte('I').UInt32(kOid).Byte('N').Int16(2).NullColumn().Byte('x').bytes();
  const engine::Status status = DecodeError(bytes);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_EQ(status.message(),
            "pgoutput Insert: new tuple column 2 kind 'x' (0x78) is unknown (expected 'n', 'u', "
            "'t' or 'b') (at byte 9)");
}

TEST(PgOutputMessage, NegativeTupleValueLengthIsCorruption) {
  const std::string bytes =
      WireWriter().Byte('D').UInt32(kOid).Byte('O').Int16(1).Byte('b').Int32(-1).bytes();
  const engine::Status status = DecodeError(bytes);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_EQ(status.message(),
            "pgoutput Delete: old tuple column 1 length -1 is negative (at byte 9)");
}

TEST(PgOutputMessage, TupleValueLongerThanTheMessageIsCorruption) {
  const std::string bytes = WireWriter()
                                .Byte('U')
                                .UInt32(kOid)
                                .Byte('N')
                                .Int16(3)
                                .NullColumn()
                                .TextColumn("ab")
                                .Byte('t')
                                .Int32(1000)
                                .Raw("xy")
                                .bytes();
  const engine::Status status = DecodeError(bytes);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_EQ(status.message(),
            "pgoutput Update: new tuple column 3 length 1000 exceeds the 2 bytes left (at byte "
            "17)");
}

TEST(PgOutputMessage, LargestLengthsAreCorruptionNotAllocations) {
  const std::string bytes = WireWriter()
                                .Byte('I')
                                .UInt32(kOid)
                                .Byte('N')
                                .Int16(1)
                                .Byte('t')
                                .Int32(std::numeric_limits<int32_t>::max())
                                .Raw("abc")
                                .bytes();
  EXPECT_THAT(DecodeError(bytes).message(), HasSubstr("length 2147483647 exceeds the 3 bytes"));
  const std::string content = WireWriter()
                                  .Byte('M')
                                  .Byte(0)
                                  .UInt64(kLsn)
                                  .String("p")
                                  .Int32(std::numeric_limits<int32_t>::min())
                                  .bytes();
  EXPECT_THAT(DecodeError(content).message(),
              HasSubstr("pgoutput Message: content length -2147483648 is negative"));
  const std::string long_content =
      WireWriter().Byte('M').Byte(0).UInt64(kLsn).String("p").Int32(5).Raw("abcd").bytes();
  EXPECT_THAT(DecodeError(long_content).message(),
              HasSubstr("content length 5 exceeds the 4 bytes left"));
}

TEST(PgOutputMessage, TupleColumnCountBeyondTheMessageIsCorruption) {
  const std::string bytes =
      WireWriter().Byte('I').UInt32(kOid).Byte('N').Int16(30'000).NullColumn().NullColumn().bytes();
  const engine::Status status = DecodeError(bytes);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_EQ(status.message(),
            "pgoutput Insert: new tuple column count 30000 exceeds the 2 bytes left (each column "
            "takes at least one) (at byte 6)");
}

TEST(PgOutputMessage, NegativeTupleColumnCountIsCorruption) {
  const std::string bytes = WireWriter().Byte('I').UInt32(kOid).Byte('N').Int16(-1).bytes();
  EXPECT_EQ(DecodeError(bytes).message(),
            "pgoutput Insert: new tuple column count -1 is negative (at byte 6)");
}

TEST(PgOutputMessage, TupleColumnCountSmallerThanTheColumnsSentLeavesTrailingBytes) {
  const std::string bytes =
      WireWriter().Byte('I').UInt32(kOid).Byte('N').Int16(1).NullColumn().NullColumn().bytes();
  EXPECT_THAT(DecodeError(bytes).message(), HasSubstr("1 trailing bytes"));
}

TEST(PgOutputMessage, RelationColumnCountBeyondTheMessageIsCorruption) {
  WireWriter writer;
  writer.Byte('R').UInt32(kOid).String("s").String("t").Byte('d').Int16(2);
  writer.Byte(1).String("a").UInt32(23).Int32(-1);  // one column of the two
  const engine::Status status = DecodeError(writer.bytes());
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_EQ(status.message(),
            "pgoutput Relation: column count 2 exceeds the 11 bytes left (each column takes at "
            "least 10) (at byte 10)");
  const std::string negative =
      WireWriter().Byte('R').UInt32(kOid).String("s").String("t").Byte('d').Int16(-5).bytes();
  EXPECT_THAT(DecodeError(negative).message(), HasSubstr("column count -5 is negative"));
}

TEST(PgOutputMessage, TruncateRelationCountBeyondTheMessageIsCorruption) {
  const std::string absurd = WireWriter()
                                 .Byte('T')
                                 .Int32(std::numeric_limits<int32_t>::max())
                                 .Byte(0)
                                 .UInt32(kOid)
                                 .bytes();
  EXPECT_EQ(DecodeError(absurd).message(),
            "pgoutput Truncate: relation count 2147483647 needs 8589934588 bytes of OIDs, only 4 "
            "left (at byte 1)");
  const std::string negative = WireWriter().Byte('T').Int32(-1).Byte(0).bytes();
  EXPECT_THAT(DecodeError(negative).message(), HasSubstr("relation count -1 is negative"));
}

TEST(PgOutputMessage, StringWithoutNulTerminatorIsCorruption) {
  const std::string bytes =
      WireWriter().Byte('Y').UInt32(16'400).String("public").Raw("mood").bytes();
  const engine::Status status = DecodeError(bytes);
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_EQ(status.message(),
            "pgoutput Type: type name has no NUL terminator in the 4 bytes left (at byte 12)");
  EXPECT_THAT(DecodeError(WireWriter().Byte('O').UInt64(kLsn).Raw("origin").bytes()).message(),
              HasSubstr("origin name has no NUL terminator"));
}

TEST(PgOutputMessage, UnknownReplicaIdentityIsCorruption) {
  const std::string bytes =
      WireWriter().Byte('R').UInt32(kOid).String("s").String("t").Byte('x').Int16(0).bytes();
  EXPECT_EQ(DecodeError(bytes).message(),
            "pgoutput Relation: replica identity 'x' (0x78) is unknown (expected 'd', 'n', 'f' or "
            "'i') (at byte 9)");
}

TEST(PgOutputMessage, MissingOrUnexpectedTupleMarkersAreCorruption) {
  const std::string insert_with_old_key =
      WireWriter().Byte('I').UInt32(kOid).Byte('K').Int16(0).bytes();
  EXPECT_EQ(DecodeError(insert_with_old_key).message(),
            "pgoutput Insert: tuple marker 'K' (0x4b) is not 'N' (new tuple) (at byte 5)");
  const std::string update_without_new_tuple = WireWriter()
                                                   .Byte('U')
                                                   .UInt32(kOid)
                                                   .Byte('K')
                                                   .Int16(1)
                                                   .TextColumn("1")
                                                   .Byte('K')
                                                   .Int16(0)
                                                   .bytes();
  EXPECT_THAT(DecodeError(update_without_new_tuple).message(),
              HasSubstr("pgoutput Update: tuple marker 'K' (0x4b) is not 'N' (new tuple)"));
  const std::string update_with_unknown_marker =
      WireWriter().Byte('U').UInt32(kOid).Byte('X').Int16(0).bytes();
  EXPECT_THAT(DecodeError(update_with_unknown_marker).message(),
              HasSubstr("is not 'K' (old key), 'O' (old tuple) or 'N' (new tuple)"));
  const std::string delete_with_new_tuple =
      WireWriter().Byte('D').UInt32(kOid).Byte('N').Int16(0).bytes();
  EXPECT_EQ(DecodeError(delete_with_new_tuple).message(),
            "pgoutput Delete: tuple marker 'N' (0x4e) is not 'K' (old key) or 'O' (old tuple) (at "
            "byte 5)");
}

TEST(PgOutputMessage, TwoPhaseMessagesAreUnsupported) {
  const std::vector<std::pair<char, std::string>> two_phase = {
      {'b', "Begin Prepare"},     {'P', "Prepare"},        {'K', "Commit Prepared"},
      {'r', "Rollback Prepared"}, {'p', "Stream Prepare"},
  };
  for (const auto& [type, name] : two_phase) {
    SCOPED_TRACE(name);
    const std::string bytes = WireWriter()
                                  .Byte(type)
                                  .UInt64(kLsn)
                                  .UInt64(kEndLsn)
                                  .Int64(kTime)
                                  .UInt32(kXid)
                                  .String("gid")
                                  .bytes();
    for (bool in_streamed_block : {false, true}) {
      const engine::Status status = DecodeError(bytes, in_streamed_block);
      EXPECT_EQ(status.code(), StatusCode::kUnsupported);
      EXPECT_THAT(status.message(), HasSubstr("pgoutput " + name + ": two-phase"));
    }
  }
}

// Flips, overwrites, drops and appends bytes of every valid message: decoding must end in a value
// or a kCorruption/kUnsupported error and never read outside the buffer (the AddressSanitizer build
// checks the reads). The seed is fixed so a failure reproduces.
TEST(PgOutputMessage, RandomlyCorruptedMessagesNeverReadOutOfBounds) {
  std::mt19937 random(20'261'125);
  size_t decoded_ok = 0;
  size_t corrupt = 0;
  for (const ValidMessage& message : EveryValidMessage()) {
    for (int round = 0; round < 3'000; ++round) {
      std::string bytes = message.bytes;
      const int edits = 1 + static_cast<int>(random() % 4);
      for (int edit = 0; edit < edits && !bytes.empty(); ++edit) {
        const size_t at = random() % bytes.size();
        switch (random() % 4) {
          case 0:
            bytes[at] = static_cast<char>(bytes[at] ^ (1 << (random() % 8)));
            break;
          case 1:
            bytes[at] = static_cast<char>(random());
            break;
          case 2:
            bytes.resize(at);
            break;
          default:
            bytes.insert(at, 1, static_cast<char>(random()));
            break;
        }
      }
      // Exactly sized, so AddressSanitizer sees any read past the end.
      const std::unique_ptr<char[]> exact(new char[bytes.size()]);
      std::copy(bytes.begin(), bytes.end(), exact.get());
      auto decoded =
          DecodePgOutputMessage(std::string_view(exact.get(), bytes.size()), random() % 2 == 0);
      if (decoded.ok()) {
        ++decoded_ok;
        EXPECT_FALSE(PgOutputMessageName(*decoded).empty());
      } else {
        ++corrupt;
        EXPECT_TRUE(decoded.status().code() == StatusCode::kCorruption ||
                    decoded.status().code() == StatusCode::kUnsupported)
            << decoded.status().ToString();
      }
    }
  }
  // Both outcomes occur: the mutations reach past the first checks.
  EXPECT_GT(decoded_ok, 0u);
  EXPECT_GT(corrupt, 0u);
}

// ---- Replication protocol frames -------------------------------------------------------------

std::string XLogDataBytes(std::string_view payload) {
  return WireWriter().Byte('w').UInt64(kLsn).UInt64(kEndLsn).Int64(kTime).Raw(payload).bytes();
}

std::string KeepaliveBytes(uint8_t reply_requested) {
  return WireWriter().Byte('k').UInt64(kEndLsn).Int64(kTime).Byte(reply_requested).bytes();
}

TEST(ReplicationFrame, XLogDataCarriesLsnsSendTimeAndThePayload) {
  const std::string payload = InsertBytes();
  auto frame = DecodeReplicationFrame(XLogDataBytes(payload));
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const XLogData* data = std::get_if<XLogData>(&*frame);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->start_lsn, kLsn);
  EXPECT_EQ(data->wal_end, kEndLsn);
  EXPECT_EQ(data->send_time, kTime);
  EXPECT_EQ(data->payload, payload);
  EXPECT_EQ(DecodeAs<InsertMessage>(data->payload).new_tuple, kEveryKindTuple);
}

TEST(ReplicationFrame, XLogDataMayHaveAnEmptyPayload) {
  auto frame = DecodeReplicationFrame(XLogDataBytes(""));
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_EQ(std::get<XLogData>(*frame).payload, "");
}

TEST(ReplicationFrame, KeepaliveSaysWhetherAReplyIsRequested) {
  for (uint8_t reply_requested : {0, 1}) {
    auto frame = DecodeReplicationFrame(KeepaliveBytes(reply_requested));
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    const PrimaryKeepalive* keepalive = std::get_if<PrimaryKeepalive>(&*frame);
    ASSERT_NE(keepalive, nullptr);
    EXPECT_EQ(keepalive->wal_end, kEndLsn);
    EXPECT_EQ(keepalive->send_time, kTime);
    EXPECT_EQ(keepalive->reply_requested, reply_requested == 1);
  }
}

TEST(ReplicationFrame, KeepaliveWithTrailingBytesIsCorruption) {
  auto frame = DecodeReplicationFrame(KeepaliveBytes(0) + "z");
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(frame.status().message(),
            "replication Primary keepalive: 1 trailing bytes after the complete Primary keepalive "
            "message (at byte 18)");
}

TEST(ReplicationFrame, TruncationAtEveryByteIsCorruption) {
  const std::string keepalive = KeepaliveBytes(1);
  ASSERT_EQ(keepalive.size(), 18u);
  for (size_t size = 0; size < keepalive.size(); ++size) {
    SCOPED_TRACE(size);
    auto frame = DecodeReplicationFrame(keepalive.substr(0, size));
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.status().code(), StatusCode::kCorruption);
  }
  // XLogData's payload is the rest of the frame, so only its 25-byte header can be cut short.
  const std::string xlog_data = XLogDataBytes("payload");
  for (size_t size = 0; size < 25; ++size) {
    SCOPED_TRACE(size);
    auto frame = DecodeReplicationFrame(xlog_data.substr(0, size));
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.status().code(), StatusCode::kCorruption);
  }
  auto cut = DecodeReplicationFrame(xlog_data.substr(0, 20));
  EXPECT_EQ(cut.status().message(),
            "replication XLogData is truncated: send time needs 8 bytes at byte 17, only 3 left");
}

TEST(ReplicationFrame, UnknownFrameTypeIsCorruption) {
  auto unknown = DecodeReplicationFrame("r" + std::string(33, '\0'));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(unknown.status().message(),
            "replication frame: unknown type 'r' (0x72) (expected 'w' XLogData or 'k' Primary "
            "keepalive)");
  auto empty = DecodeReplicationFrame("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kCorruption);
}

TEST(StandbyStatusUpdate, IsThirtyFourBytesInNetworkOrder) {
  const std::string update = EncodeStandbyStatusUpdate(0x0102'0304'0506'0708, 0x1112'1314'1516'1718,
                                                       0x2122'2324'2526'2728, -2, true);
  const std::string expected(
      "r"
      "\x01\x02\x03\x04\x05\x06\x07\x08"
      "\x11\x12\x13\x14\x15\x16\x17\x18"
      "\x21\x22\x23\x24\x25\x26\x27\x28"
      "\xff\xff\xff\xff\xff\xff\xff\xfe"
      "\x01",
      34);
  EXPECT_EQ(update, expected);
  const std::string no_reply = EncodeStandbyStatusUpdate(0, 0, 0, 0, false);
  EXPECT_EQ(no_reply, "r" + std::string(33, '\0'));
}

TEST(PostgresEpoch, OffsetIsThirtyYearsOfDays) {
  // 1970-01-01 to 2000-01-01: 30 years with 7 leap days (72, 76, 80, 84, 88, 92, 96).
  EXPECT_EQ(kPostgresEpochOffsetMicros, (30LL * 365 + 7) * 86'400 * 1'000'000);
}

TEST(PostgresEpoch, NowIsTheSystemClockShiftedToTwoThousand) {
  const auto unix_micros = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = unix_micros();
  const int64_t now = PostgresEpochMicrosNow();
  const int64_t after = unix_micros();
  EXPECT_GE(now, before - kPostgresEpochOffsetMicros);
  EXPECT_LE(now, after - kPostgresEpochOffsetMicros);
}

}  // namespace
}  // namespace tandem::connectors::postgres::pgoutput
