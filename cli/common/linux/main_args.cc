#include "cli/common/main_args.h"

namespace stockade::cli {

int RunMain(int (*real_main)(const Args&), int argc, char** argv) {
  return real_main(Args(argv, argv + argc));
}

}  // namespace stockade::cli
