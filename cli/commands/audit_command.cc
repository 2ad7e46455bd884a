// `stockade audit query|export|verify|tail`: reading the audit trail the service recorded.
//   query  [filters] [--json|--csv] [--limit N]       a table, a JSON array or CSV
//   export --format jsonl|csv|ocsf [--output FILE]    for SIEMs and archives
//   verify [--json]                                   the hash chain, seals and archives; exit 7
//                                                     names the first broken event
//   tail   [-n N] [--follow] [filters] [--json]       the latest events, then new ones
// Every command takes --store FILE (default <state-dir>/audit/audit.db). The store is readable
// by the service's account only (root / administrators). See docs/audit-events.md.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <type_traits>

#include "audit/event.h"
#include "audit/export.h"
#include "audit/query.h"
#include "audit/store.h"
#include "audit/verify.h"
#include "cli/commands/command.h"
#include "cli/common/exit_codes.h"
#include "cli/common/output.h"
#include "core/paths/locations.h"

namespace stockade::cli {

namespace {

constexpr std::string_view kProgram = "stockade";

struct Selection {
  std::string store;
  std::string since, until, session, identity, workspace, image, kind;
};

void AddSelection(CLI::App* cmd, Selection& s) {
  cmd->add_option("--store", s.store, "Audit store file (default <state-dir>/audit/audit.db)");
  cmd->add_option("--since", s.since, "Events at or after this time (RFC 3339 or YYYY-MM-DD)");
  cmd->add_option("--until", s.until, "Events before this time (RFC 3339 or YYYY-MM-DD)");
  cmd->add_option("--session", s.session, "Only this session id");
  cmd->add_option("--identity", s.identity, "Only sessions of this identity (offline|online)");
  cmd->add_option("--workspace", s.workspace, "Only sessions in this workspace (exact path)");
  cmd->add_option("--image", s.image, "Only process events of this image (path or file name)");
  cmd->add_option("--kind", s.kind, "Only session|process|denial|provisioning events");
}

bool HasFilter(const Selection& s) {
  return !(s.since.empty() && s.until.empty() && s.session.empty() && s.identity.empty() &&
           s.workspace.empty() && s.image.empty() && s.kind.empty());
}

Expected<audit::QueryFilter> ToFilter(const Selection& s) {
  audit::QueryFilter q;
  if (!s.since.empty()) {
    auto t = audit::ParseTime(s.since);
    if (!t.ok()) return t.error().Wrap("--since");
    q.since = *t;
  }
  if (!s.until.empty()) {
    auto t = audit::ParseTime(s.until);
    if (!t.ok()) return t.error().Wrap("--until");
    q.until = *t;
  }
  if (!s.kind.empty()) {
    auto k = audit::ParseEventKind(s.kind);
    if (!k.ok()) return k.error().Wrap("--kind");
    q.kind = *k;
  }
  q.session_id = s.session;
  q.identity = s.identity;
  q.workspace = s.workspace;
  q.image = s.image;
  return q;
}

std::string StorePath(const Selection& s, const GlobalOptions& globals) {
  if (!s.store.empty()) return s.store;
  return audit::DefaultStorePath(globals.state_dir.empty() ? paths::DefaultStateDir()
                                                           : globals.state_dir);
}

int Usage(const Error& error, bool json) {
  ReportError(kProgram, error, json);
  return kExitUsage;
}

// Text for a terminal: recorded strings come from sandboxed processes, so control characters
// (terminal escape sequences, newlines that would fake extra rows) are shown as \xHH, and bytes
// that are not UTF-8 as \xHH too.
std::string Printable(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  auto hex = [&out](unsigned char c) {
    static constexpr char kDigits[] = "0123456789abcdef";
    out += "\\x";
    out += kDigits[c >> 4];
    out += kDigits[c & 0x0F];
  };
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      hex(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Length of a well-formed UTF-8 sequence starting here, or 0.
    std::size_t n = 0;
    unsigned int cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    }
    bool ok = n != 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    ok = ok && !(n == 2 && cp < 0x80) && !(n == 3 && cp < 0x800) && !(n == 4 && cp < 0x10000) &&
         cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) && !(cp >= 0x80 && cp < 0xA0);
    if (!ok) {
      hex(c);
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string Argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a.find_first_of(" \t") == std::string::npos && !a.empty() ? a : "\"" + a + "\"";
  }
  return out;
}

std::string ExitText(const audit::ExitStatus& e) {
  std::string out;
  if (e.code) out += "code " + std::to_string(*e.code);
  if (e.signal)
    out += (out.empty() ? "" : ", ") + std::string("signal ") + std::to_string(*e.signal);
  if (e.timed_out) out += (out.empty() ? "" : ", ") + std::string("timed out");
  if (e.killed) out += (out.empty() ? "" : ", ") + std::string("killed");
  return out.empty() ? "status unknown" : out;
}

std::string Summary(const audit::Event& event) {
  return std::visit(
      [](const auto& b) -> std::string {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, audit::SessionEvent>) {
          if (b.phase == audit::SessionPhase::kStart) {
            return "start " + b.identity + " in " + b.workspace + " by " + b.invoking_user + ": " +
                   Argv(b.argv);
          }
          return "end (" + ExitText(b.exit) + ")";
        } else if constexpr (std::is_same_v<T, audit::ProcessEvent>) {
          if (b.phase == audit::ProcessPhase::kExec) {
            return "exec pid " + std::to_string(b.pid) + " (parent " +
                   std::to_string(b.parent_pid) + ") " + b.image + ": " + Argv(b.argv);
          }
          return "exit pid " + std::to_string(b.pid) + " " + b.image + " (" + ExitText(b.exit) +
                 ")";
        } else if constexpr (std::is_same_v<T, audit::DenialEvent>) {
          return "denied " + std::string(audit::DenialCategoryName(b.category)) + " " + b.target +
                 " (" + b.access + ") pid " + std::to_string(b.pid) + " [" +
                 std::string(audit::DenialSourceName(b.source)) + "]";
        } else {
          return "transaction " + std::to_string(b.transaction_id) + " " + b.action +
                 (b.step_index >= 0 ? " step " + std::to_string(b.step_index) + " " + b.step_kind
                                    : std::string()) +
                 (b.target.empty() ? "" : " " + b.target) + ": " + b.outcome;
        }
      },
      event.body);
}

