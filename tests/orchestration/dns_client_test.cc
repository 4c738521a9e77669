// DnsClient against a real Knot DNS primary (and its secondary): queries, the SOA serial, and
// TSIG-signed compare-and-swap updates, checked through knotc (tests/harness/knot_server.h).
// Against a tiny fake DNS server in this file: unsigned and mismatched answers are refused, RD is
// set as asked, and one deadline bounds a call; SameDnsValue without any server.
#include "orchestration/dns_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "orchestration/dns_propagation.h"
#include "tests/harness/files.h"
#include "tests/harness/knot_server.h"

namespace tandem::orchestration {
namespace {

using ::testing::HasSubstr;
using testing::KnotServer;
using ::testing::Not;
using Role = testing::KnotServer::Role;
using Clock = std::chrono::steady_clock;

class DnsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    temp_ = std::make_unique<testing::TempDir>("tandem-dns");
    knot_ = KnotServer::Start(temp_->path());
  }
  void TearDown() override {
    knot_.reset();
    temp_.reset();
  }

  TsigKey Key() const { return TsigKey{"hmac-sha256", knot_->key_name(), knot_->key_secret()}; }
  DnsClient Primary() const { return DnsClient(knot_->primary_address(), Key()); }

  std::string KnotValue(Role role, const std::string& owner, const std::string& type) const {
    const auto records = knot_->Read(role, owner, type);
    EXPECT_EQ(records.size(), 1u) << owner << " " << type;
    return records.empty() ? "" : records.front().value;
  }

  std::unique_ptr<testing::TempDir> temp_;
  std::unique_ptr<KnotServer> knot_;
};

TEST_F(DnsClientTest, QueryReadsRecordsAndSoaSerial) {
  for (const std::string& server : {knot_->primary_address(), knot_->secondary_address()}) {
    SCOPED_TRACE(server);
    DnsClient client(server, std::nullopt);
    auto www = client.Query("www.example.test.", "A");
    ASSERT_TRUE(www.ok()) << www.status().ToString();
    ASSERT_EQ(www->size(), 1u);
    EXPECT_EQ(www->front().name, "www.example.test.");
    EXPECT_EQ(www->front().type, "A");
    EXPECT_EQ(www->front().ttl, 3600u);
    EXPECT_EQ(www->front().value, "192.0.2.10");

    auto api = client.Query("api.example.test", "cname");  // no trailing dot, lower-case type
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    ASSERT_EQ(api->size(), 1u);
    EXPECT_EQ(api->front().value, "old-lb.example.test.");

    auto missing = client.Query("nothing-here.example.test.", "A");  // NXDOMAIN
    ASSERT_TRUE(missing.ok()) << missing.status().ToString();
    EXPECT_TRUE(missing->empty());
    auto no_data = client.Query("www.example.test.", "AAAA");  // NODATA
    ASSERT_TRUE(no_data.ok()) << no_data.status().ToString();
    EXPECT_TRUE(no_data->empty());

    auto serial = client.SoaSerial("example.test.");
    ASSERT_TRUE(serial.ok()) << serial.status().ToString();
    EXPECT_EQ(*serial, knot_->Serial(Role::kPrimary));
  }
  EXPECT_TRUE(knot_->Read(Role::kPrimary, "nothing-here", "A").empty());
  // A signed query is answered too.
  auto signed_query = Primary().Query("www.example.test.", "A");
  ASSERT_TRUE(signed_query.ok()) << signed_query.status().ToString();
  EXPECT_EQ(signed_query->size(), 1u);
}

TEST_F(DnsClientTest, SoaSerialOfAZoneTheServerDoesNotServeIsNotFound) {
  auto serial = Primary().SoaSerial("other.test.");
  ASSERT_FALSE(serial.ok());
  EXPECT_EQ(serial.status().code(), engine::StatusCode::kNotFound) << serial.status().ToString();
  EXPECT_THAT(serial.status().message(), HasSubstr("other.test."));
}

