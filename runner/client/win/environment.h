// The environment a tree gets on Windows: the variables that describe the machine, the terminal
// and the locale (PATH, SystemRoot, TERM, ...) taken from this process, plus what --env adds.
// Everything else (tokens, keys, agent credentials) stays out. Shared by `stockade run` and the
// selftest, so that both hand a probe exactly the same environment.
#ifndef STOCKADE_RUNNER_CLIENT_WIN_ENVIRONMENT_H_
#define STOCKADE_RUNNER_CLIENT_WIN_ENVIRONMENT_H_

#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::runner::client::win_os {

// The passed-through variables of this process, then `extra` ("NAME=VALUE" each, replacing a
// passed-through variable of the same name, case-insensitively).
// Errors: kInvalidArgument naming an `extra` entry without '=' or with an empty name.
Expected<std::vector<std::string>> RequestEnvironment(const std::vector<std::string>& extra);

}  // namespace stockade::runner::client::win_os

#endif  // STOCKADE_RUNNER_CLIENT_WIN_ENVIRONMENT_H_
