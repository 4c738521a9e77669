#include "orchestration/plan.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <utility>

#include "engine/stable_hash.h"
#include "orchestration/host_port.h"

namespace tandem::orchestration {

namespace {

constexpr std::string_view kPhaseNames[] = {"assessment", "provisioning", "sync",
                                            "traffic",    "cutover",      "monitor"};

// A plan file larger than this is not a plan; refusing it keeps the reader bounded.
constexpr size_t kMaxPlanBytes = 4 << 20;

constexpr std::string_view kPlanDirection = "see DESIGN.md, \"The plan file\"";

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string JoinNames(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) {
      out += ", ";
    }
    out += name;
  }
  return out;
}

std::string AllPhaseNames() {
  std::string out;
  for (std::string_view name : kPhaseNames) {
    if (!out.empty()) {
      out += ", ";
    }
    out += name;
  }
  return out;
}

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

bool IsNameCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool IsValidName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), IsNameCharacter);
}

bool HasWhiteSpace(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// What is wrong with `text` as "host:port" (IPv6 hosts in brackets), or nullopt when it is fine.
std::optional<std::string> HostPortProblem(std::string_view text) {
  auto parsed = ParseHostPort(text);
  if (!parsed.ok()) return parsed.status().message();
  return std::nullopt;
}

bool IsIpv4Literal(const std::string& text) {
  in_addr address{};
  return inet_pton(AF_INET, text.c_str(), &address) == 1;
}

bool IsIpv6Literal(const std::string& text) {
  in6_addr address{};
  return inet_pton(AF_INET6, text.c_str(), &address) == 1;
}

// HostPortProblem, and the host must be an IP address: DNS servers are asked by address (a name
// would need DNS to find DNS), and the TLS check must reach the NEW address, which the name still
// resolves away from before the switch.
std::optional<std::string> IpHostPortProblem(std::string_view text) {
  auto parsed = ParseHostPort(text);
  if (!parsed.ok()) return parsed.status().message();
  if (!IsIpLiteral(parsed->host)) {
    return "names the host " + parsed->host + ", not an IP address";
  }
  return std::nullopt;
}

bool IsBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return false;
  }
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  return std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
}

// A DNS name written fully qualified: non-empty, ending with '.', no white space.
bool IsFullyQualifiedName(std::string_view name) {
  return name.size() >= 1 && name.back() == '.' && !HasWhiteSpace(name) &&
         name.find("..") == std::string_view::npos;
}

// Whether `name` is `zone` or below it (DNS names compare without regard to case).
bool IsInZone(std::string_view name, std::string_view zone) {
  const std::string lower_name = Lower(name);
  const std::string lower_zone = Lower(zone);
  if (lower_zone == ".") {
    return true;
  }
  if (lower_name == lower_zone) {
    return true;
  }
  return lower_name.size() > lower_zone.size() &&
         lower_name.compare(lower_name.size() - lower_zone.size(), lower_zone.size(), lower_zone) ==
             0 &&
         lower_name[lower_name.size() - lower_zone.size() - 1] == '.';
}

// Parts of `uri` that may be a password: the text between the first ':' after the scheme and the
// last '@', and its pieces between URI delimiters (a password with an unescaped '/' or '?' makes
// the URI parser see only a piece of it). Used to keep parser messages free of secrets.
std::vector<std::string> PasswordCandidates(std::string_view uri) {
  std::vector<std::string> candidates;
  size_t start = uri.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  const size_t at = uri.rfind('@');
  const size_t colon = uri.find(':', start);
  if (at == std::string_view::npos || at < start) {
    // No user information: what follows a ':' should be a port, but a user who left out the '@'
    // may have written "user:password" there.
    if (colon != std::string_view::npos) {
      std::string_view port = uri.substr(colon + 1);
      port = port.substr(0, port.find_first_of("/?#"));
      if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        candidates.emplace_back(port);
      }
    }
    return candidates;
  }
  if (colon == std::string_view::npos || colon > at) {
    return candidates;
  }
  std::string_view secret = uri.substr(colon + 1, at - colon - 1);
  if (secret.empty()) {
    return candidates;
  }
  candidates.emplace_back(secret);
  size_t piece_start = 0;
  for (size_t i = 0; i <= secret.size(); ++i) {
    if (i == secret.size() || secret[i] == '/' || secret[i] == '?' || secret[i] == '@' ||
        secret[i] == '#' || secret[i] == ':' || secret[i] == '&' || secret[i] == '=') {
      if (i > piece_start) {
        candidates.emplace_back(secret.substr(piece_start, i - piece_start));
      }
      piece_start = i + 1;
    }
  }
  return candidates;
}

// `uri` as written with the password (if the URI holds one) replaced by "***". Mirrors how
// ParseConnectionUri finds the user information: before the first '/' or '?', up to the last '@'.
std::string RedactUri(std::string_view uri) {
  size_t start = uri.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  std::string_view rest = uri.substr(start);
  std::string_view authority = rest.substr(0, std::min(rest.find('/'), rest.find('?')));
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(uri);
  }
  const size_t colon = authority.find(':');
  if (colon == std::string_view::npos || colon > at) {
    return std::string(uri);
  }
  return std::string(uri.substr(0, start + colon + 1)) + "***" +
         std::string(uri.substr(start + at));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

std::string JoinPath(const std::string& directory, const std::string& name) {
  if (!directory.empty() && directory.back() == '/') {
    return directory + name;
  }
  return directory + "/" + name;
}

// A value and where the file wrote it.
template <typename T>
struct Located {
  T value;
  toml::source_position where;
};

enum class Presence { kOptional, kRequired };
enum class Sign { kPositive, kNonNegative };

// One table of the plan and the dotted key that leads to it ("traffic", "dns.records").
struct Scope {
  const toml::table& table;
  std::string prefix;  // empty for the top level

  std::string Key(std::string_view key) const {
    return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
  }
  bool is_root() const { return prefix.empty(); }
};

