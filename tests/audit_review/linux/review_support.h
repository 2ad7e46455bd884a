// Linux helpers of the review tests: running a command and capturing its output, a private
// rsyslogd on a loopback port, a PNG decoder for chromium's screenshots, and an audit store
// filled with the synthetic events.
#ifndef STOCKADE_TESTS_AUDIT_REVIEW_LINUX_REVIEW_SUPPORT_H_
#define STOCKADE_TESTS_AUDIT_REVIEW_LINUX_REVIEW_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "audit/event.h"

namespace stockade::audit::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally (signal, timeout)
  std::string output;  // stdout and stderr together
};

// Runs argv (argv[0] absolute) with a timeout, stdout+stderr captured.
CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::seconds timeout);

// A fresh folder under the test temp dir, removed by the caller's discretion (kept for
// post-mortem when a test fails).
std::string MakeTempDir(const std::string& prefix);

std::string ReadFile(const std::string& path);

// rsyslogd with its own config, working folder and pid file in `dir` (never the system's
// instance), one imtcp input on 127.0.0.1 whose messages go to <dir>/out.log as
// "HOSTNAME|APP-NAME|PROCID|MSGID|STRUCTURED-DATA|MSG".
class Rsyslog {
 public:
  explicit Rsyslog(std::string dir) : dir_(std::move(dir)) {}
  ~Rsyslog();
  // Starts it on `port` (0: a free port chosen by rsyslog, read back from its port file) and
  // waits until it accepts connections. Returns "" or what went wrong.
  std::string Start(std::uint16_t port = 0);
  // SIGTERM and wait for it to exit.
  void Stop();
  std::uint16_t port() const { return port_; }
  std::string out_path() const { return dir_ + "/out.log"; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3
};

// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what chromium writes). Returns false with
// `error` set otherwise.
bool DecodePng(const std::string& bytes, Image* image, std::string* error);

// Opens a store at `path` (secure permissions off) and records `events` (their seq are
// reassigned by the store). Returns "" or the error.
std::string WriteStore(const std::string& path, const std::vector<Event>& events);

// <build>/cli/stockade
std::string StockadeBinary();

}  // namespace stockade::audit::testing

#endif  // STOCKADE_TESTS_AUDIT_REVIEW_LINUX_REVIEW_SUPPORT_H_
