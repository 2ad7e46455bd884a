// The Linux probes, grouped by what they attack. Each Run*Probe returns true and fills `*out`
// when it knows `name`, false otherwise (dispatch.cc asks them in turn).
#ifndef STOCKADE_RUNNER_SELFTEST_PROBES_LINUX_LINUX_PROBES_H_
#define STOCKADE_RUNNER_SELFTEST_PROBES_LINUX_LINUX_PROBES_H_

#include <string_view>

#include "runner/selftest/probes/probes.h"

namespace stockade::runner::selftest::linux_probes {

bool RunFsProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out);
bool RunNetProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out);
bool RunProcessProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out);
bool RunSyscallProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out);
bool RunAllowedProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out);

}  // namespace stockade::runner::selftest::linux_probes

#endif  // STOCKADE_RUNNER_SELFTEST_PROBES_LINUX_LINUX_PROBES_H_
