#include "provision/win/service_step.h"

#include <chrono>
#include <thread>

#include "core/log/logging.h"
#include "provision/win/handles.h"
#include "provision/win/params.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

constexpr DWORD kResetPeriodSeconds = 24 * 60 * 60;
constexpr DWORD kRestartDelaysMs[] = {5000, 10000, 60000};
constexpr auto kStateTimeout = std::chrono::seconds(30);

bool NeedsQuotes(const std::string& arg) {
  return arg.empty() || arg.find_first_of(" \t\n\v\"") != std::string::npos;
}

std::string QuoteOne(const std::string& arg, bool always) {
  if (!always && !NeedsQuotes(arg)) return arg;
  std::string out = "\"";
  std::size_t backslashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    if (c == '"') {
      out.append(backslashes * 2 + 1, '\\');
    } else {
      out.append(backslashes, '\\');
    }
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, '\\');  // before the closing quote
  out += '"';
  return out;
}

Expected<UniqueScHandle> OpenManager(DWORD access) {
  UniqueScHandle manager(OpenSCManagerW(nullptr, nullptr, access));
  if (!manager) return LastWin32Error("OpenSCManagerW");
  return manager;
}

// The service, or an invalid handle when it does not exist.
Expected<UniqueScHandle> OpenServiceIfPresent(SC_HANDLE manager, const std::string& name,
                                              DWORD access) {
  UniqueScHandle service(OpenServiceW(manager, Wide(name).c_str(), access));
  if (!service) {
    const DWORD err = GetLastError();
    if (err == ERROR_SERVICE_DOES_NOT_EXIST) return UniqueScHandle();
    return Win32Error("OpenServiceW(" + name + ")", err);
  }
  return service;
}

struct ServiceConfig {
  DWORD type = 0;
  DWORD start_type = 0;
  DWORD error_control = 0;
  std::string command_line;
  std::string account;
  std::string display_name;
};

Expected<ServiceConfig> QueryConfig(SC_HANDLE service, const std::string& name) {
  DWORD needed = 0;
  QueryServiceConfigW(service, nullptr, 0, &needed);
  if (GetLastError() != ERROR_INSUFFICIENT_BUFFER) {
    return LastWin32Error("QueryServiceConfigW(" + name + ")");
  }
  std::vector<std::uint64_t> buffer((needed + 7) / 8);
  auto* config = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data());
  if (!QueryServiceConfigW(service, config, needed, &needed)) {
    return LastWin32Error("QueryServiceConfigW(" + name + ")");
  }
  return ServiceConfig{config->dwServiceType,
                       config->dwStartType,
                       config->dwErrorControl,
                       Utf8(config->lpBinaryPathName),
                       Utf8(config->lpServiceStartName),
                       Utf8(config->lpDisplayName)};
}

// QueryServiceConfig2W into an aligned buffer.
Expected<std::vector<std::uint64_t>> QueryConfig2(SC_HANDLE service, const std::string& name,
                                                  DWORD level, const char* level_name) {
  DWORD needed = 0;
  QueryServiceConfig2W(service, level, nullptr, 0, &needed);
  const DWORD err = GetLastError();
  if (err != ERROR_INSUFFICIENT_BUFFER) {
    return Win32Error("QueryServiceConfig2W(" + name + ", " + level_name + ")", err);
  }
  std::vector<std::uint64_t> buffer((needed + 7) / 8 + 1);
  if (!QueryServiceConfig2W(service, level, reinterpret_cast<BYTE*>(buffer.data()),
                            static_cast<DWORD>(buffer.size() * 8), &needed)) {
    return LastWin32Error("QueryServiceConfig2W(" + name + ", " + level_name + ")");
  }
  return buffer;
}

Expected<DWORD> CurrentState(SC_HANDLE service, const std::string& name) {
  SERVICE_STATUS status{};
  if (!QueryServiceStatus(service, &status))
    return LastWin32Error("QueryServiceStatus(" + name + ")");
  return status.dwCurrentState;
}

