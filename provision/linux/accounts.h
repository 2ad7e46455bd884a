// Local accounts: reading users and groups back from the system, snapshots of the account files
// for exact undo, and running shadow-utils (useradd, userdel, groupadd, groupdel).
//
// shadow-utils rewrites /etc/passwd- (and the other "-" backups) on every change and replaces
// files by rename, so an exact undo needs all eight files: the four databases and their backups.
#ifndef STOCKADE_PROVISION_LINUX_ACCOUNTS_H_
#define STOCKADE_PROVISION_LINUX_ACCOUNTS_H_

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace stockade::provision::linux_os {

// /etc/passwd, /etc/group, /etc/shadow, /etc/gshadow, then the four "-" backups.
const std::vector<std::string>& AccountFilePaths();
inline constexpr int kMainAccountFiles = 4;  // the first four of AccountFilePaths()

struct AccountFile {
  std::string path;
  bool exists = false;
  std::string bytes;  // the exact contents
  unsigned mode = 0;  // permission bits (07777)
  uid_t uid = 0;
  gid_t gid = 0;
};

// The eight account files, in AccountFilePaths() order.
struct AccountSnapshot {
  std::vector<AccountFile> files;

  // True when the four main files (not the backups) have the same existence and bytes.
  bool MainFilesEqual(const AccountSnapshot& other) const;
  // The first file whose existence, bytes, mode or owner differ, or empty when none do.
  std::string FirstDifference(const AccountSnapshot& other) const;

  // JSON for the journal: contents base64-encoded (shadow files are not text we may mangle).
  nlohmann::json ToJson() const;
  // kStateCorrupt naming the field when `json` is not what ToJson() produced.
  static Expected<AccountSnapshot> FromJson(const nlohmann::json& json);
};

// Reads the eight files. Errors: kIo naming the file when one exists but cannot be read.
Expected<AccountSnapshot> SnapshotAccountFiles();

// Puts the four "-" backups back as they are in `before` (bytes, mode, owner; written to a
// temporary file in /etc, fsynced and renamed over the old one), or removes those that did not
// exist in `before`. Never touches the four main files. Errors: kIo naming the file.
Status RestoreAccountBackups(const AccountSnapshot& before);

// For the account steps' Undo: when the four main files are byte-identical to `before`'s (our
// change is gone and nobody else changed accounts since), puts the "-" backups back as well, so
// the eight files end byte-identical to before. Otherwise leaves the backups alone: they then
// hold someone else's legitimate previous state.
Status RestoreBackupsIfMainUnchanged(const AccountSnapshot& before);

// For VerifyUndone: kVerificationFailed naming the file when the main files equal `before`'s
// but a backup (or a main file's mode/owner) does not. `label` prefixes the message.
Status VerifyAccountFilesRestored(const AccountSnapshot& before, const std::string& label);

struct UserInfo {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
};

struct GroupInfo {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;  // supplementary members listed in the group entry
};

// getpwnam_r / getgrnam_r: nullopt when there is no such account. kOs when the lookup fails.
Expected<std::optional<UserInfo>> LookupUser(const std::string& name);
Expected<std::optional<UserInfo>> LookupUserById(uid_t uid);
Expected<std::optional<GroupInfo>> LookupGroup(const std::string& name);
Expected<std::optional<GroupInfo>> LookupGroupById(gid_t gid);

// Every group the user is in (primary first), as initgroups() would set them (getgrouplist).
Expected<std::vector<gid_t>> UserGroupIds(const std::string& name, gid_t primary);

// The password field of the user's shadow entry (getspnam_r); nullopt when there is none.
Expected<std::optional<std::string>> ShadowPassword(const std::string& name);

// Names of every user / group in the local files (/etc/passwd, /etc/group) with their ids,
// read directly so that a large NSS directory is never enumerated.
struct LocalAccount {
  std::string name;
  unsigned id = 0;
};
Expected<std::vector<LocalAccount>> LocalUsers();
Expected<std::vector<LocalAccount>> LocalGroups();

// A numeric setting of /etc/login.defs (e.g. "UID_MIN"), or `fallback` when it is not set.
long LoginDefsNumber(const std::string& key, long fallback);

// Runs a shadow-utils tool (absolute path + arguments). Retries for a few seconds while another
// process holds the account files' lock ("cannot lock"), since provisioners, package scripts
// and administrators may edit accounts at the same moment.
// Errors: kOs naming the command with the tool's exit status and stderr.
Status RunShadowTool(const std::vector<std::string>& argv);

// Processes (pid and command name) currently running with real, effective or saved uid `uid`
// (from /proc), so that a refused userdel can say which processes hold the account.
std::vector<std::string> ProcessesOfUid(uid_t uid);

// base64 (RFC 4648, with padding), for bytes that must go into JSON.
std::string Base64Encode(const std::string& bytes);
// nullopt when `text` is not valid base64.
std::optional<std::string> Base64Decode(const std::string& text);

}  // namespace stockade::provision::linux_os

#endif  // STOCKADE_PROVISION_LINUX_ACCOUNTS_H_
