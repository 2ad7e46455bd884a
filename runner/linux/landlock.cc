#include "runner/linux/landlock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace stockade::runner::linux_os {

namespace {

// System call numbers (the same on every architecture since 5.13).
constexpr long kSysCreateRuleset = 444;
constexpr long kSysAddRule = 445;
constexpr long kSysRestrictSelf = 446;

constexpr std::uint32_t kCreateRulesetVersion = 1U << 0;

constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;

// Filesystem rights (ABI 1 unless noted).
constexpr std::uint64_t kFsExecute = 1ULL << 0;
constexpr std::uint64_t kFsWriteFile = 1ULL << 1;
constexpr std::uint64_t kFsReadFile = 1ULL << 2;
constexpr std::uint64_t kFsReadDir = 1ULL << 3;
constexpr std::uint64_t kFsRemoveDir = 1ULL << 4;
constexpr std::uint64_t kFsRemoveFile = 1ULL << 5;
constexpr std::uint64_t kFsMakeChar = 1ULL << 6;
constexpr std::uint64_t kFsMakeDir = 1ULL << 7;
constexpr std::uint64_t kFsMakeReg = 1ULL << 8;
constexpr std::uint64_t kFsMakeSock = 1ULL << 9;
constexpr std::uint64_t kFsMakeFifo = 1ULL << 10;
constexpr std::uint64_t kFsMakeBlock = 1ULL << 11;
constexpr std::uint64_t kFsMakeSym = 1ULL << 12;
constexpr std::uint64_t kFsRefer = 1ULL << 13;     // ABI 2: link/rename across folders
constexpr std::uint64_t kFsTruncate = 1ULL << 14;  // ABI 3
// ABI 5 adds IOCTL_DEV (1 << 15). Not handled: terminals need their ioctls, and the one that
// matters (TIOCSTI) is refused by seccomp for every descriptor.

// Network rights (ABI 4).
constexpr std::uint64_t kNetBindTcp = 1ULL << 0;
constexpr std::uint64_t kNetConnectTcp = 1ULL << 1;

// Scopes (ABI 6).
constexpr std::uint64_t kScopeAbstractUnixSocket = 1ULL << 0;
constexpr std::uint64_t kScopeSignal = 1ULL << 1;

// landlock_restrict_self flags (ABI 7).
constexpr std::uint32_t kRestrictSelfLogNewExecOn = 1U << 1;

struct RulesetAttr {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;  // ABI 4
  std::uint64_t scoped;              // ABI 6
};

struct __attribute__((packed)) PathBeneathAttr {
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
};

struct NetPortAttr {
  std::uint64_t allowed_access;
  std::uint64_t port;
};

constexpr std::uint64_t kFsReadRights = kFsExecute | kFsReadFile | kFsReadDir;
constexpr std::uint64_t kFsAbi1 =
    kFsExecute | kFsWriteFile | kFsReadFile | kFsReadDir | kFsRemoveDir | kFsRemoveFile |
    kFsMakeChar | kFsMakeDir | kFsMakeReg | kFsMakeSock | kFsMakeFifo | kFsMakeBlock | kFsMakeSym;

// Device nodes that ordinary programs write to or open read-write.
constexpr const char* kWritableDevices[] = {"/dev/null",   "/dev/zero",   "/dev/full",
                                            "/dev/tty",    "/dev/ptmx",   "/dev/pts",
                                            "/dev/random", "/dev/urandom"};

Status AddPathRule(int ruleset, const std::string& path, std::uint64_t access, bool optional) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (optional && err == ENOENT) return OkStatus();
    return ErrnoError(err == ENOENT ? ErrorCode::kPathInvalid : ErrorCode::kOs,
                      "landlock: open " + path, err);
  }
  UniqueFd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError(ErrorCode::kOs, "landlock: fstat " + path, errno);
  if (!S_ISDIR(st.st_mode)) {
    // Rules on a file may only carry rights that apply to files.
    access &= kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate;
  }
  PathBeneathAttr attr{};
  attr.allowed_access = access;
  attr.parent_fd = fd;
  if (::syscall(kSysAddRule, ruleset, kRulePathBeneath, &attr, 0) != 0) {
    return ErrnoError(ErrorCode::kOs, "landlock_add_rule(path beneath " + path + ")", errno);
  }
  return OkStatus();
}

}  // namespace

int LandlockAbi() {
  static const int abi = [] {
    const long v = ::syscall(kSysCreateRuleset, nullptr, 0, kCreateRulesetVersion);
    return v < 0 ? 0 : static_cast<int>(v);
  }();
  return abi;
}

Expected<LandlockRuleset> BuildLandlockRuleset(const LaunchSpec& spec) {
  LandlockRuleset out;
  out.abi = LandlockAbi();
  if (out.abi < 1) {
    return Error(ErrorCode::kUnsupported,
                 "Landlock is not available in this kernel (not built in, or missing from lsm=)");
  }
  std::uint64_t fs = kFsAbi1;
  if (out.abi >= 2) fs |= kFsRefer;
  if (out.abi >= 3) fs |= kFsTruncate;

  RulesetAttr attr{};
  attr.handled_access_fs = fs;
  std::size_t attr_size = sizeof(std::uint64_t);
  if (spec.network == NetworkAccess::kBlocked) {
    if (out.abi >= 4) {
      attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
      out.restricts_tcp = true;
    } else if (!spec.loopback_ports.empty()) {
      return Error(ErrorCode::kUnsupported,
                   "Landlock ABI " + std::to_string(out.abi) +
                       " cannot restrict TCP to the allowed loopback ports (ABI 4 needed)");
    }
  }
  if (out.abi >= 4) attr_size = 2 * sizeof(std::uint64_t);
  if (out.abi >= 6) {
    attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
    attr_size = sizeof(RulesetAttr);
  }
  if (out.abi >= 7) out.restrict_flags = kRestrictSelfLogNewExecOn;

  const long fd = ::syscall(kSysCreateRuleset, &attr, attr_size, 0);
  if (fd < 0) return ErrnoError(ErrorCode::kOs, "landlock_create_ruleset", errno);
  out.fd.Reset(static_cast<int>(fd));

  STOCKADE_RETURN_IF_ERROR(AddPathRule(out.fd.get(), "/", kFsReadRights, false));
  for (const auto& root : spec.writable_roots) {
    STOCKADE_RETURN_IF_ERROR(AddPathRule(out.fd.get(), root, fs, false));
  }
  for (const char* dev : kWritableDevices) {
    STOCKADE_RETURN_IF_ERROR(
        AddPathRule(out.fd.get(), dev, kFsReadFile | kFsWriteFile | (fs & kFsTruncate), true));
  }
  if (out.restricts_tcp) {
    for (const auto port : spec.loopback_ports) {
      NetPortAttr net{};
      net.allowed_access = kNetBindTcp | kNetConnectTcp;
      net.port = port;
      if (::syscall(kSysAddRule, out.fd.get(), kRuleNetPort, &net, 0) != 0) {
        return ErrnoError(ErrorCode::kOs,
                          "landlock_add_rule(TCP port " + std::to_string(port) + ")", errno);
      }
    }
  }
  return out;
}

bool ApplyLandlock(int ruleset_fd, std::uint32_t flags, SetupFailure* failure) noexcept {
  if (::syscall(kSysRestrictSelf, ruleset_fd, flags) != 0) {
    return Fail(failure, SetupStep::kLandlock, errno, nullptr);
  }
  ::syscall(SYS_close, ruleset_fd);
  return true;
}

}  // namespace stockade::runner::linux_os