TEST_F(DnsClientTest, ReplaceRecordsLowersTheTtlAndKeepsTheValue) {
  const uint32_t serial_before = knot_->Serial(Role::kPrimary);
  engine::Status status = Primary().ReplaceRecords(
      "example.test.",
      {{"www.example.test.", "A", "192.0.2.10", "192.0.2.10", 60},
       // Written as a plan might: no trailing dots.
       {"api.example.test", "CNAME", "old-lb.example.test", "old-lb.example.test", 60}});
  ASSERT_TRUE(status.ok()) << status.ToString();

  const auto www = knot_->Read(Role::kPrimary, "www", "A");
  ASSERT_EQ(www.size(), 1u);
  EXPECT_EQ(www.front().ttl, 60u);
  EXPECT_EQ(www.front().value, "192.0.2.10");
  const auto api = knot_->Read(Role::kPrimary, "api", "CNAME");
  ASSERT_EQ(api.size(), 1u);
  EXPECT_EQ(api.front().ttl, 60u);
  EXPECT_EQ(api.front().value, "old-lb.example.test.");
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial_before + 1);

  auto answered = DnsClient(knot_->primary_address(), std::nullopt).Query("www.example.test.", "A");
  ASSERT_TRUE(answered.ok()) << answered.status().ToString();
  ASSERT_EQ(answered->size(), 1u);
  EXPECT_EQ(answered->front().ttl, 60u);
}

TEST_F(DnsClientTest, ChangesTheAAndTheCnameInOneUpdate) {
  auto serial_before = Primary().SoaSerial("example.test.");
  ASSERT_TRUE(serial_before.ok()) << serial_before.status().ToString();
  ASSERT_EQ(*serial_before, knot_->Serial(Role::kPrimary));

  engine::Status status = Primary().ReplaceRecords(
      "example.test.",
      {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60},
       {"api.example.test.", "CNAME", "old-lb.example.test.", "new-lb.example.test.", 60}});
  ASSERT_TRUE(status.ok()) << status.ToString();

  // Both records changed and the serial moved by exactly one: one update, applied as a whole.
  EXPECT_EQ(knot_->Serial(Role::kPrimary), *serial_before + 1);
  auto serial_after = Primary().SoaSerial("example.test.");
  ASSERT_TRUE(serial_after.ok()) << serial_after.status().ToString();
  EXPECT_EQ(*serial_after, *serial_before + 1);
  EXPECT_EQ(KnotValue(Role::kPrimary, "www", "A"), "198.51.100.20");
  EXPECT_EQ(KnotValue(Role::kPrimary, "api", "CNAME"), "new-lb.example.test.");

  // The secondary follows by zone transfer.
  ASSERT_TRUE(knot_->WaitForSecondaryInSync(std::chrono::seconds(10)));
  EXPECT_EQ(KnotValue(Role::kSecondary, "www", "A"), "198.51.100.20");
  EXPECT_EQ(KnotValue(Role::kSecondary, "api", "CNAME"), "new-lb.example.test.");
}

TEST_F(DnsClientTest, ARecordChangedBySomeoneElseStopsTheUpdateAndNothingChanges) {
  // Someone else points api elsewhere first (a zone transaction: the serial moves).
  knot_->SetRecordOnPrimary("api", "CNAME", 3600, "elsewhere.example.net.");
  const uint32_t serial_before = knot_->Serial(Role::kPrimary);

  engine::Status status = Primary().ReplaceRecords(
      "example.test.",
      {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60},
       {"api.example.test.", "CNAME", "old-lb.example.test.", "new-lb.example.test.", 60}});
  ASSERT_EQ(status.code(), engine::StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("api.example.test. CNAME holds elsewhere.example.net."));
  EXPECT_THAT(status.message(), HasSubstr("not old-lb.example.test."));
  EXPECT_THAT(status.message(), HasSubstr("nothing was changed"));

  // Not even the record whose prerequisite held was touched.
  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial_before);
  const auto www = knot_->Read(Role::kPrimary, "www", "A");
  ASSERT_EQ(www.size(), 1u);
  EXPECT_EQ(www.front().value, "192.0.2.10");
  EXPECT_EQ(www.front().ttl, 3600u);
  EXPECT_EQ(KnotValue(Role::kPrimary, "api", "CNAME"), "elsewhere.example.net.");
}

