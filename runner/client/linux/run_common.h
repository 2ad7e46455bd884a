// The Linux client's run, with the unprovisioned mode's starter passed in rather than linked in:
// Run() (client_linux.cc) passes the local launcher; the lean `stockade` executable, which must
// not link the launcher, the policy loader and their libraries, calls RunThroughService().
#ifndef STOCKADE_RUNNER_CLIENT_LINUX_RUN_COMMON_H_
#define STOCKADE_RUNNER_CLIENT_LINUX_RUN_COMMON_H_

#include <memory>

#include "core/error.h"
#include "runner/client/client.h"
#include "runner/client/linux/relay.h"
#include "runner/client/linux/unprovisioned.h"

namespace stockade::runner::client::linux_os {

// Starts the unprovisioned tree (StartUnprovisioned's signature).
using StartLocalFn = Expected<std::unique_ptr<TreeSession>> (*)(const LocalRun& run,
                                                                int* failure_status);

// Run() as documented in client.h, with `start_local` starting the unprovisioned mode's tree.
// With start_local == nullptr an unprovisioned request (the flag or STOCKADE_UNPROVISIONED=1)
// fails with status 2 (kUnsupported) instead.
RunResult RunClient(const RunOptions& options, StartLocalFn start_local);

// Run() for the service path only: RunClient(options, nullptr).
RunResult RunThroughService(const RunOptions& options);

}  // namespace stockade::runner::client::linux_os

#endif  // STOCKADE_RUNNER_CLIENT_LINUX_RUN_COMMON_H_
