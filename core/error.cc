#include "core/error.h"

#include <array>
#include <cstring>

namespace stockade {

namespace {

struct CodeName {
  ErrorCode code;
  std::string_view name;
};

constexpr std::array kCodeNames = {
    CodeName{ErrorCode::kOk, "OK"},
    CodeName{ErrorCode::kInvalidArgument, "E_INVALID_ARGUMENT"},
    CodeName{ErrorCode::kNotFound, "E_NOT_FOUND"},
    CodeName{ErrorCode::kAlreadyExists, "E_ALREADY_EXISTS"},
    CodeName{ErrorCode::kPermissionDenied, "E_PERMISSION_DENIED"},
    CodeName{ErrorCode::kNotElevated, "E_NOT_ELEVATED"},
    CodeName{ErrorCode::kIo, "E_IO"},
    CodeName{ErrorCode::kOs, "E_OS"},
    CodeName{ErrorCode::kPolicyParse, "E_POLICY_PARSE"},
    CodeName{ErrorCode::kPolicyInvalid, "E_POLICY_INVALID"},
    CodeName{ErrorCode::kPolicyVersion, "E_POLICY_VERSION"},
    CodeName{ErrorCode::kPathInvalid, "E_PATH_INVALID"},
    CodeName{ErrorCode::kDatabase, "E_DATABASE"},
    CodeName{ErrorCode::kDatabaseBusy, "E_DATABASE_BUSY"},
    CodeName{ErrorCode::kStateCorrupt, "E_STATE_CORRUPT"},
    CodeName{ErrorCode::kStateTooNew, "E_STATE_TOO_NEW"},
    CodeName{ErrorCode::kCrypto, "E_CRYPTO"},
    CodeName{ErrorCode::kNotImplemented, "E_NOT_IMPLEMENTED"},
    CodeName{ErrorCode::kUnsupported, "E_UNSUPPORTED"},
    CodeName{ErrorCode::kVerificationFailed, "E_VERIFICATION_FAILED"},
    CodeName{ErrorCode::kTimeout, "E_TIMEOUT"},
    CodeName{ErrorCode::kInternal, "E_INTERNAL"},
    CodeName{ErrorCode::kProtocol, "E_PROTOCOL"},
    CodeName{ErrorCode::kProtocolVersion, "E_PROTOCOL_VERSION"},
    CodeName{ErrorCode::kNotGranted, "E_NOT_GRANTED"},
    CodeName{ErrorCode::kNotProvisioned, "E_NOT_PROVISIONED"},
    CodeName{ErrorCode::kServiceUnavailable, "E_SERVICE_UNAVAILABLE"},
    CodeName{ErrorCode::kAuditUnavailable, "E_AUDIT_UNAVAILABLE"},
};

std::string_view OsKindLabel(OsErrorKind kind) {
  switch (kind) {
    case OsErrorKind::kErrno: return "errno";
    case OsErrorKind::kWin32: return "win32 error";
    case OsErrorKind::kHresult: return "HRESULT";
    case OsErrorKind::kNtStatus: return "NTSTATUS";
    case OsErrorKind::kSqlite: return "sqlite code";
    case OsErrorKind::kNone: break;
  }
  return "";
}

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  for (const auto& entry : kCodeNames) {
    if (entry.code == code) return entry.name;
  }
  return "E_UNKNOWN";
}

Error Error::Wrap(std::string_view outer) const {
  Error wrapped = *this;
  wrapped.context_ = std::string(outer) + ": " + context_;
  return wrapped;
}

std::string Error::ToString() const {
  std::string out = context_ + " (" + std::string(ErrorCodeName(code_));
  if (os_kind_ != OsErrorKind::kNone) {
    out += ", " + std::string(OsKindLabel(os_kind_)) + " ";
    if (os_kind_ == OsErrorKind::kHresult || os_kind_ == OsErrorKind::kNtStatus) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08llX",
                    static_cast<unsigned long long>(os_error_ & 0xFFFFFFFF));
      out += hex;
    } else {
      out += std::to_string(os_error_);
    }
    if (os_kind_ == OsErrorKind::kErrno) {
      out += ": ";
      out += std::strerror(static_cast<int>(os_error_));
    }
  }
  out += ")";
  return out;
}

Error ErrnoError(ErrorCode code, std::string context, int err) {
  return Error(code, std::move(context), OsErrorKind::kErrno, err);
}

}  // namespace stockade
