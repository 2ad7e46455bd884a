// The client-service protocol of `stockade run` and `stockaded` (docs/protocol.md), portable.
//
// A message is one frame on a local stream (Unix socket, named pipe):
//
//   offset 0  4 bytes  magic "STKD"
//          4  u16      protocol version, big endian (kProtocolVersion)
//          6  u16      message type, big endian (MessageType)
//          8  u32      payload length, big endian, at most kMaxPayloadBytes
//         12  payload  a UTF-8 JSON object whose fields depend on the type
//
// Both sides treat the other as hostile: every field is required, typed and bounded, unknown
// fields are refused, and a decoding failure is an Error with code kProtocol (kProtocolVersion
// for a version this side does not speak) whose context names the message and the field, e.g.
// "RunRequest.argv[3]: 200000 bytes, the limit is 131072". The service answers such a message
// with an ErrorMessage and closes that connection; it keeps serving the others.
//
// Nothing here does I/O: runner/protocol/<os>/ moves frames (and, on Linux, the descriptors
// passed with a RunRequest) over the OS's stream.
#ifndef STOCKADE_RUNNER_PROTOCOL_MESSAGES_H_
#define STOCKADE_RUNNER_PROTOCOL_MESSAGES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace stockade::runner::protocol {

inline constexpr char kMagic[4] = {'S', 'T', 'K', 'D'};
inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr std::size_t kHeaderBytes = 12;

// Limits (the same on both sides; docs/protocol.md).
inline constexpr std::uint32_t kMaxPayloadBytes = 1024 * 1024;
inline constexpr std::size_t kMaxArgvEntries = 4096;
inline constexpr std::size_t kMaxArgBytes = 128 * 1024;
inline constexpr std::size_t kMaxEnvEntries = 4096;
inline constexpr std::size_t kMaxEnvEntryBytes = 128 * 1024;
inline constexpr std::size_t kMaxArgvEnvTotalBytes = 1024 * 1024;  // sum over argv and env
inline constexpr std::size_t kMaxPathBytes = 4096;
inline constexpr std::size_t kMaxIdentityBytes = 64;
inline constexpr std::uint64_t kMaxTimeoutMs = 7ULL * 24 * 3600 * 1000;  // 7 days
inline constexpr std::size_t kMaxErrorMessageBytes = 64 * 1024;
inline constexpr std::size_t kMaxShortStringBytes = 256;  // session ids, error codes, versions
inline constexpr int kMaxSignal = 64;
// Descriptors a RunRequest may carry (stdin, stdout, stderr).
inline constexpr std::size_t kMaxPassedFds = 3;

enum class MessageType : std::uint16_t {
  kPing = 1,        // client -> service
  kPong = 2,        // service -> client
  kRunRequest = 3,  // client -> service, with descriptors
  kSignal = 4,      // client -> service, after Started
  kStarted = 5,     // service -> client
  kExit = 6,        // service -> client, last
  kError = 7,       // service -> client, last
  kResize = 8,      // client -> service, after Started: the user's window changed size
};

// "Ping", "RunRequest", ...; "type N" for a value outside the enum.
std::string MessageTypeName(MessageType type);
// True when `raw` is one of MessageType's values.
bool IsKnownMessageType(std::uint16_t raw);

struct PingMessage {
  bool operator==(const PingMessage&) const = default;
};

struct PongMessage {
  int version = kProtocolVersion;  // the protocol version the service speaks
  std::string service_version;     // the product version, e.g. "0.1.0"
  std::int64_t pid = 0;            // the service's process id
  bool operator==(const PongMessage&) const = default;
};

struct TtySize {
  std::uint16_t rows = 0;
  std::uint16_t cols = 0;
  bool operator==(const TtySize&) const = default;
};

// What each of the tree's stdin, stdout and stderr is: a descriptor passed with the request
// (in order: the n-th "fd" entry is the n-th passed descriptor) or /dev/null.
enum class StdioKind { kFd, kNull };

