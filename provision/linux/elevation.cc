#include "provision/elevation.h"

#include <unistd.h>

#include <string>

namespace stockade::provision {

Status RequireElevation() {
  // The effective uid is what the kernel checks for useradd, nft and setfacl on others' files.
  const uid_t euid = geteuid();
  if (euid != 0) {
    return Error(ErrorCode::kNotElevated, "stockade-provision must run as root (effective uid is " +
                                              std::to_string(euid) + "); try sudo");
  }
  return Status();
}

}  // namespace stockade::provision
