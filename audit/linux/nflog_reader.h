// Reads the packets nftables logs to an NFLOG group (libnetfilter_log): the offline identity's
// rejected traffic in Stockade's table (provision/linux/nft_step.h: "log group N" before each
// reject). Each packet gives the sending socket's uid (nfnetlink_log adds it whenever the packet
// has a local full socket), the
// family, the protocol and the destination address and port, parsed from the packet headers.
//
// One listener per group on the machine: binding a group that another program reads fails.
// The family-wide logger binding (nflog_bind_pf) is not touched: a rule with an explicit
// "log group" reaches nfnetlink_log without it, and it is machine-wide state.
#ifndef STOCKADE_AUDIT_LINUX_NFLOG_READER_H_
#define STOCKADE_AUDIT_LINUX_NFLOG_READER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "audit/event.h"
#include "core/error.h"

namespace stockade::audit::linux_os {

struct NflogPacket {
  TimeNs time = 0;
  std::optional<std::uint32_t> uid;  // absent for packets without a local socket
  std::optional<std::uint32_t> gid;
  std::string family;    // "inet" | "inet6"
  std::string protocol;  // "tcp" | "udp" | "icmp" | "icmpv6" | "proto N"
  std::string source;    // "addr:port" ("[v6]:port"; no port for portless protocols)
  std::string destination;
  std::string prefix;  // the rule's log prefix, if any
};

// "family=inet proto=tcp uid=998 src=... dst=... prefix=..." (the DenialEvent's evidence).
std::string DescribeNflogPacket(const NflogPacket& p);

// Parses an IPv4/IPv6 packet (as logged: starting at the network header) into the address,
// protocol and port fields of `out`. False when the packet is too short or not IP.
bool ParseLoggedPacket(const unsigned char* data, std::size_t len, NflogPacket* out);

class NflogReader {
 public:
  // Binds `group` (copying the first 128 bytes of each packet, with a sequence number). Errors:
  // kPermissionDenied without CAP_NET_ADMIN; kAlreadyExists when another program reads the group;
  // kOs otherwise.
  static Expected<std::unique_ptr<NflogReader>> Open(std::uint16_t group);
  ~NflogReader();
  NflogReader(const NflogReader&) = delete;
  NflogReader& operator=(const NflogReader&) = delete;

  int fd() const;
  std::uint16_t group() const { return group_; }
  // Reads what is available now (non-blocking) and calls `sink` for each packet. Errors: kOs
  // when recv fails; ENOBUFS (packets dropped by the kernel) is counted in overruns() instead.
  Status ReadAvailable(const std::function<void(NflogPacket)>& sink);
  std::uint64_t overruns() const { return overruns_; }

  // For the library callback only: hands one parsed packet to the current ReadAvailable sink.
  void Deliver(NflogPacket packet) {
    if (sink_ != nullptr) (*sink_)(std::move(packet));
  }

 private:
  NflogReader() = default;
  struct Handles;
  std::unique_ptr<Handles> h_;
  std::uint16_t group_ = 0;
  std::uint64_t overruns_ = 0;
  const std::function<void(NflogPacket)>* sink_ = nullptr;  // during ReadAvailable
};

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_NFLOG_READER_H_
