// Who owns a workspace grant (`stockade-provision grant DIR [--owner USER]`): the service lets
// only that user (and root) run in the workspace. Recorded as params.owner_uid of the grant step.
#ifndef STOCKADE_CLI_COMMON_GRANT_OWNER_H_
#define STOCKADE_CLI_COMMON_GRANT_OWNER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"

namespace stockade::cli {

// Linux: the uid of `user` (a name, or a number) when given, else the uid owning `workspace`.
// Errors: kNotFound naming an unknown user; kIo / kOs when the folder cannot be stat'ed.
// Windows: nullopt when `user` is empty (grants are not owned there: the service authorises by
// the caller's token instead); kUnsupported when `user` is given.
Expected<std::optional<std::uint32_t>> ResolveGrantOwner(const std::string& user,
                                                         const std::string& workspace);

}  // namespace stockade::cli

#endif  // STOCKADE_CLI_COMMON_GRANT_OWNER_H_
