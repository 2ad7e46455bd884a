#include "audit/canonical.h"

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace stockade::audit {

namespace {

// Flag bits of an ExitStatus; the other bits must be zero.
constexpr std::uint8_t kExitHasCode = 0x01;
constexpr std::uint8_t kExitHasSignal = 0x02;
constexpr std::uint8_t kExitTimedOut = 0x04;
constexpr std::uint8_t kExitKilled = 0x08;
constexpr std::uint8_t kExitKnownBits = 0x0F;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void U8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  // Multi-byte integers are built in a small buffer and appended at once: one capacity check
  // per field rather than per byte (the encoding runs for every recorded event).
  void U32(std::uint32_t v) {
    char b[4];
    for (int i = 3; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xFF);
    out_.append(b, sizeof b);
  }
  void I64(std::int64_t value) {
    auto v = static_cast<std::uint64_t>(value);
    char b[8];
    for (int i = 7; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xFF);
    out_.append(b, sizeof b);
  }
  void Str(std::string_view s) {
    U32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  // Str(), noting where the bytes of `s` landed.
  void Str(std::string_view s, CanonicalSpan& where) {
    U32(static_cast<std::uint32_t>(s.size()));
    where = {out_.size(), s.size()};
    out_.append(s);
  }
  void StrList(const std::vector<std::string>& list) {
    U32(static_cast<std::uint32_t>(list.size()));
    for (const auto& s : list) Str(s);
  }
  void Exit(const ExitStatus& e) {
    std::uint8_t flags = 0;
    if (e.code) flags |= kExitHasCode;
    if (e.signal) flags |= kExitHasSignal;
    if (e.timed_out) flags |= kExitTimedOut;
    if (e.killed) flags |= kExitKilled;
    U8(flags);
    I64(e.code.value_or(0));
    I64(e.signal.value_or(0));
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::size_t pos() const { return pos_; }
  bool AtEnd() const { return pos_ == in_.size(); }

  std::uint8_t U8(const char* what) {
    if (!Need(1, what)) return 0;
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint32_t U32(const char* what) {
    if (!Need(4, what)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in_[pos_++]);
    return v;
  }
  std::int64_t I64(const char* what) {
    if (!Need(8, what)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(in_[pos_++]);
    return static_cast<std::int64_t>(v);
  }
  std::string Str(const char* what) {
    const std::uint32_t n = U32(what);
    if (!Need(n, what)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::vector<std::string> StrList(const char* what) {
    const std::uint32_t n = U32(what);
    // Each entry takes at least 4 bytes: refuse counts the input cannot hold before reserving.
    if (failed() || n > (in_.size() - pos_) / 4) {
      Fail(what, "count larger than the remaining bytes");
      return {};
    }
    std::vector<std::string> list;
    list.reserve(n);
    for (std::uint32_t i = 0; i < n && !failed(); ++i) list.push_back(Str(what));
    return list;
  }
  ExitStatus Exit(const char* what) {
    ExitStatus e;
    const std::size_t at = pos_;
    const std::uint8_t flags = U8(what);
    const std::int64_t code = I64(what);
    const std::int64_t signal = I64(what);
    if (failed()) return e;
    if ((flags & ~kExitKnownBits) != 0 || (!(flags & kExitHasCode) && code != 0) ||
        (!(flags & kExitHasSignal) && signal != 0)) {
      pos_ = at;
      Fail(what, "non-canonical exit status (unknown flag bits or a value without its flag)");
      return e;
    }
    if (flags & kExitHasCode) e.code = code;
    if (flags & kExitHasSignal) e.signal = signal;
    e.timed_out = (flags & kExitTimedOut) != 0;
    e.killed = (flags & kExitKilled) != 0;
    return e;
  }
  void Fail(const char* what, std::string_view why) {
    if (failed()) return;
    error_ = std::string(why) + " at byte " + std::to_string(pos_) + " (" + what + ")";
  }

 private:
  bool Need(std::size_t n, const char* what) {
    if (failed()) return false;
    if (in_.size() - pos_ < n) {
      Fail(what, "truncated");
      return false;
    }
    return true;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

Status CheckString(std::string_view s, const char* field) {
  if (s.size() > kMaxStringBytes) {
    return Error(ErrorCode::kInvalidArgument, std::string("audit event field ") + field + " is " +
                                                  std::to_string(s.size()) + " bytes (limit " +
                                                  std::to_string(kMaxStringBytes) + ")");
  }
  return OkStatus();
}

Status CheckArgv(const std::vector<std::string>& argv, const char* field) {
  if (argv.size() > kMaxArgvEntries) {
    return Error(ErrorCode::kInvalidArgument, std::string("audit event field ") + field + " has " +
                                                  std::to_string(argv.size()) + " entries (limit " +
                                                  std::to_string(kMaxArgvEntries) + ")");
  }
  for (const auto& a : argv) STOCKADE_RETURN_IF_ERROR(CheckString(a, field));
  return OkStatus();
}

Status BadEnum(const char* field, int value) {
  return Error(ErrorCode::kInvalidArgument, std::string("audit event field ") + field +
                                                " has no such value " + std::to_string(value));
}

template <typename E>
bool InRange(E value, int first, int last) {
  const int v = static_cast<int>(value);
  return v >= first && v <= last;
}

}  // namespace

Status ValidateEvent(const Event& event) {
  if (event.version != kEventModelVersion) {
    return Error(ErrorCode::kInvalidArgument, "audit event version " +
                                                  std::to_string(event.version) +
                                                  " is not supported (this build writes version " +
                                                  std::to_string(kEventModelVersion) + ")");
  }
  STOCKADE_RETURN_IF_ERROR(CheckString(event.host, "host"));
  STOCKADE_RETURN_IF_ERROR(CheckString(event.session_id, "session_id"));
  Status status = std::visit(
      [](const auto& b) -> Status {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, SessionEvent>) {
          if (!InRange(b.phase, 1, 2)) return BadEnum("phase", static_cast<int>(b.phase));
          for (const auto* s : {&b.identity, &b.workspace, &b.policy_hash, &b.invoking_sid,
                                &b.invoking_user, &b.cwd}) {
            STOCKADE_RETURN_IF_ERROR(CheckString(*s, "session string"));
          }
          return CheckArgv(b.argv, "argv");
        } else if constexpr (std::is_same_v<T, ProcessEvent>) {
          if (!InRange(b.phase, 1, 2)) return BadEnum("phase", static_cast<int>(b.phase));
          for (const auto* s : {&b.process_guid, &b.parent_guid, &b.image, &b.cwd}) {
            STOCKADE_RETURN_IF_ERROR(CheckString(*s, "process string"));
          }
          return CheckArgv(b.argv, "argv");
        } else if constexpr (std::is_same_v<T, DenialEvent>) {
          if (!InRange(b.category, 1, 4)) {
            return BadEnum("category", static_cast<int>(b.category));
          }
          if (!InRange(b.source, 1, 6)) return BadEnum("source", static_cast<int>(b.source));
          for (const auto* s : {&b.target, &b.access, &b.process_guid, &b.evidence}) {
            STOCKADE_RETURN_IF_ERROR(CheckString(*s, "denial string"));
          }
          return OkStatus();
        } else {
          for (const auto* s : {&b.action, &b.step_kind, &b.target, &b.outcome}) {
            STOCKADE_RETURN_IF_ERROR(CheckString(*s, "provisioning string"));
          }
          return OkStatus();
        }
      },
      event.body);
  STOCKADE_RETURN_IF_ERROR(status);
  return OkStatus();
}

std::string EncodeCanonical(const Event& event) { return EncodeCanonical(event, nullptr); }

std::string EncodeCanonical(const Event& event, CanonicalLayout* layout) {
  CanonicalLayout ignored;
  CanonicalLayout& where = layout != nullptr ? *layout : ignored;
  where = CanonicalLayout{};
  std::string out;
  out.reserve(512);  // most events fit: one allocation
  Writer w(out);
  w.U8(static_cast<std::uint8_t>(event.version));
  w.U8(static_cast<std::uint8_t>(event.kind()));
  w.I64(event.seq);
  w.I64(event.time);
  w.Str(event.host);
  w.Str(event.session_id, where.session_id);
  std::visit(
      [&w, &where](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, SessionEvent>) {
          w.U8(static_cast<std::uint8_t>(b.phase));
          w.Str(b.identity);
          w.Str(b.workspace);
          w.Str(b.policy_hash);
          w.I64(b.invoking_uid);
          w.Str(b.invoking_sid);
          w.Str(b.invoking_user);
          w.StrList(b.argv);
          w.Str(b.cwd);
          w.I64(b.start_time);
          w.I64(b.end_time);
          w.Exit(b.exit);
        } else if constexpr (std::is_same_v<T, ProcessEvent>) {
          w.U8(static_cast<std::uint8_t>(b.phase));
          w.Str(b.process_guid);
          w.I64(b.pid);
          w.Str(b.parent_guid);
          w.I64(b.parent_pid);
          w.Str(b.image, where.image);
          where.has_image = true;
          w.StrList(b.argv);
          w.Str(b.cwd);
          w.I64(b.uid);
          w.I64(b.start_time);
          w.I64(b.end_time);
          w.Exit(b.exit);
        } else if constexpr (std::is_same_v<T, DenialEvent>) {
          w.U8(static_cast<std::uint8_t>(b.category));
          w.Str(b.target);
          w.Str(b.access);
          w.I64(b.pid);
          w.Str(b.process_guid);
          w.U8(static_cast<std::uint8_t>(b.source));
          w.Str(b.evidence);
        } else {
          w.I64(b.transaction_id);
          w.Str(b.action);
          w.I64(b.step_index);
          w.Str(b.step_kind);
          w.Str(b.target);
          w.Str(b.outcome);
        }
      },
      event.body);
  return out;
}

Expected<Event> DecodeCanonical(std::string_view bytes) {
  Reader r(bytes);
  Event event;
  const std::uint8_t version = r.U8("version");
  if (!r.failed() && version != kEventModelVersion) {
    return Error(ErrorCode::kStateCorrupt,
                 "canonical event: unsupported version " + std::to_string(version));
  }
  event.version = version;
  const std::uint8_t kind = r.U8("kind");
  event.seq = r.I64("seq");
  event.time = r.I64("time");
  event.host = r.Str("host");
  event.session_id = r.Str("session_id");
  if (r.failed()) return Error(ErrorCode::kStateCorrupt, "canonical event: " + r.error());
  switch (static_cast<EventKind>(kind)) {
    case EventKind::kSession: {
      SessionEvent b;
      const std::uint8_t phase = r.U8("session.phase");
      if (!r.failed() && (phase < 1 || phase > 2)) r.Fail("session.phase", "unknown value");
      b.phase = static_cast<SessionPhase>(phase);
      b.identity = r.Str("session.identity");
      b.workspace = r.Str("session.workspace");
      b.policy_hash = r.Str("session.policy_hash");
      b.invoking_uid = r.I64("session.invoking_uid");
      b.invoking_sid = r.Str("session.invoking_sid");
      b.invoking_user = r.Str("session.invoking_user");
      b.argv = r.StrList("session.argv");
      b.cwd = r.Str("session.cwd");
      b.start_time = r.I64("session.start_time");
      b.end_time = r.I64("session.end_time");
      b.exit = r.Exit("session.exit");
      event.body = std::move(b);
      break;
    }
    case EventKind::kProcess: {
      ProcessEvent b;
      const std::uint8_t phase = r.U8("process.phase");
      if (!r.failed() && (phase < 1 || phase > 2)) r.Fail("process.phase", "unknown value");
      b.phase = static_cast<ProcessPhase>(phase);
      b.process_guid = r.Str("process.process_guid");
      b.pid = r.I64("process.pid");
      b.parent_guid = r.Str("process.parent_guid");
      b.parent_pid = r.I64("process.parent_pid");
      b.image = r.Str("process.image");
      b.argv = r.StrList("process.argv");
      b.cwd = r.Str("process.cwd");
      b.uid = r.I64("process.uid");
      b.start_time = r.I64("process.start_time");
      b.end_time = r.I64("process.end_time");
      b.exit = r.Exit("process.exit");
      event.body = std::move(b);
      break;
    }
    case EventKind::kDenial: {
      DenialEvent b;
      const std::uint8_t category = r.U8("denial.category");
      if (!r.failed() && (category < 1 || category > 4)) {
        r.Fail("denial.category", "unknown value");
      }
      b.category = static_cast<DenialCategory>(category);
      b.target = r.Str("denial.target");
      b.access = r.Str("denial.access");
      b.pid = r.I64("denial.pid");
      b.process_guid = r.Str("denial.process_guid");
      const std::uint8_t source = r.U8("denial.source");
      if (!r.failed() && (source < 1 || source > 6)) r.Fail("denial.source", "unknown value");
      b.source = static_cast<DenialSource>(source);
      b.evidence = r.Str("denial.evidence");
      event.body = std::move(b);
      break;
    }
    case EventKind::kProvisioning: {
      ProvisioningEvent b;
      b.transaction_id = r.I64("provisioning.transaction_id");
      b.action = r.Str("provisioning.action");
      b.step_index = r.I64("provisioning.step_index");
      b.step_kind = r.Str("provisioning.step_kind");
      b.target = r.Str("provisioning.target");
      b.outcome = r.Str("provisioning.outcome");
      event.body = std::move(b);
      break;
    }
    default:
      return Error(ErrorCode::kStateCorrupt,
                   "canonical event: unknown kind " + std::to_string(kind) + " at byte 1");
  }
  if (r.failed()) return Error(ErrorCode::kStateCorrupt, "canonical event: " + r.error());
  if (!r.AtEnd()) {
    return Error(ErrorCode::kStateCorrupt,
                 "canonical event: " + std::to_string(bytes.size() - r.pos()) +
                     " trailing bytes at byte " + std::to_string(r.pos()));
  }
  return event;
}

void PatchCanonicalSeq(std::string& canonical, std::int64_t seq) {
  auto v = static_cast<std::uint64_t>(seq);
  for (std::size_t i = kCanonicalSeqSize; i-- > 0;) {
    canonical[kCanonicalSeqOffset + i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}

std::optional<std::int64_t> CanonicalSeq(std::string_view canonical) {
  if (canonical.size() < kCanonicalSeqOffset + kCanonicalSeqSize) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kCanonicalSeqSize; ++i) {
    v = (v << 8) | static_cast<std::uint8_t>(canonical[kCanonicalSeqOffset + i]);
  }
  return static_cast<std::int64_t>(v);
}

Expected<crypto::Sha256Digest> ChainHash(const crypto::Sha256Digest& prev_hash,
                                         std::string_view canonical) {
  auto hash = crypto::Sha256::Create();
  if (!hash.ok()) return hash.error();
  STOCKADE_RETURN_IF_ERROR(hash->Update(std::span<const std::uint8_t>(prev_hash)));
  STOCKADE_RETURN_IF_ERROR(hash->Update(canonical));
  return hash->Final();
}

Expected<crypto::Sha256Digest> ChainHasher::Hash(const crypto::Sha256Digest& prev_hash,
                                                 std::string_view canonical) {
  auto run = [&]() -> Expected<crypto::Sha256Digest> {
    if (hash_) {
      STOCKADE_RETURN_IF_ERROR(hash_->Reset());
    } else {
      auto created = crypto::Sha256::Create();
      if (!created.ok()) return created.error();
      hash_.emplace(std::move(*created));
    }
    STOCKADE_RETURN_IF_ERROR(hash_->Update(std::span<const std::uint8_t>(prev_hash)));
    STOCKADE_RETURN_IF_ERROR(hash_->Update(canonical));
    return hash_->Final();
  };
  auto digest = run();
  // After a failure the object may be in any state: start from a new one next time.
  if (!digest.ok()) hash_.reset();
  return digest;
}

}  // namespace stockade::audit
