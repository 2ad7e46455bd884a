// File-system attacks: writes outside the roots, into protected paths, through links, reads of
// deny-read paths and of Stockade's own state. Attacks on real targets (the journal, the audit
// store, the policy) only open for writing and never change a byte; canaries the orchestrator
// made are really written, and the orchestrator re-reads them.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "runner/selftest/probes/linux/linux_probes.h"
#include "runner/selftest/probes/linux/probe_util.h"

namespace stockade::runner::selftest::linux_probes {

namespace {

constexpr char kPayload[] = "stockade-selftest: written from inside the sandbox\n";

// Creates (O_EXCL) and writes `path`. "" on success, else the errno text.
std::string CreateAndWrite(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return ErrnoText("open(" + path + ", O_CREAT|O_EXCL)", errno);
  const ssize_t n = ::write(fd, kPayload, sizeof(kPayload) - 1);
  const int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoText("write(" + path + ")", err);
  return "";
}

// Opens `path` for writing without truncating (O_WRONLY|O_APPEND) and writes nothing: enough to
// prove access, harmless to a real store. "" when the open succeeded.
std::string OpenForWriting(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return ErrnoText("open(" + path + ", O_WRONLY)", errno);
  ::close(fd);
  return "";
}

ProbeReport NewFileProbe(std::string_view probe, const std::string& path) {
  if (path.empty()) return Failed(probe, "missing argument path=");
  const std::string err = CreateAndWrite(path);
  if (err.empty()) {
    ::unlink(path.c_str());
    return Escaped(probe, "created and wrote " + path + " (removed again)");
  }
  return Blocked(probe, err);
}

ProbeReport OverwriteCanary(std::string_view probe, const ProbeArgs& args) {
  const std::string path = args.Get("path");
  if (path.empty()) return Failed(probe, "missing argument path=");
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Blocked(probe, ErrnoText("open(" + path + ", O_WRONLY|O_TRUNC)", errno));
  const ssize_t n = ::write(fd, kPayload, sizeof(kPayload) - 1);
  const int err = errno;
  ::close(fd);
  if (n < 0) return Blocked(probe, ErrnoText("write(" + path + ")", err));
  return Escaped(probe, "truncated and rewrote " + path);
}

ProbeReport RenameProtected(std::string_view probe, const ProbeArgs& args) {
  const std::string path = args.Get("path");
  if (path.empty()) return Failed(probe, "missing argument path=");
  const std::string moved = path + ".stockade-selftest-moved";
  if (::rename(path.c_str(), moved.c_str()) != 0) {
    return Blocked(probe, ErrnoText("rename(" + path + ", " + moved + ")", errno));
  }
  // Put it back at once: the selftest must not damage the workspace even when it escapes.
  const bool restored = ::rename(moved.c_str(), path.c_str()) == 0;
  return Escaped(probe, "renamed " + path + " to " + moved +
                            (restored ? " (renamed back)" : " (could NOT rename it back)"));
}

ProbeReport SymlinkOut(std::string_view probe, const ProbeArgs& args) {
  const std::string link = args.Get("link");
  const std::string target = args.Get("target");
  if (link.empty() || target.empty()) return Failed(probe, "missing argument link= or target=");
  if (::symlink(target.c_str(), link.c_str()) != 0) {
    return Blocked(probe, ErrnoText("symlink(" + target + ", " + link + ")", errno));
  }
  const int fd = ::open(link.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  const int err = errno;
  ::unlink(link.c_str());
  if (fd < 0) {
    return Blocked(probe,
                   "symlink created; " +
                       ErrnoText("open(" + link + " -> " + target + ", O_WRONLY|O_TRUNC)", err));
  }
  const ssize_t n = ::write(fd, kPayload, sizeof(kPayload) - 1);
  ::close(fd);
  return Escaped(probe, "wrote " + std::to_string(n) + " bytes to " + target + " through " + link);
}

ProbeReport HardlinkOut(std::string_view probe, const ProbeArgs& args) {
  const std::string link = args.Get("link");
  const std::string target = args.Get("target");
  if (link.empty() || target.empty()) return Failed(probe, "missing argument link= or target=");
  if (::link(target.c_str(), link.c_str()) != 0) {
    return Blocked(probe, ErrnoText("link(" + target + ", " + link + ")", errno));
  }
  // The link exists inside a writable root: writing through it is allowed by path, which is why
  // the link itself must be refused.
  const int fd = ::open(link.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  const int err = errno;
  std::string evidence = "hard link " + link + " to " + target + " created";
  if (fd >= 0) {
    const ssize_t n = ::write(fd, kPayload, sizeof(kPayload) - 1);
    ::close(fd);
    evidence += "; wrote " + std::to_string(n) + " bytes through it";
  } else {
    evidence += "; " + ErrnoText("open(link, O_WRONLY)", err);
  }
  ::unlink(link.c_str());
  return Escaped(probe, evidence);
}

ProbeReport ChmodOutside(std::string_view probe, const ProbeArgs& args) {
  const std::string path = args.Get("path");
  if (path.empty()) return Failed(probe, "missing argument path=");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Failed(probe, ErrnoText("stat(" + path + ")", errno));
  const mode_t wanted = (st.st_mode & 07777) == 0600 ? 0640 : 0600;
  if (::chmod(path.c_str(), wanted) != 0) {
    return Blocked(probe, ErrnoText("chmod(" + path + ")", errno));
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04o -> %04o", st.st_mode & 07777, wanted);
  return Escaped(probe, std::string("chmod(") + path + ") changed the mode " + buf);
}

ProbeReport ReadFileProbe(std::string_view probe, const std::string& path) {
  if (path.empty()) return Failed(probe, "missing argument path=");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Blocked(probe, ErrnoText("open(" + path + ", O_RDONLY)", errno));
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  const int err = errno;
  ::close(fd);
  if (n < 0) return Blocked(probe, ErrnoText("read(" + path + ")", err));
  return Escaped(probe, "read " + std::to_string(n) + " bytes of " + path + ": \"" +
                            Excerpt(std::string(buf, static_cast<std::size_t>(n)), 40) + "\"");
}

ProbeReport ReadSecrets(std::string_view probe, const ProbeArgs& args) {
  const std::string dir = args.Get("dir");
  const std::string file = args.Get("file");
  if (dir.empty()) return Failed(probe, "missing argument dir=");
  std::string evidence;
  bool escaped = false;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    evidence = ErrnoText("opendir(" + dir + ")", errno);
  } else {
    std::string names;
    int count = 0;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (count++ < 6) names += std::string(names.empty() ? "" : ",") + e->d_name;
    }
    ::closedir(d);
    // An empty listing is what the deny-read cover (an empty mode-000 tmpfs) would show if it
    // were readable at all; a listing with entries is the real folder.
    if (count > 0) {
      escaped = true;
      evidence = "listed " + dir + ": " + std::to_string(count) + " entries (" + names + ")";
    } else {
      evidence = "opendir(" + dir + ") shows an empty folder";
    }
  }
  if (!file.empty()) {
    ProbeReport r = ReadFileProbe(probe, file);
    escaped = escaped || r.outcome == ProbeOutcome::kEscaped;
    evidence += "; " + r.evidence;
  }
  return escaped ? Escaped(probe, evidence) : Blocked(probe, evidence);
}

ProbeReport OpenForWritingProbe(std::string_view probe, const ProbeArgs& args) {
  const std::string path = args.Get("path");
  if (!path.empty()) {
    const std::string err = OpenForWriting(path);
    if (err.empty()) return Escaped(probe, "opened " + path + " for writing (nothing written)");
    return Blocked(probe, err);
  }
  // No such file: try to create one in the folder that would hold it.
  const std::string dir = args.Get("dir");
  if (dir.empty()) return Failed(probe, "missing argument path= or dir=");
  return NewFileProbe(probe, dir + "/stockade-selftest-" + args.Get("marker"));
}

// /proc/<pid>/root is a magic link to that process's root: a way around path-based rules if the
// kernel did not check access to the process and the final path.
ProbeReport ProcRoot(std::string_view probe, const ProbeArgs& args) {
  const std::string path = args.Get("path");
  if (path.empty()) return Failed(probe, "missing argument path=");
  std::string evidence;
  for (const std::string prefix : {"/proc/1/root", "/proc/self/root"}) {
    const std::string via = prefix + path;
    const int fd = ::open(via.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
      const ssize_t n = ::write(fd, kPayload, sizeof(kPayload) - 1);
      ::close(fd);
      return Escaped(probe,
                     "opened " + via + " for writing, wrote " + std::to_string(n) + " bytes");
    }
    evidence += (evidence.empty() ? "" : "; ") + ErrnoText("open(" + via + ", O_WRONLY)", errno);
  }
  return Blocked(probe, evidence);
}

}  // namespace

bool RunFsProbe(std::string_view name, const ProbeArgs& args, ProbeReport* out) {
  if (name == "write-outside" || name == "write-git" || name == "write-codex" ||
      name == "write-agents" || name == "write-tmp" || name == "write-shm" ||
      name == "write-home") {
    *out = NewFileProbe(name, args.Get("path"));
  } else if (name == "overwrite-canary") {
    *out = OverwriteCanary(name, args);
  } else if (name == "rename-protected") {
    *out = RenameProtected(name, args);
  } else if (name == "symlink-out") {
    *out = SymlinkOut(name, args);
  } else if (name == "hardlink-out") {
    *out = HardlinkOut(name, args);
  } else if (name == "chmod-outside") {
    *out = ChmodOutside(name, args);
  } else if (name == "read-deny") {
    *out = ReadFileProbe(name, args.Get("path"));
  } else if (name == "read-secrets") {
    *out = ReadSecrets(name, args);
  } else if (name == "write-journal" || name == "write-audit" || name == "modify-policy") {
    *out = OpenForWritingProbe(name, args);
  } else if (name == "proc-root") {
    *out = ProcRoot(name, args);
  } else {
    return false;
  }
  return true;
}

}  // namespace stockade::runner::selftest::linux_probes
