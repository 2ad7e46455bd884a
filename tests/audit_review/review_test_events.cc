#include "tests/audit_review/review_test_events.h"

namespace stockade::audit::testing {

std::string HostileTarget() { return "/w/<script>alert(\"x\")</script>]\\'\xFF.txt"; }

std::vector<Event> MakeReviewEvents(int sessions, int spawns, int denials, TimeNs t0) {
  std::vector<Event> out;
  std::int64_t seq = 0;
  const char* images[] = {"/bin/sh", "/usr/bin/make", "/bin/sh", "/usr/bin/cc", "/usr/bin/python3"};
  for (int s = 0; s < sessions; ++s) {
    const std::string id = "00000000-0000-4000-8000-" +
                           std::string(12 - std::to_string(s).size(), '0') + std::to_string(s);
    const TimeNs start = t0 + static_cast<TimeNs>(s) * 1'000'000'000;
    auto envelope = [&](TimeNs t) {
      Event e;
      e.seq = ++seq;
      e.time = t;
      e.host = "review-host";
      e.session_id = id;
      return e;
    };
    SessionEvent begin;
    begin.phase = SessionPhase::kStart;
    begin.identity = s % 2 == 0 ? "offline" : "online";
    begin.workspace = "/home/dev/proj" + std::to_string(s);
    begin.invoking_uid = 1000;
    begin.invoking_user = "dev<b>";
    begin.argv = {"make", "-j4", "test"};
    begin.cwd = begin.workspace;
    begin.start_time = start;
    Event e = envelope(start);
    e.body = begin;
    out.push_back(e);
    for (int p = 0; p < spawns; ++p) {
      ProcessEvent pe;
      pe.phase = ProcessPhase::kExec;
      pe.process_guid = id + "-p" + std::to_string(p);
      pe.pid = 1000 + p;
      pe.image = images[p % 5];
      pe.argv = {pe.image, "-c", "echo <i>" + std::to_string(p) + "</i>"};
      pe.cwd = begin.workspace;
      pe.start_time = start + (p + 1) * 1'000'000;
      Event pev = envelope(pe.start_time);
      pev.body = pe;
      out.push_back(pev);
    }
    for (int d = 0; d < denials; ++d) {
      DenialEvent de;
      de.category = d % 2 == 0 ? DenialCategory::kFileWrite : DenialCategory::kNetwork;
      de.target = d % 2 == 0 ? HostileTarget() : "10.0.0.1:443";
      de.access = d % 2 == 0 ? "write" : "connect tcp";
      de.pid = 1000 + d;
      de.source = d % 2 == 0 ? DenialSource::kLandlock : DenialSource::kNflog;
      de.evidence = "raw \"evidence\" ]";
      Event dev = envelope(start + (spawns + d + 1) * 1'000'000);
      dev.body = de;
      out.push_back(dev);
    }
    SessionEvent end = begin;
    end.phase = SessionPhase::kEnd;
    end.end_time = start + 800'000'000;
    end.exit.code = s % 3 == 0 ? 0 : 2;
    Event eev = envelope(end.end_time);
    eev.body = end;
    out.push_back(eev);
  }
  return out;
}

}  // namespace stockade::audit::testing
