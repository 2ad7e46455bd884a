// kind::kCredentials on Windows: gives each sandbox user a fresh CSPRNG password and stores the
// passwords in the DPAPI-protected credential file (credential_store.h) that the service reads
// to log on as the identities.
//
// params:  {"path": "<state>\\credentials.bin", "users": ["<prefix>-offline", ...],
//           "group": "<prefix>-users", "password_length": 32 (optional, 16..256)}
// before:  {"existed": bool, "content": "<hex of the previous file>"|null,
//           "sddl": "<previous owner and DACL>"|null}
//          The previous content is a machine-DPAPI blob: the journal that holds it lives in the
//          state folder, whose DACL admits the same principals as the file's (state_dir_step.h).
// Apply:   new passwords (crypto::RandomPassword) -> the file, written atomically with a
//          protected DACL: deny all access to the group and each user, full access to SYSTEM and
//          Administrators -> NetUserSetInfo(1003) for each user. The file is written first so
//          that a failure between the two leaves a file Undo restores, never a password that
//          nobody knows in a file nobody wrote.
// Check:   the file exists and CryptUnprotectData decrypts it to exactly the users of the params
//          with passwords of the configured length; GetNamedSecurityInfoW reads back the DACL
//          above, protected. Under Wine DPAPI round-trips but the DACL is not stored: Verify
//          fails. Whether each password is the account's current one cannot be read back without
//          a logon (LogonUserW is a stub under Wine, and logon rights vary by policy): the
//          runner's logon is where a mismatch shows.
// Undo:    no file before: the file (and any temporary beside it) is deleted. A file before: its
//          bytes and DACL are put back, then each user that still exists gets its previous
//          password back from it.
#ifndef STOCKADE_PROVISION_WIN_CREDENTIALS_STEP_H_
#define STOCKADE_PROVISION_WIN_CREDENTIALS_STEP_H_

#include <memory>
#include <string>
#include <vector>

#include "provision/win/checked_step.h"
#include "provision/win/security.h"

namespace stockade::provision::win {

class CredentialsStep : public CheckedStep {
 public:
  static Expected<std::unique_ptr<Step>> Create(const StepSpec& spec);

  std::string Describe() const override;
  Expected<nlohmann::json> CaptureBefore() override;
  // A file at the path.
  Expected<bool> TargetPresent() override;
  Status Apply() override;
  Status Undo(const nlohmann::json& before) override;

  // The DACL the file gets: deny FILE_ALL_ACCESS to `group` and each of `users`, allow it to
  // SYSTEM and Administrators. Errors: kNotFound naming LookupAccountNameW and the account.
  static Expected<std::vector<Ace>> FileDacl(const std::string& group,
                                             const std::vector<std::string>& users);

 protected:
  Expected<std::string> Check() override;
  Expected<std::string> CheckUndone(const nlohmann::json& before) override;

 private:
  CredentialsStep(const StepSpec& spec, std::string path, std::vector<std::string> users,
                  std::string group, std::size_t password_length)
      : CheckedStep(spec),
        path_(std::move(path)),
        users_(std::move(users)),
        group_(std::move(group)),
        password_length_(password_length) {}

  std::string path_;
  std::vector<std::string> users_;
  std::string group_;
  std::size_t password_length_;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_CREDENTIALS_STEP_H_
