// kind::kService on Windows: the Stockade service registered with the Service Control Manager.
//
// params:  {"binary": "C:\\Program Files\\Stockade\\stockaded.exe",
//           "name": "Stockade" (optional; tests use a prefix-derived name so they never collide
//                   with an installed Stockade), "display_name": "Stockade" (optional),
//           "description": "..." (optional), "arguments": ["--service"] (optional),
//           "state_dir": "...", "policy": "..." (optional: passed as --state-dir / --policy),
//           "restart_on_failure": true (optional), "start": false (optional)}
// before:  {"existed": false} -- a service of that name that Stockade's journal does not own is
//          never taken over (TargetPresent); one that matches the spec exactly is accepted as is.
// Apply:   CreateServiceW: own process, LocalSystem, automatic start, the quoted command line;
//          ChangeServiceConfig2W for the description and, when restart_on_failure, the recovery
//          actions (restart after 5 s, 10 s, 60 s; counter reset after a day); StartServiceW
//          and a wait for SERVICE_RUNNING when "start".
// Check:   QueryServiceConfigW reads back type, start type, error control, command line and
//          account; QueryServiceConfig2W the description and recovery actions; QueryServiceStatus
//          the state when "start". Under Wine the SCM stores and reports all of this faithfully
//          except the recovery actions, which it accepts but cannot report
//          (ERROR_INVALID_LEVEL): with restart_on_failure, Verify fails there.
// Undo:    stops the service (SERVICE_CONTROL_STOP, bounded wait) and deletes it -- only when its
//          command line is the one this step registers: a service of that name with another
//          binary is not ours and is left alone (kVerificationFailed).
#ifndef STOCKADE_PROVISION_WIN_SERVICE_STEP_H_
#define STOCKADE_PROVISION_WIN_SERVICE_STEP_H_

#include <memory>
#include <string>
#include <vector>

#include "provision/win/checked_step.h"

namespace stockade::provision::win {

// A command line that CommandLineToArgvW splits back into exactly `argv` (quotes where needed,
// backslashes before quotes doubled).
std::string QuoteCommandLine(const std::vector<std::string>& argv);

class ServiceStep : public CheckedStep {
 public:
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // A service of that name exists (whatever its configuration).
  Expected<bool> TargetPresent() override;
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

  const std::string& name() const { return name_; }
  const std::string& command_line() const { return command_line_; }

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  ServiceStep(const StepSpec& spec) : CheckedStep(spec) {}

  std::string name_;
  std::string display_name_;
  std::string description_;
  std::string command_line_;
  bool restart_on_failure_ = true;
  bool start_ = false;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_SERVICE_STEP_H_