TEST_F(DnsClientTest, AWrongSecretOrAnUnknownKeyIsPermissionDeniedWithoutTheSecret) {
  const uint32_t serial_before = knot_->Serial(Role::kPrimary);
  const std::vector<DnsRecordReplacement> change = {
      {"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}};

  const std::string wrong_secret = "c2VjcmV0LXRoYXQtdGhlLXNlcnZlci1kb2VzLW5vdC1rbm93";
  DnsClient wrong(knot_->primary_address(),
                  TsigKey{"hmac-sha256", knot_->key_name(), wrong_secret});
  engine::Status status = wrong.ReplaceRecords("example.test.", change);
  EXPECT_EQ(status.code(), engine::StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(knot_->key_name()));
  EXPECT_THAT(status.message(), Not(HasSubstr(wrong_secret)));
  EXPECT_THAT(status.message(), Not(HasSubstr(knot_->key_secret())));

  DnsClient unknown(knot_->primary_address(),
                    TsigKey{"hmac-sha256", "someone-else", knot_->key_secret()});
  status = unknown.ReplaceRecords("example.test.", change);
  EXPECT_EQ(status.code(), engine::StatusCode::kPermissionDenied) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("someone-else."));
  EXPECT_THAT(status.message(), Not(HasSubstr(knot_->key_secret())));

  EXPECT_EQ(knot_->Serial(Role::kPrimary), serial_before);
  EXPECT_EQ(KnotValue(Role::kPrimary, "www", "A"), "192.0.2.10");
}

TEST_F(DnsClientTest, TheSecondaryRefusesUpdates) {
  DnsClient secondary(knot_->secondary_address(), Key());
  engine::Status status = secondary.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}});
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(KnotValue(Role::kPrimary, "www", "A"), "192.0.2.10");
}

TEST_F(DnsClientTest, AnAnswerTooLargeForUdpIsFetchedOverTcp) {
  // 20 TXT records of 120 characters: about 2.7 KB, over the 1232-byte EDNS UDP size.
  knot_->Knotc(Role::kPrimary, {"zone-begin", "example.test."});
  for (int i = 0; i < 20; ++i) {
    std::string text = "record-" + std::to_string(100 + i) + "-";
    text.resize(120, 'x');
    knot_->Knotc(Role::kPrimary, {"zone-set", "example.test.", "big", "3600", "TXT", text});
  }
  knot_->Knotc(Role::kPrimary, {"zone-commit", "example.test."});
  ASSERT_EQ(knot_->Read(Role::kPrimary, "big", "TXT").size(), 20u);

  auto records =
      DnsClient(knot_->primary_address(), std::nullopt).Query("big.example.test.", "TXT");
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 20u);
  EXPECT_THAT(records->front().value, HasSubstr("record-1"));
}

TEST(DnsClientAlgorithms, Sha512KeysSignUpdatesAndSha384IsUnsupported) {
  testing::TempDir temp("tandem-dns");
  testing::KnotServerOptions options;
  options.key_algorithm = "hmac-sha512";
  auto knot = KnotServer::Start(temp.path(), options);
  DnsClient client(knot->primary_address(),
                   TsigKey{"hmac-sha512", knot->key_name(), knot->key_secret()});
  engine::Status status = client.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}});
  ASSERT_TRUE(status.ok()) << status.ToString();
  const auto www = knot->Read(Role::kPrimary, "www", "A");
  ASSERT_EQ(www.size(), 1u);
  EXPECT_EQ(www.front().value, "198.51.100.20");

  // ldns 1.8 cannot sign with hmac-sha384 (see dns_client.cc): refused before sending.
  DnsClient sha384(knot->primary_address(),
                   TsigKey{"hmac-sha384", knot->key_name(), knot->key_secret()});
  status = sha384.ReplaceRecords("example.test.",
                                 {{"www.example.test.", "A", "198.51.100.20", "192.0.2.10", 60}});
  EXPECT_EQ(status.code(), engine::StatusCode::kUnsupported) << status.ToString();
  EXPECT_EQ(knot->Read(Role::kPrimary, "www", "A").front().value, "198.51.100.20");
}

