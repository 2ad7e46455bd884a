// Parsing and decoding of kernel audit records, from record texts captured on the development
// machine (kernel 6.18) and edge cases of the format.
#include "audit/linux/record_decoder.h"

#include <gtest/gtest.h>

#include "audit/linux/audit_record.h"
#include "audit/linux/audit_rules.h"

namespace stockade::audit::linux_os {
namespace {

const std::string kKey = "stockade-capture:77";

AuditEvent Assemble(const std::vector<std::pair<std::uint16_t, std::string>>& records) {
  std::vector<AuditEvent> done;
  EventAssembler a([&](AuditEvent e) { done.push_back(std::move(e)); },
                   std::chrono::milliseconds(1000));
  for (const auto& [type, text] : records) {
    auto r = ParseAuditRecord(type, text);
    EXPECT_TRUE(r.ok()) << text;
    if (r.ok()) a.Add(std::move(*r));
  }
  EXPECT_EQ(done.size(), 1u);
  return done.empty() ? AuditEvent{} : done[0];
}

TEST(AuditRecordTest, ParsesHeaderAndFields) {
  auto r = ParseAuditRecord(1300,
                            "audit(1795335420.915:59): arch=c000003e syscall=59 success=yes exit=0 "
                            "comm=\"echo\" exe=\"/usr/bin/echo\" key=(null)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->serial, 59u);
  EXPECT_EQ(r->time, 1795335420915000000LL);
  ASSERT_NE(r->Find("exe"), nullptr);
  EXPECT_EQ(DecodeUntrusted(*r->Find("exe")), "/usr/bin/echo");
  EXPECT_EQ(DecodeUntrusted(*r->Find("key")), "");
  EXPECT_FALSE(ParseAuditRecord(1300, "arch=c000003e").ok());
  EXPECT_FALSE(ParseAuditRecord(1300, "audit(12:x): a=b").ok());
}

TEST(AuditRecordTest, DecodesHexEncodedStrings) {
  EXPECT_EQ(DecodeUntrusted("0178"), std::string("\x01x"));
  EXPECT_EQ(DecodeUntrusted("612062"), "a b");
  EXPECT_EQ(DecodeUntrusted("\"plain\""), "plain");
  EXPECT_EQ(DecodeUntrusted("abc"), "abc");  // odd length: not hex, kept
}

TEST(AuditRecordTest, StandaloneRecordsCompleteAfterTheTimeout) {
  std::vector<AuditEvent> done;
  EventAssembler a([&](AuditEvent e) { done.push_back(std::move(e)); },
                   std::chrono::milliseconds(0));
  auto r = ParseAuditRecord(1424, "audit(1.000:5): domain=1 status=deallocated denials=3");
  ASSERT_TRUE(r.ok());
  a.Add(std::move(*r));
  EXPECT_TRUE(done.empty());
  a.Expire();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].records.size(), 1u);
}

// A seccomp record is logged before the syscall's audit entry, under a serial of its own: it is
// complete at once, so that a run ending right after the refusal still gets the denial.
TEST(AuditRecordTest, SeccompRecordsCompleteAtOnce) {
  std::vector<AuditEvent> done;
  EventAssembler a([&](AuditEvent e) { done.push_back(std::move(e)); }, std::chrono::hours(1));
  auto r = ParseAuditRecord(1326, "audit(1.000:6): uid=998 pid=7 syscall=101 code=0x50000");
  ASSERT_TRUE(r.ok());
  a.Add(std::move(*r));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].serial, 6u);
  ASSERT_EQ(done[0].records.size(), 1u);
  EXPECT_EQ(done[0].records[0].type, 1326);
  EXPECT_EQ(a.pending(), 0u);
}

TEST(RecordDecoderTest, ExecWithHexAndSplitArguments) {
  const AuditEvent e = Assemble({
      {1300,
       "audit(1.000:9): arch=c000003e syscall=59 success=yes exit=0 a0=1 items=2 ppid=10 "
       "pid=11 uid=998 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"" +
           kKey + "\""},
      {1309, "audit(1.000:9): argc=4 a0=\"sh\" a1=\"-c\" a2_len=6 a2[0]=616263 a2[1]=646566"},
      {1309, "audit(1.000:9): a3=0178"},
      {1307, "audit(1.000:9): cwd=\"/w s\""},
      {1320, "audit(1.000:9): "},
  });
  const auto facts = DecodeAuditEvent(e, kKey);
  ASSERT_EQ(facts.size(), 1u);
  const auto* exec = std::get_if<ExecFact>(&facts[0]);
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->pid, 11);
  EXPECT_EQ(exec->ppid, 10);
  EXPECT_EQ(exec->uid, 998);
  EXPECT_EQ(exec->image, "/usr/bin/dash");
  EXPECT_EQ(exec->cwd, "/w s");
  EXPECT_EQ(exec->argv, (std::vector<std::string>{"sh", "-c", "abcdef", "\x01x"}));
  // Another capture's key: ignored.
  EXPECT_TRUE(DecodeAuditEvent(e, "stockade-capture:78").empty());
}

