#include "audit/linux/record_decoder.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace stockade::audit::linux_os {
namespace {

// Syscalls whose denials Stockade classifies (x86-64 numbers), with their category when it does
// not depend on the arguments.
enum class Kind { kFileRead, kFileWrite, kFileOpen, kNetwork, kOther };
struct SyscallInfo {
  const char* name;
  Kind kind;
};

const std::map<std::int64_t, SyscallInfo>& SyscallTable() {
  static const auto* table = new std::map<std::int64_t, SyscallInfo>{
      {SYS_read, {"read", Kind::kOther}},
      {SYS_write, {"write", Kind::kOther}},
      {SYS_open, {"open", Kind::kFileOpen}},
      {SYS_stat, {"stat", Kind::kFileRead}},
      {SYS_lstat, {"lstat", Kind::kFileRead}},
      {SYS_access, {"access", Kind::kFileRead}},
      {SYS_ioctl, {"ioctl", Kind::kOther}},
      {SYS_socket, {"socket", Kind::kNetwork}},
      {SYS_connect, {"connect", Kind::kNetwork}},
      {SYS_sendto, {"sendto", Kind::kNetwork}},
      {SYS_sendmsg, {"sendmsg", Kind::kNetwork}},
      {SYS_bind, {"bind", Kind::kNetwork}},
      {SYS_listen, {"listen", Kind::kNetwork}},
      {SYS_clone, {"clone", Kind::kOther}},
      {SYS_fork, {"fork", Kind::kOther}},
      {SYS_vfork, {"vfork", Kind::kOther}},
      {SYS_execve, {"execve", Kind::kFileRead}},
      {SYS_kill, {"kill", Kind::kOther}},
      {SYS_truncate, {"truncate", Kind::kFileWrite}},
      {SYS_rename, {"rename", Kind::kFileWrite}},
      {SYS_mkdir, {"mkdir", Kind::kFileWrite}},
      {SYS_rmdir, {"rmdir", Kind::kFileWrite}},
      {SYS_creat, {"creat", Kind::kFileWrite}},
      {SYS_link, {"link", Kind::kFileWrite}},
      {SYS_unlink, {"unlink", Kind::kFileWrite}},
      {SYS_symlink, {"symlink", Kind::kFileWrite}},
      {SYS_chmod, {"chmod", Kind::kFileWrite}},
      {SYS_fchmod, {"fchmod", Kind::kFileWrite}},
      {SYS_chown, {"chown", Kind::kFileWrite}},
      {SYS_fchown, {"fchown", Kind::kFileWrite}},
      {SYS_lchown, {"lchown", Kind::kFileWrite}},
      {SYS_ptrace, {"ptrace", Kind::kOther}},
      {SYS_setuid, {"setuid", Kind::kOther}},
      {SYS_setgid, {"setgid", Kind::kOther}},
      {SYS_setgroups, {"setgroups", Kind::kOther}},
      {SYS_setresuid, {"setresuid", Kind::kOther}},
      {SYS_setresgid, {"setresgid", Kind::kOther}},
      {SYS_utime, {"utime", Kind::kFileWrite}},
      {SYS_mknod, {"mknod", Kind::kFileWrite}},
      {SYS_prctl, {"prctl", Kind::kOther}},
      {SYS_chroot, {"chroot", Kind::kOther}},
      {SYS_mount, {"mount", Kind::kOther}},
      {SYS_umount2, {"umount2", Kind::kOther}},
      {SYS_add_key, {"add_key", Kind::kOther}},
      {SYS_keyctl, {"keyctl", Kind::kOther}},
      {SYS_unshare, {"unshare", Kind::kOther}},
      {SYS_openat, {"openat", Kind::kFileOpen}},
      {SYS_mkdirat, {"mkdirat", Kind::kFileWrite}},
      {SYS_mknodat, {"mknodat", Kind::kFileWrite}},
      {SYS_fchownat, {"fchownat", Kind::kFileWrite}},
      {SYS_newfstatat, {"newfstatat", Kind::kFileRead}},
      {SYS_unlinkat, {"unlinkat", Kind::kFileWrite}},
      {SYS_renameat, {"renameat", Kind::kFileWrite}},
      {SYS_linkat, {"linkat", Kind::kFileWrite}},
      {SYS_symlinkat, {"symlinkat", Kind::kFileWrite}},
      {SYS_fchmodat, {"fchmodat", Kind::kFileWrite}},
      {SYS_faccessat, {"faccessat", Kind::kFileRead}},
      {SYS_utimensat, {"utimensat", Kind::kFileWrite}},
      {SYS_perf_event_open, {"perf_event_open", Kind::kOther}},
      {SYS_renameat2, {"renameat2", Kind::kFileWrite}},
      {SYS_bpf, {"bpf", Kind::kOther}},
      {SYS_execveat, {"execveat", Kind::kFileRead}},
      {SYS_statx, {"statx", Kind::kFileRead}},
      {SYS_io_uring_setup, {"io_uring_setup", Kind::kOther}},
      {SYS_clone3, {"clone3", Kind::kOther}},
      {SYS_openat2, {"openat2", Kind::kFileOpen}},
      {SYS_faccessat2, {"faccessat2", Kind::kFileRead}},
      // The rest of what the runner's seccomp filter refuses (seccomp records name them).
      {SYS_request_key, {"request_key", Kind::kOther}},
      {SYS_io_uring_enter, {"io_uring_enter", Kind::kOther}},
      {SYS_io_uring_register, {"io_uring_register", Kind::kOther}},
      {SYS_process_vm_readv, {"process_vm_readv", Kind::kOther}},
      {SYS_process_vm_writev, {"process_vm_writev", Kind::kOther}},
      {SYS_setns, {"setns", Kind::kOther}},
      {SYS_pivot_root, {"pivot_root", Kind::kOther}},
      {SYS_fsopen, {"fsopen", Kind::kOther}},
      {SYS_fsconfig, {"fsconfig", Kind::kOther}},
      {SYS_fsmount, {"fsmount", Kind::kOther}},
      {SYS_fspick, {"fspick", Kind::kOther}},
      {SYS_move_mount, {"move_mount", Kind::kOther}},
      {SYS_open_tree, {"open_tree", Kind::kOther}},
      {SYS_mount_setattr, {"mount_setattr", Kind::kOther}},
      {SYS_init_module, {"init_module", Kind::kOther}},
      {SYS_finit_module, {"finit_module", Kind::kOther}},
      {SYS_delete_module, {"delete_module", Kind::kOther}},
      {SYS_kexec_load, {"kexec_load", Kind::kOther}},
      {SYS_kexec_file_load, {"kexec_file_load", Kind::kOther}},
      {SYS_sendmmsg, {"sendmmsg", Kind::kNetwork}},
  };
  return *table;
}

std::int64_t IntField(const AuditRecord& r, std::string_view name, std::int64_t fallback,
                      int base = 10) {
  const std::string* v = r.Find(name);
  if (v == nullptr) return fallback;
  return ParseInt(*v, base).value_or(fallback);
}

std::string StrField(const AuditRecord& r, std::string_view name) {
  const std::string* v = r.Find(name);
  return v == nullptr ? std::string() : DecodeUntrusted(*v);
}

std::string JoinPath(const std::string& cwd, const std::string& name) {
  if (name.empty() || name.front() == '/' || cwd.empty()) return name;
  return cwd.back() == '/' ? cwd + name : cwd + "/" + name;
}

std::string Evidence(const AuditEvent& event) {
  std::string out;
  for (const AuditRecord& r : event.records) {
    if (r.type == kRecordProctitle) continue;  // argv of the process: in its exec event
    if (!out.empty()) out += '\n';
    out += "type=" + std::to_string(r.type) + " msg=" + r.text;
  }
  return out;
}

// argv from the EXECVE records of one event (there may be several when argv is long).
std::vector<std::string> DecodeArgv(const AuditEvent& event) {
  std::int64_t argc = -1;
  std::map<std::int64_t, std::string> whole;
  std::map<std::int64_t, std::map<std::int64_t, std::string>> pieces;
  for (const AuditRecord& r : event.records) {
    if (r.type != kRecordExecve) continue;
    for (const auto& [name, value] : r.fields) {
      if (name == "argc") {
        argc = ParseInt(value).value_or(-1);
        continue;
      }
      if (name.size() < 2 || name[0] != 'a') continue;
      const auto bracket = name.find('[');
      const auto underscore = name.find('_');
      if (underscore != std::string::npos) continue;  // aN_len=: the pieces follow
      if (bracket == std::string::npos) {
        const auto idx = ParseInt(std::string_view(name).substr(1));
        if (idx) whole[*idx] = DecodeUntrusted(value);
      } else {
        const auto idx = ParseInt(std::string_view(name).substr(1, bracket - 1));
        const auto close = name.find(']', bracket);
        const auto part = ParseInt(std::string_view(name).substr(
            bracket + 1, close == std::string::npos ? std::string::npos : close - bracket - 1));
        // Pieces are always hex-encoded.
        if (idx && part) pieces[*idx][*part] = DecodeUntrusted(value);
      }
    }
  }
  for (auto& [idx, parts] : pieces) {
    std::string joined;
    for (auto& [part, bytes] : parts) joined += bytes;
    whole[idx] = std::move(joined);
  }
  std::vector<std::string> argv;
  const std::int64_t n = argc >= 0 ? argc : static_cast<std::int64_t>(whole.size());
  argv.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    auto it = whole.find(i);
    argv.push_back(it == whole.end() ? std::string() : it->second);
  }
  return argv;
}

