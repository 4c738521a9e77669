// ParseHostPort: every "host:port" form a plan writes, the default port, and each refusal.
#include "orchestration/host_port.h"

#include <gtest/gtest.h>

namespace tandem::orchestration {
namespace {

std::string Problem(std::string_view text, std::optional<uint16_t> default_port = std::nullopt) {
  auto parsed = ParseHostPort(text, default_port);
  EXPECT_FALSE(parsed.ok()) << text;
  return parsed.ok() ? "" : parsed.status().message();
}

TEST(HostPort, NamesIpv4AndBracketedIpv6WithPorts) {
  auto name = ParseHostPort("haproxy.internal:9999");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->host, "haproxy.internal");
  EXPECT_EQ(name->port, 9999);
  auto v4 = ParseHostPort("192.0.2.53:53");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "192.0.2.53");
  auto v6 = ParseHostPort("[2001:db8::1]:443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->port, 443);
}

TEST(HostPort, TheDefaultPortFillsInOnlyWhenGiven) {
  auto bare_v6 = ParseHostPort("2001:db8::53", 53);
  ASSERT_TRUE(bare_v6.ok());
  EXPECT_EQ(bare_v6->host, "2001:db8::53");
  EXPECT_EQ(bare_v6->port, 53);
  auto bracketed = ParseHostPort("[::1]", 53);
  ASSERT_TRUE(bracketed.ok());
  EXPECT_EQ(bracketed->port, 53);
  auto name = ParseHostPort("example.test", 80);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->port, 80);
  EXPECT_EQ(Problem("example.test"), "has no port");
  EXPECT_EQ(Problem("2001:db8::53"), "is an IPv6 address without brackets");
}

TEST(HostPort, EachRefusalSaysWhatIsWrong) {
  EXPECT_EQ(Problem(""), "is empty");
  EXPECT_EQ(Problem("host :1"), "contains white space");
  EXPECT_EQ(Problem("[::1:53"), "has an unterminated '['");
  EXPECT_EQ(Problem("[example]:53"), "has 'example' in brackets, which is not an IPv6 address");
  EXPECT_EQ(Problem("[::1]53"), "has text after ']' that is not ':port'");
  EXPECT_EQ(Problem(":53"), "has no host");
  EXPECT_EQ(Problem("a/b:53"), "has a '/' in the host");
  for (const char* port : {"h:0", "h:65536", "h:", "h:x", "h:-1", "h:123456"}) {
    EXPECT_EQ(Problem(port), "has a port that is not a number from 1 to 65535") << port;
  }
}

TEST(HostPort, IpLiterals) {
  EXPECT_TRUE(IsIpLiteral("127.0.0.1"));
  EXPECT_TRUE(IsIpLiteral("::1"));
  EXPECT_FALSE(IsIpLiteral("[::1]"));
  EXPECT_FALSE(IsIpLiteral("localhost"));
}

}  // namespace
}  // namespace tandem::orchestration
