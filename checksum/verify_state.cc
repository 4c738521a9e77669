#include "checksum/verify_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tandem::checksum {
namespace {

using engine::Result;
using engine::Row;
using engine::Status;
using engine::Value;
using engine::ValueKind;
using nlohmann::json;

std::string ToHex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool FromHex(const std::string& hex, std::string* out) {
  if (hex.size() % 2 != 0) {
    return false;
  }
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = digit(hex[i]);
    const int low = digit(hex[i + 1]);
    if (high < 0 || low < 0) {
      return false;
    }
    out->push_back(static_cast<char>(high * 16 + low));
  }
  return true;
}

json RowToJson(const Row& row) {
  json out = json::array();
  for (const Value& value : row) {
    out.push_back(ValueToStateJson(value));
  }
  return out;
}

Result<Row> RowFromJson(const json& array) {
  if (!array.is_array()) {
    return engine::Corruption("a row in the state file is not an array");
  }
  Row row;
  for (const json& item : array) {
    TANDEM_ASSIGN_OR_RETURN(Value value, ValueFromStateJson(item));
    row.push_back(std::move(value));
  }
  return row;
}

}  // namespace

json ValueToStateJson(const Value& value) {
  uint64_t bits;
  const double number = value.double_value();
  std::memcpy(&bits, &number, sizeof bits);
  return {{"k", static_cast<int>(value.kind())},
          {"i", value.int_value()},
          {"u", value.uint_value()},
          {"d", bits},
          {"t", ToHex(value.text())}};
}

Result<Value> ValueFromStateJson(const json& item) {
  try {
    const int kind = item.at("k").get<int>();
    const int64_t int_value = item.at("i").get<int64_t>();
    const uint64_t uint_value = item.at("u").get<uint64_t>();
    const uint64_t bits = item.at("d").get<uint64_t>();
    double number;
    std::memcpy(&number, &bits, sizeof number);
    std::string text;
    if (!FromHex(item.at("t").get<std::string>(), &text)) {
      return engine::Corruption("a value in the state file has bad hex text");
    }
    const int year = static_cast<int>(int_value / 10000);
    const int month = static_cast<int>(int_value / 100 % 100);
    const int day = static_cast<int>(int_value % 100);
    switch (static_cast<ValueKind>(kind)) {
      case ValueKind::kNull:
        return Value::Null();
      case ValueKind::kBool:
        return Value::Bool(int_value != 0);
      case ValueKind::kInt:
        return Value::Int(int_value);
      case ValueKind::kUInt:
        return Value::UInt(uint_value);
      case ValueKind::kFloat:
        return Value::Float(static_cast<float>(number));
      case ValueKind::kDouble:
        return Value::Double(number);
      case ValueKind::kDecimal:
        return Value::Decimal(text);
      case ValueKind::kText:
        return Value::Text(text);
      case ValueKind::kBytes:
        return Value::Bytes(text);
      case ValueKind::kDate:
        return Value::Date(year, month, day);
      case ValueKind::kTime:
        return Value::Time(int_value);
      case ValueKind::kDateTime:
        return Value::DateTime(year, month, day, uint_value);
      case ValueKind::kTimestamp:
        return Value::Timestamp(int_value);
      case ValueKind::kJson:
        return Value::Json(text);
      case ValueKind::kBits:
        return Value::Bits(uint_value, static_cast<int>(int_value));
      case ValueKind::kUuid:
        return Value::Uuid(text);
      case ValueKind::kInterval:
        return Value::Interval(text);
      case ValueKind::kOther:
        return Value::Other(text);
    }
    return engine::Corruption("a value in the state file has unknown kind " + std::to_string(kind));
  } catch (const std::exception& error) {
    return engine::Corruption(std::string("a value in the state file is malformed: ") +
                              error.what());
  }
}

Result<VerifyState> VerifyState::Open(const std::string& path, const std::string& run_identity) {
  VerifyState state;
  state.path_ = path;
  state.run_identity_ = run_identity;
  std::ifstream in(path);
  if (!in) {
    return state;  // a new run
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  json document = json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return engine::Corruption("state file " + path +
                              " is not a tandem verify state: delete it to start over");
  }
  try {
    if (document.at("run").get<std::string>() != run_identity) {
      return engine::FailedPrecondition(
          "state file " + path + " belongs to another verification (" +
          document.at("run").get<std::string>() + "): delete it or pass another --state");
    }
    for (const auto& [name, entry] : document.at("tables").items()) {
      TableState table;
      table.finished = entry.at("finished").get<bool>();
      if (!entry.at("watermark").is_null()) {
        TANDEM_ASSIGN_OR_RETURN(Row watermark, RowFromJson(entry.at("watermark")));
        table.watermark = std::move(watermark);
      }
      table.source_rows = entry.at("source_rows").get<int64_t>();
      table.target_rows = entry.at("target_rows").get<int64_t>();
      table.chunks = entry.at("chunks").get<int64_t>();
      for (const json& item : entry.at("differences")) {
        Difference difference;
        difference.kind = static_cast<DifferenceKind>(item.at("kind").get<int>());
        TANDEM_ASSIGN_OR_RETURN(difference.key, RowFromJson(item.at("key")));
        difference.columns = item.at("columns").get<std::vector<std::string>>();
        TANDEM_ASSIGN_OR_RETURN(difference.source_row, RowFromJson(item.at("source_row")));
        TANDEM_ASSIGN_OR_RETURN(difference.target_row, RowFromJson(item.at("target_row")));
        table.differences.push_back(std::move(difference));
      }
      state.tables_[name] = std::move(table);
    }
  } catch (const std::exception& error) {
    return engine::Corruption("state file " + path + " is malformed (" + error.what() +
                              "): delete it to start over");
  }
  return state;
}

const TableState* VerifyState::Find(const engine::TableId& table) const {
  auto found = tables_.find(table.ToString());
  return found == tables_.end() ? nullptr : &found->second;
}

Status VerifyState::Save() const {
  json document;
  document["run"] = run_identity_;
  document["tables"] = json::object();
  for (const auto& [name, table] : tables_) {
    json entry;
    entry["finished"] = table.finished;
    entry["watermark"] = table.watermark ? RowToJson(*table.watermark) : json(nullptr);
    entry["source_rows"] = table.source_rows;
    entry["target_rows"] = table.target_rows;
    entry["chunks"] = table.chunks;
    entry["differences"] = json::array();
    for (const Difference& difference : table.differences) {
      entry["differences"].push_back({{"kind", static_cast<int>(difference.kind)},
                                      {"key", RowToJson(difference.key)},
                                      {"columns", difference.columns},
                                      {"source_row", RowToJson(difference.source_row)},
                                      {"target_row", RowToJson(difference.target_row)}});
    }
    document["tables"][name] = std::move(entry);
  }
  const std::string text = document.dump();
  const std::string temporary = path_ + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return engine::Unavailable("cannot write state file " + temporary + ": " +
                               std::strerror(errno));
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const std::string reason = std::strerror(errno);
      ::close(fd);
      return engine::Unavailable("cannot write state file " + temporary + ": " + reason);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return engine::Unavailable("cannot flush state file " + temporary + ": " +
                               std::strerror(errno));
  }
  if (std::rename(temporary.c_str(), path_.c_str()) != 0) {
    return engine::Unavailable("cannot replace state file " + path_ + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace tandem::checksum
