// Walking a workspace tree to grant, verify, revoke and scan POSIX ACL entries for the sandbox
// identities, fast and safely:
//   * fd-relative throughout: directories are opened with openat(O_NOFOLLOW | O_DIRECTORY) from
//     their parent's fd, files are touched with *xattrat calls (fs_at.h) that never follow a
//     symlink, so renaming a component to a symlink mid-walk cannot redirect a root-run walk;
//   * symlinks are never followed or changed; fifos, sockets and device nodes are skipped (no
//     grant ever opens a device to the sandbox); directories on another filesystem (mount
//     points inside the tree) are skipped;
//   * ACLs are read and written as raw xattrs (acl_codec.h): one read and at most one write per
//     ACL, no write when nothing changes;
//   * directories are shared out to idle threads (SetTreeWalkThreads), callbacks keep per-thread
//     state, and results are merged in path order so that journals are deterministic.
// Relative paths ("a/b", "" for the root) are raw bytes; EscapeRelPath makes them JSON-safe.
#ifndef STOCKADE_PROVISION_LINUX_ACL_TREE_H_
#define STOCKADE_PROVISION_LINUX_ACL_TREE_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/linux/acl_codec.h"

namespace stockade::provision::linux_os {

// One ACL principal: a named user or group entry.
struct AclPrincipal {
  bool is_group = false;
  std::uint32_t id = 0;
  bool operator==(const AclPrincipal&) const = default;
};

struct GrantRules {
  std::vector<AclPrincipal> principals;
  // Protected subtrees (read-only for the principals: r and X, never w): a component with one of
  // these names at any depth, or exactly one of these paths relative to the root.
  std::vector<std::string> protected_names;
  std::vector<std::string> protected_relpaths;
};

// Counters of one walk (what was visited and how many ACL reads/writes it cost).
struct TreeStats {
  std::uint64_t files = 0;            // regular files handled
  std::uint64_t dirs = 0;             // directories handled (the root included)
  std::uint64_t protected_nodes = 0;  // of which inside a protected subtree
  std::uint64_t skipped_links = 0;    // symlinks (never followed, never changed)
  std::uint64_t skipped_special = 0;  // fifos, sockets, device nodes
  std::uint64_t skipped_mounts = 0;   // directories on another filesystem
  std::uint64_t vanished = 0;         // removed or replaced while the walk ran
  std::uint64_t acl_reads = 0;        // getxattr calls
  std::uint64_t acl_writes = 0;       // setxattr / removexattr calls
  std::uint64_t drifted = 0;          // Verify*: nodes that do not match
};

// A node whose ACL was not minimal before a grant: what revoke puts back exactly.
struct PriorAcl {
  std::string relpath;                     // raw bytes; "" is the root
  std::uint64_t ino = 0;                   // restored only onto the same inode
  std::optional<std::string> access;       // AclToText, or nullopt when it had none
  std::optional<std::string> default_acl;  // directories: AclToText, or nullopt when none
};

// Read-only walk: every directory or regular file whose access ACL is not minimal or which has a
// default ACL. Errors: kIo / kPermissionDenied naming the path.
Expected<std::vector<PriorAcl>> CaptureNonMinimalAcls(int root_fd, TreeStats* stats);

// Adds the principals' entries: rwX (access) and rwx (default, on directories) outside
// protected subtrees; r-X / r-x inside them (an existing entry of ours there loses w). X is x
// for directories and for files whose owner, group or others may execute them. The mask gains
// the bits the entries need and nothing else (setfacl -m would recalculate it as the union of
// all group-class entries, unmasking other entries too). A node already as wanted is not written.
// Stops at the first error (kIo / kPermissionDenied / kUnsupported for a filesystem without ACLs),
// naming the path; the caller rolls back.
Status GrantAclTree(int root_fd, const GrantRules& rules, TreeStats* stats);

// Who must get (or must not get) access, for verification. `label` is used in messages.
struct AclCheckSubject {
  std::string label;  // "uid 998" / "gid 995"
  AclSubject subject;
};

// Reads every node back: each subject is allowed rw (and x on directories) outside protected
// subtrees and is not allowed w inside them, with the mask taken into account (a chmod g-w
// that lowered the mask shows up here); directories carry the principals' default entries with
// an effective rwx (r-x when protected). kVerificationFailed saying how many nodes drifted and
// describing the first `max_reported` of them.
Status VerifyAclTree(int root_fd, const GrantRules& rules,
                     const std::vector<AclCheckSubject>& subjects, TreeStats* stats,
                     int max_reported = 5);

// Removes every entry naming the principals (access and default ACLs), then: a node listed in
// `prior` (same relpath and inode) gets its previous ACLs back exactly; any other node, whose ACL
// was minimal before, becomes minimal again (mask dropped, so the group permission bits of its
// mode are what they were) unless it carries other named entries, whose mask is then
// recalculated; a default ACL left with no named entry is removed. Continues past errors and
// reports the first one and how many there were.
Status RevokeAclTree(int root_fd, const std::vector<AclPrincipal>& principals,
                     const std::vector<PriorAcl>& prior, TreeStats* stats);

// Reads back: no ACL entry names a principal, and every `prior` node (same inode) has exactly
// its previous ACLs. kVerificationFailed describing the first differences.
Status VerifyAclTreeRevoked(int root_fd, const std::vector<AclPrincipal>& principals,
                            const std::vector<PriorAcl>& prior, TreeStats* stats,
                            int max_reported = 5);

// For the residue scan: nodes with an ACL entry naming one of `uids`/`gids`, and (when
// `owned_too`) nodes owned by one of them. At most `limit` findings (relpath: what).
struct AclFinding {
  std::string relpath;
  std::string what;  // "access ACL entry u:998:rwx" / "owned by uid 998"
};
Expected<std::vector<AclFinding>> FindAclEntries(int root_fd, const std::vector<uid_t>& uids,
                                                 const std::vector<gid_t>& gids, bool owned_too,
                                                 std::size_t limit, TreeStats* stats);

// Reads the access and default ACL of an open directory or file (fgetxattr); the access ACL of
// a node without one is synthesised from `mode`. Errors: kIo naming `what`.
struct NodeAcls {
  Acl access;
  bool has_access_xattr = false;
  std::optional<Acl> default_acl;
};
Expected<NodeAcls> ReadAclsOfFd(int fd, mode_t mode, bool is_dir, const std::string& what);
// Writes `access` (and, for directories, `default_acl`: nullopt removes it) to an open fd.
Status WriteAclsOfFd(int fd, const Acl& access, const std::optional<Acl>* default_acl,
                     const std::string& what);

// How many threads tree walks use: 0 (the default) picks the CPU count, at most 4; 1 walks
// single-threaded. Threads hand whole directories to each other by path, reopened from the root
// with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV); without openat2 (Linux
// before 5.6) walks are single-threaded.
void SetTreeWalkThreads(int threads);

// JSON-safe form of a raw relative path: bytes outside printable ASCII, and '%', as %XX.
std::string EscapeRelPath(const std::string& raw);
// nullopt when `escaped` has a malformed % sequence.
std::optional<std::string> UnescapeRelPath(const std::string& escaped);

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_ACL_TREE_H_
