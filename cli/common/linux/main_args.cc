#include "cli/common/main_args.h"

#include <sys/stat.h>

namespace stockade::cli {

int RunMain(int (*real_main)(const Args&), int argc, char** argv) {
  return real_main(Args(argv, argv + argc));
}

void MakeCreatedFilesPrivate() { ::umask(077); }

}  // namespace stockade::cli
