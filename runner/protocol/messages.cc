#include "runner/protocol/messages.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <nlohmann/json.hpp>

namespace stockade::runner::protocol {

namespace {

using nlohmann::json;

Error ProtocolError(std::string context) { return Error(ErrorCode::kProtocol, std::move(context)); }

// RFC 3629 UTF-8 without overlongs, surrogates or code points above U+10FFFF (what JSON text
// may carry, and what nlohmann's parser and serialiser accept).
bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > n) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

const char* JsonTypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a floating-point number";
    default:
      return "something else";
  }
}

// ---- Checks shared by the encoder and the decoder ----------------------------------------------

Status CheckString(std::string_view value, const std::string& field, std::size_t max_bytes,
                   bool allow_empty = true) {
  if (value.size() > max_bytes) {
    return ProtocolError(field + ": " + std::to_string(value.size()) + " bytes, the limit is " +
                         std::to_string(max_bytes));
  }
  if (!allow_empty && value.empty()) return ProtocolError(field + ": empty");
  if (value.find('\0') != std::string_view::npos) return ProtocolError(field + ": contains NUL");
  if (!IsValidUtf8(value)) return ProtocolError(field + ": not valid UTF-8");
  return OkStatus();
}

Status CheckPath(std::string_view value, const std::string& field) {
  return CheckString(value, field, kMaxPathBytes, /*allow_empty=*/false);
}

Status CheckRunRequest(const RunRequest& r) {
  STOCKADE_RETURN_IF_ERROR(
      CheckString(r.identity, "RunRequest.identity", kMaxIdentityBytes, /*allow_empty=*/false));
  STOCKADE_RETURN_IF_ERROR(CheckPath(r.workspace, "RunRequest.workspace"));
  STOCKADE_RETURN_IF_ERROR(CheckPath(r.cwd, "RunRequest.cwd"));
  if (r.argv.empty()) return ProtocolError("RunRequest.argv: empty (no command)");
  if (r.argv.size() > kMaxArgvEntries) {
    return ProtocolError("RunRequest.argv: " + std::to_string(r.argv.size()) +
                         " entries, the limit is " + std::to_string(kMaxArgvEntries));
  }
  if (r.env.size() > kMaxEnvEntries) {
    return ProtocolError("RunRequest.env: " + std::to_string(r.env.size()) +
                         " entries, the limit is " + std::to_string(kMaxEnvEntries));
  }
  std::size_t total = 0;
  for (std::size_t i = 0; i < r.argv.size(); ++i) {
    const std::string field = "RunRequest.argv[" + std::to_string(i) + "]";
    STOCKADE_RETURN_IF_ERROR(CheckString(r.argv[i], field, kMaxArgBytes, /*allow_empty=*/i != 0));
    total += r.argv[i].size();
  }
  for (std::size_t i = 0; i < r.env.size(); ++i) {
    const std::string field = "RunRequest.env[" + std::to_string(i) + "]";
    STOCKADE_RETURN_IF_ERROR(CheckString(r.env[i], field, kMaxEnvEntryBytes, false));
    const std::size_t eq = r.env[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return ProtocolError(field + ": expected NAME=VALUE");
    }
    total += r.env[i].size();
  }
  if (total > kMaxArgvEnvTotalBytes) {
    return ProtocolError("RunRequest.argv+env: " + std::to_string(total) +
                         " bytes in total, the limit is " + std::to_string(kMaxArgvEnvTotalBytes));
  }
  if (r.timeout_ms > kMaxTimeoutMs) {
    return ProtocolError("RunRequest.timeout_ms: " + std::to_string(r.timeout_ms) +
                         " is above the limit of " + std::to_string(kMaxTimeoutMs) + " (7 days)");
  }
  if (r.tty && (r.tty->rows == 0 || r.tty->cols == 0)) {
    return ProtocolError("RunRequest.tty: rows and cols must be at least 1");
  }
  return OkStatus();
}

// ---- Decoding ----------------------------------------------------------------------------------

// Reads typed fields of one JSON object, naming "<where>.<field>" in every error.
class FieldReader {
 public:
  FieldReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Status OnlyFields(std::initializer_list<const char*> allowed) const {
    for (const auto& item : object_.items()) {
      const bool known = std::any_of(allowed.begin(), allowed.end(),
                                     [&](const char* name) { return item.key() == name; });
      if (!known) {
        // The key came through the JSON parser, so it is valid UTF-8; cut it for the message.
        std::string key = item.key().substr(0, 64);
        return ProtocolError(where_ + ": unknown field '" + key + "'");
      }
    }
    return OkStatus();
  }

