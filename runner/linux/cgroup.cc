#include "runner/linux/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

namespace stockade::runner::linux_os {

namespace {

constexpr std::uint64_t kPageSize = 4096;

// mountinfo escapes blanks and backslashes as \ooo octal.
std::string UnescapeMountField(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string oct = field.substr(i + 1, 3);
      if (oct.size() == 3 && oct.find_first_not_of("01234567") == std::string::npos) {
        out.push_back(static_cast<char>(std::stoi(oct, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

// The caller's path relative to a hierarchy's mount, given the mount's root field.
std::string RelativeToMount(const std::string& own, const std::string& mount_root) {
  if (mount_root == "/" || mount_root.empty()) return own;
  if (own.compare(0, mount_root.size(), mount_root) == 0) {
    std::string rest = own.substr(mount_root.size());
    return rest.empty() ? "/" : rest;
  }
  return own;
}

std::string Join(const std::string& base, const std::string& rel) {
  std::string out = base;
  if (rel != "/" && !rel.empty()) out += rel;
  return out;
}

Expected<std::string> ReadSmallFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(ErrorCode::kIo, "open " + path, errno);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(ErrorCode::kIo, "read " + path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Status WriteFile(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return ErrnoError(err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kOs,
                      "open " + path + " for writing", err);
  }
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    const int err = errno;
    return ErrnoError(ErrorCode::kOs, "write '" + value + "' to " + path, err);
  }
  return OkStatus();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Writes a limit and reads it back: the kernel may accept a write and keep another value.
Status WriteLimit(const std::string& path, const std::string& value) {
  STOCKADE_RETURN_IF_ERROR(WriteFile(path, value));
  auto back = ReadSmallFile(path);
  if (!back.ok()) return back.error();
  if (Trim(*back) != value) {
    return Error(ErrorCode::kVerificationFailed,
                 path + " reads back '" + Trim(*back) + "' after writing '" + value + "'");
  }
  return OkStatus();
}

Status MakeDir(const std::string& path, bool may_exist) {
  if (::mkdir(path.c_str(), 0755) == 0) return OkStatus();
  const int err = errno;
  if (err == EEXIST && may_exist) return OkStatus();
  return ErrnoError(err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kOs,
                    "mkdir cgroup " + path, err);
}

bool HasWord(const std::string& list, const std::string& word) {
  std::istringstream in(list);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

// Reads "key value" lines (cgroup.events, memory.events, memory.oom_control).
std::optional<std::uint64_t> KeyValue(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return std::nullopt;
}

Expected<std::vector<pid_t>> ReadProcs(const std::string& dir) {
  auto text = ReadSmallFile(dir + "/cgroup.procs");
  if (!text.ok()) return text.error();
  std::vector<pid_t> pids;
  std::istringstream in(*text);
  long pid = 0;
  while (in >> pid) pids.push_back(static_cast<pid_t>(pid));
  return pids;
}

std::atomic<unsigned> g_tree_counter{0};

}  // namespace

Expected<CgroupLayout> DetectCgroupLayout() {
  auto mountinfo = ReadSmallFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return mountinfo.error();
  auto own = ReadSmallFile("/proc/self/cgroup");
  if (!own.ok()) return own.error();

  CgroupLayout layout;
  std::string v2_root, pids_root, memory_root;
  std::istringstream lines(*mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    // id parent maj:min root mountpoint options [optional...] - fstype source superoptions
    const std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, dev, root, mountpoint;
    head >> id >> parent >> dev >> root >> mountpoint;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype, source, superopts;
    tail >> fstype >> source >> superopts;
    if (fstype == "cgroup2" && layout.v2_mount.empty()) {
      layout.v2_mount = UnescapeMountField(mountpoint);
      v2_root = UnescapeMountField(root);
    } else if (fstype == "cgroup") {
      for (const auto& opt : Split(superopts, ',')) {
        if (opt == "pids" && layout.pids_v1_mount.empty()) {
          layout.pids_v1_mount = UnescapeMountField(mountpoint);
          pids_root = UnescapeMountField(root);
        } else if (opt == "memory" && layout.memory_v1_mount.empty()) {
          layout.memory_v1_mount = UnescapeMountField(mountpoint);
          memory_root = UnescapeMountField(root);
        }
      }
    }
  }

  std::istringstream cg(*own);
  while (std::getline(cg, line)) {
    // hierarchy-id:controller-list:path
    const std::size_t c1 = line.find(':');
    const std::size_t c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    const std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string path = line.substr(c2 + 1);
    if (line.compare(0, c1, "0") == 0 && controllers.empty()) {
      layout.v2_own = RelativeToMount(path, v2_root);
    }
    for (const auto& c : Split(controllers, ',')) {
      if (c == "pids") layout.pids_v1_own = RelativeToMount(path, pids_root);
      if (c == "memory") layout.memory_v1_own = RelativeToMount(path, memory_root);
    }
  }
  if (layout.v2_mount.empty() && layout.pids_v1_mount.empty()) {
    return Error(ErrorCode::kUnsupported,
                 "no cgroup2 hierarchy and no v1 pids hierarchy is mounted (/proc/self/mountinfo)");
  }
  return layout;
}

TreeCgroup::TreeCgroup(TreeCgroup&& other) noexcept
    : v2_path_(std::move(other.v2_path_)),
      pids_path_(std::move(other.pids_path_)),
      memory_path_(std::move(other.memory_path_)),
      v1_paths_(std::move(other.v1_paths_)),
      memory_on_v2_(other.memory_on_v2_),
      v2_dir_(std::move(other.v2_dir_)),
      join_(std::move(other.join_)),
      join_raw_(std::move(other.join_raw_)),
      removed_(std::exchange(other.removed_, true)) {}

TreeCgroup& TreeCgroup::operator=(TreeCgroup&& other) noexcept {
  if (this != &other) {
    this->~TreeCgroup();
    new (this) TreeCgroup(std::move(other));
  }
  return *this;
}

TreeCgroup::~TreeCgroup() {
  if (removed_) return;
  (void)Kill();
  (void)WaitUntilEmpty(std::chrono::seconds(5));
  (void)Remove();
}

namespace {

Status CheckParentName(const CgroupOptions& options) {
  if (options.parent_name.empty() || options.parent_name.find('/') != std::string::npos ||
      options.parent_name == "." || options.parent_name == "..") {
    return Error(ErrorCode::kInvalidArgument,
                 "cgroup parent name must be one plain name: '" + options.parent_name + "'");
  }
  return OkStatus();
}

// The parent's folder in one hierarchy mounted at `mount`, where the caller sits at `own`.
std::string ParentIn(const CgroupOptions& options, const std::string& mount,
                     const std::string& own) {
  return Join(mount, options.under_own_cgroup ? own : "/") + "/" + options.parent_name;
}

}  // namespace

Status RemoveCgroupParent(const CgroupLayout& layout, const CgroupOptions& options) {
  STOCKADE_RETURN_IF_ERROR(CheckParentName(options));
  for (const auto& [mount, own] : {std::pair{layout.v2_mount, layout.v2_own},
                                   std::pair{layout.pids_v1_mount, layout.pids_v1_own},
                                   std::pair{layout.memory_v1_mount, layout.memory_v1_own}}) {
    if (mount.empty()) continue;
    const std::string dir = ParentIn(options, mount, own);
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != EBUSY) {
      return ErrnoError(ErrorCode::kOs, "rmdir cgroup " + dir, errno);
    }
  }
  return OkStatus();
}

Expected<TreeCgroup> TreeCgroup::Create(const CgroupLayout& layout, const CgroupOptions& options,
                                        const LaunchLimits& limits) {
  STOCKADE_RETURN_IF_ERROR(CheckParentName(options));
  const std::string name =
      "run-" + std::to_string(::getpid()) + "-" + std::to_string(g_tree_counter.fetch_add(1));
  auto parent_in = [&](const std::string& mount, const std::string& own) {
    return ParentIn(options, mount, own);
  };

  TreeCgroup tree;
  tree.removed_ = false;  // from here on the destructor cleans up whatever was created

  const bool want_pids = limits.max_processes > 0;
  const bool want_memory = limits.memory_bytes > 0;
  const bool pids_v1 = !layout.pids_v1_mount.empty();
  const bool memory_v1 = !layout.memory_v1_mount.empty();

  if (!layout.v2_mount.empty()) {
    const std::string parent = parent_in(layout.v2_mount, layout.v2_own);
    STOCKADE_RETURN_IF_ERROR(MakeDir(parent, true));
    // Controllers that are not v1 here must come from v2: enable them for the parent's children.
    std::vector<std::string> needed;
    if (want_pids && !pids_v1) needed.push_back("pids");
    if (want_memory && !memory_v1) needed.push_back("memory");
    if (!needed.empty()) {
      auto available = ReadSmallFile(parent + "/cgroup.controllers");
      if (!available.ok()) return available.error();
      auto enabled = ReadSmallFile(parent + "/cgroup.subtree_control");
      if (!enabled.ok()) return enabled.error();
      for (const auto& c : needed) {
        if (HasWord(*enabled, c)) continue;
        if (!HasWord(*available, c)) {
          return Error(ErrorCode::kUnsupported,
                       "cgroup v2 controller '" + c + "' is not available in " + parent +
                           " (enable it in the cgroups above, or delegate a subtree to Stockade)");
        }
        STOCKADE_RETURN_IF_ERROR(WriteFile(parent + "/cgroup.subtree_control", "+" + c));
      }
    }
    tree.v2_path_ = parent + "/" + name;
    STOCKADE_RETURN_IF_ERROR(MakeDir(tree.v2_path_, false));
    tree.v2_dir_.Reset(::open(tree.v2_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!tree.v2_dir_.valid()) return ErrnoError(ErrorCode::kOs, "open " + tree.v2_path_, errno);
    if (want_pids && !pids_v1) tree.pids_path_ = tree.v2_path_;
    if (want_memory && !memory_v1) {
      tree.memory_path_ = tree.v2_path_;
      tree.memory_on_v2_ = true;
    }
  }

  auto make_v1 = [&](const std::string& mount, const std::string& own) -> Expected<std::string> {
    const std::string parent = parent_in(mount, own);
    STOCKADE_RETURN_IF_ERROR(MakeDir(parent, true));
    const std::string dir = parent + "/" + name;
    STOCKADE_RETURN_IF_ERROR(MakeDir(dir, false));
    tree.v1_paths_.push_back(dir);
    return dir;
  };
  // The v1 pids hierarchy is also what kills the tree on a machine without cgroup2, so it is
  // joined even without a process limit there.
  if (pids_v1 && (want_pids || layout.v2_mount.empty())) {
    auto dir = make_v1(layout.pids_v1_mount, layout.pids_v1_own);
    if (!dir.ok()) return dir.error();
    if (want_pids) tree.pids_path_ = *dir;
  }
  if (memory_v1 && want_memory) {
    auto dir = make_v1(layout.memory_v1_mount, layout.memory_v1_own);
    if (!dir.ok()) return dir.error();
    tree.memory_path_ = *dir;
  }
  if (want_pids && tree.pids_path_.empty()) {
    return Error(ErrorCode::kUnsupported, "no pids cgroup controller for the process limit");
  }
  if (want_memory && tree.memory_path_.empty()) {
    return Error(ErrorCode::kUnsupported, "no memory cgroup controller for the memory limit");
  }

  if (want_pids) {
    STOCKADE_RETURN_IF_ERROR(
        WriteLimit(tree.pids_path_ + "/pids.max", std::to_string(limits.max_processes)));
  }
  if (want_memory) {
    // Page-aligned, so that the value reads back exactly (v1 rounds down to whole pages).
    const std::uint64_t bytes = (limits.memory_bytes + kPageSize - 1) / kPageSize * kPageSize;
    const std::string value = std::to_string(bytes);
    if (tree.memory_on_v2_) {
      STOCKADE_RETURN_IF_ERROR(WriteLimit(tree.memory_path_ + "/memory.max", value));
      // Swap would let the tree exceed the limit on machines that have it.
      if (::access((tree.memory_path_ + "/memory.swap.max").c_str(), F_OK) == 0) {
        STOCKADE_RETURN_IF_ERROR(WriteLimit(tree.memory_path_ + "/memory.swap.max", "0"));
      }
    } else {
      STOCKADE_RETURN_IF_ERROR(WriteLimit(tree.memory_path_ + "/memory.limit_in_bytes", value));
      // memory + swap: absent when the kernel does not account swap.
      if (::access((tree.memory_path_ + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0) {
        STOCKADE_RETURN_IF_ERROR(
            WriteLimit(tree.memory_path_ + "/memory.memsw.limit_in_bytes", value));
      }
    }
  }

  // What the child writes itself into. v2 is entered by clone3 itself (CLONE_INTO_CGROUP).
  // The v1 "tasks" file, not "cgroup.procs": the child is single-threaded then, so moving its one
  // thread moves the whole process, and the kernel moves a thread that writes "0" for itself
  // without taking the global cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
  // period each time (on this project's VM under load: 0.9-2.2 ms mean, 26 ms worst, per
  // hierarchy; 0.02-0.05 ms through "tasks").
  for (const auto& dir : tree.v1_paths_) {
    UniqueFd fd(::open((dir + "/tasks").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(ErrorCode::kOs, "open " + dir + "/tasks", errno);
    tree.join_raw_.push_back(fd.get());
    tree.join_.push_back(std::move(fd));
  }
  return tree;
}

std::vector<std::string> TreeCgroup::paths() const {
  std::vector<std::string> out;
  if (!v2_path_.empty()) out.push_back(v2_path_);
  out.insert(out.end(), v1_paths_.begin(), v1_paths_.end());
  return out;
}

Expected<std::vector<pid_t>> TreeCgroup::Processes() const {
  std::set<pid_t> all;
  for (const auto& dir : paths()) {
    auto pids = ReadProcs(dir);
    if (!pids.ok()) {
      if (pids.error().os_error() == ENOENT) continue;  // already removed
      return pids.error();
    }
    all.insert(pids->begin(), pids->end());
  }
  return std::vector<pid_t>(all.begin(), all.end());
}

Status TreeCgroup::Kill() {
  if (!v2_path_.empty()) {
    Status st = WriteFile(v2_path_ + "/cgroup.kill", "1");
    if (st.ok()) return st;
    if (st.error().os_error() != ENOENT) return st;  // ENOENT: kernel older than 5.14
  }
  // No cgroup.kill: signal every listed process until none is listed. A process forking at the
  // same moment is listed again on the next round; the pids limit bounds how many there can be.
  for (int round = 0; round < 1000; ++round) {
    auto pids = Processes();
    if (!pids.ok()) return pids.error();
    if (pids->empty()) return OkStatus();
    for (pid_t pid : *pids) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Error(ErrorCode::kTimeout, "processes keep appearing in " + paths().front());
}

Status TreeCgroup::WaitUntilEmpty(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    bool empty = true;
    if (!v2_path_.empty()) {
      // "populated 0" counts descendants too, and only turns 0 once every task has exited.
      auto events = ReadSmallFile(v2_path_ + "/cgroup.events");
      if (events.ok()) {
        empty = KeyValue(*events, "populated").value_or(0) == 0;
      } else if (events.error().os_error() != ENOENT) {
        return events.error();
      }
    }
    if (empty) {
      auto pids = Processes();
      if (!pids.ok()) return pids.error();
      empty = pids->empty();
    }
    if (empty) return OkStatus();
    if (std::chrono::steady_clock::now() >= deadline) {
      auto pids = Processes();
      std::string list;
      if (pids.ok()) {
        for (pid_t p : *pids) list += " " + std::to_string(p);
      }
      return Error(ErrorCode::kTimeout, "processes still in " + paths().front() + ":" + list);
    }
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(10)) pause *= 2;
  }
}

Expected<std::uint64_t> TreeCgroup::OomKillCount() const {
  if (memory_path_.empty()) return std::uint64_t{0};
  auto text =
      ReadSmallFile(memory_path_ + (memory_on_v2_ ? "/memory.events" : "/memory.oom_control"));
  if (!text.ok()) return text.error();
  return KeyValue(*text, "oom_kill").value_or(0);
}

Status TreeCgroup::Remove() {
  if (removed_) return OkStatus();
  join_.clear();
  join_raw_.clear();
  v2_dir_.Reset();
  for (const auto& dir : paths()) {
    // A task that has just been killed may still be leaving the cgroup: EBUSY for a moment.
    for (int attempt = 0;; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      const int err = errno;
      if (err != EBUSY || attempt >= 200) {
        return ErrnoError(ErrorCode::kOs, "rmdir cgroup " + dir, err);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  removed_ = true;
  return OkStatus();
}

}  // namespace stockade::runner::linux_os
