#include "provision/steps/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace stockade::provision::file_io {
namespace {

ErrorCode CodeFor(int err) {
  return err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kIo;
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result (close can report a deferred write error).
  int Close() {
    int rc = close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string ParentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A rename or unlink is durable only once the folder holding the entry is flushed.
Status SyncParent(const std::string& path) {
  const std::string dir = ParentOf(path);
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    return ErrnoError(CodeFor(err), "opening folder " + dir + " to flush it", err);
  }
  if (fsync(fd.get()) != 0) {
    int err = errno;
    return ErrnoError(ErrorCode::kIo, "flushing folder " + dir, err);
  }
  return OkStatus();
}

}  // namespace

std::uint32_t SignificantModeBits() { return 07777; }

std::string TempPathFor(const std::string& path) { return path + ".stockade-new"; }

Expected<FileSnapshot> Read(const std::string& path) {
  FileSnapshot snap;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return snap;
    return ErrnoError(CodeFor(err), "reading the status of " + path, err);
  }
  snap.mode = static_cast<std::uint32_t>(st.st_mode) & 07777;
  if (S_ISDIR(st.st_mode)) {
    snap.type = NodeType::kDirectory;
    return snap;
  }
  if (!S_ISREG(st.st_mode)) {
    snap.type = NodeType::kOther;
    return snap;
  }
  snap.type = NodeType::kRegular;
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    int err = errno;
    return ErrnoError(CodeFor(err), "opening " + path + " to read it", err);
  }
  char buffer[65536];
  while (true) {
    ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      return ErrnoError(ErrorCode::kIo, "reading " + path, err);
    }
    if (n == 0) break;
    snap.content.append(buffer, static_cast<size_t>(n));
  }
  return snap;
}

Status WriteAtomically(const std::string& path, std::string_view content, std::uint32_t mode) {
  const std::string temp = TempPathFor(path);
  {
    // O_TRUNC without O_EXCL: a temp file left by a crashed write is simply reused.
    Fd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) {
      int err = errno;
      return ErrnoError(CodeFor(err), "creating " + temp, err);
    }
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
      if (n < 0) {
        int err = errno;
        if (err == EINTR) continue;
        return ErrnoError(ErrorCode::kIo, "writing " + temp, err);
      }
      done += static_cast<size_t>(n);
    }
    // fchmod is not subject to the umask, so the mode is exactly the one asked for.
    if (fchmod(fd.get(), static_cast<mode_t>(mode & 07777)) != 0) {
      int err = errno;
      return ErrnoError(CodeFor(err), "setting the mode of " + temp, err);
    }
    if (fsync(fd.get()) != 0) {
      int err = errno;
      return ErrnoError(ErrorCode::kIo, "flushing " + temp, err);
    }
    if (fd.Close() != 0) {
      int err = errno;
      return ErrnoError(ErrorCode::kIo, "closing " + temp, err);
    }
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    return ErrnoError(CodeFor(err), "renaming " + temp + " over " + path, err);
  }
  return SyncParent(path);
}

Status Remove(const std::string& path) {
  if (unlink(path.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT) return OkStatus();
    return ErrnoError(CodeFor(err), "removing " + path, err);
  }
  return SyncParent(path);
}

Status RemoveTemp(const std::string& path) { return Remove(TempPathFor(path)); }

Status MakeDirectory(const std::string& path, std::uint32_t mode) {
  if (mkdir(path.c_str(), static_cast<mode_t>(mode & 07777)) != 0) {
    int err = errno;
    struct stat st {};
    if (err == EEXIST && lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return OkStatus();
    return ErrnoError(CodeFor(err), "creating folder " + path, err);
  }
  // mkdir applies the umask; the folder gets exactly the mode asked for.
  if (chmod(path.c_str(), static_cast<mode_t>(mode & 07777)) != 0) {
    int err = errno;
    return ErrnoError(CodeFor(err), "setting the mode of folder " + path, err);
  }
  return SyncParent(path);
}

Expected<bool> RemoveEmptyDirectory(const std::string& path) {
  if (rmdir(path.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT) return true;
    if (err == ENOTEMPTY || err == EEXIST) return false;
    return ErrnoError(CodeFor(err), "removing folder " + path, err);
  }
  if (Status s = SyncParent(path); !s.ok()) return s.error();
  return true;
}

}  // namespace stockade::provision::file_io