// --- A fake DNS server: no Knot needed. ---

// How FakeDnsServer answers a query.
enum class Fake {
  kSilent,                 // never answers; its TCP port is bound but not listening (refused)
  kAnswer,                 // a valid-looking unsigned answer: A 192.0.2.99
  kAnswerLate,             // ... after kLateReply
  kWrongId,                // ... with another message ID
  kQrClear,                // ... with the QR bit clear
  kOtherQuestion,          // ... for xww instead of www
  kOtherOpcode,            // ... with opcode STATUS
  kRefuseWithoutRd,        // REFUSED unless RD is set (as Unbound does for remote clients)
  kTruncateThenTcp,        // UDP: TC set and nothing else; TCP: the valid unsigned answer
  kTruncateLateThenSilent  // UDP: TC set after kLateReply; TCP: accepts and never answers
};

constexpr std::chrono::milliseconds kLateReply{450};

// A tiny DNS responder on 127.0.0.1, UDP and TCP on one port (both bound, so no other process
// can use either), answering on its own thread as `Fake` says. Every answer is unsigned.
class FakeDnsServer {
 public:
  explicit FakeDnsServer(Fake behaviour) : behaviour_(behaviour) {
    for (int attempt = 0; attempt < 50 && port_ == 0; ++attempt) {
      udp_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      tcp_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t length = sizeof(address);
      if (bind(udp_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
          getsockname(udp_, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
          bind(tcp_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
        port_ = ntohs(address.sin_port);
      } else {
        close(udp_);
        close(tcp_);
      }
    }
    if (port_ == 0) {
      throw std::runtime_error("no port free for both UDP and TCP on 127.0.0.1");
    }
    if (behaviour_ != Fake::kSilent) {
      if (listen(tcp_, 8) != 0) {
        throw std::runtime_error("listen failed");
      }
      thread_ = std::thread([this] { Run(); });
    }
  }
  ~FakeDnsServer() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    for (int fd : held_) {
      close(fd);
    }
    close(udp_);
    close(tcp_);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The flags byte (QR, opcode, AA, TC, RD) of the last request received; -1 before any.
  int last_request_flags() const { return last_flags_.load(); }

 private:
  void Run() {
    while (!stop_) {
      pollfd fds[2] = {{udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
      if (poll(fds, 2, 20) <= 0) {
        continue;
      }
      if ((fds[0].revents & POLLIN) != 0) {
        std::vector<uint8_t> query(65535);
        sockaddr_in from{};
        socklen_t length = sizeof(from);
        const ssize_t n = recvfrom(udp_, query.data(), query.size(), 0,
                                   reinterpret_cast<sockaddr*>(&from), &length);
        if (n <= 0) {
          continue;
        }
        query.resize(static_cast<size_t>(n));
        if (behaviour_ == Fake::kTruncateLateThenSilent || behaviour_ == Fake::kAnswerLate) {
          for (auto until = Clock::now() + kLateReply; !stop_ && Clock::now() < until;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }
        const std::vector<uint8_t> reply = Reply(query, /*over_tcp=*/false);
        sendto(udp_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), length);
      }
      if ((fds[1].revents & POLLIN) != 0) {
        const int connection = accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0) {
          continue;
        }
        held_.push_back(connection);  // closed by the destructor
        if (behaviour_ == Fake::kTruncateLateThenSilent) {
          continue;
        }
        timeval timeout{1, 0};
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        uint8_t prefix[2];
        if (recv(connection, prefix, 2, MSG_WAITALL) != 2) {
          continue;
        }
        std::vector<uint8_t> query((static_cast<size_t>(prefix[0]) << 8) | prefix[1]);
        if (recv(connection, query.data(), query.size(), MSG_WAITALL) !=
            static_cast<ssize_t>(query.size())) {
          continue;
        }
        const std::vector<uint8_t> reply = Reply(query, /*over_tcp=*/true);
        std::vector<uint8_t> framed = {static_cast<uint8_t>(reply.size() >> 8),
                                       static_cast<uint8_t>(reply.size() & 0xff)};
        framed.insert(framed.end(), reply.begin(), reply.end());
        send(connection, framed.data(), framed.size(), MSG_NOSIGNAL);
      }
    }
  }

  // The answer to `query` (one question): the header and question copied, QR and AA set, and an
  // A record 192.0.2.99 for an A question; then bent as the behaviour says.
  std::vector<uint8_t> Reply(const std::vector<uint8_t>& query, bool over_tcp) {
    if (query.size() < 12) {
      return {};
    }
    last_flags_ = query[2];
    size_t end = 12;
    while (end < query.size() && query[end] != 0) {
      end += 1 + query[end];
    }
    end += 1 + 4;  // the root label, type and class
    if (end > query.size()) {
      return {};
    }
    const bool a_question = query[end - 4] == 0 && query[end - 3] == 1;
    std::vector<uint8_t> reply(query.begin(), query.begin() + static_cast<ptrdiff_t>(end));
    reply[2] = static_cast<uint8_t>(0x80 | (query[2] & 0x79) | 0x04);  // QR, opcode, AA, RD
    reply[3] = 0;
    reply[4] = 0;
    reply[5] = 1;  // one question
    for (size_t i = 6; i < 12; ++i) {
      reply[i] = 0;
    }
    bool answer = a_question;
    switch (behaviour_) {
      case Fake::kWrongId:
        reply[0] ^= 0xff;
        break;
      case Fake::kQrClear:
        reply[2] &= 0x7f;
        break;
      case Fake::kOtherQuestion:
        reply[13] = 'x';
        break;
      case Fake::kOtherOpcode:
        reply[2] = static_cast<uint8_t>((reply[2] & 0x87) | (2 << 3));
        break;
      case Fake::kRefuseWithoutRd:
        if ((query[2] & 0x01) == 0) {
          reply[3] = 5;  // REFUSED
          answer = false;
        }
        break;
      case Fake::kTruncateThenTcp:
      case Fake::kTruncateLateThenSilent:
        if (!over_tcp) {
          reply[2] |= 0x02;  // TC
          answer = false;
        }
        break;
      default:
        break;
    }
    if (answer) {
      reply[7] = 1;
      const uint8_t record[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 99};
      reply.insert(reply.end(), std::begin(record), std::end(record));
    }
    return reply;
  }

  const Fake behaviour_;
  int udp_ = -1;
  int tcp_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> last_flags_{-1};
  std::vector<int> held_;  // TCP connections, touched by the server thread only until the join
  std::thread thread_;
};

const TsigKey kSomeKey{"hmac-sha256", "tandem-key.", "c2VjcmV0c2VjcmV0c2VjcmV0"};

TEST(DnsClientFake, TheFakeAnswersAnUnsignedQuery) {
  for (Fake behaviour : {Fake::kAnswer, Fake::kTruncateThenTcp}) {
    FakeDnsServer fake(behaviour);
    auto records = DnsClient(fake.address(), std::nullopt).Query("www.example.test.", "A");
    ASSERT_TRUE(records.ok()) << records.status().ToString();
    ASSERT_EQ(records->size(), 1u);
    EXPECT_EQ(records->front().value, "192.0.2.99");
  }
}

TEST(DnsClientFake, AnUnsignedAnswerToASignedRequestIsPermissionDenied) {
  for (Fake behaviour : {Fake::kAnswer, Fake::kTruncateThenTcp}) {
    FakeDnsServer fake(behaviour);
    DnsClient client(fake.address(), kSomeKey, std::chrono::milliseconds(1000));
    auto records = client.Query("www.example.test.", "A");
    ASSERT_FALSE(records.ok());
    EXPECT_EQ(records.status().code(), engine::StatusCode::kPermissionDenied)
        << records.status().ToString();
    EXPECT_THAT(records.status().message(), HasSubstr("tandem-key."));
    EXPECT_THAT(records.status().message(), Not(HasSubstr(kSomeKey.secret_base64)));

    auto serial = client.SoaSerial("example.test.");
    EXPECT_EQ(serial.status().code(), engine::StatusCode::kPermissionDenied)
        << serial.status().ToString();

    // Over TCP: the fake echoes the update's header and zone section with NOERROR, unsigned.
    engine::Status status = client.ReplaceRecords(
        "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}});
    EXPECT_EQ(status.code(), engine::StatusCode::kPermissionDenied) << status.ToString();
    EXPECT_THAT(status.message(), Not(HasSubstr(kSomeKey.secret_base64)));
  }
}

TEST(DnsClientFake, TheUpdateIsSentWithRdClear) {
  FakeDnsServer fake(Fake::kAnswer);
  DnsClient client(fake.address(), kSomeKey, std::chrono::milliseconds(1000));
  EXPECT_FALSE(client
                   .ReplaceRecords("example.test.",
                                   {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}})
                   .ok());
  const int flags = fake.last_request_flags();
  ASSERT_GE(flags, 0);
  EXPECT_EQ((flags >> 3) & 0x0f, 5) << "opcode UPDATE";
  EXPECT_EQ(flags & 0x01, 0) << "RD must be clear in an UPDATE (RFC 2136 2.2)";
}

TEST(DnsClientFake, RecursionDesiredIsSetOnlyWhenAsked) {
  FakeDnsServer fake(Fake::kRefuseWithoutRd);
  DnsClient client(fake.address(), std::nullopt, std::chrono::milliseconds(1000));
  auto own_data = client.Query("www.example.test.", "A");
  ASSERT_FALSE(own_data.ok());
  EXPECT_EQ(own_data.status().code(), engine::StatusCode::kFailedPrecondition);
  EXPECT_THAT(own_data.status().message(), HasSubstr("REFUSED"));
  auto resolved = client.Query("www.example.test.", "A", /*recursion_desired=*/true);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  ASSERT_EQ(resolved->size(), 1u);
  EXPECT_EQ(resolved->front().value, "192.0.2.99");
}

TEST(DnsClientFake, AnAnswerThatDoesNotMatchTheQueryIsRefused) {
  struct Case {
    Fake behaviour;
    std::string says;
  };
  for (const Case& bent :
       {Case{Fake::kQrClear, "QR bit is clear"}, Case{Fake::kOtherQuestion, "xww.example.test."},
        Case{Fake::kOtherOpcode, "opcode is STATUS"}}) {
    FakeDnsServer fake(bent.behaviour);
    auto records = DnsClient(fake.address(), std::nullopt, std::chrono::milliseconds(1000))
                       .Query("www.example.test.", "A");
    ASSERT_FALSE(records.ok()) << bent.says;
    EXPECT_EQ(records.status().code(), engine::StatusCode::kCorruption)
        << records.status().ToString();
    EXPECT_THAT(records.status().message(), HasSubstr(bent.says));
  }
  // A datagram with another ID is not the answer: the client keeps waiting for it.
  FakeDnsServer fake(Fake::kWrongId);
  auto records = DnsClient(fake.address(), std::nullopt, std::chrono::milliseconds(300))
                     .Query("www.example.test.", "A");
  EXPECT_EQ(records.status().code(), engine::StatusCode::kTimeout) << records.status().ToString();
}

TEST(DnsClientFake, TheTcpRetryAfterATruncatedAnswerKeepsTheCallsDeadline) {
  FakeDnsServer fake(Fake::kTruncateLateThenSilent);  // TC after 450 ms, then a silent TCP
  DnsClient client(fake.address(), std::nullopt, std::chrono::milliseconds(500));
  const auto start = Clock::now();
  auto records = client.Query("www.example.test.", "A");
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), engine::StatusCode::kTimeout) << records.status().ToString();
  EXPECT_GE(elapsed, std::chrono::milliseconds(490));
  // A fresh timeout for the TCP retry would end at 450 + 500 ms.
  EXPECT_LT(elapsed, std::chrono::milliseconds(850));
}

TEST(DnsClientFake, ASilentServerTimesOutWithinTheTimeout) {
  FakeDnsServer silent(Fake::kSilent);
  DnsClient client(silent.address(), std::nullopt, std::chrono::milliseconds(300));
  const auto start = Clock::now();
  auto records = client.Query("www.example.test.", "A");
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), engine::StatusCode::kTimeout) << records.status().ToString();
  EXPECT_THAT(records.status().message(), HasSubstr(silent.address()));
  EXPECT_GE(elapsed, std::chrono::milliseconds(290));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
}

