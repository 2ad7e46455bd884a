// Where the client finds the service (portable): the `--socket` flag, else $STOCKADE_SOCKET, else
// "<state_dir>/stockaded.sock" (Linux). The service listens where the same rule points.
#ifndef STOCKADE_RUNNER_PROTOCOL_ENDPOINT_H_
#define STOCKADE_RUNNER_PROTOCOL_ENDPOINT_H_

#include <string>

namespace stockade::runner::protocol {

inline constexpr char kSocketEnv[] = "STOCKADE_SOCKET";
inline constexpr char kSocketFileName[] = "stockaded.sock";

// `flag` when non-empty, else $STOCKADE_SOCKET when set and non-empty, else
// "<state_dir>/stockaded.sock" (state_dir as given; the caller resolves its default).
std::string ServiceSocketPath(const std::string& flag, const std::string& state_dir);

}  // namespace stockade::runner::protocol

#endif  // STOCKADE_RUNNER_PROTOCOL_ENDPOINT_H_
