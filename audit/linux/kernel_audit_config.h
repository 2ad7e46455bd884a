// Leaving the kernel audit configuration as it was found, even when the capture is killed.
//
// Start (KernelAuditGuard::Acquire): take a machine-wide lock (one Stockade capture at a time
// owns the configuration), repair what a killed predecessor left (its saved file names the
// configuration it found; its rules carry its pid in their key), snapshot the configuration
// (status fields and the whole rule list), write the saved file, then change what capture needs.
// Stop (Release): delete exactly the rules added, put every changed status field back, and
// compare a new snapshot with the first one.
//
// After SIGKILL: our rules stay in the kernel, the enabled flag and backlog limit keep our
// values, the daemon pid keeps our (dead) pid until the kernel next fails to send to it, and the
// saved file stays in the runtime folder. The next Acquire (same runtime folder; /run is
// cleared at boot, like the kernel's configuration) restores the status from the saved file and
// deletes every rule whose key names a dead owner.
#ifndef STOCKADE_AUDIT_LINUX_KERNEL_AUDIT_CONFIG_H_
#define STOCKADE_AUDIT_LINUX_KERNEL_AUDIT_CONFIG_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/linux/audit_netlink.h"
#include "audit/linux/unique_fd.h"
#include "core/error.h"

namespace stockade::audit::linux_os {

struct KernelAuditSnapshot {
  AuditStatus status;
  std::vector<std::string> rules;  // raw struct audit_rule_data, in kernel order
};

// Reads the status and the rule list. Errors: those of AuditSocket.
Expected<KernelAuditSnapshot> TakeKernelAuditSnapshot(AuditSocket& socket);

// "" when the configurations are the same (status config fields and rule list byte for byte);
// otherwise what differs, for test failures and logs.
std::string DescribeSnapshotDifference(const KernelAuditSnapshot& before,
                                       const KernelAuditSnapshot& after);

struct KernelAuditRequest {
  std::vector<std::uint32_t> uids;  // sandbox identities whose syscalls are audited
  std::uint32_t min_backlog_limit = 8192;
  // Register as the audit daemon when none is alive (records unicast, producers throttled
  // rather than records dropped). False, or a daemon (auditd) already there: multicast reader.
  bool register_daemon = true;
  std::string runtime_dir = "/run/stockade";  // lock and saved file
};

class KernelAuditGuard {
 public:
  // Does the Start sequence above. `record_socket` is the socket that reads records: when
  // registering as the daemon, registration is made on it (the kernel unicasts to the
  // registering socket). Errors: kAlreadyExists when another live capture holds the lock;
  // kUnsupported when the audit configuration is locked (enabled=2); kernel errors named.
  // On error everything changed so far is put back.
  static Expected<KernelAuditGuard> Acquire(const KernelAuditRequest& request,
                                            AuditSocket* record_socket);

  KernelAuditGuard(KernelAuditGuard&&) noexcept;
  KernelAuditGuard& operator=(KernelAuditGuard&&) = delete;
  KernelAuditGuard(const KernelAuditGuard&) = delete;
  KernelAuditGuard& operator=(const KernelAuditGuard&) = delete;
  // Releases if Release() was not called (errors then only logged to stderr).
  ~KernelAuditGuard();

  // The Stop sequence. Errors: kVerificationFailed naming what differs from the snapshot.
  Status Release();

  const KernelAuditSnapshot& found() const { return found_; }
  bool registered_daemon() const { return registered_; }
  // Stale rules and saved state of a killed predecessor that Acquire cleaned up.
  int swept_rules() const { return swept_rules_; }
  bool restored_saved_state() const { return restored_saved_; }
  // The kernel's lost-record counter when capture started (lost() now minus this = ours).
  std::uint32_t lost_at_start() const { return found_.status.lost; }

 private:
  KernelAuditGuard() = default;

  std::optional<AuditSocket> command_;
  AuditSocket* record_socket_ = nullptr;
  UniqueFd lock_fd_;
  std::string saved_path_;
  KernelAuditSnapshot found_;
  std::uint32_t changed_mask_ = 0;
  bool registered_ = false;
  std::vector<std::string> added_rules_;
  int swept_rules_ = 0;
  bool restored_saved_ = false;
  bool released_ = true;
};

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_KERNEL_AUDIT_CONFIG_H_
