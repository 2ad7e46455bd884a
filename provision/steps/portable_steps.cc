#include "provision/steps/portable_steps.h"

#include "provision/steps/file_step.h"

namespace stockade::provision {

void RegisterPortableSteps(StepRegistry& registry) {
  registry.Register(kind::kFile, CreateFileStep);
}

}  // namespace stockade::provision
