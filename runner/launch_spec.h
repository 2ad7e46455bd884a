// What to launch in one restricted process tree, as plain data: the command, its environment and
// working folder, the identity it runs as, what it may write, what it may not read, its network
// and its limits. Portable: the Linux launcher (runner/linux/launcher.h) and the Windows one read
// the same spec. Paths are already expanded (no "{workspace}" or "~"): translating a policy into a
// spec is the broker's job, not the launcher's.
#ifndef STOCKADE_RUNNER_LAUNCH_SPEC_H_
#define STOCKADE_RUNNER_LAUNCH_SPEC_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::runner {

enum class NetworkAccess { kBlocked, kAllowed };

// Who the tree runs as.
struct LaunchIdentity {
  // True: the caller's own user (the unprovisioned mode: no service, no sandbox account). The
  // launcher then confines the tree with namespaces, Landlock and seccomp only; see
  // docs/runner-linux.md for what that cannot guarantee. uid/gid/groups are ignored.
  bool same_user = false;
  // The account's name, for messages (and for the Windows logon).
  std::string name;
  // Linux: the numeric identity to switch to. Never 0 (a sandbox running as root is no sandbox).
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  // The complete supplementary group list after the switch (empty: none at all).
  std::vector<std::uint32_t> supplementary_gids;
};

struct LaunchLimits {
  // Most processes (tasks) alive in the tree at once, the first process included; 0 = no limit.
  std::uint32_t max_processes = 1024;
  // Most memory the whole tree may use, in bytes; 0 = no limit.
  std::uint64_t memory_bytes = 0;
};

struct LaunchSpec {
  // argv[0] is the program: an absolute path, or a bare name searched in the PATH of `env`.
  std::vector<std::string> argv;
  // The complete environment, "NAME=VALUE" each. Nothing of the launcher's own leaks in.
  std::vector<std::string> env;
  // Absolute working folder of the first process.
  std::string cwd;
  LaunchIdentity identity;
  // Absolute folders the tree may write under (files, folders, links, renames). Everything else
  // is read-only for it, whatever the file permissions say.
  std::vector<std::string> writable_roots;
  // Read-only even inside a writable root. A relative name (".git") applies under every writable
  // root; an absolute path is taken as is. Paths that do not exist at launch are skipped.
  std::vector<std::string> protected_paths;
  // Absolute paths the tree may not read at all (files or folders). Missing ones are skipped.
  std::vector<std::string> deny_read;
  NetworkAccess network = NetworkAccess::kBlocked;
  // With kBlocked: TCP ports the tree may still connect to and bind on loopback (a local proxy).
  std::vector<std::uint16_t> loopback_ports;
  LaunchLimits limits;
  // Wall-clock limit after which the whole tree is killed; zero = none.
  std::chrono::milliseconds timeout{0};
  // Linux: the kernel logs every refusal of the tree's seccomp filter as an audit record
  // (SECCOMP_FILTER_FLAG_LOG), so that refusals that never reach the syscall audit hook (ptrace,
  // mount, bpf, socket(AF_INET) offline, ...) become recorded denials. Set by the service only
  // while its kernel audit capture runs: without an audit daemon reading them the kernel prints
  // each record to the kernel log instead (rate-limited), noise for the machine's owner. Off in
  // the unprovisioned mode and ignored on Windows.
  bool log_seccomp_denials = false;
};

// Checks the spec's shape without touching the file system: a non-empty argv without NUL bytes,
// "NAME=VALUE" environment entries, absolute lexically clean paths (no "." or ".." components,
// no empty components), a cwd, protected relative names without "/" or "..", a uid and gid other
// than 0 unless same_user, no loopback port 0.
// Windows builds: a spec whose cwd is a drive path ("C:\...") is checked by
// ValidateWindowsLaunchSpec instead (Windows specs hold drive paths and an account name).
// Errors: kInvalidArgument naming the field and the offending value.
Status ValidateLaunchSpec(const LaunchSpec& spec);

// The Windows shape of a spec (portable string checks, used by the Windows launcher): as above,
// but every path is a clean drive path (IsCleanWindowsPath), protected relative names are one
// plain name without a backslash, deny-read paths are not a drive root, and the identity needs an
// account name unless same_user (uid/gid are not used on Windows).
Status ValidateWindowsLaunchSpec(const LaunchSpec& spec);

// True when `path` is absolute and lexically clean as described above ("/" itself is clean).
bool IsCleanAbsolutePath(const std::string& path);

// True for "X:\" and "X:\a\b": a drive letter, a colon, backslash-separated components that
// are neither empty, "." nor "..", no trailing backslash (except the root), no forward slash, no
// NUL, none of the characters Windows forbids in names (<>:"|?* and controls). UNC paths,
// "\\?\" paths and device names are refused: a sandbox's folders are local folders.
bool IsCleanWindowsPath(const std::string& path);

}  // namespace stockade::runner

#endif  // STOCKADE_RUNNER_LAUNCH_SPEC_H_
