#include "provision/steps/file_step.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "provision/steps/file_io.h"

namespace stockade::provision {
namespace {

constexpr std::uint32_t kMaxMode = 07777;
constexpr std::uint32_t kCreatedDirMode = 0755;

// --- base64 (RFC 4648): the previous content may be any bytes, and the journal stores JSON text.

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t v = (static_cast<std::uint8_t>(in[i]) << 16) |
                      (static_cast<std::uint8_t>(in[i + 1]) << 8) |
                      static_cast<std::uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<std::uint8_t>(in[i]) << 16);
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::array<int, 256> value{};
  value.fill(-1);
  for (int i = 0; i < 64; ++i) value[static_cast<std::uint8_t>(kAlphabet[i])] = i;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int pad = 0;
    std::uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      int d = value[static_cast<std::uint8_t>(c)];
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

std::string OctalMode(std::uint32_t mode) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%04o", static_cast<unsigned>(mode));
  return buffer;
}

std::filesystem::path FsPath(const std::string& utf8) {
  return std::filesystem::path(std::u8string(utf8.begin(), utf8.end()));
}

std::string Utf8(const std::filesystem::path& path) {
  std::u8string s = path.u8string();
  return std::string(s.begin(), s.end());
}

// What Undo needs, parsed from the journaled JSON.
struct Before {
  bool exists = false;
  std::string content;
  std::uint32_t mode = 0;
  std::vector<std::string> created_dirs;  // outermost first
};

class FileStep : public Step {
 public:
  FileStep(StepSpec spec, std::string path, std::string content, std::uint32_t mode,
           bool create_parents)
      : Step(std::move(spec)),
        path_(std::move(path)),
        content_(std::move(content)),
        mode_(mode),
        create_parents_(create_parents) {}

  std::string Describe() const override {
    return "write file " + path_ + " (mode " + OctalMode(mode_) + ", " +
           std::to_string(content_.size()) + " bytes)";
  }

  Expected<nlohmann::json> CaptureBefore() override {
    auto snap = file_io::Read(path_);
    if (!snap) return snap.error();
    nlohmann::json before = nlohmann::json::object();
    switch (snap->type) {
      case file_io::NodeType::kAbsent:
        before["exists"] = false;
        break;
      case file_io::NodeType::kRegular:
        before["exists"] = true;
        before["content_b64"] = Base64Encode(snap->content);
        before["mode"] = snap->mode;
        break;
      case file_io::NodeType::kDirectory:
      case file_io::NodeType::kOther:
        return Error(ErrorCode::kPathInvalid,
                     path_ +
                         " is a folder, symlink or special file, not a regular file; "
                         "refusing to replace it");
    }
    auto missing = MissingAncestors();
    if (!missing) return missing.error();
    if (!missing->empty() && !create_parents_) {
      return Error(ErrorCode::kNotFound, "folder " + missing->back() + " for " + path_ +
                                             " does not exist (the step does not create "
                                             "parents unless create_parents is set)");
    }
    before["created_dirs"] = *missing;
    return before;
  }

  Expected<bool> IsApplied() override {
    auto snap = file_io::Read(path_);
    if (!snap) return snap.error();
    return Difference(*snap).empty();
  }

  Expected<bool> TargetPresent() override {
    auto snap = file_io::Read(path_);
    if (!snap) return snap.error();
    return snap->type != file_io::NodeType::kAbsent;
  }

  Status Apply() override {
    if (create_parents_) {
      auto missing = MissingAncestors();
      if (!missing) return missing.error();
      for (const std::string& dir : *missing) {
        STOCKADE_RETURN_IF_ERROR(file_io::MakeDirectory(dir, kCreatedDirMode));
      }
    }
    return file_io::WriteAtomically(path_, content_, mode_);
  }

  Status Verify() override {
    auto snap = file_io::Read(path_);
    if (!snap) return snap.error();
    std::string diff = Difference(*snap);
    if (!diff.empty()) return Error(ErrorCode::kVerificationFailed, diff);
    return OkStatus();
  }