TEST(DnsClientFake, AClosedPortIsConnectionFailed) {
  FakeDnsServer silent(Fake::kSilent);  // its TCP port is bound by it and has no listener
  DnsClient client(silent.address(), kSomeKey, std::chrono::milliseconds(1000));
  const auto start = Clock::now();
  engine::Status status = client.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}});
  EXPECT_EQ(status.code(), engine::StatusCode::kConnectionFailed) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(silent.address()));
  EXPECT_THAT(status.message(), Not(HasSubstr(kSomeKey.secret_base64)));
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
}

// WatchPropagation against fakes (here, where the fake lives).

TEST(DnsPropagationFake, TheWatchAsksResolversWithRecursionDesired) {
  FakeDnsServer resolver(Fake::kRefuseWithoutRd);  // refuses RD=0 like a remote Unbound
  PropagationOptions options;
  options.resolvers = {resolver.address()};
  options.expected = {{"www.example.test.", "A", "192.0.2.99"}};
  options.timeout = std::chrono::milliseconds(2000);
  options.poll_interval = std::chrono::milliseconds(50);
  options.query_timeout = std::chrono::milliseconds(500);
  auto watched = WatchPropagation(options);
  ASSERT_TRUE(watched.ok()) << watched.status().ToString();
  ASSERT_EQ(watched->size(), 1u);
  EXPECT_TRUE(watched->front().done);
}

