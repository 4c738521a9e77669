#include "connectors/redis/redis_info.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace tandem::connectors::redis {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// "a=1,b=2" -> {{a,1},{b,2}}.
std::map<std::string, std::string, std::less<>> CommaPairs(std::string_view text) {
  std::map<std::string, std::string, std::less<>> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view pair = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos) {
      out.emplace(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
    }
  }
  return out;
}

std::string ReplyText(const Reply& reply) {
  if (reply.type == ReplyType::kInteger) {
    return std::to_string(reply.integer);
  }
  return reply.text;
}

}  // namespace

InfoFields InfoFields::Parse(std::string_view text) {
  InfoFields fields;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    line = Trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    fields.entries_.emplace_back(std::string(line.substr(0, colon)),
                                 std::string(line.substr(colon + 1)));
  }
  return fields;
}

void InfoFields::Append(const InfoFields& other) {
  entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
}

std::optional<std::string> InfoFields::Get(std::string_view key) const {
  for (const auto& [name, value] : entries_) {
    if (name == key) {
      return value;
    }
  }
  return std::nullopt;
}

std::optional<int64_t> InfoFields::GetInt(std::string_view key) const {
  std::optional<std::string> value = Get(key);
  return value.has_value() ? ParseInt64(*value) : std::nullopt;
}

std::vector<std::string> InfoFields::GetAll(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [name, value] : entries_) {
    if (name == key) {
      out.push_back(value);
    }
  }
  return out;
}

std::optional<int64_t> ParseInt64(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<int> ParseVersionNumber(std::string_view version) {
  int parts[3] = {0, 0, 0};
  const char* cursor = version.data();
  const char* end = version.data() + version.size();
  for (int i = 0; i < 3; ++i) {
    int part = 0;
    auto [next, error] = std::from_chars(cursor, end, part);
    if (error != std::errc()) {
      if (i == 0) {
        return std::nullopt;
      }
      break;
    }
    parts[i] = std::min(part, 99);
    cursor = next;
    if (cursor == end || *cursor != '.') {
      break;
    }
    ++cursor;
  }
  return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

engine::Result<std::vector<engine::KeyspaceInfo>> ParseKeyspace(const InfoFields& info) {
  std::vector<engine::KeyspaceInfo> out;
  for (const auto& [name, value] : info.entries()) {
    if (name.size() < 3 || name.compare(0, 2, "db") != 0) {
      continue;
    }
    std::optional<int64_t> database = ParseInt64(std::string_view(name).substr(2));
    if (!database.has_value()) {
      continue;  // not a keyspace line ("dbsize"-like fields of other sections)
    }
    auto pairs = CommaPairs(value);
    auto keys = pairs.find("keys");
    std::optional<int64_t> key_count =
        keys == pairs.end() ? std::nullopt : ParseInt64(keys->second);
    if (!key_count.has_value() || *database < 0 || *database > std::numeric_limits<int>::max()) {
      return engine::Corruption("unreadable INFO keyspace line '" + name + ":" + value + "'");
    }
    engine::KeyspaceInfo keyspace;
    keyspace.database = static_cast<int>(*database);
    keyspace.keys = *key_count;
    if (auto expires = pairs.find("expires"); expires != pairs.end()) {
      keyspace.keys_with_expiry = ParseInt64(expires->second).value_or(0);
    }
    out.push_back(keyspace);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.database < b.database; });
  return out;
}

engine::Result<std::map<std::string, std::string>> ParseConfigReply(const Reply& reply) {
  if (reply.type != ReplyType::kArray || reply.elements.size() % 2 != 0) {
    return engine::Corruption("CONFIG GET replied " + std::string(ReplyTypeName(reply.type)) +
                              " instead of name/value pairs");
  }
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < reply.elements.size(); i += 2) {
    out[ReplyText(reply.elements[i])] = ReplyText(reply.elements[i + 1]);
  }
  return out;
}

std::optional<int64_t> ParseMemorySize(std::string_view text) {
  text = Trim(text);
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  std::optional<int64_t> number = ParseInt64(text.substr(0, digits));
  if (!number.has_value()) {
    return std::nullopt;
  }
  std::string unit(text.substr(digits));
  for (char& c : unit) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  int64_t multiplier = 0;
  if (unit.empty() || unit == "b") multiplier = 1;
  if (unit == "k") multiplier = 1000;
  if (unit == "kb") multiplier = 1024;
  if (unit == "m") multiplier = 1000 * 1000;
  if (unit == "mb") multiplier = 1024 * 1024;
  if (unit == "g") multiplier = 1000LL * 1000 * 1000;
  if (unit == "gb") multiplier = 1024LL * 1024 * 1024;
  if (multiplier == 0 || *number > std::numeric_limits<int64_t>::max() / multiplier) {
    return std::nullopt;
  }
  return *number * multiplier;
}

engine::Result<std::vector<ModuleInfo>> ParseModuleList(const Reply& reply) {
  if (reply.type != ReplyType::kArray) {
    return engine::Corruption("MODULE LIST replied " + std::string(ReplyTypeName(reply.type)) +
                              " instead of an array");
  }
  std::vector<ModuleInfo> out;
  for (const Reply& module : reply.elements) {
    if (module.type != ReplyType::kArray || module.elements.size() % 2 != 0) {
      return engine::Corruption("MODULE LIST replied an entry that is not name/value pairs");
    }
    ModuleInfo info;
    for (size_t i = 0; i < module.elements.size(); i += 2) {
      const std::string& field = module.elements[i].text;
      if (field == "name") {
        info.name = ReplyText(module.elements[i + 1]);
      } else if (field == "ver") {
        info.version = ReplyText(module.elements[i + 1]);
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<ModuleInfo> ModulesFromInfo(const InfoFields& info) {
  std::vector<ModuleInfo> out;
  for (const std::string& line : info.GetAll("module")) {
    auto pairs = CommaPairs(line);
    ModuleInfo module;
    if (auto name = pairs.find("name"); name != pairs.end()) {
      module.name = name->second;
    }
    if (auto version = pairs.find("ver"); version != pairs.end()) {
      module.version = version->second;
    }
    out.push_back(std::move(module));
  }
  return out;
}

}  // namespace tandem::connectors::redis
