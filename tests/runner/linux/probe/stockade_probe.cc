// stockade_probe OP [ARGS...]: performs one operation and prints one line, "OP: ok [detail]" or
// "OP: errno=N (text)", exiting 0 on success and 1 on failure (2 for a usage error). Runs inside
// the sandbox in the launcher tests, and outside it as the positive control that shows the same
// operation works when nothing blocks it.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

int Ok(const std::string& op, const std::string& detail = "") {
  std::cout << op << ": ok" << (detail.empty() ? "" : " " + detail) << std::endl;
  return 0;
}

int Failed(const std::string& op, int err) {
  std::cout << op << ": errno=" << err << " (" << std::strerror(err) << ")" << std::endl;
  return 1;
}

int Check(const std::string& op, long rc) { return rc < 0 ? Failed(op, errno) : Ok(op); }

int WriteFile(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Failed("write", errno);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return Failed("write", err);
  return Ok("write");
}

int ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failed("read", errno);
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  const int err = errno;
  ::close(fd);
  if (n < 0) return Failed("read", err);
  return Ok("read", std::string(buf, static_cast<std::size_t>(n)));
}

int SocketOp(const std::string& kind) {
  int fd = -1;
  if (kind == "inet")
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
  else if (kind == "inet6")
    fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  else if (kind == "udp")
    fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  else if (kind == "udp6")
    fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  else if (kind == "unix")
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  else
    return 2;
  if (fd < 0) return Failed("socket", errno);
  ::close(fd);
  return Ok("socket");
}

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Failed("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    ::close(fd);
    return Failed("connect", err);
  }
  const char msg[] = "probe";
  if (::write(fd, msg, sizeof(msg) - 1) < 0) {
  }
  ::close(fd);
  return Ok("connect");
}

int Ptrace() {
  const pid_t child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  const long rc = ::ptrace(PTRACE_ATTACH, child, nullptr, nullptr);
  const int err = errno;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  if (rc != 0) return Failed("ptrace", err);
  return Ok("ptrace");
}

int CloneUser() {
  const long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) ::_exit(0);
  if (pid < 0) return Failed("clone-user", errno);
  ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return Ok("clone-user");
}

int Bpf() {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  const long fd = ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
  if (fd < 0) return Failed("bpf", errno);
  ::close(static_cast<int>(fd));
  return Ok("bpf");
}

int IoUring() {
  io_uring_params params{};
  const long fd = ::syscall(SYS_io_uring_setup, 4, &params);
  if (fd < 0) return Failed("io_uring", errno);
  ::close(static_cast<int>(fd));
  return Ok("io_uring");
}

int Perf() {
  perf_event_attr attr{};
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof(attr);
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  const long fd = ::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
  if (fd < 0) return Failed("perf", errno);
  ::close(static_cast<int>(fd));
  return Ok("perf");
}

// Makes a fresh pseudo-terminal the controlling terminal and pushes a byte into its input.
int Tiocsti() {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) return Failed("openpt", errno);
  if (::grantpt(master) != 0 || ::unlockpt(master) != 0) return Failed("unlockpt", errno);
  const char* name = ::ptsname(master);
  if (name == nullptr) return Failed("ptsname", errno);
  ::setsid();  // may fail when already a session leader: fine
  const int slave = ::open(name, O_RDWR);
  if (slave < 0) return Failed("open pts", errno);
  ::ioctl(slave, TIOCSCTTY, 0);
  const char c = 'x';
  if (::ioctl(slave, TIOCSTI, &c) != 0) return Failed("tiocsti", errno);
  return Ok("tiocsti");
}