  std::string Name(const char* key) const { return where_ + "." + key; }

  Expected<const json*> Get(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end()) return ProtocolError(Name(key) + ": missing");
    return &*it;
  }

  Expected<std::string> String(const char* key, std::size_t max_bytes, bool allow_empty) const {
    auto v = Get(key);
    if (!v.ok()) return v.error();
    if (!(*v)->is_string()) {
      return ProtocolError(Name(key) + ": expected a string, got " + JsonTypeName(**v));
    }
    const auto& s = (*v)->get_ref<const std::string&>();
    STOCKADE_RETURN_IF_ERROR(CheckString(s, Name(key), max_bytes, allow_empty));
    return s;
  }

  Expected<std::uint64_t> Unsigned(const char* key, std::uint64_t max) const {
    auto v = Get(key);
    if (!v.ok()) return v.error();
    return UnsignedValue(**v, Name(key), max);
  }

  Expected<std::int64_t> Signed(const char* key, std::int64_t min, std::int64_t max) const {
    auto v = Get(key);
    if (!v.ok()) return v.error();
    const json& j = **v;
    std::int64_t value = 0;
    if (j.is_number_unsigned()) {
      const auto u = j.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(max))
        return OutOfRange(Name(key), std::to_string(u), min, max);
      value = static_cast<std::int64_t>(u);
    } else if (j.is_number_integer()) {
      value = j.get<std::int64_t>();
    } else {
      return ProtocolError(Name(key) + ": expected an integer, got " + JsonTypeName(j));
    }
    if (value < min || value > max) return OutOfRange(Name(key), std::to_string(value), min, max);
    return value;
  }

  Expected<bool> Bool(const char* key) const {
    auto v = Get(key);
    if (!v.ok()) return v.error();
    if (!(*v)->is_boolean()) {
      return ProtocolError(Name(key) + ": expected a boolean, got " + JsonTypeName(**v));
    }
    return (*v)->get<bool>();
  }

  Expected<std::vector<std::string>> StringArray(const char* key, std::size_t max_entries,
                                                 std::size_t max_bytes) const {
    auto v = Get(key);
    if (!v.ok()) return v.error();
    const json& j = **v;
    if (!j.is_array()) {
      return ProtocolError(Name(key) + ": expected an array of strings, got " + JsonTypeName(j));
    }
    if (j.size() > max_entries) {
      return ProtocolError(Name(key) + ": " + std::to_string(j.size()) + " entries, the limit is " +
                           std::to_string(max_entries));
    }
    std::vector<std::string> out;
    out.reserve(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) {
      const std::string field = Name(key) + "[" + std::to_string(i) + "]";
      if (!j[i].is_string()) {
        return ProtocolError(field + ": expected a string, got " + JsonTypeName(j[i]));
      }
      const auto& s = j[i].get_ref<const std::string&>();
      STOCKADE_RETURN_IF_ERROR(CheckString(s, field, max_bytes));
      out.push_back(s);
    }
    return out;
  }

  static Expected<std::uint64_t> UnsignedValue(const json& j, const std::string& name,
                                               std::uint64_t max) {
    if (j.is_number_unsigned()) {
      const auto u = j.get<std::uint64_t>();
      if (u > max) {
        return ProtocolError(name + ": " + std::to_string(u) + " is above the limit of " +
                             std::to_string(max));
      }
      return u;
    }
    if (j.is_number_integer()) return ProtocolError(name + ": is negative");
    return ProtocolError(name + ": expected an unsigned integer, got " + JsonTypeName(j));
  }

 private:
  static Error OutOfRange(const std::string& name, const std::string& value, std::int64_t min,
                          std::int64_t max) {
    return ProtocolError(name + ": " + value + " is outside " + std::to_string(min) + ".." +
                         std::to_string(max));
  }

  const json& object_;
  std::string where_;
};

#define STOCKADE_ASSIGN_OR_RETURN(lhs, expr)                   \
  do {                                                         \
    auto stockade_value_ = (expr);                             \
    if (!stockade_value_.ok()) return stockade_value_.error(); \
    lhs = std::move(*stockade_value_);                         \
  } while (false)