// Polls until the service reaches `wanted` (bounded).
Status WaitForState(SC_HANDLE service, const std::string& name, DWORD wanted) {
  const auto deadline = std::chrono::steady_clock::now() + kStateTimeout;
  for (;;) {
    auto state = CurrentState(service, name);
    if (!state.ok()) return state.error();
    if (*state == wanted) return OkStatus();
    if (std::chrono::steady_clock::now() > deadline) {
      return Error(ErrorCode::kTimeout, "service " + name + " did not reach state " +
                                            std::to_string(wanted) + " within 30 s (state " +
                                            std::to_string(*state) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

std::string QuoteCommandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    out += QuoteOne(arg, false);
  }
  return out;
}

Expected<std::unique_ptr<Step>> ServiceStep::Create(const StepSpec& spec) {
  auto reader = JsonReader::Params(spec);
  std::unique_ptr<ServiceStep> step(new ServiceStep(spec));
  auto binary = reader.String("binary");
  if (!binary.ok()) return binary.error();
  auto name = reader.StringOr("name", "Stockade");
  if (!name.ok()) return name.error();
  if (name->empty() || name->size() > 256 || name->find_first_of("/\\") != std::string::npos) {
    return reader.Bad("name", "1 to 256 characters without / or \\");
  }
  auto display = reader.StringOr("display_name", *name);
  if (!display.ok()) return display.error();
  auto description =
      reader.StringOr("description",
                      "Stockade: launches AI agents' commands in restricted process trees and "
                      "records what they do.");
  if (!description.ok()) return description.error();
  auto arguments = reader.Strings("arguments", /*required=*/false);
  if (!arguments.ok()) return arguments.error();
  auto state_dir = reader.StringOr("state_dir", "");
  if (!state_dir.ok()) return state_dir.error();
  auto policy = reader.StringOr("policy", "");
  if (!policy.ok()) return policy.error();
  auto restart = reader.BoolOr("restart_on_failure", true);
  if (!restart.ok()) return restart.error();
  auto start = reader.BoolOr("start", false);
  if (!start.ok()) return start.error();

  std::vector<std::string> args = *arguments;
  if (!state_dir->empty()) {
    args.push_back("--state-dir");
    args.push_back(*state_dir);
  }
  if (!policy->empty()) {
    args.push_back("--policy");
    args.push_back(*policy);
  }
  // The binary always quoted: an unquoted path with spaces is the classic hijackable service.
  step->command_line_ = QuoteOne(*binary, /*always=*/true);
  if (!args.empty()) step->command_line_ += " " + QuoteCommandLine(args);
  step->name_ = *name;
  step->display_name_ = *display;
  step->description_ = *description;
  step->restart_on_failure_ = *restart;
  step->start_ = *start;
  return std::unique_ptr<Step>(std::move(step));
}

std::string ServiceStep::Describe() const {
  return "register the Windows service " + name_ +
         " (LocalSystem, automatic start): " + command_line_;
}

Expected<nlohmann::json> ServiceStep::CaptureBefore() {
  auto present = TargetPresent();
  if (!present.ok()) return present.error();
  return nlohmann::json{{"existed", *present}};
}

Expected<bool> ServiceStep::TargetPresent() {
  auto manager = OpenManager(SC_MANAGER_CONNECT);
  if (!manager.ok()) return manager.error();
  auto service = OpenServiceIfPresent(manager->get(), name_, SERVICE_QUERY_CONFIG);
  if (!service.ok()) return service.error();
  return service->valid();
}

Status ServiceStep::Apply() {
  auto manager = OpenManager(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
  if (!manager.ok()) return manager.error();
  UniqueScHandle service(CreateServiceW(
      manager->get(), Wide(name_).c_str(), Wide(display_name_).c_str(), SERVICE_ALL_ACCESS,
      SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
      Wide(command_line_).c_str(), nullptr, nullptr, nullptr, nullptr /* LocalSystem */, nullptr));
  if (!service) {
    const DWORD err = GetLastError();
    if (err != ERROR_SERVICE_EXISTS) return Win32Error("CreateServiceW(" + name_ + ")", err);
    // Re-run after a crash, or a service that is already exactly ours: accept only that.
    auto opened = OpenServiceIfPresent(manager->get(), name_, SERVICE_ALL_ACCESS);
    if (!opened.ok()) return opened.error();
    if (!opened->valid())
      return Win32Error("OpenServiceW(" + name_ + ")", ERROR_SERVICE_DOES_NOT_EXIST);
    auto config = QueryConfig(opened->get(), name_);
    if (!config.ok()) return config.error();
    if (config->command_line != command_line_) {
      return Error(ErrorCode::kAlreadyExists,
                   "a service named " + name_ + " already exists with the command line " +
                       config->command_line + ": not Stockade's, left alone");
    }
    service = std::move(*opened);
  } else {
    log::Logger()->info("service {}: created (CreateServiceW) as {}", name_, command_line_);
  }
  std::wstring description = Wide(description_);
  SERVICE_DESCRIPTIONW text{description.data()};
  if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_DESCRIPTION, &text)) {
    return LastWin32Error("ChangeServiceConfig2W(" + name_ + ", SERVICE_CONFIG_DESCRIPTION)");
  }
  if (restart_on_failure_) {
    SC_ACTION actions[3];
    for (int i = 0; i < 3; ++i) actions[i] = {SC_ACTION_RESTART, kRestartDelaysMs[i]};
    SERVICE_FAILURE_ACTIONSW failure{kResetPeriodSeconds, nullptr, nullptr, 3, actions};
    if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &failure)) {
      return LastWin32Error("ChangeServiceConfig2W(" + name_ + ", SERVICE_CONFIG_FAILURE_ACTIONS)");
    }
  }
  if (start_) {
    auto state = CurrentState(service.get(), name_);
    if (!state.ok()) return state.error();
    if (*state != SERVICE_RUNNING) {
      if (!StartServiceW(service.get(), 0, nullptr) &&
          GetLastError() != ERROR_SERVICE_ALREADY_RUNNING) {
        return LastWin32Error("StartServiceW(" + name_ + ")");
      }
      STOCKADE_RETURN_IF_ERROR(WaitForState(service.get(), name_, SERVICE_RUNNING));
    }
  }
  return OkStatus();
}

