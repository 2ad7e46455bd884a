#include "provision/win/credential_store.h"

#include <dpapi.h>

#include <cstring>

#include "core/crypto/random.h"
#include "provision/win/win_util.h"

namespace stockade::provision::win {

namespace {

constexpr char kMagic[4] = {'S', 'T', 'K', 'C'};
constexpr std::uint32_t kVersion = 1;
// Binds the blob to Stockade: another program protecting data with the machine key cannot hand
// its blob to us as ours, nor decrypt ours by accident.
constexpr char kEntropy[] = "Stockade sandbox credentials v1";
constexpr wchar_t kDescription[] = L"Stockade sandbox credentials";
constexpr char kTemporaryMarker[] = ".tmp-";

// A byte buffer that is wiped before it is freed (the plaintext).
class SecretBytes {
 public:
  SecretBytes() = default;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() {
    if (!bytes_.empty()) SecureZeroMemory(bytes_.data(), bytes_.size());
  }
  void Reserve(std::size_t n) { bytes_.reserve(n); }
  void AppendU32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<BYTE>(v >> (8 * i)));
  }
  void Append(const std::string& s) {
    AppendU32(static_cast<std::uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void Append(const char* data, std::size_t n) { bytes_.insert(bytes_.end(), data, data + n); }
  BYTE* data() { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }

 private:
  std::vector<BYTE> bytes_;
};

// Wipes and frees the buffer CryptUnprotectData returns.
struct PlaintextDeleter {
  std::size_t size = 0;
  void operator()(BYTE* p) const {
    if (p == nullptr) return;
    SecureZeroMemory(p, size);
    LocalFree(p);
  }
};

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kStateCorrupt, "credential blob: " + what);
}

}  // namespace

Expected<std::vector<BYTE>> ProtectCredentials(const CredentialMap& credentials) {
  SecretBytes plain;
  std::size_t estimate = 12;
  for (const auto& [user, password] : credentials) {
    estimate += 8 + user.size() + password.value().size();
  }
  plain.Reserve(estimate);  // no reallocation: a moved buffer would leave an unwiped copy
  plain.Append(kMagic, sizeof kMagic);
  plain.AppendU32(kVersion);
  plain.AppendU32(static_cast<std::uint32_t>(credentials.size()));
  for (const auto& [user, password] : credentials) {
    plain.Append(user);
    plain.Append(password.value());
  }
  DATA_BLOB in{static_cast<DWORD>(plain.size()), plain.data()};
  DATA_BLOB entropy{static_cast<DWORD>(sizeof kEntropy - 1),
                    reinterpret_cast<BYTE*>(const_cast<char*>(kEntropy))};
  DATA_BLOB out{};
  const BOOL ok = CryptProtectData(&in, kDescription, &entropy, nullptr, nullptr,
                                   CRYPTPROTECT_LOCAL_MACHINE | CRYPTPROTECT_UI_FORBIDDEN, &out);
  LocalPtr<BYTE> owned(out.pbData);
  if (!ok) {
    return Win32Error(ErrorCode::kCrypto, "CryptProtectData(machine scope)", GetLastError());
  }
  return std::vector<BYTE>(out.pbData, out.pbData + out.cbData);
}

Expected<CredentialMap> UnprotectCredentials(const std::vector<BYTE>& blob) {
  DATA_BLOB in{static_cast<DWORD>(blob.size()), const_cast<BYTE*>(blob.data())};
  DATA_BLOB entropy{static_cast<DWORD>(sizeof kEntropy - 1),
                    reinterpret_cast<BYTE*>(const_cast<char*>(kEntropy))};
  DATA_BLOB out{};
  const BOOL ok =
      CryptUnprotectData(&in, nullptr, &entropy, nullptr, nullptr, CRYPTPROTECT_UI_FORBIDDEN, &out);
  std::unique_ptr<BYTE, PlaintextDeleter> plain(out.pbData, PlaintextDeleter{out.cbData});
  if (!ok) return Win32Error(ErrorCode::kCrypto, "CryptUnprotectData", GetLastError());

  const BYTE* p = out.pbData;
  std::size_t left = out.cbData;
  auto take_u32 = [&](std::uint32_t* v) {
    if (left < 4) return false;
    *v = static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
    p += 4;
    left -= 4;
    return true;
  };
  auto take_string = [&](std::string* s) {
    std::uint32_t n = 0;
    if (!take_u32(&n) || n > left) return false;
    s->assign(reinterpret_cast<const char*>(p), n);
    p += n;
    left -= n;
    return true;
  };
  if (left < sizeof kMagic || std::memcmp(p, kMagic, sizeof kMagic) != 0) {
    return Corrupt("no STKC header");
  }
  p += sizeof kMagic;
  left -= sizeof kMagic;
  std::uint32_t version = 0;
  std::uint32_t count = 0;
  if (!take_u32(&version) || version != kVersion) {
    return Corrupt("unsupported version " + std::to_string(version));
  }
  if (!take_u32(&count)) return Corrupt("truncated count");
  CredentialMap credentials;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string user;
    std::string password;
    password.reserve(left);  // one allocation, wiped below: no stray copy of the secret
    if (!take_string(&user) || !take_string(&password)) {
      WipeString(password);
      return Corrupt("entry " + std::to_string(i) + " is truncated");
    }
    if (user.empty() || credentials.count(user) != 0) {
      WipeString(password);
      return Corrupt("entry " + std::to_string(i) + " has an empty or repeated user name");
    }
    credentials.emplace(user, SecretString(std::move(password)));
  }
  if (left != 0) return Corrupt(std::to_string(left) + " bytes after the last entry");
  return credentials;
}

