#include "provision/linux/acl_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "provision/linux/fs_at.h"

namespace stockade::provision::linux_os {
namespace {

constexpr size_t kXattrBufferSize = 65536;  // XATTR_SIZE_MAX: no ACL is larger
constexpr size_t kSmallXattrSize = 260;     // 32 entries: nearly every ACL

std::string Shown(const std::string& relpath) {
  return relpath.empty() ? "." : EscapeRelPath(relpath);
}

Error XattrError(const std::string& what, const std::string& relpath, int err) {
  ErrorCode code = ErrorCode::kIo;
  std::string why = what + " of " + Shown(relpath);
  if (err == EOPNOTSUPP) {
    code = ErrorCode::kUnsupported;
    why += " (the filesystem does not support POSIX ACLs)";
  } else if (err == EPERM || err == EACCES) {
    code = ErrorCode::kPermissionDenied;
    why += " (refused: immutable or append-only file?)";
  }
  return ErrnoError(code, why, err);
}

// A node of the walk. Directories come with their own open fd and fstat; other files with
// their parent's fd and name only (callbacks stat them when they need to).
struct Node {
  int parent_fd;  // -1 for the root
  const char* name;
  int fd;  // directories only; -1 otherwise
  bool is_dir;
  const struct stat* st;  // directories only
  std::uint64_t ino;
  const std::string& relpath;
  bool is_protected;
};

struct DirCloser {
  void operator()(DIR* d) const {
    if (d != nullptr) closedir(d);
  }
};

// Directories waiting to be walked by one of the threads of a walk, by path relative to the
// root. A thread that takes one reopens it from the root fd with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV): no component may be a symlink and nothing outside the
// tree's filesystem is reached, so handing work over by path loses none of the fd-relative
// walk's guarantees.
class WalkQueue {
 public:
  struct Item {
    std::string relpath;
    bool prot = false;
  };

  explicit WalkQueue(int threads) : threads_(threads) {}

  void Push(Item item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
  }

  // Blocks until there is an item (true) or the walk is over or stopped (false).
  bool Pop(Item* out) {
    std::unique_lock<std::mutex> lock(mu_);
    ++idle_;
    cv_.wait(lock, [&] { return stopped_ || !items_.empty() || idle_ == threads_; });
    if (stopped_ || items_.empty()) {
      cv_.notify_all();  // the walk is over: wake the others
      return false;
    }
    --idle_;
    *out = std::move(items_.front());
    items_.pop_front();
    return true;
  }

  // True when a thread waits for work and none is queued for it: worth handing a directory over
  // instead of descending into it.
  bool Hungry() {
    std::lock_guard<std::mutex> lock(mu_);
    return !stopped_ && static_cast<int>(items_.size()) < idle_;
  }

  void Stop(const Error& error) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = error;
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }
  std::optional<Error> error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  const int threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  int idle_ = 0;
  bool stopped_ = false;
  std::optional<Error> error_;
};

// Depth-first walk of one thread; calls fn(Node) for the root, every directory (before its
// children) and every regular file. Symlinks, special files and other filesystems are counted
// and skipped. fn returns a Status; an error stops the walk. With a queue, subdirectories are
// handed to idle threads instead of being descended into.
class Walker {
 public:
  Walker(const GrantRules* rules, TreeStats* stats, WalkQueue* queue, dev_t root_dev)
      : rules_(rules), stats_(stats), queue_(queue), root_dev_(root_dev) {}

  // Walks the directory `fd` (already opened and stat'ed) at `relpath` and everything below it.
  template <typename Fn>
  Status Walk(UniqueFd fd, const struct stat& st, const std::string& relpath, bool prot, Fn& fn) {
    path_ = relpath;
    return Dir(std::move(fd), -1, "", st, prot, fn);
  }

 private:
  bool IsProtected(const char* name) const {
    if (rules_ == nullptr) return false;
    for (const std::string& p : rules_->protected_names) {
      if (p == name) return true;
    }
    for (const std::string& p : rules_->protected_relpaths) {
      if (p == path_) return true;
    }
    return false;
  }