DenialCategory LandlockCategory(const std::string& blockers, std::string* access) {
  *access = blockers;
  if (blockers.rfind("net.", 0) == 0) {
    if (blockers.find("connect_tcp") != std::string::npos) *access = "connect tcp";
    if (blockers.find("bind_tcp") != std::string::npos) *access = "bind tcp";
    return DenialCategory::kNetwork;
  }
  if (blockers.rfind("fs.", 0) == 0) {
    const bool read_only = blockers.find("fs.read_file") != std::string::npos ||
                           blockers.find("fs.read_dir") != std::string::npos ||
                           blockers.find("fs.execute") != std::string::npos;
    bool any_write = false;
    for (const char* w : {"write_file", "make_", "remove_", "truncate", "refer", "ioctl_dev"}) {
      any_write = any_write || blockers.find(w) != std::string::npos;
    }
    if (any_write || !read_only) return DenialCategory::kFileWrite;
    return DenialCategory::kFileRead;
  }
  return DenialCategory::kOther;  // scope.signal, scope.abstract_unix_socket
}

void DecodeSyscallDenial(const AuditEvent& event, const AuditRecord& sys, std::int64_t exit_code,
                         DenialFact* fact) {
  const std::int64_t nr = IntField(sys, "syscall", -1);
  const auto& table = SyscallTable();
  const auto it = table.find(nr);
  Kind kind = it == table.end() ? Kind::kOther : it->second.kind;
  DenialEvent& d = fact->denial;
  d.source = DenialSource::kAuditSyscall;
  std::string access = SyscallName(nr);
  if (kind == Kind::kFileOpen) {
    // open(path, flags), openat(dirfd, path, flags): write when opened for writing, created or
    // truncated (openat2's flags sit behind a pointer: counted as a read).
    const std::int64_t flags = nr == SYS_open     ? IntField(sys, "a1", 0, 16)
                               : nr == SYS_openat ? IntField(sys, "a2", 0, 16)
                                                  : 0;
    constexpr std::int64_t kWriteFlags = 01 | 02 | 0100 | 01000;  // WRONLY RDWR CREAT TRUNC
    kind = (flags & kWriteFlags) != 0 ? Kind::kFileWrite : Kind::kFileRead;
  }
  access += exit_code == -EACCES ? " (EACCES)" : " (EPERM)";
  d.access = access;
  switch (kind) {
    case Kind::kFileWrite:
    case Kind::kFileRead:
    case Kind::kFileOpen: {
      d.category =
          kind == Kind::kFileWrite ? DenialCategory::kFileWrite : DenialCategory::kFileRead;
      const AuditRecord* cwd = event.First(kRecordCwd);
      const std::string dir = cwd ? StrField(*cwd, "cwd") : "";
      std::string target, parent;
      for (const AuditRecord& r : event.records) {
        if (r.type != kRecordPath) continue;
        const std::string name = StrField(r, "name");
        if (name.empty()) continue;
        const std::string* nametype = r.Find("nametype");
        if (nametype != nullptr && *nametype == "PARENT") {
          parent = name;
        } else if (target.empty()) {
          target = name;
        }
      }
      d.target = JoinPath(dir, target.empty() ? parent : target);
      break;
    }
    case Kind::kNetwork: {
      d.category = DenialCategory::kNetwork;
      const AuditRecord* sa = event.First(kRecordSockaddr);
      if (sa != nullptr) {
        const std::string* raw = sa->Find("saddr");
        if (raw != nullptr) d.target = SockaddrTarget(*raw);
      }
      if (d.target.empty() && nr == SYS_socket) {
        const std::int64_t family = IntField(sys, "a0", -1, 16);
        d.target = family == AF_INET    ? "socket(AF_INET)"
                   : family == AF_INET6 ? "socket(AF_INET6)"
                                        : "socket(family " + std::to_string(family) + ")";
      }
      break;
    }
    case Kind::kOther:
      d.category = DenialCategory::kOther;
      d.target = SyscallName(nr);
      if (nr == SYS_kill) {
        // kill(pid, sig): the process it was refused on (a0 is the pid as 64-bit hex; a
        // negative one names a process group), in the form Landlock's scope.signal uses.
        const auto pid = static_cast<std::int32_t>(IntField(sys, "a0", 0, 16));
        d.target = pid < 0 ? "process group " + std::to_string(-pid) : "pid " + std::to_string(pid);
      }
      break;
  }
}

}  // namespace

