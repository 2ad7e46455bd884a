#include "runner/win/inherit.h"

#include <algorithm>
#include <utility>

#include "provision/win/win_util.h"
#include "runner/win/pseudo_console.h"

namespace stockade::runner::win_os {

namespace pw = stockade::provision::win;

namespace {

bool Missing(HANDLE h) { return h == nullptr || h == INVALID_HANDLE_VALUE; }

}  // namespace

Expected<InheritedStdio> InheritedStdio::Prepare(HANDLE in, HANDLE out, HANDLE err) {
  InheritedStdio stdio;
  const HANDLE sources[3] = {in, out, err};
  HANDLE* targets[3] = {&stdio.in_, &stdio.out_, &stdio.err_};
  const char* names[3] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; ++i) {
    // The same source as an earlier stream: share its duplicate.
    bool shared = false;
    for (int j = 0; j < i; ++j) {
      if (!Missing(sources[i]) && sources[j] == sources[i]) {
        *targets[i] = *targets[j];
        shared = true;
        break;
      }
    }
    if (shared) continue;
    UniqueHandle copy;
    if (Missing(sources[i])) {
      SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
      copy.reset(CreateFileW(L"NUL", i == 0 ? GENERIC_READ : GENERIC_WRITE,
                             FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit, OPEN_EXISTING, 0,
                             nullptr));
      if (!copy) return pw::LastWin32Error(std::string("CreateFileW(NUL, ") + names[i] + ")");
    } else if (!DuplicateHandle(GetCurrentProcess(), sources[i], GetCurrentProcess(), copy.put(), 0,
                                TRUE, DUPLICATE_SAME_ACCESS)) {
      return pw::LastWin32Error(std::string("DuplicateHandle(") + names[i] + ")");
    }
    *targets[i] = copy.get();
    stdio.owned_.push_back(std::move(copy));
  }
  return stdio;
}

std::vector<HANDLE> InheritedStdio::distinct() const {
  std::vector<HANDLE> out;
  for (const HANDLE h : {in_, out_, err_}) {
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  }
  return out;
}

Expected<HandleListAttribute> HandleListAttribute::Create(std::vector<HANDLE> handles,
                                                          void* pseudo_console) {
  if (handles.empty() && pseudo_console == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "handle list attribute: no handle to inherit");
  }
  const DWORD count = (handles.empty() ? 0 : 1) + (pseudo_console != nullptr ? 1 : 0);
  HandleListAttribute attribute;
  SIZE_T size = 0;
  InitializeProcThreadAttributeList(nullptr, count, 0, &size);
  if (size == 0) return pw::LastWin32Error("InitializeProcThreadAttributeList(size)");
  attribute.storage_.resize((size + 7) / 8);
  attribute.handles_ = std::move(handles);
  if (!InitializeProcThreadAttributeList(attribute.get(), count, 0, &size)) {
    return pw::LastWin32Error("InitializeProcThreadAttributeList");
  }
  attribute.initialized_ = true;
  if (!attribute.handles_.empty() &&
      !UpdateProcThreadAttribute(attribute.get(), 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                 attribute.handles_.data(),
                                 attribute.handles_.size() * sizeof(HANDLE), nullptr, nullptr)) {
    return pw::LastWin32Error("UpdateProcThreadAttribute(PROC_THREAD_ATTRIBUTE_HANDLE_LIST)");
  }
  // The attribute's value is the HPCON itself (not a pointer to it), as documented.
  if (pseudo_console != nullptr &&
      !UpdateProcThreadAttribute(attribute.get(), 0, kProcThreadAttributePseudoConsole,
                                 pseudo_console, sizeof(pseudo_console), nullptr, nullptr)) {
    return pw::LastWin32Error("UpdateProcThreadAttribute(PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE)");
  }
  return attribute;
}

HandleListAttribute::HandleListAttribute(HandleListAttribute&& other) noexcept
    : storage_(std::move(other.storage_)),
      handles_(std::move(other.handles_)),
      initialized_(std::exchange(other.initialized_, false)) {}

HandleListAttribute::~HandleListAttribute() {
  if (initialized_) DeleteProcThreadAttributeList(get());
}

}  // namespace stockade::runner::win_os
