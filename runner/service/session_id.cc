#include "runner/service/session_id.h"

#include "core/crypto/random.h"

namespace stockade::runner::service {

Expected<std::string> NewSessionId() {
  auto hex = crypto::RandomHex(16);
  if (!hex.ok()) return hex.error().Wrap("session id");
  std::string h = *hex;
  h[12] = '4';  // version 4
  static constexpr char kVariant[] = "89ab";
  h[16] = kVariant[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

}  // namespace stockade::runner::service