  template <typename Fn>
  Status Dir(UniqueFd fd, int parent_fd, const char* name, const struct stat& st, bool prot,
             Fn& fn) {
    if (queue_ != nullptr && queue_->stopped()) return OkStatus();
    ++stats_->dirs;
    if (prot) ++stats_->protected_nodes;
    {
      Node node{parent_fd, name, fd.get(), true, &st, static_cast<std::uint64_t>(st.st_ino),
                path_,     prot};
      STOCKADE_RETURN_IF_ERROR(fn(node));
    }
    std::unique_ptr<DIR, DirCloser> dir(fdopendir(fd.get()));
    if (!dir) return ErrnoError(ErrorCode::kIo, "read directory " + Shown(path_), errno);
    fd.Release();  // owned by the DIR now
    const int dfd = dirfd(dir.get());
    const size_t base = path_.size();
    for (;;) {
      errno = 0;
      dirent* e = readdir(dir.get());
      if (e == nullptr) {
        if (errno != 0) {
          path_.resize(base);
          return ErrnoError(ErrorCode::kIo, "read directory " + Shown(path_), errno);
        }
        break;
      }
      const char* n = e->d_name;
      if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
      path_.resize(base);
      if (base != 0) path_ += '/';
      path_ += n;
      const bool child_prot = prot || IsProtected(n);
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat cst;
        if (fstatat(dfd, n, &cst, AT_SYMLINK_NOFOLLOW) != 0) {
          if (errno == ENOENT) {
            ++stats_->vanished;
            continue;
          }
          return ErrnoError(ErrorCode::kIo, "stat " + Shown(path_), errno);
        }
        type = static_cast<unsigned char>(IFTODT(cst.st_mode));
      }
      if (type == DT_LNK) {
        ++stats_->skipped_links;
        continue;
      }
      if (type == DT_DIR) {
        if (queue_ != nullptr && queue_->Hungry()) {
          queue_->Push({path_, child_prot});
          continue;
        }
        UniqueFd cfd(openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!cfd.valid()) {
          int err = errno;
          // Gone, or replaced by a symlink or a file since readdir: not followed, not ours.
          if (err == ENOENT || err == ELOOP || err == ENOTDIR) {
            ++stats_->vanished;
            continue;
          }
          return ErrnoError(ErrorCode::kIo, "open directory " + Shown(path_), err);
        }
        struct stat cst;
        if (fstat(cfd.get(), &cst) != 0) {
          return ErrnoError(ErrorCode::kIo, "stat " + Shown(path_), errno);
        }
        if (cst.st_dev != root_dev_) {
          ++stats_->skipped_mounts;
          continue;
        }
        STOCKADE_RETURN_IF_ERROR(Dir(std::move(cfd), dfd, n, cst, child_prot, fn));
        continue;
      }
      if (type != DT_REG) {
        ++stats_->skipped_special;
        continue;
      }
      ++stats_->files;
      if (child_prot) ++stats_->protected_nodes;
      Node node{dfd,   n,         -1, false, nullptr, static_cast<std::uint64_t>(e->d_ino),
                path_, child_prot};
      STOCKADE_RETURN_IF_ERROR(fn(node));
    }
    path_.resize(base);
    return OkStatus();
  }

  const GrantRules* rules_;
  TreeStats* stats_;
  WalkQueue* queue_;
  dev_t root_dev_;
  std::string path_;
};

std::atomic<int> g_walk_threads{0};  // 0: default

long OpenTree2(int root_fd, const std::string& relpath) {
  struct open_how how {};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV;
  return syscall(SYS_openat2, root_fd, relpath.c_str(), &how, sizeof how);
}

// How many threads a walk uses: the configured number, else the CPUs (at most 4: beyond that the
// filesystem's locks, not the CPUs, are the limit); 1 when openat2 is missing (Linux < 5.6).
int WalkThreads(int root_fd) {
  int n = g_walk_threads.load();
  if (n <= 0) {
    unsigned hw = std::thread::hardware_concurrency();
    n = static_cast<int>(std::clamp(hw, 1u, 4u));
  }
  if (n > 1) {
    long fd = OpenTree2(root_fd, ".");
    if (fd < 0) return 1;
    close(static_cast<int>(fd));
  }
  return n;
}

void AddStats(TreeStats* into, const TreeStats& s) {
  into->files += s.files;
  into->dirs += s.dirs;
  into->protected_nodes += s.protected_nodes;
  into->skipped_links += s.skipped_links;
  into->skipped_special += s.skipped_special;
  into->skipped_mounts += s.skipped_mounts;
  into->vanished += s.vanished;
  into->acl_reads += s.acl_reads;
  into->acl_writes += s.acl_writes;
  into->drifted += s.drifted;
}

