#include "runner/client/win/pump.h"

namespace stockade::runner::client::win_os {

Pump::Pump(HANDLE from, HANDLE to, UniqueHandle owned) : from_(from) {
  thread_ = std::thread([from, to, owned = std::move(owned)]() mutable {
    char buffer[16384];
    DWORD n = 0;
    while (ReadFile(from, buffer, sizeof buffer, &n, nullptr) && n > 0) {
      DWORD offset = 0;
      while (offset < n) {
        DWORD written = 0;
        if (!WriteFile(to, buffer + offset, n - offset, &written, nullptr) || written == 0) {
          owned.reset();
          return;
        }
        offset += written;
      }
    }
    owned.reset();
  });
}

void Pump::Finish(DWORD ms) {
  if (!thread_.joinable()) return;
  HANDLE native = thread_.native_handle() != 0
                      ? reinterpret_cast<HANDLE>(pthread_gethandle(thread_.native_handle()))
                      : nullptr;
  if (native != nullptr && WaitForSingleObject(native, ms) == WAIT_TIMEOUT) {
    CancelSynchronousIo(native);
    CancelIoEx(from_, nullptr);
    if (WaitForSingleObject(native, 500) == WAIT_TIMEOUT) {
      // A read some consoles do not let us cancel: the run is over and the process is about to
      // exit, which ends the thread; joining would hang the client instead.
      thread_.detach();
      return;
    }
  }
  thread_.join();
}

Pump::~Pump() {
  if (thread_.joinable()) Finish(0);
}

}  // namespace stockade::runner::client::win_os
