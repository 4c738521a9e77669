// File: tests/harness/knot_server.h
//
// KnotServer: a private pair of Knot DNS servers (Debian `knot`, /usr/sbin/knotd 3.x) for one
// test, each a `knotd -c <dir>/knot.conf` child in its own directory with its own rundir, storage
// and database paths, listening on a free 127.0.0.1 port (UDP and TCP):
//   PRIMARY    serves the test zone from a zone file written here (SOA serial 1, NS ns1, an A
//              record www, a CNAME api, and the A records old-lb/new-lb the CNAME may point to);
//              one TSIG key (hmac-sha256 by default, random secret) may update the zone (RFC 2136)
//              and transfer it; every change NOTIFYs the secondary.
//   SECONDARY  loads the zone by zone transfer (AXFR, then IXFR) from the primary, signed with the
//              same key, and refreshes when the primary NOTIFYs it (the SOA refresh interval is an
//              hour, so NOTIFY is the only prompt during a test).
//
// Holding the secondary back: HoldSecondary() runs `knotc zone-freeze` on it. A frozen zone keeps
// answering queries from the data it has, but its events (the refresh a NOTIFY schedules) wait;
// ReleaseSecondary() runs `knotc zone-thaw` and `knotc zone-refresh`, so it transfers the
// primary's changes at once. Queries keep being answered throughout (the secondary is lagging, not
// down).
//
// The harness reads and changes the zones through `knotc` (its control socket), never through
// tandem's DNS client, so the fixture does not share bugs with the code under test.
//
// Readiness: Start() returns once each server's control socket answers and the zone is loaded
// there (for the secondary: transferred), bounded by startup_timeout. Knot's log goes to
// <dir>/<role>/knotd.log.
//
// Lifetime: the destructor stops both servers by PID (SIGTERM, SIGKILL after 5 s) and removes the
// directory (kept when TANDEM_TEST_KEEP_SERVER_DIRS is set). The servers die with the test
// process.
//
// Thread safety: the const methods are safe for concurrent use. HoldSecondary/ReleaseSecondary
// and Stop() must not run concurrently with each other.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/subprocess.h"

namespace tandem::testing {

struct KnotServerOptions {
  std::string zone = "example.test.";      // with the trailing dot
  uint32_t record_ttl = 3600;              // TTL of www (A) and api (CNAME) in the zone file
  std::string www_address = "192.0.2.10";  // www.<zone> A
  std::string api_target = "old-lb.example.test.";  // api.<zone> CNAME
  std::string key_name = "tandem-key.";             // the TSIG key's name
  std::string key_algorithm = "hmac-sha256";        // or "hmac-sha384", "hmac-sha512"
  std::string name;                                 // subdirectory of parent_dir; "" = unique name
  std::chrono::milliseconds startup_timeout{10'000};
};

// One record as `knotc zone-read` shows it.
struct KnotRecord {
  std::string owner;  // fully qualified, trailing dot
  uint32_t ttl = 0;
  std::string type;
  std::string value;  // RDATA in presentation form
};

class KnotServer {
 public:
  enum class Role { kPrimary, kSecondary };

  // Writes the configurations and the zone file into a new directory under `parent_dir`, starts
  // the primary, then the secondary, and returns once both serve the zone. Throws
  // std::runtime_error for a start failure (with the tail of the server's log).
  static std::unique_ptr<KnotServer> Start(const std::string& parent_dir,
                                           const KnotServerOptions& options = {});

  KnotServer(const KnotServer&) = delete;
  KnotServer& operator=(const KnotServer&) = delete;
  ~KnotServer();

  const std::string& dir() const { return dir_; }
  const std::string& zone() const { return zone_; }

  // "127.0.0.1:PORT" of each server (UDP and TCP).
  std::string primary_address() const;
  std::string secondary_address() const;
  uint16_t port(Role role) const;
  pid_t pid(Role role) const;

  // The TSIG key allowed to update and transfer: name with a trailing dot, its algorithm
  // (options.key_algorithm), and the base64 secret.
  const std::string& key_name() const { return key_name_; }
  const std::string& key_algorithm() const { return key_algorithm_; }
  const std::string& key_secret() const { return key_secret_; }

  // The zone's SOA serial as `knotc zone-status` reports it. Throws std::runtime_error.
  uint32_t Serial(Role role) const;
  // The records of `owner`/`type` in the zone (owner relative like "www" or fully qualified).
  // Empty when there are none. Throws std::runtime_error for a knotc failure.
  std::vector<KnotRecord> Read(Role role, const std::string& owner, const std::string& type) const;

  // Replaces `owner`/`type` on the primary by one record, through a knotc zone transaction
  // (the serial moves by one and the secondary is notified): the "someone else changed it" move.
  void SetRecordOnPrimary(const std::string& owner, const std::string& type, uint32_t ttl,
                          const std::string& value) const;

  // Waits until the secondary's serial equals the primary's, at most `timeout`; returns whether it
  // did.
  bool WaitForSecondaryInSync(std::chrono::milliseconds timeout) const;

  // Freezes the zone on the secondary (see the file comment).
  void HoldSecondary();
  // Thaws it and asks it to refresh from the primary now.
  void ReleaseSecondary();

  // Runs `knotc -s <socket> <args...>` against one server and returns its output. Throws
  // std::runtime_error (with the output) if knotc fails.
  std::string Knotc(Role role, const std::vector<std::string>& args) const;

  // Stops both servers (SIGTERM, SIGKILL after 5 s). Idempotent; keeps the directory.
  void Stop();

 private:
  struct Instance {
    std::string dir;
    std::string config_path;
    std::string log_path;
    std::string socket_path;
    uint16_t port = 0;
    ChildProcess process;
  };

  KnotServer() = default;
  const Instance& instance(Role role) const {
    return role == Role::kPrimary ? primary_ : secondary_;
  }
  void Launch(Role role, std::chrono::milliseconds timeout);

  std::string dir_;
  std::string zone_;
  std::string key_name_;
  std::string key_algorithm_;
  std::string key_secret_;
  Instance primary_;
  Instance secondary_;
};

}  // namespace tandem::testing