void PrintTableHeader() {
  std::printf("%-8s %-30s %-12s %-13s %s\n", "SEQ", "TIME", "KIND", "SESSION", "WHAT");
}

void PrintTableRow(const audit::Event& e) {
  const std::string session = e.session_id.substr(0, 12);
  std::printf("%-8lld %-30s %-12s %-13s %s\n", static_cast<long long>(e.seq),
              audit::FormatTime(e.time).c_str(),
              std::string(audit::EventKindName(e.kind())).c_str(), Printable(session).c_str(),
              Printable(Summary(e)).c_str());
}

// --- query -----------------------------------------------------------------------------------

struct QueryArgs {
  Selection sel;
  bool json = false;
  bool csv = false;
  std::size_t limit = 0;
};

int RunQuery(const QueryArgs& args, const GlobalOptions& globals) {
  const bool json = args.json || globals.json;
  auto filter = ToFilter(args.sel);
  if (!filter.ok()) return Usage(filter.error(), json);
  filter->limit = args.limit;
  auto reader = audit::AuditReader::Open(StorePath(args.sel, globals));
  if (!reader.ok()) return ReportError(kProgram, reader.error(), json);
  bool first = true;
  std::size_t count = 0;
  if (json) {
    std::cout << "[";
  } else if (args.csv) {
    std::cout << audit::CsvHeader() << "\r\n";
  } else {
    PrintTableHeader();
  }
  Status s = reader->ForEach(*filter, [&](const audit::Event& e) {
    ++count;
    if (json) {
      std::cout << (first ? "\n" : ",\n") << audit::EventToJson(e);
      first = false;
    } else if (args.csv) {
      std::cout << audit::EventToCsv(e) << "\r\n";
    } else {
      PrintTableRow(e);
    }
    return OkStatus();
  });
  if (json) std::cout << (first ? "]\n" : "\n]\n");
  std::cout.flush();
  if (!s.ok()) return ReportError(kProgram, s.error(), false);
  if (!json && !args.csv) std::fprintf(stderr, "%zu events\n", count);
  return kExitOk;
}

// --- export ----------------------------------------------------------------------------------

struct ExportArgs {
  Selection sel;
  std::string format = "jsonl";
  std::string output;
};