TEST(RecordDecoderTest, ForkAndExitGroup) {
  const AuditEvent fork = Assemble({
      {1300,
       "audit(1.000:3): arch=c000003e syscall=56 success=yes exit=4242 a0=1200011 "
       "ppid=1 pid=40 uid=998 key=\"" +
           kKey + "\""},
      {1320, "audit(1.000:3): "},
  });
  auto facts = DecodeAuditEvent(fork, kKey);
  ASSERT_EQ(facts.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<ForkFact>(facts[0]));
  EXPECT_EQ(std::get<ForkFact>(facts[0]).child_pid, 4242);
  EXPECT_EQ(std::get<ForkFact>(facts[0]).parent_pid, 40);

  const AuditEvent exit = Assemble({
      {1300,
       "audit(1.000:4): arch=c000003e syscall=231 a0=103 a1=e7 items=0 ppid=1 pid=40 "
       "uid=998 key=\"" +
           kKey + "\""},
      {1320, "audit(1.000:4): "},
  });
  facts = DecodeAuditEvent(exit, kKey);
  ASSERT_EQ(facts.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<ExitFact>(facts[0]));
  EXPECT_EQ(std::get<ExitFact>(facts[0]).code, 3);  // 0x103 & 0xff
}

TEST(RecordDecoderTest, LandlockFileAndNetworkDenials) {
  // As logged on the development machine (serial 185/198 of a real run).
  const AuditEvent file = Assemble({
      {1423,
       "audit(1.007:185): domain=168845c3b blockers=fs.write_file path=\"/dev/tty\" "
       "dev=\"devtmpfs\" ino=9"},
      {1424,
       "audit(1.007:185): domain=168845c3b status=allocated mode=enforcing pid=23165 "
       "uid=65534 exe=\"/tmp/acap/ll\" comm=\"ll\""},
      {1300,
       "audit(1.007:185): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c "
       "a1=562ab52ca3c2 a2=802 a3=0 items=1 ppid=23119 pid=23165 uid=65534 key=\"" +
           kKey + "\""},
      {1307, "audit(1.007:185): cwd=\"/tmp/acap\""},
      {1302, "audit(1.007:185): item=0 name=\"/dev/tty\" inode=9 nametype=NORMAL"},
      {1320, "audit(1.007:185): "},
  });
  auto facts = DecodeAuditEvent(file, kKey);
  ASSERT_EQ(facts.size(), 1u);  // one denial: the syscall record is not a second one
  const auto& d = std::get<DenialFact>(facts[0]);
  EXPECT_EQ(d.pid, 23165);
  EXPECT_EQ(d.denial.source, DenialSource::kLandlock);
  EXPECT_EQ(d.denial.category, DenialCategory::kFileWrite);
  EXPECT_EQ(d.denial.target, "/dev/tty");
  EXPECT_EQ(d.denial.access, "fs.write_file");

  const AuditEvent net = Assemble({
      {1423,
       "audit(1.011:198): domain=168845c3b blockers=net.connect_tcp daddr=127.0.0.1 "
       "dest=9"},
      {1300,
       "audit(1.011:198): arch=c000003e syscall=42 success=no exit=-13 a0=3 ppid=1 "
       "pid=23165 uid=65534 key=\"" +
           kKey + "\""},
      {1306, "audit(1.011:198): saddr=020000097F0000010000000000000000"},
      {1320, "audit(1.011:198): "},
  });
  facts = DecodeAuditEvent(net, kKey);
  ASSERT_EQ(facts.size(), 1u);
  const auto& n = std::get<DenialFact>(facts[0]);
  EXPECT_EQ(n.denial.category, DenialCategory::kNetwork);
  EXPECT_EQ(n.denial.target, "127.0.0.1:9");
  EXPECT_EQ(n.denial.access, "connect tcp");
}

