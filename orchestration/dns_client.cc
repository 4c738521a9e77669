#include "orchestration/dns_client.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <set>
#include <utility>

#include "orchestration/host_port.h"
#include "orchestration/socket_fd.h"

namespace tandem::orchestration {
namespace {

using Clock = std::chrono::steady_clock;

// Seconds a TSIG signature's time may differ from the server's clock (RFC 8945 recommends 300).
constexpr uint16_t kTsigFudgeSeconds = 300;
// The EDNS UDP payload size advertised on queries (the DNS flag day 2020 value).
constexpr uint16_t kEdnsUdpSize = 1232;
// Room for any DNS message over TCP (its 2-byte length prefix caps it at 65535).
constexpr size_t kMaxMessageBytes = 65535;

// TSIG RDATA fields (RFC 8945 4.2), as ldns numbers them.
constexpr size_t kTsigMacField = 3;
constexpr size_t kTsigErrorField = 5;

// One owner per ldns object.
struct PacketDeleter {
  void operator()(ldns_pkt* packet) const { ldns_pkt_free(packet); }
};
struct RdfDeleter {
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
struct RrDeleter {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
struct RrListDeleter {
  void operator()(ldns_rr_list* list) const { ldns_rr_list_deep_free(list); }
};
struct MallocDeleter {
  void operator()(void* pointer) const { free(pointer); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketDeleter>;
using Rdf = std::unique_ptr<ldns_rdf, RdfDeleter>;
using Rr = std::unique_ptr<ldns_rr, RrDeleter>;
using RrList = std::unique_ptr<ldns_rr_list, RrListDeleter>;

std::string WithDot(const std::string& name) {
  return !name.empty() && name.back() == '.' ? name : name + ".";
}

std::string Upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return text;
}

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return text;
}

std::string RcodeName(int rcode) {
  const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_rcodes, rcode);
  return entry != nullptr && entry->name != nullptr ? entry->name
                                                    : "rcode " + std::to_string(rcode);
}

std::string TsigErrorName(uint16_t error) {
  switch (error) {
    case 16:
      return "TSIG error BADSIG: the key's secret differs from the server's";
    case 17:
      return "TSIG error BADKEY: the server does not know the key or does not accept it here";
    case 18:
      return "TSIG error BADTIME: the clocks differ by more than " +
             std::to_string(kTsigFudgeSeconds) + " s";
    case 22:
      return "TSIG error BADTRUNC";
    default:
      return "TSIG error " + std::to_string(error);
  }
}

// ldns's own text for an RDATA field, freed here.
std::string RdfText(const ldns_rdf* rdf) {
  std::unique_ptr<char, MallocDeleter> text(ldns_rdf2str(rdf));
  return text ? std::string(text.get()) : std::string();
}

// The presentation form of `rr`'s RDATA: its fields joined by spaces.
std::string RdataText(const ldns_rr* rr) {
  std::string value;
  for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    if (i > 0) {
      value += ' ';
    }
    value += RdfText(ldns_rr_rdf(rr, i));
  }
  return value;
}

// A server address, parsed.
struct ServerAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

engine::Result<ServerAddress> ParseServer(const std::string& server) {
  auto bad = [&server](const std::string& why) {
    return engine::InvalidArgument("DNS server address '" + server + "' " + why +
                                   "; write an IP address with an optional port, e.g. "
                                   "192.0.2.53:53 or [2001:db8::53]:53");
  };
  auto parsed = ParseHostPort(server, 53);
  if (!parsed.ok()) return bad(parsed.status().message());
  ServerAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (inet_pton(AF_INET, parsed->host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(parsed->port);
    address.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, parsed->host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(parsed->port);
    address.length = sizeof(sockaddr_in6);
  } else {
    return bad("does not start with an IPv4 or IPv6 address");
  }
  return address;
}

engine::Result<Rdf> ParseName(const std::string& name, const std::string& what) {
  Rdf rdf(ldns_dname_new_frm_str(WithDot(name).c_str()));
  if (name.empty() || rdf == nullptr) {
    return engine::InvalidArgument(what + " '" + name +
                                   "' is not a DNS name; write it like www.example.com.");
  }
  return rdf;
}

engine::Result<ldns_rr_type> ParseType(const std::string& type) {
  const ldns_rr_type parsed = ldns_get_rr_type_by_name(type.c_str());
  if (type.empty() || parsed == 0) {
    return engine::InvalidArgument("DNS record type '" + type +
                                   "' is not one ldns knows; use a type such as A, AAAA, CNAME "
                                   "or SOA");
  }
  return parsed;
}

// One public call's bounds: the client's timeout and the deadline it sets when the call starts.
// Every exchange of the call (a UDP query, its TCP retry, an update and its read-back) ends by
// the same deadline.
struct CallLimits {
  std::chrono::milliseconds timeout;
  Clock::time_point deadline;
};

CallLimits StartCall(std::chrono::milliseconds timeout) {
  return CallLimits{timeout, Clock::now() + timeout};
}

// One DNS exchange with one server: the bytes go out, the matching reply's bytes come back, all
// before the call's deadline.
class Exchange {
 public:
  Exchange(const std::string& server, const ServerAddress& address, const CallLimits& limits)
      : server_(server), address_(address), timeout_(limits.timeout), deadline_(limits.deadline) {}

  engine::Result<std::vector<uint8_t>> Udp(const std::vector<uint8_t>& query) {
    SocketFd fd(socket(address_.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
      return Failed(errno);
    }
    // Connected, so only the server's datagrams arrive and an ICMP "port unreachable" shows as
    // ECONNREFUSED at once instead of a timeout.
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address_.storage), address_.length) !=
        0) {
      return Failed(errno);
    }
    for (;;) {
      const ssize_t n = send(fd.get(), query.data(), query.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        break;
      }
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        return Failed(errno);
      }
      TANDEM_RETURN_IF_ERROR(Wait(fd.get(), POLLOUT, "sending a query"));
    }
    std::vector<uint8_t> reply(kMaxMessageBytes);
    for (;;) {
      TANDEM_RETURN_IF_ERROR(Wait(fd.get(), POLLIN, "waiting for the answer"));
      const ssize_t n = recv(fd.get(), reply.data(), reply.size(), 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
          continue;
        }
        return Failed(errno);
      }
      // A datagram that is not the answer to this query (wrong ID, too short) is ignored: the
      // answer may still come before the deadline.
      if (n >= 12 && query.size() >= 2 && reply[0] == query[0] && reply[1] == query[1]) {
        reply.resize(static_cast<size_t>(n));
        return reply;
      }
    }
  }

  engine::Result<std::vector<uint8_t>> Tcp(const std::vector<uint8_t>& message) {
    SocketFd fd(socket(address_.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
      return Failed(errno);
    }
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address_.storage), address_.length) !=
        0) {
      if (errno != EINPROGRESS && errno != EAGAIN) {
        return Failed(errno);
      }
      TANDEM_RETURN_IF_ERROR(Wait(fd.get(), POLLOUT, "connecting over TCP"));
      int error = 0;
      socklen_t length = sizeof(error);
      if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        return Failed(errno);
      }
      if (error != 0) {
        return Failed(error);
      }
    }
    std::vector<uint8_t> framed;
    framed.reserve(message.size() + 2);
    framed.push_back(static_cast<uint8_t>(message.size() >> 8));
    framed.push_back(static_cast<uint8_t>(message.size() & 0xff));
    framed.insert(framed.end(), message.begin(), message.end());
    size_t sent = 0;
    while (sent < framed.size()) {
      TANDEM_RETURN_IF_ERROR(Wait(fd.get(), POLLOUT, "sending over TCP"));
      const ssize_t n = send(fd.get(), framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
          continue;
        }
        return Failed(errno);
      }
      sent += static_cast<size_t>(n);
    }
    std::vector<uint8_t> prefix(2);
    TANDEM_RETURN_IF_ERROR(ReadExactly(fd.get(), prefix));
    std::vector<uint8_t> reply((static_cast<size_t>(prefix[0]) << 8) | prefix[1]);
    TANDEM_RETURN_IF_ERROR(ReadExactly(fd.get(), reply));
    return reply;
  }

 private:
  engine::Status Failed(int error) const {
    return engine::ConnectionFailed("DNS server " + server_ + ": " + std::strerror(error) +
                                    "; check that the server runs and listens on that address");
  }

  engine::Status ReadExactly(int fd, std::vector<uint8_t>& buffer) const {
    size_t got = 0;
    while (got < buffer.size()) {
      TANDEM_RETURN_IF_ERROR(Wait(fd, POLLIN, "waiting for the answer over TCP"));
      const ssize_t n = recv(fd, buffer.data() + got, buffer.size() - got, 0);
      if (n == 0) {
        return engine::ConnectionFailed("DNS server " + server_ +
                                        " closed the TCP connection before its answer was "
                                        "complete; check the server's log");
      }
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
          continue;
        }
        return Failed(errno);
      }
      got += static_cast<size_t>(n);
    }
    return engine::Status::Ok();
  }

  // Waits until `fd` is ready for `events`, at most until the exchange's deadline.
  engine::Status Wait(int fd, short events, const char* doing) const {
    for (;;) {
      // Rounded up, so poll never returns before the deadline.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) {
        return engine::Timeout("DNS server " + server_ + ": no answer within " +
                               std::to_string(timeout_.count()) + " ms (" + doing +
                               "); check that the server runs and that the address is right");
      }
      pollfd pfd{fd, events, 0};
      const int n = poll(&pfd, 1, static_cast<int>(left.count()));
      if (n > 0) {
        if ((pfd.revents & POLLERR) != 0 && (pfd.revents & events) == 0) {
          int error = 0;
          socklen_t length = sizeof(error);
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
          return Failed(error != 0 ? error : EIO);
        }
        return engine::Status::Ok();
      }
      if (n < 0 && errno != EINTR) {
        return Failed(errno);
      }
    }
  }

  const std::string& server_;
  const ServerAddress& address_;
  std::chrono::milliseconds timeout_;
  Clock::time_point deadline_;
};

