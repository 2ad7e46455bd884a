// Placeholder expansion for policy paths: "{workspace}", "{temp}", a leading "~" (the invoking
// user's home) and environment variables written "%NAME%" (Windows style, both OSes) or
// "${NAME}" (POSIX style). The result is normalised by the target style's rules.
#ifndef STOCKADE_CORE_PATHS_EXPAND_H_
#define STOCKADE_CORE_PATHS_EXPAND_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/paths/path_rules.h"

namespace stockade::paths {

struct ExpansionContext {
  PathStyle style = NativeStyle();
  std::string workspace;  // absolute; empty: "{workspace}" is an error
  std::string temp;       // absolute; empty: "{temp}" is an error
  std::string home;       // absolute; empty: "~" is an error
  // Looks up an environment variable; unset -> nullopt. Default: no variables known.
  std::function<std::optional<std::string>(std::string_view)> env;
};

// Expands every placeholder in `pattern` and normalises the result by `context.style`.
// "~" is recognised only at the start ("~", "~/x", "~\x"); "{placeholder}" and variables
// anywhere. "{{", "%%" and "$$" stand for a literal "{", "%" and "$"; a "$" not followed by "{"
// or "$" is literal. Substituted values are inserted verbatim and never expanded again.
// Errors (kPathInvalid, naming the placeholder): an unknown or unterminated "{...}" placeholder,
// an unset or empty variable, an empty context value, a malformed variable name, "~user" forms,
// a result that does not normalise (not absolute, device path, ...).
Expected<std::string> Expand(std::string_view pattern, const ExpansionContext& context);

// True when `pattern` is acceptable as a policy path before expansion: it starts with a known
// placeholder ("{workspace}", "{temp}", "~", "%NAME%", "${NAME}") or is absolute under either
// style. Used by the policy loader to reject relative roots early, with the file's line.
// Any leading "~" counts as anchored, "~user" included: that form is not relative, it is
// unsupported, and Expand() says so precisely ("the ~user form is not supported").
bool IsAnchoredPattern(std::string_view pattern);

}  // namespace stockade::paths

#endif  // STOCKADE_CORE_PATHS_EXPAND_H_