TEST(RecordDecoderTest, SyscallDenialUsesThePathMadeAbsolute) {
  const AuditEvent e = Assemble({
      {1300,
       "audit(1.011:199): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c "
       "a1=1 a2=241 a3=1b6 items=1 ppid=1 pid=50 uid=998 key=\"" +
           kKey + "\""},
      {1307, "audit(1.011:199): cwd=\"/work\""},
      {1302, "audit(1.011:199): item=0 name=\"sub/file.txt\" inode=733 nametype=NORMAL"},
      {1320, "audit(1.011:199): "},
  });
  const auto facts = DecodeAuditEvent(e, kKey);
  ASSERT_EQ(facts.size(), 1u);
  const auto& d = std::get<DenialFact>(facts[0]);
  EXPECT_EQ(d.denial.source, DenialSource::kAuditSyscall);
  EXPECT_EQ(d.denial.category, DenialCategory::kFileWrite);  // O_WRONLY|O_CREAT|O_TRUNC
  EXPECT_EQ(d.denial.target, "/work/sub/file.txt");
  EXPECT_EQ(d.denial.access, "openat (EACCES)");
}

TEST(RecordDecoderTest, SockaddrTargets) {
  EXPECT_EQ(SockaddrTarget("020000097F0000010000000000000000"), "127.0.0.1:9");
  // AF_INET6 [::1]:443
  EXPECT_EQ(SockaddrTarget("0A0001BB000000000000000000000000000000000000000100000000"),
            "[::1]:443");
  EXPECT_EQ(SockaddrTarget("01002F746D702F73"), "/tmp/s");
}

TEST(AuditRulesTest, KeysAndRules) {
  EXPECT_EQ(OwnerOfRuleKey(RuleKeyForPid(1234)), 1234);
  EXPECT_FALSE(OwnerOfRuleKey("stockade-capture:").has_value());
  EXPECT_FALSE(OwnerOfRuleKey("other:12").has_value());
  EXPECT_FALSE(OwnerOfRuleKey("stockade-capture:12x").has_value());
  const auto rules = RulesForUid(998, RuleKeyForPid(1234));
  ASSERT_EQ(rules.size(), 5u);
  for (const auto& r : rules) EXPECT_EQ(KeyOfRule(r), RuleKeyForPid(1234));
}

}  // namespace
}  // namespace stockade::audit::linux_os

namespace stockade::audit::linux_os {
namespace {

// A seccomp RET_ERRNO logged by a filter with SECCOMP_FILTER_FLAG_LOG (record format of
// kernel/seccomp.c audit_seccomp): a denial with the syscall's name; other actions are not.
TEST(RecordDecoderTest, SeccompErrnoIsADenialWithTheSyscall) {
  auto errno_record =
      ParseAuditRecord(1326,
                       "audit(1795335420.915:60): auid=4294967295 uid=998 gid=998 "
                       "ses=4294967295 subj=unconfined pid=4242 comm=\"stockade-probe\" "
                       "exe=\"/usr/bin/stockade-probe\" sig=0 arch=c000003e syscall=41 compat=0 "
                       "ip=0x7f0012345678 code=0x5000d");
  ASSERT_TRUE(errno_record.ok());
  AuditEvent event;
  event.records.push_back(*errno_record);
  const auto facts = DecodeAuditEvent(event, kKey);
  ASSERT_EQ(facts.size(), 1u);
  const auto* d = std::get_if<DenialFact>(&facts[0]);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->pid, 4242);
  EXPECT_EQ(d->uid, 998);
  EXPECT_EQ(d->denial.category, DenialCategory::kNetwork);
  // The runner's filter refuses socket() with EACCES only for AF_INET/AF_INET6.
  EXPECT_EQ(d->denial.target, "socket(AF_INET/AF_INET6)");
  EXPECT_EQ(d->denial.access, "socket (seccomp, errno 13)");
  EXPECT_EQ(d->denial.source, DenialSource::kAuditSyscall);

