// The selftest's portable half: probe report lines, the catalog, the verdicts and the exit code.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "runner/selftest/catalog.h"
#include "runner/selftest/probe_report.h"
#include "runner/selftest/selftest.h"

namespace stockade::runner::selftest {
namespace {

TEST(SelftestProbeReport, RoundTripsThroughOneJsonLine) {
  const ProbeReport report{"write-outside", ProbeOutcome::kBlocked,
                           "open(/tmp/x \"q\"): errno 13 EACCES"};
  const std::string line = FormatProbeLine(report);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto parsed = ParseProbeOutput("compiler noise\n" + line + "\n", "write-outside");
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->outcome, ProbeOutcome::kBlocked);
  EXPECT_EQ(parsed->evidence, report.evidence);
}

TEST(SelftestProbeReport, IgnoresOtherProbesAndRejectsMalformedLines) {
  EXPECT_EQ(
      ParseProbeOutput("{\"probe\":\"other\",\"outcome\":\"blocked\",\"evidence\":\"\"}", "tcp-out")
          .error()
          .code(),
      ErrorCode::kNotFound);
  auto bad = ParseProbeOutput("{\"probe\":\"tcp-out\",\"outcome\":\"maybe\",\"evidence\":\"\"}",
                              "tcp-out");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().context().find("maybe"), std::string::npos);
  EXPECT_FALSE(ParseProbeOutput("", "tcp-out").ok());
}

TEST(SelftestCatalog, HasAtLeastThirtyAttacksPerPlatformAndUniqueNames) {
  for (Platform platform : {Platform::kLinux, Platform::kWindows}) {
    int attacks = 0;
    int allowed = 0;
    std::set<std::string> names;
    for (const ProbeInfo* p : ProbesFor(platform)) {
      EXPECT_TRUE(names.insert(p->name).second) << p->name;
      (p->kind == ProbeKind::kAttack ? attacks : allowed)++;
    }
    EXPECT_GE(attacks, 30);
    EXPECT_GE(allowed, 3);
  }
  EXPECT_EQ(FindProbe("no-such-probe"), nullptr);
  ASSERT_NE(FindProbe("tcp-out"), nullptr);
  EXPECT_EQ(ExpectationFor(*FindProbe("tcp-out"), /*online=*/false), Expectation::kBlocked);
  EXPECT_EQ(ExpectationFor(*FindProbe("tcp-out"), /*online=*/true), Expectation::kWorks);
  EXPECT_EQ(ExpectationFor(*FindProbe("write-outside"), /*online=*/true), Expectation::kBlocked);
  EXPECT_EQ(ExpectationFor(*FindProbe("compile"), /*online=*/false), Expectation::kWorks);
}

Observation Reported(ProbeOutcome outcome, const std::string& evidence = "e") {
  Observation obs;
  obs.run_status = 0;
  obs.report = ProbeReport{"x", outcome, evidence};
  return obs;
}

TEST(SelftestJudge, AttackVerdicts) {
  const ProbeInfo& write = *FindProbe("write-outside");
  EXPECT_EQ(Judge(write, Expectation::kBlocked, false, Reported(ProbeOutcome::kBlocked)).verdict,
            Verdict::kBlocked);
  EXPECT_EQ(Judge(write, Expectation::kBlocked, false, Reported(ProbeOutcome::kEscaped)).verdict,
            Verdict::kEscaped);
  // "allowed" from an ordinary attack means it worked.
  EXPECT_EQ(Judge(write, Expectation::kBlocked, false, Reported(ProbeOutcome::kAllowed)).verdict,
            Verdict::kEscaped);
  // An effect seen outside wins over a "blocked" report: the probe may lie or be wrong.
  Observation lied = Reported(ProbeOutcome::kBlocked);
  lied.outside.push_back("the canary was changed");
  ProbeResult r = Judge(write, Expectation::kBlocked, false, lied);
  EXPECT_EQ(r.verdict, Verdict::kEscaped);
  EXPECT_NE(r.evidence.find("canary"), std::string::npos);
  // No report at all is a failure, never a pass.
  Observation silent;
  silent.run_status = 125;
  silent.report_error = "no line";
  EXPECT_EQ(Judge(write, Expectation::kBlocked, false, silent).verdict, Verdict::kFail);
  EXPECT_EQ(Judge(write, Expectation::kBlocked, false, Reported(ProbeOutcome::kFailed)).verdict,
            Verdict::kFail);
}