// Runs a walk of the tree at `root_fd` on `stats->size()` threads. fn(worker, node) is called
// concurrently for different nodes, each worker index on one thread only, so per-worker state
// indexed by it needs no lock. The first error stops every thread and is returned.
template <typename Fn>
Status RunWalk(int root_fd, const GrantRules* rules, std::vector<TreeStats>* stats, Fn& fn) {
  UniqueFd fd(openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(ErrorCode::kIo, "open the tree's root", errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(ErrorCode::kIo, "stat the tree's root", errno);
  const int threads = static_cast<int>(stats->size());
  if (threads <= 1) {
    auto one = [&](const Node& n) { return fn(0, n); };
    Walker walker(rules, &(*stats)[0], nullptr, st.st_dev);
    return walker.Walk(std::move(fd), st, "", false, one);
  }
  WalkQueue queue(threads);
  auto worker = [&](int w, UniqueFd first) {
    auto mine = [&](const Node& n) { return fn(w, n); };
    Walker walker(rules, &(*stats)[static_cast<size_t>(w)], &queue, st.st_dev);
    if (first.valid()) {
      Status s = walker.Walk(std::move(first), st, "", false, mine);
      if (!s.ok()) queue.Stop(s.error());
    }
    WalkQueue::Item item;
    while (queue.Pop(&item)) {
      long cfd = OpenTree2(root_fd, item.relpath);
      if (cfd < 0) {
        int err = errno;
        if (err == EXDEV) {
          ++(*stats)[static_cast<size_t>(w)].skipped_mounts;
          continue;
        }
        if (err == ENOENT || err == ELOOP || err == ENOTDIR) {
          ++(*stats)[static_cast<size_t>(w)].vanished;  // gone or replaced: not followed
          continue;
        }
        queue.Stop(ErrnoError(ErrorCode::kIo, "open directory " + Shown(item.relpath), err));
        continue;
      }
      UniqueFd child(static_cast<int>(cfd));
      struct stat cst;
      if (fstat(child.get(), &cst) != 0) {
        queue.Stop(ErrnoError(ErrorCode::kIo, "stat " + Shown(item.relpath), errno));
        continue;
      }
      Status s = walker.Walk(std::move(child), cst, item.relpath, item.prot, mine);
      if (!s.ok()) queue.Stop(s.error());
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) pool.emplace_back(worker, w, UniqueFd());
  worker(0, std::move(fd));
  for (std::thread& t : pool) t.join();
  if (auto e = queue.error()) return *e;
  return OkStatus();
}

// xattr I/O on a node, with a reusable buffer.
class AclIo {
 public:
  explicit AclIo(TreeStats* stats) : buf_(new char[kXattrBufferSize]), stats_(stats) {}

  // 1: read into *out; 0: no such ACL; -1: error (errno set).
  int Read(const Node& n, const char* attr, Acl* out) {
    ++stats_->acl_reads;
    // The kernel allocates (and zeroes) a buffer of the size we pass on every call: asking for
    // 64 KiB each time costs more than the lookup itself. Small first; large only on ERANGE.
    char small[kSmallXattrSize];
    char* buf = small;
    ssize_t got = ReadInto(n, attr, small, sizeof small);
    if (got < 0 && errno == ERANGE) {
      buf = buf_.get();
      got = ReadInto(n, attr, buf, kXattrBufferSize);
    }
    if (got < 0) return errno == ENODATA ? 0 : -1;
    auto acl = DecodeAclXattr(buf, static_cast<size_t>(got));
    if (!acl.ok()) {
      errno = EINVAL;
      return -1;
    }
    *out = std::move(*acl);
    return 1;
  }

  static ssize_t ReadInto(const Node& n, const char* attr, char* buf, size_t size) {
    return n.is_dir ? fgetxattr(n.fd, attr, buf, size)
                    : GetXattrAt(n.parent_fd, n.name, attr, buf, size);
  }

  int Write(const Node& n, const char* attr, const Acl& acl) {
    ++stats_->acl_writes;
    EncodeAclXattr(acl, &enc_);
    return n.is_dir ? fsetxattr(n.fd, attr, enc_.data(), enc_.size(), 0)
                    : SetXattrAt(n.parent_fd, n.name, attr, enc_.data(), enc_.size());
  }

  int Remove(const Node& n, const char* attr) {
    ++stats_->acl_writes;
    int rc = n.is_dir ? fremovexattr(n.fd, attr) : RemoveXattrAt(n.parent_fd, n.name, attr);
    if (rc != 0 && errno == ENODATA) return 0;
    return rc;
  }

 private:
  std::unique_ptr<char[]> buf_;
  std::string enc_;
  TreeStats* stats_;
};

AclTag TagOf(const AclPrincipal& p) { return p.is_group ? AclTag::kGroup : AclTag::kUser; }

bool NamesPrincipal(const AclEntry& e, const std::vector<AclPrincipal>& principals) {
  if (e.tag != AclTag::kUser && e.tag != AclTag::kGroup) return false;
  for (const AclPrincipal& p : principals) {
    if (e.tag == TagOf(p) && e.id == p.id) return true;
  }
  return false;
}

bool HasNamedEntries(const Acl& acl) {
  for (const AclEntry& e : acl) {
    if (e.tag == AclTag::kUser || e.tag == AclTag::kGroup) return true;
  }
  return false;
}

// Sets each principal's entry: `exact` replaces its permissions by `want` (protected subtrees
// lose w), otherwise `want` is added to what it has. The mask only gains the bits `want` needs
// (a minimal ACL's mask starts from the owning group's bits): recalculating it as the union of
// all group-class entries, as setfacl does, would also hand other named entries permissions
// that the mask had been hiding from them.
void AddPrincipals(Acl* acl, const std::vector<AclPrincipal>& principals, std::uint16_t want,
                   bool exact) {
  std::optional<std::uint16_t> mask;
  std::uint16_t group_obj = 0;
  for (const AclEntry& e : *acl) {
    if (e.tag == AclTag::kMask) mask = e.perm;
    if (e.tag == AclTag::kGroupObj) group_obj = e.perm;
  }
  for (const AclPrincipal& p : principals) {
    auto it = std::find_if(acl->begin(), acl->end(),
                           [&](const AclEntry& e) { return e.tag == TagOf(p) && e.id == p.id; });
    if (it == acl->end()) {
      acl->push_back({TagOf(p), want, p.id});
    } else {
      it->perm = exact ? want : static_cast<std::uint16_t>(it->perm | want);
    }
  }
  std::uint16_t new_mask = static_cast<std::uint16_t>(mask.value_or(group_obj) | want);
  if (mask) {
    for (AclEntry& e : *acl) {
      if (e.tag == AclTag::kMask) e.perm = new_mask;
    }
  } else {
    acl->push_back({AclTag::kMask, new_mask, kAclUndefinedId});
  }
  SortAcl(acl);
}

// Execute for "X": a directory, or a file whose owner, owning group or others may execute it
// (read from the base entries, not the mask, so that a grant's own mask never turns X into x
// on the next run).
bool WantsExecute(const Acl& access) {
  for (const AclEntry& e : access) {
    if ((e.tag == AclTag::kUserObj || e.tag == AclTag::kGroupObj || e.tag == AclTag::kOther) &&
        (e.perm & kAclExecute)) {
      return true;
    }
  }
  return false;
}

// The ACL without the principals' entries; minimal (mask dropped) when no named entry is left.
Acl StripPrincipals(const Acl& acl, const std::vector<AclPrincipal>& principals) {
  Acl out;
  out.reserve(acl.size());
  for (const AclEntry& e : acl) {
    if (!NamesPrincipal(e, principals)) out.push_back(e);
  }
  if (HasNamedEntries(out)) {
    RecalculateMask(&out);
  } else {
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](const AclEntry& e) { return e.tag == AclTag::kMask; }),
              out.end());
  }
  return out;
}

