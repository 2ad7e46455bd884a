#include "tests/support/linux/run_tool.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace stockade::testing {

int RunQuiet(const std::vector<std::string>& argv) {
  if (argv.empty()) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    char* envp[] = {path_env, nullptr};
    ::execve(argv[0].c_str(), args.data(), envp);
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int RunShadowTool(const std::vector<std::string>& argv) {
  int rc = -1;
  for (int attempt = 0; attempt < 100; ++attempt) {
    rc = RunQuiet(argv);
    if (rc == 0 || (rc != 1 && rc != 10)) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return rc;
}

}  // namespace stockade::testing
