// RAII owners for every Windows resource the provisioner touches: kernel HANDLEs, registry keys,
// service handles, LocalAlloc'ed buffers (SDDL strings, security descriptors, DPAPI output),
// NetApi buffers, SIDs from AllocateAndInitializeSid, COM initialisation, COM interfaces, BSTRs,
// VARIANTs, and secrets that must be wiped from memory.
//
// Pattern for APIs that hand back an allocation through an out-parameter: call with a raw
// variable and take ownership on the very next line, before anything can return:
//   wchar_t* raw = nullptr;
//   BOOL ok = ConvertSidToStringSidW(sid, &raw);
//   LocalPtr<wchar_t> owned(raw);
#ifndef STOCKADE_PROVISION_WIN_HANDLES_H_
#define STOCKADE_PROVISION_WIN_HANDLES_H_

#include <windows.h>
// windows.h first: the headers below rely on its types.
#include <lm.h>
#include <objbase.h>
#include <oleauto.h>

#include <memory>
#include <string>
#include <utility>

#include "core/error.h"

namespace stockade::provision::win {

// A move-only owner of a value released by Traits::Close; Traits::IsValid tells which values own
// something (kernel handles use both nullptr and INVALID_HANDLE_VALUE as "none").
template <typename T, typename Traits>
class UniqueResource {
 public:
  UniqueResource() = default;
  explicit UniqueResource(T value) : value_(value) {}
  UniqueResource(UniqueResource&& other) noexcept : value_(other.release()) {}
  UniqueResource& operator=(UniqueResource&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueResource(const UniqueResource&) = delete;
  UniqueResource& operator=(const UniqueResource&) = delete;
  ~UniqueResource() { reset(); }

  T get() const { return value_; }
  bool valid() const { return Traits::IsValid(value_); }
  explicit operator bool() const { return valid(); }

  // Closes the current value (if any) and owns `value`.
  void reset(T value = Traits::Empty()) {
    if (Traits::IsValid(value_)) Traits::Close(value_);
    value_ = value;
  }
  // Gives up ownership without closing.
  T release() { return std::exchange(value_, Traits::Empty()); }
  // Closes the current value and returns the address to receive a new one (out-parameters).
  T* put() {
    reset();
    return &value_;
  }

 private:
  T value_ = Traits::Empty();
};

struct KernelHandleTraits {
  static HANDLE Empty() { return nullptr; }
  static bool IsValid(HANDLE h) { return h != nullptr && h != INVALID_HANDLE_VALUE; }
  static void Close(HANDLE h) { CloseHandle(h); }
};
using UniqueHandle = UniqueResource<HANDLE, KernelHandleTraits>;

struct HkeyTraits {
  static HKEY Empty() { return nullptr; }
  static bool IsValid(HKEY k) { return k != nullptr; }
  static void Close(HKEY k) { RegCloseKey(k); }
};
// Never put a predefined key (HKEY_LOCAL_MACHINE, ...) in one of these.
using UniqueHkey = UniqueResource<HKEY, HkeyTraits>;

struct ScHandleTraits {
  static SC_HANDLE Empty() { return nullptr; }
  static bool IsValid(SC_HANDLE h) { return h != nullptr; }
  static void Close(SC_HANDLE h) { CloseServiceHandle(h); }
};
using UniqueScHandle = UniqueResource<SC_HANDLE, ScHandleTraits>;

struct FindHandleTraits {
  static HANDLE Empty() { return INVALID_HANDLE_VALUE; }
  static bool IsValid(HANDLE h) { return h != nullptr && h != INVALID_HANDLE_VALUE; }
  static void Close(HANDLE h) { FindClose(h); }
};
using UniqueFindHandle = UniqueResource<HANDLE, FindHandleTraits>;

// Memory from LocalAlloc (what ConvertSidToStringSidW, ConvertStringSecurityDescriptor...,
// GetNamedSecurityInfoW, CryptProtectData, FormatMessage and AuditQueryGlobalSaclW return).
struct LocalFreeDeleter {
  void operator()(void* p) const {
    if (p != nullptr) LocalFree(p);
  }
};
template <typename T>
using LocalPtr = std::unique_ptr<T, LocalFreeDeleter>;

// Buffers from the NetApi (NetUserGetInfo, NetLocalGroupGetMembers, NetUserEnum, ...).
struct NetApiBufferDeleter {
  void operator()(void* p) const {
    if (p != nullptr) NetApiBufferFree(p);
  }
};
template <typename T>
using NetApiPtr = std::unique_ptr<T, NetApiBufferDeleter>;

// SIDs from AllocateAndInitializeSid (released by FreeSid, not LocalFree).
struct FreeSidDeleter {
  void operator()(void* p) const {
    if (p != nullptr) FreeSid(p);
  }
};
using AllocatedSidPtr = std::unique_ptr<void, FreeSidDeleter>;

// Memory from CoTaskMemAlloc (SHGetKnownFolderPath, ...).
struct CoTaskMemDeleter {
  void operator()(void* p) const { CoTaskMemFree(p); }
};
template <typename T>
using CoTaskMemPtr = std::unique_ptr<T, CoTaskMemDeleter>;

// COM initialisation for the current thread. Initialise() tolerates a thread that COM was
// already initialised on in another apartment model (RPC_E_CHANGED_MODE): COM is usable then,
// but that initialisation is not ours to undo, so the destructor calls CoUninitialize only after
// a successful CoInitializeEx (S_OK or S_FALSE) of our own.
class ComInit {
 public:
  // Errors: kOs / kUnsupported with the HRESULT of CoInitializeEx.
  static Expected<ComInit> Initialize(DWORD model = COINIT_MULTITHREADED);
  ComInit(ComInit&& other) noexcept : owned_(std::exchange(other.owned_, false)) {}
  ComInit& operator=(ComInit&&) = delete;
  ComInit(const ComInit&) = delete;
  ComInit& operator=(const ComInit&) = delete;
  ~ComInit() {
    if (owned_) CoUninitialize();
  }

