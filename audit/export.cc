#include "audit/export.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>

#include "core/version.h"

namespace stockade::audit {

namespace {

using Json = nlohmann::json;

// JSON text must be UTF-8: invalid bytes become U+FFFD rather than failing the export.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json TimeJson(TimeNs t) { return t == 0 ? Json(nullptr) : Json(FormatTime(t)); }

Json ExitJson(const ExitStatus& e) {
  Json j;
  j["code"] = e.code ? Json(*e.code) : Json(nullptr);
  j["signal"] = e.signal ? Json(*e.signal) : Json(nullptr);
  j["timed_out"] = e.timed_out;
  j["killed"] = e.killed;
  return j;
}

Json BodyJson(const Event& event) {
  return std::visit(
      [](const auto& b) -> Json {
        using T = std::decay_t<decltype(b)>;
        Json j;
        if constexpr (std::is_same_v<T, SessionEvent>) {
          j["phase"] = SessionPhaseName(b.phase);
          j["identity"] = b.identity;
          j["workspace"] = b.workspace;
          j["policy_hash"] = b.policy_hash;
          j["invoking_uid"] = b.invoking_uid;
          j["invoking_sid"] = b.invoking_sid;
          j["invoking_user"] = b.invoking_user;
          j["argv"] = b.argv;
          j["cwd"] = b.cwd;
          j["start_time"] = TimeJson(b.start_time);
          j["end_time"] = TimeJson(b.end_time);
          j["exit"] = ExitJson(b.exit);
        } else if constexpr (std::is_same_v<T, ProcessEvent>) {
          j["phase"] = ProcessPhaseName(b.phase);
          j["process_guid"] = b.process_guid;
          j["pid"] = b.pid;
          j["parent_guid"] = b.parent_guid;
          j["parent_pid"] = b.parent_pid;
          j["image"] = b.image;
          j["argv"] = b.argv;
          j["cwd"] = b.cwd;
          j["uid"] = b.uid;
          j["start_time"] = TimeJson(b.start_time);
          j["end_time"] = TimeJson(b.end_time);
          j["exit"] = ExitJson(b.exit);
        } else if constexpr (std::is_same_v<T, DenialEvent>) {
          j["category"] = DenialCategoryName(b.category);
          j["target"] = b.target;
          j["access"] = b.access;
          j["pid"] = b.pid;
          j["process_guid"] = b.process_guid;
          j["source"] = DenialSourceName(b.source);
          j["evidence"] = b.evidence;
        } else {
          j["transaction_id"] = b.transaction_id;
          j["action"] = b.action;
          j["step_index"] = b.step_index;
          j["step_kind"] = b.step_kind;
          j["target"] = b.target;
          j["outcome"] = b.outcome;
        }
        return j;
      },
      event.body);
}

// Field readers for parsing back; each names the field it failed on.
class JsonFields {
 public:
  JsonFields(const Json& j, std::string where) : j_(j), where_(std::move(where)) {}

  Status Str(const char* name, std::string& out) const {
    auto it = j_.find(name);
    if (it == j_.end() || !it->is_string()) return Bad(name, "a string");
    out = it->get<std::string>();
    return OkStatus();
  }
  Status Int(const char* name, std::int64_t& out) const {
    auto it = j_.find(name);
    if (it == j_.end() || !it->is_number_integer()) return Bad(name, "an integer");
    out = it->get<std::int64_t>();
    return OkStatus();
  }
  Status Time(const char* name, TimeNs& out) const {
    auto it = j_.find(name);
    if (it != j_.end() && it->is_null()) {
      out = 0;
      return OkStatus();
    }
    if (it == j_.end() || !it->is_string()) return Bad(name, "an RFC 3339 time or null");
    auto t = ParseTime(it->get<std::string>());
    if (!t.ok()) return t.error().Wrap(where_ + "." + name);
    out = *t;
    return OkStatus();
  }
  Status Argv(const char* name, std::vector<std::string>& out) const {
    auto it = j_.find(name);
    if (it == j_.end() || !it->is_array()) return Bad(name, "an array of strings");
    out.clear();
    for (const auto& a : *it) {
      if (!a.is_string()) return Bad(name, "an array of strings");
      out.push_back(a.get<std::string>());
    }
    return OkStatus();
  }
  Status Exit(const char* name, ExitStatus& out) const {
    auto it = j_.find(name);
    if (it == j_.end() || !it->is_object()) return Bad(name, "an object");
    const Json& e = *it;
    out = ExitStatus{};
    for (const char* key : {"code", "signal"}) {
      auto v = e.find(key);
      if (v == e.end() || !(v->is_null() || v->is_number_integer())) {
        return Bad(name, "an object with integer-or-null code and signal");
      }
      if (!v->is_null()) {
        (std::string(key) == "code" ? out.code : out.signal) = v->get<std::int64_t>();
      }
    }
    for (const char* key : {"timed_out", "killed"}) {
      auto v = e.find(key);
      if (v == e.end() || !v->is_boolean()) {
        return Bad(name, "an object with boolean timed_out and killed");
      }
      (std::string(key) == "timed_out" ? out.timed_out : out.killed) = v->get<bool>();
    }
    return OkStatus();
  }