// A parsed answer and what its TSIG said.
struct Answer {
  Packet packet;
  uint16_t tsig_error = 0;     // from the answer's TSIG record, 0 when none or no error
  bool signed_by_key = false;  // the answer's TSIG verified with the client's key
};

std::string OpcodeName(int opcode) {
  const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_opcodes, opcode);
  return entry != nullptr && entry->name != nullptr ? entry->name
                                                    : "opcode " + std::to_string(opcode);
}

// Whether `answer` is the answer to `request`: QR set, the same ID and opcode, and the same
// question (name, type, class). An UPDATE answer may leave its zone section out (RFC 2136 3.8).
engine::Status CheckAnswerMatches(const std::string& server, const ldns_pkt* request,
                                  const ldns_pkt* answer) {
  auto mismatch = [&server](const std::string& what) {
    return engine::Corruption("DNS server " + server + " sent a message that is not the answer " +
                              "to tandem's request: " + what +
                              "; check that the address is a DNS server's and nothing on the "
                              "path rewrites DNS");
  };
  if (!ldns_pkt_qr(answer)) {
    return mismatch("its QR bit is clear (it is a request, not an answer)");
  }
  if (ldns_pkt_id(answer) != ldns_pkt_id(request)) {
    return mismatch("its message ID is " + std::to_string(ldns_pkt_id(answer)) + ", not " +
                    std::to_string(ldns_pkt_id(request)));
  }
  if (ldns_pkt_get_opcode(answer) != ldns_pkt_get_opcode(request)) {
    return mismatch("its opcode is " + OpcodeName(ldns_pkt_get_opcode(answer)) + ", not " +
                    OpcodeName(ldns_pkt_get_opcode(request)));
  }
  const ldns_rr_list* asked = ldns_pkt_question(request);
  const ldns_rr_list* echoed = ldns_pkt_question(answer);
  const size_t asked_count = asked != nullptr ? ldns_rr_list_rr_count(asked) : 0;
  const size_t echoed_count = echoed != nullptr ? ldns_rr_list_rr_count(echoed) : 0;
  if (echoed_count == 0 && ldns_pkt_get_opcode(request) == LDNS_PACKET_UPDATE) {
    return engine::Status::Ok();
  }
  if (echoed_count != asked_count) {
    return mismatch("it holds " + std::to_string(echoed_count) + " questions, not " +
                    std::to_string(asked_count));
  }
  for (size_t i = 0; i < asked_count; ++i) {
    const ldns_rr* want = ldns_rr_list_rr(asked, i);
    const ldns_rr* got = ldns_rr_list_rr(echoed, i);
    if (ldns_dname_compare(ldns_rr_owner(want), ldns_rr_owner(got)) != 0 ||
        ldns_rr_get_type(want) != ldns_rr_get_type(got) ||
        ldns_rr_get_class(want) != ldns_rr_get_class(got)) {
      std::unique_ptr<char, MallocDeleter> want_type(ldns_rr_type2str(ldns_rr_get_type(want)));
      std::unique_ptr<char, MallocDeleter> got_type(ldns_rr_type2str(ldns_rr_get_type(got)));
      return mismatch("its question is " + RdfText(ldns_rr_owner(got)) + " " +
                      (got_type ? got_type.get() : "?") + ", not " + RdfText(ldns_rr_owner(want)) +
                      " " + (want_type ? want_type.get() : "?"));
    }
  }
  return engine::Status::Ok();
}

