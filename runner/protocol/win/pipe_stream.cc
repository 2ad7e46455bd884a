#include "runner/protocol/win/pipe_stream.h"

#include <aclapi.h>

#include <cstdlib>
#include <vector>

#include "provision/win/sid.h"
#include "provision/win/win_util.h"

namespace stockade::runner::protocol::win_os {

namespace pw = stockade::provision::win;

namespace {

bool IsEndOfStream(DWORD error) {
  return error == ERROR_BROKEN_PIPE || error == ERROR_PIPE_NOT_CONNECTED ||
         error == ERROR_HANDLE_EOF || error == ERROR_NO_DATA;
}

// One overlapped ReadFile / WriteFile, waited for. Returns the bytes moved (0 at end of stream
// for a read). `wait_ms` INFINITE or a timeout after which the operation is cancelled.
Expected<DWORD> Transfer(HANDLE pipe, bool write, void* data, DWORD size, DWORD wait_ms) {
  UniqueHandle event(CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!event) return pw::LastWin32Error("CreateEventW(pipe I/O)");
  OVERLAPPED overlapped{};
  overlapped.hEvent = event.get();
  const BOOL done = write ? WriteFile(pipe, data, size, nullptr, &overlapped)
                          : ReadFile(pipe, data, size, nullptr, &overlapped);
  if (!done) {
    const DWORD error = GetLastError();
    if (error != ERROR_IO_PENDING) {
      if (!write && IsEndOfStream(error)) return static_cast<DWORD>(0);
      return pw::Win32Error(ErrorCode::kIo, write ? "WriteFile(pipe)" : "ReadFile(pipe)", error);
    }
    if (WaitForSingleObject(event.get(), wait_ms) == WAIT_TIMEOUT) {
      CancelIoEx(pipe, &overlapped);
      DWORD ignored = 0;
      GetOverlappedResult(pipe, &overlapped, &ignored, TRUE);
      return Error(ErrorCode::kTimeout,
                   write ? "WriteFile(pipe): timed out" : "ReadFile(pipe): timed out");
    }
  }
  DWORD moved = 0;
  if (!GetOverlappedResult(pipe, &overlapped, &moved, TRUE)) {
    const DWORD error = GetLastError();
    if (!write && IsEndOfStream(error)) return static_cast<DWORD>(0);
    return pw::Win32Error(ErrorCode::kIo, write ? "WriteFile(pipe)" : "ReadFile(pipe)", error);
  }
  return moved;
}

Expected<pw::Sid> PipeOwner(HANDLE pipe) {
  PSID owner = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD error = GetSecurityInfo(pipe, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner,
                                      nullptr, nullptr, nullptr, &descriptor);
  pw::LocalPtr<void> owned(descriptor);
  if (error != ERROR_SUCCESS) return pw::Win32Error("GetSecurityInfo(pipe owner)", error);
  if (owner == nullptr) return Error(ErrorCode::kPermissionDenied, "the pipe has no owner");
  return pw::Sid::FromPsid(owner);
}

// The principals whose pipes this process would own itself: its user and the default owner its
// token gives new objects (TokenOwner: the user, or Administrators when elevated; Wine uses the
// primary group).
Expected<std::vector<pw::Sid>> OwnPrincipals() {
  UniqueHandle token;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, token.put())) {
    return pw::LastWin32Error("OpenProcessToken");
  }
  std::vector<pw::Sid> out;
  std::vector<std::uint64_t> buffer(128);
  DWORD size = 0;
  if (!GetTokenInformation(token.get(), TokenUser, buffer.data(),
                           static_cast<DWORD>(buffer.size() * 8), &size)) {
    return pw::LastWin32Error("GetTokenInformation(TokenUser)");
  }
  auto user = pw::Sid::FromPsid(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid);
  if (!user.ok()) return user.error();
  out.push_back(*user);
  if (!GetTokenInformation(token.get(), TokenOwner, buffer.data(),
                           static_cast<DWORD>(buffer.size() * 8), &size)) {
    return pw::LastWin32Error("GetTokenInformation(TokenOwner)");
  }
  auto owner = pw::Sid::FromPsid(reinterpret_cast<TOKEN_OWNER*>(buffer.data())->Owner);
  if (!owner.ok()) return owner.error();
  out.push_back(*owner);
  return out;
}

}  // namespace

bool IsPipeName(const std::string& name) {
  static const std::string kPrefix = "\\\\.\\pipe\\";
  return name.size() > kPrefix.size() && pw::StartsWithIgnoreCase(name, kPrefix);
}

std::string StdioPipeName(const std::string& session_id, int index) {
  return "\\\\.\\pipe\\stockade-io-" + session_id + "-" + std::to_string(index);
}

std::string ServicePipeName(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("STOCKADE_SOCKET");
  if (env != nullptr && IsPipeName(env)) return env;
  return kDefaultPipeName;
}

PipeStream::PipeStream(UniqueHandle pipe) : pipe_(std::move(pipe)) {}