// The base entries (u::, g::, o::) of an access ACL: what setfacl starts a new default ACL from.
Acl BaseEntries(const Acl& access) {
  Acl out;
  for (const AclEntry& e : access) {
    if (e.tag == AclTag::kUserObj || e.tag == AclTag::kGroupObj || e.tag == AclTag::kOther) {
      out.push_back(e);
    }
  }
  return out;
}

std::string Describe(const AclEntry& e) {
  Acl one{e};
  return AclToText(one);
}

// Collects verification differences: a count and the first few descriptions (one per thread;
// merged at the end).
class DriftLog {
 public:
  DriftLog(TreeStats* stats, int max_reported) : stats_(stats), max_(max_reported) {}
  void Add(const std::string& relpath, const std::string& what) {
    if (static_cast<int>(first_.size()) < max_) first_.push_back(Shown(relpath) + ": " + what);
  }
  void EndNode(bool drifted) {
    if (drifted) ++stats_->drifted;
  }
  const std::vector<std::string>& first() const { return first_; }

 private:
  TreeStats* stats_;
  int max_;
  std::vector<std::string> first_;
};

Status DriftResult(const std::vector<DriftLog>& logs, const TreeStats& total, int max_reported,
                   const std::string& what) {
  if (total.drifted == 0) return OkStatus();
  std::vector<std::string> first;
  for (const DriftLog& log : logs) {
    for (const std::string& f : log.first()) first.push_back(f);
  }
  std::sort(first.begin(), first.end());  // stable messages whatever the thread timing
  if (static_cast<int>(first.size()) > max_reported)
    first.resize(static_cast<size_t>(max_reported));
  std::string msg = std::to_string(total.drifted) + " node(s) " + what + "; ";
  for (size_t i = 0; i < first.size(); ++i) msg += (i ? "; " : "") + first[i];
  return Error(ErrorCode::kVerificationFailed, msg);
}

// Per-thread I/O helpers and counters for one walk; `stats` receives the sum at the end.
struct Workers {
  Workers(int root_fd, TreeStats* total) : total_(total) {
    int n = WalkThreads(root_fd);
    stats.resize(static_cast<size_t>(n));
    io.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) io.emplace_back(&stats[static_cast<size_t>(i)]);
  }
  ~Workers() {
    for (const TreeStats& s : stats) AddStats(total_, s);
  }
  size_t size() const { return stats.size(); }
  TreeStats Sum() const {
    TreeStats sum;
    for (const TreeStats& s : stats) AddStats(&sum, s);
    return sum;
  }

  std::vector<TreeStats> stats;
  std::vector<AclIo> io;

 private:
  TreeStats* total_;
};

}  // namespace

void SetTreeWalkThreads(int threads) { g_walk_threads.store(threads < 0 ? 0 : threads); }

