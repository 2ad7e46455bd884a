// kind::kService on Linux: `stockaded serve` registered and running as root, answering a Ping on
// its socket.
//
// params:  {"binary": "/usr/bin/stockaded" (absolute), "state_dir": "/var/lib/stockade",
//           "policy": "/etc/stockade/policy.toml" (optional: passed as --policy),
//           "name": "stockaded" (optional: the unit and pidfile name; tests use their own),
//           "socket": "..." (optional: passed as --socket; default <state_dir>/stockaded.sock),
//           "supervisor": "auto" | "systemd" | "direct" (optional, default auto: systemd when
//                         PID 1 is systemd, i.e. /run/systemd/system exists)}
// The daemon always runs `<binary> serve --foreground --state-dir D [--policy P] [--socket S]`
// with the environment PATH=/usr/sbin:/usr/bin:/sbin:/bin only.
//
// systemd:  Apply writes /etc/systemd/system/<name>.service (Restart=on-failure), daemon-reload,
//           enable, restart; Verify reads back the unit file, `is-enabled`, `is-active`, MainPID,
//           and Pings the socket (the Pong's pid must be MainPID). Undo: disable --now, the
//           previous unit file (or none), daemon-reload.
// direct:   (no systemd, e.g. containers and this project's VMs) Apply starts the daemon itself,
//           detached (double fork, setsid, stdin /dev/null, stdout/stderr appended to
//           <state_dir>/logs/<name>.console.log, every other descriptor closed -- the provision
//           lock is never inherited), writes <state_dir>/<name>.pid and waits until the daemon
//           answers a Ping. Verify: the pidfile's process is alive, its command line is the one
//           above, /proc/<pid>/exe is the binary (not a replaced "(deleted)" one), it started
//           after the policy file was last modified, and the Pong's pid is that pid. Undo:
//           SIGTERM (SIGKILL after 10 s) of every process running exactly that command line,
//           pidfile removed. Nothing restarts a daemon that dies in this mode: docs/
//           provision-linux.md says which supervisor to add.
// before:  {"mode": "direct"|"systemd", "running": bool (one of ours already answered: an older
//           journaled version of this step), "unit": text|null, "enabled": bool (systemd)}.
//           Undo restarts the daemon when "running" (rolling back a re-apply leaves the older
//           version's daemon running, as it was).
#ifndef STOCKADE_PROVISION_LINUX_SERVICE_STEP_H_
#define STOCKADE_PROVISION_LINUX_SERVICE_STEP_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "provision/step.h"

namespace stockade::provision::linux_os {

inline constexpr char kDefaultServiceName[] = "stockaded";
inline constexpr char kSystemdUnitDir[] = "/etc/systemd/system";

// True when PID 1 is systemd (sd_booted(3): /run/systemd/system exists).
bool SystemdIsPid1();

// The process ids of every running process whose command line is exactly `argv` (read from
// /proc/<pid>/cmdline; zombies excluded).
std::vector<pid_t> FindProcessesByCommandLine(const std::vector<std::string>& argv);

// What a removed service of `name` may have left: its unit file, a pidfile in `state_dir`, a
// process running `<binary> serve ... --state-dir <state_dir>` with any binary. One line per
// finding ("unit file /etc/systemd/system/x.service", "process 123: ..."); empty when clean.
std::vector<std::string> ServiceResidue(const std::string& name, const std::string& state_dir);

class ServiceStep : public Step {
 public:
  // kInvalidArgument for a relative binary or state folder, a name outside [A-Za-z0-9_.-], or an
  // unknown supervisor.
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  Expected<bool> IsApplied() override;
  // A unit file of that name (systemd), or a daemon running our command line, or anything
  // answering a Ping on the socket (direct).
  Expected<bool> TargetPresent() override;
  Status Apply() override;
  Status Verify() override;
  Status Undo(const nlohmann::json& before) override;
  Status VerifyUndone(const nlohmann::json& before) override;

  const std::vector<std::string>& argv() const { return argv_; }
  std::string pid_file() const;
  std::string log_file() const;
  std::string unit_path() const;
  const std::string& socket_path() const { return socket_; }
  // The systemd unit this step writes.
  std::string UnitText() const;

 private:
  explicit ServiceStep(const StepSpec& spec) : Step(spec) {}

  bool UseSystemd() const;
  Status StartDirect();
  Status StopDirect();
  Status VerifyDirect();
  Status ApplySystemd();
  Status VerifySystemd();
  Status UndoSystemd(const nlohmann::json& before);
  // Pings the socket until it answers with `pid` (0: any pid) or `timeout` passes.
  Status WaitForPong(pid_t pid, int timeout_ms, pid_t watch);

  std::string name_;
  std::string binary_;
  std::string state_dir_;
  std::string policy_;
  std::string socket_;
  std::string supervisor_;
  std::vector<std::string> argv_;
};

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_SERVICE_STEP_H_
