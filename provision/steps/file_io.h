// The few filesystem operations the portable file step needs with guarantees the standard
// library does not give: no symlink following, durable (fsync/FlushFileBuffers) atomic replace,
// and mode bits. Implemented in linux/file_io.cc and win/file_io.cc. Paths are UTF-8.
#ifndef STOCKADE_PROVISION_STEPS_FILE_IO_H_
#define STOCKADE_PROVISION_STEPS_FILE_IO_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace stockade::provision::file_io {

enum class NodeType { kAbsent, kRegular, kDirectory, kOther };  // kOther: symlink, device, ...

struct FileSnapshot {
  NodeType type = NodeType::kAbsent;
  std::string content;     // only for kRegular
  std::uint32_t mode = 0;  // permission bits as read back (see SignificantModeBits)
};

// The mode bits this OS stores and reads back faithfully: 07777 on Linux; on Windows only 0200
// (owner write), which maps to the read-only attribute.
std::uint32_t SignificantModeBits();

// Reads what is at `path` without following a symlink there. Errors: kIo/kPermissionDenied.
Expected<FileSnapshot> Read(const std::string& path);

// Replaces `path` with `content` and `mode` atomically: writes "<path>.stockade-new", flushes it
// to disk, renames it over `path` and flushes the folder, so that a crash leaves either the old or
// the new file (plus, at worst, the temporary file, which RemoveTemp clears).
Status WriteAtomically(const std::string& path, std::string_view content, std::uint32_t mode);

// Removes the file at `path` if there is one (ensure absent) and flushes the folder.
Status Remove(const std::string& path);

// Removes "<path>.stockade-new" if a crashed write left it.
Status RemoveTemp(const std::string& path);

// Creates one directory (parent must exist); OK if it already is a directory.
Status MakeDirectory(const std::string& path, std::uint32_t mode);

// Removes an empty directory; returns false (not an error) when it is not empty, true when it is
// gone (also when it was already absent).
Expected<bool> RemoveEmptyDirectory(const std::string& path);

// "<path>.stockade-new".
std::string TempPathFor(const std::string& path);

}  // namespace stockade::provision::file_io

#endif  // STOCKADE_PROVISION_STEPS_FILE_IO_H_
