#include "connectors/redis/redis_command_keys.h"

#include <charconv>
#include <utility>

#include "connectors/redis/redis_command.h"
#include "connectors/redis/redis_connection.h"

namespace tandem::connectors::redis {
namespace {

using engine::Result;
using engine::Status;

// COMMAND's reply, per command (Redis 7; Redis 6 stops after the ACL categories):
//   index  element            used here
//   0      name               the table's key ("set", "xgroup|create" for a subcommand)
//   1      arity              checked against the arguments
//   2      flags              "movablekeys"
//   3..5   first, last, step  the legacy key specification
//   6      ACL categories     -
//   7      tips               -
//   8      key specs          - (the legacy triple and the rules below suffice)
//   9      subcommands        entries of the same shape
constexpr size_t kMinEntryElements = 6;
constexpr size_t kSubcommandsIndex = 9;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// A non-negative count argument ("numkeys"); nullopt when it is not one.
std::optional<size_t> Count(const std::string& text) {
  size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

using Keys = std::optional<std::vector<std::string>>;

// `arguments[at]` is numkeys, the keys follow it; `prefix` keys (a destination) come first.
Keys NumkeysRule(const std::vector<std::string>& arguments, size_t at,
                 std::vector<std::string> prefix = {}) {
  if (arguments.size() <= at) {
    return std::nullopt;
  }
  std::optional<size_t> count = Count(arguments[at]);
  if (!count.has_value() || *count == 0 || *count > arguments.size() - at - 1) {
    return std::nullopt;
  }
  std::vector<std::string> keys = std::move(prefix);
  keys.insert(keys.end(), arguments.begin() + static_cast<std::ptrdiff_t>(at) + 1,
              arguments.begin() + static_cast<std::ptrdiff_t>(at + 1 + *count));
  return keys;
}

// SORT / SORT_RO key [BY pattern] [LIMIT o c] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dest].
// BY and GET patterns read keys the command does not declare; a SORT using them is ordered
// against everything (nullopt), else its keys are the source and the STORE destination.
Keys SortRule(const std::vector<std::string>& arguments) {
  if (arguments.size() < 2) {
    return std::nullopt;
  }
  std::vector<std::string> keys = {arguments[1]};
  for (size_t i = 2; i < arguments.size(); ++i) {
    const std::string& word = arguments[i];
    if (EqualsIgnoreCase(word, "limit")) {
      i += 2;
    } else if (EqualsIgnoreCase(word, "by")) {
      if (i + 1 >= arguments.size()) {
        return std::nullopt;
      }
      const std::string& pattern = arguments[++i];
      // "BY nosort" (or a pattern without '*', which Redis treats as "do not sort") reads nothing.
      if (pattern.find('*') != std::string::npos) {
        return std::nullopt;
      }
    } else if (EqualsIgnoreCase(word, "get")) {
      if (i + 1 >= arguments.size()) {
        return std::nullopt;
      }
      if (arguments[++i] != "#") {
        return std::nullopt;
      }
    } else if (EqualsIgnoreCase(word, "store")) {
      if (i + 1 >= arguments.size()) {
        return std::nullopt;
      }
      keys.push_back(arguments[++i]);
    }
  }
  return keys;
}

// XREAD / XREADGROUP ... STREAMS key ... id ...: the first half after STREAMS.
Keys StreamsRule(const std::vector<std::string>& arguments) {
  for (size_t i = 1; i < arguments.size(); ++i) {
    if (EqualsIgnoreCase(arguments[i], "streams")) {
      size_t rest = arguments.size() - i - 1;
      if (rest == 0 || rest % 2 != 0) {
        return std::nullopt;
      }
      return std::vector<std::string>(
          arguments.begin() + static_cast<std::ptrdiff_t>(i) + 1,
          arguments.begin() + static_cast<std::ptrdiff_t>(i + 1 + rest / 2));
    }
  }
  return std::nullopt;
}

// GEORADIUS key ... / GEORADIUSBYMEMBER key ...: the key, and the STORE / STOREDIST destination.
Keys GeoRadiusRule(const std::vector<std::string>& arguments) {
  if (arguments.size() < 2) {
    return std::nullopt;
  }
  std::vector<std::string> keys = {arguments[1]};
  for (size_t i = 2; i + 1 < arguments.size(); ++i) {
    if (EqualsIgnoreCase(arguments[i], "store") || EqualsIgnoreCase(arguments[i], "storedist")) {
      keys.push_back(arguments[++i]);
    }
  }
  return keys;
}

// The movable-key rules; nullopt for a command without one.
Keys MovableKeys(std::string_view name, const std::vector<std::string>& arguments) {
  if (name == "zunionstore" || name == "zinterstore" || name == "zdiffstore") {
    if (arguments.size() < 2) {
      return std::nullopt;
    }
    return NumkeysRule(arguments, 2, {arguments[1]});
  }
  if (name == "sort" || name == "sort_ro") {
    return SortRule(arguments);
  }
  if (name == "lmpop" || name == "zmpop" || name == "zunion" || name == "zinter" ||
      name == "zdiff" || name == "zintercard" || name == "sintercard") {
    return NumkeysRule(arguments, 1);
  }
  if (name == "blmpop" || name == "bzmpop") {
    return NumkeysRule(arguments, 2);
  }
  if (name == "xread" || name == "xreadgroup") {
    return StreamsRule(arguments);
  }
  if (name == "georadius" || name == "georadiusbymember" || name == "georadius_ro" ||
      name == "georadiusbymember_ro") {
    return GeoRadiusRule(arguments);
  }
  return std::nullopt;  // MIGRATE, EVAL, FCALL, ... : unknown
}

// Commands that are barriers whatever COMMAND says of them: they touch keys they do not name
// (scripts, functions), whole databases, or a key of another database (MOVE, COPY ... DB n: the
// writeset hashes keys of the command's own database only).
bool IsBarrier(std::string_view name) {
  static constexpr std::string_view kBarriers[] = {
      "flushdb", "flushall", "swapdb",  "function", "script",  "multi",
      "exec",    "discard",  "eval",    "evalsha",  "eval_ro", "evalsha_ro",
      "fcall",   "fcall_ro", "migrate", "select",   "move",    "copy"};
  for (std::string_view barrier : kBarriers) {
    if (name == barrier) {
      return true;
    }
  }
  return false;
}

Result<int64_t> IntegerAt(const Reply& entry, size_t index, size_t position) {
  const Reply& element = entry.elements[index];
  if (element.type != ReplyType::kInteger) {
    return engine::Corruption("COMMAND reply entry " + std::to_string(position) + " has " +
                              std::string(ReplyTypeName(element.type)) + " at index " +
                              std::to_string(index) + " where an integer belongs");
  }
  return element.integer;
}

// One COMMAND entry's legacy key specification.
struct EntrySpec {
  std::string name;  // lower case
  int arity = 0;
  int first = 0;
  int last = 0;
  int step = 0;
  bool movable = false;
};

Status AddEntry(const Reply& entry, size_t position, std::vector<EntrySpec>* specs) {
  if (entry.type != ReplyType::kArray || entry.elements.size() < kMinEntryElements) {
    return engine::Corruption("COMMAND reply entry " + std::to_string(position) +
                              " is not an array of at least 6 elements (name, arity, flags, "
                              "first key, last key, step)");
  }
  const Reply& name = entry.elements[0];
  if (!name.is_text() || name.text.empty()) {
    return engine::Corruption("COMMAND reply entry " + std::to_string(position) +
                              " has no command name");
  }
  const Reply& flags = entry.elements[2];
  if (flags.type != ReplyType::kArray) {
    return engine::Corruption("COMMAND reply entry " + std::to_string(position) + " (" + name.text +
                              ") has no flags array");
  }
  EntrySpec spec;
  spec.name = Lower(name.text);
  TANDEM_ASSIGN_OR_RETURN(int64_t arity, IntegerAt(entry, 1, position));
  TANDEM_ASSIGN_OR_RETURN(int64_t first, IntegerAt(entry, 3, position));
  TANDEM_ASSIGN_OR_RETURN(int64_t last, IntegerAt(entry, 4, position));
  TANDEM_ASSIGN_OR_RETURN(int64_t step, IntegerAt(entry, 5, position));
  spec.arity = static_cast<int>(arity);
  spec.first = static_cast<int>(first);
  spec.last = static_cast<int>(last);
  spec.step = static_cast<int>(step);
  for (const Reply& flag : flags.elements) {
    if (flag.is_text() && flag.text == "movablekeys") {
      spec.movable = true;
    }
  }
  specs->push_back(spec);
  if (entry.elements.size() > kSubcommandsIndex) {
    const Reply& subcommands = entry.elements[kSubcommandsIndex];
    if (subcommands.type != ReplyType::kArray) {
      return engine::Corruption("COMMAND reply entry " + std::to_string(position) + " (" +
                                name.text + ") has no subcommands array");
    }
    for (const Reply& subcommand : subcommands.elements) {
      TANDEM_RETURN_IF_ERROR(AddEntry(subcommand, position, specs));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<CommandKeyTable> CommandKeyTable::Load(Connection& source) {
  auto reply = source.Command({"COMMAND"});
  if (!reply.ok()) {
    // A NOPERM reply's message already names the fix (ACL SETUSER <user> +command).
    return reply.status().WithContext(
        "tandem reads the source's command table to tell which arguments are keys");
  }
  auto table = FromCommandReply(*reply);
  if (!table.ok()) {
    return table.status().WithContext("the COMMAND reply of " + source.server());
  }
  return table;
}

Result<CommandKeyTable> CommandKeyTable::FromCommandReply(const Reply& reply) {
  if (reply.type != ReplyType::kArray) {
    return engine::Corruption("a COMMAND reply is an array, not " +
                              std::string(ReplyTypeName(reply.type)));
  }
  std::vector<EntrySpec> entries;
  entries.reserve(reply.elements.size() * 2);
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    TANDEM_RETURN_IF_ERROR(AddEntry(reply.elements[i], i, &entries));
  }
  CommandKeyTable table;
  table.specs_.reserve(entries.size());
  for (EntrySpec& entry : entries) {
    table.specs_[std::move(entry.name)] =
        Spec{entry.arity, entry.first, entry.last, entry.step, entry.movable};
  }
  return table;
}

std::optional<std::vector<std::string>> CommandKeyTable::Keys(
    const std::vector<std::string>& arguments) const {
  if (arguments.empty()) {
    return std::nullopt;
  }
  std::string name = Lower(arguments[0]);
  if (IsBarrier(name)) {
    return std::nullopt;
  }
  auto found = specs_.find(name);
  if (found == specs_.end()) {
    return std::nullopt;
  }
  // A container (Redis 7 gives it no keys of its own) takes its subcommand's spec when COMMAND
  // listed one ("xgroup|create"); Redis 6 gave the container itself the spec.
  if (found->second.first <= 0 && !found->second.movable && arguments.size() >= 2) {
    auto subcommand = specs_.find(name + "|" + Lower(arguments[1]));
    if (subcommand != specs_.end()) {
      found = subcommand;
    }
  }
  const Spec& spec = found->second;
  const auto count = static_cast<int64_t>(arguments.size());
  if ((spec.arity > 0 && count != spec.arity) || (spec.arity < 0 && count < -spec.arity)) {
    return std::nullopt;  // not a call the server would accept: nothing to tell from it
  }
  if (spec.movable) {
    return MovableKeys(name, arguments);
  }
  if (spec.first <= 0 || spec.step <= 0) {
    return std::nullopt;  // no key specification: unknown
  }
  int64_t last = spec.last < 0 ? count + spec.last : spec.last;
  if (last >= count || last < spec.first) {
    return std::nullopt;
  }
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>((last - spec.first) / spec.step + 1));
  for (int64_t i = spec.first; i <= last; i += spec.step) {
    keys.push_back(arguments[static_cast<size_t>(i)]);
  }
  return keys;
}

}  // namespace tandem::connectors::redis
