#include "audit/win/security_log.h"

#include <windows.h>
#include <winevt.h>

#include <memory>
#include <type_traits>

#include "audit/win/win_util.h"

namespace stockade::audit::win_os {

namespace {

struct EvtCloser {
  void operator()(EVT_HANDLE h) const {
    if (h != nullptr) EvtClose(h);
  }
};
using UniqueEvt = std::unique_ptr<std::remove_pointer_t<EVT_HANDLE>, EvtCloser>;

Error EvtError(std::string_view what, DWORD code) {
  if (code == ERROR_CALL_NOT_IMPLEMENTED || code == ERROR_EVT_CHANNEL_NOT_FOUND ||
      code == ERROR_NOT_SUPPORTED) {
    return Win32Error(what, code, ErrorCode::kUnsupported);
  }
  return Win32Error(what, code);
}

// One event as XML (UTF-8).
Expected<std::string> RenderXml(EVT_HANDLE event) {
  std::wstring buffer(4096, L'\0');
  for (int attempt = 0; attempt < 3; ++attempt) {
    DWORD used = 0, properties = 0;
    if (EvtRender(nullptr, event, EvtRenderEventXml,
                  static_cast<DWORD>(buffer.size() * sizeof(wchar_t)), buffer.data(), &used,
                  &properties)) {
      std::size_t chars = used / sizeof(wchar_t);
      while (chars > 0 && buffer[chars - 1] == L'\0') --chars;
      return Utf8(std::wstring_view(buffer.data(), chars));
    }
    const DWORD code = GetLastError();
    if (code != ERROR_INSUFFICIENT_BUFFER) return EvtError("EvtRender(EvtRenderEventXml)", code);
    buffer.assign(used / sizeof(wchar_t) + 1, L'\0');
  }
  return Error(ErrorCode::kOs, "EvtRender(EvtRenderEventXml): the event kept growing");
}

}  // namespace

Expected<std::vector<std::string>> ReadSecurityLogXml(const SecurityLogQuery& query,
                                                      bool* truncated) {
  if (truncated != nullptr) *truncated = false;
  auto xpath = SecurityDenialXPath(query.sids, query.since, query.until);
  if (!xpath.ok()) return xpath.error();
  const std::wstring wide_query = Wide(*xpath);
  // Cleared first: Wine's stub fails without setting an error, and a stale one left by an
  // earlier call of this thread (e.g. ERROR_BROKEN_PIPE) would otherwise be reported as its cause.
  SetLastError(ERROR_SUCCESS);
  UniqueEvt results(EvtQuery(nullptr, L"Security", wide_query.c_str(),
                             EvtQueryChannelPath | EvtQueryForwardDirection));
  if (!results) {
    const DWORD code = GetLastError();
    if (code == ERROR_SUCCESS) {
      // Wine's wevtapi is a stub that answers no handle without setting an error.
      return Error(ErrorCode::kUnsupported,
                   "EvtQuery(Security): no result and no error: the event-log API is a stub "
                   "here (Wine)");
    }
    return EvtError("EvtQuery(Security, " + *xpath + ")", code);
  }
  std::vector<std::string> out;
  while (true) {
    EVT_HANDLE batch[64] = {};
    DWORD returned = 0;
    if (!EvtNext(results.get(), 64, batch, query.batch_timeout_ms, 0, &returned)) {
      const DWORD code = GetLastError();
      if (code == ERROR_NO_MORE_ITEMS) break;
      if (code == ERROR_TIMEOUT) return Win32Error("EvtNext(Security)", code, ErrorCode::kTimeout);
      return EvtError("EvtNext(Security)", code);
    }
    // Own every handle of the batch before anything can fail.
    std::vector<UniqueEvt> owned;
    owned.reserve(returned);
    for (DWORD i = 0; i < returned; ++i) owned.emplace_back(batch[i]);
    for (const UniqueEvt& event : owned) {
      auto xml = RenderXml(event.get());
      if (!xml.ok()) return xml.error();
      out.push_back(std::move(*xml));
      if (out.size() >= query.max_events) {
        if (truncated != nullptr) *truncated = true;
        return out;
      }
    }
  }
  return out;
}

Expected<SecurityLogResult> ReadSecurityLogDenials(const SecurityLogQuery& query) {
  SecurityLogResult result;
  auto xml = ReadSecurityLogXml(query, &result.truncated);
  if (!xml.ok()) return xml.error();
  result.events_read = xml->size();
  for (std::string& text : *xml) {
    auto fact = ParseWindowsDenialXml(text);
    if (fact.ok()) {
      result.denials.push_back(std::move(*fact));
    } else {
      result.unparsed.push_back(fact.error().context());
    }
  }
  return result;
}

}  // namespace stockade::audit::win_os
