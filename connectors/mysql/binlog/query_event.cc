#include "connectors/mysql/binlog/query_event.h"

#include <cctype>

#include "connectors/mysql/binlog/byte_reader.h"
#include "connectors/mysql/binlog/compressed_payload.h"

namespace tandem::connectors::mysql::binlog {

namespace {

// The next keyword of `text` from `*pos`, upper-cased; skips whitespace and comments.
std::string NextKeyword(std::string_view text, size_t* pos) {
  size_t i = *pos;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) {
      ++i;
    } else if (text.substr(i, 2) == "/*") {
      const size_t end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? text.size() : end + 2;
    } else if (text.substr(i, 2) == "--" || c == '#') {
      const size_t end = text.find('\n', i);
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else {
      break;
    }
  }
  std::string keyword;
  while (i < text.size() && (std::isalpha(static_cast<unsigned char>(text[i])) || text[i] == '_')) {
    keyword.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(text[i]))));
    ++i;
  }
  *pos = i;
  return keyword;
}

}  // namespace

engine::Result<QueryEvent> ParseQueryEvent(std::string_view body, bool compressed) {
  const char* what = compressed ? "QUERY_COMPRESSED_EVENT" : "QUERY_EVENT";
  ByteReader reader(body, what);
  QueryEvent event;
  TANDEM_ASSIGN_OR_RETURN(event.thread_id, reader.U32("thread id"));
  TANDEM_RETURN_IF_ERROR(reader.Skip(4, "execution time"));
  TANDEM_ASSIGN_OR_RETURN(uint8_t schema_length, reader.U8("schema length"));
  TANDEM_ASSIGN_OR_RETURN(event.error_code, reader.U16("error code"));
  TANDEM_ASSIGN_OR_RETURN(uint16_t status_length, reader.U16("status variables length"));
  TANDEM_RETURN_IF_ERROR(reader.Skip(status_length, "status variables"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view schema, reader.Bytes(schema_length, "schema"));
  event.schema = std::string(schema);
  TANDEM_ASSIGN_OR_RETURN(uint8_t terminator, reader.U8("schema terminator"));
  if (terminator != 0) {
    return reader.Error("schema name is not NUL-terminated");
  }
  const std::string_view query = reader.Rest();
  if (compressed) {
    TANDEM_ASSIGN_OR_RETURN(event.query, DecompressPayload(query, what));
  } else {
    event.query = std::string(query);
  }
  return event;
}

StatementClass ClassifyStatement(std::string_view query) {
  size_t pos = 0;
  const std::string first = NextKeyword(query, &pos);
  if (first == "BEGIN") {
    return StatementClass::kBegin;
  }
  if (first == "COMMIT") {
    return StatementClass::kCommit;
  }
  if (first == "ROLLBACK") {
    // "ROLLBACK TO SAVEPOINT" keeps the transaction going.
    const std::string second = NextKeyword(query, &pos);
    return second == "TO" ? StatementClass::kOther : StatementClass::kRollback;
  }
  const std::string second = NextKeyword(query, &pos);
  if (first == "START" && second == "TRANSACTION") {
    return StatementClass::kBegin;
  }
  if (first == "XA") {
    if (second == "START" || second == "BEGIN") return StatementClass::kBegin;
    if (second == "COMMIT") return StatementClass::kCommit;
    if (second == "ROLLBACK") return StatementClass::kRollback;
    return StatementClass::kOther;
  }
  if (first == "CREATE" || first == "ALTER" || first == "DROP" || first == "RENAME" ||
      first == "TRUNCATE") {
    if (second == "USER" || second == "ROLE" || second == "SERVER" || second == "EVENT" ||
        second == "PROCEDURE" || second == "FUNCTION" || second == "TRIGGER") {
      return StatementClass::kOther;
    }
    return StatementClass::kDdl;
  }
  return StatementClass::kOther;
}

}  // namespace tandem::connectors::mysql::binlog
