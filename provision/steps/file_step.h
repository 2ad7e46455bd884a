// kind::kFile: ensure a file has the given content and mode (a systemd unit, the installed copy of
// the policy, ...). Portable: the OS-specific I/O is in file_io.h.
//
// params:  {"path": absolute UTF-8 path, "content": UTF-8 text, "mode": integer (default 0644),
//           "create_parents": bool (default false: the parent folder must exist)}
// before:  {"exists": false} or {"exists": true, "content_b64": ..., "mode": ...}, plus
//          "created_dirs": the missing ancestors Apply creates (outermost first), which Undo
//          removes again when they are empty.
//
// Undo writes back the previous content and mode (or removes the file) and the folders it created.
// Owner and ACL of a replaced file are not journaled: the executor never lets this step take over
// a file it did not create, so the only files it ever replaces are its own.
#ifndef STOCKADE_PROVISION_STEPS_FILE_STEP_H_
#define STOCKADE_PROVISION_STEPS_FILE_STEP_H_

#include <cstdint>
#include <memory>
#include <string>

#include "provision/step.h"

namespace stockade::provision {

// A kFile spec with target "file <path>".
StepSpec MakeFileSpec(const std::string& path, const std::string& content,
                      std::uint32_t mode = 0644, bool create_parents = false);

// The factory registered for kind::kFile. kInvalidArgument naming the spec's target when params
// are malformed: path missing or not absolute, content not a string, mode outside 0..07777.
Expected<std::unique_ptr<Step>> CreateFileStep(const StepSpec& spec);

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_STEPS_FILE_STEP_H_
