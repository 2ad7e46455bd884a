#include "audit/report/html_report.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>
#include <vector>

#include "audit/review/utf8.h"

namespace stockade::audit::report {

namespace {

struct SessionInfo {
  std::string id;
  bool has_start = false, has_end = false;
  std::string user, identity, workspace, command;
  TimeNs start = 0, end = 0;   // from the session events
  TimeNs first = 0, last = 0;  // every event of the session
  ExitStatus exit;
  std::size_t spawns = 0, denials = 0;
};

struct Mark {
  TimeNs time = 0;
  std::string session;
  std::string label;
  bool denial = false;
};

struct CommandInfo {
  std::size_t count = 0;
  std::string example;  // the first argv seen
};

struct TargetInfo {
  std::size_t count = 0;
  std::string access;
  std::string source;
};

std::string Basename(std::string_view path) {
  const std::size_t slash = path.find_last_of("/\\");
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    const bool quote = a.empty() || a.find_first_of(" \t\"'") != std::string::npos;
    out += quote ? "'" + a + "'" : a;
    if (out.size() > 300) return out.substr(0, 300) + "…";
  }
  return out;
}

// "2026-11-22 08:15:38.123Z"
std::string ShortTime(TimeNs t) {
  if (t == 0) return "";
  std::string s = FormatTime(t);
  if (s.size() > 23) s = s.substr(0, 23) + "Z";
  if (s.size() > 10 && s[10] == 'T') s[10] = ' ';
  return s;
}

std::string Duration(TimeNs from, TimeNs to) {
  if (from == 0 || to == 0 || to < from) return "";
  const double seconds = static_cast<double>(to - from) / 1e9;
  char buf[32];
  if (seconds < 1) {
    std::snprintf(buf, sizeof buf, "%.0f ms", seconds * 1000);
  } else if (seconds < 120) {
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f min", seconds / 60);
  }
  return buf;
}

std::string ExitText(const SessionInfo& s) {
  if (!s.has_end) return "running / no end event";
  std::string out;
  if (s.exit.code) out = "exit " + std::to_string(*s.exit.code);
  if (s.exit.signal)
    out += (out.empty() ? "" : ", ") + std::string("signal ") + std::to_string(*s.exit.signal);
  if (s.exit.timed_out) out += (out.empty() ? "" : ", ") + std::string("timed out");
  if (s.exit.killed) out += (out.empty() ? "" : ", ") + std::string("killed");
  return out.empty() ? "ended" : out;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

template <typename Map>
std::vector<std::pair<typename Map::key_type, typename Map::mapped_type>> TopN(const Map& map,
                                                                               std::size_t n) {
  std::vector<std::pair<typename Map::key_type, typename Map::mapped_type>> rows(map.begin(),
                                                                                 map.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
  if (rows.size() > n) rows.resize(n);
  return rows;
}

constexpr std::string_view kStyle = R"css(
:root { --fg:#1d2430; --muted:#5b6678; --line:#d9dee7; --bg:#f6f8fb; --spawn:#2f6fdf;
        --deny:#d2352b; --bar:#9db8ea; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0; background: #fff; }
header { background: #1d2430; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9d2e3; font-size: 13px; }
main { padding: 20px 28px 40px; }
section { margin: 0 0 28px; }
h2 { font-size: 17px; margin: 0 0 10px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 24px; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px;
        min-width: 150px; }
.card b { display: block; font-size: 26px; }
.card.deny b { color: var(--deny); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); cursor: pointer; user-select: none; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td code, td.code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px;
                   word-break: break-all; }
.bar { display: inline-block; height: 10px; background: var(--bar); border-radius: 2px;
       vertical-align: middle; margin-right: 6px; }
.bar.deny { background: #eda39d; }
.muted { color: var(--muted); }
.timeline-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; padding: 8px;
                 background: #fff; }
svg text { font: 11px ui-monospace, Menlo, Consolas, monospace; fill: var(--fg); }
.legend span { margin-right: 16px; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px;
       vertical-align: middle; }
)css";

// Sorts a table by the clicked column (numbers numerically). No network, no libraries.
constexpr std::string_view kScript = R"js(
document.querySelectorAll('table.sortable th').forEach(function (th, index) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('data-dir') !== 'asc';
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute('data-v') || a.cells[index].textContent;
      var y = b.cells[index].getAttribute('data-v') || b.cells[index].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    th.setAttribute('data-dir', asc ? 'asc' : 'desc');
  });
});
)js";

}  // namespace

