// Step kinds implemented once for every OS (today: kind::kFile). Each OS's RegisterPlatformSteps
// (provision/linux/steps.cc, provision/win/steps.cc) calls RegisterPortableSteps first, so that
// one registry knows every kind this build implements.
#ifndef STOCKADE_PROVISION_STEPS_PORTABLE_STEPS_H_
#define STOCKADE_PROVISION_STEPS_PORTABLE_STEPS_H_

#include "provision/step.h"

namespace stockade::provision {

// Registers kind::kFile. Contract: called once per registry.
void RegisterPortableSteps(StepRegistry& registry);

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_STEPS_PORTABLE_STEPS_H_