Expected<std::vector<PriorAcl>> CaptureNonMinimalAcls(int root_fd, TreeStats* stats) {
  Workers workers(root_fd, stats);
  std::vector<std::vector<PriorAcl>> found(workers.size());
  auto fn = [&](int w, const Node& n) -> Status {
    AclIo& io = workers.io[static_cast<size_t>(w)];
    Acl access, def;
    int ra = io.Read(n, kAccessAclXattr, &access);
    if (ra < 0) return XattrError("read the access ACL", n.relpath, errno);
    int rd = 0;
    if (n.is_dir) {
      rd = io.Read(n, kDefaultAclXattr, &def);
      if (rd < 0) return XattrError("read the default ACL", n.relpath, errno);
    }
    if (ra == 0 && rd == 0) return OkStatus();
    PriorAcl prior;
    prior.relpath = n.relpath;
    prior.ino = n.ino;
    if (ra == 1) prior.access = AclToText(access);
    if (rd == 1) prior.default_acl = AclToText(def);
    found[static_cast<size_t>(w)].push_back(std::move(prior));
    return OkStatus();
  };
  STOCKADE_RETURN_IF_ERROR(RunWalk(root_fd, nullptr, &workers.stats, fn));
  std::vector<PriorAcl> out;
  for (auto& part : found) {
    for (PriorAcl& p : part) out.push_back(std::move(p));
  }
  // The journal holds them in path order, whatever order the threads found them in.
  std::sort(out.begin(), out.end(),
            [](const PriorAcl& a, const PriorAcl& b) { return a.relpath < b.relpath; });
  return out;
}

Status GrantAclTree(int root_fd, const GrantRules& rules, TreeStats* stats) {
  Workers workers(root_fd, stats);
  auto fn = [&](int w, const Node& n) -> Status {
    AclIo& io = workers.io[static_cast<size_t>(w)];
    TreeStats& st_w = workers.stats[static_cast<size_t>(w)];
    struct stat fst;
    const struct stat* st = n.st;
    if (!n.is_dir) {
      if (fstatat(n.parent_fd, n.name, &fst, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
          ++st_w.vanished;
          return OkStatus();
        }
        return ErrnoError(ErrorCode::kIo, "stat " + Shown(n.relpath), errno);
      }
      if (!S_ISREG(fst.st_mode)) {  // replaced since readdir: never follow or grant through it
        ++st_w.vanished;
        return OkStatus();
      }
      st = &fst;
    }
    Acl access;
    int ra = io.Read(n, kAccessAclXattr, &access);
    if (ra < 0) {
      if (errno == ENOENT) {
        ++st_w.vanished;
        return OkStatus();
      }
      return XattrError("read the access ACL", n.relpath, errno);
    }
    if (ra == 0) access = MinimalAclFromMode(st->st_mode);
    const std::uint16_t x = (n.is_dir || WantsExecute(access)) ? kAclExecute : 0;
    const std::uint16_t want = n.is_protected
                                   ? static_cast<std::uint16_t>(kAclRead | x)
                                   : static_cast<std::uint16_t>(kAclRead | kAclWrite | x);
    Acl updated = access;
    AddPrincipals(&updated, rules.principals, want, n.is_protected);
    if (ra == 0 || updated != access) {
      if (io.Write(n, kAccessAclXattr, updated) != 0) {
        return XattrError("set the access ACL", n.relpath, errno);
      }
    }
    if (!n.is_dir) return OkStatus();
    const std::uint16_t want_default =
        n.is_protected ? static_cast<std::uint16_t>(kAclRead | kAclExecute)
                       : static_cast<std::uint16_t>(kAclRead | kAclWrite | kAclExecute);
    Acl def;
    int rd = io.Read(n, kDefaultAclXattr, &def);
    if (rd < 0) return XattrError("read the default ACL", n.relpath, errno);
    if (rd == 0) def = BaseEntries(access);
    Acl new_def = def;
    AddPrincipals(&new_def, rules.principals, want_default, n.is_protected);
    if (rd == 0 || new_def != def) {
      if (io.Write(n, kDefaultAclXattr, new_def) != 0) {
        return XattrError("set the default ACL", n.relpath, errno);
      }
    }
    return OkStatus();
  };
  return RunWalk(root_fd, &rules, &workers.stats, fn);
}

