// The canonical encoding of an event (version 1): the exact bytes the hash chain covers and the
// store keeps. Binary, fixed field order, every field always present, big-endian integers,
// length-prefixed byte strings: one event has exactly one encoding and the decoder accepts
// nothing else, so equal events hash equally and no two events share an encoding. Layout in
// docs/audit-events.md ("Canonical encoding"), with test vectors in tests/audit.
#ifndef STOCKADE_AUDIT_CANONICAL_H_
#define STOCKADE_AUDIT_CANONICAL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "audit/event.h"
#include "core/crypto/sha256.h"
#include "core/error.h"

namespace stockade::audit {

// Limits enforced at Record time (the encoding itself could hold more).
inline constexpr std::size_t kMaxStringBytes = 1 << 20;  // one field
inline constexpr std::size_t kMaxArgvEntries = 65536;
inline constexpr std::size_t kMaxEventBytes = 4 << 20;  // one encoded event

// Checks what the encoding cannot represent or the store refuses: enum values out of range,
// version other than kEventModelVersion, strings or argv over the limits above.
// Errors: kInvalidArgument naming the field.
Status ValidateEvent(const Event& event);

// The canonical bytes of `event` (including seq, version, time, host). Contract: `event`
// passed ValidateEvent.
std::string EncodeCanonical(const Event& event);

// Decodes canonical bytes. Errors: kStateCorrupt naming the offset and what was wrong
// (truncated, unknown version/kind/enum value, non-canonical flag bits, trailing bytes).
Expected<Event> DecodeCanonical(std::string_view bytes);

// The chain step: SHA-256(prev_hash || canonical). Errors: kCrypto.
Expected<crypto::Sha256Digest> ChainHash(const crypto::Sha256Digest& prev_hash,
                                         std::string_view canonical);

// The hash the first event of a store chains from: 32 zero bytes.
inline constexpr crypto::Sha256Digest kGenesisHash{};

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_CANONICAL_H_
