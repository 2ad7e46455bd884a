// Shared pieces of the Linux capture tests: a throwaway sandbox identity, a scratch tree, a
// thread-safe collector of the events the capture delivers, and a fixture that snapshots the
// kernel audit configuration before each test and checks it is identical afterwards.
#ifndef STOCKADE_TESTS_AUDIT_LINUX_CAPTURE_TEST_SUPPORT_H_
#define STOCKADE_TESTS_AUDIT_LINUX_CAPTURE_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "audit/linux/capture.h"
#include "audit/linux/kernel_audit_config.h"
#include "runner/launch_spec.h"
#include "runner/linux/launcher.h"

namespace stockade::audit::testing {

// A system user "stcap<pid>" (own group, no home, no shell) created on first use and deleted
// when the test process exits (its processes killed first); users of crashed earlier runs
// (their pid is gone) are deleted before a new one is made.
struct CaptureTestUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};
const CaptureTestUser& CaptureUser();

// Every event the capture delivered, thread-safe.
class EventCollector {
 public:
  void Add(Event e);
  std::vector<Event> Events(const std::string& session_id) const;
  std::vector<Event> All() const;
  // Waits until `pred` holds over the session's events or the timeout passes.
  bool WaitFor(const std::string& session_id,
               const std::function<bool(const std::vector<Event>&)>& pred,
               std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

// Fixture: root only; SetUp snapshots the kernel audit configuration and makes a scratch tree
// (base_/ws owned by the user, base_/outside mode 0777), TearDown stops the capture if a test
// left it running and asserts the configuration is identical to the snapshot.
class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts capture for the test user (and the given NFLOG group).
  void StartCapture(std::optional<std::uint16_t> nflog_group = std::nullopt);
  // A spec running `script` with /bin/sh -c as the test user, writable root ws_.
  runner::LaunchSpec ShellSpec(const std::string& script) const;
  // Launches, registers the session, waits for the tree and ends the session in the capture.
  // Returns the tree's exit status.
  runner::linux_os::ExitStatus RunSession(const std::string& session_id,
                                          const runner::LaunchSpec& spec);

  static std::string RuntimeDir() { return "/run/stockade-audit-test"; }

  CaptureTestUser user_;
  std::string base_, ws_, outside_;
  linux_os::KernelAuditSnapshot before_;
  bool have_before_ = false;
  EventCollector events_;
  std::unique_ptr<linux_os::Capture> capture_;
  runner::linux_os::LaunchOptions options_;
};

std::vector<const ProcessEvent*> ProcessEvents(const std::vector<Event>& events,
                                               ProcessPhase phase);
std::vector<const DenialEvent*> DenialEvents(const std::vector<Event>& events);

}  // namespace stockade::audit::testing

#endif  // STOCKADE_TESTS_AUDIT_LINUX_CAPTURE_TEST_SUPPORT_H_
