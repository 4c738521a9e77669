#include "connectors/mysql/mysql_statement.h"

#include <algorithm>
#include <cstring>

namespace tandem::connectors::mysql {

using engine::Result;
using engine::Row;
using engine::Status;
using engine::Value;
using engine::ValueKind;

namespace {

// Fetch buffer size for string/blob columns: enough for most keys and short texts; longer values
// are completed with mysql_stmt_fetch_column.
constexpr unsigned long kMinimumBytesBuffer = 64;
constexpr unsigned long kMaximumBytesBuffer = 4096;

}  // namespace

MySqlStatement::MySqlStatement(MySqlConnection& connection, MYSQL_STMT* statement,
                               std::string action)
    : connection_(connection), statement_(statement), action_(std::move(action)) {}

MySqlStatement::~MySqlStatement() { mysql_stmt_close(statement_); }

Result<std::unique_ptr<MySqlStatement>> MySqlStatement::Prepare(MySqlConnection& connection,
                                                                std::string_view sql,
                                                                std::string action) {
  MYSQL_STMT* statement = mysql_stmt_init(connection.handle());
  if (statement == nullptr) {
    return connection.LastError(action);
  }
  std::unique_ptr<MySqlStatement> owned(
      new MySqlStatement(connection, statement, std::move(action)));
  if (mysql_stmt_prepare(statement, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    return owned->StatementError();
  }
  return owned;
}

Status MySqlStatement::StatementError() const {
  MySqlError error{mysql_stmt_errno(statement_), mysql_stmt_sqlstate(statement_),
                   mysql_stmt_error(statement_)};
  if (error.number == 0) {
    error = connection_.LastMySqlError();
  }
  return QueryErrorStatus(error, connection_.config(), action_);
}

Status MySqlStatement::Execute(const std::vector<Value>& params,
                               const std::vector<ValueKind>& kinds) {
  if (has_result_) {
    mysql_stmt_free_result(statement_);
    has_result_ = false;
  }
  const unsigned long expected_params = mysql_stmt_param_count(statement_);
  if (expected_params != params.size()) {
    return engine::Internal(action_ + ": the statement takes " + std::to_string(expected_params) +
                            " parameters, " + std::to_string(params.size()) + " given");
  }
  ParamBinder binder(params);
  if (binder.size() > 0 && mysql_stmt_bind_param(statement_, binder.binds()) != 0) {
    return StatementError();
  }
  if (mysql_stmt_execute(statement_) != 0) {
    return StatementError();
  }

  columns_.clear();
  slots_.clear();
  binds_.clear();
  const unsigned int field_count = mysql_stmt_field_count(statement_);
  if (field_count == 0) {
    return Status::Ok();
  }
  has_result_ = true;
  MYSQL_RES* metadata = mysql_stmt_result_metadata(statement_);
  if (metadata == nullptr) {
    return StatementError();
  }
  const MYSQL_FIELD* fields = mysql_fetch_fields(metadata);
  for (unsigned int i = 0; i < field_count; ++i) {
    columns_.push_back(ResultColumn::FromField(fields[i]));
  }
  mysql_free_result(metadata);
  if (!kinds.empty() && kinds.size() != field_count) {
    return engine::Internal(action_ + ": the result has " + std::to_string(field_count) +
                            " columns, " + std::to_string(kinds.size()) + " kinds given");
  }

  slots_.resize(field_count);
  binds_.resize(field_count);
  for (unsigned int i = 0; i < field_count; ++i) {
    Slot& slot = slots_[i];
    MYSQL_BIND& bind = binds_[i];
    std::memset(&bind, 0, sizeof bind);
    slot.kind = kinds.empty() ? NaturalKind(columns_[i]) : kinds[i];
    Result<FetchBuffer> buffer = FetchBufferFor(columns_[i], slot.kind);
    if (!buffer.ok()) {
      return buffer.status().WithContext(action_ + " on " + connection_.config().Redacted());
    }
    slot.buffer = *buffer;
    bind.length = &slot.length;
    bind.is_null = &slot.is_null;
    bind.error = &slot.error;
    switch (slot.buffer) {
      case FetchBuffer::kSignedInteger:
      case FetchBuffer::kUnsignedInteger:
        bind.buffer_type = MYSQL_TYPE_LONGLONG;
        bind.is_unsigned = slot.buffer == FetchBuffer::kUnsignedInteger;
        bind.buffer = &slot.integer;
        bind.buffer_length = sizeof slot.integer;
        break;
      case FetchBuffer::kFloat:
        bind.buffer_type = MYSQL_TYPE_FLOAT;
        bind.buffer = &slot.float_value;
        bind.buffer_length = sizeof slot.float_value;
        break;
      case FetchBuffer::kDouble:
        bind.buffer_type = MYSQL_TYPE_DOUBLE;
        bind.buffer = &slot.double_value;
        bind.buffer_length = sizeof slot.double_value;
        break;
      case FetchBuffer::kTemporal:
        bind.buffer_type = columns_[i].type;
        bind.buffer = &slot.time;
        bind.buffer_length = sizeof slot.time;
        break;
      case FetchBuffer::kBytes: {
        const unsigned long size =
            std::clamp(columns_[i].length + 1, kMinimumBytesBuffer, kMaximumBytesBuffer);
        slot.bytes.assign(size, '\0');
        bind.buffer_type = MYSQL_TYPE_BLOB;
        bind.buffer = slot.bytes.data();
        bind.buffer_length = size;
        break;
      }
    }
  }
  if (mysql_stmt_bind_result(statement_, binds_.data()) != 0) {
    return StatementError();
  }
  return Status::Ok();
}

Result<Value> MySqlStatement::DecodeSlot(unsigned int index) {
  Slot& slot = slots_[index];
  const ResultColumn& column = columns_[index];
  // Decoding errors name the statement, the server and the column.
  auto in_context = [&](Result<Value> value) -> Result<Value> {
    if (value.ok()) {
      return value;
    }
    return value.status().WithContext(action_ + " on " + connection_.config().Redacted() +
                                      ", column `" + column.name + "`");
  };
  if (slot.is_null) {
    return Value::Null();
  }
  if (slot.buffer != FetchBuffer::kBytes && slot.error) {
    return in_context(engine::Corruption("the value does not fit its buffer"));
  }
  switch (slot.buffer) {
    case FetchBuffer::kSignedInteger:
    case FetchBuffer::kUnsignedInteger:
      return in_context(DecodeInteger(static_cast<uint64_t>(slot.integer),
                                      slot.buffer == FetchBuffer::kUnsignedInteger, slot.kind));
    case FetchBuffer::kFloat:
      return Value::Float(slot.float_value);
    case FetchBuffer::kDouble:
      return Value::Double(slot.double_value);
    case FetchBuffer::kTemporal:
      return in_context(DecodeTemporal(slot.time, slot.kind));
    case FetchBuffer::kBytes:
      break;
  }
  const unsigned long buffered = binds_[index].buffer_length;
  std::string value;
  if (slot.length <= buffered) {
    value.assign(slot.bytes.data(), slot.length);
  } else {
    // Truncated: copy what arrived, then read the remainder into place.
    value.resize(slot.length);
    std::memcpy(value.data(), slot.bytes.data(), buffered);
    MYSQL_BIND rest;
    std::memset(&rest, 0, sizeof rest);
    unsigned long rest_length = 0;
    my_bool rest_null = 0;
    my_bool rest_error = 0;
    rest.buffer_type = MYSQL_TYPE_BLOB;
    rest.buffer = value.data() + buffered;
    rest.buffer_length = slot.length - buffered;
    rest.length = &rest_length;
    rest.is_null = &rest_null;
    rest.error = &rest_error;
    if (mysql_stmt_fetch_column(statement_, &rest, index, buffered) != 0) {
      return StatementError();
    }
    if (rest_error) {
      return in_context(engine::Corruption("the value changed length while being read"));
    }
  }
  return in_context(DecodeBytes(std::move(value), slot.kind, column));
}

Result<bool> MySqlStatement::Fetch(Row* row) {
  if (!has_result_) {
    return false;
  }
  const int rc = mysql_stmt_fetch(statement_);
  if (rc == MYSQL_NO_DATA) {
    has_result_ = false;
    return false;
  }
  if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
    return StatementError();
  }
  row->clear();
  row->reserve(slots_.size());
  for (unsigned int i = 0; i < slots_.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(Value value, DecodeSlot(i));
    row->push_back(std::move(value));
  }
  return true;
}

Result<std::vector<Row>> MySqlStatement::QueryAll(const std::vector<Value>& params) {
  TANDEM_RETURN_IF_ERROR(Execute(params));
  std::vector<Row> rows;
  Row row;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool more, Fetch(&row));
    if (!more) {
      break;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string TextOf(const Value& value) {
  switch (value.kind()) {
    case engine::ValueKind::kNull:
      return std::string();
    case engine::ValueKind::kInt:
      return std::to_string(value.int_value());
    case engine::ValueKind::kUInt:
      return std::to_string(value.uint_value());
    default:
      return value.text();
  }
}

}  // namespace tandem::connectors::mysql