std::string SyscallName(std::int64_t nr) {
  const auto& table = SyscallTable();
  const auto it = table.find(nr);
  if (it != table.end()) return it->second.name;
  return "syscall " + std::to_string(nr);
}

std::string SockaddrTarget(const std::string& raw_hex, std::string* family) {
  const std::string bytes = DecodeUntrusted(raw_hex);
  if (bytes.size() < 2) return "";
  sa_family_t fam = 0;
  std::memcpy(&fam, bytes.data(), sizeof(fam));
  char text[INET6_ADDRSTRLEN] = {};
  if (fam == AF_INET && bytes.size() >= sizeof(sockaddr_in)) {
    sockaddr_in in{};
    std::memcpy(&in, bytes.data(), sizeof(in));
    if (family != nullptr) *family = "inet";
    ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (fam == AF_INET6 && bytes.size() >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, bytes.data(), sizeof(in6));
    if (family != nullptr) *family = "inet6";
    ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof(text));
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  if (fam == AF_UNIX) {
    if (family != nullptr) *family = "unix";
    std::string path = bytes.substr(2);
    if (!path.empty() && path[0] == '\0') return "@" + path.substr(1, path.find('\0', 1) - 1);
    return path.substr(0, path.find('\0'));
  }
  return "";
}

namespace {

// The target of a seccomp refusal. The record carries neither the arguments nor the errno, but
// the runner's filter (runner/linux/seccomp.h) refuses these syscalls only for the arguments
// named here, so the syscall says what was attempted.
std::string SeccompTarget(std::int64_t nr) {
  if (nr == SYS_socket) return "socket(AF_INET/AF_INET6)";
  if (nr == SYS_sendto || nr == SYS_sendmsg || nr == SYS_sendmmsg) {
    return SyscallName(nr) + "(MSG_FASTOPEN)";
  }
  if (nr == SYS_clone || nr == SYS_unshare) return SyscallName(nr) + "(CLONE_NEWUSER)";
  if (nr == SYS_ioctl) return "ioctl TIOCSTI/TIOCLINUX";
  return SyscallName(nr);
}

}  // namespace