Expected<std::optional<std::vector<BYTE>>> ReadFileBytes(const std::string& path) {
  UniqueHandle file(CreateFileW(Wide(path).c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr,
                                OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file) {
    const DWORD err = GetLastError();
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) {
      return std::optional<std::vector<BYTE>>();
    }
    return Win32Error("CreateFileW(" + path + ", read)", err);
  }
  LARGE_INTEGER size{};
  if (!GetFileSizeEx(file.get(), &size)) return LastWin32Error("GetFileSizeEx(" + path + ")");
  if (size.QuadPart > 64 * 1024 * 1024) {
    return Error(ErrorCode::kStateCorrupt, path + " is larger than 64 MiB");
  }
  std::vector<BYTE> bytes(static_cast<std::size_t>(size.QuadPart));
  std::size_t done = 0;
  while (done < bytes.size()) {
    DWORD read = 0;
    if (!ReadFile(file.get(), bytes.data() + done, static_cast<DWORD>(bytes.size() - done), &read,
                  nullptr)) {
      return LastWin32Error("ReadFile(" + path + ")");
    }
    if (read == 0) break;
    done += read;
  }
  bytes.resize(done);
  return std::optional<std::vector<BYTE>>(std::move(bytes));
}

Status WriteFileAtomically(const std::string& path, const std::vector<BYTE>& bytes,
                           const std::vector<Ace>& dacl, bool dacl_protected) {
  auto suffix = crypto::RandomHex(8);
  if (!suffix.ok()) return suffix.error();
  const std::string temporary = path + kTemporaryMarker + *suffix;

  SECURITY_DESCRIPTOR sd;
  if (!InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION)) {
    return LastWin32Error("InitializeSecurityDescriptor");
  }
  auto acl = AclBuffer::Build(ExplicitAces(dacl));
  if (!acl.ok()) return acl.error();
  if (!SetSecurityDescriptorDacl(&sd, TRUE, acl->get(), FALSE)) {
    return LastWin32Error("SetSecurityDescriptorDacl");
  }
  if (dacl_protected && !SetSecurityDescriptorControl(&sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED)) {
    return LastWin32Error("SetSecurityDescriptorControl");
  }
  SECURITY_ATTRIBUTES attributes{sizeof attributes, &sd, FALSE};
  {
    UniqueHandle file(CreateFileW(Wide(temporary).c_str(), GENERIC_WRITE, 0, &attributes,
                                  CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!file) return LastWin32Error("CreateFileW(" + temporary + ", create)");
    std::size_t done = 0;
    while (done < bytes.size()) {
      DWORD written = 0;
      if (!WriteFile(file.get(), bytes.data() + done, static_cast<DWORD>(bytes.size() - done),
                     &written, nullptr)) {
        Error error = LastWin32Error("WriteFile(" + temporary + ")");
        file.reset();
        DeleteFileW(Wide(temporary).c_str());
        return error;
      }
      done += written;
    }
    if (!FlushFileBuffers(file.get())) {
      Error error = LastWin32Error("FlushFileBuffers(" + temporary + ")");
      file.reset();
      DeleteFileW(Wide(temporary).c_str());
      return error;
    }
  }
  if (!MoveFileExW(Wide(temporary).c_str(), Wide(path).c_str(),
                   MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    Error error = LastWin32Error("MoveFileExW(" + temporary + " -> " + path + ")");
    DeleteFileW(Wide(temporary).c_str());
    return error;
  }
  return OkStatus();
}

Status RemoveTemporaries(const std::string& path) {
  const auto slash = path.find_last_of("\\/");
  const std::string folder = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  WIN32_FIND_DATAW found{};
  UniqueFindHandle search(FindFirstFileW(Wide(path + kTemporaryMarker + "*").c_str(), &found));
  if (!search) {
    const DWORD err = GetLastError();
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return OkStatus();
    return Win32Error("FindFirstFileW(" + path + kTemporaryMarker + "*)", err);
  }
  do {
    const std::string name = folder + Utf8(found.cFileName);
    if (!DeleteFileW(Wide(name).c_str()) && GetLastError() != ERROR_FILE_NOT_FOUND) {
      return LastWin32Error("DeleteFileW(" + name + ")");
    }
  } while (FindNextFileW(search.get(), &found));
  return OkStatus();
}

Status WriteCredentialFile(const std::string& path, const CredentialMap& credentials,
                           const std::vector<Ace>& dacl) {
  auto blob = ProtectCredentials(credentials);
  if (!blob.ok()) return blob.error();
  return WriteFileAtomically(path, *blob, dacl, /*dacl_protected=*/true);
}

Expected<CredentialMap> ReadCredentialFile(const std::string& path) {
  auto bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.error();
  if (!bytes->has_value()) {
    return Win32Error(ErrorCode::kNotFound, "CreateFileW(" + path + ")", ERROR_FILE_NOT_FOUND);
  }
  auto credentials = UnprotectCredentials(**bytes);
  if (!credentials.ok()) return credentials.error().Wrap(path);
  return credentials;
}

}  // namespace stockade::provision::win
