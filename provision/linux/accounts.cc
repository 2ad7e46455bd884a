#include "provision/linux/accounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "provision/linux/process.h"

namespace stockade::provision::linux_os {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

Expected<AccountFile> ReadAccountFile(const std::string& path) {
  AccountFile file;
  file.path = path;
  Fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return file;
    return ErrnoError(ErrorCode::kIo, "open " + path, errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(ErrorCode::kIo, "fstat " + path, errno);
  file.exists = true;
  file.mode = st.st_mode & 07777;
  file.uid = st.st_uid;
  file.gid = st.st_gid;
  char buf[65536];
  for (;;) {
    ssize_t got = read(fd.get(), buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(ErrorCode::kIo, "read " + path, errno);
    }
    if (got == 0) break;
    file.bytes.append(buf, static_cast<size_t>(got));
  }
  return file;
}

bool SameFile(const AccountFile& a, const AccountFile& b) {
  if (a.exists != b.exists) return false;
  if (!a.exists) return true;
  return a.bytes == b.bytes && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid;
}

Status WriteFileAtomically(const AccountFile& want) {
  const std::string& path = want.path;
  std::string dir = path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  std::string base = path.substr(path.rfind('/') + 1);
  std::string tmp = dir + "/." + base + ".stockade-" + std::to_string(getpid());
  unlink(tmp.c_str());
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoError(ErrorCode::kIo, "create " + tmp, errno);
  auto fail = [&](const std::string& what) {
    Error e = ErrnoError(ErrorCode::kIo, what + " " + tmp, errno);
    unlink(tmp.c_str());
    return e;
  };
  size_t done = 0;
  while (done < want.bytes.size()) {
    ssize_t w = write(fd.get(), want.bytes.data() + done, want.bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += static_cast<size_t>(w);
  }
  if (fchown(fd.get(), want.uid, want.gid) != 0) return fail("fchown");
  if (fchmod(fd.get(), want.mode) != 0) return fail("fchmod");
  if (fsync(fd.get()) != 0) return fail("fsync");
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = ErrnoError(ErrorCode::kIo, "rename " + tmp + " to " + path, errno);
    unlink(tmp.c_str());
    return e;
  }
  Fd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) fsync(dfd.get());
  return OkStatus();
}

std::vector<char> LookupBuffer(int which) {
  long size = sysconf(which);
  if (size <= 0) size = 16384;
  return std::vector<char>(static_cast<size_t>(size));
}

// Calls a reentrant NSS lookup with a growing buffer and converts the entry while the buffer
// it points into is still alive. nullopt when there is no such entry.
template <typename Entry, typename Out, typename Fn, typename Convert>
Expected<std::optional<Out>> Lookup(int which, const std::string& what, Fn&& call,
                                    Convert&& convert) {
  std::vector<char> buf = LookupBuffer(which);
  for (;;) {
    Entry entry;
    Entry* result = nullptr;
    int rc = call(&entry, buf.data(), buf.size(), &result);
    if (rc == ERANGE && buf.size() < (1u << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
      return ErrnoError(ErrorCode::kOs, what, rc);
    }
    if (result == nullptr) return std::optional<Out>();
    return std::optional<Out>(convert(*result));
  }
}

UserInfo FromPasswd(const passwd& pw) {
  return UserInfo{pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir ? pw.pw_dir : "",
                  pw.pw_shell ? pw.pw_shell : ""};
}

GroupInfo FromGroup(const group& gr) {
  GroupInfo info{gr.gr_name, gr.gr_gid, {}};
  for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; ++m) info.members.emplace_back(*m);
  return info;
}

Expected<std::vector<LocalAccount>> ReadColonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoError(ErrorCode::kIo, "open " + path, errno);
  std::vector<LocalAccount> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-') continue;
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ':')) fields.push_back(field);
    if (fields.size() < 3) continue;
    char* end = nullptr;
    unsigned long id = std::strtoul(fields[2].c_str(), &end, 10);
    if (end == fields[2].c_str() || *end != '\0') continue;
    out.push_back({fields[0], static_cast<unsigned>(id)});
  }
  return out;
}

}  // namespace

const std::vector<std::string>& AccountFilePaths() {
  static const std::vector<std::string> kPaths = {"/etc/passwd",  "/etc/group",   "/etc/shadow",
                                                  "/etc/gshadow", "/etc/passwd-", "/etc/group-",
                                                  "/etc/shadow-", "/etc/gshadow-"};
  return kPaths;
}

