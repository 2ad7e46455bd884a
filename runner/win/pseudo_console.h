// A pseudoconsole (ConPTY) for a tree whose user sits at a console: the tree's console programs
// see a real console (cursor movement, colours, line editing, full-screen programs), rendered as
// VT sequences into a pipe that the relay copies to the user's console, while the user's keys
// (as VT input) go the other way.
//
// CreatePseudoConsole(size, input, output) starts a conhost that reads the tree's input from
// `input` and writes its screen to `output`; the first process gets it through
// PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE (job_tree.h: SpawnRequest::pseudo_console) and its
// descendants inherit it. ResizePseudoConsole follows the user's window. ClosePseudoConsole ends
// it: before Windows 11 24H2 it blocks until the output pipe is drained or closed, so the output
// must keep being read on another thread until it returns (and then until end of file).
//
// The three functions are looked up in kernel32 at run time (Windows 10 1809 and later have
// them; Wine 8 too): an older system gets kUnsupported and the caller falls back to pipes.
#ifndef STOCKADE_RUNNER_WIN_PSEUDO_CONSOLE_H_
#define STOCKADE_RUNNER_WIN_PSEUDO_CONSOLE_H_

#include <windows.h>

#include <cstdint>

#include "core/error.h"
#include "provision/win/handles.h"

namespace stockade::runner::win_os {

using provision::win::UniqueHandle;

// The HPCON of <consoleapi.h> (declared there only for NTDDI_VERSION >= Windows 10 1809).
using PseudoConsoleHandle = void*;

// PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE (ProcThreadAttributeValue(22, FALSE, TRUE, FALSE)).
inline constexpr DWORD_PTR kProcThreadAttributePseudoConsole = 0x00020016;

// True when kernel32 exports CreatePseudoConsole, ResizePseudoConsole and ClosePseudoConsole.
bool PseudoConsoleSupported();

// An owned pseudoconsole; closing it (ClosePseudoConsole) is the destructor's or Close()'s job.
class PseudoConsole {
 public:
  // A pseudoconsole of `cols` x `rows` with two new anonymous pipes: write the tree's input to
  // input_writer(), read its screen (VT) from output_reader(). Errors: kUnsupported (no ConPTY
  // on this system), kInvalidArgument (a zero or over 32767 size), kOs naming CreatePipe or
  // CreatePseudoConsole (with its HRESULT).
  static Expected<PseudoConsole> Create(int cols, int rows);

  // A pseudoconsole over handles the caller already has (the service's named pipes towards the
  // client): the conhost reads input from `input` and writes to `output`, duplicating both; the
  // caller keeps and closes its own. Same errors.
  static Expected<PseudoConsole> CreateOver(int cols, int rows, HANDLE input, HANDLE output);

  PseudoConsole(PseudoConsole&& other) noexcept;
  PseudoConsole& operator=(PseudoConsole&& other) noexcept;
  PseudoConsole(const PseudoConsole&) = delete;
  PseudoConsole& operator=(const PseudoConsole&) = delete;
  // Close().
  ~PseudoConsole();

  PseudoConsoleHandle get() const { return handle_; }
  // Create() only (nullptr after CreateOver): our ends of the two pipes.
  HANDLE input_writer() const { return input_writer_.get(); }
  HANDLE output_reader() const { return output_reader_.get(); }
  // Closes our end of the input pipe: the tree sees end of input.
  void CloseInput() { input_writer_.reset(); }

  // ResizePseudoConsole. Errors: kInvalidArgument for a size out of range, kOs with the HRESULT.
  Status Resize(int cols, int rows);

  // ClosePseudoConsole (idempotent). Before Windows 11 24H2 it blocks until the output is drained:
  // call it while another thread keeps reading output_reader() (or the caller's output pipe).
  void Close();

 private:
  PseudoConsole() = default;
  PseudoConsoleHandle handle_ = nullptr;
  UniqueHandle input_writer_;
  UniqueHandle output_reader_;
};

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_PSEUDO_CONSOLE_H_
