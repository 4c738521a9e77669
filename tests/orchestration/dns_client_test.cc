// DnsClient against a real Knot DNS primary (and its secondary): queries, the SOA serial, and
// TSIG-signed compare-and-swap updates, checked through knotc (tests/harness/knot_server.h).
#include "orchestration/dns_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>

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

// --- Unreachable servers: no Knot needed. ---

// A UDP and TCP port on 127.0.0.1 that is bound but never answers (the TCP socket does not
// listen, so a connect is refused; the UDP socket swallows queries).
class SilentPort {
 public:
  SilentPort() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentPort() { close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST(DnsClientUnreachable, ASilentServerTimesOutWithinTheTimeout) {
  SilentPort silent;
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

TEST(DnsClientUnreachable, AClosedPortIsConnectionFailed) {
  SilentPort silent;  // its UDP port is taken, its TCP port has no listener
  DnsClient client(silent.address(),
                   TsigKey{"hmac-sha256", "tandem-key.", "c2VjcmV0c2VjcmV0c2VjcmV0"},
                   std::chrono::milliseconds(1000));
  const auto start = Clock::now();
  engine::Status status = client.ReplaceRecords(
      "example.test.", {{"www.example.test.", "A", "192.0.2.10", "198.51.100.20", 60}});
  EXPECT_EQ(status.code(), engine::StatusCode::kConnectionFailed) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(silent.address()));
  EXPECT_THAT(status.message(), Not(HasSubstr("c2VjcmV0c2VjcmV0c2VjcmV0")));
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
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