// Walks a parsed plan, filling a Plan and collecting every problem with its position; the caller
// reports the first one in file order. Owned by one thread.
class PlanReader {
 public:
  explicit PlanReader(const std::string& path) : path_(path), directory_(DirectoryOf(path)) {}

  Plan Read(const toml::table& root) {
    Plan plan;
    const Scope scope{root, ""};
    CheckKnownKeys(
        scope, {"name", "rollback_budget", "approve", "datastore", "traffic", "dns", "monitor"});
    if (auto name = String(scope, "name", Presence::kRequired, "\"shop\"")) {
      if (!IsValidName(name->value)) {
        Report(name->where, "name",
               Quote(name->value) +
                   " must be letters, digits, '_', '.' and '-' only (it names the journal file); "
                   "write e.g. name = \"shop\"");
      }
      plan.name = name->value;
    }
    if (auto budget = Duration(scope, "rollback_budget", "\"5m\"", Sign::kPositive)) {
      plan.rollback_budget = budget->value;
    }
    ReadApprove(scope, plan);
    bool has_datastores = false;
    if (const toml::node* node = scope.table.get("datastore")) {
      has_datastores = ReadDatastores(*node, plan);
    }
    const toml::node* traffic = scope.table.get("traffic");
    if (traffic != nullptr) {
      if (const toml::table* table = TableOf(*traffic, "traffic", "[traffic]")) {
        plan.traffic = ReadTraffic(Scope{*table, "traffic"});
      }
    }
    std::vector<std::string> writer_backends;
    for (size_t i = 0; i < plan.datastores.size(); ++i) {
      const DatastorePlan& datastore = plan.datastores[i];
      if (!datastore.writer) continue;
      toml::source_position where{};
      where.line = static_cast<toml::source_index>(datastore.line);
      where.column = 1;
      const std::string& backend = datastore.writer->haproxy_backend;
      if (traffic == nullptr) {
        Report(where, "datastore.writer",
               "the writer backend lives in the HAProxy of [traffic], and the plan has none; add a "
               "[traffic] section (haproxy, backend, old, new) or remove writer");
      } else if (plan.traffic && backend == plan.traffic->backend) {
        Report(where, "datastore.writer",
               "haproxy_backend " + backend +
                   " is the [traffic] backend, whose weights phase 4 moves (it would send writes "
                   "to both databases); name the TCP backend applications write through");
      } else if (std::find(writer_backends.begin(), writer_backends.end(), backend) !=
                 writer_backends.end()) {
        Report(where, "datastore.writer",
               "haproxy_backend " + backend +
                   " is the writer backend of another datastore; each datastore needs its own");
      }
      writer_backends.push_back(backend);
    }
    if (const toml::node* node = scope.table.get("dns")) {
      if (const toml::table* table = TableOf(*node, "dns", "[dns]")) {
        plan.dns = ReadDns(Scope{*table, "dns"});
      }
    }
    if (const toml::node* node = scope.table.get("monitor")) {
      if (const toml::table* table = TableOf(*node, "monitor", "[monitor]")) {
        const Scope monitor{*table, "monitor"};
        CheckKnownKeys(monitor,
                       {"window", "verify_every", "rollback_on_breach", "slot_advance_every"});
        plan.monitor.enabled = true;
        if (auto window = Duration(monitor, "window", "\"72h\"", Sign::kNonNegative)) {
          plan.monitor.window = window->value;
        }
        if (auto every = Duration(monitor, "verify_every", "\"1h\"", Sign::kPositive)) {
          plan.monitor.verify_every = every->value;
        }
        if (auto breach = Boolean(monitor, "rollback_on_breach", "true")) {
          plan.monitor.rollback_on_breach = breach->value;
        }
        if (auto every = Duration(monitor, "slot_advance_every", "\"1m\"", Sign::kPositive)) {
          plan.monitor.slot_advance_every = every->value;
        }
      }
    }
    if (!has_datastores && traffic == nullptr) {
      Report(toml::source_position{}, "datastore",
             "the plan does nothing: add a [[datastore]] or a [traffic] section (" +
                 std::string(kPlanDirection) + ")");
    }
    return plan;
  }

  // "<path>:<line>: <key>: <problem>; <fix>" for the first problem in file order; problems that
  // belong to no line (a missing top-level key) come after all others and carry no line.
  std::optional<std::string> FirstProblem() const {
    const Problem* first = nullptr;
    for (const Problem& problem : problems_) {
      if (first == nullptr || Earlier(problem, *first)) {
        first = &problem;
      }
    }
    if (first == nullptr) {
      return std::nullopt;
    }
    std::string out = path_;
    if (first->where.line != 0) {
      out += ":" + std::to_string(first->where.line);
    }
    return out + ": " + first->key + ": " + first->message;
  }

 private:
  struct Problem {
    toml::source_position where;  // printed; line 0: the whole file
    toml::source_position order;  // where it sorts in file order
    size_t sequence;
    std::string key;
    std::string message;
  };

  static bool Earlier(const Problem& a, const Problem& b) {
    const bool a_placed = a.where.line != 0;
    const bool b_placed = b.where.line != 0;
    if (a_placed != b_placed) {
      return a_placed;
    }
    if (a.order != b.order) {
      return a.order < b.order;
    }
    return a.sequence < b.sequence;
  }

  void Report(toml::source_position where, std::string key, std::string message) {
    problems_.push_back(
        Problem{where, where, problems_.size(), std::move(key), std::move(message)});
  }

  // A key missing from `scope` is reported at the table's header (or at no line for the top
  // level) but sorts after everything the table holds: a misspelt key is reported as unknown
  // before the correct spelling is reported missing.
  void ReportMissing(const Scope& scope, std::string key, std::string message) {
    if (scope.is_root()) {
      Report(toml::source_position{}, std::move(key), std::move(message));
      return;
    }
    problems_.push_back(Problem{scope.table.source().begin, ContentEnd(scope.table),
                                problems_.size(), std::move(key), std::move(message)});
  }

