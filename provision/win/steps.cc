// Registers the step kinds Windows implements: the portable ones (kind::kFile) and the Windows
// identities, state folder, credentials, write SID, firewall rules, audit policy, workspace
// grants and service.
#include "provision/step.h"
#include "provision/steps/portable_steps.h"
#include "provision/win/audit_policy_step.h"
#include "provision/win/credentials_step.h"
#include "provision/win/group_step.h"
#include "provision/win/network_rules_step.h"
#include "provision/win/service_step.h"
#include "provision/win/state_dir_step.h"
#include "provision/win/user_step.h"
#include "provision/win/workspace_grant_step.h"
#include "provision/win/write_sid_step.h"

namespace stockade::provision {

void RegisterPlatformSteps(StepRegistry& registry) {
  RegisterPortableSteps(registry);
  registry.Register(kind::kGroup, &win::GroupStep::Create);
  registry.Register(kind::kUser, &win::UserStep::Create);
  registry.Register(kind::kCredentials, &win::CredentialsStep::Create);
  registry.Register(kind::kWriteSid, &win::WriteSidStep::Create);
  registry.Register(kind::kStateDir, &win::StateDirStep::Create);
  registry.Register(kind::kNetworkRules, &win::NetworkRulesStep::Create);
  registry.Register(kind::kAuditPolicy, &win::AuditPolicyStep::Create);
  registry.Register(kind::kWorkspaceGrant, &win::WorkspaceGrantStep::Create);
  registry.Register(kind::kService, &win::ServiceStep::Create);
}

}  // namespace stockade::provision
