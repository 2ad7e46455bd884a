// How the executables talk to their caller: errors on stderr (or as JSON on stdout when the
// caller asked for --json), and the honest "not implemented yet" answer.
#ifndef STOCKADE_CLI_COMMON_OUTPUT_H_
#define STOCKADE_CLI_COMMON_OUTPUT_H_

#include <string_view>

#include "core/error.h"

namespace stockade::cli {

// Prints `error` ("<program>: error: <context> (E_CODE...)" on stderr, or a JSON object
// {"ok":false,"error":{...}} on stdout when `json`) and returns its exit code.
int ReportError(std::string_view program, const Error& error, bool json = false);

// Prints that `command` is not implemented yet and returns kExitNotImplemented.
int NotImplemented(std::string_view program, std::string_view command);

}  // namespace stockade::cli

#endif  // STOCKADE_CLI_COMMON_OUTPUT_H_