bool AccountSnapshot::MainFilesEqual(const AccountSnapshot& other) const {
  if (files.size() != other.files.size() || files.size() < kMainAccountFiles) return false;
  for (int i = 0; i < kMainAccountFiles; ++i) {
    const AccountFile& a = files[static_cast<size_t>(i)];
    const AccountFile& b = other.files[static_cast<size_t>(i)];
    if (a.exists != b.exists || a.bytes != b.bytes) return false;
  }
  return true;
}

std::string AccountSnapshot::FirstDifference(const AccountSnapshot& other) const {
  if (files.size() != other.files.size()) return "number of files";
  for (size_t i = 0; i < files.size(); ++i) {
    if (!SameFile(files[i], other.files[i])) return files[i].path;
  }
  return "";
}

nlohmann::json AccountSnapshot::ToJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const AccountFile& f : files) {
    nlohmann::json j = {{"path", f.path}, {"exists", f.exists}};
    if (f.exists) {
      j["mode"] = f.mode;
      j["uid"] = f.uid;
      j["gid"] = f.gid;
      j["base64"] = Base64Encode(f.bytes);
    }
    out.push_back(std::move(j));
  }
  return out;
}

Expected<AccountSnapshot> AccountSnapshot::FromJson(const nlohmann::json& json) {
  auto corrupt = [](const std::string& what) {
    return Error(ErrorCode::kStateCorrupt, "account-file snapshot in the journal: " + what);
  };
  if (!json.is_array() || json.size() != AccountFilePaths().size()) return corrupt("not 8 files");
  AccountSnapshot snap;
  try {
    for (size_t i = 0; i < json.size(); ++i) {
      const nlohmann::json& j = json[i];
      AccountFile f;
      f.path = j.at("path").get<std::string>();
      if (f.path != AccountFilePaths()[i]) return corrupt("unexpected path " + f.path);
      f.exists = j.at("exists").get<bool>();
      if (f.exists) {
        f.mode = j.at("mode").get<unsigned>();
        f.uid = j.at("uid").get<uid_t>();
        f.gid = j.at("gid").get<gid_t>();
        auto bytes = Base64Decode(j.at("base64").get<std::string>());
        if (!bytes) return corrupt("bad base64 for " + f.path);
        f.bytes = std::move(*bytes);
      }
      snap.files.push_back(std::move(f));
    }
  } catch (const nlohmann::json::exception& e) {
    return corrupt(e.what());
  }
  return snap;
}

Expected<AccountSnapshot> SnapshotAccountFiles() {
  AccountSnapshot snap;
  for (const std::string& path : AccountFilePaths()) {
    auto f = ReadAccountFile(path);
    if (!f.ok()) return f.error();
    snap.files.push_back(std::move(*f));
  }
  return snap;
}

Status RestoreAccountBackups(const AccountSnapshot& before) {
  if (before.files.size() != AccountFilePaths().size()) {
    return Error(ErrorCode::kInvalidArgument, "account snapshot does not hold the eight files");
  }
  for (size_t i = kMainAccountFiles; i < before.files.size(); ++i) {
    const AccountFile& want = before.files[i];
    auto now = ReadAccountFile(want.path);
    if (!now.ok()) return now.error();
    if (SameFile(*now, want)) continue;
    if (!want.exists) {
      if (unlink(want.path.c_str()) != 0 && errno != ENOENT) {
        return ErrnoError(ErrorCode::kIo, "remove " + want.path, errno);
      }
      continue;
    }
    STOCKADE_RETURN_IF_ERROR(WriteFileAtomically(want));
  }
  return OkStatus();
}

Status RestoreBackupsIfMainUnchanged(const AccountSnapshot& before) {
  auto now = SnapshotAccountFiles();
  if (!now.ok()) return now.error();
  if (!now->MainFilesEqual(before)) return OkStatus();
  return RestoreAccountBackups(before);
}

Status VerifyAccountFilesRestored(const AccountSnapshot& before, const std::string& label) {
  auto now = SnapshotAccountFiles();
  if (!now.ok()) return now.error();
  if (!now->MainFilesEqual(before)) return OkStatus();  // changed by others since: not ours
  std::string diff = now->FirstDifference(before);
  if (!diff.empty()) {
    return Error(ErrorCode::kVerificationFailed,
                 label + ": " + diff + " differs from its journaled before-state");
  }
  return OkStatus();
}

Expected<std::optional<UserInfo>> LookupUser(const std::string& name) {
  return Lookup<passwd, UserInfo>(
      _SC_GETPW_R_SIZE_MAX, "getpwnam_r " + name,
      [&](passwd* e, char* b, size_t n, passwd** r) {
        return getpwnam_r(name.c_str(), e, b, n, r);
      },
      FromPasswd);
}

