// The protocol codec (runner/protocol/messages.h): every message round-trips, and every way a
// hostile peer can break a frame or a field is refused with the right code and the field named.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "runner/protocol/messages.h"

namespace stockade::runner::protocol {
namespace {

RunRequest SampleRequest() {
  RunRequest r;
  r.identity = "offline";
  r.workspace = "/home/ann/project";
  r.cwd = "/home/ann/project/src";
  r.argv = {"make", "-j2", ""};
  r.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "EMPTY="};
  r.timeout_ms = 60000;
  r.tty = TtySize{24, 80};
  r.stdio = {StdioKind::kFd, StdioKind::kFd, StdioKind::kNull};
  return r;
}

// Encodes, checks the header bytes, decodes the payload back.
Message RoundTrip(const Message& in) {
  auto frame = EncodeMessage(in);
  EXPECT_TRUE(frame.ok()) << frame.error().ToString();
  if (!frame.ok()) return PingMessage{};
  EXPECT_EQ(std::memcmp(frame->data(), "STKD", 4), 0);
  EXPECT_EQ((*frame)[4], 0);
  EXPECT_EQ((*frame)[5], 1);  // version 1, big endian
  auto header = DecodeHeader(frame->data(), frame->size());
  EXPECT_TRUE(header.ok()) << header.error().ToString();
  EXPECT_EQ(header->type, TypeOf(in));
  EXPECT_EQ(header->payload_bytes, frame->size() - kHeaderBytes);
  const std::string_view payload(reinterpret_cast<const char*>(frame->data()) + kHeaderBytes,
                                 frame->size() - kHeaderBytes);
  auto out = DecodePayload(header->type, payload);
  EXPECT_TRUE(out.ok()) << out.error().ToString();
  return out.ok() ? *out : Message(PingMessage{});
}

TEST(ProtocolMessages, EveryMessageRoundTrips) {
  const Message messages[] = {
      PingMessage{},
      PongMessage{1, "0.1.0", 4242},
      SampleRequest(),
      SignalMessage{2},
      StartedMessage{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", 777},
      ExitMessage{137, 9, false, true},
      ErrorMessage{"E_NOT_GRANTED", "workspace /x is not granted", ErrorStage::kAuthorize},
      ResizeMessage{TtySize{50, 132}},
  };
  for (const Message& m : messages) {
    EXPECT_EQ(RoundTrip(m), m) << MessageTypeName(TypeOf(m));
  }
  RunRequest no_tty = SampleRequest();
  no_tty.tty.reset();
  EXPECT_EQ(RoundTrip(no_tty), Message(no_tty));
  EXPECT_EQ(no_tty.PassedFdCount(), 2u);
}

TEST(ProtocolMessages, HeaderIsBigEndianWithTheLength) {
  auto frame = EncodeMessage(SignalMessage{15});
  ASSERT_TRUE(frame.ok());
  const std::string payload(frame->begin() + kHeaderBytes, frame->end());
  EXPECT_EQ(nlohmann::json::parse(payload), nlohmann::json({{"signal", 15}}));
  EXPECT_EQ((*frame)[6], 0);
  EXPECT_EQ((*frame)[7], static_cast<std::uint8_t>(MessageType::kSignal));
  const std::uint32_t len = (std::uint32_t{(*frame)[8]} << 24) |
                            (std::uint32_t{(*frame)[9]} << 16) |
                            (std::uint32_t{(*frame)[10]} << 8) | (*frame)[11];
  EXPECT_EQ(len, payload.size());
}

std::vector<std::uint8_t> Header(const char* magic, std::uint16_t version, std::uint16_t type,
                                 std::uint32_t length) {
  std::vector<std::uint8_t> h(kHeaderBytes);
  std::memcpy(h.data(), magic, 4);
  h[4] = static_cast<std::uint8_t>(version >> 8);
  h[5] = static_cast<std::uint8_t>(version);
  h[6] = static_cast<std::uint8_t>(type >> 8);
  h[7] = static_cast<std::uint8_t>(type);
  for (int i = 0; i < 4; ++i) h[8 + i] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
  return h;
}

void ExpectError(const Error& e, ErrorCode code, const std::string& needle) {
  EXPECT_EQ(e.code(), code) << e.ToString();
  EXPECT_NE(e.context().find(needle), std::string::npos)
      << "'" << e.context() << "' lacks '" << needle << "'";
}

TEST(ProtocolMessages, BadHeadersAreRefusedNamingTheField) {
  auto h = Header("STKX", 1, 1, 2);
  ExpectError(DecodeHeader(h.data(), h.size()).error(), ErrorCode::kProtocol, "frame magic");
  h = Header("STKD", 2, 1, 2);
  ExpectError(DecodeHeader(h.data(), h.size()).error(), ErrorCode::kProtocolVersion,
              "protocol version 2, this side speaks 1");
  h = Header("STKD", 0, 1, 2);
  ExpectError(DecodeHeader(h.data(), h.size()).error(), ErrorCode::kProtocolVersion, "version 0");
  h = Header("STKD", 1, 99, 2);
  ExpectError(DecodeHeader(h.data(), h.size()).error(), ErrorCode::kProtocol,
              "unknown message type 99");
  h = Header("STKD", 1, 0, 2);
  ExpectError(DecodeHeader(h.data(), h.size()).error(), ErrorCode::kProtocol,
              "unknown message type 0");
  h = Header("STKD", 1, 3, kMaxPayloadBytes + 1);
  ExpectError(DecodeHeader(h.data(), h.size()).error(), ErrorCode::kProtocol,
              "payload length 1048577 exceeds the limit of 1048576");
  h = Header("STKD", 1, 3, kMaxPayloadBytes);
  EXPECT_TRUE(DecodeHeader(h.data(), h.size()).ok());
  ExpectError(DecodeHeader(h.data(), 5).error(), ErrorCode::kProtocol, "truncated frame");
}

nlohmann::json RequestJson() {
  auto frame = EncodeMessage(SampleRequest());
  return nlohmann::json::parse(std::string(frame->begin() + kHeaderBytes, frame->end()));
}

Error DecodeRunError(const nlohmann::json& j) {
  auto m = DecodePayload(MessageType::kRunRequest, j.dump());
  EXPECT_FALSE(m.ok()) << j.dump().substr(0, 200);
  return m.ok() ? Error(ErrorCode::kOk, "") : m.error();
}

TEST(ProtocolMessages, MalformedPayloadsAreRefused) {
  ExpectError(DecodePayload(MessageType::kRunRequest, "{\"identity\": ").error(),
              ErrorCode::kProtocol, "RunRequest payload: invalid JSON at byte");
  ExpectError(DecodePayload(MessageType::kRunRequest, "[1,2]").error(), ErrorCode::kProtocol,
              "expected a JSON object, got an array");
  ExpectError(DecodePayload(MessageType::kPing, "").error(), ErrorCode::kProtocol, "invalid JSON");
  ExpectError(DecodePayload(MessageType::kPing, "{\"a\":\"\xff\"}").error(), ErrorCode::kProtocol,
              "not valid UTF-8");
  ExpectError(DecodePayload(MessageType::kPing, "{\"extra\":1}").error(), ErrorCode::kProtocol,
              "Ping: unknown field 'extra'");
  // Deep nesting must not exhaust the stack (the parser and the value are iterative).
  const std::string deep = "{\"x\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  ExpectError(DecodePayload(MessageType::kPing, deep).error(), ErrorCode::kProtocol,
              "unknown field 'x'");
}

TEST(ProtocolMessages, RunRequestFieldsAreTypedAndNamed) {
  nlohmann::json j = RequestJson();
  j.erase("cwd");
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.cwd: missing");
  j = RequestJson();
  j["timeout_ms"] = "60";
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol,
              "RunRequest.timeout_ms: expected an unsigned integer, got a string");
  j["timeout_ms"] = -1;
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.timeout_ms: is negative");
  j["timeout_ms"] = 1.5;
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "got a floating-point number");
  j = RequestJson();
  j["argv"][1] = 7;
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol,
              "RunRequest.argv[1]: expected a string, got an integer");
  j = RequestJson();
  j["argv"] = nlohmann::json::array();
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.argv: empty");
  j = RequestJson();
  j["env"][0] = "NOEQUALS";
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.env[0]: expected NAME=VALUE");
  j["env"][0] = "=x";
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.env[0]: expected NAME=VALUE");
  j = RequestJson();
  j["workspace"] = std::string("/a\0b", 4);
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.workspace: contains NUL");
  j = RequestJson();
  j["stdio"] = {"fd", "fd"};
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.stdio: 2 entries, expected 3");
  j["stdio"] = {"fd", "pipe", "fd"};
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.stdio[1]: 'pipe'");
  j = RequestJson();
  j["tty"] = {{"rows", 24}};
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.tty.cols: missing");
  j["tty"] = {{"rows", 70000}, {"cols", 80}};
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.tty.rows: 70000 is above");
  j["tty"] = 5;
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol,
              "RunRequest.tty: expected null or an object");
  j = RequestJson();
  j["nice"] = 1;
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest: unknown field 'nice'");
}

