// Process attacks: leaving the tree (double fork + setsid, nohup), reaching processes outside
// it (ptrace, signals, the service), regaining privilege (setuid), exhausting limits (processes,
// memory), and asking the service for a broader sandbox.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runner/protocol/messages.h"
#include "runner/selftest/probes/linux/linux_probes.h"
#include "runner/selftest/probes/linux/probe_util.h"

namespace stockade::runner::selftest::linux_probes {

namespace {

void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (::write(fd, text.data(), text.size()) < 0) {
  }
  ::close(fd);
  ::rename(tmp.c_str(), path.c_str());
}

bool WaitForFile(const std::string& path, int ms) {
  for (int i = 0; i < ms; ++i) {
    if (::access(path.c_str(), F_OK) == 0) return true;
    ::usleep(1000);
  }
  return false;
}

[[noreturn]] void SleepForever() {
  for (;;) ::pause();
}

void Detach() {
  ::signal(SIGHUP, SIG_IGN);
  const int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(null, 2);
}

// The classic daemon: fork, setsid, fork again, stdio to /dev/null, SIGHUP ignored. The
// grandchild announces its pid (as this PID namespace sees it) in `pidfile` and sleeps. It
// keeps this program's command line, marker included, which is how the orchestrator finds it.
ProbeReport Daemon(std::string_view probe, const ProbeArgs& args) {
  const std::string pidfile = args.Get("pidfile");
  if (pidfile.empty()) return Failed(probe, "missing argument pidfile=");
  const pid_t first = ::fork();
  if (first < 0) return Blocked(probe, ErrnoText("fork", errno));
  if (first == 0) {
    ::setsid();
    const pid_t second = ::fork();
    if (second != 0) ::_exit(second < 0 ? 1 : 0);
    Detach();
    WriteFileAtomically(pidfile,
                        std::to_string(::getpid()) + " sid " + std::to_string(::getsid(0)));
    SleepForever();
  }
  int status = 0;
  ::waitpid(first, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Blocked(probe, "the second fork failed in the session leader");
  }
  if (!WaitForFile(pidfile, 2000)) return Failed(probe, "the daemon never wrote " + pidfile);
  std::ifstream in(pidfile);
  std::string text;
  std::getline(in, text);
  return Allowed(probe, "daemon started (pid " + text +
                            "), detached by setsid; the run must not leave it alive");
}

// A child in its own process group that ignores SIGHUP and SIGTERM, left behind by its parent.
ProbeReport Nohup(std::string_view probe, const ProbeArgs& args) {
  const std::string pidfile = args.Get("pidfile");
  if (pidfile.empty()) return Failed(probe, "missing argument pidfile=");
  const pid_t child = ::fork();
  if (child < 0) return Blocked(probe, ErrnoText("fork", errno));
  if (child == 0) {
    ::setpgid(0, 0);
    ::signal(SIGTERM, SIG_IGN);
    Detach();
    WriteFileAtomically(pidfile, std::to_string(::getpid()));
    SleepForever();
  }
  if (!WaitForFile(pidfile, 2000)) return Failed(probe, "the child never wrote " + pidfile);
  return Allowed(probe, "child " + std::to_string(child) +
                            " ignores SIGHUP and SIGTERM in its own process group; orphaned now");
}

ProbeReport PtraceOutside(std::string_view probe, const ProbeArgs& args) {
  const pid_t pid = static_cast<pid_t>(args.GetInt("pid", 0));
  if (pid <= 0) return Failed(probe, "missing argument pid=");
  if (::ptrace(PTRACE_ATTACH, pid, nullptr, nullptr) != 0) {
    return Blocked(probe, ErrnoText("ptrace(PTRACE_ATTACH, " + std::to_string(pid) + ")", errno));
  }
  ::waitpid(pid, nullptr, __WALL);
  ::ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  return Escaped(probe, "attached to pid " + std::to_string(pid) + " (detached again)");
}

ProbeReport SignalOutside(std::string_view probe, const ProbeArgs& args) {
  const pid_t pid = static_cast<pid_t>(args.GetInt("pid", 0));
  if (pid <= 0) return Failed(probe, "missing argument pid=");
  if (::kill(pid, SIGTERM) != 0) {
    const int err = errno;
    if (err == ESRCH) {
      return Blocked(probe, ErrnoText("kill(" + std::to_string(pid) + ", SIGTERM)", err) +
                                ": the process is not visible from inside");
    }
    return Blocked(probe, ErrnoText("kill(" + std::to_string(pid) + ", SIGTERM)", err));
  }
  return Escaped(probe, "kill(" + std::to_string(pid) + ", SIGTERM) was delivered");
}

// Signal 0 asks the kernel whether a signal could be sent, without sending one.
ProbeReport KillService(std::string_view probe, const ProbeArgs& args) {
  const pid_t pid = static_cast<pid_t>(args.GetInt("pid", 1));
  if (::kill(pid, 0) != 0) {
    const int err = errno;
    return Blocked(probe, ErrnoText("kill(" + std::to_string(pid) + ", 0)", err) +
                              (err == ESRCH ? ": not visible from inside" : ""));
  }
  return Escaped(probe, "kill(" + std::to_string(pid) + ", 0) succeeded: the process (" +
                            args.Get("what") + ") could be killed");
}

// "Uid: real effective saved fs" of `pid`, and its "Name:".
bool ReadUids(const std::string& proc_pid, std::string* name, long* ruid, long* euid) {
  std::ifstream in("/proc/" + proc_pid + "/status");
  std::string line;
  bool got_uid = false;
  while (std::getline(in, line)) {
    if (line.rfind("Name:", 0) == 0) {
      *name = line.substr(5);
      name->erase(0, name->find_first_not_of(" \t"));
    } else if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      fields >> *ruid >> *euid;
      got_uid = true;
    }
  }
  return got_uid;
}