Expected<Message> DecodePing(const FieldReader& r) {
  STOCKADE_RETURN_IF_ERROR(r.OnlyFields({}));
  return Message(PingMessage{});
}

Expected<Message> DecodePong(const FieldReader& r) {
  STOCKADE_RETURN_IF_ERROR(r.OnlyFields({"version", "service_version", "pid"}));
  PongMessage m;
  std::int64_t version = 0;
  STOCKADE_ASSIGN_OR_RETURN(version, r.Signed("version", 0, 65535));
  m.version = static_cast<int>(version);
  STOCKADE_ASSIGN_OR_RETURN(m.service_version,
                            r.String("service_version", kMaxShortStringBytes, false));
  STOCKADE_ASSIGN_OR_RETURN(m.pid, r.Signed("pid", 0, INT64_MAX));
  return Message(std::move(m));
}

Expected<Message> DecodeRunRequest(const FieldReader& r) {
  STOCKADE_RETURN_IF_ERROR(
      r.OnlyFields({"identity", "workspace", "cwd", "argv", "env", "timeout_ms", "tty", "stdio"}));
  RunRequest m;
  STOCKADE_ASSIGN_OR_RETURN(m.identity, r.String("identity", kMaxIdentityBytes, false));
  STOCKADE_ASSIGN_OR_RETURN(m.workspace, r.String("workspace", kMaxPathBytes, false));
  STOCKADE_ASSIGN_OR_RETURN(m.cwd, r.String("cwd", kMaxPathBytes, false));
  STOCKADE_ASSIGN_OR_RETURN(m.argv, r.StringArray("argv", kMaxArgvEntries, kMaxArgBytes));
  STOCKADE_ASSIGN_OR_RETURN(m.env, r.StringArray("env", kMaxEnvEntries, kMaxEnvEntryBytes));
  STOCKADE_ASSIGN_OR_RETURN(m.timeout_ms, r.Unsigned("timeout_ms", kMaxTimeoutMs));

  const json* tty = nullptr;
  STOCKADE_ASSIGN_OR_RETURN(tty, r.Get("tty"));
  if (!tty->is_null()) {
    if (!tty->is_object()) {
      return ProtocolError("RunRequest.tty: expected null or an object, got " +
                           std::string(JsonTypeName(*tty)));
    }
    FieldReader t(*tty, "RunRequest.tty");
    STOCKADE_RETURN_IF_ERROR(t.OnlyFields({"rows", "cols"}));
    TtySize size;
    std::uint64_t v = 0;
    STOCKADE_ASSIGN_OR_RETURN(v, t.Unsigned("rows", 65535));
    size.rows = static_cast<std::uint16_t>(v);
    STOCKADE_ASSIGN_OR_RETURN(v, t.Unsigned("cols", 65535));
    size.cols = static_cast<std::uint16_t>(v);
    m.tty = size;
  }

  std::vector<std::string> stdio;
  STOCKADE_ASSIGN_OR_RETURN(stdio, r.StringArray("stdio", 3, 8));
  if (stdio.size() != 3) {
    return ProtocolError("RunRequest.stdio: " + std::to_string(stdio.size()) +
                         " entries, expected 3 (stdin, stdout, stderr)");
  }
  for (std::size_t i = 0; i < 3; ++i) {
    if (stdio[i] == "fd") {
      m.stdio[i] = StdioKind::kFd;
    } else if (stdio[i] == "null") {
      m.stdio[i] = StdioKind::kNull;
    } else {
      return ProtocolError("RunRequest.stdio[" + std::to_string(i) + "]: '" + stdio[i] +
                           "', expected \"fd\" or \"null\"");
    }
  }
  STOCKADE_RETURN_IF_ERROR(CheckRunRequest(m));
  return Message(std::move(m));
}

Expected<Message> DecodeSignal(const FieldReader& r) {
  STOCKADE_RETURN_IF_ERROR(r.OnlyFields({"signal"}));
  SignalMessage m;
  std::int64_t sig = 0;
  STOCKADE_ASSIGN_OR_RETURN(sig, r.Signed("signal", 1, kMaxSignal));
  m.signal = static_cast<int>(sig);
  return Message(m);
}