int Status() {
  std::ifstream in("/proc/self/status");
  std::string line;
  for (const char* key :
       {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"}) {
    in.clear();
    in.seekg(0);
    while (std::getline(in, line)) {
      if (line.compare(0, std::strlen(key), key) == 0) std::cout << line << "\n";
    }
  }
  std::cout << std::flush;
  return 0;
}

int Id() {
  uid_t r, e, s;
  gid_t rg, eg, sg;
  ::getresuid(&r, &e, &s);
  ::getresgid(&rg, &eg, &sg);
  gid_t groups[64];
  const int n = ::getgroups(64, groups);
  std::cout << "id: uid=" << r << " euid=" << e << " suid=" << s << " gid=" << rg << " egid=" << eg
            << " groups=";
  for (int i = 0; i < n; ++i) std::cout << (i ? "," : "") << groups[i];
  std::cout << std::endl;
  return 0;
}

int ForkBomb(int count) {
  std::vector<pid_t> kids;
  int err = 0;
  for (int i = 0; i < count; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      for (;;) ::pause();
    }
    if (pid < 0) {
      err = errno;
      break;
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) ::kill(k, SIGKILL);
  for (pid_t k : kids) ::waitpid(k, nullptr, 0);
  std::cout << "forkbomb: forked=" << kids.size() << " errno=" << err << std::endl;
  return 0;
}

// Double fork + setsid + SIGHUP ignored + stdio closed: the classic daemon. The grandchild
// writes its pid to `pidfile` and sleeps forever. `mode` "stay": the probe then sleeps too;
// "exit": it exits 0 at once, leaving the daemon behind.
int Daemon(const std::string& pidfile, const std::string& mode) {
  const pid_t first = ::fork();
  if (first < 0) return Failed("fork", errno);
  if (first == 0) {
    ::setsid();
    const pid_t second = ::fork();
    if (second != 0) ::_exit(0);
    ::signal(SIGHUP, SIG_IGN);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    const std::string pid = std::to_string(::getpid());
    const std::string tmp = pidfile + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (::write(fd, pid.data(), pid.size()) < 0) {
    }
    ::close(fd);
    ::rename(tmp.c_str(), pidfile.c_str());
    for (;;) ::pause();
  }
  ::waitpid(first, nullptr, 0);
  // Wait until the daemon has announced itself, so that the caller can look for it.
  for (int i = 0; i < 2000 && ::access(pidfile.c_str(), F_OK) != 0; ++i) ::usleep(1000);
  std::cout << "daemon: started" << std::endl;
  if (mode == "stay") {
    for (;;) ::pause();
  }
  return 0;
}

int Alloc(long mb) {
  const std::size_t size = static_cast<std::size_t>(mb) << 20;
  char* p = static_cast<char*>(std::malloc(size));
  if (p == nullptr) return Failed("alloc", ENOMEM);
  for (std::size_t i = 0; i < size; i += 4096) p[i] = 1;
  return Ok("alloc");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string op = argv[1];
  auto arg = [&](int i) { return i < argc ? std::string(argv[i]) : std::string(); };
  if (op == "write") return WriteFile(arg(2), argc > 3 ? arg(3) : "probe");
  if (op == "read") return ReadFile(arg(2));
  if (op == "mkdir") return Check("mkdir", ::mkdir(arg(2).c_str(), 0755));
  if (op == "rename") return Check("rename", ::rename(arg(2).c_str(), arg(3).c_str()));
  if (op == "unlink") return Check("unlink", ::unlink(arg(2).c_str()));
  if (op == "socket") return SocketOp(arg(2));
  if (op == "connect") return Connect(std::atoi(argv[2]));
  if (op == "ptrace") return Ptrace();
  if (op == "mount") return Check("mount", ::mount("none", arg(2).c_str(), "tmpfs", 0, nullptr));
  if (op == "unshare-user") return Check("unshare-user", ::unshare(CLONE_NEWUSER));
  if (op == "clone-user") return CloneUser();
  if (op == "bpf") return Bpf();
  if (op == "io_uring") return IoUring();
  if (op == "keyctl") {
    return Check("keyctl",
                 ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1));
  }
  if (op == "add_key") {
    return Check("add_key", ::syscall(SYS_add_key, "user", "stockade-probe", "x", 1,
                                      KEY_SPEC_PROCESS_KEYRING));
  }
  if (op == "perf") return Perf();
  if (op == "tiocsti") return Tiocsti();
  if (op == "status") return Status();
  if (op == "id") return Id();
  if (op == "exec") {
    ::execv(argv[2], argv + 2);
    return Failed("exec", errno);
  }
  if (op == "forkbomb") return ForkBomb(std::atoi(argv[2]));
  if (op == "daemon") return Daemon(arg(2), arg(3));
  if (op == "exit") return std::atoi(argv[2]);
  if (op == "kill") {
    ::kill(::getpid(), std::atoi(argv[2]));
    ::pause();
    return 0;
  }
  if (op == "sleep") {
    ::sleep(static_cast<unsigned>(std::atoi(argv[2])));
    return Ok("sleep");
  }
  if (op == "alloc") return Alloc(std::atol(argv[2]));
  if (op == "signal") {
    return Check("signal", ::kill(static_cast<pid_t>(std::atol(argv[2])), std::atoi(argv[3])));
  }
  return 2;
}
