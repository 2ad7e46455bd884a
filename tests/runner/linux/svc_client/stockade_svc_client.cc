// A minimal client of stockaded for the service tests: the tests run it as other users (through
// setpriv) to play the workspace's owner, another user and a sandbox identity. It sends one
// RunRequest with its own stdin/stdout/stderr and writes how it ended, one line, to RESULT:
//   "exit code=N signal=S timed_out=0|1 killed=0|1"  or  "error CODE STAGE MESSAGE".
//
// Usage: stockade_svc_client SOCKET RESULT IDENTITY WORKSPACE CWD -- COMMAND [ARGS...]
#include <cstdio>
#include <string>
#include <vector>

#include "runner/protocol/linux/connection.h"

namespace proto = stockade::runner::protocol;
namespace pio = stockade::runner::protocol::linux_os;

int main(int argc, char** argv) {
  if (argc < 8 || std::string(argv[6]) != "--") {
    std::fprintf(stderr, "usage: %s SOCKET RESULT IDENTITY WORKSPACE CWD -- COMMAND...\n", argv[0]);
    return 2;
  }
  FILE* result = std::fopen(argv[2], "w");
  if (result == nullptr) return 3;
  auto finish = [&](const std::string& line) {
    std::fprintf(result, "%s\n", line.c_str());
    std::fclose(result);
    return 0;
  };
  auto conn = pio::Connection::Connect(argv[1]);
  if (!conn.ok())
    return finish("error " + std::string(stockade::ErrorCodeName(conn.error().code())) +
                  " connect " + conn.error().ToString());
  proto::RunRequest request;
  request.identity = argv[3];
  request.workspace = argv[4];
  request.cwd = argv[5];
  for (int i = 7; i < argc; ++i) request.argv.push_back(argv[i]);
  request.env = {"PATH=/usr/bin:/bin"};
  if (auto st = conn->Send(request, {0, 1, 2}); !st.ok()) {
    return finish("error " + std::string(stockade::ErrorCodeName(st.error().code())) + " send " +
                  st.error().ToString());
  }
  for (;;) {
    auto reply = conn->Receive();
    if (!reply.ok()) {
      return finish("error " + std::string(stockade::ErrorCodeName(reply.error().code())) +
                    " receive " + reply.error().ToString());
    }
    if (std::holds_alternative<proto::StartedMessage>(*reply)) continue;
    if (const auto* e = std::get_if<proto::ErrorMessage>(&*reply)) {
      return finish("error " + e->code + " " + proto::ErrorStageName(e->stage) + " " + e->message);
    }
    if (const auto* x = std::get_if<proto::ExitMessage>(&*reply)) {
      return finish(
          "exit code=" + std::to_string(x->code) + " signal=" + std::to_string(x->signal) +
          " timed_out=" + std::to_string(x->timed_out) + " killed=" + std::to_string(x->killed));
    }
    return finish("error E_PROTOCOL client unexpected reply");
  }
}
