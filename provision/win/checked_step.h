// The shape every Windows step shares: one read-back function answers IsApplied, Verify and
// (drift for) `status`, and one answers VerifyUndone, so that "applied" means the same thing in
// all three places and a step cannot verify something different from what it reports.
#ifndef STOCKADE_PROVISION_WIN_CHECKED_STEP_H_
#define STOCKADE_PROVISION_WIN_CHECKED_STEP_H_

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "provision/step.h"

namespace stockade::provision::win {

class CheckedStep : public Step {
 public:
  using Step::Step;

  // A state that cannot be read because the platform lacks the API (kUnsupported: Wine's
  // audit policy, a firewall without INetFwRule3) is not known to be applied: false, so that the
  // executor goes on to CaptureBefore/Apply, which fail with the API's error and roll back what
  // the transaction did so far. Other read failures (access denied, ...) are errors.
  Expected<bool> IsApplied() override {
    auto difference = Check();
    if (!difference.ok()) {
      if (difference.error().code() == ErrorCode::kUnsupported) return false;
      return difference.error();
    }
    return difference->empty();
  }

  Status Verify() override {
    auto difference = Check();
    if (!difference.ok()) return difference.error().Wrap("verify " + spec().target);
    if (!difference->empty()) {
      return Error(ErrorCode::kVerificationFailed, spec().target + ": " + *difference);
    }
    return OkStatus();
  }

  Status VerifyUndone(const nlohmann::json& before) override {
    auto difference = CheckUndone(before);
    if (!difference.ok()) return difference.error().Wrap("verify undo of " + spec().target);
    if (!difference->empty()) {
      return Error(ErrorCode::kVerificationFailed, spec().target + " (after undo): " + *difference);
    }
    return OkStatus();
  }

 protected:
  // Reads the live system: "" when it is exactly as Apply leaves it, otherwise a sentence naming
  // the first difference. Errors only for failures to read (access denied, an API error), never
  // for "not there yet": IsApplied is asked before earlier steps of the plan have run.
  virtual Expected<std::string> Check() = 0;
  // The same against `before`: "" when what this step touches is as CaptureBefore found it.
  virtual Expected<std::string> CheckUndone(const nlohmann::json& before) = 0;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_CHECKED_STEP_H_
