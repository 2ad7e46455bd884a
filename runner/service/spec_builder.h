// Translating the policy into the LaunchSpec of one run (portable, pure: no file system, no OS).
// The service calls it after authorising a request; `stockade run --unprovisioned` calls it with
// a same-user identity. Every restriction comes from the policy and the caller's verified facts
// (workspace, home, session temp folder), never from what the client asked for: the client
// contributes only the command, its environment, its working folder and a timeout.
#ifndef STOCKADE_RUNNER_SERVICE_SPEC_BUILDER_H_
#define STOCKADE_RUNNER_SERVICE_SPEC_BUILDER_H_

#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/paths/path_rules.h"
#include "core/policy/policy.h"
#include "runner/launch_spec.h"

namespace stockade::runner::service {

struct SpecInputs {
  IdentityKind kind = IdentityKind::kOffline;  // picks [network.offline] or [network.online]
  LaunchIdentity identity;                     // resolved by the caller (or same_user)
  // Absolute, symlink-free (realpath) workspace; "{workspace}" expands to it.
  std::string workspace;
  // Absolute working folder of the first process (inside the workspace for the service).
  std::string cwd;
  // The per-session temp folder "{temp}" expands to (the service: <state_dir>/tmp/<session>,
  // owned by the identity). Empty: a policy that uses "{temp}" is refused (kPathInvalid).
  std::string temp;
  // The *caller's* home: "~" in deny_read and the other lists means the invoking user's home,
  // not the sandbox identity's (which has none). Empty: "~" entries are refused.
  std::string home;
  std::vector<std::string> argv;
  // "NAME=VALUE" entries from the client. TMPDIR is replaced by `temp` when `temp` is set.
  std::vector<std::string> env;
  std::chrono::milliseconds timeout{0};
  // Absolute paths the tree may not read on top of the policy's deny_read (the service adds its
  // state folder and socket).
  std::vector<std::string> extra_deny_read;
  paths::PathStyle style = paths::NativeStyle();
};

// Builds the spec:
//  - writable_roots: the policy's, each expanded ({workspace}, {temp}, ~); a root that expands
//    to "/" (or a drive root) is refused; duplicates dropped;
//  - protected_paths: relative names (".git") kept as they are (the launcher applies them under
//    every root); placeholders expanded;
//  - deny_read: the policy's expanded, plus extra_deny_read;
//  - network and loopback ports from the policy's section for `kind`; limits from [limits];
//  - argv, env, cwd, timeout, identity from the inputs.
// Placeholders for environment variables ("${HOME}", "%USERPROFILE%") are NOT expanded from the
// client's environment (that would let a caller widen its own sandbox): they are refused.
// Errors: kPathInvalid naming the policy list, the entry and the reason; the result is also
// checked with ValidateLaunchSpec (kInvalidArgument naming the field).
Expected<LaunchSpec> BuildLaunchSpec(const Policy& policy, const SpecInputs& inputs);

// "offline" -> kOffline, "online" -> kOnline; kInvalidArgument naming the value otherwise.
Expected<IdentityKind> ParseIdentityKind(const std::string& name);

}  // namespace stockade::runner::service

#endif  // STOCKADE_RUNNER_SERVICE_SPEC_BUILDER_H_