TEST(ProtocolMessages, RunRequestLimitsAreEnforcedOnBothSides) {
  RunRequest r = SampleRequest();
  r.argv.assign(kMaxArgvEntries + 1, "x");
  ExpectError(ValidateMessage(r).error(), ErrorCode::kProtocol,
              "RunRequest.argv: 4097 entries, the limit is 4096");
  r = SampleRequest();
  r.argv[1] = std::string(kMaxArgBytes + 1, 'a');
  ExpectError(ValidateMessage(r).error(), ErrorCode::kProtocol,
              "RunRequest.argv[1]: 131073 bytes, the limit is 131072");
  r.argv[1] = std::string(kMaxArgBytes, 'a');
  EXPECT_TRUE(ValidateMessage(r).ok());
  r = SampleRequest();
  for (int i = 0; i < 9; ++i) r.argv.push_back(std::string(120 * 1024, 'b'));
  ExpectError(ValidateMessage(r).error(), ErrorCode::kProtocol, "RunRequest.argv+env:");
  r = SampleRequest();
  r.env.assign(kMaxEnvEntries + 1, "A=1");
  ExpectError(ValidateMessage(r).error(), ErrorCode::kProtocol, "RunRequest.env: 4097 entries");
  r = SampleRequest();
  r.workspace = "/" + std::string(kMaxPathBytes, 'w');
  ExpectError(ValidateMessage(r).error(), ErrorCode::kProtocol,
              "RunRequest.workspace: 4097 bytes, the limit is 4096");
  r = SampleRequest();
  r.identity = std::string(65, 'i');
  ExpectError(ValidateMessage(r).error(), ErrorCode::kProtocol, "RunRequest.identity: 65 bytes");
  r = SampleRequest();
  r.timeout_ms = kMaxTimeoutMs + 1;
  ExpectError(ValidateMessage(r).error(), ErrorCode::kProtocol, "RunRequest.timeout_ms:");
  r.timeout_ms = kMaxTimeoutMs;
  EXPECT_TRUE(ValidateMessage(r).ok());
  r = SampleRequest();
  r.argv[0] = "\xc3\x28";
  ExpectError(EncodeMessage(r).error(), ErrorCode::kProtocol,
              "RunRequest.argv[0]: not valid UTF-8");

  // The decoder applies the same limits to what a peer that skipped validation sends.
  nlohmann::json j = RequestJson();
  j["argv"] = nlohmann::json::array();
  for (std::size_t i = 0; i < kMaxArgvEntries + 1; ++i) j["argv"].push_back("x");
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.argv: 4097 entries");
  j = RequestJson();
  j["identity"] = std::string(65, 'i');
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "RunRequest.identity: 65 bytes");
  j = RequestJson();
  j["timeout_ms"] = kMaxTimeoutMs + 1;
  ExpectError(DecodeRunError(j), ErrorCode::kProtocol, "is above the limit of 604800000");
}

