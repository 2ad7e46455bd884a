// SHA-256 on Linux: OpenSSL's EVP interface in libcrypto.
#include "core/crypto/sha256.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <string>

namespace stockade::crypto {

namespace {

// "<what>: <first OpenSSL error>" (the queue is per thread; it is cleared as it is read).
Error OpenSslError(const std::string& what) {
  unsigned long code = ERR_get_error();
  std::string context = "SHA-256: " + what;
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    context += ": ";
    context += text;
  }
  ERR_clear_error();
  return Error(ErrorCode::kCrypto, std::move(context));
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// The algorithm fetched once: in OpenSSL 3, EVP_sha256() makes every EVP_DigestInit_ex look it
// up again under a lock, which costs more than hashing a short audit event. The fetched object
// lives for the whole process on purpose (it is shared by every hash, from any thread).
const EVP_MD* Sha256Algorithm() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

struct Sha256::State {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx;
  bool finished = false;
};

Sha256::Sha256(std::unique_ptr<State> state) : state_(std::move(state)) {}
Sha256::Sha256(Sha256&& other) noexcept = default;
Sha256& Sha256::operator=(Sha256&& other) noexcept = default;
Sha256::~Sha256() = default;

Expected<Sha256> Sha256::Create() {
  const EVP_MD* md = Sha256Algorithm();
  if (md == nullptr) return OpenSslError("EVP_MD_fetch(SHA256)");
  auto state = std::make_unique<State>();
  state->ctx.reset(EVP_MD_CTX_new());
  if (!state->ctx) return OpenSslError("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex(state->ctx.get(), md, nullptr) != 1) {
    return OpenSslError("EVP_DigestInit_ex");
  }
  return Sha256(std::move(state));
}

Status Sha256::Reset() {
  if (!state_) return Error(ErrorCode::kInternal, "SHA-256: Reset on a moved-from hash");
  // Re-initialising the context keeps its allocation and the fetched algorithm.
  if (EVP_DigestInit_ex(state_->ctx.get(), Sha256Algorithm(), nullptr) != 1) {
    return OpenSslError("EVP_DigestInit_ex");
  }
  state_->finished = false;
  return OkStatus();
}

Status Sha256::Update(std::span<const std::uint8_t> data) {
  if (!state_ || state_->finished) {
    return Error(ErrorCode::kInternal, "SHA-256: Update after Final (or on a moved-from hash)");
  }
  if (data.empty()) return OkStatus();
  if (EVP_DigestUpdate(state_->ctx.get(), data.data(), data.size()) != 1) {
    return OpenSslError("EVP_DigestUpdate");
  }
  return OkStatus();
}

Expected<Sha256Digest> Sha256::Final() {
  if (!state_ || state_->finished) {
    return Error(ErrorCode::kInternal, "SHA-256: Final called twice (or on a moved-from hash)");
  }
  state_->finished = true;
  Sha256Digest digest{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(state_->ctx.get(), digest.data(), &size) != 1) {
    return OpenSslError("EVP_DigestFinal_ex");
  }
  if (size != digest.size()) {
    return Error(ErrorCode::kCrypto,
                 "SHA-256: EVP_DigestFinal_ex returned " + std::to_string(size) + " bytes");
  }
  return digest;
}

}  // namespace stockade::crypto
