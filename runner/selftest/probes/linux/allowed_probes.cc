// Allowed actions: what an agent must still be able to do inside the sandbox. A sandbox that
// blocks everything fails the selftest through these.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "runner/selftest/probes/linux/linux_probes.h"
#include "runner/selftest/probes/linux/probe_util.h"

namespace stockade::runner::selftest::linux_probes {

namespace {

std::string WriteWhole(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoText("open(" + path + ", O_CREAT)", errno);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  const int sync = ::fsync(fd);
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return ErrnoText("write(" + path + ")", err);
  if (sync != 0) return ErrnoText("fsync(" + path + ")", errno);
  return "";
}

std::string ReadWhole(const std::string& path, std::string* text) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoText("open(" + path + ")", errno);
  char buf[4096];
  ssize_t n;
  text->clear();
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) text->append(buf, static_cast<std::size_t>(n));
  const int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoText("read(" + path + ")", err);
  return "";
}

ProbeReport WorkspaceWrite(std::string_view probe, const ProbeArgs& args) {
  const std::string dir = args.Get("dir");
  if (dir.empty()) return Failed(probe, "missing argument dir=");
  const std::string sub = dir + "/ws-write";
  if (::mkdir(sub.c_str(), 0755) != 0 && errno != EEXIST) {
    return Blocked(probe, ErrnoText("mkdir(" + sub + ")", errno));
  }
  const std::string a = sub + "/file.txt";
  const std::string b = sub + "/renamed.txt";
  const std::string text = "stockade-selftest " + args.Get("marker") + "\n";
  std::string err = WriteWhole(a, text);
  if (!err.empty()) return Blocked(probe, err);
  std::string back;
  err = ReadWhole(a, &back);
  if (!err.empty()) return Blocked(probe, err);
  if (back != text) return Blocked(probe, "read back different content from " + a);
  if (::rename(a.c_str(), b.c_str()) != 0) return Blocked(probe, ErrnoText("rename", errno));
  if (::unlink(b.c_str()) != 0) return Blocked(probe, ErrnoText("unlink", errno));
  if (::rmdir(sub.c_str()) != 0) return Blocked(probe, ErrnoText("rmdir", errno));
  return Allowed(probe, "created, wrote, read back, renamed and removed a file in " + dir);
}

// Compiles and runs a C program. The compiler writes its temporary files under $TMPDIR: the
// tree's {temp} when the service set one, else the probe's folder.
ProbeReport Compile(std::string_view probe, const ProbeArgs& args) {
  const std::string dir = args.Get("dir");
  const std::string cc = args.Get("cc");
  if (dir.empty() || cc.empty()) return Failed(probe, "missing argument dir= or cc=");
  const std::string src = dir + "/hello.c";
  const std::string exe = dir + "/hello";
  std::string err =
      WriteWhole(src,
                 "#include <stdio.h>\nint main(void) { puts(\"stockade-selftest-compiled\"); "
                 "return 0; }\n");
  if (!err.empty()) return Blocked(probe, err);
  std::vector<std::string> env;
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmp_note = tmpdir != nullptr ? std::string("TMPDIR=") + tmpdir : "";
  if (tmpdir == nullptr || *tmpdir == '\0') {
    env.push_back("TMPDIR=" + dir);
    tmp_note = "TMPDIR unset, used " + dir;
  }
  CommandResult built = RunCommand({cc, "-o", exe, src}, dir, env, 60000);
  if (!built.error.empty()) return Blocked(probe, built.error);
  if (built.status != 0) {
    return Blocked(probe, cc + " exited " + std::to_string(built.status) + " (" + tmp_note +
                              "): " + Excerpt(built.output, 300));
  }
  CommandResult ran = RunCommand({exe}, dir, {}, 10000);
  ::unlink(src.c_str());
  ::unlink(exe.c_str());
  if (ran.status != 0 || ran.output.find("stockade-selftest-compiled") == std::string::npos) {
    return Blocked(probe, "the compiled program exited " + std::to_string(ran.status) + ": " +
                              Excerpt(ran.output));
  }
  return Allowed(probe, cc + " compiled hello.c (" + tmp_note + ") and it ran");
}

// git status in the repository the orchestrator made (owned by the invoking user, so git's
// ownership check is told that this one folder is safe, as an agent's harness would).
ProbeReport GitStatus(std::string_view probe, const ProbeArgs& args) {
  const std::string repo = args.Get("repo");
  const std::string git = args.Get("git");
  if (repo.empty() || git.empty()) return Failed(probe, "missing argument repo= or git=");
  CommandResult r = RunCommand(
      {git, "-c", "safe.directory=" + repo, "-C", repo, "status", "--porcelain", "--branch"}, repo,
      {"GIT_OPTIONAL_LOCKS=0"}, 30000);
  if (!r.error.empty()) return Blocked(probe, r.error);
  if (r.status != 0) {
    return Blocked(probe,
                   "git status exited " + std::to_string(r.status) + ": " + Excerpt(r.output, 300));
  }
  const std::string expected = args.Get("expect");
  if (!expected.empty() && r.output.find(expected) == std::string::npos) {
    return Blocked(probe, "git status did not list " + expected + ": " + Excerpt(r.output));
  }
  return Allowed(probe, "git status: " + Excerpt(r.output, 120));
}

}  // namespace

bool RunAllowedProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out) {
  if (name == "workspace-write") {
    *out = WorkspaceWrite(name, args);
  } else if (name == "compile") {
    *out = Compile(name, args);
  } else if (name == "git-status") {
    *out = GitStatus(name, args);
  } else {
    return false;
  }
  return true;
}

}  // namespace stockade::runner::selftest::linux_probes
