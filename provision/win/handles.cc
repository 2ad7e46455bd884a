#include "provision/win/handles.h"

#include "provision/win/win_util.h"

namespace stockade::provision::win {

Expected<ComInit> ComInit::Initialize(DWORD model) {
  const HRESULT hr = CoInitializeEx(nullptr, model);
  if (hr == RPC_E_CHANGED_MODE) return ComInit(false);  // usable, but not ours to undo
  if (FAILED(hr)) return HresultError("CoInitializeEx", hr);
  return ComInit(true);  // S_OK or S_FALSE: both must be balanced by CoUninitialize
}

}  // namespace stockade::provision::win