TEST(DnsPropagationFake, EachQueryGetsAtMostTheTimeLeftOfTheWatch) {
  FakeDnsServer slow(Fake::kAnswerLate);  // answers every A query with 192.0.2.99 after 450 ms
  PropagationOptions options;
  options.resolvers = {slow.address()};
  options.expected = {{"www.example.test.", "A", "192.0.2.99"},
                      {"api.example.test.", "A", "192.0.2.99"},
                      {"v4.example.test.", "A", "192.0.2.99"}};
  options.timeout = std::chrono::milliseconds(500);
  options.poll_interval = std::chrono::milliseconds(50);
  options.query_timeout = std::chrono::milliseconds(1000);
  const auto start = Clock::now();
  auto watched = WatchPropagation(options);
  const auto elapsed = Clock::now() - start;
  // The second query has 50 ms left and gets no more: the watch times out at 500 ms. (With a full
  // query timeout it would end at 900 ms; with the time left at the start of the round for every
  // query, the round would even complete, after 1350 ms.)
  ASSERT_FALSE(watched.ok());
  EXPECT_EQ(watched.status().code(), engine::StatusCode::kTimeout) << watched.status().ToString();
  EXPECT_GE(elapsed, std::chrono::milliseconds(490));
  EXPECT_LT(elapsed, std::chrono::milliseconds(800));
}

