// File: connectors/mysql/mysql_statement.h
//
// MySqlStatement: the one owner of a MYSQL_STMT* (a server-side prepared statement). Parameters
// are bound (never spliced into the SQL) and results arrive through the binary protocol, so values
// come typed and are decoded to engine::Value by mysql_value_codec.h.
//
// Results are read unbuffered: mysql_stmt_fetch pulls one row at a time from the network and
// mysql_stmt_store_result is never called, so memory stays at one row plus the client's network
// buffer whatever the size of the result. Each string/blob column has a small fetch buffer (at most
// 4 KiB); a longer value is reported as truncated by the client library and its remainder is read
// with mysql_stmt_fetch_column straight into the value, so large TEXT/BLOB values work without
// allocating the declared maximum up front.
//
// While a result is being read the connection can run nothing else. Destroying the statement (or
// executing it again) before the last row reads and discards the rest of the result.
//
// Thread safety: owned by the thread that owns its connection.
#pragma once

#include <mysql.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_value_codec.h"
#include "engine/status.h"
#include "engine/value.h"

namespace tandem::connectors::mysql {

class MySqlStatement {
 public:
  // Prepares `sql` (with ? placeholders) on `connection`. `action` names what tandem is doing, for
  // error messages ("reading shop.orders").
  // REQUIRES: `connection` outlives the statement.
  static engine::Result<std::unique_ptr<MySqlStatement>> Prepare(MySqlConnection& connection,
                                                                 std::string_view sql,
                                                                 std::string action);

  ~MySqlStatement();
  MySqlStatement(const MySqlStatement&) = delete;
  MySqlStatement& operator=(const MySqlStatement&) = delete;

  // Binds `params` (one per placeholder) and executes. The result's columns are decoded as
  // `kinds[i]`; an empty `kinds` means each column's natural kind (NaturalKind).
  // Errors: the server's error mapped by QueryErrorStatus; kInternal when the number of params or
  // kinds does not match the statement; kFailedPrecondition when a column's wire type cannot
  // produce the kind asked for.
  engine::Status Execute(const std::vector<engine::Value>& params,
                         const std::vector<engine::ValueKind>& kinds = {});

  // The result columns of the last Execute.
  const std::vector<ResultColumn>& columns() const { return columns_; }

  // Reads the next row of the result into *row (replacing its contents). Returns false after the
  // last row. REQUIRES: Execute succeeded.
  engine::Result<bool> Fetch(engine::Row* row);

  // Convenience for small results (catalog queries): executes and collects every row.
  engine::Result<std::vector<engine::Row>> QueryAll(const std::vector<engine::Value>& params);

 private:
  // The fetch buffer of one result column. Member addresses are bound into the statement, so the
  // slots vector is sized once per Execute and never reallocated afterwards.
  struct Slot {
    FetchBuffer buffer = FetchBuffer::kBytes;
    engine::ValueKind kind = engine::ValueKind::kOther;
    int64_t integer = 0;
    float float_value = 0;
    double double_value = 0;
    MYSQL_TIME time{};
    std::string bytes;  // fetch buffer for kBytes, sized before binding
    unsigned long length = 0;
    my_bool is_null = 0;
    my_bool error = 0;
  };

  MySqlStatement(MySqlConnection& connection, MYSQL_STMT* statement, std::string action);
  engine::Status StatementError() const;
  engine::Result<engine::Value> DecodeSlot(unsigned int index);

  // Constant after construction.
  MySqlConnection& connection_;
  MYSQL_STMT* const statement_;  // owned; closed by the destructor
  const std::string action_;

  // Reset by each Execute.
  std::vector<ResultColumn> columns_;
  std::vector<Slot> slots_;
  std::vector<MYSQL_BIND> binds_;
  bool has_result_ = false;
};

// A value of a catalog query's result (QueryAll with natural kinds) as text: information_schema
// columns arrive as text or integers; integers are printed in decimal, NULL is "".
std::string TextOf(const engine::Value& value);

}  // namespace tandem::connectors::mysql
