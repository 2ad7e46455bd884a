// Attribution of audit facts to sessions and process GUIDs, with the orders in which the
// kernel can deliver them.
#include "audit/linux/correlator.h"

#include <gtest/gtest.h>

namespace stockade::audit::linux_os {
namespace {

class CorrelatorTest : public ::testing::Test {
 protected:
  CorrelatorTest() : c_([this](Event e) { events_.push_back(std::move(e)); }) {}

  static ExecFact Exec(std::int64_t pid, std::int64_t ppid, std::string name, TimeNs t) {
    ExecFact f;
    f.pid = pid;
    f.ppid = ppid;
    f.uid = 998;
    f.time = t;
    f.image = "/bin/" + name;
    f.argv = {name};
    return f;
  }
  const ProcessEvent& Proc(std::size_t i) { return std::get<ProcessEvent>(events_.at(i).body); }

  std::vector<Event> events_;
  Correlator c_;
};

TEST_F(CorrelatorTest, RootForkSubshellAndExecChain) {
  c_.AddSession("s", 100, 998);
  c_.OnFact(Exec(100, 1, "sh", 10));       // root
  c_.OnFact(ForkFact{100, 101, 998, 11});  // subshell, never exec's
  c_.OnFact(ForkFact{101, 102, 998, 12});
  c_.OnFact(Exec(102, 101, "true", 13));  // parent: the root's image
  c_.OnFact(Exec(102, 101, "echo", 14));  // exec chain: parent is "true"
  c_.OnFact(ExitFact{102, 998, 15, 7});
  c_.OnFact(ExitFact{101, 998, 16, 0});  // the subshell: no event of its own
  ASSERT_EQ(events_.size(), 4u);
  EXPECT_EQ(Proc(0).parent_guid, "");
  EXPECT_EQ(Proc(1).parent_guid, Proc(0).process_guid);
  EXPECT_EQ(Proc(1).parent_pid, 100);
  EXPECT_EQ(Proc(2).parent_guid, Proc(1).process_guid);
  EXPECT_EQ(Proc(2).parent_pid, 102);
  EXPECT_EQ(Proc(3).phase, ProcessPhase::kExit);
  EXPECT_EQ(Proc(3).process_guid, Proc(2).process_guid);
  EXPECT_EQ(Proc(3).exit.code, 7);
  for (const Event& e : events_) EXPECT_EQ(e.session_id, "s");
}

TEST_F(CorrelatorTest, RecordsBeforeTheSessionIsRegisteredWait) {
  c_.OnFact(Exec(200, 1, "sh", 10));
  c_.OnFact(Exec(201, 200, "ls", 11));
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(c_.stats().pending, 2u);
  c_.AddSession("s2", 200, 998);
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(Proc(1).parent_guid, Proc(0).process_guid);
  EXPECT_EQ(c_.stats().pending, 0u);
}

TEST_F(CorrelatorTest, ChildExecBeforeTheParentsCloneReturns) {
  c_.AddSession("s", 300, 998);
  c_.OnFact(Exec(300, 1, "sh", 10));
  // A subshell 301 of the root forks 302, which exec's; the records of both clones arrive
  // after the exec (each is logged when the parent's clone returns).
  c_.OnFact(Exec(302, 301, "true", 13));
  c_.OnFact(ForkFact{301, 302, 998, 12});
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_EQ(c_.stats().pending, 2u);
  c_.OnFact(ForkFact{300, 301, 998, 11});
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(Proc(1).parent_guid, Proc(0).process_guid);
  EXPECT_EQ(Proc(1).parent_pid, 300);
  EXPECT_EQ(Proc(1).argv, std::vector<std::string>{"true"});
  EXPECT_EQ(c_.stats().pending, 0u);
}

TEST_F(CorrelatorTest, UnknownProcessesExpireUnattributed) {
  Correlator c([](Event) { ADD_FAILURE() << "no event expected"; }, std::chrono::milliseconds(0));
  c.OnFact(Exec(400, 1, "sh", 10));
  c.Expire();
  EXPECT_EQ(c.stats().pending, 0u);
  EXPECT_EQ(c.stats().unattributed, 1u);
}

TEST_F(CorrelatorTest, DenialsAndNflogPackets) {
  c_.AddSession("a", 500, 998);
  c_.OnFact(Exec(500, 1, "sh", 10));
  DenialFact d;
  d.pid = 500;
  d.uid = 998;
  d.denial.target = "/etc/x";
  c_.OnFact(d);
  NflogPacket p;
  p.uid = 998;
  p.protocol = "tcp";
  p.destination = "10.0.0.1:443";
  c_.OnNflog(p);
  p.uid = 12345;  // no session of that uid yet: waits
  c_.OnNflog(p);
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(c_.stats().pending, 1u);
  const auto& fd = std::get<DenialEvent>(events_[1].body);
  EXPECT_EQ(fd.process_guid, Proc(0).process_guid);
  const auto& nd = std::get<DenialEvent>(events_[2].body);
  EXPECT_EQ(events_[2].session_id, "a");
  EXPECT_EQ(nd.target, "10.0.0.1:443");
  EXPECT_EQ(nd.access, "connect tcp");
  EXPECT_EQ(nd.source, DenialSource::kNflog);
  // The tree connected before the service registered it.
  c_.AddSession("b", 600, 12345);
  ASSERT_EQ(events_.size(), 4u);
  EXPECT_EQ(events_[3].session_id, "b");
  EXPECT_EQ(c_.stats().pending, 0u);
  EXPECT_EQ(c_.stats().unattributed, 0u);
}

}  // namespace
}  // namespace stockade::audit::linux_os

