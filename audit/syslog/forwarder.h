// Forwards syslog messages to one TCP receiver (RFC 5424 messages, RFC 6587 octet-counting
// framing) from a bounded in-memory queue, on its own thread, reconnecting with backoff.
//
// Delivery is at least once as far as plain TCP syslog can tell (it has no acknowledgements):
//  - a message leaves the queue only when it was written to a connection;
//  - written messages stay "unconfirmed" until the connection has stayed up for `confirm_after`
//    since they were written (a receiver that went away closes the connection, which this side
//    sees); when the connection is found closed or a write fails, the unconfirmed messages go
//    back to the front of the queue, in order, and are sent again after reconnecting;
//  - so a receiver that is briefly away (restarted, network blip) loses nothing, and may get a
//    few messages twice (each carries the event's seq, so a receiver can drop duplicates).
// A receiver that accepts data and then dies without reading it more than `confirm_after` later
// can still lose those messages: RELP or TLS with application acknowledgements would be needed.
//
// A full queue (the receiver away for long): Enqueue() waits up to its `wait` for room and then
// fails with kTimeout, counting the message as dropped; nothing already queued is discarded.
// Producers that can replay (`stockade audit forward`, which reads the durable store) wait
// without limit instead; see docs/audit-review.md.
#ifndef STOCKADE_AUDIT_SYSLOG_FORWARDER_H_
#define STOCKADE_AUDIT_SYSLOG_FORWARDER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"

namespace stockade::audit::syslog {

struct ForwarderOptions {
  std::string host;
  std::uint16_t port = 0;
  // Messages held at most (queued + unconfirmed, not counting requeued ones).
  std::size_t queue_capacity = 65536;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds send_timeout{10000};
  // Reconnect delay: starts at min, doubles per failure, at most max.
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  // How long a connection must stay up after a write for the write to count as delivered.
  std::chrono::milliseconds confirm_after{1000};
};

struct ForwarderStats {
  std::int64_t sent = 0;        // writes that completed (resends included)
  std::int64_t resent = 0;      // messages requeued after a broken connection
  std::int64_t confirmed = 0;   // messages that left the unconfirmed window
  std::int64_t dropped = 0;     // Enqueue() calls that timed out on a full queue
  std::int64_t connects = 0;    // successful connections
  std::int64_t failures = 0;    // failed connects and broken connections
  std::size_t queued = 0;       // waiting to be written
  std::size_t unconfirmed = 0;  // written, not yet confirmed
  std::string last_error;       // the latest connect/send failure, "" if none
};

class Forwarder {
 public:
  // Starts the sending thread; it connects on its own (the receiver need not be up yet).
  // kInvalidArgument when host is empty, port is 0 or the capacity is 0.
  static Expected<std::unique_ptr<Forwarder>> Start(const ForwarderOptions& options);

  ~Forwarder();  // Stop()
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Queues one RFC 5424 message (unframed: the forwarder frames it). Waits up to `wait` for
  // room when the queue is full. Errors: kTimeout (the message is dropped and counted),
  // kInternal after Stop().
  Status Enqueue(std::string message, std::chrono::milliseconds wait);

  // Waits until every message queued so far is written and confirmed, or `timeout` passes
  // (kTimeout, naming how many are still pending and the last connection error).
  Status Flush(std::chrono::milliseconds timeout);

  // Stops the thread; what is still queued or unconfirmed is abandoned (call Flush first).
  void Stop();

  ForwarderStats Stats() const;

  struct Impl;

 private:
  explicit Forwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stockade::audit::syslog

#endif  // STOCKADE_AUDIT_SYSLOG_FORWARDER_H_