 private:
  Error Bad(const char* name, const char* expected) const {
    return Error(ErrorCode::kInvalidArgument,
                 "audit JSON: " + where_ + "." + name + " is missing or not " + expected);
  }
  const Json& j_;
  std::string where_;
};

// --- CSV ---

constexpr const char* kCsvColumns[] = {
    "seq",          "version",      "time",           "host",         "session_id",
    "kind",         "phase",        "identity",       "workspace",    "policy_hash",
    "invoking_uid", "invoking_sid", "invoking_user",  "process_guid", "pid",
    "parent_guid",  "parent_pid",   "image",          "argv",         "cwd",
    "uid",          "start_time",   "end_time",       "exit_code",    "exit_signal",
    "timed_out",    "killed",       "category",       "target",       "access",
    "source",       "evidence",     "transaction_id", "action",       "step_index",
    "step_kind",    "outcome"};
constexpr std::size_t kCsvColumnCount = std::size(kCsvColumns);

std::size_t Col(std::string_view name) {
  for (std::size_t i = 0; i < kCsvColumnCount; ++i) {
    if (name == kCsvColumns[i]) return i;
  }
  return kCsvColumnCount;  // unreachable for the names used below
}

std::string CsvQuote(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Text cells only: see the header for the formula-injection prefix.
std::string CsvText(const std::string& value) {
  if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' ||
                         value[0] == '\t' || value[0] == '\r' || value[0] == '\'')) {
    return "'" + value;
  }
  return value;
}

std::string UnCsvText(const std::string& cell) {
  return !cell.empty() && cell[0] == '\'' ? cell.substr(1) : cell;
}

std::string CsvTime(TimeNs t) { return t == 0 ? "" : FormatTime(t); }

class CsvRow {
 public:
  CsvRow() : cells_(kCsvColumnCount) {}
  void Set(std::string_view col, std::string value) { cells_[Col(col)] = std::move(value); }
  void Text(std::string_view col, const std::string& value) { Set(col, CsvText(value)); }
  void Num(std::string_view col, std::int64_t value) { Set(col, std::to_string(value)); }
  void Exit(const ExitStatus& e) {
    if (e.code) Num("exit_code", *e.code);
    if (e.signal) Num("exit_signal", *e.signal);
    Set("timed_out", e.timed_out ? "true" : "false");
    Set("killed", e.killed ? "true" : "false");
  }
  std::string Line() const {
    std::string out;
    for (std::size_t i = 0; i < cells_.size(); ++i) {
      if (i != 0) out += ',';
      out += CsvQuote(cells_[i]);
    }
    return out;
  }

