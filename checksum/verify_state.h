// File: checksum/verify_state.h
//
// VerifyState: the durable progress of a verification (`tandem verify --state PATH`), so a run that
// was killed continues where it stopped without re-checking finished chunks. Per table it keeps a
// watermark: the key up to which (inclusive) every chunk has been compared, with the row counts,
// chunk count and differences found below it; and whether the table is finished. Chunks finish
// out of order under --threads, so the watermark moves only over a contiguous prefix of chunks.
//
// The file is JSON, replaced atomically (written beside, fsync'ed, renamed), so a kill at any
// moment leaves either the old or the new state. It records which source and target it belongs to
// (redacted URIs); opening it for another pair is refused.
//
// Values are stored losslessly: {"k": kind, "i": int, "u": uint, "d": double bits, "t": hex}.
//
// Thread safety: not safe for concurrent use; the verifier guards it with its own mutex.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "checksum/verify_report.h"
#include "engine/status.h"
#include "engine/table_schema.h"
#include "engine/value.h"

namespace tandem::checksum {

struct TableState {
  bool finished = false;
  std::optional<engine::Row> watermark;  // nullopt: nothing done yet
  int64_t source_rows = 0;
  int64_t target_rows = 0;
  int64_t chunks = 0;
  std::vector<Difference> differences;
};

class VerifyState {
 public:
  // Opens the state at `path`: loads it when the file exists, else starts empty (nothing is
  // written until Save). `run_identity` names the source/target pair (redacted URIs).
  // Errors: kCorruption when the file does not parse; kFailedPrecondition when it belongs to
  // another source/target pair (delete it or give another --state).
  static engine::Result<VerifyState> Open(const std::string& path, const std::string& run_identity);

  // The table's entry, created empty on first use.
  TableState& Table(const engine::TableId& table) { return tables_[table.ToString()]; }
  const TableState* Find(const engine::TableId& table) const;

  // Writes the state durably. Errors: kUnavailable when the file cannot be written.
  engine::Status Save() const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string run_identity_;
  std::map<std::string, TableState> tables_;
};

nlohmann::json ValueToStateJson(const engine::Value& value);
engine::Result<engine::Value> ValueFromStateJson(const nlohmann::json& json);

}  // namespace tandem::checksum