  Status Undo(const nlohmann::json& before_json) override {
    auto before = ParseBefore(before_json);
    if (!before) return before.error();
    // A crash inside WriteAtomically can leave the temporary file; it is ours either way.
    STOCKADE_RETURN_IF_ERROR(file_io::RemoveTemp(path_));
    auto snap = file_io::Read(path_);
    if (!snap) return snap.error();
    if (before->exists) {
      if (snap->type != file_io::NodeType::kRegular || snap->content != before->content ||
          !SameMode(snap->mode, before->mode)) {
        STOCKADE_RETURN_IF_ERROR(file_io::WriteAtomically(path_, before->content, before->mode));
      }
    } else if (snap->type != file_io::NodeType::kAbsent) {
      if (snap->type != file_io::NodeType::kRegular) {
        return Error(ErrorCode::kPathInvalid,
                     path_ + " is now a folder, symlink or special file; not removing it");
      }
      STOCKADE_RETURN_IF_ERROR(file_io::Remove(path_));
    }
    // Innermost first; a folder someone has since put files into stays (VerifyUndone says so).
    for (auto it = before->created_dirs.rbegin(); it != before->created_dirs.rend(); ++it) {
      auto removed = file_io::RemoveEmptyDirectory(*it);
      if (!removed) return removed.error();
      if (!*removed) break;
    }
    return OkStatus();
  }

  Status VerifyUndone(const nlohmann::json& before_json) override {
    auto before = ParseBefore(before_json);
    if (!before) return before.error();
    auto snap = file_io::Read(path_);
    if (!snap) return snap.error();
    if (before->exists) {
      if (snap->type != file_io::NodeType::kRegular) {
        return Error(ErrorCode::kVerificationFailed,
                     "file " + path_ + " should have been restored but is missing");
      }
      if (snap->content != before->content) {
        return Error(ErrorCode::kVerificationFailed,
                     "file " + path_ + " does not hold its previous content (" +
                         std::to_string(snap->content.size()) + " bytes, expected " +
                         std::to_string(before->content.size()) + ")");
      }
      if (!SameMode(snap->mode, before->mode)) {
        return Error(ErrorCode::kVerificationFailed,
                     "file " + path_ + " has mode " + OctalMode(snap->mode) +
                         ", expected its previous " + OctalMode(before->mode));
      }
    } else if (snap->type != file_io::NodeType::kAbsent) {
      return Error(ErrorCode::kVerificationFailed,
                   "file " + path_ + " should be absent again but is still there");
    }
    auto temp = file_io::Read(file_io::TempPathFor(path_));
    if (!temp) return temp.error();
    if (temp->type != file_io::NodeType::kAbsent) {
      return Error(ErrorCode::kVerificationFailed,
                   "temporary file " + file_io::TempPathFor(path_) + " is still there");
    }
    // Innermost first: the folder named is the one that holds what is not ours.
    for (auto it = before->created_dirs.rbegin(); it != before->created_dirs.rend(); ++it) {
      const std::string& dir = *it;
      auto d = file_io::Read(dir);
      if (!d) return d.error();
      if (d->type != file_io::NodeType::kAbsent) {
        return Error(ErrorCode::kVerificationFailed,
                     "folder " + dir + ", created for " + path_ +
                         ", is still there (not empty: it holds files Stockade did not put "
                         "there, so it was left in place)");
      }
    }
    return OkStatus();
  }

 private:
  static bool SameMode(std::uint32_t a, std::uint32_t b) {
    const std::uint32_t mask = file_io::SignificantModeBits();
    return (a & mask) == (b & mask);
  }

  // Empty when `snap` is what Apply produces; otherwise the first difference, for people.
  std::string Difference(const file_io::FileSnapshot& snap) const {
    switch (snap.type) {
      case file_io::NodeType::kAbsent:
        return "file " + path_ + " is missing";
      case file_io::NodeType::kDirectory:
      case file_io::NodeType::kOther:
        return path_ + " is not a regular file";
      case file_io::NodeType::kRegular:
        break;
    }
    if (snap.content != content_) {
      return "file " + path_ + " has different content (" + std::to_string(snap.content.size()) +
             " bytes, expected " + std::to_string(content_.size()) + ")";
    }
    if (!SameMode(snap.mode, mode_)) {
      return "file " + path_ + " has mode " + OctalMode(snap.mode) + ", expected " +
             OctalMode(mode_);
    }
    return std::string();
  }

