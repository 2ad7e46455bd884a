#include "runner/linux/seccomp.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "runner/linux/unique_fd.h"

namespace stockade::runner::linux_os {

namespace {

constexpr scmp_datum_t kLow32 = 0xffffffffULL;
constexpr scmp_datum_t kSockTypeMask = 0xf;  // SOCK_NONBLOCK / SOCK_CLOEXEC live above it

// Owns a libseccomp context.
class Context {
 public:
  Context() : ctx_(seccomp_init(SCMP_ACT_ALLOW)) {}
  ~Context() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

Status Check(int rc, const char* what) {
  // libseccomp returns -errno.
  if (rc == 0) return OkStatus();
  return ErrnoError(ErrorCode::kOs, std::string("libseccomp: ") + what, -rc);
}

Status Deny(scmp_filter_ctx ctx, int err, const char* name) {
  const int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) {
    return Error(ErrorCode::kOs, std::string("libseccomp does not know system call ") + name);
  }
  return Check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(static_cast<std::uint32_t>(err)), nr, 0), name);
}

Status AddAlwaysDenied(scmp_filter_ctx ctx) {
  for (const char* name : {"ptrace",
                           "process_vm_readv",
                           "process_vm_writev",
                           "io_uring_setup",
                           "io_uring_enter",
                           "io_uring_register",
                           "bpf",
                           "perf_event_open",
                           "keyctl",
                           "add_key",
                           "request_key",
                           "mount",
                           "umount2",
                           "pivot_root",
                           "fsopen",
                           "fsconfig",
                           "fsmount",
                           "fspick",
                           "move_mount",
                           "open_tree",
                           "mount_setattr",
                           "setns",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "kexec_load",
                           "kexec_file_load"}) {
    STOCKADE_RETURN_IF_ERROR(Deny(ctx, EPERM, name));
  }
  const auto eperm = SCMP_ACT_ERRNO(EPERM);
  // New user namespaces: the door to capabilities inside them, and to much kernel code.
  STOCKADE_RETURN_IF_ERROR(
      Check(seccomp_rule_add(ctx, eperm, SCMP_SYS(unshare), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)),
            "unshare(CLONE_NEWUSER)"));
  STOCKADE_RETURN_IF_ERROR(
      Check(seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)),
            "clone(CLONE_NEWUSER)"));
  STOCKADE_RETURN_IF_ERROR(
      Check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3"));
  // Typing into the terminal the tree shares with the user.
  for (const unsigned long request :
       {static_cast<unsigned long>(TIOCSTI), static_cast<unsigned long>(TIOCLINUX)}) {
    STOCKADE_RETURN_IF_ERROR(Check(seccomp_rule_add(ctx, eperm, SCMP_SYS(ioctl), 1,
                                                    SCMP_A1(SCMP_CMP_MASKED_EQ, kLow32, request)),
                                   "ioctl(TIOCSTI/TIOCLINUX)"));
  }
  return OkStatus();
}

Status AddNetworkRules(scmp_filter_ctx ctx, SeccompNetwork network) {
  if (network == SeccompNetwork::kAllowed) return OkStatus();
  const auto eacces = SCMP_ACT_ERRNO(EACCES);
  for (const int family : {AF_INET, AF_INET6}) {
    const auto fam = SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, static_cast<scmp_datum_t>(family));
    if (network == SeccompNetwork::kBlocked) {
      STOCKADE_RETURN_IF_ERROR(
          Check(seccomp_rule_add(ctx, eacces, SCMP_SYS(socket), 1, fam), "socket(AF_INET*)"));
      continue;
    }
    // kLoopbackPorts: TCP only. Every socket type other than SOCK_STREAM...
    // (SOCK_STREAM is 1; the type field is 4 bits wide.)
    for (scmp_datum_t type = 0; type <= kSockTypeMask; ++type) {
      if (type == SOCK_STREAM) continue;
      STOCKADE_RETURN_IF_ERROR(
          Check(seccomp_rule_add(ctx, eacces, SCMP_SYS(socket), 2, fam,
                                 SCMP_A1(SCMP_CMP_MASKED_EQ, kSockTypeMask, type)),
                "socket(AF_INET*, not SOCK_STREAM)"));
    }
    // ...and SOCK_STREAM with a protocol other than 0 or IPPROTO_TCP (SCTP, MPTCP). Compared
    // on all 64 bits, so that garbage in the upper half is refused too.
    STOCKADE_RETURN_IF_ERROR(
        Check(seccomp_rule_add(ctx, eacces, SCMP_SYS(socket), 2, fam,
                               SCMP_A2(SCMP_CMP_GT, static_cast<scmp_datum_t>(IPPROTO_TCP))),
              "socket(AF_INET*, protocol > TCP)"));
    for (int proto = 1; proto < IPPROTO_TCP; ++proto) {
      STOCKADE_RETURN_IF_ERROR(
          Check(seccomp_rule_add(ctx, eacces, SCMP_SYS(socket), 2, fam,
                                 SCMP_A2(SCMP_CMP_EQ, static_cast<scmp_datum_t>(proto))),
                "socket(AF_INET*, protocol < TCP)"));
    }
  }
  if (network == SeccompNetwork::kLoopbackPorts) {
    // TCP Fast Open connects inside sendto/sendmsg: keep every connect going through connect().
    const auto fastopen = static_cast<scmp_datum_t>(MSG_FASTOPEN);
    STOCKADE_RETURN_IF_ERROR(
        Check(seccomp_rule_add(ctx, eacces, SCMP_SYS(sendto), 1,
                               SCMP_A3(SCMP_CMP_MASKED_EQ, fastopen, fastopen)),
              "sendto(MSG_FASTOPEN)"));
    STOCKADE_RETURN_IF_ERROR(
        Check(seccomp_rule_add(ctx, eacces, SCMP_SYS(sendmsg), 1,
                               SCMP_A2(SCMP_CMP_MASKED_EQ, fastopen, fastopen)),
              "sendmsg(MSG_FASTOPEN)"));
    STOCKADE_RETURN_IF_ERROR(
        Check(seccomp_rule_add(ctx, eacces, SCMP_SYS(sendmmsg), 1,
                               SCMP_A3(SCMP_CMP_MASKED_EQ, fastopen, fastopen)),
              "sendmmsg(MSG_FASTOPEN)"));
  }
  return OkStatus();
}