 private:
  std::vector<std::string> cells_;
};

class CsvFields {
 public:
  explicit CsvFields(const std::vector<std::string>& f) : f_(f) {}
  const std::string& Raw(std::string_view col) const { return f_[Col(col)]; }
  Status Text(std::string_view col, std::string& out) const {
    out = UnCsvText(Raw(col));
    return OkStatus();
  }
  Status Int(std::string_view col, std::int64_t& out) const {
    const std::string& s = Raw(col);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return Bad(col, "an integer");
    return OkStatus();
  }
  Status OptInt(std::string_view col, std::optional<std::int64_t>& out) const {
    if (Raw(col).empty()) {
      out.reset();
      return OkStatus();
    }
    std::int64_t v = 0;
    STOCKADE_RETURN_IF_ERROR(Int(col, v));
    out = v;
    return OkStatus();
  }
  Status Time(std::string_view col, TimeNs& out) const {
    if (Raw(col).empty()) {
      out = 0;
      return OkStatus();
    }
    auto t = ParseTime(Raw(col));
    if (!t.ok()) return t.error().Wrap("audit CSV column " + std::string(col));
    out = *t;
    return OkStatus();
  }
  Status Bool(std::string_view col, bool& out) const {
    if (Raw(col) == "true") {
      out = true;
    } else if (Raw(col) == "false") {
      out = false;
    } else {
      return Bad(col, "true or false");
    }
    return OkStatus();
  }
  Status Argv(std::vector<std::string>& out) const {
    Json j = Json::parse(Raw("argv"), nullptr, false);
    if (j.is_discarded() || !j.is_array()) return Bad("argv", "a JSON array of strings");
    out.clear();
    for (const auto& a : j) {
      if (!a.is_string()) return Bad("argv", "a JSON array of strings");
      out.push_back(a.get<std::string>());
    }
    return OkStatus();
  }
  Status Exit(ExitStatus& e) const {
    STOCKADE_RETURN_IF_ERROR(OptInt("exit_code", e.code));
    STOCKADE_RETURN_IF_ERROR(OptInt("exit_signal", e.signal));
    STOCKADE_RETURN_IF_ERROR(Bool("timed_out", e.timed_out));
    return Bool("killed", e.killed);
  }