Expected<std::string> ServiceStep::Check() {
  auto manager = OpenManager(SC_MANAGER_CONNECT);
  if (!manager.ok()) return manager.error();
  auto service =
      OpenServiceIfPresent(manager->get(), name_, SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS);
  if (!service.ok()) return service.error();
  if (!service->valid()) return std::string("service " + name_ + " does not exist");
  auto config = QueryConfig(service->get(), name_);
  if (!config.ok()) return config.error();
  const std::string what = "service " + name_;
  if (config->command_line != command_line_) {
    return what + " runs '" + config->command_line + "', expected '" + command_line_ + "'";
  }
  if (config->type != SERVICE_WIN32_OWN_PROCESS) {
    return what + " has type " + std::to_string(config->type) + ", expected own process (16)";
  }
  if (config->start_type != SERVICE_AUTO_START) {
    return what + " has start type " + std::to_string(config->start_type) +
           ", expected automatic (2)";
  }
  if (config->error_control != SERVICE_ERROR_NORMAL) {
    return what + " has error control " + std::to_string(config->error_control) + ", expected 1";
  }
  if (!EqualsIgnoreCase(config->account, "LocalSystem")) {
    return what + " runs as '" + config->account + "', expected LocalSystem";
  }
  if (config->display_name != display_name_) {
    return what + " is displayed as '" + config->display_name + "', expected '" + display_name_ +
           "'";
  }
  auto description =
      QueryConfig2(service->get(), name_, SERVICE_CONFIG_DESCRIPTION, "SERVICE_CONFIG_DESCRIPTION");
  if (!description.ok()) return description.error();
  const auto* text = reinterpret_cast<const SERVICE_DESCRIPTIONW*>(description->data());
  if (Utf8(text->lpDescription) != description_) {
    return what + " has the description '" + Utf8(text->lpDescription) + "'";
  }
  if (restart_on_failure_) {
    auto failure = QueryConfig2(service->get(), name_, SERVICE_CONFIG_FAILURE_ACTIONS,
                                "SERVICE_CONFIG_FAILURE_ACTIONS");
    if (!failure.ok()) {
      // A read-back that is refused proves nothing: report it as unverified, with the error.
      return what + ": its recovery actions cannot be read back (" + failure.error().ToString() +
             ")";
    }
    const auto* actions = reinterpret_cast<const SERVICE_FAILURE_ACTIONSW*>(failure->data());
    bool same = actions->cActions == 3 && actions->dwResetPeriod == kResetPeriodSeconds;
    for (DWORD i = 0; same && i < 3; ++i) {
      same = actions->lpsaActions[i].Type == SC_ACTION_RESTART &&
             actions->lpsaActions[i].Delay == kRestartDelaysMs[i];
    }
    if (!same) {
      return what + " has " + std::to_string(actions->cActions) + " recovery actions (reset " +
             std::to_string(actions->dwResetPeriod) +
             " s), expected restart after 5 s, 10 s, 60 s (reset 1 day)";
    }
  }
  if (start_) {
    auto state = CurrentState(service->get(), name_);
    if (!state.ok()) return state.error();
    if (*state != SERVICE_RUNNING) {
      return what + " is not running (state " + std::to_string(*state) + ")";
    }
  }
  return std::string();
}

