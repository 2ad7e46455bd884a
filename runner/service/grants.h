// The live workspace grants, read from the provisioning journal (portable). The service asks
// for them per request, so a grant or revoke takes effect on the next run without restarting the
// service. On Linux one read-only connection (WAL: never blocks the provisioner) stays open and
// the steps are parsed again only when the journal changed (PRAGMA data_version) or the file at
// its path was replaced; on Windows, where an open file cannot be deleted, each call opens it.
#ifndef STOCKADE_RUNNER_SERVICE_GRANTS_H_
#define STOCKADE_RUNNER_SERVICE_GRANTS_H_

#include <string>
#include <vector>

#include "core/error.h"
#include "runner/service/broker.h"

namespace stockade::runner::service {

// Every live workspace.grant step of the journal in `state_dir`, oldest first: params.path and
// params.owner_uid (absent in grants journaled before owners were recorded), as committed when
// the call started (or later). No journal yet: an empty list. Thread-safe (one lock around the
// kept connection). Errors: the journal's (kStateCorrupt, kStateTooNew, kDatabase...), and
// kStateCorrupt when a live grant's path is not a string.
Expected<std::vector<Grant>> ReadLiveGrants(const std::string& state_dir);

}  // namespace stockade::runner::service

#endif  // STOCKADE_RUNNER_SERVICE_GRANTS_H_
