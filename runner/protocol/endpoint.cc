#include "runner/protocol/endpoint.h"

#include <cstdlib>

namespace stockade::runner::protocol {

std::string ServiceSocketPath(const std::string& flag, const std::string& state_dir) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv(kSocketEnv);
  if (env != nullptr && *env != '\0') return env;
  std::string dir = state_dir;
  while (dir.size() > 1 && (dir.back() == '/' || dir.back() == '\\')) dir.pop_back();
  return dir + "/" + kSocketFileName;
}

}  // namespace stockade::runner::protocol