 private:
  static Error Bad(std::string_view col, const char* expected) {
    return Error(ErrorCode::kInvalidArgument,
                 "audit CSV column " + std::string(col) + " is not " + expected);
  }
  const std::vector<std::string>& f_;
};

// --- OCSF ---

std::int64_t Millis(TimeNs t) { return t / 1'000'000; }

std::string BaseName(const std::string& path) {
  const auto pos = path.find_last_of("/\\");
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    const bool quote = a.empty() || a.find_first_of(" \t\"'\\") != std::string::npos;
    if (!quote) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

Json OcsfBase(const Event& event, int class_uid, const char* class_name, int category_uid,
              const char* category_name, int activity_id, const char* activity_name,
              int severity_id, const char* severity) {
  Json j;
  j["class_uid"] = class_uid;
  j["class_name"] = class_name;
  j["category_uid"] = category_uid;
  j["category_name"] = category_name;
  j["activity_id"] = activity_id;
  j["activity_name"] = activity_name;
  j["type_uid"] = static_cast<std::int64_t>(class_uid) * 100 + activity_id;
  j["type_name"] = std::string(class_name) + ": " + activity_name;
  j["time"] = Millis(event.time);
  j["severity_id"] = severity_id;
  j["severity"] = severity;
  j["metadata"] = {
      {"version", kOcsfVersion},
      {"product", {{"name", "Stockade"}, {"vendor_name", "Stockade"}, {"version", kVersion}}},
      {"uid", std::to_string(event.seq)},
      {"correlation_uid", event.session_id},
      {"log_name", "stockade-audit"},
      {"original_time", FormatTime(event.time)}};
  j["device"] = {
      {"type_id", 0}, {"type", "Unknown"}, {"hostname", event.host}, {"name", event.host}};
  j["unmapped"] = {{"stockade_seq", event.seq},
                   {"stockade_session_id", event.session_id},
                   {"stockade_kind", EventKindName(event.kind())},
                   {"stockade_time_ns", event.time}};
  return j;
}

Json OcsfUser(std::int64_t uid, const std::string& sid, const std::string& name) {
  Json u = Json::object();
  if (!name.empty()) u["name"] = name;
  if (!sid.empty()) {
    u["uid"] = sid;
  } else if (uid >= 0) {
    u["uid"] = std::to_string(uid);
  }
  return u;
}

Json OcsfProcessFromProcess(const ProcessEvent& p) {
  Json proc;
  proc["pid"] = p.pid;
  proc["uid"] = p.process_guid;
  proc["name"] = BaseName(p.image);
  proc["cmd_line"] = JoinArgv(p.argv);
  proc["file"] = {
      {"path", p.image}, {"name", BaseName(p.image)}, {"type_id", 1}, {"type", "Regular File"}};
  if (!p.cwd.empty()) proc["working_directory"] = p.cwd;
  if (p.start_time != 0) proc["created_time"] = Millis(p.start_time);
  if (p.end_time != 0) proc["terminated_time"] = Millis(p.end_time);
  if (p.uid >= 0) proc["user"] = {{"uid", std::to_string(p.uid)}};
  if (!p.parent_guid.empty() || p.parent_pid != 0) {
    proc["parent_process"] = {{"pid", p.parent_pid}, {"uid", p.parent_guid}};
  }
  return proc;
}

}  // namespace

std::string EventToJson(const Event& event) {
  Json j;
  j["seq"] = event.seq;
  j["version"] = event.version;
  j["time"] = FormatTime(event.time);
  j["host"] = event.host;
  j["session_id"] = event.session_id;
  const std::string kind(EventKindName(event.kind()));
  j["kind"] = kind;
  j[kind] = BodyJson(event);
  return Dump(j);
}

Expected<Event> EventFromJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(ErrorCode::kInvalidArgument, "audit JSON: not a JSON object");
  }
  Event e;
  JsonFields top(j, "event");
  std::int64_t version = 0;
  TimeNs time = 0;
  std::string kind_name;
  STOCKADE_RETURN_IF_ERROR(top.Int("seq", e.seq));
  STOCKADE_RETURN_IF_ERROR(top.Int("version", version));
  STOCKADE_RETURN_IF_ERROR(top.Time("time", time));
  STOCKADE_RETURN_IF_ERROR(top.Str("host", e.host));
  STOCKADE_RETURN_IF_ERROR(top.Str("session_id", e.session_id));
  STOCKADE_RETURN_IF_ERROR(top.Str("kind", kind_name));
  e.version = static_cast<int>(version);
  e.time = time;
  auto kind = ParseEventKind(kind_name);
  if (!kind.ok()) return kind.error().Wrap("audit JSON");
  auto body_it = j.find(kind_name);
  if (body_it == j.end() || !body_it->is_object()) {
    return Error(ErrorCode::kInvalidArgument,
                 "audit JSON: event." + kind_name + " is missing or not an object");
  }
  JsonFields b(*body_it, "event." + kind_name);
  std::string text_value;
  switch (*kind) {
    case EventKind::kSession: {
      SessionEvent s;
      STOCKADE_RETURN_IF_ERROR(b.Str("phase", text_value));
      auto phase = ParseSessionPhase(text_value);
      if (!phase.ok()) return phase.error().Wrap("audit JSON");
      s.phase = *phase;
      STOCKADE_RETURN_IF_ERROR(b.Str("identity", s.identity));
      STOCKADE_RETURN_IF_ERROR(b.Str("workspace", s.workspace));
      STOCKADE_RETURN_IF_ERROR(b.Str("policy_hash", s.policy_hash));
      STOCKADE_RETURN_IF_ERROR(b.Int("invoking_uid", s.invoking_uid));
      STOCKADE_RETURN_IF_ERROR(b.Str("invoking_sid", s.invoking_sid));
      STOCKADE_RETURN_IF_ERROR(b.Str("invoking_user", s.invoking_user));
      STOCKADE_RETURN_IF_ERROR(b.Argv("argv", s.argv));
      STOCKADE_RETURN_IF_ERROR(b.Str("cwd", s.cwd));
      STOCKADE_RETURN_IF_ERROR(b.Time("start_time", s.start_time));
      STOCKADE_RETURN_IF_ERROR(b.Time("end_time", s.end_time));
      STOCKADE_RETURN_IF_ERROR(b.Exit("exit", s.exit));
      e.body = std::move(s);
      break;
    }
    case EventKind::kProcess: {
      ProcessEvent p;
      STOCKADE_RETURN_IF_ERROR(b.Str("phase", text_value));
      auto phase = ParseProcessPhase(text_value);
      if (!phase.ok()) return phase.error().Wrap("audit JSON");
      p.phase = *phase;
      STOCKADE_RETURN_IF_ERROR(b.Str("process_guid", p.process_guid));
      STOCKADE_RETURN_IF_ERROR(b.Int("pid", p.pid));
      STOCKADE_RETURN_IF_ERROR(b.Str("parent_guid", p.parent_guid));
      STOCKADE_RETURN_IF_ERROR(b.Int("parent_pid", p.parent_pid));
      STOCKADE_RETURN_IF_ERROR(b.Str("image", p.image));
      STOCKADE_RETURN_IF_ERROR(b.Argv("argv", p.argv));
      STOCKADE_RETURN_IF_ERROR(b.Str("cwd", p.cwd));
      STOCKADE_RETURN_IF_ERROR(b.Int("uid", p.uid));
      STOCKADE_RETURN_IF_ERROR(b.Time("start_time", p.start_time));
      STOCKADE_RETURN_IF_ERROR(b.Time("end_time", p.end_time));
      STOCKADE_RETURN_IF_ERROR(b.Exit("exit", p.exit));
      e.body = std::move(p);
      break;
    }
    case EventKind::kDenial: {
      DenialEvent d;
      STOCKADE_RETURN_IF_ERROR(b.Str("category", text_value));
      auto category = ParseDenialCategory(text_value);
      if (!category.ok()) return category.error().Wrap("audit JSON");
      d.category = *category;
      STOCKADE_RETURN_IF_ERROR(b.Str("target", d.target));
      STOCKADE_RETURN_IF_ERROR(b.Str("access", d.access));
      STOCKADE_RETURN_IF_ERROR(b.Int("pid", d.pid));
      STOCKADE_RETURN_IF_ERROR(b.Str("process_guid", d.process_guid));
      STOCKADE_RETURN_IF_ERROR(b.Str("source", text_value));
      auto source = ParseDenialSource(text_value);
      if (!source.ok()) return source.error().Wrap("audit JSON");
      d.source = *source;
      STOCKADE_RETURN_IF_ERROR(b.Str("evidence", d.evidence));
      e.body = std::move(d);
      break;
    }
    case EventKind::kProvisioning: {
      ProvisioningEvent p;
      STOCKADE_RETURN_IF_ERROR(b.Int("transaction_id", p.transaction_id));
      STOCKADE_RETURN_IF_ERROR(b.Str("action", p.action));
      STOCKADE_RETURN_IF_ERROR(b.Int("step_index", p.step_index));
      STOCKADE_RETURN_IF_ERROR(b.Str("step_kind", p.step_kind));
      STOCKADE_RETURN_IF_ERROR(b.Str("target", p.target));
      STOCKADE_RETURN_IF_ERROR(b.Str("outcome", p.outcome));
      e.body = std::move(p);
      break;
    }
  }
  return e;
}

