// The exit-status rules of `stockade run` (runner/client/client.h), shared by both OS halves.
#include <gtest/gtest.h>

#include "runner/client/client.h"

namespace stockade::runner::client {
namespace {

TEST(ClientOutcomeTest, CommandCodePassesThrough) {
  RunOutcome outcome;
  outcome.code = 3;
  EXPECT_EQ(ExitStatusFor(outcome), 3);
  outcome.code = 0;
  EXPECT_EQ(ExitStatusFor(outcome), 0);
}

TEST(ClientOutcomeTest, SignalBecomes128PlusN) {
  RunOutcome outcome;
  outcome.code = 137;
  outcome.signal = 9;
  EXPECT_EQ(ExitStatusFor(outcome), 137);
}

TEST(ClientOutcomeTest, TimeoutWinsOverTheKillSignal) {
  RunOutcome outcome;
  outcome.code = 137;
  outcome.signal = 9;
  outcome.timed_out = true;
  EXPECT_EQ(ExitStatusFor(outcome), kStatusTimeout);
}

TEST(ClientOutcomeTest, ClientSignalIsReportedAsTheShellWould) {
  RunOutcome outcome;
  outcome.code = 137;  // the service killed the tree with SIGKILL
  outcome.signal = 9;
  outcome.killed = true;
  outcome.client_signal = 2;  // because the user pressed Ctrl-C / sent SIGINT
  EXPECT_EQ(ExitStatusFor(outcome), 130);
}

TEST(ClientOutcomeTest, ServiceErrorStages) {
  using protocol::ErrorStage;
  EXPECT_EQ(ExitStatusForServiceError(ErrorStage::kAuthorize, "E_NOT_GRANTED"), 122);
  EXPECT_EQ(ExitStatusForServiceError(ErrorStage::kAuthorize, "E_PERMISSION_DENIED"), 122);
  EXPECT_EQ(ExitStatusForServiceError(ErrorStage::kExec, "E_NOT_FOUND"), 127);
  EXPECT_EQ(ExitStatusForServiceError(ErrorStage::kExec, "E_PERMISSION_DENIED"), 126);
  EXPECT_EQ(ExitStatusForServiceError(ErrorStage::kSetup, "E_PERMISSION_DENIED"), 125);
  EXPECT_EQ(ExitStatusForServiceError(ErrorStage::kService, "E_DATABASE"), 125);
  EXPECT_EQ(ExitStatusForServiceError(ErrorStage::kProtocol, "E_PROTOCOL"), 125);
}

TEST(ClientOutcomeTest, UnprovisionedLimitsAreStated) {
  const std::string text = UnprovisionedLimitsText();
  EXPECT_NE(text.find("audit"), std::string::npos);
#if !defined(_WIN32)
  EXPECT_NE(text.find("RLIMIT_NPROC"), std::string::npos);
  EXPECT_NE(text.find("Unix sockets"), std::string::npos);
#endif
}

}  // namespace
}  // namespace stockade::runner::client
