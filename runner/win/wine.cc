#include "runner/win/wine.h"

#include <windows.h>

namespace stockade::runner::win_os {

namespace {

using WineGetVersion = const char*(__cdecl*)();

WineGetVersion FindWineGetVersion() {
  // ntdll is mapped into every process: GetModuleHandleW neither loads nor pins anything.
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  if (ntdll == nullptr) return nullptr;
  return reinterpret_cast<WineGetVersion>(
      reinterpret_cast<void*>(GetProcAddress(ntdll, "wine_get_version")));
}

}  // namespace

bool RunningUnderWine() {
  static const bool under_wine = FindWineGetVersion() != nullptr;
  return under_wine;
}

std::string WineVersion() {
  const WineGetVersion get = FindWineGetVersion();
  if (get == nullptr) return "";
  const char* version = get();
  return std::string("Wine ") + (version != nullptr ? version : "(unknown version)");
}

}  // namespace stockade::runner::win_os