 private:
  explicit ComInit(bool owned) : owned_(owned) {}
  bool owned_ = false;
};

// Owner of one COM interface reference (AddRef on copy, Release on destruction).
template <typename T>
class ComPtr {
 public:
  ComPtr() = default;
  ComPtr(const ComPtr& other) : p_(other.p_) {
    if (p_ != nullptr) p_->AddRef();
  }
  ComPtr(ComPtr&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
  ComPtr& operator=(ComPtr other) noexcept {
    std::swap(p_, other.p_);
    return *this;
  }
  ~ComPtr() { reset(); }

  T* get() const { return p_; }
  T* operator->() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  void reset() {
    if (p_ != nullptr) std::exchange(p_, nullptr)->Release();
  }
  // Releases the current reference and returns the address for a new one (out-parameters).
  T** put() {
    reset();
    return &p_;
  }
  void** put_void() { return reinterpret_cast<void**>(put()); }

 private:
  T* p_ = nullptr;
};

// Owner of a BSTR (SysAllocString / SysFreeString).
class Bstr {
 public:
  Bstr() = default;
  explicit Bstr(const std::wstring& text)
      : s_(SysAllocStringLen(text.data(), static_cast<UINT>(text.size()))) {}
  Bstr(Bstr&& other) noexcept : s_(std::exchange(other.s_, nullptr)) {}
  Bstr& operator=(Bstr&& other) noexcept {
    if (this != &other) {
      SysFreeString(s_);
      s_ = std::exchange(other.s_, nullptr);
    }
    return *this;
  }
  Bstr(const Bstr&) = delete;
  Bstr& operator=(const Bstr&) = delete;
  ~Bstr() { SysFreeString(s_); }

  BSTR get() const { return s_; }
  // Frees the current string and returns the address for a new one (out-parameters).
  BSTR* put() {
    SysFreeString(s_);
    s_ = nullptr;
    return &s_;
  }
  // False only when SysAllocString ran out of memory for a non-empty string.
  bool allocated() const { return s_ != nullptr; }
  std::wstring wstr() const {
    return s_ == nullptr ? std::wstring() : std::wstring(s_, SysStringLen(s_));
  }

 private:
  BSTR s_ = nullptr;
};

// Owner of a VARIANT (VariantInit / VariantClear).
class UniqueVariant {
 public:
  UniqueVariant() { VariantInit(&v_); }
  UniqueVariant(const UniqueVariant&) = delete;
  UniqueVariant& operator=(const UniqueVariant&) = delete;
  ~UniqueVariant() { VariantClear(&v_); }
  VARIANT* get() { return &v_; }
  // Clears the current value and returns the address for a new one (out-parameters).
  VARIANT* put() {
    VariantClear(&v_);
    return &v_;
  }

 private:
  VARIANT v_;
};

// Overwrites every byte a std::string owns (its whole capacity, not just size()) with zeros and
// empties it. resize() to the capacity first so that the bytes beyond size() are part of the
// string and may be written.
inline void WipeString(std::string& s) {
  s.resize(s.capacity());
  if (!s.empty()) SecureZeroMemory(s.data(), s.size());
  s.clear();
}
inline void WipeString(std::wstring& s) {
  s.resize(s.capacity());
  if (!s.empty()) SecureZeroMemory(s.data(), s.size() * sizeof(wchar_t));
  s.clear();
}

// A string holding a secret (a password): wiped when destroyed or overwritten, so it does not
// linger in freed heap memory. Moves copy and wipe the source (a moved-from short string keeps
// its characters in the small-string buffer). Deliberately not copyable.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(value) { WipeString(value); }
  SecretString(SecretString&& other) noexcept : value_(other.value_) { WipeString(other.value_); }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      WipeString(value_);
      value_ = other.value_;
      WipeString(other.value_);
    }
    return *this;
  }
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString() { WipeString(value_); }

  const std::string& value() const { return value_; }

 private:
  std::string value_;
};

// A UTF-16 secret, for the moment it is handed to an API (NetUserAdd, NetUserSetInfo).
class SecretWString {
 public:
  explicit SecretWString(std::wstring value) : value_(std::move(value)) {}
  SecretWString(const SecretWString&) = delete;
  SecretWString& operator=(const SecretWString&) = delete;
  ~SecretWString() { WipeString(value_); }
  wchar_t* data() { return value_.data(); }

 private:
  std::wstring value_;
};

}  // namespace stockade::provision::win

#endif  // STOCKADE_PROVISION_WIN_HANDLES_H_
