// Small Windows helpers shared by the provisioning steps: UTF-8 <-> UTF-16, errors that name the
// API, the target and the OS's own error number, and Wine detection.
//
// Every Windows failure in provision/win becomes an Error whose context reads
// "<API>(<target>): <system message>" and whose os_error is the Win32 error / HRESULT, so that a
// person reading a log knows which call failed on what.
#ifndef STOCKADE_PROVISION_WIN_WIN_UTIL_H_
#define STOCKADE_PROVISION_WIN_WIN_UTIL_H_

#include <windows.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stockade::provision::win {

// UTF-8 -> UTF-16. Invalid sequences become U+FFFD (inputs come from journaled JSON, which is
// valid UTF-8; a lossy conversion is never silently "fixed" into another valid name because the
// read-back then differs).
std::wstring Wide(std::string_view utf8);
// UTF-16 -> UTF-8 (unpaired surrogates become U+FFFD).
std::string Utf8(std::wstring_view wide);
// Same for a possibly-null, NUL-terminated string (null -> "").
std::string Utf8(const wchar_t* wide);

// The system's message for a Win32 error or HRESULT, without the trailing period and newline;
// NERR_* codes of the NetApi (2100..2999) get their own short texts. Never empty.
std::string Win32Message(DWORD code);

// The stable ErrorCode for a Win32 / NetApi error: access denied -> kPermissionDenied, privilege
// not held -> kNotElevated, not found (file, path, user, group, service, none mapped) ->
// kNotFound, already exists -> kAlreadyExists, not implemented -> kUnsupported, otherwise kOs.
ErrorCode CodeForWin32(DWORD code);
ErrorCode CodeForHresult(HRESULT hr);

// Error for a failed Win32 / NetApi call: context "<what>: <message>", os_error = code.
// `what` names the API and the target, e.g. "NetUserAdd(stockade-offline)".
Error Win32Error(std::string_view what, DWORD code);
Error Win32Error(ErrorCode code, std::string_view what, DWORD win32);
// Same with GetLastError() (call it right after the failing call).
Error LastWin32Error(std::string_view what);
// Error for a failed COM call: context "<what>: <message>", OsErrorKind::kHresult.
Error HresultError(std::string_view what, HRESULT hr);
Error HresultError(ErrorCode code, std::string_view what, HRESULT hr);

// True when this process runs under Wine (ntdll exports wine_get_version). Production code uses
// it for one purpose only: RefuseWineUnimplemented below.
bool RunningUnderWine();

// Some APIs are not merely stubs in Wine 8 but *unimplemented*: calling them raises an exception
// that aborts the whole process (NetUserSetInfo, AuditQueryGlobalSaclW, AuditSetGlobalSaclW,
// DeleteProfileW). A provisioner killed mid-transaction would be recovered by the journal, but
// a clean error is better: this returns kUnsupported naming `api` under Wine, OK elsewhere.
// Call it immediately before such an API.
Status RefuseWineUnimplemented(std::string_view api, std::string_view target);

// The local computer's NetBIOS name: the domain LookupAccountNameW reports for local accounts.
// Errors: kOs from GetComputerNameW.
Expected<std::string> ComputerName();

// Lower-case hex of `bytes`, and back (nullopt for odd lengths or non-hex characters).
std::string HexEncode(const std::vector<BYTE>& bytes);
std::optional<std::vector<BYTE>> HexDecode(std::string_view text);

// Case-insensitive (ordinal, as Windows compares account and file names) UTF-8 comparison.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix);

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_WIN_UTIL_H_
