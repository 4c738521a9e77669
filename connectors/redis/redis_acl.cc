#include "connectors/redis/redis_acl.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace tandem::connectors::redis {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::vector<std::string> SplitSpaces(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (!word.empty()) {
      out.emplace_back(word);
    }
  }
  return out;
}

// Reads the fields of one rule map (the user, or a selector) into `rules`.
engine::Status ReadRuleFields(const Reply& map, AclRuleSet* rules, bool* all_keys_flag,
                              const Reply** selectors) {
  if (map.type != ReplyType::kArray || map.elements.size() % 2 != 0) {
    return engine::Corruption("ACL GETUSER replied " + std::string(ReplyTypeName(map.type)) +
                              " instead of name/value pairs");
  }
  for (size_t i = 0; i < map.elements.size(); i += 2) {
    const std::string& field = map.elements[i].text;
    const Reply& value = map.elements[i + 1];
    if (field == "commands" && value.is_text()) {
      rules->commands = value.text;
    } else if (field == "keys") {
      if (value.type == ReplyType::kArray) {
        for (const Reply& pattern : value.elements) {  // Redis 6: bare patterns
          rules->key_patterns.push_back("~" + pattern.text);
        }
      } else {
        for (std::string& pattern : SplitSpaces(value.text)) {  // Redis 7: "~a* %R~b*"
          rules->key_patterns.push_back(std::move(pattern));
        }
      }
    } else if (field == "flags" && value.type == ReplyType::kArray && all_keys_flag != nullptr) {
      for (const Reply& flag : value.elements) {
        if (flag.text == "allkeys") {
          *all_keys_flag = true;
        }
      }
    } else if (field == "selectors" && selectors != nullptr) {
      *selectors = &value;
    }
  }
  return engine::Status::Ok();
}

}  // namespace

const std::vector<RequiredCommand>& RequiredCommands(engine::Role role) {
  static const std::vector<RequiredCommand> kSource = {
      {"sync", {"SYNC"}, {"admin", "slow", "dangerous"}, false},
      {"psync", {"PSYNC", "?", "-1"}, {"admin", "slow", "dangerous"}, false},
      {"replconf", {"REPLCONF", "capa", "psync2"}, {"admin", "slow", "dangerous"}, false},
  };
  static const std::vector<RequiredCommand> kTarget = {
      // SELECT is @keyspace in Redis 6 and @connection in 7; either category grants it.
      {"select", {"SELECT", "0"}, {"fast", "connection", "keyspace"}, false},
      {"restore",
       {"RESTORE", kProbeKey, "0", "payload", "REPLACE"},
       {"keyspace", "write", "slow", "dangerous"},
       true},
      {"del", {"DEL", kProbeKey}, {"keyspace", "write", "slow"}, true},
      {"set", {"SET", kProbeKey, "value"}, {"write", "string", "slow"}, true},
      {"pexpireat", {"PEXPIREAT", kProbeKey, "0"}, {"keyspace", "write", "fast"}, true},
      {"multi", {"MULTI"}, {"fast", "transaction"}, false},
      {"exec", {"EXEC"}, {"slow", "transaction"}, false},
  };
  return role == engine::Role::kSource ? kSource : kTarget;
}

engine::Result<AclUser> ParseAclGetUser(const Reply& reply) {
  if (reply.is_nil()) {
    return engine::NotFound("ACL GETUSER found no such user");
  }
  AclUser user;
  AclRuleSet root;
  bool all_keys = false;
  const Reply* selectors = nullptr;
  TANDEM_RETURN_IF_ERROR(ReadRuleFields(reply, &root, &all_keys, &selectors));
  if (all_keys) {
    root.key_patterns.push_back("~*");
  }
  user.rule_sets.push_back(std::move(root));
  if (selectors != nullptr && selectors->type == ReplyType::kArray) {
    for (const Reply& selector : selectors->elements) {
      AclRuleSet rules;
      TANDEM_RETURN_IF_ERROR(ReadRuleFields(selector, &rules, nullptr, nullptr));
      user.rule_sets.push_back(std::move(rules));
    }
  }
  return user;
}

bool AclAllowsCommand(const AclRuleSet& rules, const RequiredCommand& command) {
  bool allowed = false;
  for (const std::string& token : SplitSpaces(rules.commands)) {
    std::string rule = Lower(token);
    if (rule == "+@all" || rule == "allcommands") {
      allowed = true;
    } else if (rule == "-@all" || rule == "nocommands") {
      allowed = false;
    } else if (rule.size() > 1 && (rule[0] == '+' || rule[0] == '-')) {
      bool grant = rule[0] == '+';
      std::string_view body = std::string_view(rule).substr(1);
      if (body.front() == '@') {
        body.remove_prefix(1);
        if (std::find(command.categories.begin(), command.categories.end(), body) !=
            command.categories.end()) {
          allowed = grant;
        }
      } else if (body == command.name) {
        allowed = grant;
      }
    }
  }
  return allowed;
}

bool AclAllowsAllKeys(const AclRuleSet& rules) {
  for (const std::string& pattern : rules.key_patterns) {
    if (pattern == "~*" || pattern == "%RW~*" || pattern == "%WR~*" || pattern == "allkeys") {
      return true;
    }
  }
  return false;
}

std::vector<std::string> DeniedByRules(const AclUser& user,
                                       const std::vector<RequiredCommand>& commands) {
  std::vector<std::string> denied;
  for (const RequiredCommand& command : commands) {
    bool allowed = std::any_of(user.rule_sets.begin(), user.rule_sets.end(), [&](const auto& r) {
      return AclAllowsCommand(r, command) && (!command.touches_keys || AclAllowsAllKeys(r));
    });
    if (!allowed) {
      denied.push_back(command.name);
    }
  }
  return denied;
}

}  // namespace tandem::connectors::redis
