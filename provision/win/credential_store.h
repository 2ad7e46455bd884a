// The file that holds the sandbox identities' passwords: DPAPI-encrypted with the machine key
// (CryptProtectData, CRYPTPROTECT_LOCAL_MACHINE) and protected by its DACL, which admits only
// SYSTEM and Administrators and explicitly denies the sandbox identities. Machine-scope DPAPI
// lets any process on the machine decrypt a blob it can read (the provisioner runs as an
// administrator, the service as LocalSystem: a user-scope key would not be shared), so the DACL
// is what keeps the secret; the encryption keeps it out of backups and other machines.
//
// Plaintext layout inside the blob (little-endian), chosen over JSON so that no parser makes
// copies of the passwords that could not be wiped:
//   "STKC" | u32 version (1) | u32 count | count x (u32 len, user name UTF-8,
//                                                  u32 len, password UTF-8)
#ifndef STOCKADE_PROVISION_WIN_CREDENTIAL_STORE_H_
#define STOCKADE_PROVISION_WIN_CREDENTIAL_STORE_H_

#include <windows.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "provision/win/handles.h"
#include "provision/win/security.h"

namespace stockade::provision::win {

// user name -> password
using CredentialMap = std::map<std::string, SecretString>;

// Encrypts `credentials` (machine-scope DPAPI with Stockade's entropy). Errors: kCrypto naming
// CryptProtectData.
Expected<std::vector<BYTE>> ProtectCredentials(const CredentialMap& credentials);

// Decrypts and parses a blob from ProtectCredentials. Errors: kCrypto naming CryptUnprotectData
// (wrong machine, damaged blob, other entropy); kStateCorrupt when the plaintext is not the
// layout above.
Expected<CredentialMap> UnprotectCredentials(const std::vector<BYTE>& blob);

// The bytes of `path`; nullopt when it does not exist. Errors name CreateFileW / ReadFile.
Expected<std::optional<std::vector<BYTE>>> ReadFileBytes(const std::string& path);

// Writes `bytes` to `path` so that it is never visible half-written nor, for a moment, readable
// by anyone the DACL does not admit: a temporary file beside it is created with the security
// descriptor (`dacl`, protected or not) in CreateFileW's SECURITY_ATTRIBUTES, written, flushed
// and moved over `path` (MoveFileExW, replace, write-through). Errors name the API and the path.
Status WriteFileAtomically(const std::string& path, const std::vector<BYTE>& bytes,
                           const std::vector<Ace>& dacl, bool dacl_protected);

// Removes the temporary files a crashed WriteFileAtomically may have left beside `path`.
Status RemoveTemporaries(const std::string& path);

// ProtectCredentials + WriteFileAtomically.
Status WriteCredentialFile(const std::string& path, const CredentialMap& credentials,
                           const std::vector<Ace>& dacl);

// ReadFileBytes + UnprotectCredentials. kNotFound when the file does not exist.
Expected<CredentialMap> ReadCredentialFile(const std::string& path);

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_CREDENTIAL_STORE_H_
