#include "tools/redis_verify_command.h"

#include <atomic>
#include <fstream>
#include <iostream>
#include <optional>

#include "checksum/redis_repair.h"
#include "checksum/redis_verifier.h"
#include "tools/command.h"
#include "tools/database_opener.h"
#include "tools/stop_signals.h"
#include "tools/verify_output.h"

namespace tandem::tools {
namespace {

namespace po = boost::program_options;

constexpr char kUsage[] =
    "Usage: tandem verify --source redis://... --target redis://... [--db N ...] [--threads N]\n"
    "                     [--digest values|lua] [--ttl-tolerance S] [--max-ops N]\n"
    "                     [--report PATH] [--repair PATH] [--format text|json]\n"
    "\n"
    "Proves that the target Redis holds the same keys as the source: every logical database\n"
    "with keys on either side (or the URI's /N, or each --db N), walked with SCAN on both sides.\n"
    "Types, TTLs (within --ttl-tolerance) and values are compared logically, so encodings\n"
    "(listpack, hashtable, intset, skiplist) do not matter; values are fetched with pipelining\n"
    "and big collections read in pages, or digested on the server by a Lua script (--digest lua).\n"
    "A differing key is re-checked after the target applied the source's replication offset (a\n"
    "native replica) or after --recheck-delay, so writes in flight and expiring keys are not\n"
    "reported. --max-ops holds commands against each server to N per second. --repair writes\n"
    "RESTORE ... REPLACE (from DUMP) and DEL commands that make the target match, for\n"
    "redis-cli < PATH.\n"
    "\n"
    "Exit status: 0 consistent (and nothing skipped), 1 differences found, 2 could not answer.";

bool IsRedisUri(const std::string& uri) {
  return uri.rfind("redis://", 0) == 0 || uri.rfind("rediss://", 0) == 0;
}

// The database a URI names explicitly with "/N", if it does.
std::optional<int> ExplicitDatabase(const std::string& uri,
                                    const engine::ConnectionConfig& parsed) {
  std::string rest = uri.substr(uri.find("://") + 3);
  rest = rest.substr(0, rest.find('?'));
  const size_t at = rest.rfind('@');
  const size_t slash = rest.find('/', at == std::string::npos ? 0 : at);
  if (slash == std::string::npos || slash + 1 == rest.size()) {
    return std::nullopt;
  }
  return parsed.RedisDatabase();
}

}  // namespace

bool NamesRedisServer(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    for (const char* flag : {"--source", "--target"}) {
      const std::string with_equals = std::string(flag) + "=";
      if (args[i] == flag && i + 1 < args.size() && IsRedisUri(args[i + 1])) {
        return true;
      }
      if (args[i].rfind(with_equals, 0) == 0 && IsRedisUri(args[i].substr(with_equals.size()))) {
        return true;
      }
    }
  }
  return false;
}

