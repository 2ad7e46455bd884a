// The audit module's name for core/linux/unique_fd.h.
#ifndef STOCKADE_AUDIT_LINUX_UNIQUE_FD_H_
#define STOCKADE_AUDIT_LINUX_UNIQUE_FD_H_

#include "core/linux/unique_fd.h"

namespace stockade::audit::linux_os {

using ::stockade::posix::UniqueFd;

}  // namespace stockade::audit::linux_os

#endif  // STOCKADE_AUDIT_LINUX_UNIQUE_FD_H_