// Signs `packet` (when `key` is set), sends it over UDP (falling back to TCP on truncation) or
// TCP, all before `limits.deadline`, parses the answer and checks that it answers `packet`
// (CheckAnswerMatches). Whether its TSIG verified is in the Answer: the caller decides.
engine::Result<Answer> Send(const std::string& server, const std::optional<TsigKey>& key,
                            const CallLimits& limits, ldns_pkt* packet, bool use_tcp) {
  TANDEM_ASSIGN_OR_RETURN(ServerAddress address, ParseServer(server));
  std::string key_name;
  std::string algorithm;
  if (key.has_value()) {
    key_name = WithDot(key->name);
    algorithm = WithDot(Lower(key->algorithm));
    if (algorithm == "hmac-sha384.") {
      // ldns 1.8 looks the digest up as "hmac-shac384." (a typo in its tsig.c), so it cannot
      // sign with the name servers know.
      return engine::Unsupported("TSIG key " + key_name +
                                 " uses hmac-sha384, which ldns 1.8 cannot sign with; use a "
                                 "hmac-sha256 or hmac-sha512 key");
    }
    if (algorithm != "hmac-sha256." && algorithm != "hmac-sha512.") {
      return engine::InvalidArgument("TSIG key " + key_name + " has algorithm '" + key->algorithm +
                                     "'; use hmac-sha256 or hmac-sha512");
    }
    const ldns_status status =
        ldns_pkt_tsig_sign(packet, key_name.c_str(), key->secret_base64.c_str(), kTsigFudgeSeconds,
                           algorithm.c_str(), nullptr);
    if (status != LDNS_STATUS_OK) {
      // The secret stays out of the message.
      return engine::InvalidArgument("cannot sign with TSIG key " + key_name + " (" +
                                     key->algorithm + "): " + ldns_get_errorstr_by_id(status) +
                                     "; give the secret in base64");
    }
  }
  uint8_t* raw_wire = nullptr;
  size_t wire_size = 0;
  const ldns_status wire_status = ldns_pkt2wire(&raw_wire, packet, &wire_size);
  std::unique_ptr<uint8_t, MallocDeleter> wire_owner(raw_wire);
  if (wire_status != LDNS_STATUS_OK) {
    return engine::InvalidArgument(std::string("cannot encode the DNS message: ") +
                                   ldns_get_errorstr_by_id(wire_status));
  }
  const std::vector<uint8_t> wire(raw_wire, raw_wire + wire_size);

  std::vector<uint8_t> reply;
  if (!use_tcp) {
    Exchange udp(server, address, limits);
    TANDEM_ASSIGN_OR_RETURN(reply, udp.Udp(wire));
    // TC bit: the answer did not fit; ask again over TCP.
    if (reply.size() >= 3 && (reply[2] & 0x02) != 0) {
      use_tcp = true;
    }
  }
  if (use_tcp) {
    // The TCP retry shares the deadline: the call never takes more than the timeout.
    Exchange tcp(server, address, limits);
    TANDEM_ASSIGN_OR_RETURN(reply, tcp.Tcp(wire));
  }
  ldns_pkt* raw_answer = nullptr;
  const ldns_status parse_status = ldns_wire2pkt(&raw_answer, reply.data(), reply.size());
  Answer answer{Packet(raw_answer)};
  if (parse_status != LDNS_STATUS_OK) {
    return engine::Corruption("DNS server " + server + " sent an answer ldns cannot parse (" +
                              std::to_string(reply.size()) +
                              " bytes): " + ldns_get_errorstr_by_id(parse_status));
  }
  TANDEM_RETURN_IF_ERROR(CheckAnswerMatches(server, packet, answer.packet.get()));
  const ldns_rr* answer_tsig = ldns_pkt_tsig(answer.packet.get());
  if (answer_tsig != nullptr && ldns_rr_rd_count(answer_tsig) > kTsigErrorField) {
    answer.tsig_error = ldns_rdf2native_int16(ldns_rr_rdf(answer_tsig, kTsigErrorField));
  }
  // An error answer may carry a TSIG with an empty MAC (BADSIG, BADKEY): it does not verify.
  if (key.has_value() && answer_tsig != nullptr) {
    const ldns_rr* query_tsig = ldns_pkt_tsig(packet);
    const ldns_rdf* query_mac =
        query_tsig != nullptr ? ldns_rr_rdf(query_tsig, kTsigMacField) : nullptr;
    answer.signed_by_key =
        ldns_pkt_tsig_verify(answer.packet.get(), reply.data(), reply.size(), key_name.c_str(),
                             key->secret_base64.c_str(), query_mac);
  }
  return answer;
}