Expected<Message> DecodeResize(const FieldReader& r) {
  STOCKADE_RETURN_IF_ERROR(r.OnlyFields({"rows", "cols"}));
  ResizeMessage m;
  std::uint64_t v = 0;
  STOCKADE_ASSIGN_OR_RETURN(v, r.Unsigned("rows", 65535));
  m.size.rows = static_cast<std::uint16_t>(v);
  STOCKADE_ASSIGN_OR_RETURN(v, r.Unsigned("cols", 65535));
  m.size.cols = static_cast<std::uint16_t>(v);
  if (m.size.rows == 0 || m.size.cols == 0) {
    return ProtocolError("Resize: rows and cols must be at least 1");
  }
  return Message(m);
}

Expected<Message> DecodeStarted(const FieldReader& r) {
  STOCKADE_RETURN_IF_ERROR(r.OnlyFields({"session_id", "pid"}));
  StartedMessage m;
  STOCKADE_ASSIGN_OR_RETURN(m.session_id, r.String("session_id", kMaxShortStringBytes, false));
  STOCKADE_ASSIGN_OR_RETURN(m.pid, r.Signed("pid", 0, INT64_MAX));
  return Message(std::move(m));
}

Expected<Message> DecodeExit(const FieldReader& r) {
  STOCKADE_RETURN_IF_ERROR(r.OnlyFields({"code", "signal", "timed_out", "killed"}));
  ExitMessage m;
  std::int64_t v = 0;
  STOCKADE_ASSIGN_OR_RETURN(v, r.Signed("code", INT32_MIN, INT32_MAX));
  m.code = static_cast<int>(v);
  STOCKADE_ASSIGN_OR_RETURN(v, r.Signed("signal", 0, kMaxSignal));
  m.signal = static_cast<int>(v);
  STOCKADE_ASSIGN_OR_RETURN(m.timed_out, r.Bool("timed_out"));
  STOCKADE_ASSIGN_OR_RETURN(m.killed, r.Bool("killed"));
  return Message(m);
}

Expected<ErrorStage> StageFromName(std::string_view name) {
  for (ErrorStage s : {ErrorStage::kProtocol, ErrorStage::kAuthorize, ErrorStage::kSetup,
                       ErrorStage::kExec, ErrorStage::kService}) {
    if (name == ErrorStageName(s)) return s;
  }
  return ProtocolError("Error.stage: '" + std::string(name.substr(0, 32)) +
                       "', expected protocol, authorize, setup, exec or service");
}

Expected<Message> DecodeError(const FieldReader& r) {
  STOCKADE_RETURN_IF_ERROR(r.OnlyFields({"code", "message", "stage"}));
  ErrorMessage m;
  STOCKADE_ASSIGN_OR_RETURN(m.code, r.String("code", kMaxShortStringBytes, false));
  STOCKADE_ASSIGN_OR_RETURN(m.message, r.String("message", kMaxErrorMessageBytes, true));
  std::string stage;
  STOCKADE_ASSIGN_OR_RETURN(stage, r.String("stage", kMaxShortStringBytes, false));
  STOCKADE_ASSIGN_OR_RETURN(m.stage, StageFromName(stage));
  return Message(std::move(m));
}

// ---- Encoding ----------------------------------------------------------------------------------

json ToJson(const Message& message) {
  struct Visitor {
    json operator()(const PingMessage&) const { return json::object(); }
    json operator()(const PongMessage& m) const {
      return {{"version", m.version}, {"service_version", m.service_version}, {"pid", m.pid}};
    }
    json operator()(const RunRequest& m) const {
      json j = {{"identity", m.identity}, {"workspace", m.workspace},
                {"cwd", m.cwd},           {"argv", m.argv},
                {"env", m.env},           {"timeout_ms", m.timeout_ms}};
      j["tty"] = m.tty ? json{{"rows", m.tty->rows}, {"cols", m.tty->cols}} : json(nullptr);
      json stdio = json::array();
      for (StdioKind k : m.stdio) stdio.push_back(k == StdioKind::kFd ? "fd" : "null");
      j["stdio"] = std::move(stdio);
      return j;
    }
    json operator()(const SignalMessage& m) const { return {{"signal", m.signal}}; }
    json operator()(const ResizeMessage& m) const {
      return {{"rows", m.size.rows}, {"cols", m.size.cols}};
    }
    json operator()(const StartedMessage& m) const {
      return {{"session_id", m.session_id}, {"pid", m.pid}};
    }
    json operator()(const ExitMessage& m) const {
      return {
          {"code", m.code}, {"signal", m.signal}, {"timed_out", m.timed_out}, {"killed", m.killed}};
    }
    json operator()(const ErrorMessage& m) const {
      return {{"code", m.code}, {"message", m.message}, {"stage", ErrorStageName(m.stage)}};
    }
  };
  return std::visit(Visitor{}, message);
}

