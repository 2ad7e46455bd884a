#include "core/policy/policy_loader.h"

#include <toml++/toml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/paths/locations.h"
#include "core/policy/default_policy.h"
#include "core/policy/policy_diagnostics.h"
#include "core/policy/policy_path_checks.h"
#include "core/policy/policy_schema.h"

namespace stockade {

namespace {

using policy_internal::PolicyError;
using policy_internal::TextPosition;

// UTF-8 in, native path out (on Windows std::filesystem would otherwise read a narrow string in
// the ANSI code page).
std::filesystem::path PathFromUtf8(std::string_view utf8) {
  std::u8string text(utf8.size(), u8'\0');
  std::memcpy(text.data(), utf8.data(), utf8.size());
  return std::filesystem::path(text);
}

std::string SizeLimitMessage(std::uintmax_t size) {
  return "the file is " + std::to_string(size) + " bytes; policy files are limited to " +
         std::to_string(kMaxPolicyFileBytes) + " bytes (1 MiB)";
}

struct Utf8Problem {
  TextPosition at;
  unsigned char byte = 0;
  bool truncated = false;
};

// Finds the first byte that is not part of a well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF). toml++ detects these too, but this names the
// exact byte and its position.
std::optional<Utf8Problem> FindInvalidUtf8(std::string_view text) {
  TextPosition at;
  std::size_t i = 0;
  // A byte order mark is allowed (toml++ skips it) and does not count as a column.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  auto continuation = [&](std::size_t k, unsigned char lo, unsigned char hi) {
    if (k >= text.size()) return false;
    auto b = static_cast<unsigned char>(text[k]);
    return b >= lo && b <= hi;
  };
  while (i < text.size()) {
    auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    bool ok = false;
    if (lead < 0x80) {
      length = 1;
      ok = true;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      ok = continuation(i + 1, 0x80, 0xBF);
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      unsigned char lo = lead == 0xE0 ? 0xA0 : 0x80;
      unsigned char hi = lead == 0xED ? 0x9F : 0xBF;
      ok = continuation(i + 1, lo, hi) && continuation(i + 2, 0x80, 0xBF);
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      unsigned char lo = lead == 0xF0 ? 0x90 : 0x80;
      unsigned char hi = lead == 0xF4 ? 0x8F : 0xBF;
      ok = continuation(i + 1, lo, hi) && continuation(i + 2, 0x80, 0xBF) &&
           continuation(i + 3, 0x80, 0xBF);
    }
    if (!ok) {
      return Utf8Problem{at, lead, length > 0 && i + length > text.size()};
    }
    if (lead == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
    i += length;
  }
  return std::nullopt;
}

std::string LowerFirst(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') {
    text[0] = static_cast<char>(text[0] - 'A' + 'a');
  }
  return text;
}

}  // namespace

Expected<Policy> ParsePolicyOver(std::string_view text, std::string_view source_name,
                                 const Policy& base) {
  if (text.size() > kMaxPolicyFileBytes) {
    return PolicyError(ErrorCode::kPolicyInvalid, source_name, std::nullopt,
                       SizeLimitMessage(text.size()));
  }
  if (std::optional<Utf8Problem> bad = FindInvalidUtf8(text)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", bad->byte);
    std::string message = bad->truncated ? std::string("UTF-8 sequence starting with byte ") + hex +
                                               " is cut off by the end of the file"
                                         : std::string("byte ") + hex + " is not valid UTF-8";
    return PolicyError(ErrorCode::kPolicyParse, source_name, bad->at,
                       message + "; policy files must be UTF-8 encoded");
  }

  toml::table document;
  try {
    document = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    const toml::source_position& begin = e.source().begin;
    std::string message = "invalid TOML: " + LowerFirst(std::string(e.description()));
    if (message.find("cannot redefine existing") != std::string::npos) {
      message += " (each key and each [table] may be defined only once)";
    }
    return PolicyError(ErrorCode::kPolicyParse, source_name, TextPosition{begin.line, begin.column},
                       message);
  } catch (const std::exception& e) {
    // No exception leaves the module: an allocation failure inside the parser ends up here.
    return PolicyError(ErrorCode::kPolicyParse, source_name, std::nullopt,
                       std::string("the TOML parser failed: ") + e.what());
  }

  Expected<policy_internal::SchemaResult> read =
      policy_internal::ReadPolicySchema(document, source_name, base);
  if (!read.ok()) return read.error();
  STOCKADE_RETURN_IF_ERROR(
      policy_internal::CheckPolicyPaths(read->policy, read->locations, source_name));
  return std::move(read->policy);
}

