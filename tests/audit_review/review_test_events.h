// Synthetic audit events for the review tests: sessions with spawns and denials, some of whose
// strings are hostile (markup, quotes, invalid UTF-8) as a sandboxed tree could make them.
#ifndef STOCKADE_TESTS_AUDIT_REVIEW_REVIEW_TEST_EVENTS_H_
#define STOCKADE_TESTS_AUDIT_REVIEW_REVIEW_TEST_EVENTS_H_

#include <string>
#include <vector>

#include "audit/event.h"

namespace stockade::audit::testing {

// `sessions` sessions starting one second apart at `t0`, each with `spawns` exec events (images
// cycling through sh, make, cc, python3, with sh the most frequent) and `denials` denial events
// (file_write on a hostile target, network on 10.0.0.1:443). Sequence numbers from 1; provisioning
// events none. Every session has a start and an end event.
std::vector<Event> MakeReviewEvents(int sessions, int spawns, int denials, TimeNs t0);

// The hostile target used in denials (contains markup, quotes, "]" and invalid UTF-8).
std::string HostileTarget();

}  // namespace stockade::audit::testing

#endif  // STOCKADE_TESTS_AUDIT_REVIEW_REVIEW_TEST_EVENTS_H_