Status VerifyAclTree(int root_fd, const GrantRules& rules,
                     const std::vector<AclCheckSubject>& subjects, TreeStats* stats,
                     int max_reported) {
  Workers workers(root_fd, stats);
  std::vector<DriftLog> drifts;
  for (TreeStats& s : workers.stats) drifts.emplace_back(&s, max_reported);
  auto fn = [&](int w, const Node& n) -> Status {
    AclIo& io = workers.io[static_cast<size_t>(w)];
    DriftLog& drift = drifts[static_cast<size_t>(w)];
    struct stat fst;
    const struct stat* st = n.st;
    if (!n.is_dir) {
      if (fstatat(n.parent_fd, n.name, &fst, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(fst.st_mode)) {
        ++workers.stats[static_cast<size_t>(w)].vanished;
        return OkStatus();
      }
      st = &fst;
    }
    Acl access;
    int ra = io.Read(n, kAccessAclXattr, &access);
    if (ra < 0) return XattrError("read the access ACL", n.relpath, errno);
    if (ra == 0) access = MinimalAclFromMode(st->st_mode);
    bool bad = false;
    const std::uint16_t need =
        n.is_dir ? (kAclRead | kAclWrite | kAclExecute) : (kAclRead | kAclWrite);
    const std::uint16_t need_protected = n.is_dir ? (kAclRead | kAclExecute) : kAclRead;
    for (const AclCheckSubject& s : subjects) {
      std::uint16_t eff = EffectivePerms(access, st->st_uid, st->st_gid, s.subject);
      if (n.is_protected) {
        if (eff & kAclWrite) {
          drift.Add(n.relpath,
                    s.label + " can write inside a protected path (" + PermString(eff) + ")");
          bad = true;
        } else if (!AclAllows(access, st->st_uid, st->st_gid, s.subject, need_protected)) {
          drift.Add(n.relpath,
                    s.label + " has " + PermString(eff) + ", needs " + PermString(need_protected));
          bad = true;
        }
      } else if (!AclAllows(access, st->st_uid, st->st_gid, s.subject, need)) {
        std::string why = s.label + " has " + PermString(eff) + ", needs " + PermString(need);
        auto mask = std::find_if(access.begin(), access.end(),
                                 [](const AclEntry& e) { return e.tag == AclTag::kMask; });
        if (mask != access.end() && (mask->perm & need) != need) {
          why += " (the mask " + PermString(mask->perm) +
                 " removes it: a chmod of the group bits lowers the mask)";
        }
        drift.Add(n.relpath, why);
        bad = true;
      }
    }
    if (n.is_dir) {
      Acl def;
      int rd = io.Read(n, kDefaultAclXattr, &def);
      if (rd < 0) return XattrError("read the default ACL", n.relpath, errno);
      if (rd == 0) {
        drift.Add(n.relpath, "has no default ACL (new files would not be granted)");
        bad = true;
      } else {
        std::uint16_t mask = 7;
        for (const AclEntry& e : def) {
          if (e.tag == AclTag::kMask) mask = e.perm;
        }
        const std::uint16_t want =
            n.is_protected ? (kAclRead | kAclExecute) : (kAclRead | kAclWrite | kAclExecute);
        for (const AclPrincipal& p : rules.principals) {
          auto it = std::find_if(def.begin(), def.end(), [&](const AclEntry& e) {
            return e.tag == TagOf(p) && e.id == p.id;
          });
          std::string who = (p.is_group ? "g:" : "u:") + std::to_string(p.id);
          if (it == def.end()) {
            drift.Add(n.relpath, "default ACL lacks " + who);
            bad = true;
          } else if (n.is_protected ? (it->perm & mask) != want || (it->perm & kAclWrite)
                                    : (it->perm & mask & want) != want) {
            drift.Add(n.relpath, "default ACL gives " + who + " " +
                                     PermString(static_cast<std::uint16_t>(it->perm & mask)) +
                                     ", expected " + PermString(want));
            bad = true;
          }
        }
      }
    }
    drift.EndNode(bad);
    return OkStatus();
  };
  STOCKADE_RETURN_IF_ERROR(RunWalk(root_fd, &rules, &workers.stats, fn));
  return DriftResult(drifts, workers.Sum(), max_reported, "do not carry the grant");
}

Status RevokeAclTree(int root_fd, const std::vector<AclPrincipal>& principals,
                     const std::vector<PriorAcl>& prior, TreeStats* stats) {
  std::unordered_map<std::string, const PriorAcl*> by_path;
  by_path.reserve(prior.size());
  for (const PriorAcl& p : prior) by_path[p.relpath] = &p;
  Workers workers(root_fd, stats);
  struct Errors {
    std::optional<Error> first;
    std::uint64_t count = 0;
    void Note(Error e) {
      if (!first) first = std::move(e);
      ++count;
    }
  };
  std::vector<Errors> errors(workers.size());
  auto fn = [&](int w, const Node& n) -> Status {
    AclIo& io = workers.io[static_cast<size_t>(w)];
    Errors& err = errors[static_cast<size_t>(w)];
    const PriorAcl* p = nullptr;
    if (!by_path.empty()) {
      auto it = by_path.find(n.relpath);
      if (it != by_path.end() && it->second->ino == n.ino) p = it->second;
    }
    Acl access;
    int ra = io.Read(n, kAccessAclXattr, &access);
    if (ra < 0) {
      if (errno != ENOENT) err.Note(XattrError("read the access ACL", n.relpath, errno));
      return OkStatus();
    }
    // The access ACL to end with (nullopt: leave as it is).
    std::optional<Acl> target;
    if (p != nullptr && p->access) {
      auto want = AclFromText(*p->access);
      if (!want.ok()) {
        err.Note(want.error().Wrap("journaled ACL of " + Shown(n.relpath)));
        return OkStatus();
      }
      if (ra == 0 || *want != access) target = std::move(*want);
    } else if (ra == 1) {
      Acl stripped = StripPrincipals(access, principals);
      if (stripped != access) target = std::move(stripped);
    }
    if (target && io.Write(n, kAccessAclXattr, *target) != 0 && errno != ENOENT) {
      err.Note(XattrError("restore the access ACL", n.relpath, errno));
    }
    if (!n.is_dir) return OkStatus();
    Acl def;
    int rd = io.Read(n, kDefaultAclXattr, &def);
    if (rd < 0) {
      err.Note(XattrError("read the default ACL", n.relpath, errno));
      return OkStatus();
    }
    if (p != nullptr) {
      if (p->default_acl) {
        auto want = AclFromText(*p->default_acl);
        if (!want.ok()) {
          err.Note(want.error().Wrap("journaled default ACL of " + Shown(n.relpath)));
        } else if ((rd == 0 || *want != def) && io.Write(n, kDefaultAclXattr, *want) != 0) {
          err.Note(XattrError("restore the default ACL", n.relpath, errno));
        }
      } else if (rd == 1 && io.Remove(n, kDefaultAclXattr) != 0) {
        err.Note(XattrError("remove the default ACL", n.relpath, errno));
      }
      return OkStatus();
    }
    if (rd == 0) return OkStatus();
    Acl stripped = StripPrincipals(def, principals);
    if (stripped == def) return OkStatus();
    int rc = HasNamedEntries(stripped) ? io.Write(n, kDefaultAclXattr, stripped)
                                       : io.Remove(n, kDefaultAclXattr);
    if (rc != 0) err.Note(XattrError("strip the default ACL", n.relpath, errno));
    return OkStatus();
  };
  Status walked = RunWalk(root_fd, nullptr, &workers.stats, fn);
  Errors all;
  if (!walked.ok()) all.Note(walked.error());
  for (Errors& e : errors) {
    if (e.first) {
      if (!all.first) all.first = e.first;
      all.count += e.count;
    }
  }
  if (all.first) {
    return Error(
        all.first->code(),
        std::to_string(all.count) + " error(s) while revoking; first: " + all.first->context(),
        all.first->os_kind(), all.first->os_error());
  }
  return OkStatus();
}

Status VerifyAclTreeRevoked(int root_fd, const std::vector<AclPrincipal>& principals,
                            const std::vector<PriorAcl>& prior, TreeStats* stats,
                            int max_reported) {
  std::unordered_map<std::string, const PriorAcl*> by_path;
  for (const PriorAcl& p : prior) by_path[p.relpath] = &p;
  Workers workers(root_fd, stats);
  std::vector<DriftLog> drifts;
  for (TreeStats& s : workers.stats) drifts.emplace_back(&s, max_reported);
  auto fn = [&](int w, const Node& n) -> Status {
    AclIo& io = workers.io[static_cast<size_t>(w)];
    DriftLog& drift = drifts[static_cast<size_t>(w)];
    bool bad = false;
    Acl access, def;
    int ra = io.Read(n, kAccessAclXattr, &access);
    if (ra < 0) return XattrError("read the access ACL", n.relpath, errno);
    int rd = 0;
    if (n.is_dir) {
      rd = io.Read(n, kDefaultAclXattr, &def);
      if (rd < 0) return XattrError("read the default ACL", n.relpath, errno);
    }
    for (const AclEntry& e : access) {
      if (ra == 1 && NamesPrincipal(e, principals)) {
        drift.Add(n.relpath, "access ACL still has " + Describe(e));
        bad = true;
      }
    }
    for (const AclEntry& e : def) {
      if (rd == 1 && NamesPrincipal(e, principals)) {
        drift.Add(n.relpath, "default ACL still has " + Describe(e));
        bad = true;
      }
    }
    auto it = by_path.find(n.relpath);
    if (it != by_path.end() && it->second->ino == n.ino) {
      const PriorAcl& p = *it->second;
      std::optional<std::string> now_access, now_default;
      if (ra == 1) now_access = AclToText(access);
      if (rd == 1) now_default = AclToText(def);
      if (p.access && now_access != p.access) {
        drift.Add(n.relpath,
                  "access ACL is " + now_access.value_or("minimal") + ", was " + *p.access);
        bad = true;
      }
      if (n.is_dir && now_default != p.default_acl) {
        drift.Add(n.relpath, "default ACL is " + now_default.value_or("none") + ", was " +
                                 p.default_acl.value_or("none"));
        bad = true;
      }
    }
    drift.EndNode(bad);
    return OkStatus();
  };
  STOCKADE_RETURN_IF_ERROR(RunWalk(root_fd, nullptr, &workers.stats, fn));
  return DriftResult(drifts, workers.Sum(), max_reported, "still differ from before the grant");
}

Expected<std::vector<AclFinding>> FindAclEntries(int root_fd, const std::vector<uid_t>& uids,
                                                 const std::vector<gid_t>& gids, bool owned_too,
                                                 std::size_t limit, TreeStats* stats) {
  std::vector<AclPrincipal> principals;
  for (uid_t u : uids) principals.push_back({false, u});
  for (gid_t g : gids) principals.push_back({true, g});
  Workers workers(root_fd, stats);
  std::vector<std::vector<AclFinding>> found(workers.size());
  auto fn = [&](int w, const Node& n) -> Status {
    AclIo& io = workers.io[static_cast<size_t>(w)];
    std::vector<AclFinding>& out = found[static_cast<size_t>(w)];
    if (out.size() >= limit) return OkStatus();
    Acl acl;
    for (const char* attr : {kAccessAclXattr, kDefaultAclXattr}) {
      if (attr == kDefaultAclXattr && !n.is_dir) break;
      int r = io.Read(n, attr, &acl);
      if (r < 0) {
        if (errno == ENOENT) return OkStatus();
        return XattrError("read an ACL", n.relpath, errno);
      }
      if (r == 0) continue;
      for (const AclEntry& e : acl) {
        if (NamesPrincipal(e, principals) && out.size() < limit) {
          out.push_back({n.relpath, std::string(attr == kAccessAclXattr ? "access" : "default") +
                                        " ACL entry " + Describe(e)});
        }
      }
    }
    if (owned_too) {
      struct stat fst;
      const struct stat* st = n.st;
      if (!n.is_dir) {
        if (fstatat(n.parent_fd, n.name, &fst, AT_SYMLINK_NOFOLLOW) != 0) return OkStatus();
        st = &fst;
      }
      bool by_uid = std::find(uids.begin(), uids.end(), st->st_uid) != uids.end();
      bool by_gid = std::find(gids.begin(), gids.end(), st->st_gid) != gids.end();
      if ((by_uid || by_gid) && out.size() < limit) {
        out.push_back({n.relpath, by_uid ? "owned by uid " + std::to_string(st->st_uid)
                                         : "group-owned by gid " + std::to_string(st->st_gid)});
      }
    }
    return OkStatus();
  };
  STOCKADE_RETURN_IF_ERROR(RunWalk(root_fd, nullptr, &workers.stats, fn));
  std::vector<AclFinding> out;
  for (auto& part : found) {
    for (AclFinding& f : part) out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const AclFinding& a, const AclFinding& b) {
    return a.relpath != b.relpath ? a.relpath < b.relpath : a.what < b.what;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Expected<NodeAcls> ReadAclsOfFd(int fd, mode_t mode, bool is_dir, const std::string& what) {
  TreeStats stats;
  AclIo io(&stats);
  std::string empty;
  Node n{-1, "", fd, true, nullptr, 0, empty, false};  // fd-based I/O for any kind of file
  NodeAcls out;
  int ra = io.Read(n, kAccessAclXattr, &out.access);
  if (ra < 0) return ErrnoError(ErrorCode::kIo, "read the access ACL of " + what, errno);
  out.has_access_xattr = ra == 1;
  if (ra == 0) out.access = MinimalAclFromMode(mode);
  if (is_dir) {
    Acl def;
    int rd = io.Read(n, kDefaultAclXattr, &def);
    if (rd < 0) return ErrnoError(ErrorCode::kIo, "read the default ACL of " + what, errno);
    if (rd == 1) out.default_acl = std::move(def);
  }
  return out;
}

Status WriteAclsOfFd(int fd, const Acl& access, const std::optional<Acl>* default_acl,
                     const std::string& what) {
  TreeStats stats;
  AclIo io(&stats);
  std::string empty;
  Node n{-1, "", fd, true, nullptr, 0, empty, false};
  if (io.Write(n, kAccessAclXattr, access) != 0) {
    return XattrError("set the access ACL", what, errno);
  }
  if (default_acl != nullptr) {
    int rc = default_acl->has_value() ? io.Write(n, kDefaultAclXattr, **default_acl)
                                      : io.Remove(n, kDefaultAclXattr);
    if (rc != 0) return XattrError("set the default ACL", what, errno);
  }
  return OkStatus();
}

std::string EscapeRelPath(const std::string& raw) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (c < 0x20 || c >= 0x7f || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::optional<std::string> UnescapeRelPath(const std::string& escaped) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '%') {
      out += escaped[i];
      continue;
    }
    if (i + 2 >= escaped.size()) return std::nullopt;
    int hi = hex(escaped[i + 1]), lo = hex(escaped[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace stockade::provision::linux_os
