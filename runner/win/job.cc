#include "runner/win/job.h"

#include <algorithm>
#include <thread>

#include "provision/win/win_util.h"

namespace stockade::runner::win_os {

namespace pw = stockade::provision::win;

namespace {

Error Mismatch(const std::string& what, std::uint64_t asked, std::uint64_t read) {
  return Error(ErrorCode::kVerificationFailed, "job object: " + what + " read back as " +
                                                   std::to_string(read) + ", asked " +
                                                   std::to_string(asked));
}

}  // namespace

Expected<JobObject> JobObject::Create(const JobLimits& limits) {
  UniqueHandle job(CreateJobObjectW(nullptr, nullptr));
  if (!job) return pw::LastWin32Error("CreateJobObjectW");

  // The port first: a process assigned later must never run without its messages being posted.
  UniqueHandle port(CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1));
  if (!port) return pw::LastWin32Error("CreateIoCompletionPort(job)");
  JOBOBJECT_ASSOCIATE_COMPLETION_PORT association{};
  association.CompletionKey = job.get();
  association.CompletionPort = port.get();
  if (!SetInformationJobObject(job.get(), JobObjectAssociateCompletionPortInformation, &association,
                               sizeof association)) {
    return pw::LastWin32Error("SetInformationJobObject(completion port)");
  }

  JOBOBJECT_EXTENDED_LIMIT_INFORMATION info{};
  info.BasicLimitInformation.LimitFlags = kBaseJobLimitFlags;
  if (limits.max_processes > 0) {
    info.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
    info.BasicLimitInformation.ActiveProcessLimit = limits.max_processes;
  }
  if (limits.memory_bytes > 0) {
    info.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
    info.JobMemoryLimit = static_cast<SIZE_T>(limits.memory_bytes);
  }
  if (!SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &info, sizeof info)) {
    return pw::LastWin32Error("SetInformationJobObject(extended limits)");
  }
  if (!limits.verify) {
    if (limits.ui_restrictions) {
      JOBOBJECT_BASIC_UI_RESTRICTIONS ui{};
      ui.UIRestrictionsClass = JOB_OBJECT_UILIMIT_ALL;
      if (!SetInformationJobObject(job.get(), JobObjectBasicUIRestrictions, &ui, sizeof ui)) {
        return pw::LastWin32Error("SetInformationJobObject(UI restrictions)");
      }
    }
    return JobObject(std::move(job), std::move(port));
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION back{};
  if (!QueryInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &back, sizeof back,
                                 nullptr)) {
    return pw::LastWin32Error("QueryInformationJobObject(extended limits)");
  }
  const DWORD flags = back.BasicLimitInformation.LimitFlags;
  if (flags != info.BasicLimitInformation.LimitFlags) {
    return Mismatch("limit flags", info.BasicLimitInformation.LimitFlags, flags);
  }
  if ((flags & (JOB_OBJECT_LIMIT_BREAKAWAY_OK | JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK)) != 0) {
    return Mismatch("breakaway flags", 0, flags);
  }
  if (limits.max_processes > 0 &&
      back.BasicLimitInformation.ActiveProcessLimit != limits.max_processes) {
    return Mismatch("active process limit", limits.max_processes,
                    back.BasicLimitInformation.ActiveProcessLimit);
  }
  if (limits.memory_bytes > 0 && back.JobMemoryLimit != info.JobMemoryLimit) {
    return Mismatch("job memory limit", limits.memory_bytes, back.JobMemoryLimit);
  }

  if (limits.ui_restrictions) {
    JOBOBJECT_BASIC_UI_RESTRICTIONS ui{};
    ui.UIRestrictionsClass = JOB_OBJECT_UILIMIT_ALL;
    if (!SetInformationJobObject(job.get(), JobObjectBasicUIRestrictions, &ui, sizeof ui)) {
      return pw::LastWin32Error("SetInformationJobObject(UI restrictions)");
    }
    JOBOBJECT_BASIC_UI_RESTRICTIONS ui_back{};
    if (!QueryInformationJobObject(job.get(), JobObjectBasicUIRestrictions, &ui_back,
                                   sizeof ui_back, nullptr)) {
      return pw::LastWin32Error("QueryInformationJobObject(UI restrictions)");
    }
    if (ui_back.UIRestrictionsClass != ui.UIRestrictionsClass) {
      return Mismatch("UI restrictions", ui.UIRestrictionsClass, ui_back.UIRestrictionsClass);
    }
  }
  return JobObject(std::move(job), std::move(port));
}

