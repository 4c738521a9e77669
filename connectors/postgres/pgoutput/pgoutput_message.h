// File: connectors/postgres/pgoutput/pgoutput_message.h
//
// Byte-level decoding of what a logical walsender running the built-in `pgoutput` plugin sends
// (PostgreSQL documentation, "Streaming Replication Protocol" and "Logical Replication Message
// Formats"). Two layers:
//
//   ReplicationFrame   one CopyData message of START_REPLICATION's CopyBoth stream (server to
//                      client), or the client's reply (EncodeStandbyStatusUpdate):
//
//   byte  frame                  fields (after the byte)                              size
//   'w'   XLogData               start LSN (Int64), end of WAL (Int64), send time      25 + n
//                                (Int64), payload (Byte n: the rest of the frame)
//   'k'   Primary keepalive      end of WAL (Int64), send time (Int64), reply          18
//                                requested (Byte1, 1 = reply at once)
//   'r'   Standby status update  written, flushed, applied LSN (3 x Int64), client     34
//                                time (Int64), reply requested (Byte1)
//
//   PgOutputMessage    one pgoutput message: an XLogData payload.
//
//   byte  message        fields after the byte (integers big-endian; String = bytes ended by a
//                        NUL; LSNs and times are Int64)
//   'B'   Begin          final LSN (Int64), commit time (Int64), xid (Int32)
//   'C'   Commit         flags (Int8), commit LSN, end LSN, commit time (Int64 each)
//   'O'   Origin         commit LSN at the origin (Int64), origin name (String)
//   'R'   Relation       [xid], relation OID (Int32), namespace (String), name (String),
//                        replica identity (Int8: 'd' default, 'n' nothing, 'f' full, 'i' index),
//                        column count (Int16), per column: flags (Int8, 1 = part of the key),
//                        name (String), type OID (Int32), type modifier (Int32)
//   'Y'   Type           [xid], type OID (Int32), namespace (String), name (String)
//   'I'   Insert         [xid], relation OID (Int32), 'N', new tuple (TupleData)
//   'U'   Update         [xid], relation OID (Int32), optionally 'K' old key or 'O' old tuple
//                        (TupleData), then 'N', new tuple (TupleData)
//   'D'   Delete         [xid], relation OID (Int32), 'K' old key or 'O' old tuple (TupleData)
//   'T'   Truncate       [xid], relation count (Int32), options (Int8: 1 CASCADE, 2 RESTART
//                        IDENTITY), relation OIDs (Int32 each)
//   'M'   Message        [xid], flags (Int8, 1 = transactional), LSN (Int64), prefix (String),
//                        content length (Int32), content (Byte n)
//   'S'   Stream Start   xid (Int32), first segment (Int8, 1 = first)            (protocol 2)
//   'E'   Stream Stop    nothing                                                 (protocol 2)
//   'c'   Stream Commit  xid (Int32), flags (Int8), commit LSN, end LSN, commit time (Int64 each)
//                                                                                (protocol 2)
//   'A'   Stream Abort   xid (Int32), subtransaction xid (Int32)                 (protocol 2)
//                        then, only with protocol 4 and streaming = parallel (PostgreSQL 16+):
//                        abort LSN (Int64), abort time (Int64); read when present
//
//   [xid] (Int32) is present only inside a streamed block (between Stream Start and Stream Stop),
//   so the caller says whether it is in one.
//
//   TupleData: column count (Int16), then per column a kind byte:
//     'n' NULL, 'u' unchanged TOASTed value (not sent), 't' text, 'b' binary;
//     't' and 'b' are followed by a length (Int32) and that many bytes.
//
// Times are microseconds since 2000-01-01 00:00:00 UTC, as the server sends them
// (kPostgresEpochOffsetMicros converts to the Unix epoch).
//
// Every decoder checks every length against the bytes it was given: truncated input, an unknown
// message byte, an unknown tuple column kind, a negative length or count, a count larger than the
// bytes left could hold, a String without its NUL, an unknown replica identity, a missing or
// unexpected 'N'/'K'/'O' marker, or trailing bytes after a complete message give kCorruption
// naming the message and what is wrong (with the byte offset); never a read past the end.
// Two-phase commit messages ('b' Begin Prepare, 'P' Prepare, 'K' Commit Prepared, 'r' Rollback
// Prepared, 'p' Stream Prepare; protocol 3) give kUnsupported: tandem does not request two_phase.
//
// Decoded strings and values are copies: nothing points into the input after a call returns.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/status.h"

namespace tandem::connectors::postgres::pgoutput {

// Microseconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
inline constexpr int64_t kPostgresEpochOffsetMicros = 946'684'800'000'000;

// ---- Replication protocol frames ----------------------------------------------------------------

struct XLogData {
  // Physical replication: where the payload's WAL starts, and the server's end of WAL. A logical
  // walsender (walsender.c, WalSndPrepareWrite) puts the LSN of the record being decoded in both,
  // or 0 in both when the plugin writes several messages for one record (all but the last).
  uint64_t start_lsn = 0;
  uint64_t wal_end = 0;
  int64_t send_time = 0;  // PostgreSQL-epoch microseconds
  std::string payload;    // one pgoutput message
};

struct PrimaryKeepalive {
  uint64_t wal_end = 0;  // the server's end of WAL (logical: how far it has decoded and sent)
  int64_t send_time = 0;
  bool reply_requested = false;
};

using ReplicationFrame = std::variant<XLogData, PrimaryKeepalive>;

// Decodes one CopyData message of the replication stream. The XLogData payload is copied out.
// Errors: kCorruption (empty, unknown first byte, truncated, trailing bytes after a keepalive).
engine::Result<ReplicationFrame> DecodeReplicationFrame(std::string_view bytes);

// The client's 'r' Standby status update: written, flushed and applied LSNs (each "the last WAL
// byte + 1" the client has), the client's clock (PostgreSQL-epoch microseconds), and whether the
// server should answer at once with a keepalive. Returns the 34 bytes to send as one CopyData.
std::string EncodeStandbyStatusUpdate(uint64_t written_lsn, uint64_t flushed_lsn,
                                      uint64_t applied_lsn, int64_t client_time,
                                      bool reply_requested);

// Now, in PostgreSQL-epoch microseconds.
int64_t PostgresEpochMicrosNow();

// ---- pgoutput messages --------------------------------------------------------------------------

struct TupleColumn {
  enum class Kind : char {
    kNull = 'n',
    kUnchangedToast = 'u',  // the value did not change and was not sent
    kText = 't',
    kBinary = 'b',
  };
  Kind kind = Kind::kNull;
  std::string value;  // kText / kBinary only

