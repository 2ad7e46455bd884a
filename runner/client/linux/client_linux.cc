// Run() on Linux: RunClient (run_common.cc) with the unprovisioned mode's local launcher.
#include "runner/client/client.h"
#include "runner/client/linux/run_common.h"
#include "runner/client/linux/unprovisioned.h"

namespace stockade::runner::client {

RunResult Run(const RunOptions& options) {
  return linux_os::RunClient(options, &linux_os::StartUnprovisioned);
}

}  // namespace stockade::runner::client