// Runs a setuid-root program and looks at the effective uid it gets. With "mode=report" the
// program is a setuid copy of stockade-probe that prints "euid=N"; otherwise it is a system
// program (passwd, su) whose uids are read from /proc while it waits for input on a pipe.
ProbeReport Setuid(std::string_view probe, const ProbeArgs& args) {
  const std::string program = args.Get("program");
  if (program.empty()) return Failed(probe, "missing argument program=");
  struct stat st {};
  if (::stat(program.c_str(), &st) != 0) {
    return Failed(probe, ErrnoText("stat(" + program + ")", errno));
  }
  // Only the bit: inside the unprovisioned mode's user namespace root is unmapped, so the owner
  // reads as the overflow uid. For the same reason privilege is judged by euid != ruid, which
  // holds in any namespace when the setuid bit took effect.
  if ((st.st_mode & S_ISUID) == 0) return Failed(probe, program + " has no setuid bit");
  if (args.Get("mode") == "report") {
    CommandResult r = RunCommand({program, "euid"}, "", {}, 5000);
    if (!r.error.empty()) return Blocked(probe, r.error);
    const std::size_t at = r.output.find("euid=");
    const std::size_t rat = r.output.find("ruid=");
    if (at == std::string::npos || rat == std::string::npos) {
      return Blocked(probe,
                     program + " exited " + std::to_string(r.status) + ": " + Excerpt(r.output));
    }
    const long euid = std::atol(r.output.c_str() + at + 5);
    const long ruid = std::atol(r.output.c_str() + rat + 5);
    const std::string ids =
        " (ruid " + std::to_string(ruid) + ", euid " + std::to_string(euid) + ")";
    if (euid != ruid) return Escaped(probe, program + " ran with another effective uid" + ids);
    return Blocked(
        probe, program + " ran without privilege" + ids + ": setuid bit ignored (no_new_privs)");
  }
  int in_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Failed(probe, ErrnoText("pipe2", errno));
  const std::string base = program.substr(program.rfind('/') + 1);
  for (int attempt = 0; attempt < 5; ++attempt) {
    // The child's pid as /proc names it: in the unprovisioned mode the tree has its own PID
    // namespace but sees the host's /proc, so fork()'s answer is not a /proc name. The child
    // reads /proc/self (resolved by that /proc) and sends it before exec.
    int name_pipe[2];
    if (::pipe2(name_pipe, O_CLOEXEC) != 0) return Failed(probe, ErrnoText("pipe2", errno));
    const pid_t child = ::fork();
    if (child < 0) return Failed(probe, ErrnoText("fork", errno));
    if (child == 0) {
      char self[32] = {};
      const ssize_t len = ::readlink("/proc/self", self, sizeof(self) - 1);
      if (len > 0 && ::write(name_pipe[1], self, static_cast<std::size_t>(len)) < 0) {
      }
      ::dup2(in_pipe[0], 0);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::setsid();  // no controlling terminal: the program reads its stdin, our pipe
      char* const argv[] = {const_cast<char*>(program.c_str()), nullptr};
      char* const envp[] = {nullptr};
      ::execve(program.c_str(), argv, envp);
      ::_exit(127);
    }
    ::close(name_pipe[1]);
    char proc_name[32] = {};
    const ssize_t got = ::read(name_pipe[0], proc_name, sizeof(proc_name) - 1);
    ::close(name_pipe[0]);
    const std::string proc_pid =
        got > 0 ? std::string(proc_name, static_cast<std::size_t>(got)) : std::to_string(child);
    std::string seen_name;
    long ruid = -1;
    long euid = -1;
    bool observed = false;
    for (int i = 0; i < 3000 && !observed; ++i) {
      std::string name;
      long r = -1;
      long e = -1;
      if (!ReadUids(proc_pid, &name, &r, &e)) break;
      // Until execve completes, the child is still a copy of this probe.
      if (name == base.substr(0, 15)) {
        observed = true;
        seen_name = name;
        ruid = r;
        euid = e;
      } else {
        ::usleep(500);
      }
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    if (observed) {
      ::close(in_pipe[0]);
      ::close(in_pipe[1]);
      const std::string ids =
          " (ruid " + std::to_string(ruid) + ", euid " + std::to_string(euid) + ")";
      if (euid != ruid) return Escaped(probe, program + " ran with another effective uid" + ids);
      return Blocked(
          probe, program + " ran without privilege" + ids + ": setuid bit ignored (no_new_privs)");
    }
  }
  ::close(in_pipe[0]);
  ::close(in_pipe[1]);
  return Failed(probe, "could not observe " + program + " after exec (it exited at once)");
}

ProbeReport ForkBomb(std::string_view probe, const ProbeArgs& args) {
  const long long count = args.GetInt("count", 0);
  if (count <= 0) return Failed(probe, "missing argument count=");
  std::vector<pid_t> kids;
  int err = 0;
  for (long long i = 0; i < count; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) SleepForever();
    if (pid < 0) {
      err = errno;
      break;
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) ::kill(k, SIGKILL);
  for (pid_t k : kids) ::waitpid(k, nullptr, 0);
  if (err != 0) {
    return Blocked(probe, "forked " + std::to_string(kids.size()) + " processes, then " +
                              ErrnoText("fork #" + std::to_string(kids.size() + 1), err));
  }
  return Escaped(probe, "forked all " + std::to_string(count) + " processes (the limit is " +
                            args.Get("limit") + ")");
}

// A child allocates and touches `mb` MiB, reporting its progress through a pipe; the OOM killer
// of the tree's memory limit should end it first.
ProbeReport Memory(std::string_view probe, const ProbeArgs& args) {
  const long long mb = args.GetInt("mb", 0);
  if (mb <= 0) return Failed(probe, "missing argument mb=");
  int progress[2];
  if (::pipe2(progress, O_CLOEXEC) != 0) return Failed(probe, ErrnoText("pipe2", errno));
  const pid_t child = ::fork();
  if (child < 0) return Failed(probe, ErrnoText("fork", errno));
  if (child == 0) {
    ::close(progress[0]);
    for (long long i = 0; i < mb; ++i) {
      char* chunk = static_cast<char*>(std::malloc(1 << 20));
      if (chunk == nullptr) ::_exit(3);
      for (int off = 0; off < (1 << 20); off += 4096) chunk[off] = 1;
      const int done = static_cast<int>(i + 1);
      if (::write(progress[1], &done, sizeof(done)) < 0) {
      }
    }
    ::_exit(0);
  }
  ::close(progress[1]);
  int last = 0;
  int value = 0;
  while (::read(progress[0], &value, sizeof(value)) == sizeof(value)) last = value;
  ::close(progress[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  const std::string touched = std::to_string(last) + " of " + std::to_string(mb) + " MiB";
  if (WIFSIGNALED(status)) {
    return Blocked(probe, "the allocating child was killed by signal " +
                              std::to_string(WTERMSIG(status)) + " after touching " + touched +
                              " (limit " + args.Get("limit") + " MiB)");
  }
  if (WEXITSTATUS(status) == 3) {
    return Blocked(probe, "malloc failed after " + touched);
  }
  return Escaped(probe,
                 "allocated and touched " + touched + " (limit " + args.Get("limit") + " MiB)");
}

bool ReadExactly(int fd, void* buf, std::size_t size, int timeout_ms) {
  auto* p = static_cast<unsigned char*>(buf);
  std::size_t got = 0;
  while (got < size) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    const ssize_t n = ::read(fd, p + got, size - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// Connects to the service's socket and asks for what the tree should never get: the online
// identity in "/" (a workspace nobody granted), stdio /dev/null.
ProbeReport ServiceSocket(std::string_view probe, const ProbeArgs& args) {
  const std::string path = args.Get("socket");
  if (path.empty()) return Failed(probe, "missing argument socket=");
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.ok()) return Blocked(probe, ErrnoText("socket(AF_UNIX)", errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return Failed(probe, "socket path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Blocked(probe, ErrnoText("connect(" + path + ")", errno));
  }
  protocol::RunRequest request;
  request.identity = "online";
  request.workspace = "/";
  request.cwd = "/";
  request.argv = {"/bin/sh", "-c", "id"};
  request.stdio = {protocol::StdioKind::kNull, protocol::StdioKind::kNull,
                   protocol::StdioKind::kNull};
  auto frame = protocol::EncodeMessage(request);
  if (!frame) return Failed(probe, "encode RunRequest: " + frame.error().ToString());
  if (::send(fd.get(), frame->data(), frame->size(), MSG_NOSIGNAL) < 0) {
    return Blocked(probe, "connected to " + path + "; " + ErrnoText("send", errno));
  }
  std::uint8_t header[protocol::kHeaderBytes];
  if (!ReadExactly(fd.get(), header, sizeof(header), 5000)) {
    return Blocked(probe, "connected to " + path +
                              "; the service closed the connection without starting anything");
  }
  auto decoded = protocol::DecodeHeader(header, sizeof(header));
  if (!decoded) return Blocked(probe, "reply: " + decoded.error().ToString());
  std::string payload(decoded->payload_bytes, '\0');
  if (!ReadExactly(fd.get(), payload.data(), payload.size(), 5000)) {
    return Blocked(probe, "reply truncated");
  }
  auto message = protocol::DecodePayload(decoded->type, payload);
  if (!message) return Blocked(probe, "reply: " + message.error().ToString());
  if (const auto* error = std::get_if<protocol::ErrorMessage>(&*message)) {
    return Blocked(probe, "the service refused the RunRequest (online, workspace /): " +
                              error->code + ": " + Excerpt(error->message, 160));
  }
  if (const auto* started = std::get_if<protocol::StartedMessage>(&*message)) {
    return Escaped(probe, "the service STARTED a run as online in / (session " +
                              started->session_id + ", pid " + std::to_string(started->pid) + ")");
  }
  return Escaped(probe, "the service answered " + protocol::MessageTypeName(decoded->type) +
                            " instead of refusing");
}

}  // namespace

bool RunProcessProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out) {
  if (name == "daemon") {
    *out = Daemon(name, args);
  } else if (name == "nohup") {
    *out = Nohup(name, args);
  } else if (name == "ptrace-outside") {
    *out = PtraceOutside(name, args);
  } else if (name == "signal-outside") {
    *out = SignalOutside(name, args);
  } else if (name == "kill-service") {
    *out = KillService(name, args);
  } else if (name == "setuid") {
    *out = Setuid(name, args);
  } else if (name == "forkbomb") {
    *out = ForkBomb(name, args);
  } else if (name == "memory") {
    *out = Memory(name, args);
  } else if (name == "service-socket") {
    *out = ServiceSocket(name, args);
  } else {
    return false;
  }
  return true;
}

}  // namespace stockade::runner::selftest::linux_probes