int RunExport(const ExportArgs& args, const GlobalOptions& globals) {
  if (args.format != "jsonl" && args.format != "csv" && args.format != "ocsf") {
    return Usage(Error(ErrorCode::kInvalidArgument,
                       "--format " + args.format + ": expected jsonl, csv or ocsf"),
                 globals.json);
  }
  auto filter = ToFilter(args.sel);
  if (!filter.ok()) return Usage(filter.error(), globals.json);
  auto reader = audit::AuditReader::Open(StorePath(args.sel, globals));
  if (!reader.ok()) return ReportError(kProgram, reader.error(), globals.json);
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!args.output.empty()) {
    file.open(std::filesystem::path(std::u8string(args.output.begin(), args.output.end())),
              std::ios::binary | std::ios::trunc);
    if (!file) {
      return ReportError(kProgram,
                         Error(ErrorCode::kIo, "cannot write the export file " + args.output),
                         globals.json);
    }
    out = &file;
  }
  const char* eol = args.format == "csv" ? "\r\n" : "\n";
  if (args.format == "csv") *out << audit::CsvHeader() << eol;
  std::size_t written = 0;
  std::size_t skipped = 0;
  Status s = reader->ForEach(*filter, [&](const audit::Event& e) {
    if (args.format == "jsonl") {
      *out << audit::EventToJson(e) << eol;
    } else if (args.format == "csv") {
      *out << audit::EventToCsv(e) << eol;
    } else {
      auto ocsf = audit::EventToOcsf(e);
      if (!ocsf) {
        ++skipped;
        return OkStatus();
      }
      *out << *ocsf << eol;
    }
    ++written;
    if (!*out) return Status(Error(ErrorCode::kIo, "writing the export failed"));
    return OkStatus();
  });
  out->flush();
  if (!s.ok()) return ReportError(kProgram, s.error(), globals.json);
  if (!*out) {
    return ReportError(kProgram, Error(ErrorCode::kIo, "writing the export failed"), globals.json);
  }
  std::fprintf(stderr, "%zu events exported as %s", written, args.format.c_str());
  if (skipped != 0) {
    std::fprintf(stderr,
                 "; %zu events have no OCSF class among 1007/1001/4001 (provisioning, "
                 "other denials) and were left out",
                 skipped);
  }
  std::fprintf(stderr, "\n");
  return kExitOk;
}

// --- verify ----------------------------------------------------------------------------------

struct VerifyArgs {
  std::string store;
  bool json = false;
};

int RunVerify(const VerifyArgs& args, const GlobalOptions& globals) {
  const bool json = args.json || globals.json;
  Selection sel;
  sel.store = args.store;
  const std::string path = StorePath(sel, globals);
  auto result = audit::VerifyStore(path);
  if (!result.ok()) return ReportError(kProgram, result.error(), json);
  const audit::VerifyResult& r = *result;
  if (json) {
    nlohmann::json j;
    j["ok"] = r.ok();
    j["store"] = path;
    j["events_verified"] = r.events_verified;
    j["segments_verified"] = r.segments_verified;
    j["segments_expired"] = r.segments_expired;
    j["first_seq"] = r.first_seq;
    j["head_seq"] = r.head_seq;
    j["head_hash"] = r.head_hash;
    j["notes"] = r.notes;
    if (r.first_break) {
      j["first_break"] = {{"seq", r.first_break->seq},
                          {"kind", audit::BreakKindName(r.first_break->kind)},
                          {"file", r.first_break->file},
                          {"detail", r.first_break->detail}};
    } else {
      j["first_break"] = nullptr;
    }
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (r.ok()) {
    std::cout << path << ": OK: " << r.events_verified << " events in " << r.segments_verified
              << " segment(s) chain from the genesis to #" << r.head_seq << " (head hash "
              << r.head_hash << ")";
    if (r.segments_expired != 0) {
      std::cout << "; " << r.segments_expired << " expired segment(s) kept by their seals";
    }
    std::cout << "\n";
    for (const auto& note : r.notes) std::cout << "  note: " << note << "\n";
  } else {
    const audit::ChainBreak& b = *r.first_break;
    std::cout << path << ": BROKEN at event #" << b.seq << " (" << audit::BreakKindName(b.kind)
              << "): " << b.detail << "\n  in " << b.file << "\n  " << r.events_verified
              << " events before it verified\n";
  }
  return r.ok() ? kExitOk : kExitVerification;
}

// --- tail ------------------------------------------------------------------------------------

struct TailArgs {
  Selection sel;
  std::size_t lines = 10;
  bool follow = false;
  bool json = false;
  int interval_ms = 500;
};

int RunTail(const TailArgs& args, const GlobalOptions& globals) {
  const bool json = args.json || globals.json;
  auto filter = ToFilter(args.sel);
  if (!filter.ok()) return Usage(filter.error(), json);
  auto reader = audit::AuditReader::Open(StorePath(args.sel, globals));
  if (!reader.ok()) return ReportError(kProgram, reader.error(), json);
  auto print = [&](const audit::Event& e) {
    if (json) {
      std::cout << audit::EventToJson(e) << "\n";
    } else {
      PrintTableRow(e);
    }
  };
  // The last N: without filters, straight from the head; with them, the last N matches.
  std::int64_t last = 0;
  {
    auto head = reader->HeadSeq();
    if (!head.ok()) return ReportError(kProgram, head.error(), json);
    audit::QueryFilter first = *filter;
    if (!HasFilter(args.sel)) {
      first.after_seq = std::max<std::int64_t>(0, *head - static_cast<std::int64_t>(args.lines));
    }
    std::deque<audit::Event> ring;
    Status s = reader->ForEach(first, [&](const audit::Event& e) {
      ring.push_back(e);
      if (ring.size() > args.lines) ring.pop_front();
      return OkStatus();
    });
    if (!s.ok()) return ReportError(kProgram, s.error(), json);
    if (!json) PrintTableHeader();
    for (const auto& e : ring) print(e);
    last = std::max(*head, ring.empty() ? 0 : ring.back().seq);
    std::cout.flush();
  }
  while (args.follow) {
    std::this_thread::sleep_for(std::chrono::milliseconds(args.interval_ms));
    audit::QueryFilter next = *filter;
    next.after_seq = last;
    Status s = reader->ForEach(next, [&](const audit::Event& e) {
      print(e);
      return OkStatus();
    });
    if (!s.ok()) return ReportError(kProgram, s.error(), json);
    // Advance past non-matching events too, so they are not scanned again.
    auto head = reader->HeadSeq();
    if (!head.ok()) return ReportError(kProgram, head.error(), json);
    last = std::max(last, *head);
    std::cout.flush();
  }
  return kExitOk;
}

}  // namespace

