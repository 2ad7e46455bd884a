#include "tests/provision/win/win_steps_test_support.h"

#include "provision/win/security.h"

namespace stockade::provision::win::testing {

std::unique_ptr<Step> MakeStep(const StepSpec& spec) {
  StepRegistry registry;
  RegisterPlatformSteps(registry);
  auto step = registry.Create(spec);
  EXPECT_TRUE(step.ok()) << (step.ok() ? "" : step.error().ToString());
  if (!step.ok()) return nullptr;
  return std::move(*step);
}

std::string TestDataSymlink() {
  std::string path = std::string(STOCKADE_TEST_DATA_DIR) + "/provision-win/reparse-link";
  for (char& c : path) {
    if (c == '/') c = '\\';
  }
  auto attributes = FileAttributes(path);
  if (!attributes.ok() || (*attributes & FILE_ATTRIBUTE_REPARSE_POINT) == 0) return {};
  return path;
}

}  // namespace stockade::provision::win::testing