Expected<Policy> ParsePolicy(std::string_view text, std::string_view source_name) {
  return ParsePolicyOver(text, source_name, DefaultPolicy());
}

Expected<Policy> LoadPolicyFile(const std::string& path) {
  if (path.empty()) {
    return Error(ErrorCode::kInvalidArgument, "policy file: the path is empty");
  }
  const std::filesystem::path native = PathFromUtf8(path);
  std::error_code ec;
  std::filesystem::file_status status = std::filesystem::status(native, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    return Error(ErrorCode::kNotFound, path + ": cannot read the policy: no such file");
  }
  if (ec) {
    return Error(ErrorCode::kIo, path + ": cannot read the policy: " + ec.message(),
                 OsErrorKind::kErrno, ec.value());
  }
  if (status.type() == std::filesystem::file_type::directory) {
    return Error(ErrorCode::kIo,
                 path + ": cannot read the policy: it is a directory, not a policy file");
  }
  // Regular files are measured before reading; other kinds (a pipe from process substitution,
  // a device) are read only up to the limit below.
  if (status.type() == std::filesystem::file_type::regular) {
    std::uintmax_t size = std::filesystem::file_size(native, ec);
    if (ec) {
      return Error(ErrorCode::kIo, path + ": cannot read the policy's size: " + ec.message(),
                   OsErrorKind::kErrno, ec.value());
    }
    if (size > kMaxPolicyFileBytes) {
      return PolicyError(ErrorCode::kPolicyInvalid, path, std::nullopt, SizeLimitMessage(size));
    }
  }

  errno = 0;
  std::ifstream in(native, std::ios::binary);
  if (!in.is_open()) {
    int err = errno;
    ErrorCode code =
        (err == EACCES || err == EPERM) ? ErrorCode::kPermissionDenied : ErrorCode::kIo;
    return ErrnoError(code, path + ": cannot open the policy", err);
  }
  // One byte more than the limit tells a file that grew past it (or a device) from one at it.
  std::string text(static_cast<std::size_t>(kMaxPolicyFileBytes) + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    return Error(ErrorCode::kIo, path + ": reading the policy failed");
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxPolicyFileBytes) {
    return PolicyError(ErrorCode::kPolicyInvalid, path, std::nullopt,
                       "the file is larger than " + std::to_string(kMaxPolicyFileBytes) +
                           " bytes; policy files are limited to 1 MiB");
  }
  return ParsePolicy(text, path);
}

Expected<Policy> LoadPolicyOrDefault(const std::string& path) {
  if (path.empty()) return DefaultPolicy();
  return LoadPolicyFile(path);
}

Expected<Policy> LoadEffectivePolicy(std::string_view flag_path, std::string_view env_path,
                                     std::string_view default_path) {
  if (!flag_path.empty()) return LoadPolicyFile(std::string(flag_path));
  if (!env_path.empty()) return LoadPolicyFile(std::string(env_path));
  if (!default_path.empty()) {
    std::error_code ec;
    std::filesystem::file_status status =
        std::filesystem::symlink_status(PathFromUtf8(default_path), ec);
    // Anything at the default location is loaded (and must be valid); only its absence means
    // "use the embedded default". A dangling symlink there is an error, not an absence.
    if (status.type() != std::filesystem::file_type::not_found) {
      return LoadPolicyFile(std::string(default_path));
    }
  }
  return DefaultPolicy();
}

Expected<Policy> LoadEffectivePolicy(std::string_view flag_path) {
  // DefaultPolicyPath() returns $STOCKADE_POLICY (as UTF-8) when it is set; getenv() is only
  // asked whether it is set, which the ANSI view on Windows answers correctly too.
  const char* env = std::getenv(paths::kPolicyPathEnv);
  const bool env_set = env != nullptr && env[0] != '\0';
  const std::string located = paths::DefaultPolicyPath();
  return env_set ? LoadEffectivePolicy(flag_path, located, "")
                 : LoadEffectivePolicy(flag_path, "", located);
}

}  // namespace stockade
