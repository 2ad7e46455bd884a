#include "tests/audit_review/linux/review_support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit/store.h"

namespace stockade::audit::testing {

namespace {

using Clock = std::chrono::steady_clock;

bool CanConnect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::uint32_t Be32(const std::string& b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  CommandResult result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return result;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group, so a timeout kills what it started too
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  char buf[65536];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    result.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && base[0] == '/' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return "";
  return buf.data();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Rsyslog::~Rsyslog() { Stop(); }

std::string Rsyslog::Start(std::uint16_t port) {
  std::filesystem::create_directories(dir_ + "/work");
  const std::string port_file = dir_ + "/port";
  std::filesystem::remove(port_file);
  {
    std::ofstream conf(dir_ + "/rsyslog.conf");
    conf << "global(workDirectory=\"" << dir_ << "/work\" maxMessageSize=\"64k\")\n"
         << "module(load=\"imtcp\")\n"
         << "template(name=\"stk\" type=\"string\" string=\"%hostname%|%app-name%|%procid%|"
            "%msgid%|%structured-data%|%msg%\\n\")\n"
         << "ruleset(name=\"stk\") { action(type=\"omfile\" file=\"" << out_path()
         << "\" template=\"stk\") }\n"
         << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << port
         << "\" listenPortFileName=\"" << port_file << "\" ruleset=\"stk\")\n";
  }
  const std::string conf = dir_ + "/rsyslog.conf";
  const std::string pid_file = dir_ + "/rsyslogd.pid";
  const std::string log = dir_ + "/rsyslogd.out";
  pid_ = ::fork();
  if (pid_ == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execl("/usr/sbin/rsyslogd", "rsyslogd", "-n", "-f", conf.c_str(), "-i", pid_file.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (pid_ < 0) return "fork failed";
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return "rsyslogd exited at start: " + ReadFile(log);
    }
    // rsyslog writes the port file only for port 0 (the port it chose).
    if (port != 0) {
      port_ = port;
    } else if (std::string text = ReadFile(port_file); !text.empty()) {
      port_ = static_cast<std::uint16_t>(std::stoi(text));
    }
    if (port_ != 0 && CanConnect(port_)) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "rsyslogd did not listen within 20 s: " + ReadFile(log);
}

void Rsyslog::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool DecodePng(const std::string& b, Image* image, std::string* error) {
  static const char kSig[] = "\x89PNG\r\n\x1a\n";
  if (b.size() < 8 || b.compare(0, 8, std::string(kSig, 8)) != 0) {
    *error = "not a PNG signature";
    return false;
  }
  std::size_t at = 8;
  std::string idat;
  int depth = 0, color = 0, interlace = 0;
  while (at + 12 <= b.size()) {
    const std::uint32_t len = Be32(b, at);
    const std::string type = b.substr(at + 4, 4);
    if (at + 12 + len > b.size()) break;
    const std::string data = b.substr(at + 8, len);
    if (type == "IHDR") {
      image->width = static_cast<int>(Be32(data, 0));
      image->height = static_cast<int>(Be32(data, 4));
      depth = static_cast<unsigned char>(data[8]);
      color = static_cast<unsigned char>(data[9]);
      interlace = static_cast<unsigned char>(data[12]);
    } else if (type == "IDAT") {
      idat += data;
    } else if (type == "IEND") {
      break;
    }
    at += 12 + len;
  }
  if (depth != 8 || (color != 2 && color != 6) || interlace != 0) {
    *error = "unsupported PNG: depth " + std::to_string(depth) + ", color type " +
             std::to_string(color) + ", interlace " + std::to_string(interlace);
    return false;
  }
  const std::size_t bpp = color == 6 ? 4 : 3;
  const std::size_t stride = static_cast<std::size_t>(image->width) * bpp;
  std::vector<std::uint8_t> raw((stride + 1) * static_cast<std::size_t>(image->height));
  uLongf raw_len = static_cast<uLongf>(raw.size());
  if (::uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()),
                   static_cast<uLong>(idat.size())) != Z_OK ||
      raw_len != raw.size()) {
    *error = "IDAT does not inflate to the image size";
    return false;
  }
  std::vector<std::uint8_t> prev(stride, 0), cur(stride);
  image->rgb.clear();
  image->rgb.reserve(static_cast<std::size_t>(image->width) * image->height * 3);
  for (int y = 0; y < image->height; ++y) {
    const std::uint8_t* row = raw.data() + static_cast<std::size_t>(y) * (stride + 1);
    const int filter = row[0];
    for (std::size_t x = 0; x < stride; ++x) {
      const int a = x >= bpp ? cur[x - bpp] : 0;
      const int up = prev[x];
      const int c = x >= bpp ? prev[x - bpp] : 0;
      int pred = 0;
      switch (filter) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = up;
          break;
        case 3:
          pred = (a + up) / 2;
          break;
        case 4: {
          const int p = a + up - c, pa = std::abs(p - a), pb = std::abs(p - up),
                    pc = std::abs(p - c);
          pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? up : c);
          break;
        }
        default:
          *error = "bad filter type " + std::to_string(filter);
          return false;
      }
      cur[x] = static_cast<std::uint8_t>(row[1 + x] + pred);
    }
    for (int x = 0; x < image->width; ++x) {
      for (int k = 0; k < 3; ++k) image->rgb.push_back(cur[static_cast<std::size_t>(x) * bpp + k]);
    }
    std::swap(prev, cur);
  }
  return true;
}

std::string WriteStore(const std::string& path, const std::vector<Event>& events) {
  StoreOptions options;
  options.path = path;
  options.secure_permissions = false;
  options.sync_every_batch = false;
  auto store = Store::Open(options);
  if (!store.ok()) return store.error().ToString();
  for (const Event& e : events) {
    Status s = (*store)->RecordAsync(e);
    if (!s.ok()) return s.error().ToString();
  }
  Status s = (*store)->Close();
  return s.ok() ? "" : s.error().ToString();
}

std::string StockadeBinary() { return std::string(STOCKADE_BUILD_DIR) + "/cli/stockade"; }

}  // namespace stockade::audit::testing
