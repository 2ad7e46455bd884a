#include "runner/service/win/pty_relay.h"

#include <pthread.h>

#include <utility>

#include "provision/win/win_util.h"

namespace stockade::runner::service::win_os {

namespace pw = stockade::provision::win;

namespace {

Expected<UniqueHandle> Duplicate(HANDLE handle, const char* what) {
  UniqueHandle copy;
  if (!DuplicateHandle(GetCurrentProcess(), handle, GetCurrentProcess(), copy.put(), 0, FALSE,
                       DUPLICATE_SAME_ACCESS)) {
    return pw::LastWin32Error(std::string("DuplicateHandle(") + what + ")");
  }
  return copy;
}

// Writes all of `data`; false when the destination is gone.
bool WriteAll(HANDLE to, const char* data, DWORD size) {
  DWORD offset = 0;
  while (offset < size) {
    DWORD written = 0;
    if (!WriteFile(to, data + offset, size - offset, &written, nullptr) || written == 0) {
      return false;
    }
    offset += written;
  }
  return true;
}

}  // namespace

Expected<std::unique_ptr<ServicePty>> ServicePty::Create(protocol::TtySize size) {
  auto console = runner::win_os::PseudoConsole::Create(size.cols, size.rows);
  if (!console.ok()) return console.error();
  std::unique_ptr<ServicePty> pty(new ServicePty(std::move(*console)));
  pty->output_done_.reset(CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!pty->output_done_) return pw::LastWin32Error("CreateEventW(pseudoconsole output done)");
  return pty;
}

Status ServicePty::Start(HANDLE client_in, HANDLE client_out) {
  auto in = Duplicate(client_in, "the client's stdin pipe");
  if (!in.ok()) return in.error();
  auto out = Duplicate(client_out, "the client's stdout pipe");
  if (!out.ok()) return out.error();
  client_in_ = std::move(*in);
  client_out_ = std::move(*out);
  output_ = std::thread([this] { CopyOutput(); });
  input_ = std::thread([this] { CopyInput(); });
  return OkStatus();
}

void ServicePty::CopyOutput() {
  char buffer[16384];
  DWORD n = 0;
  bool client_gone = false;
  while (ReadFile(console_.output_reader(), buffer, sizeof buffer, &n, nullptr) && n > 0) {
    // A client that went away does not stop the draining: the pseudoconsole must be able to
    // flush to close.
    if (!client_gone) client_gone = !WriteAll(client_out_.get(), buffer, n);
  }
  if (!client_gone) FlushFileBuffers(client_out_.get());
  SetEvent(output_done_.get());
}

void ServicePty::CopyInput() {
  char buffer[4096];
  DWORD n = 0;
  while (ReadFile(client_in_.get(), buffer, sizeof buffer, &n, nullptr) && n > 0) {
    if (!WriteAll(console_.input_writer(), buffer, n)) break;
  }
}

Status ServicePty::Resize(protocol::TtySize size) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) {
    return Error(ErrorCode::kInvalidArgument, "ResizePseudoConsole: the run has ended");
  }
  return console_.Resize(size.cols, size.rows);
}

void ServicePty::Finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
    finished_ = true;
    console_.Close();  // may block until the output relay has drained it
  }
  if (output_.joinable()) {
    if (WaitForSingleObject(output_done_.get(), 5000) != WAIT_OBJECT_0) {
      CancelIoEx(console_.output_reader(), nullptr);
      CancelSynchronousIo(reinterpret_cast<HANDLE>(pthread_gethandle(output_.native_handle())));
    }
    output_.join();
  }
  if (input_.joinable()) {
    // Blocked reading the client's keys: nothing more is wanted from it. Cancelled until it
    // ends (a cancel that comes before the thread is in ReadFile does nothing, hence the loop).
    const HANDLE native = reinterpret_cast<HANDLE>(pthread_gethandle(input_.native_handle()));
    while (native != nullptr && WaitForSingleObject(native, 0) == WAIT_TIMEOUT) {
      CancelIoEx(client_in_.get(), nullptr);
      CancelSynchronousIo(native);
      WaitForSingleObject(native, 20);
    }
    input_.join();
  }
  console_.CloseInput();
  // The client's stdout pipe ends here: its relay sees end of file once it read everything.
  client_out_.reset();
  client_in_.reset();
}

ServicePty::~ServicePty() { Finish(); }

}  // namespace stockade::runner::service::win_os