namespace stockade::audit::linux_os {
namespace {

class SignalDeathTest : public ::testing::Test {
 protected:
  SignalDeathTest() : c_([this](Event e) { events_.push_back(std::move(e)); }) {}
  static SignalDeath Death(std::int64_t pid, std::int64_t signal) {
    SignalDeath d;
    d.pid = pid;
    d.signal = signal;
    d.time = 50;
    return d;
  }
  const ProcessEvent& Proc(std::size_t i) { return std::get<ProcessEvent>(events_.at(i).body); }
  std::vector<Event> events_;
  Correlator c_;
};

// A death by signal ends the image running in that pid, with the signal and no code, and the
// session's uid (the connector does not report one).
TEST_F(SignalDeathTest, EndsTheTrackedProcessWithTheSignal) {
  c_.AddSession("s", 300, 998);
  ExecFact root;
  root.pid = 300;
  root.ppid = 1;
  root.uid = 998;
  root.time = 10;
  root.image = "/bin/sh";
  c_.OnFact(root);
  c_.OnSignalDeath(Death(300, 9));
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(Proc(1).phase, ProcessPhase::kExit);
  EXPECT_EQ(Proc(1).process_guid, Proc(0).process_guid);
  EXPECT_EQ(Proc(1).exit.signal, 9);
  EXPECT_FALSE(Proc(1).exit.code.has_value());
  EXPECT_EQ(Proc(1).uid, 998);
  EXPECT_EQ(Proc(1).end_time, 50);
}

// The connector reports every process of the machine: a death of an untracked pid is not a
// pending fact (it would be counted as unattributed after the timeout).
TEST_F(SignalDeathTest, DeathsOfOtherProcessesAreIgnored) {
  c_.AddSession("s", 300, 998);
  c_.OnSignalDeath(Death(12345, 15));
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(c_.stats().pending, 0u);
}

// The process's exec is still pending (its session is registered later): the death waits behind
// it and ends it once it is attributed.
TEST_F(SignalDeathTest, WaitsBehindThePendingExecOfItsPid) {
  ExecFact root;
  root.pid = 400;
  root.ppid = 1;
  root.uid = 998;
  root.time = 10;
  root.image = "/bin/sh";
  c_.OnFact(root);
  c_.OnSignalDeath(Death(400, 15));
  EXPECT_TRUE(events_.empty());
  c_.AddSession("late", 400, 998);
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(Proc(0).phase, ProcessPhase::kExec);
  EXPECT_EQ(Proc(1).phase, ProcessPhase::kExit);
  EXPECT_EQ(Proc(1).exit.signal, 15);
}

TEST(SignalDeathOfTest, OnlyLeadersKilledByASignal) {
  SignalDeath d;
  EXPECT_TRUE(SignalDeathOf(10, 10, 9, 1, &d));
  EXPECT_EQ(d.signal, 9);
  EXPECT_FALSE(d.core_dumped);
  EXPECT_TRUE(SignalDeathOf(10, 10, 0x80 | 11, 1, &d));  // SIGSEGV with a core dump
  EXPECT_EQ(d.signal, 11);
  EXPECT_TRUE(d.core_dumped);
  EXPECT_FALSE(SignalDeathOf(10, 10, 3 << 8, 1, &d));  // exit(3): audit's exit_group has it
  EXPECT_FALSE(SignalDeathOf(11, 10, 9, 1, &d));       // a thread, not the process
}

}  // namespace
}  // namespace stockade::audit::linux_os