std::vector<AuditFact> DecodeAuditEvent(const AuditEvent& event, const std::string& rule_key,
                                        DecodeCounts* counts) {
  std::vector<AuditFact> facts;
  const AuditRecord* sys = event.First(kRecordSyscall);
  std::int64_t pid = 0, ppid = 0, uid = -1;
  if (sys != nullptr) {
    pid = IntField(*sys, "pid", 0);
    ppid = IntField(*sys, "ppid", 0);
    uid = IntField(*sys, "uid", -1);
  }
  // Landlock denials, whatever rule (if any) made the syscall's records appear.
  bool landlock = false;
  for (const AuditRecord& r : event.records) {
    if (r.type != kRecordLandlockAccess) continue;
    landlock = true;
    DenialFact f;
    f.pid = pid;
    f.ppid = ppid;
    f.uid = uid;
    f.time = r.time;
    DenialEvent& d = f.denial;
    d.source = DenialSource::kLandlock;
    d.category = LandlockCategory(StrField(r, "blockers"), &d.access);
    if (r.Find("path") != nullptr) {
      d.target = StrField(r, "path");
    } else if (r.Find("daddr") != nullptr) {
      const std::string addr = StrField(r, "daddr");
      const std::string port = StrField(r, "dest");
      d.target = (addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" + port;
    } else if (r.Find("saddr") != nullptr) {
      const std::string addr = StrField(r, "saddr");
      d.target = (addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" +
                 StrField(r, "src");
    } else if (r.Find("opid") != nullptr) {
      d.target = "pid " + StrField(r, "opid");  // scope.signal: the target process
    }
    d.pid = pid;
    d.evidence = Evidence(event);
    facts.emplace_back(std::move(f));
  }
  // seccomp refusals (RET_ERRNO) of filters installed with SECCOMP_FILTER_FLAG_LOG: logged
  // outside the syscall's audit context (seccomp runs before the audit hook), with the syscall
  // number and the errno but not the arguments.
  for (const AuditRecord& r : event.records) {
    if (r.type != kRecordSeccomp) continue;
    const std::string* code_text = r.Find("code");  // "0x5000d": RET_ERRNO | errno 13
    if (code_text == nullptr || code_text->rfind("0x", 0) != 0) continue;
    const std::int64_t code = ParseInt(code_text->substr(2), 16).value_or(0);
    constexpr std::int64_t kActionMask = 0x7fff0000, kRetErrno = 0x00050000;
    if ((code & kActionMask) != kRetErrno) continue;
    // The kernel logs the action without its data (seccomp_log gets filter_ret &
    // SECCOMP_RET_ACTION_FULL): the errno is normally 0 here, so it cannot say which rule
    // refused. The syscall does: the runner's filter refuses each syscall for one reason.
    const int err = static_cast<int>(code & 0xffff);
    const std::int64_t nr = IntField(r, "syscall", -1);
    if (nr == SYS_clone3 || err == ENOSYS) {
      // A compatibility answer, not a denial: the runner's filter answers clone3 with ENOSYS
      // so that libc falls back to clone (whose flags it can check); glibc tries clone3 for
      // every thread and posix_spawn. Counted, never an event.
      if (counts != nullptr) ++counts->seccomp_compat_refusals;
      continue;
    }
    DenialFact f;
    f.pid = IntField(r, "pid", 0);
    f.uid = IntField(r, "uid", -1);
    f.time = r.time;
    const auto& table = SyscallTable();
    const auto it = table.find(nr);
    const Kind kind = it == table.end() ? Kind::kOther : it->second.kind;
    DenialEvent& d = f.denial;
    d.source = DenialSource::kAuditSyscall;
    d.category = kind == Kind::kNetwork     ? DenialCategory::kNetwork
                 : kind == Kind::kFileWrite ? DenialCategory::kFileWrite
                 : kind == Kind::kFileRead  ? DenialCategory::kFileRead
                                            : DenialCategory::kOther;
    d.target = SeccompTarget(nr);
    d.access = SyscallName(nr) + (err != 0 ? " (seccomp, errno " + std::to_string(err) + ")"
                                           : std::string(" (seccomp)"));
    d.pid = f.pid;
    d.evidence = Evidence(event);
    facts.emplace_back(std::move(f));
  }
  if (sys == nullptr) return facts;
  const std::string* key = sys->Find("key");
  if (key == nullptr || DecodeUntrusted(*key) != rule_key) return facts;

  const std::int64_t nr = IntField(*sys, "syscall", -1);
  const std::string* success = sys->Find("success");
  const std::int64_t exit_value = IntField(*sys, "exit", 0);
  if ((nr == SYS_execve || nr == SYS_execveat) && success != nullptr && *success == "yes") {
    ExecFact f;
    f.pid = pid;
    f.ppid = ppid;
    f.uid = uid;
    f.time = sys->time;
    f.image = StrField(*sys, "exe");
    const AuditRecord* cwd = event.First(kRecordCwd);
    if (cwd != nullptr) f.cwd = StrField(*cwd, "cwd");
    f.argv = DecodeArgv(event);
    facts.emplace_back(std::move(f));
  } else if ((nr == SYS_clone || nr == SYS_clone3 || nr == SYS_fork || nr == SYS_vfork) &&
             success != nullptr && *success == "yes" && exit_value > 0) {
    facts.emplace_back(ForkFact{pid, exit_value, uid, sys->time});
  } else if (nr == SYS_exit_group) {
    ExitFact f;
    f.pid = pid;
    f.uid = uid;
    f.time = sys->time;
    f.code = IntField(*sys, "a0", 0, 16) & 0xff;
    facts.emplace_back(f);
  } else if (!landlock && success != nullptr && *success == "no" &&
             (exit_value == -EACCES || exit_value == -EPERM)) {
    DenialFact f;
    f.pid = pid;
    f.ppid = ppid;
    f.uid = uid;
    f.time = sys->time;
    DecodeSyscallDenial(event, *sys, exit_value, &f);
    f.denial.pid = pid;
    f.denial.evidence = Evidence(event);
    facts.emplace_back(std::move(f));
  }
  return facts;
}

}  // namespace stockade::audit::linux_os
