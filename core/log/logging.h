// Process-wide logging on spdlog: a size-rotated file in the state folder for diagnostics
// (<state>/logs/<program>.log) and stderr for what a person at the terminal should see
// (warnings and errors by default; --verbose lowers the threshold). Logs are diagnostics only:
// evidence of what ran lives in the audit store, never here.
#ifndef STOCKADE_CORE_LOG_LOGGING_H_
#define STOCKADE_CORE_LOG_LOGGING_H_

#include <spdlog/spdlog.h>

#include <cstddef>
#include <memory>
#include <string>

#include "core/error.h"

namespace stockade::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

struct LogOptions {
  std::string program = "stockade";  // logger name, prefix of stderr lines and file stem
  // State folder (UTF-8). The file is <state_dir>/logs/<program>.log; the logs folder is
  // created if missing. Empty: no file, stderr only.
  std::string state_dir;
  std::size_t max_file_bytes = 10 * 1024 * 1024;  // rotate before a write would exceed this
  std::size_t max_files = 5;                      // rotated files kept: <program>.1.log ...
  Level file_level = Level::kInfo;
  Level stderr_level = Level::kWarn;
  // Messages at or above this level are flushed to the file at once, so the lines before a
  // crash are on disk; lower ones are flushed with the next such message or at shutdown.
  Level flush_level = Level::kInfo;
};

// The stderr threshold for a count of --verbose flags: 0 -> kWarn, 1 -> kInfo, 2 -> kDebug,
// 3 or more -> kTrace.
Level StderrLevelForVerbosity(int verbose_count);

// The path of the current log file for `options` (empty when options.state_dir is empty).
std::string LogFilePath(const LogOptions& options);

// Creates the logger described by `options` and makes it the process's logger (also spdlog's
// default logger, so spdlog::warn(...) works anywhere). Replaces, flushes and closes any logger
// installed before. Thread-safe with respect to Logger().
// Errors: kIo naming the folder or file when the logs folder or the file cannot be created
// (the previous logger stays installed); kInvalidArgument for an empty program name or zero
// max_file_bytes.
Status InitLogging(const LogOptions& options);

// The process's logger. Before InitLogging (or after ShutdownLogging) it is a stderr-only
// logger at kWarn named "stockade", so logging never needs a null check.
std::shared_ptr<spdlog::logger> Logger();

// Flushes and closes the installed logger's file and goes back to the stderr-only default.
void ShutdownLogging();

// spdlog's level for ours.
spdlog::level::level_enum ToSpdlog(Level level);

}  // namespace stockade::log

#endif  // STOCKADE_CORE_LOG_LOGGING_H_