std::string CsvHeader() {
  std::string out;
  for (std::size_t i = 0; i < kCsvColumnCount; ++i) {
    if (i != 0) out += ',';
    out += kCsvColumns[i];
  }
  return out;
}

std::string EventToCsv(const Event& event) {
  CsvRow row;
  row.Num("seq", event.seq);
  row.Num("version", event.version);
  row.Set("time", FormatTime(event.time));
  row.Text("host", event.host);
  row.Text("session_id", event.session_id);
  row.Set("kind", std::string(EventKindName(event.kind())));
  std::visit(
      [&row](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, SessionEvent>) {
          row.Set("phase", std::string(SessionPhaseName(b.phase)));
          row.Text("identity", b.identity);
          row.Text("workspace", b.workspace);
          row.Text("policy_hash", b.policy_hash);
          row.Num("invoking_uid", b.invoking_uid);
          row.Text("invoking_sid", b.invoking_sid);
          row.Text("invoking_user", b.invoking_user);
          row.Set("argv", Dump(Json(b.argv)));
          row.Text("cwd", b.cwd);
          row.Set("start_time", CsvTime(b.start_time));
          row.Set("end_time", CsvTime(b.end_time));
          row.Exit(b.exit);
        } else if constexpr (std::is_same_v<T, ProcessEvent>) {
          row.Set("phase", std::string(ProcessPhaseName(b.phase)));
          row.Text("process_guid", b.process_guid);
          row.Num("pid", b.pid);
          row.Text("parent_guid", b.parent_guid);
          row.Num("parent_pid", b.parent_pid);
          row.Text("image", b.image);
          row.Set("argv", Dump(Json(b.argv)));
          row.Text("cwd", b.cwd);
          row.Num("uid", b.uid);
          row.Set("start_time", CsvTime(b.start_time));
          row.Set("end_time", CsvTime(b.end_time));
          row.Exit(b.exit);
        } else if constexpr (std::is_same_v<T, DenialEvent>) {
          row.Set("category", std::string(DenialCategoryName(b.category)));
          row.Text("target", b.target);
          row.Text("access", b.access);
          row.Num("pid", b.pid);
          row.Text("process_guid", b.process_guid);
          row.Set("source", std::string(DenialSourceName(b.source)));
          row.Text("evidence", b.evidence);
        } else {
          row.Num("transaction_id", b.transaction_id);
          row.Text("action", b.action);
          row.Num("step_index", b.step_index);
          row.Text("step_kind", b.step_kind);
          row.Text("target", b.target);
          row.Text("outcome", b.outcome);
        }
      },
      event.body);
  return row.Line();
}