struct RunRequest {
  std::string identity;   // "offline" | "online" (checked by the service, not the codec)
  std::string workspace;  // absolute
  std::string cwd;        // absolute, inside the workspace
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=VALUE"
  std::uint64_t timeout_ms = 0;  // 0 = none
  // Set when the client relays a terminal: the passed descriptors include a pty slave, and the
  // tree gets it as its controlling terminal.
  std::optional<TtySize> tty;
  std::array<StdioKind, 3> stdio = {StdioKind::kFd, StdioKind::kFd, StdioKind::kFd};
  bool operator==(const RunRequest&) const = default;

  // How many descriptors must accompany the request (the "fd" entries of stdio).
  std::size_t PassedFdCount() const;
};

struct SignalMessage {
  int signal = 0;  // 1..kMaxSignal; whatever it is, the service kills the whole tree
  bool operator==(const SignalMessage&) const = default;
};

// The user's terminal window now has this size (Windows: the service resizes the tree's
// pseudoconsole; on Linux the client sets the size on its own pty and never sends this).
struct ResizeMessage {
  TtySize size;  // rows and cols 1..65535
  bool operator==(const ResizeMessage&) const = default;
};

struct StartedMessage {
  std::string session_id;  // a GUID string, the audit store's session id
  std::int64_t pid = 0;    // the tree's first process, as the service sees it
  bool operator==(const StartedMessage&) const = default;
};

struct ExitMessage {
  int code = 0;    // exit code, or 128 + signal
  int signal = 0;  // the signal that ended the first process, 0 when it exited
  bool timed_out = false;
  bool killed = false;  // killed on the client's Signal (or the client went away)
  bool operator==(const ExitMessage&) const = default;
};

// Where a request failed, so that the client can pick its exit code without parsing messages.
enum class ErrorStage {
  kProtocol,   // the message was malformed or unexpected (E_PROTOCOL, E_PROTOCOL_VERSION)
  kAuthorize,  // refused: caller, identity, workspace, cwd (exit 122)
  kSetup,      // the sandbox could not be set up; the command did not start (exit 125)
  kExec,       // the command was not found (E_NOT_FOUND, 127) or not executable (126)
  kService,    // the service failed on its side (audit store, internal error)
};
// "protocol", "authorize", "setup", "exec", "service".
const char* ErrorStageName(ErrorStage stage);

struct ErrorMessage {
  std::string code;     // a stable name from ErrorCodeName(), e.g. "E_NOT_GRANTED"
  std::string message;  // for people
  ErrorStage stage = ErrorStage::kService;
  bool operator==(const ErrorMessage&) const = default;
};

using Message = std::variant<PingMessage, PongMessage, RunRequest, SignalMessage, StartedMessage,
                             ExitMessage, ErrorMessage, ResizeMessage>;

// The type of a message value.
MessageType TypeOf(const Message& message);

// The ErrorMessage for `error` (its code name and ToString() as message, cut to the limit).
ErrorMessage ToErrorMessage(const Error& error, ErrorStage stage);

struct FrameHeader {
  std::uint16_t version = kProtocolVersion;
  MessageType type = MessageType::kPing;
  std::uint32_t payload_bytes = 0;
};

// Decodes the 12 header bytes. Checks, in this order: the magic (kProtocol, "frame magic"), the
// version (kProtocolVersion naming both versions), the type (kProtocol, "unknown message type
// N"), the length (kProtocol, "payload length N exceeds the limit of 1048576 bytes").
Expected<FrameHeader> DecodeHeader(const std::uint8_t* bytes, std::size_t size);

// Checks a message against the limits above (what the decoder also checks), so that a sender
// fails early and clearly instead of being refused by the peer. kProtocol naming the field.
Status ValidateMessage(const Message& message);

// The whole frame (header and payload) for `message`, after ValidateMessage.
// Errors: ValidateMessage's; kProtocol when the payload exceeds kMaxPayloadBytes.
Expected<std::vector<std::uint8_t>> EncodeMessage(const Message& message);

// Decodes a payload received under `header.type`. Errors: kProtocol naming the message and the
// field ("RunRequest.timeout_ms: expected an unsigned integer, got a string"; "RunRequest:
// unknown field 'x'"; "payload: invalid JSON at byte 17: ..."; "payload: not valid UTF-8").
Expected<Message> DecodePayload(MessageType type, std::string_view payload);

}  // namespace stockade::runner::protocol

#endif  // STOCKADE_RUNNER_PROTOCOL_MESSAGES_H_
