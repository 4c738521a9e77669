#include "connectors/mysql/mysql_grants.h"

#include <cctype>
#include <optional>

namespace tandem::connectors::mysql {

namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Whether `text` at `at` starts with the keyword `word` (case-insensitive) followed by a space or
// the end.
bool KeywordAt(std::string_view text, size_t at, std::string_view word) {
  if (at + word.size() > text.size()) {
    return false;
  }
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(text[at + i])) != word[i]) {
      return false;
    }
  }
  return at + word.size() == text.size() || IsSpace(text[at + word.size()]);
}

// Splits `text` on `separator` outside quotes and parentheses.
std::vector<std::string_view> SplitTopLevel(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  char quote = 0;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '`' || c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == separator && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

// Position of the keyword `word` (surrounded by spaces) at depth 0 outside quotes, or npos.
size_t FindTopLevelKeyword(std::string_view text, std::string_view word) {
  char quote = 0;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '`' || c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (depth == 0 && i > 0 && IsSpace(text[i - 1]) && KeywordAt(text, i, word)) {
      return i;
    }
  }
  return std::string_view::npos;
}

// Reads an identifier (`quoted`, "quoted" or bare) or "*" at *at; advances *at past it.
std::optional<std::string> ReadIdentifier(std::string_view text, size_t* at) {
  if (*at >= text.size()) {
    return std::nullopt;
  }
  const char first = text[*at];
  if (first == '*') {
    ++*at;
    return std::string("*");
  }
  if (first == '`' || first == '"') {
    std::string out;
    for (size_t i = *at + 1; i < text.size(); ++i) {
      if (text[i] == first) {
        if (i + 1 < text.size() && text[i + 1] == first) {
          out.push_back(first);
          ++i;
          continue;
        }
        *at = i + 1;
        return out;
      }
      out.push_back(text[i]);
    }
    return std::nullopt;  // unterminated
  }
  size_t end = *at;
  while (end < text.size() && text[end] != '.' && !IsSpace(text[end])) {
    ++end;
  }
  if (end == *at) {
    return std::nullopt;
  }
  std::string out(text.substr(*at, end - *at));
  *at = end;
  return out;
}

std::optional<Grant> ParseLine(std::string_view line) {
  line = Trim(line);
  if (!KeywordAt(line, 0, "GRANT")) {
    return std::nullopt;
  }
  const std::string_view body = line.substr(5);
  const size_t on = FindTopLevelKeyword(body, "ON");
  if (on == std::string_view::npos) {
    return std::nullopt;  // a role grant: GRANT `role` TO `user`@`host`
  }
  Grant grant;
  for (std::string_view part : SplitTopLevel(body.substr(0, on), ',')) {
    part = Trim(part);
    if (part.empty() || part.find('(') != std::string_view::npos) {
      continue;  // column privileges never cover a whole table
    }
    const std::string canonical = CanonicalPrivilege(part);
    if (canonical == "ALL" || canonical == "ALL PRIVILEGES") {
      grant.all = true;
    } else if (canonical == "PROXY") {
      return std::nullopt;
    } else {
      grant.privileges.insert(canonical);
    }
  }

  size_t at = on + 2;
  while (at < body.size() && IsSpace(body[at])) ++at;
  if (KeywordAt(body, at, "FUNCTION") || KeywordAt(body, at, "PROCEDURE") ||
      KeywordAt(body, at, "PACKAGE")) {
    return std::nullopt;
  }
  if (KeywordAt(body, at, "TABLE")) {
    at += 5;
    while (at < body.size() && IsSpace(body[at])) ++at;
  }
  std::optional<std::string> database = ReadIdentifier(body, &at);
  if (!database || at >= body.size() || body[at] != '.') {
    return std::nullopt;  // "ON *" or "ON t": relative to a current database tandem cannot know
  }
  ++at;
  std::optional<std::string> table = ReadIdentifier(body, &at);
  if (!table) {
    return std::nullopt;
  }
  if (*database == "*") {
    if (*table != "*") {
      return std::nullopt;
    }
    grant.level = Grant::Level::kGlobal;
  } else if (*table == "*") {
    grant.level = Grant::Level::kDatabase;
    grant.database = *database;
  } else {
    grant.level = Grant::Level::kTable;
    grant.database = *database;
    grant.table = *table;
  }
  return grant;
}

