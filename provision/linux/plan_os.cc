#include "provision/plan.h"

namespace stockade::provision {

TargetOs NativeTargetOs() { return TargetOs::kLinux; }

}  // namespace stockade::provision
