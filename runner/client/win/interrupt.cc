#include "runner/client/win/interrupt.h"

#include <windows.h>

#include <atomic>
#include <mutex>
#include <utility>

#include "provision/win/win_util.h"

namespace stockade::runner::client::win_os {

namespace {

std::mutex g_mutex;
std::function<void(int)> g_action;  // guarded by g_mutex
std::atomic<int> g_received{0};

BOOL WINAPI OnConsoleEvent(DWORD event) {
  int signal = 0;
  switch (event) {
    case CTRL_C_EVENT:
      signal = 2;
      break;
    case CTRL_BREAK_EVENT:
      signal = 3;
      break;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      signal = 1;
      break;
    default:
      return FALSE;
  }
  int expected = 0;
  if (g_received.compare_exchange_strong(expected, signal)) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_action) g_action(signal);
  }
  return TRUE;
}

}  // namespace

Expected<InterruptScope> InterruptScope::Install(std::function<void(int)> on_interrupt) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_action = std::move(on_interrupt);
  }
  g_received.store(0);
  if (!SetConsoleCtrlHandler(OnConsoleEvent, TRUE)) {
    return provision::win::LastWin32Error("SetConsoleCtrlHandler");
  }
  InterruptScope scope;
  scope.installed_ = true;
  return scope;
}

InterruptScope::InterruptScope(InterruptScope&& other) noexcept
    : installed_(std::exchange(other.installed_, false)) {}

InterruptScope::~InterruptScope() {
  if (!installed_) return;
  SetConsoleCtrlHandler(OnConsoleEvent, FALSE);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_action = nullptr;
}

int InterruptScope::Received() { return g_received.load(); }

}  // namespace stockade::runner::client::win_os
