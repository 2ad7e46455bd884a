#include "runner/client/linux/unprovisioned.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "core/paths/locations.h"
#include "core/policy/policy_loader.h"
#include "runner/client/linux/local_session.h"
#include "runner/service/spec_builder.h"

namespace stockade::runner::client::linux_os {

namespace {

std::string UserName(uid_t uid) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(uid, &entry, buffer, sizeof(buffer), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return "uid " + std::to_string(uid);
}

// A private folder for "{temp}": <temp>/stockade-run-XXXXXX, mode 0700, the user's own.
Expected<std::string> MakeRunTemp() {
  auto base = paths::TempDir();
  if (!base.ok()) return base.error();
  std::string pattern = *base + "/stockade-run-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return ErrnoError(ErrorCode::kIo, "mkdtemp '" + pattern + "' for the run's temp folder", errno);
  }
  return pattern;
}

}  // namespace

Expected<std::unique_ptr<TreeSession>> StartUnprovisioned(const LocalRun& run,
                                                          int* failure_status) {
  *failure_status = kStatusSandbox;
  if (::geteuid() == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "the unprovisioned mode runs the command as the calling user, and as root that "
                 "is no sandbox; use the service (stockade-provision apply, stockaded serve) or "
                 "run as an ordinary user");
  }
  auto kind = service::ParseIdentityKind(run.identity);
  if (!kind.ok()) {
    *failure_status = kStatusUsage;
    return kind.error();
  }
  auto policy = LoadEffectivePolicy(run.policy_path);
  if (!policy.ok()) return policy.error().Wrap("unprovisioned mode: policy");
  auto home = paths::CurrentUserHome();
  if (!home.ok()) return home.error().Wrap("unprovisioned mode: your home folder");
  auto temp = MakeRunTemp();
  if (!temp.ok()) return temp.error().Wrap("unprovisioned mode");

  service::SpecInputs inputs;
  inputs.kind = *kind;
  inputs.identity.same_user = true;
  inputs.identity.name = UserName(::geteuid());
  inputs.workspace = run.workspace;
  inputs.cwd = run.cwd;
  inputs.temp = *temp;
  inputs.home = *home;
  inputs.argv = run.argv;
  inputs.env = run.env;
  inputs.timeout = run.timeout;
  auto spec = service::BuildLaunchSpec(*policy, inputs);
  if (!spec.ok()) {
    ::rmdir(temp->c_str());
    return spec.error().Wrap("unprovisioned mode: the policy's sandbox");
  }

  // A stream the caller closed becomes /dev/null, as the service does it.
  runner::linux_os::UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  int stdio[3];
  for (int i = 0; i < 3; ++i) stdio[i] = run.stdio[i] >= 0 ? run.stdio[i] : null_fd.get();
  runner::linux_os::LaunchOptions options;
  options.stdin_fd = stdio[0];
  options.stdout_fd = stdio[1];
  options.stderr_fd = stdio[2];
  options.new_session = true;
  options.controlling_tty = run.controlling_tty >= 0;
  options.kill_with_launcher = true;
  auto session = LocalSession::Start(*spec, options, *temp, failure_status);
  if (!session.ok()) return session.error();
  return std::unique_ptr<TreeSession>(std::move(*session));
}

}  // namespace stockade::runner::client::linux_os
