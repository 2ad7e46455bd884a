// The one error type that crosses module boundaries, and the Expected<T>/Status results that
// carry it. No exception escapes a module: OS and library failures become an Error with a stable
// code (for scripts and exit codes), the OS's own error number (errno, GetLastError(), HRESULT,
// SQLite extended code) and a context string that says what was being done to what.
#ifndef STOCKADE_CORE_ERROR_H_
#define STOCKADE_CORE_ERROR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace stockade {

// Stable error codes. The numeric values and the names returned by ErrorCodeName() are part of
// the product's interface (JSON output, logs, docs/errors.md): append, never renumber.
enum class ErrorCode : std::uint16_t {
  kOk = 0,
  kInvalidArgument = 1,     // a caller passed something malformed
  kNotFound = 2,            // a file, user, rule or record that should exist does not
  kAlreadyExists = 3,       // something to be created is already there
  kPermissionDenied = 4,    // the OS refused (EACCES/EPERM, ERROR_ACCESS_DENIED)
  kNotElevated = 5,         // the command needs root / an administrator token
  kIo = 6,                  // reading or writing a file failed
  kOs = 7,                  // another OS call failed; see os_error
  kPolicyParse = 8,         // the policy file is not valid TOML
  kPolicyInvalid = 9,       // valid TOML, but not a valid policy
  kPolicyVersion = 10,      // the policy's version is missing or not supported
  kPathInvalid = 11,        // a path cannot be normalised or is not allowed where it is used
  kDatabase = 12,           // SQLite reported an error; see os_error (extended result code)
  kDatabaseBusy = 13,       // the store is locked by another writer
  kStateCorrupt = 14,       // a state store exists but does not make sense
  kStateTooNew = 15,        // a state store written by a newer Stockade
  kCrypto = 16,             // hashing or random generation failed
  kNotImplemented = 17,     // the feature is not built yet; never used to pretend success
  kUnsupported = 18,        // the OS lacks a feature Stockade needs
  kVerificationFailed = 19, // an OS change read back differently from what was asked
  kTimeout = 20,
  kInternal = 21,           // a broken invariant: a bug in Stockade
  kProtocol = 22,           // a malformed, oversized or unexpected client/service message
  kProtocolVersion = 23,    // the peer speaks a protocol version this side does not
  kNotGranted = 24,         // the workspace is not granted (stockade-provision grant)
  kNotProvisioned = 25,     // the sandbox identity asked for is not provisioned
  kServiceUnavailable = 26, // the service is not running or its socket/pipe is not reachable
  kAuditUnavailable = 27,   // the service cannot record what a run does (audit is fail-closed)
};

// Returns the stable name of a code, e.g. "E_POLICY_PARSE".
std::string_view ErrorCodeName(ErrorCode code);

// The kind of number carried in Error::os_error(), so that it can be rendered correctly.
enum class OsErrorKind : std::uint8_t { kNone, kErrno, kWin32, kHresult, kNtStatus, kSqlite };

class Error {
 public:
  Error(ErrorCode code, std::string context) : code_(code), context_(std::move(context)) {}
  Error(ErrorCode code, std::string context, OsErrorKind os_kind, std::int64_t os_error)
      : code_(code), context_(std::move(context)), os_kind_(os_kind), os_error_(os_error) {}

  ErrorCode code() const { return code_; }
  const std::string& context() const { return context_; }
  OsErrorKind os_kind() const { return os_kind_; }
  std::int64_t os_error() const { return os_error_; }

  // Returns a copy whose context is "<outer>: <context>", for adding what the caller was doing.
  Error Wrap(std::string_view outer) const;

  // One line for humans: "<context> (E_NAME[, errno 13: Permission denied])".
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string context_;
  OsErrorKind os_kind_ = OsErrorKind::kNone;
  std::int64_t os_error_ = 0;
};

// Builds an Error from errno (captured by the caller right after the failing call).
Error ErrnoError(ErrorCode code, std::string context, int err);

// Expected<T>: a value or an Error. A minimal std::expected for C++20.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Expected(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Contract: call value()/operator* only when ok(), error() only when !ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Status: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // Contract: only when !ok().
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

inline Status OkStatus() { return Status(); }

}  // namespace stockade

// Propagates a failed Status or Expected from the current function.
#define STOCKADE_RETURN_IF_ERROR(expr)      \
  do {                                      \
    auto stockade_status_ = (expr);         \
    if (!stockade_status_.ok()) {           \
      return stockade_status_.error();      \
    }                                       \
  } while (false)

#endif  // STOCKADE_CORE_ERROR_H_
