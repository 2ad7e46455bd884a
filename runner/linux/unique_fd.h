// The runner's name for core/linux/unique_fd.h.
#ifndef STOCKADE_RUNNER_LINUX_UNIQUE_FD_H_
#define STOCKADE_RUNNER_LINUX_UNIQUE_FD_H_

#include "core/linux/unique_fd.h"

namespace stockade::runner::linux_os {

using ::stockade::posix::UniqueFd;

}  // namespace stockade::runner::linux_os

#endif  // STOCKADE_RUNNER_LINUX_UNIQUE_FD_H_
