#include "runner/client/win/console_relay.h"

#include <pthread.h>

#include <utility>
#include <vector>

#include "provision/win/win_util.h"

namespace stockade::runner::client::win_os {

namespace pw = stockade::provision::win;

bool IsConsolePair(HANDLE in, HANDLE out) {
  DWORD mode = 0;
  return in != nullptr && in != INVALID_HANDLE_VALUE && out != nullptr &&
         out != INVALID_HANDLE_VALUE && GetConsoleMode(in, &mode) && GetConsoleMode(out, &mode);
}

Expected<ConsoleSize> ConsoleWindowSize(HANDLE out) {
  CONSOLE_SCREEN_BUFFER_INFO info{};
  if (!GetConsoleScreenBufferInfo(out, &info)) {
    return pw::LastWin32Error("GetConsoleScreenBufferInfo(stdout)");
  }
  ConsoleSize size;
  size.cols = info.srWindow.Right - info.srWindow.Left + 1;
  size.rows = info.srWindow.Bottom - info.srWindow.Top + 1;
  if (size.cols < 1 || size.rows < 1) {
    // A console that reports no window (seen on Wine without a display): the buffer then.
    size.cols = info.dwSize.X > 0 ? info.dwSize.X : 80;
    size.rows = info.dwSize.Y > 0 ? std::min<int>(info.dwSize.Y, 25) : 25;
  }
  return size;
}

Expected<ConsoleVtMode> ConsoleVtMode::Enable(HANDLE in, HANDLE out) {
  ConsoleVtMode vt;
  vt.in_ = in;
  vt.out_ = out;
  if (!GetConsoleMode(in, &vt.in_mode_)) return pw::LastWin32Error("GetConsoleMode(stdin)");
  if (!GetConsoleMode(out, &vt.out_mode_)) return pw::LastWin32Error("GetConsoleMode(stdout)");
  vt.input_cp_ = GetConsoleCP();
  vt.output_cp_ = GetConsoleOutputCP();
  // From here on the destructor puts back whatever was changed.
  vt.active_ = true;
  const DWORD out_mode = ENABLE_PROCESSED_OUTPUT | ENABLE_WRAP_AT_EOL_OUTPUT |
                         ENABLE_VIRTUAL_TERMINAL_PROCESSING | DISABLE_NEWLINE_AUTO_RETURN;
  if (!SetConsoleMode(out, out_mode)) {
    return pw::LastWin32Error("SetConsoleMode(stdout, ENABLE_VIRTUAL_TERMINAL_PROCESSING)");
  }
  // Raw VT input: no line editing, echo or Ctrl-C handling here (the tree's console does them),
  // window size events on.
  const DWORD in_mode = (vt.in_mode_ & ~(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT |
                                         ENABLE_PROCESSED_INPUT | ENABLE_MOUSE_INPUT)) |
                        ENABLE_VIRTUAL_TERMINAL_INPUT | ENABLE_WINDOW_INPUT | ENABLE_EXTENDED_FLAGS;
  if (!SetConsoleMode(in, in_mode)) {
    return pw::LastWin32Error("SetConsoleMode(stdin, ENABLE_VIRTUAL_TERMINAL_INPUT)");
  }
  // The pseudoconsole speaks UTF-8; WriteFile to a console decodes with the output code page.
  if (!SetConsoleOutputCP(CP_UTF8)) return pw::LastWin32Error("SetConsoleOutputCP(CP_UTF8)");
  if (!SetConsoleCP(CP_UTF8)) return pw::LastWin32Error("SetConsoleCP(CP_UTF8)");
  return vt;
}

ConsoleVtMode::ConsoleVtMode(ConsoleVtMode&& other) noexcept
    : in_(other.in_),
      out_(other.out_),
      in_mode_(other.in_mode_),
      out_mode_(other.out_mode_),
      input_cp_(other.input_cp_),
      output_cp_(other.output_cp_),
      active_(std::exchange(other.active_, false)) {}

ConsoleVtMode::~ConsoleVtMode() {
  if (!active_) return;
  SetConsoleMode(in_, in_mode_);
  SetConsoleMode(out_, out_mode_);
  if (input_cp_ != 0) SetConsoleCP(input_cp_);
  if (output_cp_ != 0) SetConsoleOutputCP(output_cp_);
}

std::string KeyEventBytes(const KEY_EVENT_RECORD& key, wchar_t* pending_high) {
  if (!key.bKeyDown || key.uChar.UnicodeChar == 0) return "";
  const wchar_t c = key.uChar.UnicodeChar;
  std::wstring units;
  if (c >= 0xD800 && c <= 0xDBFF) {  // a high surrogate: wait for its low half
    *pending_high = c;
    return "";
  }
  if (c >= 0xDC00 && c <= 0xDFFF) {
    if (*pending_high == 0) return "";  // a stray low half: nothing sensible to send
    units.push_back(*pending_high);
  }
  *pending_high = 0;
  units.push_back(c);
  const std::string one = pw::Utf8(units);
  std::string out;
  for (WORD i = 0; i < std::max<WORD>(1, key.wRepeatCount); ++i) out += one;
  return out;
}

ConsoleRelay::ConsoleRelay(HANDLE console_in, HANDLE console_out, HANDLE to_tree, HANDLE from_tree,
                           std::function<void(ConsoleSize)> on_resize)
    : console_in_(console_in),
      console_out_(console_out),
      to_tree_(to_tree),
      from_tree_(from_tree),
      on_resize_(std::move(on_resize)),
      stop_(CreateEventW(nullptr, TRUE, FALSE, nullptr)),
      output_done_(CreateEventW(nullptr, TRUE, FALSE, nullptr)) {
  output_ = std::thread([this] { CopyOutput(); });
  input_ = std::thread([this] { CopyInput(); });
}

void ConsoleRelay::CopyOutput() {
  char buffer[16384];
  DWORD n = 0;
  while (ReadFile(from_tree_, buffer, sizeof buffer, &n, nullptr) && n > 0) {
    DWORD offset = 0;
    while (offset < n) {
      DWORD written = 0;
      if (!WriteFile(console_out_, buffer + offset, n - offset, &written, nullptr) ||
          written == 0) {
        break;  // the console is gone: keep draining so that the pseudoconsole can close
      }
      offset += written;
    }
  }
  SetEvent(output_done_.get());
}

void ConsoleRelay::CopyInput() {
  wchar_t pending_high = 0;
  INPUT_RECORD records[64];
  const HANDLE waits[2] = {stop_.get(), console_in_};
  while (WaitForMultipleObjects(2, waits, FALSE, INFINITE) == WAIT_OBJECT_0 + 1) {
    DWORD count = 0;
    if (!ReadConsoleInputW(console_in_, records, 64, &count)) return;
    std::string bytes;
    for (DWORD i = 0; i < count; ++i) {
      if (records[i].EventType == KEY_EVENT) {
        bytes += KeyEventBytes(records[i].Event.KeyEvent, &pending_high);
      } else if (records[i].EventType == WINDOW_BUFFER_SIZE_EVENT && on_resize_) {
        // The event carries the buffer's size; the tree wants the window's.
        if (auto size = ConsoleWindowSize(console_out_); size.ok()) on_resize_(*size);
      }
    }
    DWORD offset = 0;
    while (offset < bytes.size()) {
      DWORD written = 0;
      if (!WriteFile(to_tree_, bytes.data() + offset, static_cast<DWORD>(bytes.size() - offset),
                     &written, nullptr) ||
          written == 0) {
        return;  // the tree's input is closed
      }
      offset += written;
    }
  }
}

bool ConsoleRelay::WaitOutput(DWORD ms) {
  return WaitForSingleObject(output_done_.get(), ms) == WAIT_OBJECT_0;
}

void ConsoleRelay::StopInput() { SetEvent(stop_.get()); }

ConsoleRelay::~ConsoleRelay() {
  StopInput();
  if (input_.joinable()) input_.join();
  if (output_.joinable()) {
    if (!WaitOutput(0)) {
      // The output never ended (a pseudoconsole that was not closed): cancel the read.
      HANDLE native = reinterpret_cast<HANDLE>(pthread_gethandle(output_.native_handle()));
      if (native != nullptr) CancelSynchronousIo(native);
      CancelIoEx(from_tree_, nullptr);
      if (!WaitOutput(1000)) {
        output_.detach();  // the process is about to exit, which ends it
        return;
      }
    }
    output_.join();
  }
}

}  // namespace stockade::runner::client::win_os