Status ServiceStep::Undo(const nlohmann::json& before) {
  auto existed = JsonReader::Before(spec(), before).Bool("existed");
  if (!existed.ok()) return existed.error();
  if (*existed) return OkStatus();  // accepted as it was: left as it is
  auto manager = OpenManager(SC_MANAGER_CONNECT);
  if (!manager.ok()) return manager.error();
  auto service = OpenServiceIfPresent(
      manager->get(), name_, SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS | SERVICE_STOP | DELETE);
  if (!service.ok()) return service.error();
  if (!service->valid()) return OkStatus();
  auto config = QueryConfig(service->get(), name_);
  if (!config.ok()) return config.error();
  if (config->command_line != command_line_) {
    return Error(ErrorCode::kVerificationFailed,
                 "service " + name_ + " runs '" + config->command_line +
                     "', not the command line Stockade registered: not deleted");
  }
  auto state = CurrentState(service->get(), name_);
  if (!state.ok()) return state.error();
  if (*state != SERVICE_STOPPED) {
    SERVICE_STATUS status{};
    if (!ControlService(service->get(), SERVICE_CONTROL_STOP, &status) &&
        GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
      return LastWin32Error("ControlService(" + name_ + ", SERVICE_CONTROL_STOP)");
    }
    STOCKADE_RETURN_IF_ERROR(WaitForState(service->get(), name_, SERVICE_STOPPED));
  }
  if (!DeleteService(service->get()) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE) {
    return LastWin32Error("DeleteService(" + name_ + ")");
  }
  log::Logger()->info("service {}: stopped and deleted", name_);
  return OkStatus();
}

Expected<std::string> ServiceStep::CheckUndone(const nlohmann::json& before) {
  auto existed = JsonReader::Before(spec(), before).Bool("existed");
  if (!existed.ok()) return existed.error();
  if (*existed) return std::string();  // Undo leaves a service that was there alone
  auto manager = OpenManager(SC_MANAGER_CONNECT);
  if (!manager.ok()) return manager.error();
  // The SCM removes a deleted service once the last handle to it is closed: allow it a moment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    UniqueScHandle service(OpenServiceW(manager->get(), Wide(name_).c_str(), SERVICE_QUERY_STATUS));
    const DWORD err = service ? ERROR_SUCCESS : GetLastError();
    if (!service && err == ERROR_SERVICE_DOES_NOT_EXIST) return std::string();
    if (!service && err != ERROR_SERVICE_MARKED_FOR_DELETE) {
      return Win32Error("OpenServiceW(" + name_ + ")", err);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return std::string("service " + name_ + " still exists" +
                         (err == ERROR_SERVICE_MARKED_FOR_DELETE ? " (marked for deletion)" : ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace stockade::provision::win