// --- SameDnsValue: no server needed. ---

TEST(SameDnsValueTest, ComparesCanonicalForms) {
  EXPECT_TRUE(SameDnsValue("A", "192.0.2.10", "192.0.2.10"));
  EXPECT_FALSE(SameDnsValue("A", "192.0.2.10", "192.0.2.11"));
  EXPECT_TRUE(SameDnsValue("AAAA", "2001:DB8::10", "2001:db8::10"));
  EXPECT_TRUE(SameDnsValue("aaaa", "2001:db8:0:0:0:0:0:10", "2001:db8::10"));
  EXPECT_FALSE(SameDnsValue("AAAA", "2001:db8::10", "2001:db8::11"));
  EXPECT_TRUE(SameDnsValue("CNAME", "New-LB.example.test", "new-lb.example.test."));
  EXPECT_TRUE(SameDnsValue("cname", "new-lb.example.test.", "NEW-LB.EXAMPLE.TEST."));
  EXPECT_FALSE(SameDnsValue("CNAME", "new-lb.example.test.", "old-lb.example.test."));
  // Unreadable values and types are never the same, not even as equal text.
  EXPECT_FALSE(SameDnsValue("A", "not-an-address", "not-an-address"));
  EXPECT_FALSE(SameDnsValue("AAAA", "192.0.2.10", "192.0.2.10"));
  EXPECT_FALSE(SameDnsValue("BOGUSTYPE", "x", "x"));
  EXPECT_FALSE(SameDnsValue("A", "", ""));
}