  friend bool operator==(const TupleColumn&, const TupleColumn&) = default;
};
using TupleData = std::vector<TupleColumn>;

struct BeginMessage {
  uint64_t final_lsn = 0;  // LSN of the commit record
  int64_t commit_time = 0;
  uint32_t xid = 0;
};

struct CommitMessage {
  uint8_t flags = 0;
  uint64_t commit_lsn = 0;  // LSN of the commit record
  uint64_t end_lsn = 0;     // end of the commit record: the resume point after this transaction
  int64_t commit_time = 0;
};

struct OriginMessage {
  uint64_t commit_lsn = 0;
  std::string name;
};

struct RelationColumn {
  bool part_of_key = false;  // in the replica identity (the primary key by default; every column
                             // with REPLICA IDENTITY FULL)
  std::string name;
  uint32_t type_oid = 0;  // as declared: a domain's or enum's own OID, not its base type's
  int32_t type_modifier = -1;

  friend bool operator==(const RelationColumn&, const RelationColumn&) = default;
};

struct RelationMessage {
  uint32_t xid = 0;  // streamed blocks only, else 0
  uint32_t relation_oid = 0;
  std::string schema;  // "" means pg_catalog, as the server sends it
  std::string name;
  char replica_identity = 'd';  // 'd', 'n', 'f', 'i'
  std::vector<RelationColumn> columns;
};

struct TypeMessage {
  uint32_t xid = 0;
  uint32_t type_oid = 0;
  std::string schema;
  std::string name;
};

struct InsertMessage {
  uint32_t xid = 0;
  uint32_t relation_oid = 0;
  TupleData new_tuple;
};

enum class OldTupleKind : char {
  kNone = 0,    // update that changed no key column (REPLICA IDENTITY DEFAULT / INDEX)
  kKey = 'K',   // the old values of the replica identity's columns (others NULL)
  kFull = 'O',  // the whole old row (REPLICA IDENTITY FULL)
};

struct UpdateMessage {
  uint32_t xid = 0;
  uint32_t relation_oid = 0;
  OldTupleKind old_kind = OldTupleKind::kNone;
  TupleData old_tuple;  // empty when old_kind == kNone
  TupleData new_tuple;
};

struct DeleteMessage {
  uint32_t xid = 0;
  uint32_t relation_oid = 0;
  OldTupleKind old_kind = OldTupleKind::kKey;  // kKey or kFull
  TupleData old_tuple;
};

struct TruncateMessage {
  uint32_t xid = 0;
  bool cascade = false;
  bool restart_identity = false;
  std::vector<uint32_t> relation_oids;
};

struct LogicalMessage {
  uint32_t xid = 0;
  bool transactional = false;
  uint64_t lsn = 0;
  std::string prefix;
  std::string content;
};

struct StreamStartMessage {
  uint32_t xid = 0;
  bool first_segment = false;
};

struct StreamStopMessage {};

struct StreamCommitMessage {
  uint32_t xid = 0;
  uint8_t flags = 0;
  uint64_t commit_lsn = 0;
  uint64_t end_lsn = 0;
  int64_t commit_time = 0;
};

struct StreamAbortMessage {
  uint32_t xid = 0;
  uint32_t subtransaction_xid = 0;  // equals xid when the whole transaction aborted
  // Sent only with protocol 4 and streaming = parallel; 0 when absent (no real abort record
  // sits at LSN 0).
  uint64_t abort_lsn = 0;
  int64_t abort_time = 0;
};

using PgOutputMessage =
    std::variant<BeginMessage, CommitMessage, OriginMessage, RelationMessage, TypeMessage,
                 InsertMessage, UpdateMessage, DeleteMessage, TruncateMessage, LogicalMessage,
                 StreamStartMessage, StreamStopMessage, StreamCommitMessage, StreamAbortMessage>;

// Decodes one pgoutput message (an XLogData payload). `in_streamed_block`: the message arrived
// between a Stream Start and its Stream Stop, so data messages ('R', 'Y', 'I', 'U', 'D', 'T',
// 'M') carry an xid first; the other messages never do.
// Errors: kCorruption (see above); kUnsupported for two-phase messages.
engine::Result<PgOutputMessage> DecodePgOutputMessage(std::string_view bytes,
                                                      bool in_streamed_block);

// The message's name as the PostgreSQL documentation spells it: "Begin", "Commit", "Stream Start",
// ... (also the name decoding errors use).
std::string_view PgOutputMessageName(const PgOutputMessage& message);

}  // namespace tandem::connectors::postgres::pgoutput