// The canonical presentation of `value` as RDATA of `type` (RFC 4034 6.2: names lower-cased and
// fully qualified, addresses as ldns prints them), or nullopt when ldns cannot read it. Names in
// the value without a trailing dot are relative to the root, as a plan writes them.
std::optional<std::string> CanonicalValue(const std::string& type, const std::string& value) {
  const ldns_rr_type parsed = ldns_get_rr_type_by_name(type.c_str());
  if (type.empty() || parsed == 0 || value.empty()) {
    return std::nullopt;
  }
  std::unique_ptr<char, MallocDeleter> type_name(ldns_rr_type2str(parsed));
  if (type_name == nullptr) {
    return std::nullopt;
  }
  const std::string line = std::string(". 0 IN ") + type_name.get() + " " + value;
  Rdf root(ldns_dname_new_frm_str("."));
  ldns_rr* raw = nullptr;
  if (ldns_rr_new_frm_str(&raw, line.c_str(), 0, root.get(), nullptr) != LDNS_STATUS_OK ||
      raw == nullptr) {
    return std::nullopt;
  }
  Rr rr(raw);
  ldns_rr2canonical(rr.get());
  return RdataText(rr.get());
}

std::string JoinValues(const std::vector<DnsRecord>& records) {
  if (records.empty()) {
    return "nothing";
  }
  std::string text;
  for (const DnsRecord& record : records) {
    text += (text.empty() ? "" : ", ") + record.value;
  }
  return text;
}

