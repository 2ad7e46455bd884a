#include "provision/step.h"

namespace stockade::provision {

void StepRegistry::Register(const std::string& kind, StepFactory factory) {
  factories_[kind] = std::move(factory);
}

bool StepRegistry::Has(const std::string& kind) const { return factories_.count(kind) != 0; }

Expected<std::unique_ptr<Step>> StepRegistry::Create(const StepSpec& spec) const {
  auto it = factories_.find(spec.kind);
  if (it == factories_.end()) {
    return Error(ErrorCode::kNotFound,
                 "step kind '" + spec.kind + "' (" + spec.target + ") is not implemented on this OS");
  }
  return it->second(spec);
}

}  // namespace stockade::provision
