// The review subcommands of `stockade audit` that read the store and hand it to people or to
// other systems:
//   stockade audit report --html FILE [filters]        one self-contained HTML file
//   stockade audit forward --to HOST:PORT [--from-seq N] [--follow] [filters]
//                                                       RFC 5424 over TCP (RFC 6587 framing)
// They add themselves to the `audit` subcommand (created here when the query/export/verify
// command file has not created it yet). Reading is done with audit/query.h (read-only, safe
// while the service records); the work is audit/report and audit/syslog.
#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "audit/event.h"
#include "audit/query.h"
#include "audit/report/html_report.h"
#include "audit/store.h"
#include "audit/syslog/forwarder.h"
#include "audit/syslog/rfc5424.h"
#include "cli/commands/command.h"
#include "cli/common/exit_codes.h"
#include "cli/common/output.h"
#include "core/paths/locations.h"
#include "core/policy/explain.h"

namespace stockade::cli {

namespace {

constexpr std::string_view kProgram = "stockade";

// The selection flags shared by both commands (the same names as `audit query`).
struct Filters {
  std::string store;  // --store FILE; default <state_dir>/audit/audit.db
  std::string since, until, session, identity, workspace, image, kind;
};

void AddFilterOptions(CLI::App* cmd, Filters& f) {
  cmd->add_option("--store", f.store, "Audit store file (default <state-dir>/audit/audit.db)");
  cmd->add_option("--since", f.since, "Events at or after this time (RFC 3339 or YYYY-MM-DD)");
  cmd->add_option("--until", f.until, "Events before this time (RFC 3339 or YYYY-MM-DD)");
  cmd->add_option("--session", f.session, "Only this session id");
  cmd->add_option("--identity", f.identity, "Only sessions of this identity (offline|online)");
  cmd->add_option("--workspace", f.workspace, "Only sessions in this workspace (exact path)");
  cmd->add_option("--image", f.image, "Only process events of this image (path or file name)");
  cmd->add_option("--kind", f.kind, "Only session|process|denial|provisioning events");
}

Expected<audit::QueryFilter> ToFilter(const Filters& f) {
  audit::QueryFilter q;
  if (!f.since.empty()) {
    auto t = audit::ParseTime(f.since);
    if (!t.ok()) return t.error().Wrap("--since");
    q.since = *t;
  }
  if (!f.until.empty()) {
    auto t = audit::ParseTime(f.until);
    if (!t.ok()) return t.error().Wrap("--until");
    q.until = *t;
  }
  if (!f.kind.empty()) {
    auto k = audit::ParseEventKind(f.kind);
    if (!k.ok()) return k.error().Wrap("--kind");
    q.kind = *k;
  }
  q.session_id = f.session;
  q.identity = f.identity;
  q.workspace = f.workspace;
  q.image = f.image;
  return q;
}

std::string FilterText(const Filters& f) {
  std::string out;
  auto add = [&](std::string_view name, const std::string& v) {
    if (!v.empty()) out += (out.empty() ? "" : " ") + std::string(name) + "=" + v;
  };
  add("since", f.since);
  add("until", f.until);
  add("session", f.session);
  add("identity", f.identity);
  add("workspace", f.workspace);
  add("image", f.image);
  add("kind", f.kind);
  return out;
}

std::string StorePath(const Filters& f, const GlobalOptions& globals) {
  if (!f.store.empty()) return f.store;
  return audit::DefaultStorePath(globals.state_dir.empty() ? paths::DefaultStateDir()
                                                           : globals.state_dir);
}

int Fail(const Error& error, bool json) { return ReportError(kProgram, error, json); }

int Usage(const Error& error, bool json) {
  ReportError(kProgram, error, json);
  return kExitUsage;
}

// --- report ----------------------------------------------------------------------------------

struct ReportArgs {
  Filters filters;
  std::string html;
  std::string title;
};

int RunReport(const ReportArgs& args, const GlobalOptions& globals) {
  Expected<audit::QueryFilter> filter = ToFilter(args.filters);
  if (!filter.ok()) return Usage(filter.error(), globals.json);
  const std::string store = StorePath(args.filters, globals);
  Expected<audit::AuditReader> reader = audit::AuditReader::Open(store);
  if (!reader.ok()) return Fail(reader.error(), globals.json);

  audit::report::ReportOptions options;
  if (!args.title.empty()) options.title = args.title;
  options.store_path = store;
  options.filter_text = FilterText(args.filters);
  audit::report::ReportBuilder builder(options);
  Status read = reader->ForEach(*filter, [&](const audit::Event& e) {
    builder.Add(e);
    return OkStatus();
  });
  if (!read.ok()) return Fail(read.error().Wrap("reading " + store), globals.json);

  const std::string html = builder.Render();
  // Written next to the target and renamed, so a reader never sees half a report.
  const std::filesystem::path target(
      std::u8string(reinterpret_cast<const char8_t*>(args.html.data()), args.html.size()));
  std::filesystem::path temp = target;
  temp += ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(html.data(), static_cast<std::streamsize>(html.size()));
    out.close();
    if (!out) {
      return Fail(Error(ErrorCode::kIo, "writing the report " + args.html + ".tmp"), globals.json);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, target, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    return Fail(Error(ErrorCode::kIo, "renaming the report into " + args.html), globals.json);
  }
  const audit::report::ReportCounts c = builder.counts();
  if (globals.json) {
    std::cout
        << nlohmann::json{{"ok", true},          {"file", args.html},      {"bytes", html.size()},
                          {"events", c.events},  {"sessions", c.sessions}, {"spawns", c.spawns},
                          {"denials", c.denials}}
               .dump(2)
        << "\n";
  } else {
    std::cout << args.html << ": " << c.sessions << " sessions, " << c.spawns << " spawns, "
              << c.denials << " denials (" << c.events << " events, " << html.size() << " bytes)\n";
  }
  return kExitOk;
}

// --- forward ---------------------------------------------------------------------------------

struct ForwardArgs {
  Filters filters;
  std::string to;
  std::int64_t from_seq = 1;
  bool follow = false;
  int facility = 13;
  std::string sd_id = audit::syslog::kDefaultSdId;
  std::size_t queue = 65536;
  double flush_timeout_s = 30;
  double poll_s = 0.5;
};

int RunForward(const ForwardArgs& args, const GlobalOptions& globals) {
  const bool json = globals.json;
  Expected<audit::QueryFilter> filter = ToFilter(args.filters);
  if (!filter.ok()) return Usage(filter.error(), json);
  Expected<explain::Address> to = explain::ParseAddress(args.to);
  if (!to.ok()) return Usage(to.error().Wrap("--to"), json);
  if (args.from_seq < 1) {
    return Usage(Error(ErrorCode::kInvalidArgument, "--from-seq must be 1 or more"), json);
  }
  if (args.facility < 0 || args.facility > 23) {
    return Usage(Error(ErrorCode::kInvalidArgument, "--facility must be 0-23"), json);
  }
  const std::string store = StorePath(args.filters, globals);
  Expected<audit::AuditReader> reader = audit::AuditReader::Open(store);
  if (!reader.ok()) return Fail(reader.error(), json);

  audit::syslog::ForwarderOptions fo;
  fo.host = to->host;
  fo.port = to->port;
  fo.queue_capacity = args.queue;
  auto forwarder = audit::syslog::Forwarder::Start(fo);
  if (!forwarder.ok()) return Fail(forwarder.error(), json);
  audit::syslog::SyslogOptions so;
  so.facility = args.facility;
  so.sd_id = args.sd_id;

  // The store is durable, so a full queue just waits: nothing is dropped on this path.
  constexpr auto kNoLimit = std::chrono::hours(24 * 365);
  std::vector<std::int64_t> seqs;  // in the order queued == the order confirmed
  audit::QueryFilter q = *filter;
  q.after_seq = args.from_seq - 1;
  std::size_t reported = 0;
  while (true) {
    // Read the head first: every event up to it is committed, so after this pass the next one
    // can start after it even when the filters skipped the newest events.
    Expected<std::int64_t> head = reader->HeadSeq();
    Status read = reader->ForEach(q, [&](const audit::Event& e) -> Status {
      STOCKADE_RETURN_IF_ERROR((*forwarder)->Enqueue(audit::syslog::FormatEvent(e, so), kNoLimit));
      seqs.push_back(e.seq);
      return OkStatus();
    });
    if (!read.ok()) return Fail(read.error().Wrap("reading " + store), json);
    if (!seqs.empty()) q.after_seq = std::max(q.after_seq, seqs.back());
    if (head.ok()) q.after_seq = std::max(q.after_seq, *head);
    if (!args.follow) break;
    // In --follow mode the process runs until it is stopped: say on stderr how far delivery
    // has got, so that a restart knows its --from-seq.
    const auto confirmed = static_cast<std::size_t>((*forwarder)->Stats().confirmed);
    if (confirmed > reported && confirmed <= seqs.size()) {
      std::cerr << "stockade: forwarded through seq " << seqs[confirmed - 1]
                << " (resume with --from-seq " << seqs[confirmed - 1] + 1 << ")\n";
      reported = confirmed;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(args.poll_s));
  }
  const auto timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(args.flush_timeout_s * 1000));
  Status flushed = (*forwarder)->Flush(timeout);
  const audit::syslog::ForwarderStats stats = (*forwarder)->Stats();
  (*forwarder)->Stop();
  const std::size_t confirmed = static_cast<std::size_t>(stats.confirmed);
  const std::int64_t resume =
      confirmed < seqs.size() ? seqs[confirmed] : (seqs.empty() ? args.from_seq : seqs.back() + 1);
  if (json) {
    nlohmann::json out{{"ok", flushed.ok()},
                       {"to", args.to},
                       {"events", seqs.size()},
                       {"first_seq", seqs.empty() ? 0 : seqs.front()},
                       {"last_seq", seqs.empty() ? 0 : seqs.back()},
                       {"confirmed", stats.confirmed},
                       {"resent", stats.resent},
                       {"connects", stats.connects},
                       {"resume_from_seq", resume}};
    if (!flushed.ok()) out["error"] = flushed.error().ToString();
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "forwarded " << confirmed << " of " << seqs.size() << " events to " << args.to;
    if (!seqs.empty()) std::cout << " (seq " << seqs.front() << " to " << seqs.back() << ")";
    std::cout << "; " << stats.resent << " resent after "
              << (stats.connects > 0 ? stats.connects - 1 : 0)
              << " reconnects; next run: --from-seq " << resume << "\n";
    if (!flushed.ok()) ReportError(kProgram, flushed.error());
  }
  return flushed.ok() ? kExitOk : kExitUnavailable;
}

}  // namespace