std::string HtmlEscape(std::string_view text) {
  const std::string valid = review::ToValidUtf8(text);
  std::string out;
  out.reserve(valid.size() + 16);
  for (char c : valid) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Other C0 controls are not allowed in HTML text; show them as U+FFFD.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

struct ReportBuilder::State {
  ReportCounts counts;
  std::map<std::string, SessionInfo> sessions;
  std::map<std::string, CommandInfo> commands;
  std::map<std::string, CommandInfo> denial_kinds;                    // "file_write" -> count
  std::map<std::pair<std::string, std::string>, TargetInfo> targets;  // (category, target)
  std::vector<Mark> spawn_marks, denial_marks;
  std::size_t spawn_stride = 1, denial_stride = 1;
  std::size_t spawn_seen = 0, denial_seen = 0;
  TimeNs first = 0, last = 0;

  // Keeps every stride-th mark; when over the limit, drops every other kept mark and doubles
  // the stride, so the marks stay evenly thinned whatever the total.
  static void Keep(std::vector<Mark>& marks, std::size_t& stride, std::size_t& seen, Mark mark,
                   std::size_t limit) {
    if (seen++ % stride != 0) return;
    marks.push_back(std::move(mark));
    if (marks.size() > limit) {
      std::vector<Mark> kept;
      for (std::size_t i = 0; i < marks.size(); i += 2) kept.push_back(std::move(marks[i]));
      marks = std::move(kept);
      stride *= 2;
    }
  }
};

ReportBuilder::ReportBuilder(ReportOptions options)
    : options_(std::move(options)), state_(std::make_unique<State>()) {}

ReportBuilder::~ReportBuilder() = default;

void ReportBuilder::Add(const Event& event) {
  State& st = *state_;
  ++st.counts.events;
  if (event.time != 0) {
    st.first = st.first == 0 ? event.time : std::min(st.first, event.time);
    st.last = std::max(st.last, event.time);
  }
  SessionInfo* session = nullptr;
  if (!event.session_id.empty()) {
    session = &st.sessions[event.session_id];
    session->id = event.session_id;
    if (event.time != 0) {
      session->first = session->first == 0 ? event.time : std::min(session->first, event.time);
      session->last = std::max(session->last, event.time);
    }
  }
  if (const auto* s = std::get_if<SessionEvent>(&event.body)) {
    if (session == nullptr) return;
    session->user = s->invoking_user.empty() && s->invoking_uid >= 0
                        ? "uid " + std::to_string(s->invoking_uid)
                        : s->invoking_user;
    session->identity = s->identity;
    session->workspace = s->workspace;
    session->command = JoinArgv(s->argv);
    if (s->start_time != 0) session->start = s->start_time;
    if (s->phase == SessionPhase::kStart) {
      session->has_start = true;
      if (session->start == 0) session->start = event.time;
    } else {
      session->has_end = true;
      session->end = s->end_time != 0 ? s->end_time : event.time;
      session->exit = s->exit;
    }
  } else if (const auto* p = std::get_if<ProcessEvent>(&event.body)) {
    if (p->phase != ProcessPhase::kExec) return;
    ++st.counts.spawns;
    if (session != nullptr) ++session->spawns;
    std::string name = Basename(p->image);
    if (name.empty() && !p->argv.empty()) name = Basename(p->argv[0]);
    if (name.empty()) name = "(unknown)";
    CommandInfo& c = st.commands[name];
    if (c.count++ == 0) c.example = JoinArgv(p->argv);
    State::Keep(
        st.spawn_marks, st.spawn_stride, st.spawn_seen,
        {event.time, event.session_id,
         "exec " + name + " (pid " + std::to_string(p->pid) + ") " + ShortTime(event.time), false},
        options_.max_marks);
  } else if (const auto* d = std::get_if<DenialEvent>(&event.body)) {
    ++st.counts.denials;
    if (session != nullptr) ++session->denials;
    const std::string category(DenialCategoryName(d->category));
    ++st.denial_kinds[category].count;
    TargetInfo& t = st.targets[{category, d->target}];
    ++t.count;
    t.access = d->access;
    t.source = std::string(DenialSourceName(d->source));
    State::Keep(st.denial_marks, st.denial_stride, st.denial_seen,
                {event.time, event.session_id,
                 "denied " + d->access + " " + d->target + " " + ShortTime(event.time), true},
                options_.max_marks);
  } else if (std::holds_alternative<ProvisioningEvent>(event.body)) {
    ++st.counts.provisioning;
  }
}

ReportCounts ReportBuilder::counts() const {
  ReportCounts c = state_->counts;
  c.sessions = state_->sessions.size();
  return c;
}

std::string ReportBuilder::Render() const {
  const State& st = *state_;
  const ReportCounts c = counts();
  const TimeNs generated = options_.generated_at != 0 ? options_.generated_at : NowNs();
  std::string h;
  h.reserve(64 * 1024);
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // Nothing may be fetched: the file must read the same offline and leak nothing when opened.
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + HtmlEscape(options_.title) + "</title>\n<style>" + std::string(kStyle) +
       "</style>\n</head>\n<body>\n";
  h += "<header><h1>" + HtmlEscape(options_.title) + "</h1><p>Generated " +
       HtmlEscape(ShortTime(generated)) +
       (options_.host.empty() ? "" : " on " + HtmlEscape(options_.host)) +
       (options_.store_path.empty() ? "" : " from " + HtmlEscape(options_.store_path)) +
       " · events " + HtmlEscape(ShortTime(st.first)) + " to " + HtmlEscape(ShortTime(st.last)) +
       (options_.filter_text.empty() ? "" : " · filter: " + HtmlEscape(options_.filter_text)) +
       "</p></header>\n<main>\n";

  // Summary cards.
  h += "<div class=\"cards\" id=\"summary\">";
  auto card = [&](std::string_view id, std::string_view label, std::size_t n, bool deny) {
    h += "<div class=\"card" + std::string(deny ? " deny" : "") + "\" id=\"" + std::string(id) +
         "\"><b>" + std::to_string(n) + "</b>" + std::string(label) + "</div>";
  };
  card("count-sessions", "sessions", c.sessions, false);
  card("count-spawns", "processes spawned", c.spawns, false);
  card("count-denials", "denied accesses", c.denials, c.denials > 0);
  card("count-events", "events", c.events, false);
  if (c.provisioning > 0) card("count-provisioning", "provisioning events", c.provisioning, false);
  h += "</div>\n";

  // Timeline: one lane per session (the most recent max_lanes), spawns and denials as marks.
  std::vector<const SessionInfo*> lanes;
  for (const auto& [id, s] : st.sessions) lanes.push_back(&s);
  std::sort(lanes.begin(), lanes.end(), [](const SessionInfo* a, const SessionInfo* b) {
    const TimeNs ta = a->start != 0 ? a->start : a->first;
    const TimeNs tb = b->start != 0 ? b->start : b->first;
    return ta != tb ? ta < tb : a->id < b->id;
  });
  const std::size_t hidden_lanes =
      lanes.size() > options_.max_lanes ? lanes.size() - options_.max_lanes : 0;
  if (hidden_lanes > 0) lanes.erase(lanes.begin(), lanes.begin() + static_cast<long>(hidden_lanes));
  std::map<std::string, std::size_t> lane_of;
  TimeNs t0 = 0, t1 = 0;
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    lane_of[lanes[i]->id] = i;
    for (TimeNs t : {lanes[i]->start, lanes[i]->end, lanes[i]->first, lanes[i]->last}) {
      if (t == 0) continue;
      t0 = t0 == 0 ? t : std::min(t0, t);
      t1 = std::max(t1, t);
    }
  }
  if (t1 <= t0) t1 = t0 + 1'000'000'000;  // one second wide when everything is at one instant
  constexpr double kLabelWidth = 230, kPlotWidth = 900, kLane = 24, kTop = 24;
  const double width = kLabelWidth + kPlotWidth + 20;
  const double height =
      kTop + kLane * static_cast<double>(std::max<std::size_t>(lanes.size(), 1)) + 24;
  auto x_of = [&](TimeNs t) {
    return kLabelWidth + kPlotWidth * static_cast<double>(t - t0) / static_cast<double>(t1 - t0);
  };
  h += "<section><h2>Timeline of spawns and denials</h2>\n<p class=\"legend muted\">"
       "<span><i class=\"dot\" style=\"background:var(--bar)\"></i>session</span>"
       "<span><i class=\"dot\" style=\"background:var(--spawn)\"></i>process spawned</span>"
       "<span><i class=\"dot\" style=\"background:var(--deny)\"></i>access denied</span>";
  if (hidden_lanes > 0) {
    h += " · the " + std::to_string(hidden_lanes) + " oldest sessions are not drawn";
  }
  if (st.spawn_stride > 1) {
    h += " · 1 spawn in " + std::to_string(st.spawn_stride) + " drawn";
  }
  if (st.denial_stride > 1) {
    h += " · 1 denial in " + std::to_string(st.denial_stride) + " drawn";
  }
  h +=
      "</p>\n<div class=\"timeline-wrap\"><svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\""
      " width=\"" +
      Num(width) + "\" height=\"" + Num(height) + "\" viewBox=\"0 0 " + Num(width) + " " +
      Num(height) + "\" data-lanes=\"" + std::to_string(lanes.size()) + "\" data-spawn-marks=\"" +
      std::to_string(st.spawn_marks.size()) + "\" data-denial-marks=\"" +
      std::to_string(st.denial_marks.size()) + "\">\n";
  h += "<text x=\"" + Num(kLabelWidth) + "\" y=\"14\">" + HtmlEscape(ShortTime(t0)) +
       "</text><text x=\"" + Num(kLabelWidth + kPlotWidth) + "\" y=\"14\" text-anchor=\"end\">" +
       HtmlEscape(ShortTime(t1)) + "</text>\n";
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    const SessionInfo& s = *lanes[i];
    const double y = kTop + kLane * static_cast<double>(i);
    const TimeNs from = s.start != 0 ? s.start : s.first;
    const TimeNs to = s.end != 0 ? s.end : s.last;
    const std::string label = (s.identity.empty() ? "" : s.identity + " ") + s.id.substr(0, 8) +
                              (s.command.empty() ? "" : " " + s.command.substr(0, 18));
    h += "<g class=\"lane\"><rect x=\"0\" y=\"" + Num(y) + "\" width=\"" + Num(width) +
         "\" height=\"" + Num(kLane) + "\" fill=\"" + (i % 2 ? "#ffffff" : "#f6f8fb") +
         "\"/><text x=\"4\" y=\"" + Num(y + 16) + "\">" + HtmlEscape(label) + "</text>";
    if (from != 0) {
      const double x0 = x_of(from), x1 = std::max(x_of(to), x0 + 2);
      h += "<rect class=\"session-bar\" x=\"" + Num(x0) + "\" y=\"" + Num(y + 7) + "\" width=\"" +
           Num(x1 - x0) + "\" height=\"10\" rx=\"3\" fill=\"#9db8ea\"><title>" +
           HtmlEscape("session " + s.id + " · " + s.user + " · " + ExitText(s)) + "</title></rect>";
    }
    h += "</g>\n";
  }
  auto draw = [&](const std::vector<Mark>& marks, bool denial) {
    for (const Mark& m : marks) {
      auto lane = lane_of.find(m.session);
      if (lane == lane_of.end() || m.time == 0) continue;
      const double y = kTop + kLane * static_cast<double>(lane->second);
      const double x = x_of(m.time);
      if (denial) {
        h += "<path class=\"denial\" d=\"M" + Num(x - 4) + " " + Num(y + 4) + "L" + Num(x + 4) +
             " " + Num(y + 20) + "M" + Num(x + 4) + " " + Num(y + 4) + "L" + Num(x - 4) + " " +
             Num(y + 20) + "\" stroke=\"#d2352b\" stroke-width=\"2\"><title>" +
             HtmlEscape(m.label) + "</title></path>\n";
      } else {
        h += "<rect class=\"spawn\" x=\"" + Num(x - 1) + "\" y=\"" + Num(y + 5) +
             "\" width=\"2\" height=\"14\" fill=\"#2f6fdf\"><title>" + HtmlEscape(m.label) +
             "</title></rect>\n";
      }
    }
  };
  draw(st.spawn_marks, false);
  draw(st.denial_marks, true);
  if (lanes.empty()) {
    h += "<text x=\"" + Num(kLabelWidth) + "\" y=\"" + Num(kTop + 16) +
         "\">no sessions in the selected events</text>\n";
  }
  h += "</svg></div></section>\n";

  // Sessions.
  h += "<section><h2>Sessions</h2>\n<table class=\"sortable\" id=\"sessions\" "
       "data-session-count=\"" +
       std::to_string(c.sessions) +
       "\"><thead><tr><th>session</th><th>started</th>"
       "<th class=\"num\">duration</th><th>user</th><th>identity</th><th>workspace</th>"
       "<th>command</th><th>result</th><th class=\"num\">processes</th>"
       "<th class=\"num\">denials</th></tr></thead><tbody>\n";
  for (const auto& [id, s] : st.sessions) {
    const TimeNs from = s.start != 0 ? s.start : s.first;
    const TimeNs to = s.end != 0 ? s.end : s.last;
    h += "<tr class=\"session\"><td class=\"code\">" + HtmlEscape(id) + "</td><td data-v=\"" +
         std::to_string(from) + "\">" + HtmlEscape(ShortTime(from)) +
         "</td><td class=\"num\" data-v=\"" + std::to_string(to - from) + "\">" +
         HtmlEscape(Duration(from, to)) + "</td><td>" + HtmlEscape(s.user) + "</td><td>" +
         HtmlEscape(s.identity) + "</td><td class=\"code\">" + HtmlEscape(s.workspace) +
         "</td><td><code>" + HtmlEscape(s.command) + "</code></td><td>" + HtmlEscape(ExitText(s)) +
         "</td><td class=\"num\">" + std::to_string(s.spawns) + "</td><td class=\"num\">" +
         std::to_string(s.denials) + "</td></tr>\n";
  }
  h += "</tbody></table></section>\n";

  // Top commands.
  const auto commands = TopN(st.commands, options_.top_n);
  const std::size_t top_count = commands.empty() ? 1 : commands.front().second.count;
  h += "<section><h2>Top commands</h2>\n<table class=\"sortable\" id=\"top-commands\"><thead><tr>"
       "<th>command</th><th class=\"num\">spawns</th><th>example</th></tr></thead><tbody>\n";
  for (const auto& [name, info] : commands) {
    h += "<tr><td><code>" + HtmlEscape(name) + "</code></td><td class=\"num\" data-v=\"" +
         std::to_string(info.count) + "\"><span class=\"bar\" style=\"width:" +
         Num(120.0 * static_cast<double>(info.count) / static_cast<double>(top_count)) +
         "px\"></span>" + std::to_string(info.count) + "</td><td><code>" +
         HtmlEscape(info.example) + "</code></td></tr>\n";
  }
  h += "</tbody></table></section>\n";

  // Denials by kind and by target.
  h += "<section><h2>Denials by kind</h2>\n<table class=\"sortable\" id=\"denials-by-kind\">"
       "<thead><tr><th>kind</th><th class=\"num\">denials</th></tr></thead><tbody>\n";
  for (const auto& [kind, info] : TopN(st.denial_kinds, 16)) {
    h += "<tr><td>" + HtmlEscape(kind) + "</td><td class=\"num\">" + std::to_string(info.count) +
         "</td></tr>\n";
  }
  h += "</tbody></table></section>\n";
  const auto targets = TopN(st.targets, options_.top_n);
  const std::size_t top_target = targets.empty() ? 1 : targets.front().second.count;
  h += "<section><h2>Denials by target</h2>\n<table class=\"sortable\" id=\"denials-by-target\">"
       "<thead><tr><th>target</th><th>kind</th><th>access</th><th>evidence</th>"
       "<th class=\"num\">denials</th></tr></thead><tbody>\n";
  for (const auto& [key, info] : targets) {
    h += "<tr><td class=\"code\">" + HtmlEscape(key.second) + "</td><td>" + HtmlEscape(key.first) +
         "</td><td>" + HtmlEscape(info.access) + "</td><td>" + HtmlEscape(info.source) +
         "</td><td class=\"num\" data-v=\"" + std::to_string(info.count) +
         "\"><span class=\"bar deny\" style=\"width:" +
         Num(120.0 * static_cast<double>(info.count) / static_cast<double>(top_target)) +
         "px\"></span>" + std::to_string(info.count) + "</td></tr>\n";
  }
  h += "</tbody></table></section>\n</main>\n<script>" + std::string(kScript) +
       "</script>\n</body>\n</html>\n";
  return h;
}

}  // namespace stockade::audit::report
