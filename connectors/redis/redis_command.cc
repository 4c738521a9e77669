#include "connectors/redis/redis_command.h"

#include <hiredis/hiredis.h>

#include <array>
#include <cassert>
#include <cctype>
#include <new>
#include <string_view>

namespace tandem::connectors::redis {
namespace {

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// Commands whose first argument is a subcommand name, not user data.
constexpr std::array<std::string_view, 14> kContainerCommands = {
    "ACL",     "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "FUNCTION",
    "LATENCY", "MEMORY", "MODULE",  "OBJECT",  "SCRIPT", "XINFO", "XGROUP"};

}  // namespace

void AppendEncodedCommand(const Argv& argv, std::string* out) {
  assert(!argv.empty());  // a command has at least its name; callers build argv literally
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  pointers.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const std::string& arg : argv) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  char* encoded = nullptr;
  int length = redisFormatCommandArgv(&encoded, static_cast<int>(argv.size()), pointers.data(),
                                      lengths.data());
  if (length < 0) {
    // redisFormatCommandArgv fails only when it cannot allocate.
    throw std::bad_alloc();
  }
  out->append(encoded, static_cast<size_t>(length));
  redisFreeCommand(encoded);
}

std::string CommandName(const Argv& argv) {
  if (argv.empty()) {
    return "(empty command)";
  }
  std::string name = Upper(argv[0]);
  if (argv.size() > 1) {
    for (std::string_view container : kContainerCommands) {
      if (name == container) {
        return name + " " + Upper(argv[1]);
      }
    }
  }
  return name;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != lower[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace tandem::connectors::redis
