// Checking access the way the kernel decides it: run a probe in a forked child that has become
// another identity (setgroups + setresgid + setresuid, so no capability is left), instead of
// re-implementing permission rules. Used by verifications ("the sandbox uid cannot open the
// journal") and by tests.
#ifndef STOCKADE_PROVISION_LINUX_RUN_AS_H_
#define STOCKADE_PROVISION_LINUX_RUN_AS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::provision::linux_os {

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (may be empty)
};

// Credentials of an existing user by name: uid, primary gid, getgrouplist. kNotFound if absent.
Expected<Credentials> CredentialsOfUser(const std::string& name);

// Forks; the child drops to `creds` (real, effective and saved ids; fails closed if any call
// fails or the ids read back differently), runs `probe` and sends the string it returns back to
// the parent. Call only from a single-threaded process or where the probe is async-signal-safe
// in practice (it runs between fork and _exit).
// Errors: kOs when fork fails or the child could not switch identity (its reason is reported);
// kTimeout when the probe runs longer than `timeout` (the child is killed).
Expected<std::string> RunAs(const Credentials& creds, const std::function<std::string()>& probe,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_RUN_AS_H_