Expected<std::optional<UserInfo>> LookupUserById(uid_t uid) {
  return Lookup<passwd, UserInfo>(
      _SC_GETPW_R_SIZE_MAX, "getpwuid_r " + std::to_string(uid),
      [&](passwd* e, char* b, size_t n, passwd** r) { return getpwuid_r(uid, e, b, n, r); },
      FromPasswd);
}

Expected<std::optional<GroupInfo>> LookupGroup(const std::string& name) {
  return Lookup<group, GroupInfo>(
      _SC_GETGR_R_SIZE_MAX, "getgrnam_r " + name,
      [&](group* e, char* b, size_t n, group** r) { return getgrnam_r(name.c_str(), e, b, n, r); },
      FromGroup);
}

Expected<std::optional<GroupInfo>> LookupGroupById(gid_t gid) {
  return Lookup<group, GroupInfo>(
      _SC_GETGR_R_SIZE_MAX, "getgrgid_r " + std::to_string(gid),
      [&](group* e, char* b, size_t n, group** r) { return getgrgid_r(gid, e, b, n, r); },
      FromGroup);
}

Expected<std::vector<gid_t>> UserGroupIds(const std::string& name, gid_t primary) {
  int n = 32;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  for (int attempt = 0; attempt < 8; ++attempt) {
    int count = n;
    if (getgrouplist(name.c_str(), primary, groups.data(), &count) >= 0) {
      groups.resize(static_cast<size_t>(count));
      return groups;
    }
    n = count > n ? count : n * 2;
    groups.resize(static_cast<size_t>(n));
  }
  return Error(ErrorCode::kOs, "getgrouplist " + name + ": too many groups");
}

Expected<std::optional<std::string>> ShadowPassword(const std::string& name) {
  spwd sp;
  std::vector<char> buf(16384);
  for (;;) {
    spwd* result = nullptr;
    int rc = getspnam_r(name.c_str(), &sp, buf.data(), buf.size(), &result);
    if (rc == ERANGE && buf.size() < (1u << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (result == nullptr) {
      if (rc == 0 || rc == ENOENT) return std::optional<std::string>();
      return ErrnoError(ErrorCode::kOs, "getspnam_r " + name, rc);
    }
    return std::optional<std::string>(sp.sp_pwdp ? sp.sp_pwdp : "");
  }
}

Expected<std::vector<LocalAccount>> LocalUsers() { return ReadColonFile("/etc/passwd"); }
Expected<std::vector<LocalAccount>> LocalGroups() { return ReadColonFile("/etc/group"); }

long LoginDefsNumber(const std::string& key, long fallback) {
  std::ifstream in("/etc/login.defs");
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string k, v;
    if (!(ss >> k >> v) || k != key) continue;
    char* end = nullptr;
    long value = std::strtol(v.c_str(), &end, 0);
    if (end != v.c_str() && *end == '\0') return value;
  }
  return fallback;
}

Status RunShadowTool(const std::vector<std::string>& argv) {
  std::string command;
  for (const std::string& a : argv) command += (command.empty() ? "" : " ") + a;
  // Another provisioner, dpkg's maintainer scripts or an administrator may hold the lock for
  // a moment; shadow-utils fails at once in that case instead of waiting.
  for (int attempt = 0;; ++attempt) {
    auto result = RunProgram(argv);
    if (!result.ok()) return result.error().Wrap(command);
    if (result->succeeded()) return OkStatus();
    bool locked = result->err.find("cannot lock") != std::string::npos ||
                  result->err.find("try again later") != std::string::npos;
    if (!locked || attempt >= 25) {
      return Error(ErrorCode::kOs, command + " failed (" + result->Summary() + ")",
                   OsErrorKind::kNone, result->exit_code);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::vector<std::string> ProcessesOfUid(uid_t uid) {
  std::vector<std::string> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream status(std::string("/proc/") + e->d_name + "/status");
    std::string line, name;
    bool match = false;
    while (std::getline(status, line)) {
      if (line.rfind("Name:", 0) == 0) {
        name = line.substr(5);
        name.erase(0, name.find_first_not_of(" \t"));
      } else if (line.rfind("Uid:", 0) == 0) {
        std::stringstream ss(line.substr(4));
        unsigned long id;
        while (ss >> id) {
          if (id == uid) match = true;
        }
        break;
      }
    }
    if (match) out.push_back(std::string(e->d_name) + " (" + name + ")");
  }
  closedir(dir);
  return out;
}

std::string Base64Encode(const std::string& bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    unsigned v = byte(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + static_cast<size_t>(k)];
      if (c == '=') {
        // Padding only at the very end, at most two characters.
        if (i + 4 != text.size() || k < 2) return std::nullopt;
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;
        v[k] = value(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                 (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

}  // namespace stockade::provision::linux_os