  auto allowed = ParseAuditRecord(1326,
                                  "audit(1795335420.916:61): uid=998 pid=4242 syscall=41 "
                                  "code=0x7ffc0000");  // RET_LOG: allowed, only logged
  ASSERT_TRUE(allowed.ok());
  AuditEvent logged;
  logged.records.push_back(*allowed);
  EXPECT_TRUE(DecodeAuditEvent(logged, kKey).empty());
}

AuditEvent SeccompEvent(int syscall_nr, const char* code) {
  auto record = ParseAuditRecord(1326, std::string("audit(1795335421.100:70): uid=998 pid=4243 "
                                                   "comm=\"probe\" arch=c000003e syscall=") +
                                           std::to_string(syscall_nr) + " compat=0 code=" + code);
  EXPECT_TRUE(record.ok());
  AuditEvent event;
  if (record.ok()) event.records.push_back(*record);
  return event;
}

// clone3's ENOSYS (libc falls back to clone) is the filter's compatibility answer: counted,
// never a denial. The kernel logs the action without the errno (code=0x50000, as seen from a
// 6.18 kernel), so clone3 is recognised by its number; an ENOSYS in the data is dropped too.
TEST(RecordDecoderTest, SeccompEnosysIsCountedNotADenial) {
  DecodeCounts counts;
  EXPECT_TRUE(DecodeAuditEvent(SeccompEvent(435, "0x50000"), kKey, &counts).empty());  // clone3
  EXPECT_TRUE(DecodeAuditEvent(SeccompEvent(435, "0x50026"), kKey, &counts).empty());
  EXPECT_TRUE(DecodeAuditEvent(SeccompEvent(39, "0x50026"), kKey, &counts).empty());  // ENOSYS
  EXPECT_EQ(counts.seccomp_compat_refusals, 3u);
  // Without counts: still dropped.
  EXPECT_TRUE(DecodeAuditEvent(SeccompEvent(435, "0x50000"), kKey).empty());
  // A refusal of the same filter is a denial and is not counted.
  const auto facts = DecodeAuditEvent(SeccompEvent(101, "0x50000"), kKey, &counts);  // ptrace
  ASSERT_EQ(facts.size(), 1u);
  const auto* d = std::get_if<DenialFact>(&facts[0]);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->denial.target, "ptrace");
  EXPECT_EQ(d->denial.category, DenialCategory::kOther);
  EXPECT_EQ(d->denial.access, "ptrace (seccomp)");
  EXPECT_EQ(counts.seccomp_compat_refusals, 3u);
}

// The record has no arguments; the target names the argument the runner's filter refuses the
// call for, so that a denial can be matched to what was attempted.
TEST(RecordDecoderTest, SeccompTargetNamesTheRefusedArgument) {
  struct Case {
    int nr;
    const char* code;
    const char* target;
    DenialCategory category;
  };
  for (const Case& c : {Case{16, "0x50000", "ioctl TIOCSTI/TIOCLINUX", DenialCategory::kOther},
                        Case{272, "0x50000", "unshare(CLONE_NEWUSER)", DenialCategory::kOther},
                        Case{56, "0x50000", "clone(CLONE_NEWUSER)", DenialCategory::kOther},
                        Case{44, "0x50000", "sendto(MSG_FASTOPEN)", DenialCategory::kNetwork},
                        Case{165, "0x50000", "mount", DenialCategory::kOther},
                        Case{321, "0x50000", "bpf", DenialCategory::kOther}}) {
    const auto facts = DecodeAuditEvent(SeccompEvent(c.nr, c.code), kKey);
    ASSERT_EQ(facts.size(), 1u) << c.target;
    const auto* d = std::get_if<DenialFact>(&facts[0]);
    ASSERT_NE(d, nullptr) << c.target;
    EXPECT_EQ(d->denial.target, c.target);
    EXPECT_EQ(d->denial.category, c.category) << c.target;
    EXPECT_EQ(d->pid, 4243);
  }
}

}  // namespace
}  // namespace stockade::audit::linux_os

namespace stockade::audit::linux_os {
namespace {

// kill() refused with EPERM names the process it was aimed at (a0), not just the syscall.
TEST(RecordDecoderTest, KillDenialNamesTheTargetProcess) {
  const AuditEvent e = Assemble({
      {1300,
       "audit(1.012:200): arch=c000003e syscall=62 success=no exit=-1 a0=50b4 a1=f a2=0 a3=0 "
       "items=0 ppid=1 pid=51 uid=998 key=\"" +
           kKey + "\""},
      {1320, "audit(1.012:200): "},
  });
  const auto facts = DecodeAuditEvent(e, kKey);
  ASSERT_EQ(facts.size(), 1u);
  const auto& d = std::get<DenialFact>(facts[0]);
  EXPECT_EQ(d.denial.category, DenialCategory::kOther);
  EXPECT_EQ(d.denial.target, "pid 20660");
  EXPECT_EQ(d.denial.access, "kill (EPERM)");
  const AuditEvent group = Assemble({
      {1300,
       "audit(1.012:201): arch=c000003e syscall=62 success=no exit=-1 a0=fffffffffffffff6 a1=9 "
       "items=0 ppid=1 pid=51 uid=998 key=\"" +
           kKey + "\""},
      {1320, "audit(1.012:201): "},
  });
  const auto group_facts = DecodeAuditEvent(group, kKey);
  ASSERT_EQ(group_facts.size(), 1u);
  EXPECT_EQ(std::get<DenialFact>(group_facts[0]).denial.target, "process group 10");
}

}  // namespace
}  // namespace stockade::audit::linux_os