Expected<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  std::size_t i = 0;
  bool field_started = false;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && !field_started) {
      ++i;
      while (true) {
        if (i >= text.size()) {
          return Error(ErrorCode::kInvalidArgument, "CSV: unterminated quoted field in record " +
                                                        std::to_string(records.size() + 1));
        }
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += text[i++];
      }
      field_started = true;
      if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        return Error(ErrorCode::kInvalidArgument, "CSV: text after a closing quote in record " +
                                                      std::to_string(records.size() + 1));
      }
      continue;
    }
    if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      field_started = false;
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      record.push_back(std::move(field));
      field.clear();
      field_started = false;
      records.push_back(std::move(record));
      record.clear();
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      continue;
    }
    field += c;
    field_started = true;
    ++i;
  }
  if (field_started || !record.empty()) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  return records;
}

Expected<Event> EventFromCsv(const std::vector<std::string>& fields) {
  if (fields.size() != kCsvColumnCount) {
    return Error(ErrorCode::kInvalidArgument,
                 "audit CSV record has " + std::to_string(fields.size()) + " fields, expected " +
                     std::to_string(kCsvColumnCount));
  }
  CsvFields f(fields);
  Event e;
  std::int64_t version = 0;
  STOCKADE_RETURN_IF_ERROR(f.Int("seq", e.seq));
  STOCKADE_RETURN_IF_ERROR(f.Int("version", version));
  e.version = static_cast<int>(version);
  STOCKADE_RETURN_IF_ERROR(f.Time("time", e.time));
  STOCKADE_RETURN_IF_ERROR(f.Text("host", e.host));
  STOCKADE_RETURN_IF_ERROR(f.Text("session_id", e.session_id));
  auto kind = ParseEventKind(f.Raw("kind"));
  if (!kind.ok()) return kind.error().Wrap("audit CSV column kind");
  switch (*kind) {
    case EventKind::kSession: {
      SessionEvent s;
      auto phase = ParseSessionPhase(f.Raw("phase"));
      if (!phase.ok()) return phase.error().Wrap("audit CSV column phase");
      s.phase = *phase;
      STOCKADE_RETURN_IF_ERROR(f.Text("identity", s.identity));
      STOCKADE_RETURN_IF_ERROR(f.Text("workspace", s.workspace));
      STOCKADE_RETURN_IF_ERROR(f.Text("policy_hash", s.policy_hash));
      STOCKADE_RETURN_IF_ERROR(f.Int("invoking_uid", s.invoking_uid));
      STOCKADE_RETURN_IF_ERROR(f.Text("invoking_sid", s.invoking_sid));
      STOCKADE_RETURN_IF_ERROR(f.Text("invoking_user", s.invoking_user));
      STOCKADE_RETURN_IF_ERROR(f.Argv(s.argv));
      STOCKADE_RETURN_IF_ERROR(f.Text("cwd", s.cwd));
      STOCKADE_RETURN_IF_ERROR(f.Time("start_time", s.start_time));
      STOCKADE_RETURN_IF_ERROR(f.Time("end_time", s.end_time));
      STOCKADE_RETURN_IF_ERROR(f.Exit(s.exit));
      e.body = std::move(s);
      break;
    }
    case EventKind::kProcess: {
      ProcessEvent p;
      auto phase = ParseProcessPhase(f.Raw("phase"));
      if (!phase.ok()) return phase.error().Wrap("audit CSV column phase");
      p.phase = *phase;
      STOCKADE_RETURN_IF_ERROR(f.Text("process_guid", p.process_guid));
      STOCKADE_RETURN_IF_ERROR(f.Int("pid", p.pid));
      STOCKADE_RETURN_IF_ERROR(f.Text("parent_guid", p.parent_guid));
      STOCKADE_RETURN_IF_ERROR(f.Int("parent_pid", p.parent_pid));
      STOCKADE_RETURN_IF_ERROR(f.Text("image", p.image));
      STOCKADE_RETURN_IF_ERROR(f.Argv(p.argv));
      STOCKADE_RETURN_IF_ERROR(f.Text("cwd", p.cwd));
      STOCKADE_RETURN_IF_ERROR(f.Int("uid", p.uid));
      STOCKADE_RETURN_IF_ERROR(f.Time("start_time", p.start_time));
      STOCKADE_RETURN_IF_ERROR(f.Time("end_time", p.end_time));
      STOCKADE_RETURN_IF_ERROR(f.Exit(p.exit));
      e.body = std::move(p);
      break;
    }
    case EventKind::kDenial: {
      DenialEvent d;
      auto category = ParseDenialCategory(f.Raw("category"));
      if (!category.ok()) return category.error().Wrap("audit CSV column category");
      d.category = *category;
      STOCKADE_RETURN_IF_ERROR(f.Text("target", d.target));
      STOCKADE_RETURN_IF_ERROR(f.Text("access", d.access));
      STOCKADE_RETURN_IF_ERROR(f.Int("pid", d.pid));
      STOCKADE_RETURN_IF_ERROR(f.Text("process_guid", d.process_guid));
      auto source = ParseDenialSource(f.Raw("source"));
      if (!source.ok()) return source.error().Wrap("audit CSV column source");
      d.source = *source;
      STOCKADE_RETURN_IF_ERROR(f.Text("evidence", d.evidence));
      e.body = std::move(d);
      break;
    }
    case EventKind::kProvisioning: {
      ProvisioningEvent p;
      STOCKADE_RETURN_IF_ERROR(f.Int("transaction_id", p.transaction_id));
      STOCKADE_RETURN_IF_ERROR(f.Text("action", p.action));
      STOCKADE_RETURN_IF_ERROR(f.Int("step_index", p.step_index));
      STOCKADE_RETURN_IF_ERROR(f.Text("step_kind", p.step_kind));
      STOCKADE_RETURN_IF_ERROR(f.Text("target", p.target));
      STOCKADE_RETURN_IF_ERROR(f.Text("outcome", p.outcome));
      e.body = std::move(p);
      break;
    }
  }
  return e;
}