void RegisterAuditReviewCommands(CLI::App& parent, GlobalOptions& globals, int* exit_code) {
  CLI::App* audit = nullptr;
  try {
    audit = parent.get_subcommand("audit");
  } catch (const CLI::OptionNotFound&) {
    audit = parent.add_subcommand("audit", "Query, export, verify and report the audit trail");
    audit->require_subcommand(1);
  }

  auto report = std::make_shared<ReportArgs>();
  CLI::App* r = audit->add_subcommand(
      "report",
      "Write one self-contained HTML file (no network access, viewable offline): sessions, a "
      "timeline of spawns and denials, top commands, denials by kind and by target.");
  r->add_option("--html", report->html, "The HTML file to write")->required();
  r->add_option("--title", report->title, "Title of the report");
  AddFilterOptions(r, report->filters);
  r->add_flag("--json", globals.json, "Print the summary (or the error) as JSON");
  r->callback([report, &globals, exit_code] { *exit_code = RunReport(*report, globals); });

  auto forward = std::make_shared<ForwardArgs>();
  CLI::App* f = audit->add_subcommand(
      "forward",
      "Send the store's events to a syslog receiver over TCP: RFC 5424 messages (structured data "
      "stockade@32473 holding the event's fields) with RFC 6587 octet-counting framing. Starts "
      "at --from-seq and, with --follow, keeps sending new events as the service records them. "
      "Reconnects when the receiver is away and sends again what it may not have received "
      "(duplicates carry the same seq). Prints the --from-seq to resume with. Exits 8 when "
      "events could not be delivered within --flush-timeout.");
  f->add_option("--to", forward->to, "Receiver HOST:PORT ([IPV6]:PORT)")->required();
  f->add_option("--from-seq", forward->from_seq, "First sequence number to send (default 1)");
  f->add_flag("--follow", forward->follow, "Keep running and send new events");
  f->add_option("--facility", forward->facility, "Syslog facility 0-23 (default 13, log audit)");
  f->add_option("--sd-id", forward->sd_id, "Structured-data ID (default stockade@32473)");
  f->add_option("--queue", forward->queue, "Messages held in memory at most (default 65536)");
  f->add_option("--flush-timeout", forward->flush_timeout_s,
                "Seconds to wait for delivery before giving up (default 30)");
  AddFilterOptions(f, forward->filters);
  f->add_flag("--json", globals.json, "Print the summary (or the error) as JSON");
  f->callback([forward, &globals, exit_code] { *exit_code = RunForward(*forward, globals); });
}

}  // namespace stockade::cli