  // The last position `node` or anything in it occupies (a [header] table's own region ends
  // with its header).
  static toml::source_position ContentEnd(const toml::node& node) {
    toml::source_position end = node.source().end;
    if (const toml::table* table = node.as_table()) {
      for (auto&& [key, value] : *table) {
        end = std::max({end, key.source().end, ContentEnd(value)});
      }
    } else if (const toml::array* array = node.as_array()) {
      for (const toml::node& element : *array) {
        end = std::max(end, ContentEnd(element));
      }
    }
    return end;
  }

  void CheckKnownKeys(const Scope& scope, std::initializer_list<std::string_view> known) {
    for (auto&& [key, node] : scope.table) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) {
        continue;
      }
      const toml::source_position where =
          key.source().begin.line != 0 ? key.source().begin : node.source().begin;
      Report(where, scope.Key(key.str()),
             "unknown key; the known keys here are " + JoinNames(known));
    }
  }

  const toml::node* Get(const Scope& scope, std::string_view key, Presence presence,
                        std::string_view example) {
    const toml::node* node = scope.table.get(key);
    if (node == nullptr && presence == Presence::kRequired) {
      ReportMissing(scope, scope.Key(key),
                    "missing; add " + std::string(key) + " = " + std::string(example));
    }
    return node;
  }

  void WrongType(const toml::node& node, const std::string& dotted_key, std::string_view key,
                 std::string_view expected, std::string_view example) {
    Report(node.source().begin, dotted_key,
           "expected " + std::string(expected) + ", found " + std::string(TypeName(node)) +
               "; write e.g. " + std::string(key) + " = " + std::string(example));
  }

  // The table at `node`, or nullptr after reporting that it is something else.
  const toml::table* TableOf(const toml::node& node, const std::string& dotted_key,
                             std::string_view form) {
    if (const toml::table* table = node.as_table()) {
      return table;
    }
    Report(node.source().begin, dotted_key,
           "expected a table, found " + std::string(TypeName(node)) + "; write it as " +
               std::string(form));
    return nullptr;
  }

  std::optional<Located<std::string>> String(const Scope& scope, std::string_view key,
                                             Presence presence, std::string_view example) {
    const toml::node* node = Get(scope, key, presence, example);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto* value = node->as_string()) {
      return Located<std::string>{value->get(), node->source().begin};
    }
    WrongType(*node, scope.Key(key), key, "a string", example);
    return std::nullopt;
  }

  // A string that must not be empty.
  std::optional<Located<std::string>> NonEmptyString(const Scope& scope, std::string_view key,
                                                     Presence presence, std::string_view example) {
    auto value = String(scope, key, presence, example);
    if (value && value->value.empty()) {
      Report(value->where, scope.Key(key),
             "is empty; write e.g. " + std::string(key) + " = " + std::string(example));
      return std::nullopt;
    }
    return value;
  }

  std::optional<Located<int64_t>> Integer(const Scope& scope, std::string_view key,
                                          std::string_view example) {
    const toml::node* node = Get(scope, key, Presence::kOptional, example);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto* value = node->as_integer()) {
      return Located<int64_t>{value->get(), node->source().begin};
    }
    WrongType(*node, scope.Key(key), key, "an integer", example);
    return std::nullopt;
  }

  std::optional<Located<bool>> Boolean(const Scope& scope, std::string_view key,
                                       std::string_view example) {
    const toml::node* node = Get(scope, key, Presence::kOptional, example);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto* value = node->as_boolean()) {
      return Located<bool>{value->get(), node->source().begin};
    }
    WrongType(*node, scope.Key(key), key, "true or false", example);
    return std::nullopt;
  }

  // A floating-point number; an integer is read as one.
  std::optional<Located<double>> Number(const Scope& scope, std::string_view key,
                                        std::string_view example) {
    const toml::node* node = Get(scope, key, Presence::kOptional, example);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto* value = node->as_floating_point()) {
      return Located<double>{value->get(), node->source().begin};
    }
    if (const auto* value = node->as_integer()) {
      return Located<double>{static_cast<double>(value->get()), node->source().begin};
    }
    WrongType(*node, scope.Key(key), key, "a number", example);
    return std::nullopt;
  }

  std::optional<Located<Milliseconds>> Duration(const Scope& scope, std::string_view key,
                                                std::string_view example, Sign sign) {
    const toml::node* node = Get(scope, key, Presence::kOptional, example);
    if (node == nullptr) {
      return std::nullopt;
    }
    const auto* text = node->as_string();
    if (text == nullptr) {
      WrongType(*node, scope.Key(key), key, "a duration string", example);
      return std::nullopt;
    }
    auto duration = ParseDuration(text->get());
    if (!duration.ok()) {
      Report(node->source().begin, scope.Key(key), duration.status().message());
      return std::nullopt;
    }
    if (sign == Sign::kPositive && duration->count() == 0) {
      Report(
          node->source().begin, scope.Key(key),
          "must be longer than 0s; write e.g. " + std::string(key) + " = " + std::string(example));
      return std::nullopt;
    }
    return Located<Milliseconds>{*duration, node->source().begin};
  }

  // An array of strings (each element where the file wrote it).
  std::optional<std::vector<Located<std::string>>> StringList(const Scope& scope,
                                                              std::string_view key,
                                                              Presence presence,
                                                              std::string_view example) {
    const toml::node* node = Get(scope, key, presence, example);
    if (node == nullptr) {
      return std::nullopt;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      WrongType(*node, scope.Key(key), key, "an array of strings", example);
      return std::nullopt;
    }
    std::vector<Located<std::string>> out;
    bool all_strings = true;
    for (const toml::node& element : *array) {
      if (const auto* value = element.as_string()) {
        out.push_back(Located<std::string>{value->get(), element.source().begin});
      } else {
        all_strings = false;
        Report(element.source().begin, scope.Key(key),
               "expected an array of strings, found " + std::string(TypeName(element)) +
                   " in it; write e.g. " + std::string(key) + " = " + std::string(example));
      }
    }
    if (!all_strings) {
      return std::nullopt;
    }
    return out;
  }

  // A list of distinct, non-empty names (server names, approve phases).
  std::optional<std::vector<Located<std::string>>> NameList(const Scope& scope,
                                                            std::string_view key,
                                                            std::string_view example) {
    auto list = StringList(scope, key, Presence::kRequired, example);
    if (!list) {
      return std::nullopt;
    }
    const toml::node* node = scope.table.get(key);
    if (list->empty()) {
      Report(node->source().begin, scope.Key(key),
             "is empty; name at least one server, e.g. " + std::string(key) + " = " +
                 std::string(example));
      return std::nullopt;
    }
    bool fine = true;
    std::set<std::string> seen;
    for (const auto& name : *list) {
      if (name.value.empty()) {
        Report(
            name.where, scope.Key(key),
            "holds an empty name; write e.g. " + std::string(key) + " = " + std::string(example));
        fine = false;
      } else if (!seen.insert(name.value).second) {
        Report(name.where, scope.Key(key),
               Quote(name.value) + " is listed twice; list each server once");
        fine = false;
      }
    }
    if (!fine) {
      return std::nullopt;
    }
    return list;
  }

  void ReadApprove(const Scope& scope, Plan& plan) {
    auto names = StringList(scope, "approve", Presence::kOptional, "[\"cutover\"]");
    if (!names) {
      return;
    }
    for (const auto& name : *names) {
      std::optional<Phase> phase = PhaseFromName(name.value);
      if (!phase) {
        Report(name.where, "approve",
               Quote(name.value) + " is not a phase; the phases are " + AllPhaseNames());
      } else if (std::find(plan.approve.begin(), plan.approve.end(), *phase) ==
                 plan.approve.end()) {
        plan.approve.push_back(*phase);
      }
    }
  }

  // Returns whether the plan has at least one datastore (valid or not).
  bool ReadDatastores(const toml::node& node, Plan& plan) {
    const toml::array* array = node.as_array();
    if (array == nullptr) {
      Report(node.source().begin, "datastore",
             "expected an array of tables, found " + std::string(TypeName(node)) +
                 "; write each datastore as a [[datastore]] section");
      return false;
    }
    struct SeenName {
      std::string name;
      uint32_t line;
    };
    std::vector<SeenName> seen;
    for (const toml::node& element : *array) {
      if (!element.is_table()) {
        Report(element.source().begin, "datastore",
               "expected an array of tables, found " + std::string(TypeName(element)) +
                   " in it; write each datastore as a [[datastore]] section");
        continue;
      }
      const toml::table& table = *element.as_table();
      DatastorePlan datastore = ReadDatastore(Scope{table, "datastore"});
      if (!datastore.name.empty()) {
        auto previous = std::find_if(seen.begin(), seen.end(), [&](const SeenName& other) {
          return other.name == datastore.name;
        });
        if (previous != seen.end()) {
          const toml::node* name_node = table.get("name");
          Report(name_node->source().begin, "datastore.name",
                 Quote(datastore.name) + " is already the name of the datastore at line " +
                     std::to_string(previous->line) + "; give each datastore its own name");
        } else {
          seen.push_back(SeenName{datastore.name, table.source().begin.line});
        }
      }
      plan.datastores.push_back(std::move(datastore));
    }
    return !array->empty();
  }

  DatastorePlan ReadDatastore(const Scope& scope) {
    DatastorePlan datastore;
    datastore.line = static_cast<int>(scope.table.source().begin.line);
    CheckKnownKeys(scope, {"name", "source", "target", "max_lag", "lag_for", "writer"});
    if (auto name = String(scope, "name", Presence::kRequired, "\"orders\"")) {
      if (IsValidName(name->value)) {
        datastore.name = name->value;
      } else {
        Report(name->where, scope.Key("name"),
               Quote(name->value) +
                   " must be letters, digits, '_', '.' and '-' only; write e.g. name = \"orders\"");
      }
    }
    auto source =
        ReadUri(scope, "source", "TANDEM_SOURCE_PASSWORD", "\"mysql://tandem@10.0.0.5:3306/shop\"",
                &datastore.source, &datastore.source_uri_redacted);
    auto target =
        ReadUri(scope, "target", "TANDEM_TARGET_PASSWORD", "\"mysql://tandem@10.0.1.5:3306/shop\"",
                &datastore.target, &datastore.target_uri_redacted);
    if (source && target && datastore.source.engine != datastore.target.engine) {
      Report(*target, scope.Key("target"),
             "the target is a " + std::string(engine::EngineKindName(datastore.target.engine)) +
                 " server but the source is " +
                 std::string(engine::EngineKindName(datastore.source.engine)) +
                 "; a datastore pairs two servers of the same engine");
    }
    if (auto max_lag = Duration(scope, "max_lag", "\"100ms\"", Sign::kPositive)) {
      datastore.max_lag = max_lag->value;
    }
    if (auto lag_for = Duration(scope, "lag_for", "\"60s\"", Sign::kNonNegative)) {
      datastore.lag_for = lag_for->value;
    }
    if (const toml::node* node = scope.table.get("writer")) {
      if (const toml::table* table = TableOf(
              *node, scope.Key("writer"),
              "writer = { haproxy_backend = \"orders_db\", old = \"old\", new = \"new\" }")) {
        const Scope writer{*table, scope.Key("writer")};
        CheckKnownKeys(writer, {"haproxy_backend", "old", "new"});
        auto backend =
            NonEmptyString(writer, "haproxy_backend", Presence::kRequired, "\"orders_db\"");
        auto old_server = NonEmptyString(writer, "old", Presence::kRequired, "\"old\"");
        auto new_server = NonEmptyString(writer, "new", Presence::kRequired, "\"new\"");
        if (old_server && new_server && old_server->value == new_server->value) {
          Report(new_server->where, writer.Key("new"),
                 "names the same server as old; new must be the server of the new database");
        }
        if (backend && old_server && new_server) {
          datastore.writer = WriterRoute{backend->value, old_server->value, new_server->value};
        }
      }
    }
    return datastore;
  }

  // Parses the URI at `key` into `config` and its redacted spelling into `redacted`; returns where
  // it was written, or nullopt when it is missing or invalid (reported).
  std::optional<toml::source_position> ReadUri(const Scope& scope, std::string_view key,
                                               std::string_view password_env,
                                               std::string_view example,
                                               engine::ConnectionConfig* config,
                                               std::string* redacted) {
    auto uri = String(scope, key, Presence::kRequired, example);
    if (!uri) {
      return std::nullopt;
    }
    const std::string what = scope.Key(key);
    auto parsed = engine::ParseConnectionUri(uri->value, what, password_env);
    if (!parsed.ok()) {
      std::string message = parsed.status().message();
      if (message.rfind(what + " ", 0) == 0) {
        message = message.substr(what.size() + 1);
      }
      // "... (expected <forms>)" becomes "...; expected <forms>": what is wrong, then the fix.
      if (const size_t expected = message.rfind(" (expected ");
          expected != std::string::npos && message.back() == ')') {
        message = message.substr(0, expected) + "; " +
                  message.substr(expected + 2, message.size() - expected - 3);
      }
      // ParseConnectionUri never prints the password it found, but a malformed URI may put a piece
      // of one where a host or port is expected; never let such a message through.
      const std::vector<std::string> candidates = PasswordCandidates(uri->value);
      for (const std::string& candidate : candidates) {
        // The whole password always counts; of its pieces, those of one or two characters would
        // match almost any message and reveal next to nothing.
        if ((candidate.size() >= 3 || &candidate == &candidates.front()) &&
            message.find(candidate) != std::string::npos) {
          message =
              "URI is invalid (the details are withheld because they would show the password); "
              "write it as mysql://user:pass@host:port/db, postgres://user:pass@host:port/db or "
              "redis://:pass@host:port/N";
          break;
        }
      }
      Report(uri->where, what, message);
      return std::nullopt;
    }
    *config = std::move(parsed).value();
    *redacted = RedactUri(uri->value);
    return uri->where;
  }

  TrafficPlan ReadTraffic(const Scope& scope) {
    TrafficPlan traffic;
    CheckKnownKeys(scope, {"haproxy", "backend", "old", "new", "steps", "baseline", "dwell",
                           "min_requests", "max_error_rate_increase", "max_latency_increase",
                           "latency_slack", "probes", "log"});
    if (auto haproxy =
            NonEmptyString(scope, "haproxy", Presence::kRequired, "\"/run/haproxy/admin.sock\"")) {
      if (haproxy->value.find('/') == std::string::npos) {
        if (auto problem = HostPortProblem(haproxy->value)) {
          Report(haproxy->where, scope.Key("haproxy"),
                 Quote(haproxy->value) + " " + *problem +
                     "; write a unix socket path such as \"/run/haproxy/admin.sock\" or host:port "
                     "such as \"127.0.0.1:9999\"");
        }
      }
      traffic.haproxy = haproxy->value;
    }
    if (auto backend = NonEmptyString(scope, "backend", Presence::kRequired, "\"app\"")) {
      traffic.backend = backend->value;
    }
    auto old_servers = NameList(scope, "old", "[\"app-old-1\", \"app-old-2\"]");
    auto new_servers = NameList(scope, "new", "[\"app-new-1\"]");
    if (old_servers) {
      for (const auto& server : *old_servers) {
        traffic.old_servers.push_back(server.value);
      }
    }
    if (new_servers) {
      for (const auto& server : *new_servers) {
        traffic.new_servers.push_back(server.value);
        if (std::find(traffic.old_servers.begin(), traffic.old_servers.end(), server.value) !=
            traffic.old_servers.end()) {
          Report(server.where, scope.Key("new"),
                 Quote(server.value) +
                     " is also in traffic.old; a server is either old or new, list it once");
        }
      }
    }
    ReadSteps(scope, traffic);
    if (auto baseline = Duration(scope, "baseline", "\"10m\"", Sign::kPositive)) {
      traffic.baseline = baseline->value;
    }
    if (auto dwell = Duration(scope, "dwell", "\"30m\"", Sign::kPositive)) {
      traffic.dwell = dwell->value;
    }
    if (auto min_requests = Integer(scope, "min_requests", "500")) {
      if (min_requests->value < 1) {
        Report(min_requests->where, scope.Key("min_requests"),
               "must be at least 1 (it is " + std::to_string(min_requests->value) +
                   "); write e.g. min_requests = 500");
      } else {
        traffic.min_requests = min_requests->value;
      }
    }
    if (auto rate = Number(scope, "max_error_rate_increase", "0.001")) {
      if (!(rate->value >= 0.0 && rate->value <= 1.0)) {
        Report(rate->where, scope.Key("max_error_rate_increase"),
               "must be a fraction from 0 to 1 (0.001 is 0.1 percentage points); write e.g. "
               "max_error_rate_increase = 0.001");
      } else {
        traffic.max_error_rate_increase = rate->value;
      }
    }
    if (auto increase = Number(scope, "max_latency_increase", "0.10")) {
      if (!(increase->value >= 0.0) || std::isinf(increase->value)) {
        Report(increase->where, scope.Key("max_latency_increase"),
               "must be a fraction of 0 or more (0.10 allows 10% slower); write e.g. "
               "max_latency_increase = 0.10");
      } else {
        traffic.max_latency_increase = increase->value;
      }
    }
    if (auto slack = Duration(scope, "latency_slack", "\"5ms\"", Sign::kNonNegative)) {
      traffic.latency_slack = slack->value;
    }
    if (auto probes =
            StringList(scope, "probes", Presence::kOptional, "[\"http://10.0.1.7/health\"]")) {
      for (const auto& probe : *probes) {
        constexpr std::string_view kScheme = "http://";
        const std::string_view url = probe.value;
        const std::string_view authority =
            url.rfind(kScheme, 0) == 0
                ? url.substr(kScheme.size(),
                             url.find_first_of("/?#", kScheme.size()) - kScheme.size())
                : std::string_view();
        if (authority.find('@') != std::string_view::npos) {
          // Never quoted: the part before '@' may be a password.
          Report(probe.where, scope.Key("probes"),
                 "a probe URL carries credentials (user@ or user:password@), which tandem would "
                 "have to log; give a health URL that answers without them");
        } else if (url.rfind(kScheme, 0) != 0 || authority.empty() || HasWhiteSpace(url)) {
          Report(probe.where, scope.Key("probes"),
                 Quote(probe.value) +
                     " is not an http:// URL; write e.g. probes = [\"http://10.0.1.7/health\"]");
        } else if (auto parsed = ParseHostPort(authority, 80); !parsed.ok()) {
          Report(probe.where, scope.Key("probes"),
                 Quote(probe.value) + ": the host and port " + parsed.status().message() +
                     "; write e.g. probes = [\"http://10.0.1.7:8080/health\"]");
        } else {
          traffic.probes.push_back(probe.value);
        }
      }
    }
    if (auto log = String(scope, "log", Presence::kOptional, "\"127.0.0.1:5140\"")) {
      if (auto problem = HostPortProblem(log->value)) {
        Report(log->where, scope.Key("log"),
               Quote(log->value) + " " + *problem +
                   "; write the UDP address as host:port, e.g. log = \"127.0.0.1:5140\"");
      } else {
        traffic.log = log->value;
      }
    }
    return traffic;
  }

  void ReadSteps(const Scope& scope, TrafficPlan& traffic) {
    constexpr std::string_view kFix = "write e.g. [5, 25, 50, 75, 100]";
    const toml::node* node = scope.table.get("steps");
    if (node == nullptr) {
      return;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      WrongType(*node, scope.Key("steps"), "steps", "an array of integers", "[5, 25, 50, 75, 100]");
      return;
    }
    if (array->empty()) {
      Report(node->source().begin, scope.Key("steps"),
             "is empty; list the percentages of requests to send to the new servers, " +
                 std::string(kFix));
      return;
    }
    std::vector<int> steps;
    bool fine = true;
    for (const toml::node& element : *array) {
      const auto* value = element.as_integer();
      if (value == nullptr) {
        Report(element.source().begin, scope.Key("steps"),
               "expected an array of integers, found " + std::string(TypeName(element)) +
                   " in it; " + std::string(kFix));
        fine = false;
        continue;
      }
      const int64_t step = value->get();
      if (step < 1 || step > 100) {
        Report(element.source().begin, scope.Key("steps"),
               "each step is a percentage from 1 to 100 (" + std::to_string(step) + " is not); " +
                   std::string(kFix));
        fine = false;
        continue;
      }
      if (!steps.empty() && step <= steps.back()) {
        Report(element.source().begin, scope.Key("steps"),
               "the steps must increase (" + std::to_string(step) + " follows " +
                   std::to_string(steps.back()) + "); " + std::string(kFix));
        fine = false;
      }
      steps.push_back(static_cast<int>(step));
    }
    if (fine) {
      traffic.steps = std::move(steps);
    }
  }

  // "algorithm:name:base64secret" into `dns`; the problem when it is not that, never quoting the
  // secret.
  static std::optional<std::string> ParseTsig(std::string_view text, DnsPlan& dns) {
    const size_t first = text.find(':');
    const size_t second = first == std::string_view::npos ? first : text.find(':', first + 1);
    if (second == std::string_view::npos) {
      return "is not algorithm:name:secret";
    }
    const std::string algorithm = Lower(text.substr(0, first));
    const std::string_view name = text.substr(first + 1, second - first - 1);
    const std::string_view secret = text.substr(second + 1);
    // What the DNS client signs with (ldns 1.8 cannot sign hmac-sha384 under its standard name;
    // hmac-sha1 and hmac-sha224 are not offered).
    static constexpr std::string_view kAlgorithms[] = {"hmac-sha256", "hmac-sha512"};
    if (std::find(std::begin(kAlgorithms), std::end(kAlgorithms), algorithm) ==
        std::end(kAlgorithms)) {
      return "names the algorithm " + Quote(algorithm.substr(0, 32)) +
             ", which tandem does not sign with";
    }
    if (name.empty() || HasWhiteSpace(name)) {
      return "has an empty key name or one with white space";
    }
    if (!IsBase64(secret)) {
      return "has a secret that is not base64";
    }
    dns.tsig_algorithm = algorithm;
    dns.tsig_key_name = std::string(name);
    dns.tsig_secret_base64 = std::string(secret);
    return std::nullopt;
  }

  DnsPlan ReadDns(const Scope& scope) {
    DnsPlan dns;
    CheckKnownKeys(scope, {"server", "zone", "tsig", "tsig_file", "ttl", "records", "resolvers",
                           "propagation_timeout", "tls"});
    if (auto server = String(scope, "server", Presence::kRequired, "\"10.0.0.53:53\"")) {
      if (auto problem = IpHostPortProblem(server->value)) {
        Report(server->where, scope.Key("server"),
               Quote(server->value) + " " + *problem +
                   "; write the primary name server as host:port, e.g. server = \"10.0.0.53:53\"");
      } else {
        dns.server = server->value;
      }
    }
    bool zone_known = false;
    if (auto zone = String(scope, "zone", Presence::kRequired, "\"example.com.\"")) {
      if (!IsFullyQualifiedName(zone->value)) {
        Report(zone->where, scope.Key("zone"),
               Quote(zone->value) +
                   " is not a fully qualified name; end it with '.', e.g. zone = \"example.com.\"");
      } else {
        dns.zone = zone->value;
        zone_known = true;
      }
    }
    ReadTsig(scope, dns);
    if (auto ttl = Integer(scope, "ttl", "60")) {
      if (ttl->value < 1 || ttl->value > 2'147'483'647) {
        Report(ttl->where, scope.Key("ttl"),
               "must be a number of seconds from 1 to 2147483647; write e.g. ttl = 60");
      } else {
        dns.ttl = ttl->value;
      }
    }
    ReadRecords(scope, zone_known, dns);
    if (auto resolvers = StringList(scope, "resolvers", Presence::kOptional,
                                    "[\"10.0.0.53:53\", \"10.0.0.54:53\"]")) {
      for (const auto& resolver : *resolvers) {
        if (auto problem = IpHostPortProblem(resolver.value)) {
          Report(resolver.where, scope.Key("resolvers"),
                 Quote(resolver.value) + " " + *problem +
                     "; write each resolver as host:port, e.g. \"10.0.0.53:53\"");
        } else {
          dns.resolvers.push_back(resolver.value);
        }
      }
    }
    if (auto timeout = Duration(scope, "propagation_timeout", "\"30m\"", Sign::kPositive)) {
      dns.propagation_timeout = timeout->value;
    }
    if (const toml::node* node = scope.table.get("tls")) {
      if (const toml::table* table =
              TableOf(*node, scope.Key("tls"),
                      "tls = { host = \"www.example.com\", address = \"198.51.100.10:443\", ca = "
                      "\"/etc/ssl/certs/ca-certificates.crt\" }")) {
        const Scope tls{*table, scope.Key("tls")};
        CheckKnownKeys(tls, {"host", "address", "ca"});
        if (auto host = NonEmptyString(tls, "host", Presence::kRequired, "\"www.example.com\"")) {
          dns.tls_host = host->value;
        }
        if (auto address = String(tls, "address", Presence::kRequired, "\"198.51.100.10:443\"")) {
          if (auto problem = IpHostPortProblem(address->value)) {
            Report(address->where, tls.Key("address"),
                   Quote(address->value) + " " + *problem +
                       "; write host:port, e.g. address = \"198.51.100.10:443\"");
          } else {
            dns.tls_address = address->value;
          }
        }
        if (auto ca = NonEmptyString(tls, "ca", Presence::kOptional,
                                     "\"/etc/ssl/certs/ca-certificates.crt\"")) {
          dns.tls_ca = ca->value;
        }
      }
    }
    return dns;
  }

  void ReadTsig(const Scope& scope, DnsPlan& dns) {
    constexpr std::string_view kForm = "\"hmac-sha256:keyname:BASE64SECRET\"";
    const toml::node* inline_node = scope.table.get("tsig");
    const toml::node* file_node = scope.table.get("tsig_file");
    if (inline_node == nullptr && file_node == nullptr) {
      ReportMissing(scope, scope.Key("tsig"),
                    "missing; add tsig = " + std::string(kForm) + " or tsig_file = \"path\"");
      return;
    }
    if (inline_node != nullptr && file_node != nullptr) {
      const toml::node* later =
          inline_node->source().begin < file_node->source().begin ? file_node : inline_node;
      Report(later->source().begin, scope.Key(later == file_node ? "tsig_file" : "tsig"),
             "tsig and tsig_file are both set; keep one of them");
      return;
    }
    if (inline_node != nullptr) {
      auto tsig = String(scope, "tsig", Presence::kRequired, kForm);
      if (!tsig) {
        return;
      }
      if (auto problem = ParseTsig(tsig->value, dns)) {
        Report(tsig->where, scope.Key("tsig"),
               "the value " + *problem + "; write e.g. tsig = " + std::string(kForm) +
                   " (algorithm hmac-sha256 or hmac-sha512)");
      }
      return;
    }
    auto file = NonEmptyString(scope, "tsig_file", Presence::kRequired, "\"path\"");
    if (!file) {
      return;
    }
    const std::string resolved =
        file->value.front() == '/' ? file->value : JoinPath(directory_, file->value);
    std::ifstream in(resolved, std::ios::binary);
    std::ostringstream contents;
    if (in) {
      contents << in.rdbuf();
    }
    if (!in) {
      const int error = errno;
      Report(file->where, scope.Key("tsig_file"),
             "cannot read " + Quote(resolved) + ": " + std::strerror(error) +
                 "; give a readable file holding one line algorithm:name:base64secret");
      return;
    }
    std::string text = contents.str();
    const auto is_space = [](char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    };
    while (!text.empty() && is_space(text.back())) {
      text.pop_back();
    }
    size_t begin = 0;
    while (begin < text.size() && is_space(text[begin])) {
      ++begin;
    }
    text.erase(0, begin);
    if (text.find('\n') != std::string::npos) {
      Report(file->where, scope.Key("tsig_file"),
             "the file " + Quote(resolved) +
                 " holds more than one line; it must hold one line algorithm:name:base64secret");
      return;
    }
    if (auto problem = ParseTsig(text, dns)) {
      Report(file->where, scope.Key("tsig_file"),
             "the line in " + Quote(resolved) + " " + *problem +
                 "; it must be algorithm:name:base64secret, e.g. hmac-sha256:keyname:BASE64SECRET");
    }
  }

  void ReadRecords(const Scope& scope, bool zone_known, DnsPlan& dns) {
    constexpr std::string_view kExample =
        "[{ name = \"www.example.com.\", type = \"A\", old = \"192.0.2.10\", new = "
        "\"198.51.100.10\" }]";
    const toml::node* node = Get(scope, "records", Presence::kRequired, kExample);
    if (node == nullptr) {
      return;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      WrongType(*node, scope.Key("records"), "records", "an array of tables", kExample);
      return;
    }
    if (array->empty()) {
      Report(node->source().begin, scope.Key("records"),
             "is empty; list the records to switch, e.g. records = " + std::string(kExample));
      return;
    }
    std::set<std::pair<std::string, std::string>> seen;
    for (const toml::node& element : *array) {
      const toml::table* table = element.as_table();
      if (table == nullptr) {
        Report(element.source().begin, scope.Key("records"),
               "expected an array of tables, found " + std::string(TypeName(element)) +
                   " in it; write e.g. records = " + std::string(kExample));
        continue;
      }
      const Scope record_scope{*table, scope.Key("records")};
      CheckKnownKeys(record_scope, {"name", "type", "old", "new"});
      DnsRecordChange record;
      bool fine = true;
      auto name = String(record_scope, "name", Presence::kRequired, "\"www.example.com.\"");
      if (name) {
        if (!IsFullyQualifiedName(name->value)) {
          Report(name->where, record_scope.Key("name"),
                 Quote(name->value) +
                     " is not a fully qualified name; end it with '.', e.g. "
                     "\"www.example.com.\"");
          fine = false;
        } else if (zone_known && !IsInZone(name->value, dns.zone)) {
          Report(name->where, record_scope.Key("name"),
                 Quote(name->value) + " is not in the zone " + Quote(dns.zone) +
                     "; list only records of dns.zone");
          fine = false;
        }
        record.name = name->value;
      } else {
        fine = false;
      }
      auto type = String(record_scope, "type", Presence::kRequired, "\"A\"");
      if (type) {
        if (type->value != "A" && type->value != "AAAA" && type->value != "CNAME") {
          Report(type->where, record_scope.Key("type"),
                 Quote(type->value) +
                     " is not a record type tandem switches; write A, AAAA or "
                     "CNAME");
          fine = false;
          type.reset();
        } else {
          record.type = type->value;
        }
      } else {
        fine = false;
      }
      for (const std::string_view which : {std::string_view("old"), std::string_view("new")}) {
        auto value = String(record_scope, which, Presence::kRequired, "\"192.0.2.10\"");
        if (!value) {
          fine = false;
          continue;
        }
        if (type) {
          std::optional<std::string> problem;
          if (type->value == "A" && !IsIpv4Literal(value->value)) {
            problem = "is not an IPv4 address; an A record holds one, e.g. \"198.51.100.10\"";
          } else if (type->value == "AAAA" && !IsIpv6Literal(value->value)) {
            problem = "is not an IPv6 address; an AAAA record holds one, e.g. \"2001:db8::10\"";
          } else if (type->value == "CNAME" && !IsFullyQualifiedName(value->value)) {
            problem =
                "is not a fully qualified name; a CNAME record holds one ending with '.', e.g. "
                "\"new-lb.example.com.\"";
          }
          if (problem) {
            Report(value->where, record_scope.Key(which), Quote(value->value) + " " + *problem);
            fine = false;
          }
        }
        (which == "old" ? record.old_value : record.new_value) = value->value;
      }
      if (fine && !seen.insert({Lower(record.name), record.type}).second) {
        Report(element.source().begin, scope.Key("records"),
               record.name + " " + record.type + " is listed twice; list each record once");
        fine = false;
      }
      if (fine) {
        dns.records.push_back(std::move(record));
      }
    }
  }

  const std::string path_;
  const std::string directory_;
  std::vector<Problem> problems_;
};

}  // namespace

