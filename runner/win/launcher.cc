#include "runner/win/launcher.h"

#include "provision/win/sid.h"
#include "provision/win/win_util.h"
#include "provision/win/write_sid_step.h"
#include "runner/win/command_line.h"
#include "runner/win/logon.h"
#include "runner/win/token.h"
#include "runner/win/wine.h"

namespace stockade::runner::win_os {

namespace pw = stockade::provision::win;

namespace {

// The write SID from the options or the registry; nullopt when none is configured.
Expected<std::optional<Sid>> WriteSid(const LaunchOptions& options) {
  std::optional<std::string> text;
  if (!options.write_sid.empty()) {
    text = options.write_sid;
  } else {
    auto persisted = pw::ReadPersistedWriteSid();
    if (!persisted.ok()) return persisted.error();
    text = *persisted;
  }
  if (!text.has_value()) return std::optional<Sid>();
  if (!pw::IsSyntheticWriteSid(*text)) {
    return Error(ErrorCode::kInvalidArgument, "write SID '" + *text + "' is not S-1-5-21-a-b-c-d");
  }
  auto sid = Sid::FromString(*text);
  if (!sid.ok()) return sid.error();
  return std::optional<Sid>(std::move(*sid));
}

struct PreparedToken {
  RestrictedToken restricted;
  std::vector<std::string> sid_strings;
};

Expected<PreparedToken> PrepareToken(const LaunchSpec& spec, const LaunchOptions& options) {
  auto write_sid = WriteSid(options);
  if (!write_sid.ok()) return write_sid.error();

  UniqueHandle base;
  if (spec.identity.same_user) {
    auto own = OpenOwnToken();
    if (!own.ok()) return own.error();
    base = std::move(*own);
  } else {
    if (!write_sid->has_value()) {
      return Error(ErrorCode::kNotFound,
                   "no write SID is persisted (HKLM\\SOFTWARE\\Stockade\\WriteSid): the machine "
                   "is not provisioned");
    }
    const std::string file =
        options.credential_file.empty() ? DefaultCredentialFile() : options.credential_file;
    auto logon = LogonIdentity(file, spec.identity.name);
    if (!logon.ok()) return logon.error();
    base = std::move(*logon);
  }

  auto logon_sid = TokenLogonSid(base.get());
  if (!logon_sid.ok()) return logon_sid.error().Wrap("the tree's logon SID");
  std::vector<Sid> restricting;
  if (write_sid->has_value()) restricting.push_back(**write_sid);
  restricting.push_back(*logon_sid);
  // Best effort only for the caller's own token (the selftest's unprovisioned runs); token.h
  // further limits it to Wine.
  const TokenCheck check = spec.identity.same_user ? options.token_check : TokenCheck::kStrict;
  auto restricted = MakeWriteRestrictedToken(base.get(), restricting, options.session_id, check);
  if (!restricted.ok()) return restricted.error();
  PreparedToken prepared{std::move(*restricted), {}};
  for (const auto& sid : restricting) prepared.sid_strings.push_back(sid.ToString());
  return prepared;
}

}  // namespace

Expected<ProcessTree> ProcessTree::Launch(const LaunchSpec& spec, const LaunchOptions& options) {
  STOCKADE_RETURN_IF_ERROR(ValidateWindowsLaunchSpec(spec));
  auto program = FindProgram(spec.argv[0], spec.env);
  if (!program.ok()) return program.error();
  auto command_line = BuildCommandLine(spec.argv);
  if (!command_line.ok()) return command_line.error();
  auto environment = BuildEnvironmentBlock(spec.env);
  if (!environment.ok()) return environment.error();

  auto token = PrepareToken(spec, options);
  if (!token.ok()) return token.error();

  SpawnRequest request;
  request.token = token->restricted.token.get();
  request.application = std::move(*program);
  request.command_line = std::move(*command_line);
  request.environment = std::move(*environment);
  request.cwd = pw::Wide(spec.cwd);
  request.stdin_handle = options.stdin_handle;
  request.stdout_handle = options.stdout_handle;
  request.stderr_handle = options.stderr_handle;
  // CREATE_NO_WINDOW would give a console program no console at all, not the pseudoconsole.
  request.extra_flags =
      options.no_window && options.pseudo_console == nullptr ? CREATE_NO_WINDOW : 0;
  request.pseudo_console = options.pseudo_console;
  request.limits.max_processes = spec.limits.max_processes;
  request.limits.memory_bytes = spec.limits.memory_bytes;
  request.limits.ui_restrictions = true;
  request.timeout = spec.timeout;
  request.before_resume = options.before_resume;
  std::vector<std::string> unverified = std::move(token->restricted.unverified);
  // The selftest's exception under Wine covers the job too: Wine's limit query answers zeros
  // (the read-back would refuse the job), and it enforces no limit. Said, not hidden.
  if (spec.identity.same_user && options.token_check == TokenCheck::kWineSelftestBestEffort &&
      RunningUnderWine()) {
    request.limits.verify = false;
    unverified.push_back(
        "job object: the process and memory limits cannot be read back "
        "(QueryInformationJobObject answers zeros) and are not enforced");
  }
  auto tree = JobTree::Start(request);
  if (!tree.ok()) return tree.error();
  return ProcessTree(std::move(*tree), std::move(token->sid_strings), std::move(unverified));
}

Expected<ExitStatus> RunTree(const LaunchSpec& spec, const LaunchOptions& options) {
  auto tree = ProcessTree::Launch(spec, options);
  if (!tree.ok()) return tree.error();
  return tree->Wait();
}

}  // namespace stockade::runner::win_os
