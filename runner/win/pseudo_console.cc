#include "runner/win/pseudo_console.h"

#include <cstdio>
#include <string>
#include <utility>

#include "provision/win/win_util.h"

namespace stockade::runner::win_os {

namespace pw = stockade::provision::win;

namespace {

using CreateFn = HRESULT(WINAPI*)(COORD, HANDLE, HANDLE, DWORD, PseudoConsoleHandle*);
using ResizeFn = HRESULT(WINAPI*)(PseudoConsoleHandle, COORD);
using CloseFn = void(WINAPI*)(PseudoConsoleHandle);

struct Api {
  CreateFn create = nullptr;
  ResizeFn resize = nullptr;
  CloseFn close = nullptr;
  bool ok() const { return create != nullptr && resize != nullptr && close != nullptr; }
};

const Api& Functions() {
  static const Api api = [] {
    Api a;
    // kernel32 is mapped into every process: no load, nothing to free.
    HMODULE kernel32 = GetModuleHandleW(L"kernel32.dll");
    if (kernel32 == nullptr) return a;
    a.create = reinterpret_cast<CreateFn>(
        reinterpret_cast<void*>(GetProcAddress(kernel32, "CreatePseudoConsole")));
    a.resize = reinterpret_cast<ResizeFn>(
        reinterpret_cast<void*>(GetProcAddress(kernel32, "ResizePseudoConsole")));
    a.close = reinterpret_cast<CloseFn>(
        reinterpret_cast<void*>(GetProcAddress(kernel32, "ClosePseudoConsole")));
    return a;
  }();
  return api;
}

std::string Hresult(HRESULT hr) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08lX", static_cast<unsigned long>(hr));
  return text;
}

Expected<COORD> SizeOf(int cols, int rows, const char* what) {
  if (cols < 1 || rows < 1 || cols > 32767 || rows > 32767) {
    return Error(ErrorCode::kInvalidArgument, std::string(what) + ": size " + std::to_string(cols) +
                                                  "x" + std::to_string(rows) +
                                                  " is out of 1..32767");
  }
  return COORD{static_cast<SHORT>(cols), static_cast<SHORT>(rows)};
}

Error Unsupported() {
  return Error(ErrorCode::kUnsupported,
               "this system has no pseudoconsole (kernel32 lacks CreatePseudoConsole; Windows 10 "
               "1809 or later)");
}

}  // namespace

bool PseudoConsoleSupported() { return Functions().ok(); }

Expected<PseudoConsole> PseudoConsole::CreateOver(int cols, int rows, HANDLE input, HANDLE output) {
  if (!PseudoConsoleSupported()) return Unsupported();
  auto size = SizeOf(cols, rows, "CreatePseudoConsole");
  if (!size.ok()) return size.error();
  PseudoConsole console;
  const HRESULT hr = Functions().create(*size, input, output, 0, &console.handle_);
  if (FAILED(hr)) {
    console.handle_ = nullptr;
    return Error(ErrorCode::kOs,
                 "CreatePseudoConsole(" + std::to_string(cols) + "x" + std::to_string(rows) +
                     "): HRESULT " + Hresult(hr),
                 OsErrorKind::kHresult, static_cast<std::int64_t>(hr));
  }
  return console;
}

Expected<PseudoConsole> PseudoConsole::Create(int cols, int rows) {
  if (!PseudoConsoleSupported()) return Unsupported();
  // Non-inheritable pipes: the conhost gets its own duplicates; the tree gets neither end.
  UniqueHandle input_read, input_write, output_read, output_write;
  if (!CreatePipe(input_read.put(), input_write.put(), nullptr, 0)) {
    return pw::LastWin32Error("CreatePipe(pseudoconsole input)");
  }
  if (!CreatePipe(output_read.put(), output_write.put(), nullptr, 0)) {
    return pw::LastWin32Error("CreatePipe(pseudoconsole output)");
  }
  auto console = CreateOver(cols, rows, input_read.get(), output_write.get());
  if (!console.ok()) return console.error();
  // The conhost holds its own copies of the far ends: ours would keep the pipes open (no end of
  // file for the reader once the conhost is gone) and are closed here.
  console->input_writer_ = std::move(input_write);
  console->output_reader_ = std::move(output_read);
  return console;
}

PseudoConsole::PseudoConsole(PseudoConsole&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      input_writer_(std::move(other.input_writer_)),
      output_reader_(std::move(other.output_reader_)) {}

PseudoConsole& PseudoConsole::operator=(PseudoConsole&& other) noexcept {
  if (this != &other) {
    Close();
    handle_ = std::exchange(other.handle_, nullptr);
    input_writer_ = std::move(other.input_writer_);
    output_reader_ = std::move(other.output_reader_);
  }
  return *this;
}

PseudoConsole::~PseudoConsole() { Close(); }

Status PseudoConsole::Resize(int cols, int rows) {
  if (handle_ == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "ResizePseudoConsole: the pseudoconsole is closed");
  }
  auto size = SizeOf(cols, rows, "ResizePseudoConsole");
  if (!size.ok()) return size.error();
  const HRESULT hr = Functions().resize(handle_, *size);
  if (FAILED(hr)) {
    return Error(ErrorCode::kOs,
                 "ResizePseudoConsole(" + std::to_string(cols) + "x" + std::to_string(rows) +
                     "): HRESULT " + Hresult(hr),
                 OsErrorKind::kHresult, static_cast<std::int64_t>(hr));
  }
  return OkStatus();
}

void PseudoConsole::Close() {
  if (handle_ != nullptr) {
    Functions().close(std::exchange(handle_, nullptr));
  }
}

}  // namespace stockade::runner::win_os