const char* PhaseName(Phase phase) {
  const int index = static_cast<int>(phase) - 1;
  if (index < 0 || index >= static_cast<int>(std::size(kPhaseNames))) {
    return "unknown";
  }
  return kPhaseNames[index].data();
}

std::optional<Phase> PhaseFromName(std::string_view name) {
  for (Phase phase : kAllPhases) {
    if (name == PhaseName(phase)) {
      return phase;
    }
  }
  return std::nullopt;
}

engine::Result<Plan> ParsePlan(std::string_view text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(path));
  } catch (const toml::parse_error& error) {
    const uint32_t line = error.source().begin.line;
    std::string where = path;
    if (line != 0) {
      where += ":" + std::to_string(line);
    }
    return engine::InvalidArgument(where + ": " + std::string(error.description()) +
                                   "; fix the TOML syntax (" + std::string(kPlanDirection) + ")");
  }
  PlanReader reader(path);
  Plan plan = reader.Read(root);
  if (auto problem = reader.FirstProblem()) {
    return engine::InvalidArgument(*problem);
  }
  plan.path = path;
  plan.journal_path = JoinPath(DirectoryOf(path), plan.name + ".journal.db");
  plan.digest = engine::StableHash(text);
  return plan;
}

engine::Result<Plan> LoadPlan(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      return engine::NotFound(path + ": no such plan file; give the path of a TOML plan (" +
                              std::string(kPlanDirection) + ")");
    }
    return engine::InvalidArgument(path + ": cannot open the plan file: " + std::strerror(error) +
                                   "; make it readable or give another path");
  }
  std::string text;
  char buffer[65536];
  int read_error = 0;
  while (true) {
    const ssize_t count = ::read(fd, buffer, sizeof(buffer));
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      read_error = errno;
      break;
    }
    if (count == 0) {
      break;
    }
    text.append(buffer, static_cast<size_t>(count));
    if (text.size() > kMaxPlanBytes) {
      ::close(fd);
      return engine::InvalidArgument(
          path + ": the plan file is larger than " + std::to_string(kMaxPlanBytes >> 20) +
          " MiB; give the path of a TOML plan (" + std::string(kPlanDirection) + ")");
    }
  }
  ::close(fd);
  if (read_error != 0) {
    return engine::InvalidArgument(path +
                                   ": cannot read the plan file: " + std::strerror(read_error) +
                                   "; give the path of a readable TOML plan file");
  }
  return ParsePlan(text, path);
}

}  // namespace tandem::orchestration
