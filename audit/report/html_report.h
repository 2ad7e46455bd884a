// The audit trail as one self-contained HTML file for compliance reviewers: sessions, a timeline
// of spawns and denials (inline SVG), the most frequent commands, denials by kind and by target.
// No network access (a Content-Security-Policy forbids every external load), inline CSS, SVG and
// a few lines of JavaScript (table sorting); every string that comes from an event is
// HTML-escaped and made valid UTF-8. Pure code: events in, text out.
#ifndef STOCKADE_AUDIT_REPORT_HTML_REPORT_H_
#define STOCKADE_AUDIT_REPORT_HTML_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "audit/event.h"

namespace stockade::audit::report {

struct ReportOptions {
  std::string title = "Stockade audit report";
  std::string store_path;   // shown in the header
  std::string filter_text;  // the filters the events were selected with, shown in the header
  TimeNs generated_at = 0;  // 0 = now
  std::string host;         // the machine that generated it
  std::size_t top_n = 20;   // rows in the "top" tables
  // Timeline limits: the most recent sessions get a lane each; spawn marks beyond the limit
  // are thinned evenly (every k-th) and the caption says so. Denials are all drawn up to the
  // same limit.
  std::size_t max_lanes = 40;
  std::size_t max_marks = 4000;
};

// What the report counted, for callers and tests.
struct ReportCounts {
  std::size_t events = 0;
  std::size_t sessions = 0;  // distinct session ids seen (with or without their start event)
  std::size_t spawns = 0;    // process exec events
  std::size_t denials = 0;
  std::size_t provisioning = 0;
};

// Escapes & < > " ' for text and attribute values, after replacing invalid UTF-8 with U+FFFD.
std::string HtmlEscape(std::string_view text);

// Accumulates events (in any order, typically ascending seq) and renders the report. Memory is
// bounded by the number of sessions, distinct commands and targets, and the mark limits, not by
// the number of events.
class ReportBuilder {
 public:
  explicit ReportBuilder(ReportOptions options);
  ~ReportBuilder();
  ReportBuilder(const ReportBuilder&) = delete;
  ReportBuilder& operator=(const ReportBuilder&) = delete;

  void Add(const Event& event);
  ReportCounts counts() const;
  // The complete HTML document (UTF-8).
  std::string Render() const;

  struct State;

 private:
  ReportOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace stockade::audit::report

#endif  // STOCKADE_AUDIT_REPORT_HTML_REPORT_H_