TEST(ProtocolMessages, ReplyFieldsAreChecked) {
  ExpectError(DecodePayload(MessageType::kSignal, "{\"signal\":0}").error(), ErrorCode::kProtocol,
              "Signal.signal: 0 is outside 1..64");
  ExpectError(DecodePayload(MessageType::kExit,
                            "{\"code\":0,\"signal\":0,\"timed_out\":1,\"killed\":false}")
                  .error(),
              ErrorCode::kProtocol, "Exit.timed_out: expected a boolean, got an integer");
  ExpectError(
      DecodePayload(MessageType::kError, "{\"code\":\"E_X\",\"message\":\"m\",\"stage\":\"late\"}")
          .error(),
      ErrorCode::kProtocol, "Error.stage: 'late'");
  ExpectError(ValidateMessage(SignalMessage{65}).error(), ErrorCode::kProtocol, "Signal.signal");
  ExpectError(DecodePayload(MessageType::kResize, "{\"rows\":0,\"cols\":80}").error(),
              ErrorCode::kProtocol, "Resize: rows and cols must be at least 1");
  ExpectError(DecodePayload(MessageType::kResize, "{\"rows\":70000,\"cols\":80}").error(),
              ErrorCode::kProtocol, "Resize.rows");
  ExpectError(DecodePayload(MessageType::kResize, "{\"rows\":24}").error(), ErrorCode::kProtocol,
              "Resize");
  ExpectError(ValidateMessage(ResizeMessage{TtySize{24, 0}}).error(), ErrorCode::kProtocol,
              "Resize");
}

TEST(ProtocolMessages, ToErrorMessageKeepsTheCodeAndStaysEncodable) {
  const Error e(ErrorCode::kNotGranted, "workspace '/w\xff' is not granted");
  const ErrorMessage m = ToErrorMessage(e, ErrorStage::kAuthorize);
  EXPECT_EQ(m.code, "E_NOT_GRANTED");
  EXPECT_EQ(m.stage, ErrorStage::kAuthorize);
  EXPECT_NE(m.message.find("is not granted"), std::string::npos);
  EXPECT_TRUE(EncodeMessage(m).ok());
}

}  // namespace
}  // namespace stockade::runner::protocol
