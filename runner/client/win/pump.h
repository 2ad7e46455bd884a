// Copying bytes between two handles on a thread of their own until the source ends: the
// client's relay between its own stdio and the pipes of a tree the service launched.
#ifndef STOCKADE_RUNNER_CLIENT_WIN_PUMP_H_
#define STOCKADE_RUNNER_CLIENT_WIN_PUMP_H_

#include <windows.h>

#include <thread>

#include "provision/win/handles.h"

namespace stockade::runner::client::win_os {

using provision::win::UniqueHandle;

class Pump {
 public:
  // Starts copying `from` -> `to`. `owned` (optional) is closed when the copy ends: for the
  // pipe towards the tree's stdin that is what signals end of file to it.
  Pump(HANDLE from, HANDLE to, UniqueHandle owned);
  Pump(Pump&&) = delete;
  Pump& operator=(Pump&&) = delete;
  // Joins the thread (Finish() should have been called, or the source ended).
  ~Pump();

  // Waits for the copy to end by itself, at most `ms` milliseconds; then, if it is still
  // blocked in a read (a console nobody types into), cancels that read and joins (or, when the
  // read cannot be cancelled, detaches: the process is about to exit).
  void Finish(DWORD ms);

 private:
  std::thread thread_;
  HANDLE from_;
};

}  // namespace stockade::runner::client::win_os

#endif  // STOCKADE_RUNNER_CLIENT_WIN_PUMP_H_
