// The client's side of a pseudoconsole run (runner/win/pseudo_console.h): when the user's stdin
// and stdout are a console, the tree gets a pseudoconsole and this relays between it and the
// user's console, the way a terminal emulator would.
//
//  - ConsoleVtMode switches the user's console to VT: ENABLE_VIRTUAL_TERMINAL_PROCESSING (and
//    DISABLE_NEWLINE_AUTO_RETURN) on output, so the pseudoconsole's VT rendering is drawn as
//    is; ENABLE_VIRTUAL_TERMINAL_INPUT, ENABLE_WINDOW_INPUT and no line editing, echo or Ctrl-C
//    processing on input, so keys reach the tree as a terminal would send them (Ctrl-C included:
//    the pseudoconsole turns it into the tree's own CTRL_C_EVENT). UTF-8 code pages on both.
//    Its destructor restores the exact previous modes and code pages, on every exit path.
//  - ConsoleRelay copies the tree's output to the console on one thread, and reads console
//    input records on another: key characters (VT sequences for special keys) go to the tree,
//    WINDOW_BUFFER_SIZE_EVENT becomes a resize callback with the new window size. The input
//    thread never blocks in a read (it waits on the console handle and a stop event), so it
//    stops promptly when the tree ends.
#ifndef STOCKADE_RUNNER_CLIENT_WIN_CONSOLE_RELAY_H_
#define STOCKADE_RUNNER_CLIENT_WIN_CONSOLE_RELAY_H_

#include <windows.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "core/error.h"
#include "provision/win/handles.h"

namespace stockade::runner::client::win_os {

using provision::win::UniqueHandle;

// True when both `in` and `out` are console handles (GetConsoleMode succeeds on each).
bool IsConsolePair(HANDLE in, HANDLE out);

struct ConsoleSize {
  int cols = 0;
  int rows = 0;
};
// The visible window of the console screen buffer `out` (srWindow), not the buffer's size.
// Errors: kOs naming GetConsoleScreenBufferInfo.
Expected<ConsoleSize> ConsoleWindowSize(HANDLE out);

class ConsoleVtMode {
 public:
  // Saves the modes and code pages, then sets the VT ones. Errors: kOs naming the call (the
  // modes already changed are put back before returning).
  static Expected<ConsoleVtMode> Enable(HANDLE in, HANDLE out);
  ConsoleVtMode(ConsoleVtMode&& other) noexcept;
  ConsoleVtMode& operator=(ConsoleVtMode&&) = delete;
  ConsoleVtMode(const ConsoleVtMode&) = delete;
  ConsoleVtMode& operator=(const ConsoleVtMode&) = delete;
  // Restores what Enable() found.
  ~ConsoleVtMode();

 private:
  ConsoleVtMode() = default;
  HANDLE in_ = nullptr;
  HANDLE out_ = nullptr;
  DWORD in_mode_ = 0;
  DWORD out_mode_ = 0;
  UINT input_cp_ = 0;
  UINT output_cp_ = 0;
  bool active_ = false;
};

// The bytes a console key-down record stands for in VT input mode (its character, repeated;
// UTF-16 surrogate halves are paired across calls through *pending_high). Empty for records
// that carry no character (key up, shift alone, ...).
std::string KeyEventBytes(const KEY_EVENT_RECORD& key, wchar_t* pending_high);

class ConsoleRelay {
 public:
  // Starts both threads: `from_tree` -> `console_out`, `console_in` -> `to_tree`, and calls
  // `on_resize` (from the input thread) with each new window size. Handles stay the caller's.
  ConsoleRelay(HANDLE console_in, HANDLE console_out, HANDLE to_tree, HANDLE from_tree,
               std::function<void(ConsoleSize)> on_resize);
  ConsoleRelay(const ConsoleRelay&) = delete;
  ConsoleRelay& operator=(const ConsoleRelay&) = delete;
  // StopInput() and joins both threads (WaitOutput should have seen the end of the output).
  ~ConsoleRelay();

  // Waits up to `ms` for the output copy to reach end of file (the pseudoconsole closed);
  // true when it did.
  bool WaitOutput(DWORD ms);
  // Stops the input thread (idempotent).
  void StopInput();

 private:
  void CopyOutput();
  void CopyInput();

  HANDLE console_in_;
  HANDLE console_out_;
  HANDLE to_tree_;
  HANDLE from_tree_;
  std::function<void(ConsoleSize)> on_resize_;
  UniqueHandle stop_;         // manual-reset event: stop reading input
  UniqueHandle output_done_;  // manual-reset event: the output reached end of file
  std::thread output_;
  std::thread input_;
};

}  // namespace stockade::runner::client::win_os

#endif  // STOCKADE_RUNNER_CLIENT_WIN_CONSOLE_RELAY_H_
