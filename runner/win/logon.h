// Logging on as a sandbox identity: its password comes from the DPAPI-protected credential file
// the provisioner wrote (provision/win/credential_store.h; only SYSTEM and Administrators can
// read it, so only the service can do this), LogonUserW makes a primary token for it.
#ifndef STOCKADE_RUNNER_WIN_LOGON_H_
#define STOCKADE_RUNNER_WIN_LOGON_H_

#include <string>

#include "core/error.h"
#include "provision/win/handles.h"

namespace stockade::runner::win_os {

using provision::win::UniqueHandle;

// The credential file's default place: <state dir>\credentials.bin (as the planner writes it).
std::string DefaultCredentialFile();

// Reads and decrypts `credential_file`, finds `identity` in it, and calls LogonUserW(identity,
// ".", password, LOGON32_LOGON_INTERACTIVE, LOGON32_PROVIDER_DEFAULT). Interactive rather than
// batch or service: those need a user right the provisioner does not grant, and an interactive
// logon's token carries a logon SID (the second restricting SID) that the tree's console and
// window station can be granted to. The password is wiped from memory as soon as the call
// returns. Read back: the token's user SID must be the local account `identity` (Wine's
// LogonUserW accepts anything and returns a token of the calling user).
// Errors: kNotFound when the file does not exist or does not hold `identity` (not provisioned);
// kCrypto / kStateCorrupt from decryption; kPermissionDenied from LogonUserW's
// ERROR_LOGON_FAILURE (the stored password no longer matches: run `stockade-provision repair`)
// or ERROR_LOGON_TYPE_NOT_GRANTED; kVerificationFailed when the token is not the identity's.
Expected<UniqueHandle> LogonIdentity(const std::string& credential_file,
                                     const std::string& identity);

}  // namespace stockade::runner::win_os

#endif  // STOCKADE_RUNNER_WIN_LOGON_H_
