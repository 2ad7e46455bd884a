// A provisioning step: one OS change the provisioner journals, makes, verifies and can undo.
//
// The executor (executor.h) drives every step through the same protocol:
//   1. before = CaptureBefore()            -- what Undo needs to restore the system exactly
//   2. journal the step as *intended* with `before`, commit durably   (no OS change yet)
//   3. Apply()
//   4. Verify()                            -- read back from the OS; never trust a return code
//   5. journal the step as *applied*
// and, to roll back, Undo(before) then VerifyUndone(before), newest step first.
//
// Steps are rebuilt from their journaled StepSpec in later processes (crash recovery, rollback,
// status, uninstall), so everything a step needs must be in its spec's params or its before-state:
// a step object holds no state of its own between calls.
#ifndef STOCKADE_PROVISION_STEP_H_
#define STOCKADE_PROVISION_STEP_H_

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::provision {

// Step kinds are portable names; each OS registers its implementation of the kinds it supports
// (provision/linux/, provision/win/). The planner (plan.h) decides which kinds a policy needs.
namespace kind {
inline constexpr char kGroup[] = "identity.group";          // params: name
inline constexpr char kUser[] = "identity.user";            // params: name, group, identity
inline constexpr char kStateDir[] = "state.directory";      // params: path, group
inline constexpr char kNetworkRules[] = "network.rules";    // params: user, loopback_ports, ...
inline constexpr char kWorkspaceGrant[] = "workspace.grant";  // params: path, users/sid, protected
inline constexpr char kService[] = "service";               // params: binary, state_dir, policy
inline constexpr char kWriteSid[] = "windows.write_sid";    // params: sid
inline constexpr char kCredentials[] = "windows.credentials";  // params: users, path
inline constexpr char kAuditPolicy[] = "windows.audit_policy";  // params: group
inline constexpr char kFile[] = "file";                     // params: path, content, mode
}  // namespace kind

// What the journal stores about a step: enough to rebuild it.
struct StepSpec {
  std::string kind;        // one of stockade::provision::kind
  std::string target;      // what it changes, for people: "user stockade-offline"
  nlohmann::json params;   // the step's inputs (never secrets)
};

class Step {
 public:
  explicit Step(StepSpec spec) : spec_(std::move(spec)) {}
  virtual ~Step() = default;
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;

  const StepSpec& spec() const { return spec_; }

  // One line for people and logs: "create system user stockade-offline".
  virtual std::string Describe() const = 0;

  // Reads the live state that Undo needs to put back exactly (e.g. the previous ACL, the account
  // files, the previous audit policy). Must not change anything.
  virtual Expected<nlohmann::json> CaptureBefore() = 0;

  // True when the live system already is in the state Apply would produce, read back from the
  // OS. Lets a second `apply` report "no changes" instead of re-applying.
  // The executor asks this (and TargetPresent) for every step of a plan *before* changing
  // anything, so it may be called while something an earlier step of the same plan creates does
  // not exist yet (e.g. a grant whose user is created by step 1): answer false, not an error.
  virtual Expected<bool> IsApplied() = 0;

  // True when the thing this step creates is already on the live system in any shape (a user or
  // group of that name, a firewall rule or nftables table of that name, a file at that path),
  // read from the OS. The executor asks only when the journal does not own the step's target:
  // a present target that Stockade did not create makes it refuse with kAlreadyExists instead of
  // taking it over, because Undo would later delete something that is not ours.
  // Steps that only *modify* something that exists independently of Stockade and whose Undo puts
  // back the exact before-state (a folder's ACL, the state folder's permissions, the audit
  // policy) must override this to return false: they never take anything over.
  // Default: IsApplied() -- a target already exactly in the applied state counts as present.
  // Kinds whose target can exist in another shape (a user with another shell) should override it.
  virtual Expected<bool> TargetPresent() { return IsApplied(); }

  // Makes the change. May be re-run after a crash that happened mid-change.
  virtual Status Apply() = 0;

  // Reads the change back from the OS and compares it with the spec: kVerificationFailed naming
  // the first difference (this is also how drift is reported by `status`).
  virtual Status Verify() = 0;

  // Puts back `before`. Idempotent ("ensure absent / ensure as before", never a blind delete):
  // safe to repeat, and safe when Apply never ran or ran halfway.
  virtual Status Undo(const nlohmann::json& before) = 0;

  // Reads back that the system matches `before` again for what this step touches.
  virtual Status VerifyUndone(const nlohmann::json& before) = 0;

 private:
  StepSpec spec_;
};

using StepFactory = std::function<Expected<std::unique_ptr<Step>>(const StepSpec&)>;

// Maps step kinds to their implementations.
class StepRegistry {
 public:
  // Contract: each kind is registered once.
  void Register(const std::string& kind, StepFactory factory);
  // kNotFound when the kind has no implementation on this OS; the factory's error otherwise.
  Expected<std::unique_ptr<Step>> Create(const StepSpec& spec) const;
  bool Has(const std::string& kind) const;

 private:
  std::map<std::string, StepFactory> factories_;
};

// Registers every step kind this OS implements (provision/linux/steps.cc, provision/win/steps.cc).
void RegisterPlatformSteps(StepRegistry& registry);

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_STEP_H_
