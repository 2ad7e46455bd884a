#include "runner/service/grants.h"

#include "provision/journal/journal.h"
#include "provision/step.h"

namespace stockade::runner::service {

Expected<std::vector<Grant>> ReadLiveGrants(const std::string& state_dir) {
  provision::JournalOptions options;
  options.read_only = true;
  auto journal = provision::Journal::Open(state_dir, options);
  if (!journal.ok()) {
    if (journal.error().code() == ErrorCode::kNotFound) return std::vector<Grant>();
    return journal.error();
  }
  auto live = journal->LiveSteps();
  if (!live.ok()) return live.error();
  std::vector<Grant> grants;
  for (const provision::StepRecord& step : *live) {
    if (step.spec.kind != provision::kind::kWorkspaceGrant) continue;
    const nlohmann::json& params = step.spec.params;
    if (!params.is_object() || !params.contains("path") || !params.at("path").is_string()) {
      return Error(ErrorCode::kStateCorrupt, "journal " + journal->path() + ": grant step " +
                                                 std::to_string(step.txn_id) + "." +
                                                 std::to_string(step.seq) + " has no path");
    }
    Grant g;
    g.path = params.at("path").get<std::string>();
    if (params.contains("owner_uid") && params.at("owner_uid").is_number_unsigned() &&
        params.at("owner_uid").get<std::uint64_t>() <= 0xFFFFFFFFULL) {
      g.owner_uid = params.at("owner_uid").get<std::uint32_t>();
    } else if (params.contains("owner_uid")) {
      return Error(ErrorCode::kStateCorrupt, "journal " + journal->path() + ": grant of " + g.path +
                                                 " has an owner_uid that is not a uid");
    }
    grants.push_back(std::move(g));
  }
  return grants;
}

}  // namespace stockade::runner::service
