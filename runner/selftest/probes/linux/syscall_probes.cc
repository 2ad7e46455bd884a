// Kernel-interface attacks: namespaces, mounts, BPF, io_uring (which would bypass seccomp for
// file and network operations), keyrings, perf, TIOCSTI, cgroup membership, leaked descriptors.
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runner/selftest/probes/linux/linux_probes.h"
#include "runner/selftest/probes/linux/probe_util.h"

namespace stockade::runner::selftest::linux_probes {

namespace {

ProbeReport FdSyscall(std::string_view probe, const std::string& call, long rc) {
  if (rc < 0) return Blocked(probe, ErrnoText(call, errno));
  ::close(static_cast<int>(rc));
  return Escaped(probe, call + " returned descriptor " + std::to_string(rc));
}

ProbeReport UserNs(std::string_view probe) {
  // unshare() in a child, so that the probe itself stays in its namespace either way.
  std::string evidence;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
  int status = 0;
  ::waitpid(child, &status, 0);
  const int unshare_err = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (unshare_err == 0) return Escaped(probe, "unshare(CLONE_NEWUSER) succeeded");
  evidence = ErrnoText("unshare(CLONE_NEWUSER)", unshare_err);
  const long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) ::_exit(0);
  if (pid > 0) {
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return Escaped(probe, evidence + "; but clone(CLONE_NEWUSER) succeeded");
  }
  return Blocked(probe, evidence + "; " + ErrnoText("clone(CLONE_NEWUSER)", errno));
}

ProbeReport Setns(std::string_view probe) {
  const int fd = ::open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Blocked(probe, ErrnoText("open(/proc/1/ns/mnt)", errno));
  const long rc = ::syscall(SYS_setns, fd, CLONE_NEWNS);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Blocked(probe, "opened /proc/1/ns/mnt; " + ErrnoText("setns", err));
  return Escaped(probe, "joined init's mount namespace");
}

ProbeReport Mount(std::string_view probe, const ProbeArgs& args) {
  const std::string target = args.Get("path").empty() ? "/tmp" : args.Get("path");
  if (::mount("none", target.c_str(), "tmpfs", 0, nullptr) != 0) {
    return Blocked(probe, ErrnoText("mount(tmpfs, " + target + ")", errno));
  }
  ::umount2(target.c_str(), MNT_DETACH);
  return Escaped(probe, "mounted a tmpfs on " + target + " (unmounted again)");
}

ProbeReport Bpf(std::string_view probe) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  return FdSyscall(probe, "bpf(BPF_MAP_CREATE)",
                   ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
}

ProbeReport IoUring(std::string_view probe) {
  io_uring_params params{};
  return FdSyscall(probe, "io_uring_setup", ::syscall(SYS_io_uring_setup, 4, &params));
}

ProbeReport Keyctl(std::string_view probe) {
  const long id = ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  if (id >= 0) return Escaped(probe, "keyctl(GET_KEYRING_ID, session) = " + std::to_string(id));
  std::string evidence = ErrnoText("keyctl(KEYCTL_GET_KEYRING_ID)", errno);
  const long key =
      ::syscall(SYS_add_key, "user", "stockade-selftest", "x", 1, KEY_SPEC_PROCESS_KEYRING);
  if (key >= 0) return Escaped(probe, evidence + "; but add_key succeeded");
  return Blocked(probe, evidence + "; " + ErrnoText("add_key", errno));
}

ProbeReport Perf(std::string_view probe) {
  perf_event_attr attr{};
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof(attr);
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  return FdSyscall(probe, "perf_event_open", ::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

// TIOCSTI on every terminal the tree can reach (inherited stdio, /dev/tty), then on a fresh
// pseudo-terminal made its controlling terminal.
ProbeReport Tiocsti(std::string_view probe) {
  std::string evidence;
  const char c = ' ';
  for (int fd = 0; fd < 3; ++fd) {
    if (!::isatty(fd)) continue;
    if (::ioctl(fd, TIOCSTI, &c) == 0) {
      return Escaped(probe, "TIOCSTI on inherited fd " + std::to_string(fd) + " succeeded");
    }
    evidence += ErrnoText("ioctl(fd " + std::to_string(fd) + ", TIOCSTI)", errno) + "; ";
  }
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty >= 0) {
    const int rc = ::ioctl(tty, TIOCSTI, &c);
    const int err = errno;
    ::close(tty);
    if (rc == 0) return Escaped(probe, "TIOCSTI on /dev/tty succeeded");
    evidence += ErrnoText("ioctl(/dev/tty, TIOCSTI)", err) + "; ";
  } else {
    evidence += ErrnoText("open(/dev/tty)", errno) + "; ";
  }
  // In a child: setsid() + TIOCSCTTY would change the probe's own session.
  int report[2];
  if (::pipe(report) != 0) return Failed(probe, ErrnoText("pipe", errno));
  const pid_t child = ::fork();
  if (child == 0) {
    int result = -1;
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (master >= 0 && ::grantpt(master) == 0 && ::unlockpt(master) == 0) {
      const char* name = ::ptsname(master);
      ::setsid();
      const int slave = name != nullptr ? ::open(name, O_RDWR) : -1;
      if (slave >= 0) {
        ::ioctl(slave, TIOCSCTTY, 0);
        result = ::ioctl(slave, TIOCSTI, &c) == 0 ? 0 : errno;
      } else {
        result = 1000 + errno;
      }
    } else {
      result = 2000 + errno;
    }
    if (::write(report[1], &result, sizeof(result)) < 0) {
    }
    ::_exit(0);
  }
  ::close(report[1]);
  int result = -1;
  const bool got = ::read(report[0], &result, sizeof(result)) == sizeof(result);
  ::close(report[0]);
  ::waitpid(child, nullptr, 0);
  if (!got) return Failed(probe, evidence + "the pty child reported nothing");
  if (result == 0) return Escaped(probe, evidence + "TIOCSTI on a new pty succeeded");
  if (result >= 2000) return Blocked(probe, evidence + ErrnoText("posix_openpt", result - 2000));
  if (result >= 1000) return Blocked(probe, evidence + ErrnoText("open(pts)", result - 1000));
  return Blocked(probe, evidence + ErrnoText("ioctl(new pty, TIOCSTI)", result));
}

// Writes its pid into the root cgroup of every hierarchy it can see: out of the tree's
// cgroup, out of its kill and its limits.
ProbeReport CgroupEscape(std::string_view probe) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  std::vector<std::string> roots;
  while (std::getline(mounts, line)) {
    const std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, point;
    head >> id >> parent >> devno >> root >> point;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype, source, options;
    tail >> fstype >> source >> options;
    if (fstype == "cgroup2" ||
        (fstype == "cgroup" && (options.find("pids") != std::string::npos ||
                                options.find("memory") != std::string::npos))) {
      roots.push_back(point);
    }
  }
  if (roots.empty()) return Blocked(probe, "no cgroup hierarchy is visible in the tree");
  std::string evidence;
  for (const std::string& root : roots) {
    const std::string procs = root + "/cgroup.procs";
    const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      evidence += ErrnoText("open(" + procs + ")", errno) + "; ";
      continue;
    }
    const ssize_t n = ::write(fd, "0", 1);
    const int err = errno;
    ::close(fd);
    if (n == 1) return Escaped(probe, evidence + "moved itself into " + procs);
    evidence += ErrnoText("write(" + procs + ")", err) + "; ";
  }
  while (!evidence.empty() && (evidence.back() == ' ' || evidence.back() == ';')) {
    evidence.pop_back();
  }
  return Blocked(probe, evidence);
}

