#include "cli/common/grant_owner.h"

#include <pwd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

namespace stockade::cli {

Expected<std::optional<std::uint32_t>> ResolveGrantOwner(const std::string& user,
                                                         const std::string& workspace) {
  if (user.empty()) {
    struct stat st {};
    if (::stat(workspace.c_str(), &st) != 0) {
      return ErrnoError(ErrorCode::kIo, "stat " + workspace + " (the grant's default owner)",
                        errno);
    }
    return std::optional<std::uint32_t>(st.st_uid);
  }
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return ErrnoError(ErrorCode::kOs, "getpwnam_r(" + user + ")", rc);
  if (found != nullptr) return std::optional<std::uint32_t>(found->pw_uid);
  // A numeric uid without a passwd entry is accepted as is (LDAP users seen by uid only).
  char* end = nullptr;
  errno = 0;
  const unsigned long uid = std::strtoul(user.c_str(), &end, 10);
  if (!user.empty() && *end == '\0' && errno == 0 && uid < 0xFFFFFFFFUL) {
    return std::optional<std::uint32_t>(static_cast<std::uint32_t>(uid));
  }
  return Error(ErrorCode::kNotFound, "--owner: no user named '" + user + "'");
}

}  // namespace stockade::cli
