// Logging: what is logged is read back from the file and from stderr, rotation is observed on
// disk, and levels filter what each sink receives.
#include "core/log/logging.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/crypto/random.h"

namespace stockade::log {
namespace {

namespace fs = std::filesystem;

fs::path Utf8Path(const std::string& s) { return fs::path(std::u8string(s.begin(), s.end())); }
std::string ToUtf8(const fs::path& p) {
  auto u8 = p.u8string();
  return std::string(u8.begin(), u8.end());
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Token() {
  auto hex = crypto::RandomHex(8);
  EXPECT_TRUE(hex.ok());
  return "token-" + *hex;
}

class LoggingTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("stockade-log-test-" + Token());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    ShutdownLogging();  // closes the file so the folder can be removed (Windows)
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  LogOptions Options() const {
    LogOptions options;
    options.program = "logtest";
    options.state_dir = ToUtf8(dir_);
    return options;
  }
  fs::path LogFile(int index = 0) const {
    return dir_ / "logs" /
           (index == 0 ? "logtest.log" : "logtest." + std::to_string(index) + ".log");
  }

  fs::path dir_;
};

TEST_F(LoggingTest, MessageReachesTheFileInTheStateFolder) {
  LogOptions options = Options();
  EXPECT_EQ(Utf8Path(LogFilePath(options)), LogFile());
  ASSERT_TRUE(InitLogging(options).ok());
  const std::string token = Token();
  Logger()->info("provisioned {} in {} ms", token, 42);
  ShutdownLogging();
  const std::string text = ReadFile(LogFile());
  EXPECT_NE(text.find("info: provisioned " + token + " in 42 ms"), std::string::npos) << text;
}

TEST_F(LoggingTest, IsSpdlogsDefaultLoggerAfterInit) {
  ASSERT_TRUE(InitLogging(Options()).ok());
  EXPECT_EQ(spdlog::default_logger().get(), Logger().get());
  EXPECT_EQ(Logger()->name(), "logtest");
  const std::string token = Token();
  spdlog::warn("through spdlog {}", token);
  ShutdownLogging();
  EXPECT_NE(ReadFile(LogFile()).find("warning: through spdlog " + token), std::string::npos);
  EXPECT_EQ(Logger()->name(), "stockade");  // back to the stderr-only default
}

TEST_F(LoggingTest, RotatesAtTheSizeCapAndKeepsMaxFiles) {
  LogOptions options = Options();
  options.max_file_bytes = 2048;
  options.max_files = 2;
  ASSERT_TRUE(InitLogging(options).ok());
  const std::string padding(80, 'x');
  for (int i = 0; i < 200; ++i) Logger()->info("line {:04} {}", i, padding);
  ShutdownLogging();

  ASSERT_TRUE(fs::exists(LogFile(0)));
  ASSERT_TRUE(fs::exists(LogFile(1)));
  ASSERT_TRUE(fs::exists(LogFile(2)));
  EXPECT_FALSE(fs::exists(LogFile(3)));
  for (int i = 0; i <= 2; ++i) {
    const auto size = fs::file_size(LogFile(i));
    EXPECT_LE(size, 2048u) << LogFile(i);
    EXPECT_GT(size, 0u) << LogFile(i);
  }
  // Rotated files are full; the newest line is in the current file and the oldest are gone.
  EXPECT_GT(fs::file_size(LogFile(1)), 2048u - 200u);
  EXPECT_NE(ReadFile(LogFile(0)).find("line 0199 "), std::string::npos);
  EXPECT_EQ(ReadFile(LogFile(2)).find("line 0000 "), std::string::npos);
  EXPECT_EQ(ReadFile(LogFile(1)).find("line 0199 "), std::string::npos);
}

TEST_F(LoggingTest, FileLevelFilters) {
  LogOptions options = Options();
  options.file_level = Level::kWarn;
  ASSERT_TRUE(InitLogging(options).ok());
  const std::string hidden = Token(), shown = Token();
  Logger()->info("hidden {}", hidden);
  Logger()->debug("hidden {}", hidden);
  Logger()->warn("shown {}", shown);
  Logger()->error("shown too {}", shown);
  ShutdownLogging();
  const std::string text = ReadFile(LogFile());
  EXPECT_EQ(text.find(hidden), std::string::npos) << text;
  EXPECT_NE(text.find("warning: shown " + shown), std::string::npos) << text;
  EXPECT_NE(text.find("error: shown too " + shown), std::string::npos) << text;
}

// Runs `body` with stderr captured. Capture starts before InitLogging and logging is shut down
// before it ends: on Windows spdlog's stderr sink keeps the OS handle that fd 2 had when the
// sink was made.
template <typename Body>
std::string CapturedStderr(Body body) {
  testing::internal::CaptureStderr();
  body();
  ShutdownLogging();
  std::string text = testing::internal::GetCapturedStderr();
  ShutdownLogging();  // a default logger made while fd 2 was redirected must not survive it
  return text;
}

TEST_F(LoggingTest, StderrShowsWarningsByDefaultAndMoreWithVerbose) {
  const std::string info = Token(), warn = Token(), debug = Token();
  std::string quiet = CapturedStderr([&] {
    LogOptions options = Options();
    options.stderr_level = StderrLevelForVerbosity(0);
    ASSERT_TRUE(InitLogging(options).ok());
    Logger()->info("info {}", info);
    Logger()->warn("warn {}", warn);
  });
  EXPECT_EQ(quiet.find(info), std::string::npos) << quiet;
  EXPECT_NE(quiet.find("logtest: warning: warn " + warn), std::string::npos) << quiet;

  std::string verbose = CapturedStderr([&] {
    LogOptions options = Options();
    options.stderr_level = StderrLevelForVerbosity(1);
    ASSERT_TRUE(InitLogging(options).ok());
    Logger()->debug("debug {}", debug);
    Logger()->info("info {}", info);
  });
  EXPECT_NE(verbose.find("logtest: info: info " + info), std::string::npos) << verbose;
  EXPECT_EQ(verbose.find(debug), std::string::npos) << verbose;
  // The file took the info line even though stderr did not in the quiet run.
  EXPECT_NE(ReadFile(LogFile()).find("info " + info), std::string::npos);
}

TEST_F(LoggingTest, VerbosityMapping) {
  EXPECT_EQ(StderrLevelForVerbosity(0), Level::kWarn);
  EXPECT_EQ(StderrLevelForVerbosity(1), Level::kInfo);
  EXPECT_EQ(StderrLevelForVerbosity(2), Level::kDebug);
  EXPECT_EQ(StderrLevelForVerbosity(5), Level::kTrace);
}

TEST_F(LoggingTest, UnusableStateFolderIsAnIoErrorAndKeepsThePreviousLogger) {
  ASSERT_TRUE(InitLogging(Options()).ok());
  auto before = Logger();
  // A regular file where the state folder should be: the logs folder cannot be created in it.
  const fs::path blocker = dir_ / "not-a-folder";
  std::ofstream(blocker) << "x";
  LogOptions options = Options();
  options.state_dir = ToUtf8(blocker);
  Status status = InitLogging(options);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kIo);
  EXPECT_NE(status.error().context().find("not-a-folder"), std::string::npos)
      << status.error().context();
  EXPECT_EQ(Logger().get(), before.get());
}

TEST_F(LoggingTest, BadOptionsAreRefused) {
  LogOptions options = Options();
  options.program = "../escape";
  EXPECT_EQ(InitLogging(options).error().code(), ErrorCode::kInvalidArgument);
  options.program = "";
  EXPECT_EQ(InitLogging(options).error().code(), ErrorCode::kInvalidArgument);
  options = Options();
  options.max_file_bytes = 0;
  EXPECT_EQ(InitLogging(options).error().code(), ErrorCode::kInvalidArgument);
}

TEST(LoggingDefault, LoggerIsUsableBeforeInit) {
  ShutdownLogging();
  auto logger = Logger();
  ASSERT_NE(logger, nullptr);
  EXPECT_EQ(logger->name(), "stockade");
  EXPECT_EQ(logger->level(), spdlog::level::warn);
}

}  // namespace
}  // namespace stockade::log
