// Moving protocol frames (runner/protocol/messages.h) over a named pipe on Windows, and the
// client's side of connecting to the service's pipe. docs/protocol.md ("Windows") describes the
// endpoint and how the tree's stdio travels.
//
// The pipe handles are opened for overlapped I/O: one thread of the service (or client) blocks
// reading the next message while another writes (Exit, Signal); on a synchronous handle the
// second call would wait for the first to finish. Every read and write here waits on its own
// event, so the two directions are independent; Cancel() wakes a blocked reader.
#ifndef STOCKADE_RUNNER_PROTOCOL_WIN_PIPE_STREAM_H_
#define STOCKADE_RUNNER_PROTOCOL_WIN_PIPE_STREAM_H_

#include <windows.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/error.h"
#include "provision/win/handles.h"
#include "runner/protocol/messages.h"

namespace stockade::runner::protocol::win_os {

using provision::win::UniqueHandle;

// The service's pipe unless told otherwise.
inline constexpr char kDefaultPipeName[] = "\\\\.\\pipe\\stockade";

// `flag` when non-empty, else $STOCKADE_SOCKET when it names a pipe ("\\.\pipe\..."), else
// kDefaultPipeName. (The state folder plays no part: a pipe lives in the pipe namespace.)
std::string ServicePipeName(const std::string& flag);

// True for "\\.\pipe\<name>" with a non-empty name.
bool IsPipeName(const std::string& name);

// The pipe that carries stream `index` (0 stdin, 1 stdout, 2 stderr) of session `session_id`
// (the Started message's): "\\.\pipe\stockade-io-<session_id>-<index>". The service creates
// it for the caller's account only; the client connects to it after Started, and the tree runs
// only once every "fd" stream is connected (docs/protocol.md, "Windows").
std::string StdioPipeName(const std::string& session_id, int index);

// No deadline.
inline constexpr std::chrono::milliseconds kNoTimeout{-1};

class PipeStream {
 public:
  // Takes a pipe handle opened with FILE_FLAG_OVERLAPPED.
  explicit PipeStream(UniqueHandle pipe);

  HANDLE handle() const { return pipe_.get(); }

  // Writes all of `size` bytes. Errors: kIo naming WriteFile (a closed peer included).
  Status WriteAll(const void* data, std::size_t size);
  // Encodes and writes one frame; serialised with other Send() calls from other threads.
  // Errors: EncodeMessage's; WriteAll's.
  Status Send(const Message& message);
  // Reads one frame and decodes it. nullopt on a clean end of stream before a frame.
  // Errors: DecodeHeader/DecodePayload's (kProtocol, kProtocolVersion); kProtocol "truncated
  // frame" when the stream ends inside one; kTimeout after `timeout` (> 0); kIo otherwise
  // (including a read cancelled by Cancel()).
  Expected<std::optional<Message>> Receive(std::chrono::milliseconds timeout = kNoTimeout);
  // Wakes a thread blocked in Receive() (CancelIoEx on the handle); it returns kIo.
  void Cancel();

 private:
  // Reads exactly `size` bytes; false in *eof when the stream ended before any byte.
  Status ReadExact(void* data, std::size_t size, std::chrono::steady_clock::time_point deadline,
                   bool has_deadline, bool* eof_before_first);

  UniqueHandle pipe_;
  std::unique_ptr<std::mutex> write_mutex_ = std::make_unique<std::mutex>();
};

// Opens the service's pipe as a client: overlapped, with SECURITY_SQOS_PRESENT |
// SECURITY_IDENTIFICATION (the service may learn who we are, never act as us), waiting up to
// `timeout` while every instance is busy. Then checks who serves it, against pipe squatting
// (another user creating the pipe before the service to collect requests): the pipe's owner must
// be LocalSystem or the Administrators group; a pipe named explicitly (not the default) may also
// be served by the caller's own account (its user SID, or the default owner its token gives new
// objects: a pipe it could have created itself, e.g. a service the user runs for tests).
// Errors: kServiceUnavailable naming the pipe when nobody serves it (ERROR_FILE_NOT_FOUND, busy
// past the timeout); kPermissionDenied when access is denied or the owner check fails.
Expected<PipeStream> ConnectToService(const std::string& pipe_name,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace stockade::runner::protocol::win_os

#endif  // STOCKADE_RUNNER_PROTOCOL_WIN_PIPE_STREAM_H_
