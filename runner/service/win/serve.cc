#include "runner/service/serve.h"

namespace stockade::runner::service {

Status Serve(const ServeOptions& options) {
  (void)options;
  return Error(ErrorCode::kNotImplemented,
               "stockaded serve: the Windows service (named-pipe broker) is not built yet; only "
               "the Linux service is (docs/runner-service.md)");
}

}  // namespace stockade::runner::service