  // Ancestors of the file that do not exist, outermost first. Ancestors are looked at through
  // symlinks (a parent like /var/run -> /run is an ordinary folder to write into); only the
  // file itself is never followed.
  Expected<std::vector<std::string>> MissingAncestors() const {
    std::vector<std::string> missing;
    std::filesystem::path dir = FsPath(path_).parent_path();
    while (!dir.empty()) {
      const std::string utf8 = Utf8(dir);
      std::error_code ec;
      const std::filesystem::file_status st = std::filesystem::status(dir, ec);
      if (std::filesystem::is_directory(st)) break;
      if (st.type() != std::filesystem::file_type::not_found) {
        if (ec) {
          return Error(ErrorCode::kIo, "reading the status of " + utf8 + ": " + ec.message());
        }
        return Error(ErrorCode::kPathInvalid,
                     utf8 + " (a parent of " + path_ + ") is not a folder");
      }
      missing.insert(missing.begin(), utf8);
      std::filesystem::path parent = dir.parent_path();
      if (parent == dir) break;
      dir = parent;
    }
    return missing;
  }

  Expected<Before> ParseBefore(const nlohmann::json& json) const {
    auto corrupt = [&](std::string_view what) {
      return Error(ErrorCode::kStateCorrupt, "journaled before-state of " + path_ + " " +
                                                 std::string(what) + ": " + json.dump());
    };
    Before before;
    if (!json.is_object() || !json.contains("exists") || !json["exists"].is_boolean()) {
      return corrupt("has no boolean \"exists\"");
    }
    before.exists = json["exists"].get<bool>();
    if (before.exists) {
      if (!json.contains("content_b64") || !json["content_b64"].is_string() ||
          !json.contains("mode") || !json["mode"].is_number_unsigned()) {
        return corrupt("lacks content_b64 or mode");
      }
      auto content = Base64Decode(json["content_b64"].get<std::string>());
      if (!content) return corrupt("has invalid base64 content");
      before.content = std::move(*content);
      before.mode = json["mode"].get<std::uint32_t>();
    }
    if (json.contains("created_dirs")) {
      if (!json["created_dirs"].is_array()) return corrupt("has a created_dirs that is no list");
      for (const auto& d : json["created_dirs"]) {
        if (!d.is_string()) return corrupt("has a created_dirs entry that is no string");
        before.created_dirs.push_back(d.get<std::string>());
      }
    }
    return before;
  }

  std::string path_;
  std::string content_;
  std::uint32_t mode_;
  bool create_parents_;
};

}  // namespace

StepSpec MakeFileSpec(const std::string& path, const std::string& content, std::uint32_t mode,
                      bool create_parents) {
  StepSpec spec;
  spec.kind = kind::kFile;
  spec.target = "file " + path;
  spec.params = nlohmann::json::object();
  spec.params["path"] = path;
  spec.params["content"] = content;
  spec.params["mode"] = mode;
  if (create_parents) spec.params["create_parents"] = true;
  return spec;
}

Expected<std::unique_ptr<Step>> CreateFileStep(const StepSpec& spec) {
  auto invalid = [&](std::string_view what) {
    return Error(ErrorCode::kInvalidArgument,
                 "file step '" + spec.target + "': " + std::string(what));
  };
  const nlohmann::json& p = spec.params;
  if (!p.is_object()) return invalid("params must be an object");
  if (!p.contains("path") || !p["path"].is_string()) return invalid("params.path must be a string");
  std::string path = p["path"].get<std::string>();
  if (path.empty() || !FsPath(path).is_absolute()) {
    return invalid("params.path '" + path + "' must be an absolute path");
  }
  if (!p.contains("content") || !p["content"].is_string()) {
    return invalid("params.content must be a string");
  }
  std::uint32_t mode = 0644;
  if (p.contains("mode")) {
    if (!p["mode"].is_number_unsigned() || p["mode"].get<std::uint64_t>() > kMaxMode) {
      return invalid("params.mode must be an integer from 0 to 07777");
    }
    mode = p["mode"].get<std::uint32_t>();
  }
  bool create_parents = false;
  if (p.contains("create_parents")) {
    if (!p["create_parents"].is_boolean()) return invalid("params.create_parents must be a bool");
    create_parents = p["create_parents"].get<bool>();
  }
  return std::unique_ptr<Step>(std::make_unique<FileStep>(
      spec, std::move(path), p["content"].get<std::string>(), mode, create_parents));
}

}  // namespace stockade::provision
