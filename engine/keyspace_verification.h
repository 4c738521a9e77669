// File: engine/keyspace_verification.h
//
// KeyspaceVerification: what `tandem verify` (checksum/redis_verifier.h) needs from a key-value
// server, implemented by the Redis connector over the connection of the KeyValueDatabase that
// hands it out (KeyValueDatabase::keyspace_verification()). Every call that concerns several keys
// is pipelined: one or two round trips per call, never one per key.
//
//   call              Redis
//   SelectDatabase    SELECT n
//   ScanKeys          SCAN cursor COUNT n
//   ProbeKeys         kValues: TYPE + PTTL of every key, then the first page of each value
//                       (GETRANGE+STRLEN / LRANGE / HSCAN / SSCAN / ZSCAN / XRANGE + XINFO GROUPS)
//                     kServerDigest: one EVALSHA of a read-only Lua script over all the keys that
//                       returns type, PTTL and a digest of each value's logical content
//   ReadValuePage     the next page of a value: GETRANGE / LRANGE / HSCAN / SSCAN / ZSCAN / XRANGE
//   KeysExist         EXISTS per key
//   Replication       INFO replication
//   DumpKeys          DUMP + PTTL per key
//
// Values as elements (ValueFetch::kValues): a value is read as a sequence of logical elements
// that do not depend on how the server encodes it (listpack, hashtable, intset, skiplist, ...):
//   string  the value's bytes, possibly in several pieces (their concatenation is the value)
//   list    one element per list element, in list order
//   hash    field, value, field, value, ... (pairs never straddle pages; any pair order)
//   set     one element per member (any order)
//   zset    member, score, member, score, ... (score as the server prints it; any order)
//   stream  one element per entry, in ID order: the ID then each field and value, each written
//           as <decimal length>:<bytes>
// A collection may be reported more than once by the server's SCAN family when it is resized
// during the walk (HSCAN/SSCAN/ZSCAN's documented guarantee); callers re-read such keys.
//
// Operations: commands_sent() counts commands sent to the server (a Lua call counts four per key
// it reads), the unit of `--max-ops`.
//
// Thread safety: belongs to the thread that owns the KeyValueDatabase it came from.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace tandem::engine {

// One page of a keyspace walk. `cursor` "0" means the walk is complete.
struct KeyScanPage {
  std::string cursor;
  std::vector<std::string> keys;
};

enum class ValueFetch {
  kValues,        // values cross the network as elements and are hashed by the caller
  kServerDigest,  // the server hashes values up to the page limit; only digests cross
};

// What one probe learned about one key.
struct KeyProbe {
  // The server's type name: "string", "list", "set", "zset", "hash", "stream", a module's type
  // name, or "none" when the key does not exist.
  std::string type = "none";
  // Remaining time to live in milliseconds; -1 when the key has no expiry, -2 when it is gone.
  int64_t ttl_ms = -2;
  // kValues: the value's first elements; the rest is read with ReadValuePage from `next_cursor`
  // when that is not empty. kServerDigest: empty.
  std::vector<std::string> elements;
  std::string next_cursor;
  // kServerDigest: the server's digest of the whole value; empty when the value is larger than
  // the page limit (then read it with ReadValuePage from cursor "0", as for kValues).
  std::string server_digest;
  // Streams: one element per consumer group, "<name> <consumers> <pending> <last-delivered-id>"
  // (each length-prefixed), in name order. kServerDigest: one element, the server's digest.
  std::vector<std::string> groups;
  // The key changed type between the commands of the probe (a write landed in between): the
  // probe says nothing reliable about the value and the caller should read the key again.
  bool unstable = false;
};

struct ValuePage {
  std::vector<std::string> elements;
  std::string next_cursor;  // empty when the value has been read to its end
};

// Where a server stands in its replication stream (INFO replication).
struct ReplicationState {
  bool replica = false;  // role:slave
  bool link_up = false;  // replica only: master_link_status:up
  std::string replid;    // master_replid: for a replica, the id of the stream it follows
  int64_t offset = 0;    // master_repl_offset (primary) / slave_repl_offset (replica)
};

struct DumpedKey {
  std::optional<std::string> payload;  // DUMP's serialized value; nullopt when the key is gone
  int64_t ttl_ms = -1;                 // PTTL at the time of the DUMP (-1 = no expiry)
};

class KeyspaceVerification {
 public:
  virtual ~KeyspaceVerification() = default;
  KeyspaceVerification(const KeyspaceVerification&) = delete;
  KeyspaceVerification& operator=(const KeyspaceVerification&) = delete;

  // Makes `database` the logical database later calls work in.
  // Errors: kNotFound when the server has no such database.
  virtual Status SelectDatabase(int database) = 0;

  // One step of SCAN from `cursor` ("0" to start), asking for about `count` keys.
  virtual Result<KeyScanPage> ScanKeys(const std::string& cursor, int64_t count) = 0;

  // Probes every key of `keys` (one result per key, same order). `page_elements` bounds the
  // elements read per value (and `page_elements` * 512 the bytes of a string) before the caller
  // has to continue with ReadValuePage. REQUIRES: page_elements > 0.
  // Errors: kUnsupported for kServerDigest when the server cannot run the script (no Lua, or a
  // version before 7.0); connection errors.
  virtual Result<std::vector<KeyProbe>> ProbeKeys(const std::vector<std::string>& keys,
                                                  ValueFetch fetch, int64_t page_elements) = 0;

  // The page of `key`'s value (of type `type`) that starts at `cursor` ("0" = from the start, or
  // a cursor a probe or an earlier page returned). A page holds about `page_elements` elements.
  // Errors: kFailedPrecondition when the key no longer has type `type`; kUnsupported for a type
  // tandem cannot read (module types).
  virtual Result<ValuePage> ReadValuePage(const std::string& key, const std::string& type,
                                          const std::string& cursor, int64_t page_elements) = 0;

  // Whether each key exists (same order).
  virtual Result<std::vector<bool>> KeysExist(const std::vector<std::string>& keys) = 0;

  virtual Result<ReplicationState> Replication() = 0;

  // DUMP and PTTL of each key (same order).
  virtual Result<std::vector<DumpedKey>> DumpKeys(const std::vector<std::string>& keys) = 0;

  // Commands sent so far over this connection (see the file comment).
  virtual int64_t commands_sent() const = 0;

 protected:
  KeyspaceVerification() = default;
};

}  // namespace tandem::engine