void PutU16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v & 0xFF);
}
void PutU32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>((v >> (24 - 8 * i)) & 0xFF);
}
std::uint16_t GetU16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t GetU32(const std::uint8_t* p) {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
         (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string CutUtf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

}  // namespace

std::string MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kPing:
      return "Ping";
    case MessageType::kPong:
      return "Pong";
    case MessageType::kRunRequest:
      return "RunRequest";
    case MessageType::kSignal:
      return "Signal";
    case MessageType::kStarted:
      return "Started";
    case MessageType::kExit:
      return "Exit";
    case MessageType::kError:
      return "Error";
    case MessageType::kResize:
      return "Resize";
  }
  return "type " + std::to_string(static_cast<unsigned>(type));
}

bool IsKnownMessageType(std::uint16_t raw) { return raw >= 1 && raw <= 8; }

const char* ErrorStageName(ErrorStage stage) {
  switch (stage) {
    case ErrorStage::kProtocol:
      return "protocol";
    case ErrorStage::kAuthorize:
      return "authorize";
    case ErrorStage::kSetup:
      return "setup";
    case ErrorStage::kExec:
      return "exec";
    case ErrorStage::kService:
      return "service";
  }
  return "service";
}

std::size_t RunRequest::PassedFdCount() const {
  return static_cast<std::size_t>(std::count(stdio.begin(), stdio.end(), StdioKind::kFd));
}

MessageType TypeOf(const Message& message) {
  static constexpr MessageType kTypes[] = {
      MessageType::kPing,    MessageType::kPong, MessageType::kRunRequest, MessageType::kSignal,
      MessageType::kStarted, MessageType::kExit, MessageType::kError,      MessageType::kResize};
  return kTypes[message.index()];
}

