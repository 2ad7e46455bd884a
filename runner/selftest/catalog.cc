#include "runner/selftest/catalog.h"

namespace stockade::runner::selftest {

Platform CurrentPlatform() {
#ifdef _WIN32
  return Platform::kWindows;
#else
  return Platform::kLinux;
#endif
}

namespace {

constexpr ProbeKind A = ProbeKind::kAttack;
constexpr ProbeKind OK = ProbeKind::kAllowed;
constexpr NetworkRole N0 = NetworkRole::kNone;
constexpr NetworkRole NOUT = NetworkRole::kOutbound;
constexpr Platform L = Platform::kLinux;
constexpr Platform W = Platform::kWindows;
constexpr Platform LW = Platform::kBoth;

// Shared texts of the unprovisioned mode's limits (docs/selftest.md, "Unprovisioned mode").
constexpr const char* kSameUidMetadata =
    "same uid as the user: Landlock governs writes of content and names, not chmod/chown/utimes, "
    "so DAC (the user's own files) is all that is left";
constexpr const char* kNoCgroupProcs =
    "no cgroup without the service: only the user's RLIMIT_NPROC bounds the tree's processes";
constexpr const char* kNoCgroupMemory =
    "no cgroup without the service: nothing bounds the tree's memory but the machine";
constexpr const char* kWinSameUserRead =
    "the token is the user's own, write-restricted: reads are the user's, deny-read paths the "
    "user can read stay readable";
constexpr const char* kWinNoFirewall =
    "the firewall rules are scoped to the sandbox identities; the user's own token is not "
    "filtered";
constexpr const char* kWinSameUserProcess =
    "the user's own processes grant their owner access: another process of the user can be "
    "opened";

const std::vector<ProbeInfo>& Catalog() {
  static const std::vector<ProbeInfo> probes = {
      // ---- file system ----
      {"write-outside", A, N0, LW,
       "create a file in a world-writable folder outside the writable roots",
       "Landlock: no write access outside the writable roots (EACCES)",
       "write-restricted token: the write SID has no access outside the granted roots "
       "(ERROR_ACCESS_DENIED)",
       nullptr, nullptr},
      {"overwrite-canary", A, N0, LW,
       "truncate and overwrite a world-writable file outside the writable roots",
       "Landlock (EACCES); the orchestrator re-reads the canary",
       "write-restricted token (ERROR_ACCESS_DENIED)", nullptr, nullptr},
      {"write-git", A, N0, LW, "create a file inside <workspace>/.git",
       "read-only bind mount over the protected path (EROFS)",
       "deny-write ACE for the write SID on the protected path", nullptr, nullptr},
      {"write-codex", A, N0, LW, "create a file inside <workspace>/.codex",
       "read-only bind mount (EROFS)", "deny-write ACE on the protected path", nullptr, nullptr},
      {"write-agents", A, N0, LW, "create a file inside <workspace>/.agents",
       "read-only bind mount (EROFS)", "deny-write ACE on the protected path", nullptr, nullptr},
      {"rename-protected", A, N0, LW, "rename <workspace>/.git away (and back)",
       "the protected path is a mount point (EBUSY)",
       "deny DELETE on the protected path (ERROR_ACCESS_DENIED)", nullptr, nullptr},
      {"symlink-out", A, N0, LW,
       "create a symlink in the workspace to a canary outside and write through it",
       "Landlock checks the resolved target (EACCES)",
       "the access check is made on the target; creating symlinks needs a privilege the token "
       "lacks",
       nullptr, nullptr},
      {"hardlink-out", A, N0, LW,
       "hard-link a canary outside into the workspace and write through the link",
       "Landlock refuses links across writable roots (EXDEV/EACCES)",
       "CreateHardLink needs write access to the target (ERROR_ACCESS_DENIED)", nullptr, nullptr},
      {"junction-out", A, N0, W,
       "make a junction in the workspace that points to a folder outside and create a file "
       "through it",
       "-", "the access check is made on the real folder (ERROR_ACCESS_DENIED)", nullptr, nullptr},
      {"chmod-outside", A, N0, LW,
       "change the permissions of a canary outside the roots (chmod / a new DACL)",
       "DAC: the identity does not own the file (EPERM)",
       "WRITE_DAC is a write right the write-restricted token lacks", kSameUidMetadata, nullptr},
      {"read-deny", A, N0, LW, "read a canary file in a deny-read folder (~/.ssh, ~/.aws, ...)",
       "mode-000 tmpfs covers the deny-read folder (EACCES)",
       "the identity is another account: the user's profile ACL does not include it", nullptr,
       kWinSameUserRead},
      {"read-secrets", A, N0, LW, "list Stockade's state folder and read its journal",
       "the state folder is in the tree's deny-read list and root-only (EACCES)",
       "the state folder's ACL denies the sandbox identities", nullptr, nullptr},
      {"write-journal", A, N0, LW,
       "open the provisioning journal (or create a file in the state folder) for writing",
       "deny-read cover, DAC and Landlock (EACCES)", "the state folder's ACL", nullptr, nullptr},
      {"write-audit", A, N0, LW, "open the audit store for writing",
       "deny-read cover, DAC and Landlock (EACCES)", "the state folder's ACL", nullptr, nullptr},
      {"modify-policy", A, N0, LW, "open the policy file for writing (nothing is changed)",
       "DAC (root-owned) and Landlock (EACCES)",
       "ACL (administrators only) and the write-restricted token", nullptr, nullptr},
      {"write-tmp", A, N0, LW, "create a file in the machine's shared temporary folder",
       "Landlock: /tmp is not a writable root (the tree has its own {temp})",
       "write-restricted token: C:\\Windows\\Temp is not granted", nullptr, nullptr},
      {"write-shm", A, N0, L, "create a file in /dev/shm", "Landlock (EACCES)", "-", nullptr,
       nullptr},
      {"write-home", A, N0, LW, "create a file in the invoking user's home folder",
       "Landlock and DAC (EACCES)", "the profile's ACL and the write-restricted token", nullptr,
       nullptr},
      {"proc-root", A, N0, L,
       "reach the outside canary through /proc/1/root and /proc/self/root and write it",
       "ptrace access check on /proc/1/root; Landlock on the resolved path (EACCES)", "-", nullptr,
       nullptr},
      // ---- network ----
      {"tcp-out", A, NOUT, LW,
       "TCP connect to the selftest's listener on this host's non-loopback IPv4 address",
       "seccomp: no AF_INET socket for offline (EACCES); Landlock TCP connect; nftables per uid",
       "firewall rule blocking the offline identity's outbound traffic", nullptr, kWinNoFirewall},
      {"udp-out", A, NOUT, LW,
       "UDP datagram to the selftest's echo listener on the non-loopback address",
       "seccomp: no UDP socket for offline (EACCES); nftables per uid", "firewall rule", nullptr,
       kWinNoFirewall},
      {"ipv6-out", A, NOUT, LW,
       "TCP connect over IPv6 to the selftest's listener (non-loopback address, else ::1)",
       "seccomp: no AF_INET6 socket (EACCES); Landlock; nftables (inet table)",
       "firewall rule (IPv4 and IPv6)", nullptr, kWinNoFirewall},
      {"dns", A, NOUT, LW,
       "DNS query over UDP to a resolver (the selftest's stand-in on the non-loopback address)",
       "seccomp: no UDP socket (EACCES); nftables", "firewall rule", nullptr, kWinNoFirewall},
      {"raw-icmp", A, N0, LW, "open a raw ICMP socket and send an echo request",
       "no CAP_NET_RAW; seccomp for offline (EPERM/EACCES)",
       "raw sockets need an administrator token (WSAEACCES)", nullptr, nullptr},
      {"icmp-ping", A, NOUT, L, "ICMP echo through an unprivileged ping socket",
       "seccomp: no AF_INET socket for offline (EACCES); nftables", "-", nullptr, nullptr},
      {"loopback-denied", A, NOUT, LW,
       "TCP connect to the selftest's loopback listener on a port the policy does not allow",
       "Landlock TCP connect rules (EACCES) or seccomp; nftables",
       "firewall rule (loopback blocked except the policy's ports)", nullptr, kWinNoFirewall},
      // ---- processes ----
      {"daemon", A, N0, LW,
       "double fork + setsid (Windows: a detached process) and outlive the run",
       "every descendant is in the tree's cgroup, killed at the end (cgroup.kill)",
       "job object with kill-on-close", nullptr, nullptr},
      {"nohup", A, N0, L,
       "fork a child that ignores SIGHUP/SIGTERM in its own process group and outlive the run",
       "cgroup.kill (SIGKILL cannot be ignored)", "-", nullptr, nullptr},
      {"breakaway", A, N0, W, "CreateProcess with CREATE_BREAKAWAY_FROM_JOB and outlive the run",
       "-", "the job does not allow breakaway (ERROR_ACCESS_DENIED)", nullptr, nullptr},
      {"ptrace-outside", A, N0, LW,
       "ptrace-attach (Windows: DebugActiveProcess) a process of the invoking user",
       "seccomp: no ptrace (EPERM); another uid",
       "the process's DACL does not grant the "
       "identity PROCESS_ALL_ACCESS",
       nullptr, kWinSameUserProcess},
      {"signal-outside", A, N0, LW,
       "SIGTERM (Windows: TerminateProcess) a process of the invoking user",
       "another uid (EPERM); Landlock signal scoping (ABI 6)",
       "OpenProcess(PROCESS_TERMINATE) is denied to another account", nullptr, kWinSameUserProcess},
      {"kill-service", A, N0, LW,
       "check whether the service (or init when there is none) could be signalled",
       "another uid, root (EPERM)", "the service runs as LocalSystem (ERROR_ACCESS_DENIED)",
       nullptr, nullptr},
      {"setuid", A, N0, L, "run a setuid-root program and look at its effective uid",
       "no_new_privs: setuid bits are ignored at exec", "-", nullptr, nullptr},
      {"userns", A, N0, L, "create a user namespace (unshare CLONE_NEWUSER)", "seccomp (EPERM)",
       "-", nullptr, nullptr},
      {"setns", A, N0, L, "join init's mount namespace (setns on /proc/1/ns/mnt)",
       "seccomp; no CAP_SYS_ADMIN (EPERM/EACCES)", "-", nullptr, nullptr},
      {"forkbomb", A, N0, LW, "start more processes than the policy's process limit",
       "cgroup pids.max (EAGAIN)", "job object active-process limit", kNoCgroupProcs, nullptr},
      {"memory", A, N0, LW, "allocate and touch more memory than the policy's memory limit",
       "cgroup memory limit: the OOM killer ends the allocating process", "job object memory limit",
       kNoCgroupMemory, nullptr},
      {"tiocsti", A, N0, L, "push characters into a terminal's input queue (TIOCSTI)",
       "seccomp (EPERM); the user's terminal is never passed in", "-", nullptr, nullptr},
      {"cgroup-escape", A, N0, L, "move itself into the root cgroup (v1 and v2)",
       "cgroup files are root's; no capabilities (EACCES/EPERM)", "-", nullptr, nullptr},
      {"leaked-fds", A, N0, L,
       "look for inherited descriptors other than stdin/stdout/stderr (service sockets, "
       "store files)",
       "close_range(CLOEXEC) before exec", "-", nullptr, nullptr},
      {"service-socket", A, N0, LW,
       "ask the service for a broader sandbox (identity online, workspace /)",
       "the socket is inside the deny-read state folder; the service refuses sandbox uids and "
       "callers inside a tree (SO_PEERCRED, cgroup)",
       "the pipe's ACL and the caller's token", nullptr, nullptr},
      {"privilege", A, N0, W, "enable SeDebugPrivilege in its own token", "-",
       "DISABLE_MAX_PRIVILEGE removed every privilege (ERROR_NOT_ALL_ASSIGNED)", nullptr, nullptr},
      {"mount", A, N0, L, "mount a tmpfs", "seccomp (EPERM)", "-", nullptr, nullptr},
      {"bpf", A, N0, L, "create a BPF map", "seccomp (EPERM)", "-", nullptr, nullptr},
      {"io_uring", A, N0, L, "set up an io_uring (which bypasses seccomp)", "seccomp (EPERM)", "-",
       nullptr, nullptr},
      {"keyctl", A, N0, L, "read the session keyring / add a key", "seccomp (EPERM)", "-", nullptr,
       nullptr},
      {"perf", A, N0, L, "perf_event_open on itself", "seccomp (EPERM)", "-", nullptr, nullptr},
      // ---- allowed actions: a sandbox that blocks everything fails ----
      {"workspace-write", OK, N0, LW,
       "create, write, read back, rename and delete a file in the workspace",
       "writable root (Landlock) + workspace ACL grant",
       "inheritable allow ACE for the write SID on the workspace", nullptr, nullptr},
      {"compile", OK, N0, LW, "compile and run a C file with the system's C compiler",
       "the compiler reads broadly, writes only in the workspace and {temp}",
       "the same (gcc or cl from PATH)", nullptr, nullptr},
      {"git-status", OK, N0, LW, "git status in a repository the selftest makes",
       "reads .git (read-only) and the work tree", "the same", nullptr, nullptr},
      {"loopback-allowed", OK, NetworkRole::kAllowedPort, LW,
       "TCP connect to a loopback port the policy allows (a local proxy)",
       "Landlock TCP rule for the port; nftables accept on loopback",
       "firewall allow rule for the port", nullptr, nullptr},
  };
  return probes;
}

}  // namespace

const std::vector<ProbeInfo>& AllProbes() { return Catalog(); }

std::vector<const ProbeInfo*> ProbesFor(Platform platform) {
  std::vector<const ProbeInfo*> out;
  for (const ProbeInfo& p : Catalog()) {
    if ((static_cast<unsigned>(p.platforms) & static_cast<unsigned>(platform)) != 0) {
      out.push_back(&p);
    }
  }
  return out;
}

const ProbeInfo* FindProbe(std::string_view name) {
  for (const ProbeInfo& p : Catalog()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

Expectation ExpectationFor(const ProbeInfo& probe, bool online) {
  if (probe.kind == ProbeKind::kAllowed) return Expectation::kWorks;
  if (probe.network == NetworkRole::kOutbound && online) return Expectation::kWorks;
  return Expectation::kBlocked;
}

const char* UnprovisionedLimit(const ProbeInfo& probe, Platform platform) {
  return platform == Platform::kWindows ? probe.unprovisioned_limit_windows
                                        : probe.unprovisioned_limit_linux;
}

}  // namespace stockade::runner::selftest