bool LikeMatch(std::string_view pattern, size_t p, std::string_view text, size_t t) {
  while (p < pattern.size()) {
    const char c = pattern[p];
    if (c == '%') {
      for (size_t k = t; k <= text.size(); ++k) {
        if (LikeMatch(pattern, p + 1, text, k)) {
          return true;
        }
      }
      return false;
    }
    if (t >= text.size()) {
      return false;
    }
    if (c == '_') {
      ++p;
      ++t;
      continue;
    }
    char literal = c;
    if (c == '\\' && p + 1 < pattern.size()) {
      literal = pattern[++p];
    }
    if (text[t] != literal) {
      return false;
    }
    ++p;
    ++t;
  }
  return t == text.size();
}

}  // namespace

std::string CanonicalPrivilege(std::string_view name) {
  std::string collapsed;
  for (char c : Trim(name)) {
    if (IsSpace(c)) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed.push_back(' ');
    } else {
      collapsed.push_back(c);
    }
  }
  std::string upper = Upper(collapsed);
  if (upper == "REPLICATION REPLICA") return "REPLICATION SLAVE";
  if (upper == "BINLOG MONITOR") return "REPLICATION CLIENT";
  if (upper == "REPLICA MONITOR") return "SLAVE MONITOR";
  if (upper == "READ ONLY ADMIN") return "READ_ONLY ADMIN";
  return upper;
}

std::string PrivilegeForServer(std::string_view canonical, bool is_mariadb, int version_number) {
  if (is_mariadb && version_number >= 100502 && canonical == "REPLICATION CLIENT") {
    return "BINLOG MONITOR";
  }
  return std::string(canonical);
}

bool MatchesDatabasePattern(std::string_view pattern, std::string_view database) {
  return LikeMatch(pattern, 0, database, 0);
}

GrantSet GrantSet::Parse(const std::vector<std::string>& lines) {
  GrantSet set;
  for (const std::string& line : lines) {
    if (std::optional<Grant> grant = ParseLine(line)) {
      set.grants_.push_back(std::move(*grant));
    }
  }
  return set;
}

bool GrantSet::Covers(const Grant& grant, const std::string& canonical) {
  return grant.all || grant.privileges.count(canonical) > 0;
}

bool GrantSet::HasGlobal(std::string_view privilege) const {
  const std::string canonical = CanonicalPrivilege(privilege);
  for (const Grant& grant : grants_) {
    if (grant.level == Grant::Level::kGlobal && Covers(grant, canonical)) {
      return true;
    }
  }
  return false;
}

bool GrantSet::HasOnDatabase(std::string_view privilege, std::string_view database) const {
  const std::string canonical = CanonicalPrivilege(privilege);
  for (const Grant& grant : grants_) {
    if (!Covers(grant, canonical)) {
      continue;
    }
    if (grant.level == Grant::Level::kGlobal ||
        (grant.level == Grant::Level::kDatabase &&
         MatchesDatabasePattern(grant.database, database))) {
      return true;
    }
  }
  return false;
}

bool GrantSet::HasOnTable(std::string_view privilege, std::string_view database,
                          std::string_view table) const {
  if (HasOnDatabase(privilege, database)) {
    return true;
  }
  const std::string canonical = CanonicalPrivilege(privilege);
  for (const Grant& grant : grants_) {
    if (grant.level == Grant::Level::kTable && grant.database == database && grant.table == table &&
        Covers(grant, canonical)) {
      return true;
    }
  }
  return false;
}

std::string Account::Quoted() const {
  auto quote = [](std::string_view text) {
    std::string out = "'";
    for (char c : text) {
      if (c == '\'' || c == '\\') out.push_back(c == '\'' ? '\'' : '\\');
      out.push_back(c);
    }
    return out + "'";
  };
  return quote(user) + "@" + quote(host);
}

Account ParseAccount(std::string_view current_user) {
  const size_t at = current_user.rfind('@');
  if (at == std::string_view::npos) {
    return Account{std::string(current_user), "%"};
  }
  return Account{std::string(current_user.substr(0, at)), std::string(current_user.substr(at + 1))};
}

std::string GrantStatement(const std::vector<std::string>& privileges, std::string_view on,
                           const Account& account) {
  std::string out = "GRANT ";
  for (size_t i = 0; i < privileges.size(); ++i) {
    out += (i == 0 ? "" : ", ") + privileges[i];
  }
  out += " ON " + std::string(on) + " TO " + account.Quoted() + ";";
  return out;
}

engine::Result<GrantSet> ReadGrants(MySqlConnection& connection, const std::string& action) {
  TANDEM_ASSIGN_OR_RETURN(TextRows rows, connection.QueryText("SHOW GRANTS", action));
  std::vector<std::string> lines;
  for (const TextRow& row : rows) {
    if (!row.empty() && row[0]) {
      lines.push_back(*row[0]);
    }
  }
  return GrantSet::Parse(lines);
}

}  // namespace tandem::connectors::mysql