Status PipeStream::WriteAll(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(size, 1 << 20));
    auto moved = Transfer(pipe_.get(), true, const_cast<std::uint8_t*>(bytes), chunk, INFINITE);
    if (!moved.ok()) return moved.error();
    if (*moved == 0) return Error(ErrorCode::kIo, "WriteFile(pipe): nothing written");
    bytes += *moved;
    size -= *moved;
  }
  return OkStatus();
}

Status PipeStream::Send(const Message& message) {
  auto frame = EncodeMessage(message);
  if (!frame.ok()) return frame.error();
  std::lock_guard<std::mutex> lock(*write_mutex_);
  Status written = WriteAll(frame->data(), frame->size());
  if (!written.ok()) return written.error().Wrap("sending " + MessageTypeName(TypeOf(message)));
  return OkStatus();
}

Status PipeStream::ReadExact(void* data, std::size_t size,
                             std::chrono::steady_clock::time_point deadline, bool has_deadline,
                             bool* eof_before_first) {
  auto* bytes = static_cast<std::uint8_t*>(data);
  std::size_t got = 0;
  *eof_before_first = false;
  while (got < size) {
    DWORD wait_ms = INFINITE;
    if (has_deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<DWORD>(std::max<long long>(0, left.count()));
    }
    auto moved = Transfer(pipe_.get(), false, bytes + got, static_cast<DWORD>(size - got), wait_ms);
    if (!moved.ok()) return moved.error();
    if (*moved == 0) {
      if (got == 0) {
        *eof_before_first = true;
        return OkStatus();
      }
      return Error(ErrorCode::kProtocol, "truncated frame: the stream ended after " +
                                             std::to_string(got) + " of " + std::to_string(size) +
                                             " bytes");
    }
    got += *moved;
  }
  return OkStatus();
}

Expected<std::optional<Message>> PipeStream::Receive(std::chrono::milliseconds timeout) {
  const bool has_deadline = timeout.count() > 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::uint8_t header_bytes[kHeaderBytes];
  bool eof = false;
  STOCKADE_RETURN_IF_ERROR(ReadExact(header_bytes, kHeaderBytes, deadline, has_deadline, &eof));
  if (eof) return std::optional<Message>();
  auto header = DecodeHeader(header_bytes, kHeaderBytes);
  if (!header.ok()) return header.error();
  std::string payload(header->payload_bytes, '\0');
  if (!payload.empty()) {
    STOCKADE_RETURN_IF_ERROR(
        ReadExact(payload.data(), payload.size(), deadline, has_deadline, &eof));
    if (eof)
      return Error(ErrorCode::kProtocol, "truncated frame: the stream ended after the header");
  }
  auto message = DecodePayload(header->type, payload);
  if (!message.ok()) return message.error();
  return std::optional<Message>(std::move(*message));
}

void PipeStream::Cancel() { CancelIoEx(pipe_.get(), nullptr); }

Expected<PipeStream> ConnectToService(const std::string& pipe_name,
                                      std::chrono::milliseconds timeout) {
  if (!IsPipeName(pipe_name)) {
    return Error(ErrorCode::kPathInvalid,
                 "'" + pipe_name + "' is not a pipe name (\\\\.\\pipe\\...)");
  }
  const std::wstring wide = pw::Wide(pipe_name);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  UniqueHandle pipe;
  while (true) {
    pipe.reset(CreateFileW(wide.c_str(), GENERIC_READ | FILE_WRITE_DATA, 0, nullptr, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                           nullptr));
    if (pipe) break;
    const DWORD error = GetLastError();
    if (error == ERROR_PIPE_BUSY && std::chrono::steady_clock::now() < deadline) {
      WaitNamedPipeW(wide.c_str(), 100);
      continue;
    }
    if (error == ERROR_ACCESS_DENIED) {
      return pw::Win32Error(ErrorCode::kPermissionDenied, "CreateFileW(" + pipe_name + ")", error);
    }
    return pw::Win32Error(ErrorCode::kServiceUnavailable,
                          "the Stockade service is not reachable at " + pipe_name, error);
  }
  // Who serves it: LocalSystem / Administrators, or (for a pipe named explicitly) ourselves.
  auto owner = PipeOwner(pipe.get());
  if (!owner.ok()) return owner.error().Wrap("checking who serves " + pipe_name);
  auto system = pw::Sid::WellKnown(WinLocalSystemSid);
  auto admins = pw::Sid::WellKnown(WinBuiltinAdministratorsSid);
  if (!system.ok()) return system.error();
  if (!admins.ok()) return admins.error();
  bool trusted = *owner == *system || *owner == *admins;
  if (!trusted && !pw::EqualsIgnoreCase(pipe_name, kDefaultPipeName)) {
    auto own = OwnPrincipals();
    if (!own.ok()) return own.error();
    for (const auto& sid : *own) trusted = trusted || *owner == sid;
  }
  if (!trusted) {
    return Error(ErrorCode::kPermissionDenied,
                 pipe_name + " is owned by " + owner->ToString() +
                     ", not by LocalSystem or Administrators: refusing to talk to it (another "
                     "program may be impersonating the Stockade service)");
  }
  return PipeStream(std::move(pipe));
}

}  // namespace stockade::runner::protocol::win_os
