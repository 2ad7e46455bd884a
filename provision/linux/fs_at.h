// fd-relative filesystem helpers for walking trees that someone else may be changing at the
// same time (a workspace the sandbox could write): every path is resolved one component at a
// time from an open directory, never following a symlink, so a component swapped for a symlink
// mid-walk makes the call fail instead of redirecting it elsewhere.
#ifndef STOCKADE_PROVISION_LINUX_FS_AT_H_
#define STOCKADE_PROVISION_LINUX_FS_AT_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/linux/unique_fd.h"

namespace stockade::provision::linux_os {

using ::stockade::posix::UniqueFd;  // core/linux/unique_fd.h

// An absolute path split into components ("/a/b" -> {"a", "b"}). kPathInvalid when the path is
// not absolute or contains "." or ".." components or empty names (pass normalised paths).
Expected<std::vector<std::string>> SplitAbsolute(const std::string& path);

// Opens the directory at absolute `path` (O_RDONLY | O_DIRECTORY), resolving it component by
// component from "/" with O_NOFOLLOW. Errors: kPathInvalid naming the component that is a
// symlink or not a directory; kNotFound naming the missing component; kIo otherwise.
// When `ancestors` is given, it receives the open fds of "/" and every intermediate directory
// (outermost first), for callers that must inspect or change them without re-resolving.
Expected<UniqueFd> OpenDirNoFollow(const std::string& path,
                                   std::vector<UniqueFd>* ancestors = nullptr);

// Extended attributes of `name` inside directory `dirfd`, never following a final symlink.
// They use getxattrat/setxattrat/removexattrat (Linux 6.13) when the kernel has them, else the
// same l*xattr call on "/proc/self/fd/<dirfd>/<name>" (the directory stays pinned by its fd).
// Return values and errno as for getxattr(2) / setxattr(2) / removexattr(2).
ssize_t GetXattrAt(int dirfd, const char* name, const char* attr, void* value, size_t size);
int SetXattrAt(int dirfd, const char* name, const char* attr, const void* value, size_t size);
int RemoveXattrAt(int dirfd, const char* name, const char* attr);

// True when the kernel provides the *xattrat system calls (checked once) and they are in use.
bool HaveXattrAtSyscalls();

// Tests: true forces the /proc/self/fd fallback even where *xattrat exist (false: detect again).
void ForceXattrFallbackForTesting(bool force);

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_FS_AT_H_
