#include "provision/win/residue.h"

#include <set>

#include "provision/win/accounts.h"
#include "provision/win/audit_policy_step.h"
#include "provision/win/firewall.h"
#include "provision/win/handles.h"
#include "provision/win/registry.h"
#include "provision/win/security.h"
#include "provision/win/sid.h"
#include "provision/win/user_step.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

constexpr char kProfileList[] = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList";

class Scan {
 public:
  explicit Scan(const ResidueQuery& query) : query_(query), ours_(query.prefix + "-") {}

  void Add(std::string kind, std::string subject, std::string detail) {
    if (!seen_.insert(kind + "\n" + subject).second) return;
    report_.findings.push_back({std::move(kind), std::move(subject), std::move(detail)});
  }
  void Unchecked(const std::string& what, const Error& error) {
    report_.unchecked.push_back(what + ": " + error.ToString());
  }
  bool Ours(const std::string& name) const { return StartsWithIgnoreCase(name, ours_); }

  void Accounts() {
    auto users = ListLocalUsers();
    if (users.ok()) {
      for (const std::string& name : *users) {
        if (Ours(name)) Add("user", name, "local user (NetUserEnum)");
      }
    } else {
      Unchecked("local users", users.error());
    }
    auto groups = ListLocalGroups();
    if (groups.ok()) {
      for (const std::string& name : *groups) {
        if (Ours(name)) Add("group", name, "local group (NetLocalGroupEnum)");
      }
    } else {
      Unchecked("local groups", groups.error());
    }
    // The names the policy gives, looked up directly as well: enumeration and lookup are
    // different paths into the account database.
    for (const char* suffix : {"offline", "online", "users"}) {
      const std::string name = ours_ + suffix;
      auto found = LookupLocalAccount(name);
      if (!found.ok()) {
        Unchecked("account " + name, found.error());
      } else if (found->has_value()) {
        Add((*found)->use == SidTypeUser ? "user" : "group", name,
            std::string(SidUseName((*found)->use)) + " " + (*found)->sid.ToString() +
                " (LookupAccountNameW)");
      }
      auto user = GetLocalUser(name);
      if (!user.ok()) {
        Unchecked("user " + name, user.error());
      } else if (user->has_value()) {
        Add("user", name, "local user (NetUserGetInfo)");
      }
    }
  }

  void Registry() {
    auto values = RegValueNames(kHiddenUsersKey);
    if (values.ok()) {
      for (const std::string& value : *values) {
        if (Ours(value)) {
          Add("hidden_user_value", std::string("HKLM\\") + kHiddenUsersKey + "\\" + value,
              "logon-screen hiding value of a sandbox account");
        }
      }
    } else {
      Unchecked("hidden accounts", values.error());
    }
    for (const std::string& key : query_.registry_keys) {
      auto exists = RegKeyExists(key);
      if (!exists.ok()) {
        Unchecked("registry key HKLM\\" + key, exists.error());
      } else if (*exists) {
        Add("registry_key", "HKLM\\" + key, "registry key still present");
      }
    }
  }

  void Firewall() {
    auto policy = FirewallPolicy::Open();
    if (!policy.ok()) {
      Unchecked("firewall rules", policy.error());
      return;
    }
    auto rules = policy->ListRules(query_.rule_prefix + " " + ours_);
    if (!rules.ok()) {
      Unchecked("firewall rules", rules.error());
      return;
    }
    for (const FirewallRule& rule : *rules) {
      Add("firewall_rule", rule.name, rule.local_user_authorized_list);
    }
  }

  void Services() {
    UniqueScHandle manager(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
    if (!manager) {
      Unchecked("services", LastWin32Error("OpenSCManagerW"));
      return;
    }
    for (const std::string& name : query_.services) {
      UniqueScHandle service(OpenServiceW(manager.get(), Wide(name).c_str(), SERVICE_QUERY_STATUS));
      if (service) {
        Add("service", name, "service still registered");
      } else if (GetLastError() == ERROR_SERVICE_MARKED_FOR_DELETE) {
        Add("service", name, "service marked for deletion, still open somewhere");
      } else if (GetLastError() != ERROR_SERVICE_DOES_NOT_EXIST) {
        Unchecked("service " + name, LastWin32Error("OpenServiceW(" + name + ")"));
      }
    }
  }

  void Profiles() {
    auto keys = RegSubkeyNames(kProfileList);
    if (!keys.ok()) {
      Unchecked("profiles", keys.error());
      return;
    }
    for (const std::string& sid : *keys) {
      bool named_sid = false;
      for (const std::string& ours : query_.sids) named_sid = named_sid || SameSid(sid, ours);
      auto path = ReadRegValue(std::string(kProfileList) + "\\" + sid, "ProfileImagePath");
      std::string image;
      if (path.ok() && path->has_value()) image = RegValueText(**path).value_or("");
      const auto slash = image.find_last_of("\\/");
      const std::string leaf = slash == std::string::npos ? image : image.substr(slash + 1);
      if (named_sid || (!leaf.empty() && Ours(leaf))) {
        Add("profile", sid, image.empty() ? "profile registered" : "profile " + image);
      }
    }
  }

  void Paths() {
    for (const std::string& path : query_.paths) {
      auto security = ReadFileSecurity(path, /*with_owner=*/true);
      if (!security.ok()) {
        if (security.error().code() == ErrorCode::kNotFound) continue;
        Unchecked("ACL of " + path, security.error());
        continue;
      }
      for (const Ace& ace : security->dacl) {
        if (NamesAnySid({ace}, query_.sids)) {
          Add("ace", path + " " + AceToString(ace),
              std::string(ace.inherited() ? "inherited" : "explicit") + " ACE naming " + ace.sid);
        }
      }
      for (const std::string& sid : query_.sids) {
        if (SameSid(security->owner, sid)) Add("ace", path + " owner", "owned by " + sid);
      }
    }
  }

  void AuditSacl() {
    if (!query_.check_audit_sacl) return;
    auto sacl = QueryGlobalSacl(L"File");
    if (!sacl.ok()) {
      Unchecked("global File SACL", sacl.error());
      return;
    }
    for (const Ace& ace : *sacl) {
      if (NamesAnySid({ace}, query_.sids)) {
        Add("audit_ace", "global File SACL", AceToString(ace));
      }
    }
  }

  ResidueReport Take() { return std::move(report_); }

 private:
  const ResidueQuery& query_;
  const std::string ours_;
  std::set<std::string> seen_;
  ResidueReport report_;
};

}  // namespace

Expected<ResidueReport> ScanResidue(const ResidueQuery& query) {
  if (query.prefix.empty()) {
    return Error(ErrorCode::kInvalidArgument, "residue scan: the identity prefix is empty");
  }
  for (const std::string& sid : query.sids) {
    if (!Sid::FromString(sid).ok()) {
      return Error(ErrorCode::kInvalidArgument, "residue scan: '" + sid + "' is not a SID");
    }
  }
  Scan scan(query);
  scan.Accounts();
  scan.Registry();
  scan.Firewall();
  scan.Services();
  scan.Profiles();
  scan.Paths();
  scan.AuditSacl();
  return scan.Take();
}

}  // namespace stockade::provision::win
