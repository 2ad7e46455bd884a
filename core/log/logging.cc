#include "core/log/logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace stockade::log {

namespace {

constexpr std::string_view kDefaultName = "stockade";
// stderr: "stockade: warning: message" — reads like any other command-line tool's diagnostics.
constexpr const char* kStderrPattern = "%n: %l: %v";
// file: local time with offset, process and thread, level, message.
constexpr const char* kFilePattern = "%Y-%m-%dT%H:%M:%S.%e%z [%P:%t] %l: %v";

std::mutex g_mutex;
std::shared_ptr<spdlog::logger> g_logger;  // guarded by g_mutex

// Paths are UTF-8 everywhere in Stockade; std::filesystem needs to be told so (on Windows a
// narrow std::string would be taken as the ANSI code page).
std::filesystem::path Utf8Path(std::string_view utf8) {
  return std::filesystem::path(std::u8string(utf8.begin(), utf8.end()));
}

std::string ToUtf8(const std::filesystem::path& path) {
  std::u8string u8 = path.u8string();
  return std::string(u8.begin(), u8.end());
}

std::shared_ptr<spdlog::logger> MakeStderrLogger(const std::string& name, Level level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_pattern(kStderrPattern);
  sink->set_level(ToSpdlog(level));
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  logger->set_level(ToSpdlog(level));
  return logger;
}

// Installs `logger` as ours and spdlog's default; returns the previous one so that the caller
// can flush it outside the lock.
std::shared_ptr<spdlog::logger> Install(std::shared_ptr<spdlog::logger> logger) {
  std::lock_guard lock(g_mutex);
  spdlog::set_default_logger(logger);
  std::swap(g_logger, logger);
  return logger;
}

}  // namespace

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kCritical:
      return spdlog::level::critical;
    case Level::kOff:
      break;
  }
  return spdlog::level::off;
}

Level StderrLevelForVerbosity(int verbose_count) {
  if (verbose_count <= 0) return Level::kWarn;
  if (verbose_count == 1) return Level::kInfo;
  if (verbose_count == 2) return Level::kDebug;
  return Level::kTrace;
}

std::string LogFilePath(const LogOptions& options) {
  if (options.state_dir.empty()) return {};
  return ToUtf8(Utf8Path(options.state_dir) / "logs" / Utf8Path(options.program + ".log"));
}

Status InitLogging(const LogOptions& options) {
  if (options.program.empty() || options.program.find_first_of("/\\:") != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "logging: program name '" + options.program +
                                                  "' is empty or contains a path separator");
  }
  if (options.max_file_bytes == 0) {
    return Error(ErrorCode::kInvalidArgument, "logging: max_file_bytes is 0");
  }

  std::vector<spdlog::sink_ptr> sinks;
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  stderr_sink->set_pattern(kStderrPattern);
  stderr_sink->set_level(ToSpdlog(options.stderr_level));
  sinks.push_back(stderr_sink);
  Level lowest = options.stderr_level;

  if (!options.state_dir.empty()) {
    std::filesystem::path dir = Utf8Path(options.state_dir) / "logs";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return Error(ErrorCode::kIo,
                   "logging: cannot create log folder " + ToUtf8(dir) + ": " + ec.message());
    }
    std::filesystem::path file = dir / Utf8Path(options.program + ".log");
    try {
      // spdlog takes a narrow file name; on Windows it opens it in the ANSI code page (Debian's
      // spdlog is built without SPDLOG_WCHAR_FILENAMES), which path::string() converts to.
      auto file_sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          file.string(), options.max_file_bytes, options.max_files, /*rotate_on_open=*/false);
      file_sink->set_pattern(kFilePattern);
      file_sink->set_level(ToSpdlog(options.file_level));
      sinks.push_back(std::move(file_sink));
      lowest = std::min(lowest, options.file_level);
    } catch (const std::exception& e) {
      // spdlog reports open failures as spdlog_ex; path::string() may throw on unconvertible
      // names. Neither may escape core.
      return Error(ErrorCode::kIo,
                   "logging: cannot open log file " + ToUtf8(file) + ": " + e.what());
    }
  }

  auto logger = std::make_shared<spdlog::logger>(options.program, sinks.begin(), sinks.end());
  // The logger's own level is the lowest of its sinks', so a message no sink wants is dropped
  // before it is formatted.
  logger->set_level(ToSpdlog(lowest));
  logger->flush_on(ToSpdlog(options.flush_level));
  auto previous = Install(std::move(logger));
  if (previous) previous->flush();
  return OkStatus();
}

std::shared_ptr<spdlog::logger> Logger() {
  std::lock_guard lock(g_mutex);
  if (!g_logger) {
    g_logger = MakeStderrLogger(std::string(kDefaultName), Level::kWarn);
    spdlog::set_default_logger(g_logger);
  }
  return g_logger;
}

void ShutdownLogging() {
  auto previous = Install(MakeStderrLogger(std::string(kDefaultName), Level::kWarn));
  if (previous) previous->flush();
  // The file closes when the last reference to `previous` goes, normally right here.
}

}  // namespace stockade::log
