// Text helpers shared by the review outputs (syslog, HTML report): events carry byte strings
// (argv on Linux need not be UTF-8), and both outputs must be valid UTF-8.
#ifndef STOCKADE_AUDIT_REVIEW_UTF8_H_
#define STOCKADE_AUDIT_REVIEW_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace stockade::audit::review {

// Returns `text` with every byte sequence that is not well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF) replaced by U+FFFD, one per "maximal subpart"
// as Unicode recommends (a truncated sequence gives one, a byte that starts nothing gives one).
std::string ToValidUtf8(std::string_view text);

// The longest prefix of the valid UTF-8 string `text` that is at most `max_bytes` long and does
// not end inside a character.
std::string_view Utf8Prefix(std::string_view text, std::size_t max_bytes);

}  // namespace stockade::audit::review

#endif  // STOCKADE_AUDIT_REVIEW_UTF8_H_
