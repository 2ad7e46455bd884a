#include <windows.h>

#include "cli/common/main_args.h"

namespace stockade::cli {

namespace {

std::string ToUtf8(const wchar_t* wide) {
  int size = WideCharToMultiByte(CP_UTF8, 0, wide, -1, nullptr, 0, nullptr, nullptr);
  if (size <= 1) return {};
  std::string out(static_cast<size_t>(size - 1), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide, -1, out.data(), size, nullptr, nullptr);
  return out;
}

}  // namespace

void MakeCreatedFilesPrivate() {}

int RunMain(int (*real_main)(const Args&), int argc, char** argv) {
  return real_main(Args(argv, argv + argc));
}

int RunMainWide(int (*real_main)(const Args&), int argc, wchar_t** argv) {
  SetConsoleOutputCP(CP_UTF8);
  Args args;
  args.reserve(static_cast<size_t>(argc));
  for (int i = 0; i < argc; ++i) args.push_back(ToUtf8(argv[i]));
  return real_main(args);
}

}  // namespace stockade::cli
