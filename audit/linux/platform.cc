// Linux: host name and POSIX permissions of the store's files.
#include "audit/platform.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>

namespace stockade::audit::platform {

namespace {

mode_t ModeFor(Protect kind) {
  switch (kind) {
    case Protect::kDirectory:
      return 0700;
    case Protect::kWritableFile:
      return 0600;
    case Protect::kReadOnlyFile:
      return 0400;
  }
  return 0600;
}

std::string Octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode));
  return buf;
}

}  // namespace

std::string LocalHostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "unknown";
  return buf;
}

Status ProtectPath(const std::string& path, Protect kind) {
  const mode_t want = ModeFor(kind);
  // chmod rather than relying on the umask: the umask of whoever started the service decides
  // nothing about who may read the evidence.
  if (chmod(path.c_str(), want) != 0) {
    return ErrnoError(
        errno == EPERM || errno == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kIo,
        "setting mode " + Octal(want) + " on " + path, errno);
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return ErrnoError(ErrorCode::kIo, "reading back the mode of " + path, errno);
  }
  const mode_t got = st.st_mode & 07777;
  if (got != want) {
    return Error(ErrorCode::kVerificationFailed,
                 path + " has mode " + Octal(got) + " after setting " + Octal(want));
  }
  // Only the service's own account may own the evidence: a file owned by someone else could be
  // rewritten by them whatever its mode.
  if (st.st_uid != geteuid()) {
    return Error(ErrorCode::kVerificationFailed,
                 path + " is owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                     std::to_string(geteuid()) + " (the recording service)");
  }
  return OkStatus();
}

}  // namespace stockade::audit::platform