int RunRedisVerifyCommand(const std::vector<std::string>& args) {
  checksum::RedisVerifyOptions defaults;
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("source", po::value<std::string>()->required(),
                                                    "the old Redis (redis://:pass@host:port/N)")(
      "target", po::value<std::string>()->required(), "the new Redis")(
      "db", po::value<std::vector<int>>(), "logical database to compare (repeatable)")(
      "threads", po::value<int>()->default_value(defaults.threads),
      "workers comparing batches in parallel (each uses one connection per side)")(
      "digest", po::value<std::string>()->default_value("values"),
      "values: fetch values (pipelined) and hash them here; lua: hash them on the server")(
      "ttl-tolerance", po::value<double>()->default_value(1.0), "seconds two TTLs may differ by")(
      "max-ops", po::value<int64_t>()->default_value(0),
      "commands per second against each server (0 = unlimited)")(
      "batch-keys", po::value<int64_t>()->default_value(defaults.batch_keys),
      "keys per pipelined batch")(
      "catch-up-timeout", po::value<double>()->default_value(30),
      "seconds to wait for a replica target to reach the source's offset when re-checking")(
      "recheck-delay", po::value<double>()->default_value(1),
      "seconds to wait before re-checking when the target is not a replica of the source")(
      "report", po::value<std::string>(), "also write the JSON report to PATH")(
      "repair", po::value<std::string>(),
      "write Redis commands that make the target match to PATH")(
      "repair-sql", po::value<std::string>(), "same as --repair")(
      "format", po::value<std::string>()->default_value("text"), "text or json");
  po::variables_map values;
  int exit_code = kExitCannotAnswer;
  if (!ParseCommandLine("verify", kUsage, options, args, &values, &exit_code)) {
    return exit_code;
  }
  auto format = ParseOutputFormat(values["format"].as<std::string>());
  if (!format.ok()) {
    return ReportError("verify", format.status());
  }
  const std::string source_uri = values["source"].as<std::string>();
  const std::string target_uri = values["target"].as<std::string>();
  auto source_config = ParseSourceUri(source_uri);
  if (!source_config.ok()) {
    return ReportError("verify", source_config.status());
  }
  auto target_config = ParseTargetUri(target_uri);
  if (!target_config.ok()) {
    return ReportError("verify", target_config.status());
  }
  if (source_config->engine != engine::EngineKind::kRedis ||
      target_config->engine != engine::EngineKind::kRedis) {
    return ReportError("verify",
                       "tandem verify compares Redis with Redis; give redis:// URIs for both "
                       "--source and --target");
  }
  checksum::RedisVerifyOptions verify_options;
  if (values.count("db")) {
    verify_options.databases = values["db"].as<std::vector<int>>();
  } else {
    std::optional<int> source_db = ExplicitDatabase(source_uri, *source_config);
    std::optional<int> target_db = ExplicitDatabase(target_uri, *target_config);
    if (source_db.has_value() && target_db.has_value() && *source_db != *target_db) {
      return ReportError("verify", "--source names database " + std::to_string(*source_db) +
                                       " and --target database " + std::to_string(*target_db) +
                                       "; tandem verify compares database N with database N");
    }
    if (source_db.has_value() || target_db.has_value()) {
      verify_options.databases = {source_db.value_or(target_db.value_or(0))};
    }
  }
  for (int db : verify_options.databases) {
    if (db < 0) {
      return ReportError("verify", "--db must be a database number (0 or more)");
    }
  }
  const std::string digest = values["digest"].as<std::string>();
  if (digest == "values") {
    verify_options.fetch = engine::ValueFetch::kValues;
  } else if (digest == "lua") {
    verify_options.fetch = engine::ValueFetch::kServerDigest;
  } else {
    return ReportError("verify", "--digest must be 'values' or 'lua', not '" + digest + "'");
  }
  verify_options.threads = values["threads"].as<int>();
  verify_options.max_ops = values["max-ops"].as<int64_t>();
  verify_options.batch_keys = values["batch-keys"].as<int64_t>();
  const double tolerance = values["ttl-tolerance"].as<double>();
  const double catch_up = values["catch-up-timeout"].as<double>();
  const double delay = values["recheck-delay"].as<double>();
  if (verify_options.threads < 1 || verify_options.threads > 64) {
    return ReportError("verify", "--threads must be between 1 and 64");
  }
  if (verify_options.max_ops < 0 || verify_options.batch_keys < 1 || !(tolerance >= 0) ||
      !(catch_up > 0) || !(delay >= 0)) {
    return ReportError("verify",
                       "--max-ops and --ttl-tolerance must be >= 0, --batch-keys and "
                       "--catch-up-timeout positive, --recheck-delay >= 0");
  }
  verify_options.ttl_tolerance = std::chrono::milliseconds(static_cast<int64_t>(tolerance * 1000));
  verify_options.catch_up_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(catch_up * 1000));
  verify_options.recheck_delay = std::chrono::milliseconds(static_cast<int64_t>(delay * 1000));
  StopSignals signals;
  verify_options.stop_requested = [] { return StopSignals::stop_requested(); };

  auto report = checksum::VerifyRedis(*source_config, *target_config, OpenDatabase, verify_options);
  if (!report.ok()) {
    return ReportError("verify", report.status());
  }
  const nlohmann::json json = report->ToJson();
  if (values.count("report")) {
    const int written = WriteJsonReportFile(json, values["report"].as<std::string>());
    if (written != kExitYes) {
      return written;
    }
  }
  for (const char* flag : {"repair", "repair-sql"}) {
    if (!values.count(flag)) {
      continue;
    }
    const std::string path = values[flag].as<std::string>();
    std::ofstream out(path, std::ios::trunc | std::ios::binary);
    if (!out) {
      return ReportError("verify", "cannot write --" + std::string(flag) + " file " + path);
    }
    auto written = checksum::WriteRedisRepairScript(*report, *source_config, OpenDatabase, out);
    if (!written.ok()) {
      return ReportError("verify", written.status().WithContext("writing the repair script"));
    }
  }
  return FinishVerify(report->report, json, report->ToText(), *format);
}

}  // namespace tandem::tools