Status JobObject::Assign(HANDLE process) const {
  if (!AssignProcessToJobObject(job_.get(), process)) {
    return pw::LastWin32Error("AssignProcessToJobObject(pid " +
                              std::to_string(GetProcessId(process)) + ")");
  }
  return OkStatus();
}

Status JobObject::Terminate(UINT exit_code) const {
  if (!TerminateJobObject(job_.get(), exit_code)) return pw::LastWin32Error("TerminateJobObject");
  return OkStatus();
}

Expected<JobAccounting> JobObject::Accounting() const {
  JOBOBJECT_BASIC_ACCOUNTING_INFORMATION info{};
  if (!QueryInformationJobObject(job_.get(), JobObjectBasicAccountingInformation, &info,
                                 sizeof info, nullptr)) {
    return pw::LastWin32Error("QueryInformationJobObject(accounting)");
  }
  return JobAccounting{info.ActiveProcesses, info.TotalProcesses, info.TotalTerminatedProcesses};
}

Expected<std::vector<DWORD>> JobObject::ProcessIds() const {
  // The list's size is only known after a call; retry with more room while the tree grows.
  std::size_t capacity = 64;
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::size_t bytes =
        sizeof(JOBOBJECT_BASIC_PROCESS_ID_LIST) + capacity * sizeof(ULONG_PTR);
    std::vector<std::uint64_t> storage((bytes + 7) / 8);
    auto* list = reinterpret_cast<JOBOBJECT_BASIC_PROCESS_ID_LIST*>(storage.data());
    if (QueryInformationJobObject(job_.get(), JobObjectBasicProcessIdList, list,
                                  static_cast<DWORD>(storage.size() * 8), nullptr)) {
      std::vector<DWORD> ids;
      for (DWORD i = 0; i < list->NumberOfProcessIdsInList; ++i) {
        ids.push_back(static_cast<DWORD>(list->ProcessIdList[i]));
      }
      return ids;
    }
    const DWORD error = GetLastError();
    if (error != ERROR_MORE_DATA) {
      return pw::Win32Error("QueryInformationJobObject(process id list)", error);
    }
    capacity = std::max<std::size_t>(capacity * 4, list->NumberOfAssignedProcesses + 16);
  }
  return Error(ErrorCode::kOs, "QueryInformationJobObject(process id list): the list kept growing");
}

Expected<std::uint64_t> JobObject::PeakMemory() const {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION info{};
  if (!QueryInformationJobObject(job_.get(), JobObjectExtendedLimitInformation, &info, sizeof info,
                                 nullptr)) {
    return pw::LastWin32Error("QueryInformationJobObject(peak memory)");
  }
  return static_cast<std::uint64_t>(info.PeakJobMemoryUsed);
}

Status JobObject::WaitUntilEmpty(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    auto accounting = Accounting();
    if (!accounting.ok()) return accounting.error();
    if (accounting->active_processes == 0) return OkStatus();
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string ids;
      if (auto list = ProcessIds(); list.ok()) {
        for (const DWORD id : *list) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
      }
      return Error(ErrorCode::kTimeout,
                   "job object: " + std::to_string(accounting->active_processes) +
                       " process(es) still alive after " + std::to_string(timeout.count()) +
                       " ms (pids " + ids + ")");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

std::optional<JobMessage> JobObject::NextMessage(std::chrono::milliseconds timeout) const {
  DWORD type = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED overlapped = nullptr;
  if (!GetQueuedCompletionStatus(port_.get(), &type, &key, &overlapped,
                                 static_cast<DWORD>(timeout.count()))) {
    return std::nullopt;
  }
  // For process messages the "overlapped" pointer carries the process id.
  return JobMessage{type, static_cast<DWORD>(reinterpret_cast<ULONG_PTR>(overlapped))};
}

}  // namespace stockade::runner::win_os
