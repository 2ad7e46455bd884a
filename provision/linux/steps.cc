// Registers the step kinds Linux implements; the Windows-only kinds are not implemented here.
#include "provision/linux/acl_grant_step.h"
#include "provision/linux/group_step.h"
#include "provision/linux/nft_step.h"
#include "provision/linux/service_step.h"
#include "provision/linux/state_dir_step.h"
#include "provision/linux/user_step.h"
#include "provision/step.h"
#include "provision/steps/portable_steps.h"

namespace stockade::provision {

void RegisterPlatformSteps(StepRegistry& registry) {
  RegisterPortableSteps(registry);
  registry.Register(kind::kGroup, &linux_os::GroupStep::Create);
  registry.Register(kind::kUser, &linux_os::UserStep::Create);
  registry.Register(kind::kStateDir, &linux_os::StateDirStep::Create);
  registry.Register(kind::kNetworkRules, &linux_os::NftStep::Create);
  registry.Register(kind::kWorkspaceGrant, &linux_os::AclGrantStep::Create);
  registry.Register(kind::kService, &linux_os::ServiceStep::Create);
}

}  // namespace stockade::provision