TEST(SelftestJudge, OutsideJudgedAndMemoryAndLimits) {
  const ProbeInfo& daemon = *FindProbe("daemon");
  EXPECT_EQ(Judge(daemon, Expectation::kBlocked, false, Reported(ProbeOutcome::kAllowed)).verdict,
            Verdict::kBlocked);
  Observation survived = Reported(ProbeOutcome::kAllowed);
  survived.outside.push_back("survived the run: pid 42");
  EXPECT_EQ(Judge(daemon, Expectation::kBlocked, false, survived).verdict, Verdict::kEscaped);

  const ProbeInfo& memory = *FindProbe("memory");
  Observation oom;
  oom.run_status = 137;
  oom.report_error = "none";
  EXPECT_EQ(Judge(memory, Expectation::kBlocked, false, oom).verdict, Verdict::kBlocked);

  // A documented limit of the unprovisioned mode is LIMIT there, ESCAPED everywhere else.
  const ProbeInfo& bomb = *FindProbe("forkbomb");
  EXPECT_EQ(
      Judge(bomb, Expectation::kBlocked, true, Reported(ProbeOutcome::kEscaped)).verdict,
      UnprovisionedLimit(bomb, CurrentPlatform()) != nullptr ? Verdict::kLimit : Verdict::kEscaped);
  EXPECT_EQ(Judge(bomb, Expectation::kBlocked, false, Reported(ProbeOutcome::kEscaped)).verdict,
            Verdict::kEscaped);
  const ProbeInfo& write = *FindProbe("write-outside");
  EXPECT_EQ(Judge(write, Expectation::kBlocked, true, Reported(ProbeOutcome::kEscaped)).verdict,
            Verdict::kEscaped);
}

TEST(SelftestJudge, AllowedActionsMustWork) {
  const ProbeInfo& ws = *FindProbe("workspace-write");
  EXPECT_EQ(Judge(ws, Expectation::kWorks, false, Reported(ProbeOutcome::kAllowed)).verdict,
            Verdict::kOk);
  EXPECT_EQ(Judge(ws, Expectation::kWorks, false, Reported(ProbeOutcome::kBlocked)).verdict,
            Verdict::kFail);
  Observation skipped;
  skipped.skip_reason = "no compiler";
  ProbeResult r = Judge(*FindProbe("compile"), Expectation::kWorks, false, skipped);
  EXPECT_EQ(r.verdict, Verdict::kSkipped);
  EXPECT_EQ(r.evidence, "no compiler");
}

TEST(SelftestExitCode, ZeroOnlyWhenEverythingHolds) {
  SelftestReport report;
  ProbeResult ok;
  ok.info = FindProbe("write-outside");
  ok.verdict = Verdict::kBlocked;
  report.results.push_back(ok);
  ok.verdict = Verdict::kSkipped;
  report.results.push_back(ok);
  EXPECT_EQ(SelftestExitCode(report), 0);
  report.results[1].verdict = Verdict::kLimit;
  EXPECT_EQ(SelftestExitCode(report), kSelftestLimits);
  report.results[1].verdict = Verdict::kFail;
  EXPECT_EQ(SelftestExitCode(report), kSelftestFailed);
  report.results[1].verdict = Verdict::kEscaped;
  EXPECT_EQ(SelftestExitCode(report), kSelftestFailed);
  const std::string table = FormatTable(report);
  EXPECT_NE(table.find("ESCAPED"), std::string::npos);
  EXPECT_NE(table.find("FAIL: the sandbox"), std::string::npos);
  EXPECT_NE(FormatJson(report).find("\"exit_code\": 10"), std::string::npos);
}

}  // namespace
}  // namespace stockade::runner::selftest
