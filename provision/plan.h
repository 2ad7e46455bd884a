// The planner: turns the policy (core/policy) and what the journal already owns into the ordered
// StepSpecs the executor runs. Portable: the target OS is a parameter, so both OSes' plans are
// unit-tested on both build targets. The executor decides what is already applied; the planner
// only decides what *should* be there, reusing values the journal already fixed (the Windows
// write SID) so that a second plan is identical to the first and `apply` reports "no changes".
#ifndef STOCKADE_PROVISION_PLAN_H_
#define STOCKADE_PROVISION_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/policy/policy.h"
#include "provision/journal/journal.h"
#include "provision/step.h"

namespace stockade::provision {

enum class TargetOs { kLinux, kWindows };

// The OS this build runs on.
TargetOs NativeTargetOs();

// The NFLOG group the offline identity's dropped packets are logged to (Linux); the audit
// collector listens on it.
inline constexpr int kNflogGroup = 7480;

struct PlanContext {
  TargetOs os = NativeTargetOs();
  std::string state_dir;  // absolute, in the target OS's style
  // Live steps of the journal (Journal::LiveSteps()), oldest first.
  std::vector<StepRecord> live;
  // The service executable to register (kind::kService); empty: no service step.
  std::string service_binary;
  // The policy file the service should load (passed to it); may be empty.
  std::string policy_path;
};

// The nftables table name of a prefix ("stockade_<prefix>", non-[A-Za-z0-9_] -> '_'): the same
// rule as provision/linux/nft_step.h, restated here because the planner is portable.
std::string NftTableFor(const std::string& prefix);

// The steps of `apply`, in order: group, users, state folder, then on Windows the write SID and
// the credential file, the network rules of each identity whose network is blocked, the audit
// policy (Windows), the service (when a binary is given). Errors: kInvalidArgument when the
// state folder is not absolute; kCrypto when a new write SID cannot be drawn.
Expected<std::vector<StepSpec>> PlanApply(const Policy& policy, const PlanContext& context);

// The workspace grant of `workspace` (absolute, normalised, already checked by
// CheckWorkspaceAllowed): both identities get write access; the policy's protected paths stay
// read-only. Relative protected entries (".git") are kept as names; entries with placeholders
// are expanded with {workspace} = `workspace`; absolute entries outside the workspace are
// dropped (they belong to other roots). Windows needs the write SID of a live apply.
// Errors: kNotFound "run apply first" when the journal owns no identities (or no write SID);
// kPathInvalid when a protected entry cannot be expanded.
Expected<StepSpec> PlanGrant(const Policy& policy, const PlanContext& context,
                             const std::string& workspace);

// The transactions whose live grant steps cover exactly `workspace`, newest first: what
// `revoke` rolls back. Empty when the workspace is not granted.
std::vector<std::int64_t> GrantTransactionsFor(const PlanContext& context,
                                               const std::string& workspace);

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_PLAN_H_
