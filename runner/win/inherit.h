// What a new process of the tree inherits: its three stdio handles and nothing else.
//
// bInheritHandles=TRUE alone would hand the child every inheritable handle of the launcher (in
// the service: other clients' pipes, other trees' stdio). PROC_THREAD_ATTRIBUTE_HANDLE_LIST
// narrows inheritance to the listed handles, which must themselves be inheritable: the caller's
// handles are therefore duplicated as inheritable copies (the originals are left alone, so a
// concurrent launch never sees them), listed once each (a repeated handle makes CreateProcess
// fail), and closed again after the launch.
#ifndef STOCKADE_RUNNER_WIN_INHERIT_H_
#define STOCKADE_RUNNER_WIN_INHERIT_H_

#include <windows.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "provision/win/handles.h"

namespace stockade::runner::win_os {

using provision::win::UniqueHandle;

// Inheritable duplicates of the handles that become the child's stdin, stdout and stderr.
class InheritedStdio {
 public:
  // Duplicates each handle (DuplicateHandle, same access, inheritable); a null or
  // INVALID_HANDLE_VALUE handle becomes the NUL device instead (read for stdin, write for the
  // others), so that the child never inherits "whatever handle value 0 means". The same source
  // handle given twice (stdout = stderr) is duplicated once.
  // Errors: kOs naming DuplicateHandle or CreateFileW(NUL) and the stream.
  static Expected<InheritedStdio> Prepare(HANDLE in, HANDLE out, HANDLE err);

  HANDLE in() const { return in_; }
  HANDLE out() const { return out_; }
  HANDLE err() const { return err_; }
  // The distinct handles, for the handle-list attribute.
  std::vector<HANDLE> distinct() const;

 private:
  std::vector<UniqueHandle> owned_;
  HANDLE in_ = nullptr;
  HANDLE out_ = nullptr;
  HANDLE err_ = nullptr;
};

// A PROC_THREAD_ATTRIBUTE_LIST holding a PROC_THREAD_ATTRIBUTE_HANDLE_LIST and/or a
// PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE (pseudo_console.h).
class HandleListAttribute {
 public:
  // The handle list `handles` (omitted when empty) and, when `pseudo_console` is not null, the
  // pseudoconsole the first process attaches to. Errors: kInvalidArgument when both are empty;
  // kOs naming InitializeProcThreadAttributeList or UpdateProcThreadAttribute.
  static Expected<HandleListAttribute> Create(std::vector<HANDLE> handles,
                                              void* pseudo_console = nullptr);

  HandleListAttribute(HandleListAttribute&& other) noexcept;
  HandleListAttribute& operator=(HandleListAttribute&&) = delete;
  HandleListAttribute(const HandleListAttribute&) = delete;
  HandleListAttribute& operator=(const HandleListAttribute&) = delete;
  ~HandleListAttribute();

  LPPROC_THREAD_ATTRIBUTE_LIST get() {
    return reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage_.data());
  }

 private:
  HandleListAttribute() = default;
  // Both live on the heap, so their addresses survive a move: the attribute list points into
  // handles_, and CreateProcess reads it at launch.
  std::vector<std::uint64_t> storage_;
  std::vector<HANDLE> handles_;
  bool initialized_ = false;
};

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_INHERIT_H_