// An RR read from "<name> <ttl> IN <type> <value>"; kInvalidArgument naming the change (the
// message holds no secret: records carry none).
engine::Result<Rr> MakeRecord(const std::string& name, uint32_t ttl, const std::string& type,
                              const std::string& value) {
  const std::string line =
      WithDot(name) + " " + std::to_string(ttl) + " IN " + Upper(type) + " " + value;
  ldns_rr* raw = nullptr;
  // Names in the value without a trailing dot are fully qualified all the same (relative to the
  // root), as a plan writes them.
  Rdf root(ldns_dname_new_frm_str("."));
  const ldns_status status = ldns_rr_new_frm_str(&raw, line.c_str(), ttl, root.get(), nullptr);
  if (status != LDNS_STATUS_OK || raw == nullptr) {
    return engine::InvalidArgument("DNS record '" + line +
                                   "' cannot be read: " + ldns_get_errorstr_by_id(status) +
                                   "; check the value (an address for A/AAAA, a fully qualified "
                                   "name with a trailing dot for CNAME)");
  }
  return Rr(raw);
}

// Query (see the header), bounded by `limits`: the public calls share their deadline with it.
engine::Result<std::vector<DnsRecord>> QueryWithin(const std::string& server,
                                                   const std::optional<TsigKey>& key,
                                                   const CallLimits& limits,
                                                   const std::string& name, const std::string& type,
                                                   bool recursion_desired) {
  TANDEM_ASSIGN_OR_RETURN(Rdf qname, ParseName(name, "DNS name"));
  TANDEM_ASSIGN_OR_RETURN(ldns_rr_type qtype, ParseType(type));
  TANDEM_RETURN_IF_ERROR(ParseServer(server));
  // ldns_pkt_query_new takes the name; a copy stays here for matching the answer.
  Packet query(ldns_pkt_query_new(ldns_rdf_clone(qname.get()), qtype, LDNS_RR_CLASS_IN, 0));
  if (query == nullptr) {
    return engine::Internal("ldns could not build a query for " + name + " " + type);
  }
  ldns_pkt_set_random_id(query.get());
  ldns_pkt_set_rd(query.get(), recursion_desired);
  ldns_pkt_set_edns_udp_size(query.get(), kEdnsUdpSize);
  TANDEM_ASSIGN_OR_RETURN(Answer answer, Send(server, key, limits, query.get(), /*use_tcp=*/false));
  const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(answer.packet.get());
  const std::string label = WithDot(name) + " " + Upper(type);
  const bool unsigned_answer = key.has_value() && !answer.signed_by_key;
  // Without a valid signature the answer may come from anyone: its data (records, or the absence
  // of records) is never used. An unsigned error answer (Knot's REFUSED for a zone it does not
  // serve carries no TSIG) only fails the call, which anyone on the path could do anyway.
  if (unsigned_answer &&
      (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN || answer.tsig_error != 0)) {
    return engine::PermissionDenied(
        "DNS server " + server + " answered the query for " + label + " signed with key " +
        WithDot(key->name) + " without a valid signature of that key (" + RcodeName(rcode) +
        (answer.tsig_error != 0 ? ", " + TsigErrorName(answer.tsig_error) : "") +
        "); check that the server knows the key with the same secret");
  }
  if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
    return engine::FailedPrecondition(
        "DNS server " + server + " answered " + label + " with " + RcodeName(rcode) +
        (unsigned_answer ? " (unsigned)" : "") +
        "; check that it serves the zone and allows queries from this host");
  }
  std::vector<DnsRecord> records;
  const ldns_rr_list* section = ldns_pkt_answer(answer.packet.get());
  for (size_t i = 0; section != nullptr && i < ldns_rr_list_rr_count(section); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(section, i);
    if (ldns_rr_get_type(rr) != qtype || ldns_dname_compare(ldns_rr_owner(rr), qname.get()) != 0) {
      continue;  // a CNAME chain or other names the server added
    }
    DnsRecord record;
    record.name = RdfText(ldns_rr_owner(rr));
    record.type = Upper(type);
    record.ttl = ldns_rr_ttl(rr);
    record.value = RdataText(rr);
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace

bool HoldsExactly(const std::vector<DnsRecord>& held, const std::string& type,
                  const std::string& value) {
  return held.size() == 1 && SameDnsValue(type, held.front().value, value);
}

std::string HeldValues(const std::vector<DnsRecord>& held) {
  std::string values;
  for (const DnsRecord& one : held) values += (values.empty() ? "" : ", ") + one.value;
  return values.empty() ? "nothing" : values;
}

bool SameDnsValue(const std::string& type, const std::string& left, const std::string& right) {
  const std::optional<std::string> a = CanonicalValue(type, left);
  const std::optional<std::string> b = CanonicalValue(type, right);
  return a.has_value() && b.has_value() && *a == *b;
}

DnsClient::DnsClient(std::string server, std::optional<TsigKey> key,
                     std::chrono::milliseconds timeout)
    : server_(std::move(server)), key_(std::move(key)), timeout_(timeout) {}

engine::Result<std::vector<DnsRecord>> DnsClient::Query(const std::string& name,
                                                        const std::string& type,
                                                        bool recursion_desired) const {
  return QueryWithin(server_, key_, StartCall(timeout_), name, type, recursion_desired);
}

engine::Result<uint32_t> DnsClient::SoaSerial(const std::string& zone) const {
  engine::Result<std::vector<DnsRecord>> records =
      QueryWithin(server_, key_, StartCall(timeout_), zone, "SOA", /*recursion_desired=*/false);
  if (!records.ok()) {
    if (records.status().code() == engine::StatusCode::kFailedPrecondition) {
      return engine::NotFound("DNS server " + server_ + " holds no SOA for zone " + WithDot(zone) +
                              " (" + records.status().message() + ")");
    }
    return records.status();
  }
  if (records->empty()) {
    return engine::NotFound("DNS server " + server_ + " holds no SOA for zone " + WithDot(zone) +
                            "; check that it is authoritative for the zone");
  }
  // SOA RDATA: mname rname serial refresh retry expire minimum.
  const std::string& value = records->front().value;
  const size_t first = value.find(' ');
  const size_t second = first == std::string::npos ? first : value.find(' ', first + 1);
  const size_t third = second == std::string::npos ? second : value.find(' ', second + 1);
  uint32_t serial = 0;
  if (second != std::string::npos) {
    const char* begin = value.data() + second + 1;
    const char* end =
        third == std::string::npos ? value.data() + value.size() : value.data() + third;
    const auto [stop, error] = std::from_chars(begin, end, serial);
    if (error == std::errc() && stop == end) {
      return serial;
    }
  }
  return engine::Corruption("DNS server " + server_ + " sent an SOA for " + WithDot(zone) +
                            " without a serial: " + value);
}

engine::Status DnsClient::ReplaceRecords(
    const std::string& zone, const std::vector<DnsRecordReplacement>& replacements) const {
  if (replacements.empty()) {
    return engine::InvalidArgument("no DNS records to change in zone " + WithDot(zone) +
                                   "; list at least one record");
  }
  if (!key_.has_value()) {
    return engine::InvalidArgument("DNS updates of zone " + WithDot(zone) +
                                   " need a TSIG key; set the plan's dns key "
                                   "(hmac-sha256:NAME:BASE64SECRET)");
  }
  TANDEM_ASSIGN_OR_RETURN(Rdf zone_name, ParseName(zone, "DNS zone"));
  TANDEM_RETURN_IF_ERROR(ParseServer(server_));
  // One deadline for the update and the read-back after a failed prerequisite.
  const CallLimits limits = StartCall(timeout_);

  RrList prerequisites(ldns_rr_list_new());
  RrList updates(ldns_rr_list_new());
  std::set<std::pair<std::string, std::string>> seen;
  for (const DnsRecordReplacement& change : replacements) {
    TANDEM_ASSIGN_OR_RETURN(Rdf owner, ParseName(change.name, "DNS record name"));
    TANDEM_ASSIGN_OR_RETURN(ldns_rr_type type, ParseType(change.type));
    const std::string label = WithDot(change.name) + " " + Upper(change.type);
    if (type != LDNS_RR_TYPE_A && type != LDNS_RR_TYPE_AAAA && type != LDNS_RR_TYPE_CNAME) {
      return engine::InvalidArgument("DNS record " + label +
                                     ": tandem changes A, AAAA and CNAME records only");
    }
    if (ldns_dname_compare(owner.get(), zone_name.get()) != 0 &&
        !ldns_dname_is_subdomain(owner.get(), zone_name.get())) {
      return engine::InvalidArgument("DNS record " + label + " is outside zone " + WithDot(zone) +
                                     "; list it under the zone it belongs to");
    }
    std::unique_ptr<char, MallocDeleter> owner_text(ldns_rdf2str(owner.get()));
    if (!seen.emplace(owner_text ? Upper(owner_text.get()) : label, Upper(change.type)).second) {
      return engine::InvalidArgument("DNS record " + label +
                                     " is listed twice; give one change per name and type");
    }
    // RFC 2136 2.4.2, RRset exists (value dependent): class IN, TTL 0, the expected RDATA.
    TANDEM_ASSIGN_OR_RETURN(Rr expected,
                            MakeRecord(change.name, 0, change.type, change.expected_value));
    ldns_rr_set_ttl(expected.get(), 0);
    // RFC 2136 2.5.2, delete an RRset: class ANY, TTL 0, no RDATA.
    Rr delete_rrset(ldns_rr_new());
    ldns_rr_set_owner(delete_rrset.get(), ldns_rdf_clone(owner.get()));
    ldns_rr_set_type(delete_rrset.get(), type);
    ldns_rr_set_class(delete_rrset.get(), LDNS_RR_CLASS_ANY);
    ldns_rr_set_ttl(delete_rrset.get(), 0);
    // RFC 2136 2.5.1, add to an RRset: class IN, the new TTL and RDATA.
    TANDEM_ASSIGN_OR_RETURN(Rr added,
                            MakeRecord(change.name, change.new_ttl, change.type, change.new_value));
    ldns_rr_set_ttl(added.get(), change.new_ttl);
    ldns_rr_list_push_rr(prerequisites.get(), expected.release());
    ldns_rr_list_push_rr(updates.get(), delete_rrset.release());
    ldns_rr_list_push_rr(updates.get(), added.release());
  }

  // ldns_update_pkt_new takes the zone name and copies the lists.
  Packet update(ldns_update_pkt_new(ldns_rdf_clone(zone_name.get()), LDNS_RR_CLASS_IN,
                                    prerequisites.get(), updates.get(), nullptr));
  if (update == nullptr) {
    return engine::Internal("ldns could not build the update of zone " + WithDot(zone));
  }
  ldns_pkt_set_random_id(update.get());
  // RFC 2136 2.2: the header's RD bit of an UPDATE is zero (ldns_update_pkt_new sets it).
  ldns_pkt_set_rd(update.get(), false);
  TANDEM_ASSIGN_OR_RETURN(Answer answer,
                          Send(server_, key_, limits, update.get(), /*use_tcp=*/true));
  const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(answer.packet.get());
  const std::string key_name = WithDot(key_->name);
  if (answer.tsig_error != 0 || rcode == LDNS_RCODE_REFUSED || rcode == LDNS_RCODE_NOTAUTH) {
    return engine::PermissionDenied(
        "the DNS server " + server_ + " refused the update of zone " + WithDot(zone) +
        " signed with key " + key_name + ": " + RcodeName(rcode) +
        (answer.tsig_error != 0 ? ", " + TsigErrorName(answer.tsig_error) : "") +
        "; allow the key to update the zone (e.g. Knot's acl with action: update) and check "
        "that both sides hold the same secret");
  }
  if (!answer.signed_by_key) {
    // Without a valid signature the answer may come from anyone: it proves nothing.
    return engine::PermissionDenied(
        "the DNS server " + server_ + " answered the update of zone " + WithDot(zone) + " (" +
        RcodeName(rcode) + ") without a valid signature of key " + key_name +
        "; whether the update was applied is unknown: read the records back, and check that the "
        "server knows the key with the same secret");
  }
  if (rcode == LDNS_RCODE_NXRRSET || rcode == LDNS_RCODE_YXRRSET) {
    // Name the first record whose live value differs.
    for (const DnsRecordReplacement& change : replacements) {
      const std::string label = WithDot(change.name) + " " + Upper(change.type);
      engine::Result<std::vector<DnsRecord>> live =
          QueryWithin(server_, key_, limits, change.name, change.type, /*recursion_desired=*/false);
      if (!live.ok()) {
        return engine::FailedPrecondition(
            "the DNS server " + server_ + " refused the update of zone " + WithDot(zone) +
            " because a record no longer holds what the plan expects (" + RcodeName(rcode) +
            "), and reading " + label + " back failed: " + live.status().message() +
            "; nothing was changed");
      }
      if (live->size() != 1 ||
          !SameDnsValue(change.type, live->front().value, change.expected_value)) {
        return engine::FailedPrecondition(label + " holds " + JoinValues(*live) + ", not " +
                                          change.expected_value +
                                          " as the plan says; nothing was changed");
      }
    }
    return engine::FailedPrecondition(
        "the DNS server " + server_ + " refused the update of zone " + WithDot(zone) +
        " because a record did not hold what the plan expects (" + RcodeName(rcode) +
        "), though every record reads as expected now; nothing was changed, try again");
  }
  if (rcode != LDNS_RCODE_NOERROR) {
    return engine::FailedPrecondition(
        "the DNS server " + server_ + " answered the update of zone " + WithDot(zone) + " with " +
        RcodeName(rcode) + "; check that it is the zone's primary and its log");
  }
  return engine::Status::Ok();
}

}  // namespace tandem::orchestration
