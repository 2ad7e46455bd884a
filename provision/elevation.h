// Whether this process may provision: root on Linux, an elevated administrator token on Windows.
// Checked by every stockade-provision command before it opens the journal, so that an
// unprivileged run fails with one clear message instead of a permission error halfway.
#ifndef STOCKADE_PROVISION_ELEVATION_H_
#define STOCKADE_PROVISION_ELEVATION_H_

#include "core/error.h"

namespace stockade::provision {

// OK when elevated; kNotElevated naming what is missing otherwise (kOs when the token cannot be
// read on Windows).
Status RequireElevation();

}  // namespace stockade::provision

#endif  // STOCKADE_PROVISION_ELEVATION_H_
