#include "audit/syslog/forwarder.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "audit/syslog/rfc5424.h"
#include "audit/syslog/tcp_connection.h"

namespace stockade::audit::syslog {

namespace {

using Clock = std::chrono::steady_clock;

// Messages per write: enough to amortise the syscall, small enough that a broken connection
// requeues little.
constexpr std::size_t kBatchMessages = 256;
constexpr std::size_t kBatchBytes = 256 * 1024;
// How often the thread looks at an idle connection that still has unconfirmed messages.
constexpr std::chrono::milliseconds kConfirmPoll{50};

}  // namespace

struct Forwarder::Impl {
  struct Sent {
    std::string message;
    Clock::time_point at;
  };

  ForwarderOptions options;
  mutable std::mutex mu;
  std::condition_variable work;  // the thread: messages queued, or stop
  std::condition_variable room;  // producers: the queue has room
  std::condition_variable done;  // Flush: queue and unconfirmed window drained
  std::deque<std::string> queue;
  std::deque<Sent> unconfirmed;
  bool stopping = false;
  ForwarderStats stats;
  std::thread thread;

  std::size_t Held() const { return queue.size() + unconfirmed.size(); }

  // The connection is gone: every unconfirmed message goes back to the front, oldest first.
  void Broken(std::optional<TcpConnection>& connection, const std::string& why) {
    connection.reset();
    ++stats.failures;
    stats.last_error = why;
    stats.resent += static_cast<std::int64_t>(unconfirmed.size());
    while (!unconfirmed.empty()) {
      queue.push_front(std::move(unconfirmed.back().message));
      unconfirmed.pop_back();
    }
  }

  void Confirm(Clock::time_point now) {
    bool any = false;
    while (!unconfirmed.empty() && now - unconfirmed.front().at >= options.confirm_after) {
      unconfirmed.pop_front();
      ++stats.confirmed;
      any = true;
    }
    if (any) {
      room.notify_all();
      if (queue.empty() && unconfirmed.empty()) done.notify_all();
    }
  }

  void Run() {
    std::optional<TcpConnection> connection;
    std::chrono::milliseconds backoff = options.backoff_min;
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      if (!connection) {
        if (queue.empty() && unconfirmed.empty()) {
          work.wait(lock, [&] { return stopping || !queue.empty(); });
          continue;
        }
        lock.unlock();
        Expected<TcpConnection> c =
            TcpConnection::Connect(options.host, options.port, options.connect_timeout);
        lock.lock();
        if (!c.ok()) {
          ++stats.failures;
          stats.last_error = c.error().ToString();
          work.wait_for(lock, backoff, [&] { return stopping; });
          backoff = std::min(backoff * 2, options.backoff_max);
          continue;
        }
        connection = std::move(*c);
        ++stats.connects;
        backoff = options.backoff_min;
        continue;
      }
      // Look for a FIN/RST before writing: writing into a connection the receiver already
      // closed "succeeds" once and loses the data.
      lock.unlock();
      const bool closed = connection->PeerClosed();
      lock.lock();
      if (closed) {
        Broken(connection, "the syslog receiver closed the connection");
        continue;
      }
      Confirm(Clock::now());
      if (queue.empty()) {
        if (unconfirmed.empty()) {
          work.wait(lock, [&] { return stopping || !queue.empty(); });
        } else {
          work.wait_for(lock, kConfirmPoll, [&] { return stopping || !queue.empty(); });
        }
        continue;
      }
      std::vector<std::string> batch;
      std::string buffer;
      while (!queue.empty() && batch.size() < kBatchMessages && buffer.size() < kBatchBytes) {
        buffer += FrameOctetCounted(queue.front());
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      lock.unlock();
      Status sent = connection->SendAll(buffer, options.send_timeout);
      lock.lock();
      if (!sent.ok()) {
        // Part of the batch may have gone out; none of it is known delivered: send it again.
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue.push_front(std::move(*it));
        Broken(connection, sent.error().ToString());
        continue;
      }
      const Clock::time_point now = Clock::now();
      stats.sent += static_cast<std::int64_t>(batch.size());
      for (std::string& m : batch) unconfirmed.push_back({std::move(m), now});
    }
  }
};

Expected<std::unique_ptr<Forwarder>> Forwarder::Start(const ForwarderOptions& options) {
  if (options.host.empty() || options.port == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "syslog forwarder: the receiver needs a host and a "
                 "port from 1 to 65535");
  }
  if (options.queue_capacity == 0) {
    return Error(ErrorCode::kInvalidArgument, "syslog forwarder: queue_capacity must be > 0");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  Impl* raw = impl.get();
  try {
    raw->thread = std::thread([raw] { raw->Run(); });
  } catch (const std::system_error& e) {
    return Error(ErrorCode::kOs, std::string("syslog forwarder: starting its thread: ") + e.what());
  }
  return std::unique_ptr<Forwarder>(new Forwarder(std::move(impl)));
}

Forwarder::Forwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Forwarder::~Forwarder() { Stop(); }

Status Forwarder::Enqueue(std::string message, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  if (impl_->stopping) return Error(ErrorCode::kInternal, "syslog forwarder: stopped");
  const bool has_room = impl_->room.wait_for(
      lock, wait, [&] { return impl_->stopping || impl_->Held() < impl_->options.queue_capacity; });
  if (impl_->stopping) return Error(ErrorCode::kInternal, "syslog forwarder: stopped");
  if (!has_room) {
    ++impl_->stats.dropped;
    return Error(ErrorCode::kTimeout,
                 "syslog forwarder: queue full (" + std::to_string(impl_->options.queue_capacity) +
                     " messages) for " + std::to_string(wait.count()) +
                     " ms; message dropped; last error: " + impl_->stats.last_error);
  }
  impl_->queue.push_back(std::move(message));
  impl_->work.notify_one();
  return OkStatus();
}

Status Forwarder::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  const bool drained = impl_->done.wait_for(
      lock, timeout, [&] { return impl_->queue.empty() && impl_->unconfirmed.empty(); });
  if (!drained) {
    return Error(ErrorCode::kTimeout,
                 "syslog forwarder: " + std::to_string(impl_->queue.size()) + " queued and " +
                     std::to_string(impl_->unconfirmed.size()) + " unconfirmed after " +
                     std::to_string(timeout.count()) + " ms; last error: " +
                     (impl_->stats.last_error.empty() ? "none" : impl_->stats.last_error));
  }
  return OkStatus();
}

void Forwarder::Stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->work.notify_all();
  impl_->room.notify_all();
  impl_->done.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

ForwarderStats Forwarder::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ForwarderStats s = impl_->stats;
  s.queued = impl_->queue.size();
  s.unconfirmed = impl_->unconfirmed.size();
  return s;
}

}  // namespace stockade::audit::syslog
