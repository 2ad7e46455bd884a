#include "cli/common/grant_owner.h"

namespace stockade::cli {

Expected<std::optional<std::uint32_t>> ResolveGrantOwner(const std::string& user,
                                                         const std::string& workspace) {
  (void)workspace;
  if (user.empty()) return std::optional<std::uint32_t>();
  return Error(ErrorCode::kUnsupported,
               "--owner is not supported on Windows (the service authorises by the caller's "
               "token)");
}

}  // namespace stockade::cli
