// `stockade-probe NAME [key=value ...]`: performs ONE attack or allowed action of the selftest
// (runner/selftest/catalog.h) from inside the sandbox and prints one JSON line,
//   {"probe": NAME, "outcome": "blocked"|"escaped"|"allowed"|"failed", "evidence": "..."}.
// `stockade selftest` runs it through `stockade run`; it can be run by hand the same way.
// Exit status: 0 when a report was printed (whatever its outcome), 2 for a usage error.
#include <iostream>
#include <string>
#include <vector>

#include "cli/common/main_args.h"
#include "runner/selftest/catalog.h"
#include "runner/selftest/probe_report.h"
#include "runner/selftest/probes/probes.h"

namespace {

int Usage() {
  std::cerr << "usage: stockade-probe NAME [key=value ...]\n"
               "       stockade-probe --list\n"
               "Runs one selftest probe and prints a JSON line with its outcome.\n";
  return 2;
}

int ProbeMain(const stockade::cli::Args& args) {
  using namespace stockade::runner::selftest;
  if (args.size() < 2) return Usage();
  const std::string name = args[1];
  if (name == "--help" || name == "-h") {
    Usage();
    return 0;
  }
  if (name == "--markdown") {
    // The probe table of docs/selftest.md, generated from the catalog so the two cannot drift.
    std::cout << "| probe | kind | attempts | blocked on Linux by | blocked on Windows by |\n"
                 "|---|---|---|---|---|\n";
    for (const ProbeInfo& p : AllProbes()) {
      const bool on_linux = (static_cast<unsigned>(p.platforms) & 1U) != 0;
      const bool on_win = (static_cast<unsigned>(p.platforms) & 2U) != 0;
      std::string kind = p.kind == ProbeKind::kAttack ? "attack" : "allowed";
      if (p.network == NetworkRole::kOutbound) kind += " (allowed for online)";
      std::cout << "| `" << p.name << "` | " << kind << " | " << p.attempts << " | "
                << (on_linux ? p.linux_block : "n/a") << " | " << (on_win ? p.windows_block : "n/a")
                << " |\n";
    }
    return 0;
  }
  if (name == "--list") {
    for (const ProbeInfo* p : ProbesFor(CurrentPlatform())) {
      std::cout << p->name << "\t" << (p->kind == ProbeKind::kAttack ? "attack" : "allowed") << "\t"
                << p->attempts << "\n";
    }
    return 0;
  }
  auto parsed = ProbeArgs::Parse(std::vector<std::string>(args.begin() + 2, args.end()));
  if (!parsed) {
    std::cerr << "stockade-probe: " << parsed.error().ToString() << "\n";
    return 2;
  }
  if (IsHelper(name)) return RunHelper(name, *parsed);
  std::cout << FormatProbeLine(RunProbe(name, *parsed)) << std::endl;
  return 0;
}

}  // namespace

STOCKADE_MAIN(ProbeMain)
