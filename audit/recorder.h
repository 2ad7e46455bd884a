// The interface through which producers (the service, the capture threads, the provisioner)
// record audit events. The store (audit/store.h) implements it; producers depend on this header
// only. Every method is thread-safe: many sessions record at once from many threads.
#ifndef STOCKADE_AUDIT_RECORDER_H_
#define STOCKADE_AUDIT_RECORDER_H_

#include <cstdint>

#include "audit/event.h"
#include "core/error.h"

namespace stockade::audit {

class Recorder {
 public:
  virtual ~Recorder() = default;

  // Records `event` and returns once it is committed to the store (durable per the store's
  // documented choice: the WAL is synced at each batch commit), so that a caller who must fail
  // closed (the service, before starting a run) knows the event is on disk. Concurrent calls are
  // committed together (group commit). The store assigns `seq` and `version`, and fills `time`
  // (0) and `host` ("") when left empty. Returns the assigned sequence number.
  // Errors: kInvalidArgument (an enum value out of range, a string over the store's limits),
  // kDatabase / kDatabaseBusy / kIo when the batch could not be committed (the event is then
  // not recorded), kInternal after Close().
  virtual Expected<std::int64_t> Record(Event event) = 0;

  // Queues `event` and returns without waiting for the commit: for high-volume producers
  // (process and denial capture). The event is committed with the next batch (within the
  // store's batch latency). When the store's in-memory queue is full (the disk is slower than
  // the producers) the call blocks until there is room: producers are slowed, events are never
  // dropped. A commit failure is reported by the next Flush() (and by every
  // later Record/RecordAsync until a batch commits again); events of a failed batch are lost
  // and counted in Stats().failed_events. Errors: kInvalidArgument as for Record(); the pending
  // failure; kInternal after Close().
  virtual Status RecordAsync(Event event) = 0;

  // Waits until every event queued before the call is committed. Errors: the first commit
  // failure since the previous Flush().
  virtual Status Flush() = 0;
};

}  // namespace stockade::audit

#endif  // STOCKADE_AUDIT_RECORDER_H_