// SECCOMP_FILTER_FLAG_LOG for the installation, when asked for. libseccomp applies the
// attribute only in its own seccomp_load, and the filter is installed by the child from the
// exported BPF instead: the attribute is set (libseccomp then checks that the kernel knows the
// flag, API level 3) and read back into the flags the child passes to seccomp().
Expected<unsigned int> InstallFlags(scmp_filter_ctx ctx, bool log_denials) {
  if (!log_denials) return 0u;
  const int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
  if (rc != 0) {
    return ErrnoError(ErrorCode::kUnsupported,
                      "libseccomp: SCMP_FLTATR_CTL_LOG (log the filter's refusals; libseccomp " +
                          std::to_string(SCMP_VER_MAJOR) + "." + std::to_string(SCMP_VER_MINOR) +
                          ", API level " + std::to_string(seccomp_api_get()) + ")",
                      -rc);
  }
  std::uint32_t value = 0;
  STOCKADE_RETURN_IF_ERROR(
      Check(seccomp_attr_get(ctx, SCMP_FLTATR_CTL_LOG, &value), "read back SCMP_FLTATR_CTL_LOG"));
  if (value != 1) {
    return Error(ErrorCode::kUnsupported, "libseccomp did not keep SCMP_FLTATR_CTL_LOG");
  }
  return static_cast<unsigned int>(SECCOMP_FILTER_FLAG_LOG);
}

Expected<std::shared_ptr<const SeccompProgram>> Compile(const SeccompKind& kind) {
  Context ctx;
  if (ctx.get() == nullptr) return Error(ErrorCode::kOs, "libseccomp: seccomp_init failed");
  STOCKADE_RETURN_IF_ERROR(
      Check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
            "bad-architecture action"));
  auto flags = InstallFlags(ctx.get(), kind.log_denials);
  if (!flags.ok()) return flags.error();
  STOCKADE_RETURN_IF_ERROR(AddAlwaysDenied(ctx.get()));
  STOCKADE_RETURN_IF_ERROR(AddNetworkRules(ctx.get(), kind.network));

  // libseccomp 2.5 exports BPF only to a descriptor: a memfd, read back.
  UniqueFd mem(::memfd_create("stockade-seccomp", MFD_CLOEXEC));
  if (!mem.valid()) return ErrnoError(ErrorCode::kOs, "memfd_create for the seccomp filter", errno);
  STOCKADE_RETURN_IF_ERROR(Check(seccomp_export_bpf(ctx.get(), mem.get()), "seccomp_export_bpf"));
  const off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    return Error(ErrorCode::kOs,
                 "libseccomp exported a filter of " + std::to_string(size) + " bytes");
  }
  auto program = std::make_shared<SeccompProgram>();
  program->instructions.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(mem.get(), program->instructions.data(), static_cast<std::size_t>(size), 0) != size) {
    return ErrnoError(ErrorCode::kOs, "read back the seccomp filter", errno);
  }
  program->program.len = static_cast<unsigned short>(program->instructions.size());
  program->program.filter = program->instructions.data();
  program->flags = *flags;
  return std::shared_ptr<const SeccompProgram>(std::move(program));
}

}  // namespace

SeccompKind SeccompKindFor(const LaunchSpec& spec) {
  SeccompKind kind;
  if (spec.network == NetworkAccess::kAllowed) {
    kind.network = SeccompNetwork::kAllowed;
  } else {
    kind.network =
        spec.loopback_ports.empty() ? SeccompNetwork::kBlocked : SeccompNetwork::kLoopbackPorts;
  }
  kind.log_denials = spec.log_seccomp_denials;
  return kind;
}

Expected<std::shared_ptr<const SeccompProgram>> SeccompProgramFor(const SeccompKind& kind) {
  static std::mutex mu;
  static std::shared_ptr<const SeccompProgram> cache[3][2];
  const auto index = static_cast<std::size_t>(kind.network);
  const std::size_t logged = kind.log_denials ? 1 : 0;
  std::lock_guard<std::mutex> lock(mu);
  if (!cache[index][logged]) {
    auto compiled = Compile(kind);
    if (!compiled.ok()) return compiled.error();
    cache[index][logged] = *compiled;
  }
  return cache[index][logged];
}

Expected<std::shared_ptr<const SeccompProgram>> SeccompProgramFor(SeccompNetwork network) {
  return SeccompProgramFor(SeccompKind{network, false});
}

bool ApplySeccomp(const SeccompProgram& program, SetupFailure* failure) noexcept {
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &program.program) != 0) {
    return Fail(failure, SetupStep::kSeccomp, errno, nullptr);
  }
  return true;
}

}  // namespace stockade::runner::linux_os
