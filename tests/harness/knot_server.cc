#include "tests/harness/knot_server.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/harness/files.h"
#include "tests/harness/free_port.h"
#include "tests/harness/server_process.h"

namespace tandem::testing {
namespace {

constexpr std::chrono::seconds kStopGrace{5};
constexpr std::chrono::seconds kKnotcTimeout{10};
constexpr const char* kKnotd = "/usr/sbin/knotd";
constexpr const char* kKnotc = "/usr/sbin/knotc";

std::string Base64(const std::vector<unsigned char>& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned value = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kAlphabet[(value >> 18) & 63];
    out += kAlphabet[(value >> 12) & 63];
    out += kAlphabet[(value >> 6) & 63];
    out += kAlphabet[value & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned value = bytes[i] << 16;
    out += kAlphabet[(value >> 18) & 63];
    out += kAlphabet[(value >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned value = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += kAlphabet[(value >> 18) & 63];
    out += kAlphabet[(value >> 12) & 63];
    out += kAlphabet[(value >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string RandomSecret() {
  std::random_device device;
  std::vector<unsigned char> bytes(32);
  for (unsigned char& byte : bytes) {
    byte = static_cast<unsigned char>(device() & 0xff);
  }
  return Base64(bytes);
}

std::string WithDot(const std::string& name) {
  return !name.empty() && name.back() == '.' ? name : name + ".";
}

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  std::string word;
  while (in >> word) {
    words.push_back(word);
  }
  return words;
}

std::string ZoneFile(const KnotServerOptions& options) {
  std::ostringstream zone;
  const std::string ttl = std::to_string(options.record_ttl);
  // SOA: refresh 1 h (NOTIFY prompts the secondary), retry 10 min, expire 1 d, negative TTL 60 s.
  zone << "$ORIGIN " << WithDot(options.zone) << "\n"
       << "$TTL 3600\n"
       << "@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 60\n"
       << "@ 3600 IN NS ns1\n"
       << "ns1 3600 IN A 127.0.0.1\n"
       << "www " << ttl << " IN A " << options.www_address << "\n"
       << "api " << ttl << " IN CNAME " << options.api_target << "\n"
       << "old-lb 3600 IN A 192.0.2.10\n"
       << "new-lb 3600 IN A 198.51.100.20\n";
  return zone.str();
}

}  // namespace

std::unique_ptr<KnotServer> KnotServer::Start(const std::string& parent_dir,
                                              const KnotServerOptions& options) {
  if (options.zone.empty() || options.key_name.empty()) {
    throw std::invalid_argument("KnotServerOptions: the zone and the key name must not be empty");
  }
  MakeDirectories(parent_dir, 0755);
  std::unique_ptr<KnotServer> server(new KnotServer());
  server->dir_ = NewServerDirectory(parent_dir, "knot", options.name);
  server->zone_ = WithDot(options.zone);
  server->key_name_ = WithDot(options.key_name);
  server->key_secret_ = RandomSecret();
  server->key_algorithm_ = options.key_algorithm;
  MakeDirectories(server->dir_, 0755);

  for (Role role : {Role::kPrimary, Role::kSecondary}) {
    Instance& instance = role == Role::kPrimary ? server->primary_ : server->secondary_;
    instance.dir = server->dir_ + (role == Role::kPrimary ? "/primary" : "/secondary");
    for (const char* sub : {"", "/run", "/db", "/zones"}) {
      MakeDirectories(instance.dir + sub, 0755);
    }
    instance.config_path = instance.dir + "/knot.conf";
    instance.log_path = instance.dir + "/knotd.log";
    instance.socket_path = instance.dir + "/run/knot.sock";
    CheckUnixSocketPath(instance.socket_path);
  }
  WriteFileAtomically(server->primary_.dir + "/zones/zone.db", ZoneFile(options));

  for (int attempt = 1;; ++attempt) {
    server->primary_.port = PickFreePort();
    server->secondary_.port = PickFreePort();
    for (Role role : {Role::kPrimary, Role::kSecondary}) {
      Instance& instance = role == Role::kPrimary ? server->primary_ : server->secondary_;
      const Instance& other = role == Role::kPrimary ? server->secondary_ : server->primary_;
      std::ostringstream cfg;
      cfg << "server:\n"
          << "    rundir: \"" << instance.dir << "/run\"\n"
          << "    listen: 127.0.0.1@" << instance.port << "\n"
          << "    udp-workers: 2\n"
          << "    tcp-workers: 2\n"
          << "    background-workers: 2\n"
          << "control:\n"
          << "    listen: \"" << instance.socket_path << "\"\n"
          << "log:\n"
          << "  - target: stderr\n"
          << "    any: info\n"
          << "database:\n"
          << "    storage: \"" << instance.dir << "/db\"\n"
          << "key:\n"
          << "  - id: " << server->key_name_ << "\n"
          << "    algorithm: " << server->key_algorithm_ << "\n"
          << "    secret: " << server->key_secret_ << "\n"
          << "remote:\n"
          << "  - id: " << (role == Role::kPrimary ? "secondary" : "primary") << "\n"
          << "    address: 127.0.0.1@" << other.port << "\n"
          << "    key: " << server->key_name_ << "\n"
          << "acl:\n";
      if (role == Role::kPrimary) {
        cfg << "  - id: key_updates_and_transfers\n"
            << "    key: " << server->key_name_ << "\n"
            << "    action: [update, transfer]\n"
            << "zone:\n"
            << "  - domain: " << server->zone_ << "\n"
            << "    storage: \"" << instance.dir << "/zones\"\n"
            << "    file: zone.db\n"
            << "    notify: secondary\n"
            << "    acl: key_updates_and_transfers\n"
            << "    serial-policy: increment\n";
      } else {
        cfg << "  - id: notify_from_primary\n"
            << "    key: " << server->key_name_ << "\n"
            << "    action: notify\n"
            << "zone:\n"
            << "  - domain: " << server->zone_ << "\n"
            << "    storage: \"" << instance.dir << "/zones\"\n"
            << "    file: zone.db\n"
            << "    master: primary\n"
            << "    acl: notify_from_primary\n";
      }
      WriteFileAtomically(instance.config_path, cfg.str());
      unlink(instance.log_path.c_str());
    }
    try {
      server->Launch(Role::kPrimary, options.startup_timeout);
      server->Launch(Role::kSecondary, options.startup_timeout);
      return server;
    } catch (const std::runtime_error& error) {
      const bool conflict = std::string(error.what()).find("already in use") != std::string::npos ||
                            IsPortConflict(error.what());
      server->Stop();
      if (!conflict || attempt == kPortAttempts) {
        throw;
      }
    }
  }
}

void KnotServer::Launch(Role role, std::chrono::milliseconds timeout) {
  Instance& instance = role == Role::kPrimary ? primary_ : secondary_;
  const std::string what = std::string("knotd (") +
                           (role == Role::kPrimary ? "primary" : "secondary") + ") in " +
                           instance.dir;
  SpawnOptions spawn;
  spawn.argv = {kKnotd, "-c", instance.config_path};
  spawn.log_path = instance.log_path;
  spawn.working_dir = instance.dir;
  // Ready when the zone is loaded (for the secondary: transferred), which needs the listening
  // sockets up first: knotd binds before it loads zones.
  LaunchOutcome outcome = LaunchServer(
      spawn, what, timeout,
      [this, role] {
        const std::string status = Knotc(role, {"zone-status", zone_});
        return status.find("serial: ") != std::string::npos &&
               status.find("serial: none") == std::string::npos &&
               status.find("serial: -") == std::string::npos;
      },
      &instance.process);
  if (outcome == LaunchOutcome::kPortConflict) {
    throw std::runtime_error(what + ": port " + std::to_string(instance.port) + " already in use");
  }
}

KnotServer::~KnotServer() {
  Stop();
  if (!KeepServerDirectories() && !dir_.empty()) {
    try {
      RemoveTree(dir_);
    } catch (const std::exception&) {
      // Best effort in a destructor.
    }
  }
}

std::string KnotServer::primary_address() const {
  return "127.0.0.1:" + std::to_string(primary_.port);
}

std::string KnotServer::secondary_address() const {
  return "127.0.0.1:" + std::to_string(secondary_.port);
}

uint16_t KnotServer::port(Role role) const { return instance(role).port; }

pid_t KnotServer::pid(Role role) const { return instance(role).process.pid(); }

std::string KnotServer::Knotc(Role role, const std::vector<std::string>& args) const {
  static std::atomic<int> counter{0};
  const Instance& server = instance(role);
  const std::string output_path = server.dir + "/knotc-" + std::to_string(getpid()) + "-" +
                                  std::to_string(counter.fetch_add(1)) + ".out";
  SpawnOptions spawn;
  spawn.argv = {kKnotc, "-s", server.socket_path, "-t", "5"};
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.log_path = output_path;
  struct Remover {
    std::string path;
    ~Remover() { unlink(path.c_str()); }
  } remover{output_path};
  RunCommand(spawn, kKnotcTimeout);
  return ReadFile(output_path);
}

uint32_t KnotServer::Serial(Role role) const {
  const std::string status = Knotc(role, {"zone-status", zone_});
  const size_t at = status.find("serial: ");
  if (at == std::string::npos) {
    throw std::runtime_error("knotc zone-status " + zone_ + " shows no serial: " + status);
  }
  try {
    return static_cast<uint32_t>(std::stoul(status.substr(at + 8)));
  } catch (const std::exception&) {
    throw std::runtime_error("knotc zone-status " + zone_ + " shows no numeric serial: " + status);
  }
}

std::vector<KnotRecord> KnotServer::Read(Role role, const std::string& owner,
                                         const std::string& type) const {
  std::string output;
  try {
    output = Knotc(role, {"zone-read", zone_, owner, type});
  } catch (const std::runtime_error& error) {
    // knotc exits non-zero when the owner or type holds nothing.
    if (std::string(error.what()).find("no such") != std::string::npos) {
      return {};
    }
    throw;
  }
  std::vector<KnotRecord> records;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    // "[example.test.] www.example.test. 3600 A 192.0.2.10"
    std::vector<std::string> words = Words(line);
    if (words.size() < 5 || words[0].front() != '[') {
      continue;
    }
    KnotRecord record;
    record.owner = words[1];
    record.ttl = static_cast<uint32_t>(std::stoul(words[2]));
    record.type = words[3];
    for (size_t i = 4; i < words.size(); ++i) {
      record.value += (i > 4 ? " " : "") + words[i];
    }
    records.push_back(record);
  }
  return records;
}

void KnotServer::SetRecordOnPrimary(const std::string& owner, const std::string& type, uint32_t ttl,
                                    const std::string& value) const {
  Knotc(Role::kPrimary, {"zone-begin", zone_});
  try {
    Knotc(Role::kPrimary, {"zone-unset", zone_, owner, type});
    Knotc(Role::kPrimary, {"zone-set", zone_, owner, std::to_string(ttl), type, value});
    Knotc(Role::kPrimary, {"zone-commit", zone_});
  } catch (const std::exception&) {
    try {
      Knotc(Role::kPrimary, {"zone-abort", zone_});
    } catch (const std::exception&) {
      // The original error is the one to report.
    }
    throw;
  }
}

bool KnotServer::WaitForSecondaryInSync(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (Serial(Role::kSecondary) == Serial(Role::kPrimary)) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void KnotServer::HoldSecondary() { Knotc(Role::kSecondary, {"zone-freeze", zone_}); }

void KnotServer::ReleaseSecondary() {
  Knotc(Role::kSecondary, {"zone-thaw", zone_});
  Knotc(Role::kSecondary, {"zone-refresh", zone_});
}

void KnotServer::Stop() {
  // Both shut down at once (knotd takes about half a second to), then each is waited for.
  for (Instance* instance : {&secondary_, &primary_}) {
    if (instance->process.pid() > 0 && instance->process.Running()) {
      kill(instance->process.pid(), SIGTERM);
    }
  }
  secondary_.process.Stop(SIGTERM, kStopGrace);
  primary_.process.Stop(SIGTERM, kStopGrace);
}

}  // namespace tandem::testing
