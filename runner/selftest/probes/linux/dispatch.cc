// RunProbe and the helpers of stockade-probe on Linux.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>

#include "runner/selftest/catalog.h"
#include "runner/selftest/probes/linux/linux_probes.h"
#include "runner/selftest/probes/probes.h"

namespace stockade::runner::selftest {

ProbeReport RunProbe(std::string_view name, const ProbeArgs& args) {
  const ProbeInfo* info = FindProbe(name);
  if (info == nullptr ||
      (static_cast<unsigned>(info->platforms) & static_cast<unsigned>(Platform::kLinux)) == 0) {
    return Failed(name, "no such probe on Linux");
  }
  ProbeReport report;
  if (linux_probes::RunFsProbe(name, args, &report) ||
      linux_probes::RunNetProbe(name, args, &report) ||
      linux_probes::RunProcessProbe(name, args, &report) ||
      linux_probes::RunSyscallProbe(name, args, &report) ||
      linux_probes::RunAllowedProbe(name, args, &report)) {
    return report;
  }
  return Failed(name, "probe listed in the catalog but not built on Linux");
}

bool IsHelper(std::string_view name) { return name == "victim" || name == "euid"; }

namespace {

int g_victim_log = -1;

void OnSignal(int sig) {
  // Async-signal-safe: a fixed message and write().
  char msg[32] = "signal ";
  int len = 7;
  if (sig >= 10) msg[len++] = static_cast<char>('0' + sig / 10);
  msg[len++] = static_cast<char>('0' + sig % 10);
  msg[len++] = '\n';
  if (g_victim_log >= 0 && ::write(g_victim_log, msg, static_cast<std::size_t>(len)) < 0) {
  }
}

}  // namespace

int RunHelper(std::string_view name, const ProbeArgs& args) {
  if (name == "euid") {
    std::cout << "euid=" << ::geteuid() << " ruid=" << ::getuid() << std::endl;
    return 0;
  }
  if (name == "victim") {
    // A process of the invoking user outside the tree: it survives every catchable signal and
    // writes each one to its log, so that the orchestrator sees a delivered signal even when the
    // victim lives on.
    const std::string log = args.Get("log");
    if (!log.empty()) {
      g_victim_log = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGQUIT}) {
      ::sigaction(sig, &sa, nullptr);
    }
    std::cout << "victim ready" << std::endl;
    for (;;) ::pause();
  }
  return 2;
}

}  // namespace stockade::runner::selftest