void RegisterAuditCommands(CLI::App& parent, GlobalOptions& globals, int* exit_code) {
  CLI::App* audit = parent.add_subcommand(
      "audit", "Query, export, verify, tail and report the audit trail (run as root)");
  audit->require_subcommand(1);

  auto query = std::make_shared<QueryArgs>();
  CLI::App* q = audit->add_subcommand(
      "query",
      "List recorded events matching the filters, oldest first: a table, --json (an "
      "array of event objects) or --csv");
  AddSelection(q, query->sel);
  q->add_flag("--json", query->json, "An array of event objects (docs/audit-events.md)");
  q->add_flag("--csv", query->csv, "CSV with a header row (docs/audit-events.md)");
  q->add_option("--limit", query->limit, "At most this many events (0 = all)");
  q->callback([query, &globals, exit_code] {
    if (query->json && query->csv) {
      *exit_code =
          Usage(Error(ErrorCode::kInvalidArgument, "--json and --csv exclude each other"), false);
      return;
    }
    *exit_code = RunQuery(*query, globals);
  });

  auto exp = std::make_shared<ExportArgs>();
  CLI::App* e = audit->add_subcommand(
      "export",
      "Write the matching events as JSON lines, CSV or OCSF 1.1 (Process Activity "
      "1007, File System Activity 1001, Network Activity 4001)");
  AddSelection(e, exp->sel);
  e->add_option("--format", exp->format, "jsonl (default), csv or ocsf");
  e->add_option("--output,-o", exp->output, "Write to this file instead of stdout");
  e->callback([exp, &globals, exit_code] { *exit_code = RunExport(*exp, globals); });

  auto ver = std::make_shared<VerifyArgs>();
  CLI::App* v = audit->add_subcommand(
      "verify",
      "Check the hash chain of every event, the seals and the archives; exit 0 when "
      "intact, 7 naming the first broken event and what is wrong");
  v->add_option("--store", ver->store, "Audit store file (default <state-dir>/audit/audit.db)");
  v->add_flag("--json", ver->json, "The result as a JSON object");
  v->callback([ver, &globals, exit_code] { *exit_code = RunVerify(*ver, globals); });

  auto tail = std::make_shared<TailArgs>();
  CLI::App* t = audit->add_subcommand(
      "tail",
      "Show the latest matching events; with --follow, keep printing new ones as they "
      "are recorded (Ctrl-C stops)");
  AddSelection(t, tail->sel);
  t->add_option("-n,--lines", tail->lines, "How many of the latest events (default 10)");
  t->add_flag("-f,--follow", tail->follow, "Keep printing events as they are recorded");
  t->add_option("--interval-ms", tail->interval_ms, "Polling interval with --follow (500)")
      ->check(CLI::Range(10, 60000));
  t->add_flag("--json", tail->json, "One JSON object per line");
  t->callback([tail, &globals, exit_code] { *exit_code = RunTail(*tail, globals); });
}

}  // namespace stockade::cli
