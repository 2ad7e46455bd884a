#include "cli/common/exit_codes.h"

namespace stockade::cli {

int ExitCodeFor(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kOk:
      return kExitOk;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kPathInvalid:
      return kExitUsage;
    case ErrorCode::kPolicyParse:
    case ErrorCode::kPolicyInvalid:
    case ErrorCode::kPolicyVersion:
      return kExitPolicyInvalid;
    case ErrorCode::kNotElevated:
      return kExitNotElevated;
    case ErrorCode::kStateCorrupt:
    case ErrorCode::kStateTooNew:
    case ErrorCode::kDatabaseBusy:
      return kExitState;
    case ErrorCode::kNotImplemented:
      return kExitNotImplemented;
    case ErrorCode::kVerificationFailed:
      return kExitVerification;
    case ErrorCode::kServiceUnavailable:
      return kExitUnavailable;
    case ErrorCode::kNotGranted:
    case ErrorCode::kNotProvisioned:
      return kExitRunRefused;
    default:
      return kExitFailure;
  }
}

}  // namespace stockade::cli
