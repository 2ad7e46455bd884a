#include "runner/win/logon.h"

#include <windows.h>

#include "core/paths/locations.h"
#include "provision/win/credential_store.h"
#include "provision/win/sid.h"
#include "provision/win/win_util.h"
#include "runner/win/token.h"

namespace stockade::runner::win_os {

namespace pw = stockade::provision::win;

std::string DefaultCredentialFile() { return paths::DefaultStateDir() + "\\credentials.bin"; }

Expected<UniqueHandle> LogonIdentity(const std::string& credential_file,
                                     const std::string& identity) {
  auto credentials = pw::ReadCredentialFile(credential_file);
  if (!credentials.ok()) {
    return credentials.error().Wrap("reading the credentials of '" + identity + "'");
  }
  auto entry = credentials->find(identity);
  if (entry == credentials->end()) {
    return Error(ErrorCode::kNotFound, "identity '" + identity + "' has no credentials in " +
                                           credential_file + " (not provisioned)");
  }
  UniqueHandle token;
  DWORD error = ERROR_SUCCESS;
  {
    pw::SecretWString password(pw::Wide(entry->second.value()));
    const std::wstring user = pw::Wide(identity);
    if (!LogonUserW(user.c_str(), L".", password.data(), LOGON32_LOGON_INTERACTIVE,
                    LOGON32_PROVIDER_DEFAULT, token.put())) {
      error = GetLastError();
    }
  }
  credentials->clear();  // SecretString wipes each password
  if (error != ERROR_SUCCESS) {
    const ErrorCode code = (error == ERROR_LOGON_FAILURE || error == ERROR_LOGON_TYPE_NOT_GRANTED ||
                            error == ERROR_ACCOUNT_DISABLED || error == ERROR_ACCOUNT_RESTRICTION)
                               ? ErrorCode::kPermissionDenied
                               : pw::CodeForWin32(error);
    return pw::Win32Error(code, "LogonUserW(" + identity + ")", error);
  }

  auto expected = pw::ResolveLocalAccountSid(identity);
  if (!expected.ok()) return expected.error().Wrap("after LogonUserW(" + identity + ")");
  auto actual = TokenUserSid(token.get());
  if (!actual.ok()) return actual.error();
  if (!(*actual == *expected)) {
    return Error(ErrorCode::kVerificationFailed,
                 "LogonUserW(" + identity + ") returned a token of " + actual->ToString() +
                     " instead of the account's " + expected->ToString());
  }
  return token;
}

}  // namespace stockade::runner::win_os