// --- Bad input: refused before anything is sent. ---

TEST(DnsClientInput, BadServerAddressesAreInvalidArguments) {
  for (const std::string server :
       {"dns.example.com:53", "127.0.0.1:99999", "127.0.0.1:", "[::1", "", "127.0.0.1:5x"}) {
    auto records = DnsClient(server, std::nullopt).Query("www.example.test.", "A");
    ASSERT_FALSE(records.ok()) << server;
    EXPECT_EQ(records.status().code(), engine::StatusCode::kInvalidArgument)
        << server << ": " << records.status().ToString();
    EXPECT_THAT(records.status().message(), HasSubstr("e.g. 192.0.2.53:53"));
  }
}

TEST(DnsClientInput, BadNamesTypesAndChangesAreInvalidArguments) {
  const TsigKey key{"hmac-sha256", "tandem-key.", "c2VjcmV0c2VjcmV0c2VjcmV0"};
  DnsClient client("127.0.0.1:53", key, std::chrono::milliseconds(100));
  auto bad_type = client.Query("www.example.test.", "BOGUSTYPE");
  EXPECT_EQ(bad_type.status().code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_type.status().message(), HasSubstr("BOGUSTYPE"));
  auto bad_name = client.Query("a..b", "A");
  EXPECT_EQ(bad_name.status().code(), engine::StatusCode::kInvalidArgument);

  EXPECT_EQ(client.ReplaceRecords("example.test.", {}).code(),
            engine::StatusCode::kInvalidArgument);
  engine::Status outside = client.ReplaceRecords(
      "example.test.", {{"www.example.org.", "A", "192.0.2.10", "198.51.100.20", 60}});
  EXPECT_EQ(outside.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(outside.message(), HasSubstr("outside zone example.test."));
  engine::Status bad_value = client.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "not-an-address", 60}});
  EXPECT_EQ(bad_value.code(), engine::StatusCode::kInvalidArgument) << bad_value.ToString();
  EXPECT_THAT(bad_value.message(), HasSubstr("not-an-address"));
  engine::Status soa = client.ReplaceRecords(
      "example.test.", {{"example.test.", "SOA", "a. b. 1 2 3 4 5", "a. b. 2 2 3 4 5", 60}});
  EXPECT_EQ(soa.code(), engine::StatusCode::kInvalidArgument);
  engine::Status twice = client.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60},
                        {"WWW.example.test", "A", "192.0.2.10", "198.51.100.21", 60}});
  EXPECT_EQ(twice.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(twice.message(), HasSubstr("listed twice"));

  DnsClient unsigned_client("127.0.0.1:53", std::nullopt);
  engine::Status no_key = unsigned_client.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}});
  EXPECT_EQ(no_key.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_key.message(), HasSubstr("TSIG key"));

  DnsClient md5("127.0.0.1:53", TsigKey{"hmac-md5", "k.", "c2VjcmV0c2VjcmV0c2VjcmV0"});
  engine::Status md5_status = md5.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}});
  EXPECT_EQ(md5_status.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(md5_status.message(), HasSubstr("hmac-md5"));

  DnsClient bad_secret("127.0.0.1:53", TsigKey{"hmac-sha256", "k.", "!!!not base64!!!"});
  engine::Status unsigned_status = bad_secret.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}});
  EXPECT_EQ(unsigned_status.code(), engine::StatusCode::kInvalidArgument)
      << unsigned_status.ToString();
  EXPECT_THAT(unsigned_status.message(), Not(HasSubstr("!!!not base64!!!")));
}

}  // namespace
}  // namespace tandem::orchestration