ErrorMessage ToErrorMessage(const Error& error, ErrorStage stage) {
  ErrorMessage m;
  m.code = std::string(ErrorCodeName(error.code()));
  // Contexts may quote bytes a client sent; keep the reply encodable whatever they were.
  std::string text = error.ToString();
  if (!IsValidUtf8(text)) {
    for (char& c : text) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  text.erase(std::remove(text.begin(), text.end(), '\0'), text.end());
  m.message = CutUtf8(std::move(text), kMaxErrorMessageBytes);
  m.stage = stage;
  return m;
}

Expected<FrameHeader> DecodeHeader(const std::uint8_t* bytes, std::size_t size) {
  if (size < kHeaderBytes) {
    return ProtocolError("frame header: " + std::to_string(size) + " bytes, expected " +
                         std::to_string(kHeaderBytes) + " (truncated frame)");
  }
  if (std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0) {
    return ProtocolError("frame magic: expected \"STKD\" (not a Stockade client or service)");
  }
  FrameHeader header;
  header.version = GetU16(bytes + 4);
  if (header.version != kProtocolVersion) {
    return Error(ErrorCode::kProtocolVersion, "frame version: the peer speaks protocol version " +
                                                  std::to_string(header.version) +
                                                  ", this side speaks " +
                                                  std::to_string(kProtocolVersion));
  }
  const std::uint16_t type = GetU16(bytes + 6);
  if (!IsKnownMessageType(type)) {
    return ProtocolError("frame type: unknown message type " + std::to_string(type));
  }
  header.type = static_cast<MessageType>(type);
  header.payload_bytes = GetU32(bytes + 8);
  if (header.payload_bytes > kMaxPayloadBytes) {
    return ProtocolError("frame length: payload length " + std::to_string(header.payload_bytes) +
                         " exceeds the limit of " + std::to_string(kMaxPayloadBytes) + " bytes");
  }
  return header;
}

Status ValidateMessage(const Message& message) {
  if (const auto* run = std::get_if<RunRequest>(&message)) return CheckRunRequest(*run);
  if (const auto* sig = std::get_if<SignalMessage>(&message)) {
    if (sig->signal < 1 || sig->signal > kMaxSignal) {
      return ProtocolError("Signal.signal: " + std::to_string(sig->signal) + " is outside 1.." +
                           std::to_string(kMaxSignal));
    }
  }
  if (const auto* resize = std::get_if<ResizeMessage>(&message)) {
    if (resize->size.rows == 0 || resize->size.cols == 0) {
      return ProtocolError("Resize: rows and cols must be at least 1");
    }
  }
  if (const auto* pong = std::get_if<PongMessage>(&message)) {
    STOCKADE_RETURN_IF_ERROR(
        CheckString(pong->service_version, "Pong.service_version", kMaxShortStringBytes, false));
  }
  if (const auto* started = std::get_if<StartedMessage>(&message)) {
    STOCKADE_RETURN_IF_ERROR(
        CheckString(started->session_id, "Started.session_id", kMaxShortStringBytes, false));
  }
  if (const auto* exit = std::get_if<ExitMessage>(&message)) {
    if (exit->signal < 0 || exit->signal > kMaxSignal) {
      return ProtocolError("Exit.signal: " + std::to_string(exit->signal) + " is outside 0.." +
                           std::to_string(kMaxSignal));
    }
  }
  if (const auto* err = std::get_if<ErrorMessage>(&message)) {
    STOCKADE_RETURN_IF_ERROR(CheckString(err->code, "Error.code", kMaxShortStringBytes, false));
    STOCKADE_RETURN_IF_ERROR(CheckString(err->message, "Error.message", kMaxErrorMessageBytes));
  }
  return OkStatus();
}

Expected<std::vector<std::uint8_t>> EncodeMessage(const Message& message) {
  STOCKADE_RETURN_IF_ERROR(ValidateMessage(message));
  std::string payload;
  try {
    payload = ToJson(message).dump();
  } catch (const std::exception& e) {
    return ProtocolError(MessageTypeName(TypeOf(message)) + ": cannot encode: " + e.what());
  }
  if (payload.size() > kMaxPayloadBytes) {
    return ProtocolError(MessageTypeName(TypeOf(message)) + ": the encoded payload is " +
                         std::to_string(payload.size()) + " bytes, the limit is " +
                         std::to_string(kMaxPayloadBytes));
  }
  std::vector<std::uint8_t> frame(kHeaderBytes + payload.size());
  std::memcpy(frame.data(), kMagic, sizeof(kMagic));
  PutU16(frame.data() + 4, kProtocolVersion);
  PutU16(frame.data() + 6, static_cast<std::uint16_t>(TypeOf(message)));
  PutU32(frame.data() + 8, static_cast<std::uint32_t>(payload.size()));
  std::memcpy(frame.data() + kHeaderBytes, payload.data(), payload.size());
  return frame;
}

Expected<Message> DecodePayload(MessageType type, std::string_view payload) {
  const std::string name = MessageTypeName(type);
  if (payload.size() > kMaxPayloadBytes) {
    return ProtocolError(name + ": payload of " + std::to_string(payload.size()) +
                         " bytes exceeds the limit of " + std::to_string(kMaxPayloadBytes));
  }
  if (!IsValidUtf8(payload)) return ProtocolError(name + " payload: not valid UTF-8");
  json j;
  try {
    j = json::parse(payload.begin(), payload.end());
  } catch (const json::parse_error& e) {
    return ProtocolError(name + " payload: invalid JSON at byte " + std::to_string(e.byte) + ": " +
                         e.what());
  } catch (const std::exception& e) {
    return ProtocolError(name + " payload: invalid JSON: " + e.what());
  }
  if (!j.is_object()) {
    return ProtocolError(name + " payload: expected a JSON object, got " + JsonTypeName(j));
  }
  FieldReader reader(j, name);
  try {
    switch (type) {
      case MessageType::kPing:
        return DecodePing(reader);
      case MessageType::kPong:
        return DecodePong(reader);
      case MessageType::kRunRequest:
        return DecodeRunRequest(reader);
      case MessageType::kSignal:
        return DecodeSignal(reader);
      case MessageType::kStarted:
        return DecodeStarted(reader);
      case MessageType::kExit:
        return DecodeExit(reader);
      case MessageType::kError:
        return DecodeError(reader);
      case MessageType::kResize:
        return DecodeResize(reader);
    }
  } catch (const std::exception& e) {
    // nlohmann accessors are guarded above; this is a backstop so no exception leaves the module.
    return ProtocolError(name + ": " + e.what());
  }
  return ProtocolError("frame type: unknown message type " +
                       std::to_string(static_cast<unsigned>(type)));
}

}  // namespace stockade::runner::protocol
