#include "provision/plan.h"

namespace stockade::provision {

TargetOs NativeTargetOs() { return TargetOs::kWindows; }

}  // namespace stockade::provision
