#include "cli/common/output.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/common/exit_codes.h"

namespace stockade::cli {

int ReportError(std::string_view program, const Error& error, bool json) {
  if (json) {
    nlohmann::json out = {
        {"ok", false},
        {"error",
         {{"code", std::string(ErrorCodeName(error.code()))},
          {"message", error.context()},
          {"os_error", error.os_error()}}}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cerr << program << ": error: " << error.ToString() << "\n";
  }
  return ExitCodeFor(error);
}

int NotImplemented(std::string_view program, std::string_view command) {
  std::cerr << program << ": '" << command
            << "' is not implemented yet in this build; nothing was done.\n";
  return kExitNotImplemented;
}

}  // namespace stockade::cli
