#include <CLI/CLI.hpp>

#include "cli/commands/command.h"
#include "cli/common/output.h"

namespace stockade::cli {

void RegisterNotImplemented(CLI::App& parent, std::string_view program,
                            std::initializer_list<std::pair<const char*, const char*>> names,
                            int* exit_code) {
  for (const auto& [name, description] : names) {
    CLI::App* sub = parent.add_subcommand(name, std::string(description) + " (not implemented yet)");
    // Accept and ignore whatever follows, so the answer is always the honest one below.
    sub->allow_extras();
    std::string full = parent.get_name() + " " + name;
    std::string prog(program);
    sub->callback([exit_code, full, prog] { *exit_code = NotImplemented(prog, full); });
  }
}

}  // namespace stockade::cli
