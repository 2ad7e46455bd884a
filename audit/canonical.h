// The canonical encoding of an event (version 1): the exact bytes the hash chain covers and the
// store keeps. Binary, fixed field order, every field always present, big-endian integers,
// length-prefixed byte strings: one event has exactly one encoding and the decoder accepts
// nothing else, so equal events hash equally and no two events share an encoding. Layout in
// docs/audit-events.md ("Canonical encoding"), with test vectors in tests/audit.
#ifndef STOCKADE_AUDIT_CANONICAL_H_
#define STOCKADE_AUDIT_CANONICAL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
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

// A field's bytes inside canonical bytes (after its length prefix).
struct CanonicalSpan {
  std::size_t offset = 0;
  std::size_t size = 0;
  std::string_view In(std::string_view canonical) const { return canonical.substr(offset, size); }
};

// Where the store's indexed text columns sit in an event's canonical bytes, so that it can
// bind them from the bytes instead of keeping a copy of the event.
struct CanonicalLayout {
  CanonicalSpan session_id;
  CanonicalSpan image;     // process events only
  bool has_image = false;  // true for process events
};

// EncodeCanonical, also filling `layout` (when not null).
std::string EncodeCanonical(const Event& event, CanonicalLayout* layout);

// Where the seq sits in the canonical bytes: after the version and kind bytes, 8 bytes
// big-endian. Producers encode an event before the writer knows its seq (with seq 0) and the
// writer writes the seq in place, so that the encoding work runs on the producers' threads.
inline constexpr std::size_t kCanonicalSeqOffset = 2;
inline constexpr std::size_t kCanonicalSeqSize = 8;

// Writes `seq` into canonical bytes in place (the bytes are then exactly EncodeCanonical() of
// the event with that seq). Contract: `canonical` came from EncodeCanonical.
void PatchCanonicalSeq(std::string& canonical, std::int64_t seq);

// The seq inside canonical bytes, read without decoding the rest; nullopt when too short.
std::optional<std::int64_t> CanonicalSeq(std::string_view canonical);

// Decodes canonical bytes. Errors: kStateCorrupt naming the offset and what was wrong
// (truncated, unknown version/kind/enum value, non-canonical flag bits, trailing bytes).
Expected<Event> DecodeCanonical(std::string_view bytes);

// The chain step: SHA-256(prev_hash || canonical). Errors: kCrypto.
Expected<crypto::Sha256Digest> ChainHash(const crypto::Sha256Digest& prev_hash,
                                         std::string_view canonical);

// The chain step with one hash object reused for every call (the store's writer and the
// verifier hash a million short events; an OS hash object per event would cost more than the
// hashing). Same result as ChainHash. Not thread-safe: one per thread.
class ChainHasher {
 public:
  // SHA-256(prev_hash || canonical). Errors: kCrypto.
  Expected<crypto::Sha256Digest> Hash(const crypto::Sha256Digest& prev_hash,
                                      std::string_view canonical);

 private:
  std::optional<crypto::Sha256> hash_;
};

// The hash the first event of a store chains from: 32 zero bytes.
inline constexpr crypto::Sha256Digest kGenesisHash{};

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_CANONICAL_H_