std::optional<std::string> EventToOcsf(const Event& event) {
  if (const auto* p = std::get_if<ProcessEvent>(&event.body)) {
    const bool exec = p->phase == ProcessPhase::kExec;
    Json j = OcsfBase(event, 1007, "Process Activity", 1, "System Activity", exec ? 1 : 2,
                      exec ? "Launch" : "Terminate", 1, "Informational");
    j["process"] = OcsfProcessFromProcess(*p);
    // The actor of a launch is the parent; of an exit, the process itself (OCSF's reflexive
    // terminate).
    Json actor_proc =
        exec ? Json{{"pid", p->parent_pid}, {"uid", p->parent_guid}} : OcsfProcessFromProcess(*p);
    j["actor"] = {{"process", actor_proc}};
    if (p->uid >= 0) j["actor"]["user"] = {{"uid", std::to_string(p->uid)}};
    if (!exec && p->exit.code) j["exit_code"] = *p->exit.code;
    j["status_id"] = 1;
    j["status"] = "Success";
    j["message"] = std::string(exec ? "exec " : "exit ") + p->image;
    return Dump(j);
  }
  if (const auto* s = std::get_if<SessionEvent>(&event.body)) {
    const bool start = s->phase == SessionPhase::kStart;
    Json j = OcsfBase(event, 1007, "Process Activity", 1, "System Activity", start ? 1 : 2,
                      start ? "Launch" : "Terminate", 1, "Informational");
    Json proc;
    proc["name"] = s->argv.empty() ? std::string() : BaseName(s->argv.front());
    proc["cmd_line"] = JoinArgv(s->argv);
    if (!s->cwd.empty()) proc["working_directory"] = s->cwd;
    proc["user"] = {{"name", s->identity}};
    if (s->start_time != 0) proc["created_time"] = Millis(s->start_time);
    if (s->end_time != 0) proc["terminated_time"] = Millis(s->end_time);
    j["process"] = proc;
    j["actor"] = {{"user", OcsfUser(s->invoking_uid, s->invoking_sid, s->invoking_user)}};
    if (!start && s->exit.code) j["exit_code"] = *s->exit.code;
    j["status_id"] = 1;
    j["status"] = "Success";
    j["message"] = std::string("stockade run ") + (start ? "started" : "ended") + " (identity " +
                   s->identity + ", workspace " + s->workspace + ")";
    j["unmapped"]["stockade_workspace"] = s->workspace;
    j["unmapped"]["stockade_identity"] = s->identity;
    j["unmapped"]["stockade_policy_hash"] = s->policy_hash;
    return Dump(j);
  }
  if (const auto* d = std::get_if<DenialEvent>(&event.body)) {
    Json actor_proc = {{"pid", d->pid}, {"uid", d->process_guid}};
    if (d->category == DenialCategory::kFileRead || d->category == DenialCategory::kFileWrite) {
      const bool read = d->category == DenialCategory::kFileRead;
      Json j = OcsfBase(event, 1001, "File System Activity", 1, "System Activity", read ? 2 : 3,
                        read ? "Read" : "Update", 3, "Medium");
      j["file"] = {
          {"path", d->target}, {"name", BaseName(d->target)}, {"type_id", 0}, {"type", "Unknown"}};
      j["actor"] = {{"process", actor_proc}};
      j["status_id"] = 2;
      j["status"] = "Failure";
      j["disposition_id"] = 2;
      j["disposition"] = "Blocked";
      j["message"] = "denied " + d->access + " " + d->target;
      j["raw_data"] = d->evidence;
      j["unmapped"]["stockade_source"] = DenialSourceName(d->source);
      return Dump(j);
    }
    if (d->category == DenialCategory::kNetwork) {
      Json j = OcsfBase(event, 4001, "Network Activity", 4, "Network Activity", 5, "Refuse", 3,
                        "Medium");
      // target is "addr:port" or "[v6]:port".
      std::string ip = d->target;
      std::optional<std::int64_t> port;
      const auto colon = d->target.rfind(':');
      if (colon != std::string::npos) {
        std::int64_t value = 0;
        const std::string tail = d->target.substr(colon + 1);
        auto [ptr, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), value);
        if (ec == std::errc() && ptr == tail.data() + tail.size() && !tail.empty()) {
          port = value;
          ip = d->target.substr(0, colon);
        }
      }
      if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') {
        ip = ip.substr(1, ip.size() - 2);
      }
      Json dst = {{"ip", ip}};
      if (port) dst["port"] = *port;
      j["dst_endpoint"] = dst;
      j["src_endpoint"] = {{"hostname", event.host}};
      j["actor"] = {{"process", actor_proc}};
      j["connection_info"] = {{"direction_id", 2}, {"direction", "Outbound"}};
      j["status_id"] = 2;
      j["status"] = "Failure";
      j["disposition_id"] = 2;
      j["disposition"] = "Blocked";
      j["message"] = "denied " + d->access + " " + d->target;
      j["raw_data"] = d->evidence;
      j["unmapped"]["stockade_source"] = DenialSourceName(d->source);
      return Dump(j);
    }
  }
  return std::nullopt;
}

}  // namespace stockade::audit
