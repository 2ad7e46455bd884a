#include "audit/syslog/rfc5424.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "audit/review/utf8.h"

namespace stockade::audit::syslog {

namespace {

std::string Nil(std::string_view field, std::size_t max) { return PrintUsAscii(field, max); }

std::string ArgvJson(const std::vector<std::string>& argv) {
  nlohmann::json array = nlohmann::json::array();
  for (const std::string& a : argv) array.push_back(review::ToValidUtf8(a));
  return array.dump();
}

std::string ExitText(const ExitStatus& exit) {
  std::string out;
  if (exit.code) out = "code " + std::to_string(*exit.code);
  if (exit.signal)
    out += (out.empty() ? "" : ", ") + std::string("signal ") + std::to_string(*exit.signal);
  if (exit.timed_out) out += (out.empty() ? "" : ", ") + std::string("timed out");
  if (exit.killed) out += (out.empty() ? "" : ", ") + std::string("killed");
  return out.empty() ? "unknown" : out;
}

void AddExit(std::vector<SdParam>& p, const ExitStatus& exit) {
  if (exit.code) p.push_back({"exit_code", std::to_string(*exit.code)});
  if (exit.signal) p.push_back({"exit_signal", std::to_string(*exit.signal)});
  p.push_back({"timed_out", exit.timed_out ? "true" : "false"});
  p.push_back({"killed", exit.killed ? "true" : "false"});
}

std::string TimeOrEmpty(TimeNs t) { return t == 0 ? "" : FormatTime(t); }

std::string Basename(std::string_view path) {
  const std::size_t slash = path.find_last_of("/\\");
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

std::string EscapeParamValue(std::string_view value) {
  const std::string valid = review::ToValidUtf8(value);
  std::string out;
  out.reserve(valid.size() + 8);
  for (char c : valid) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

std::string PrintUsAscii(std::string_view text, std::size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 33 && u <= 126) ? c : '_';
  }
  return out.empty() ? "-" : out;
}

std::string FormatTimestamp(TimeNs time) {
  // FormatTime gives "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; RFC 5424 allows 6 fractional digits.
  std::string t = FormatTime(time);
  const std::size_t dot = t.find('.');
  if (dot != std::string::npos && t.size() > dot + 7) t = t.substr(0, dot + 7) + "Z";
  return t;
}

std::string Format(const SyslogMessage& m) {
  const int facility = std::clamp(m.facility, 0, 23);
  const int severity = std::clamp(m.severity, 0, 7);
  std::string out = "<" + std::to_string(facility * 8 + severity) + ">1 ";
  out += (m.time == 0 ? "-" : FormatTimestamp(m.time)) + " ";
  out += Nil(m.hostname, 255) + " ";
  out += Nil(m.app_name, 48) + " ";
  out += Nil(m.procid, 128) + " ";
  out += Nil(m.msgid, 32) + " ";
  if (m.sd_id.empty()) {
    out += "-";
  } else {
    // SD-NAME: printable US-ASCII except '=', ' ', ']', '"'.
    auto sd_name = [](std::string_view name) {
      std::string n = PrintUsAscii(name, 32);
      for (char& c : n) {
        if (c == '=' || c == ']' || c == '"') c = '_';
      }
      return n;
    };
    out += "[" + sd_name(m.sd_id);
    for (const SdParam& p : m.params) {
      out += " " + sd_name(p.name) + "=\"" + EscapeParamValue(p.value) + "\"";
    }
    out += "]";
  }
  if (!m.msg.empty()) out += " " + review::ToValidUtf8(m.msg);
  return out;
}

std::string FrameOctetCounted(std::string_view message) {
  return std::to_string(message.size()) + " " + std::string(message);
}

SyslogMessage FromEvent(const Event& event, const SyslogOptions& options) {
  SyslogMessage m;
  m.facility = options.facility;
  m.time = event.time;
  m.hostname = event.host;
  m.app_name = options.app_name;
  m.procid = options.procid;
  m.msgid = std::string(EventKindName(event.kind()));
  m.sd_id = options.sd_id;
  std::vector<SdParam>& p = m.params;
  p.push_back({"seq", std::to_string(event.seq)});
  p.push_back({"version", std::to_string(event.version)});
  p.push_back({"time", FormatTime(event.time)});
  p.push_back({"session", event.session_id});
  p.push_back({"kind", m.msgid});
  std::string summary;
  if (const auto* s = std::get_if<SessionEvent>(&event.body)) {
    m.severity = 5;
    p.push_back({"phase", std::string(SessionPhaseName(s->phase))});
    p.push_back({"identity", s->identity});
    p.push_back({"workspace", s->workspace});
    p.push_back({"policy_hash", s->policy_hash});
    p.push_back({"invoking_uid", std::to_string(s->invoking_uid)});
    if (!s->invoking_sid.empty()) p.push_back({"invoking_sid", s->invoking_sid});
    p.push_back({"invoking_user", s->invoking_user});
    p.push_back({"argv", ArgvJson(s->argv)});
    p.push_back({"cwd", s->cwd});
    p.push_back({"start_time", TimeOrEmpty(s->start_time)});
    if (s->phase == SessionPhase::kEnd) {
      p.push_back({"end_time", TimeOrEmpty(s->end_time)});
      AddExit(p, s->exit);
    }
    summary = "session " + event.session_id + " " + std::string(SessionPhaseName(s->phase)) +
              " by " + s->invoking_user + " as " + s->identity + " in " + s->workspace +
              (s->phase == SessionPhase::kEnd ? ": " + ExitText(s->exit) : "");
  } else if (const auto* pr = std::get_if<ProcessEvent>(&event.body)) {
    m.severity = 6;
    p.push_back({"phase", std::string(ProcessPhaseName(pr->phase))});
    p.push_back({"process_guid", pr->process_guid});
    p.push_back({"pid", std::to_string(pr->pid)});
    p.push_back({"parent_guid", pr->parent_guid});
    p.push_back({"parent_pid", std::to_string(pr->parent_pid)});
    p.push_back({"image", pr->image});
    p.push_back({"argv", ArgvJson(pr->argv)});
    p.push_back({"cwd", pr->cwd});
    p.push_back({"uid", std::to_string(pr->uid)});
    p.push_back({"start_time", TimeOrEmpty(pr->start_time)});
    if (pr->phase == ProcessPhase::kExit) {
      p.push_back({"end_time", TimeOrEmpty(pr->end_time)});
      AddExit(p, pr->exit);
    }
    summary = std::string(ProcessPhaseName(pr->phase)) + " pid " + std::to_string(pr->pid) + " " +
              Basename(pr->image) +
              (pr->phase == ProcessPhase::kExit ? ": " + ExitText(pr->exit) : "");
  } else if (const auto* d = std::get_if<DenialEvent>(&event.body)) {
    m.severity = 4;
    p.push_back({"category", std::string(DenialCategoryName(d->category))});
    p.push_back({"target", d->target});
    p.push_back({"access", d->access});
    p.push_back({"pid", std::to_string(d->pid)});
    p.push_back({"process_guid", d->process_guid});
    p.push_back({"source", std::string(DenialSourceName(d->source))});
    p.push_back({"evidence", d->evidence});
    summary = "denied " + d->access + " " + d->target + " (pid " + std::to_string(d->pid) + ", " +
              std::string(DenialSourceName(d->source)) + ")";
  } else if (const auto* v = std::get_if<ProvisioningEvent>(&event.body)) {
    m.severity = 5;
    p.push_back({"transaction_id", std::to_string(v->transaction_id)});
    p.push_back({"action", v->action});
    p.push_back({"step_index", std::to_string(v->step_index)});
    p.push_back({"step_kind", v->step_kind});
    p.push_back({"target", v->target});
    p.push_back({"outcome", v->outcome});
    summary = "provisioning " + v->action + " #" + std::to_string(v->transaction_id) +
              (v->step_kind.empty() ? "" : " " + v->step_kind + " " + v->target) + ": " +
              v->outcome;
  }
  // Cut long values at a character boundary and say which were cut.
  std::string truncated;
  for (SdParam& param : p) {
    if (param.value.size() <= options.max_value_bytes) continue;
    param.value =
        std::string(review::Utf8Prefix(review::ToValidUtf8(param.value), options.max_value_bytes));
    truncated += (truncated.empty() ? "" : ",") + param.name;
  }
  if (!truncated.empty()) p.push_back({"truncated", truncated});
  // The summary is free text: one line, bounded.
  std::replace(summary.begin(), summary.end(), '\n', ' ');
  std::replace(summary.begin(), summary.end(), '\r', ' ');
  m.msg = std::string(review::Utf8Prefix(review::ToValidUtf8(summary), 512));
  return m;
}

std::string FormatEvent(const Event& event, const SyslogOptions& options) {
  return Format(FromEvent(event, options));
}

}  // namespace stockade::audit::syslog
