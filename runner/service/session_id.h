// Session ids: a random (version 4) GUID string, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", from the
// OS CSPRNG. The audit store keys a run's events by it; the client sees it in Started.
#ifndef STOCKADE_RUNNER_SERVICE_SESSION_ID_H_
#define STOCKADE_RUNNER_SERVICE_SESSION_ID_H_

#include <string>

#include "core/error.h"

namespace stockade::runner::service {

// Errors: kCrypto when the CSPRNG fails.
Expected<std::string> NewSessionId();

}  // namespace stockade::runner::service

#endif  // STOCKADE_RUNNER_SERVICE_SESSION_ID_H_
