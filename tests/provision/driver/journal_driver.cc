// The journal test driver: runs one provisioner operation with the portable file step in its own
// process, so that crash injection (STOCKADE_CRASH_AT) can kill it for real and the lock can be
// contended between processes. Used by crash_test.cc and lock_test.cc.
//
//   provision_journal_driver run <state_dir> <kind> <specs.json>   (a JSON array of
//                                                                   {kind, target, params})
//   provision_journal_driver rollback <state_dir> last|all|<txn id>
//   provision_journal_driver recover <state_dir>
//   provision_journal_driver hold-lock <state_dir> <ms> <ready_file>
//
// Prints "recovered <id> <kind> <resolution>" for each transaction Open resolved, then
// "result ok ..." or "result error <E_CODE> <context>". Exit status 0, 1 (error) or 2 (usage);
// an injected crash exits with fault::kCrashExitCode after its own line.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "provision/executor.h"
#include "provision/lock.h"
#include "provision/steps/portable_steps.h"

namespace {

using namespace stockade;
using namespace stockade::provision;

int Fail(const Error& error) {
  std::cout << "result error " << ErrorCodeName(error.code()) << " " << error.context()
            << std::endl;
  return 1;
}

int Usage() {
  std::cerr << "usage: provision_journal_driver run|rollback|recover|hold-lock <state_dir> ...\n";
  return 2;
}

Expected<Executor> OpenExecutor(const std::string& state_dir) {
  ExecutorOptions options;
  options.state_dir = state_dir;
  RegisterPortableSteps(options.registry);
  auto executor = Executor::Open(std::move(options));
  if (executor) {
    for (const RecoveredTransaction& r : executor->recovery()) {
      std::cout << "recovered " << r.txn_id << " " << r.kind << " " << ResolutionName(r.resolution)
                << std::endl;
    }
  }
  return executor;
}

Expected<std::vector<StepSpec>> ReadSpecs(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
  }
  try {
    std::vector<StepSpec> specs;
    for (const auto& item : nlohmann::json::parse(text)) {
      specs.push_back({item.at("kind").get<std::string>(), item.at("target").get<std::string>(),
                       item.at("params")});
    }
    return specs;
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kInvalidArgument, "specs file " + file + ": " + e.what());
  }
}

int Run(const std::vector<std::string>& args) {
  if (args.size() < 2) return Usage();
  const std::string& command = args[0];
  const std::string& state_dir = args[1];

  if (command == "hold-lock" && args.size() == 4) {
    auto lock = ProvisionLock::Acquire(state_dir, std::chrono::milliseconds(10000));
    if (!lock) return Fail(lock.error());
    {
      std::ofstream ready(args[3], std::ios::trunc);
      ready << "locked\n";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(args[2])));
    std::cout << "result ok held" << std::endl;
    return 0;
  }

  auto executor = OpenExecutor(state_dir);
  if (!executor) return Fail(executor.error());

  if (command == "recover" && args.size() == 2) {
    std::cout << "result ok recovered=" << executor->recovery().size() << std::endl;
    return 0;
  }
  if (command == "run" && args.size() == 4) {
    auto specs = ReadSpecs(args[3]);
    if (!specs) return Fail(specs.error());
    nlohmann::json run_args = {{"driver", true}};
    auto result = executor->Run(args[2], run_args, *specs);
    if (!result) return Fail(result.error());
    int applied = 0, unchanged = 0;
    for (const StepOutcome& o : result->steps) {
      (o.outcome == StepOutcomeKind::kApplied ? applied : unchanged)++;
    }
    std::cout << "result ok changed=" << (result->changed ? 1 : 0)
              << " txn=" << (result->txn_id ? std::to_string(*result->txn_id) : "none")
              << " applied=" << applied << " unchanged=" << unchanged << std::endl;
    return 0;
  }
  if (command == "rollback" && args.size() == 3) {
    std::vector<RollbackResult> done;
    if (args[2] == "last") {
      auto r = executor->RollbackLast();
      if (!r) return Fail(r.error());
      if (*r) done.push_back(std::move(**r));
    } else if (args[2] == "all") {
      auto r = executor->RollbackAll();
      if (!r) return Fail(r.error());
      done = std::move(*r);
    } else {
      auto r = executor->Rollback(std::stoll(args[2]));
      if (!r) return Fail(r.error());
      done.push_back(std::move(*r));
    }
    std::cout << "result ok rolled_back=";
    for (const RollbackResult& r : done) std::cout << r.target_txn_id << ",";
    std::cout << std::endl;
    return 0;
  }
  return Usage();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return Run(args);
  } catch (const std::exception& e) {  // std::stoi on a malformed argument
    std::cout << "result error E_INVALID_ARGUMENT " << e.what() << std::endl;
    return 2;
  }
}