// Every descriptor above 2 that the tree inherited is a way out (a service socket, a store).
ProbeReport LeakedFds(std::string_view probe) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return Failed(probe, ErrnoText("opendir(/proc/self/fd)", errno));
  const int own = ::dirfd(dir);
  std::string leaked;
  int count = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == own) continue;
    char target[256] = {};
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    ++count;
    leaked += (leaked.empty() ? "" : ", ") + std::to_string(fd) + " -> " +
              (n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "?");
  }
  ::closedir(dir);
  if (count > 0) return Escaped(probe, std::to_string(count) + " inherited: " + leaked);
  return Blocked(probe, "only descriptors 0, 1 and 2 are open after exec");
}

}  // namespace

bool RunSyscallProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out) {
  if (name == "userns") {
    *out = UserNs(name);
  } else if (name == "setns") {
    *out = Setns(name);
  } else if (name == "mount") {
    *out = Mount(name, args);
  } else if (name == "bpf") {
    *out = Bpf(name);
  } else if (name == "io_uring") {
    *out = IoUring(name);
  } else if (name == "keyctl") {
    *out = Keyctl(name);
  } else if (name == "perf") {
    *out = Perf(name);
  } else if (name == "tiocsti") {
    *out = Tiocsti(name);
  } else if (name == "cgroup-escape") {
    *out = CgroupEscape(name);
  } else if (name == "leaked-fds") {
    *out = LeakedFds(name);
  } else {
    return false;
  }
  return true;
}

}  // namespace stockade::runner::selftest::linux_probes
