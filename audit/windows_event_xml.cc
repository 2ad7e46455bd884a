#include "audit/windows_event_xml.h"

#include <charconv>
#include <cstdio>
#include <memory>
#include <utility>

namespace stockade::audit {

namespace {

// ---- a small strict XML reader -------------------------------------------------------------

struct XmlElement {
  std::string name;                                             // local name (prefix removed)
  std::vector<std::pair<std::string, std::string>> attributes;  // local names, decoded values
  std::vector<std::unique_ptr<XmlElement>> children;
  std::string text;  // the character data directly inside, concatenated, decoded

  const XmlElement* Child(std::string_view local) const {
    for (const auto& c : children) {
      if (c->name == local) return c.get();
    }
    return nullptr;
  }
  const std::string* Attribute(std::string_view local) const {
    for (const auto& [k, v] : attributes) {
      if (k == local) return &v;
    }
    return nullptr;
  }
};

class XmlReader {
 public:
  explicit XmlReader(std::string_view in) : in_(in) {}

  Expected<std::unique_ptr<XmlElement>> Document() {
    if (Status s = SkipProlog(); !s.ok()) return s.error();
    if (!Peek('<')) return Fail("expected the root element");
    auto root = Element(1);
    if (!root.ok()) return root.error();
    if (Status s = SkipMisc(); !s.ok()) return s.error();
    if (pos_ != in_.size()) return Fail("content after the root element");
    return root;
  }

 private:
  Error Fail(const std::string& what) const {
    return Error(ErrorCode::kInvalidArgument,
                 "event XML: " + what + " at offset " + std::to_string(pos_));
  }
  bool Peek(char c) const { return pos_ < in_.size() && in_[pos_] == c; }
  bool StartsWith(std::string_view s) const { return in_.substr(pos_, s.size()) == s; }
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
  void SkipSpace() {
    while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
  }
  static bool IsNameChar(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || u >= 0x80;
  }

  Status SkipComment() {
    const std::size_t end = in_.find("-->", pos_ + 4);
    if (end == std::string_view::npos) return Fail("unterminated comment");
    pos_ = end + 3;
    return OkStatus();
  }

  // The XML declaration, comments and white space before the root; a DOCTYPE is refused.
  Status SkipProlog() {
    if (in_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte order mark
    if (StartsWith("<?xml")) {
      const std::size_t end = in_.find("?>", pos_);
      if (end == std::string_view::npos) return Fail("unterminated XML declaration");
      pos_ = end + 2;
    }
    return SkipMisc();
  }
  Status SkipMisc() {
    while (true) {
      SkipSpace();
      if (StartsWith("<!--")) {
        STOCKADE_RETURN_IF_ERROR(SkipComment());
        continue;
      }
      if (StartsWith("<!DOCTYPE") || StartsWith("<!doctype")) {
        return Fail("a DOCTYPE is not accepted");
      }
      if (StartsWith("<?")) return Fail("a processing instruction is not accepted");
      return OkStatus();
    }
  }

  Expected<std::string> Name() {
    const std::size_t start = pos_;
    while (pos_ < in_.size() && IsNameChar(in_[pos_])) ++pos_;
    if (pos_ == start) return Fail("expected a name");
    std::string_view name = in_.substr(start, pos_ - start);
    if (name.front() == '-' || name.front() == '.' ||
        (name.front() >= '0' && name.front() <= '9')) {
      pos_ = start;
      return Fail("a name may not start with '" + std::string(1, name.front()) + "'");
    }
    return std::string(name);
  }
  static std::string Local(const std::string& name) {
    const std::size_t colon = name.find(':');
    return colon == std::string::npos ? name : name.substr(colon + 1);
  }

  static void AppendUtf8(std::uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // At '&': decodes one entity or character reference into *out.
  Status Entity(std::string* out) {
    const std::size_t start = pos_;
    const std::size_t semi = in_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12) {
      return Fail("'&' without a terminated entity");
    }
    const std::string_view body = in_.substr(pos_ + 1, semi - pos_ - 1);
    pos_ = semi + 1;
    if (body == "lt") {
      out->push_back('<');
    } else if (body == "gt") {
      out->push_back('>');
    } else if (body == "amp") {
      out->push_back('&');
    } else if (body == "quot") {
      out->push_back('"');
    } else if (body == "apos") {
      out->push_back('\'');
    } else if (body.size() >= 2 && body[0] == '#') {
      const bool hex = body[1] == 'x';
      const std::string_view digits = body.substr(hex ? 2 : 1);
      std::uint32_t cp = 0;
      const auto [ptr, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || cp == 0 ||
          cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        pos_ = start;
        return Fail("invalid character reference '&" + std::string(body) + ";'");
      }
      AppendUtf8(cp, out);
    } else {
      pos_ = start;
      return Fail("unknown entity '&" + std::string(body) + ";'");
    }
    return OkStatus();
  }

  Expected<std::string> AttributeValue() {
    if (!Peek('"') && !Peek('\'')) return Fail("expected a quoted attribute value");
    const char quote = in_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= in_.size()) return Fail("unterminated attribute value");
      const char c = in_[pos_];
      if (c == quote) {
        ++pos_;
        return value;
      }
      if (c == '<') return Fail("'<' inside an attribute value");
      if (c == '&') {
        STOCKADE_RETURN_IF_ERROR(Entity(&value));
        continue;
      }
      value.push_back(c);
      ++pos_;
    }
  }

  // At '<' of a start tag.
  Expected<std::unique_ptr<XmlElement>> Element(int depth) {
    if (depth > kMaxEventXmlDepth) return Fail("elements nested too deeply");
    ++pos_;  // '<'
    auto element = std::make_unique<XmlElement>();
    auto qname = Name();
    if (!qname.ok()) return qname.error();
    element->name = Local(*qname);
    // Attributes.
    while (true) {
      const std::size_t before = pos_;
      SkipSpace();
      if (StartsWith("/>")) {
        pos_ += 2;
        return element;
      }
      if (Peek('>')) {
        ++pos_;
        break;
      }
      if (pos_ == before) return Fail("expected white space, '>' or '/>' in <" + *qname + ">");
      auto attr = Name();
      if (!attr.ok()) return attr.error();
      SkipSpace();
      if (!Peek('=')) return Fail("expected '=' after attribute " + *attr);
      ++pos_;
      SkipSpace();
      auto value = AttributeValue();
      if (!value.ok()) return value.error();
      for (const auto& [k, v] : element->attributes) {
        if (k == Local(*attr) && *attr != "xmlns") {
          return Fail("duplicate attribute " + *attr + " in <" + *qname + ">");
        }
      }
      element->attributes.emplace_back(Local(*attr), std::move(*value));
    }
    // Content.
    while (true) {
      if (pos_ >= in_.size()) return Fail("<" + *qname + "> is not closed");
      const char c = in_[pos_];
      if (c == '<') {
        if (StartsWith("</")) {
          pos_ += 2;
          const std::size_t name_at = pos_;
          auto end = Name();
          if (!end.ok()) return end.error();
          if (*end != *qname) {
            pos_ = name_at;
            return Fail("</" + *end + "> closes <" + *qname + ">");
          }
          SkipSpace();
          if (!Peek('>')) return Fail("expected '>' after </" + *end);
          ++pos_;
          return element;
        }
        if (StartsWith("<!--")) {
          STOCKADE_RETURN_IF_ERROR(SkipComment());
          continue;
        }
        if (StartsWith("<![CDATA[")) {
          const std::size_t end = in_.find("]]>", pos_ + 9);
          if (end == std::string_view::npos) return Fail("unterminated CDATA section");
          element->text.append(in_.substr(pos_ + 9, end - pos_ - 9));
          pos_ = end + 3;
          continue;
        }
        if (StartsWith("<!") || StartsWith("<?")) {
          return Fail("markup declaration or processing instruction inside <" + *qname + ">");
        }
        auto child = Element(depth + 1);
        if (!child.ok()) return child.error();
        element->children.push_back(std::move(*child));
        continue;
      }
      if (c == '&') {
        STOCKADE_RETURN_IF_ERROR(Entity(&element->text));
        continue;
      }
      if (c == '>' && pos_ >= 2 && in_.substr(pos_ - 2, 2) == "]]") {
        return Fail("']]>' in character data");
      }
      element->text.push_back(c);
      ++pos_;
    }
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Unsigned number, decimal or "0x" hex; false when it is not exactly that.
template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  text = Trim(text);
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, base);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Error Missing(const WindowsEventRecord& r, std::string_view field) {
  return Error(ErrorCode::kInvalidArgument, "event " + std::to_string(r.event_id) + " (record " +
                                                std::to_string(r.record_id) + "): no usable " +
                                                std::string(field));
}

// File access rights with their names as the 4656 documentation spells them, and the
// AccessList message codes ("%%4417") that stand for them.
struct AccessRight {
  std::uint32_t bit;
  const char* name;
  int code;  // %%code in AccessList; 0 for the generic rights (no code)
  bool modifies;
};
constexpr AccessRight kFileRights[] = {
    {0x1, "ReadData", 4416, false},
    {0x2, "WriteData", 4417, true},
    {0x4, "AppendData", 4418, true},
    {0x8, "ReadEA", 4419, false},
    {0x10, "WriteEA", 4420, true},
    {0x20, "Execute", 4421, false},
    {0x40, "DeleteChild", 4422, true},
    {0x80, "ReadAttributes", 4423, false},
    {0x100, "WriteAttributes", 4424, true},
    {0x10000, "DELETE", 1537, true},
    {0x20000, "READ_CONTROL", 1538, false},
    {0x40000, "WRITE_DAC", 1539, true},
    {0x80000, "WRITE_OWNER", 1540, true},
    {0x100000, "SYNCHRONIZE", 1541, false},
    {0x1000000, "ACCESS_SYS_SEC", 1542, false},
    {0x10000000, "GENERIC_ALL", 0, true},
    {0x20000000, "GENERIC_EXECUTE", 0, false},
    {0x40000000, "GENERIC_WRITE", 0, true},
    {0x80000000, "GENERIC_READ", 0, false},
};
// Rights that read data or metadata (SYNCHRONIZE and ACCESS_SYS_SEC decide nothing here).
constexpr std::uint32_t kReadingRights =
    0x1 | 0x8 | 0x20 | 0x80 | 0x20000 | 0x20000000 | 0x80000000;

// The mask named by an AccessList such as "%%4417 %%4418"; false for an unknown code.
bool MaskFromAccessList(std::string_view list, std::uint32_t* mask) {
  *mask = 0;
  bool any = false;
  while (true) {
    list = Trim(list);
    if (list.empty()) return any;
    if (list.substr(0, 2) != "%%") return false;
    list.remove_prefix(2);
    std::size_t n = 0;
    while (n < list.size() && list[n] >= '0' && list[n] <= '9') ++n;
    int code = 0;
    if (n == 0 || !ParseNumber(list.substr(0, n), &code)) return false;
    list.remove_prefix(n);
    bool known = false;
    for (const auto& r : kFileRights) {
      if (r.code == code) {
        *mask |= r.bit;
        known = true;
      }
    }
    if (!known) return false;
    any = true;
  }
}

Expected<WindowsDenialFact> FileDenial(const WindowsEventRecord& r, std::string_view xml) {
  if ((r.keywords & kKeywordAuditFailure) == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "event 4656 (record " + std::to_string(r.record_id) +
                     ") is not a failure audit (keywords lack 0x10000000000000): access was "
                     "granted, not denied");
  }
  WindowsDenialFact fact;
  DenialEvent& d = fact.denial;
  d.source = DenialSource::kWin4656;
  const std::string* object = r.Find("ObjectName");
  if (object == nullptr || object->empty() || *object == "-") return Missing(r, "ObjectName");
  d.target = *object;
  std::uint32_t mask = 0;
  const std::string* mask_text = r.Find("AccessMask");
  if (mask_text != nullptr && !Trim(*mask_text).empty() && *mask_text != "-") {
    if (!ParseNumber(*mask_text, &mask)) return Missing(r, "AccessMask '" + *mask_text + "'");
  } else {
    const std::string* list = r.Find("AccessList");
    if (list == nullptr || !MaskFromAccessList(*list, &mask)) {
      return Missing(r, "AccessMask or AccessList");
    }
  }
  const std::string* type = r.Find("ObjectType");
  const bool is_file = type != nullptr && *type == "File";
  std::uint32_t modifying = 0;
  for (const auto& right : kFileRights) {
    if (right.modifies) modifying |= right.bit;
  }
  if (!is_file) {
    d.category = DenialCategory::kOther;
  } else if ((mask & modifying) != 0) {
    d.category = DenialCategory::kFileWrite;
  } else if ((mask & kReadingRights) != 0) {
    d.category = DenialCategory::kFileRead;
  } else {
    d.category = DenialCategory::kOther;
  }
  d.access = FileAccessNames(mask);
  if (!is_file && type != nullptr) d.access = *type + " " + d.access;
  const std::string* pid = r.Find("ProcessId");
  std::uint64_t pid_value = 0;
  if (pid == nullptr || !ParseNumber(*pid, &pid_value)) return Missing(r, "ProcessId");
  d.pid = static_cast<std::int64_t>(pid_value);
  d.evidence = std::string(xml);
  if (const std::string* sid = r.Find("SubjectUserSid")) fact.subject_sid = *sid;
  if (const std::string* image = r.Find("ProcessName")) fact.process_image = *image;
  fact.time = r.time;
  fact.record_id = r.record_id;
  return fact;
}

Expected<WindowsDenialFact> NetworkDenial(const WindowsEventRecord& r, std::string_view xml) {
  WindowsDenialFact fact;
  DenialEvent& d = fact.denial;
  d.source = DenialSource::kWin5157;
  d.category = DenialCategory::kNetwork;
  const std::string* address = r.Find("DestAddress");
  const std::string* port = r.Find("DestPort");
  if (address == nullptr || Trim(*address).empty()) return Missing(r, "DestAddress");
  std::uint32_t port_value = 0;
  if (port == nullptr || !ParseNumber(*port, &port_value) || port_value > 65535) {
    return Missing(r, "DestPort");
  }
  const std::string addr(Trim(*address));
  d.target = (addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" +
             std::to_string(port_value);
  std::uint32_t protocol = 0;
  const std::string* protocol_text = r.Find("Protocol");
  if (protocol_text == nullptr || !ParseNumber(*protocol_text, &protocol)) {
    return Missing(r, "Protocol");
  }
  // %%14592 = Inbound, %%14593 = Outbound (the documented Direction values).
  const std::string* direction = r.Find("Direction");
  const bool inbound = direction != nullptr && Trim(*direction) == "%%14592";
  if (protocol == 6) {
    d.access = inbound ? "accept tcp" : "connect tcp";
  } else if (protocol == 17) {
    d.access = inbound ? "receive udp" : "send udp";
  } else {
    d.access =
        std::string(inbound ? "inbound" : "outbound") + " protocol " + std::to_string(protocol);
  }
  const std::string* pid = r.Find("ProcessID");
  std::uint64_t pid_value = 0;
  if (pid == nullptr || !ParseNumber(*pid, &pid_value)) return Missing(r, "ProcessID");
  d.pid = static_cast<std::int64_t>(pid_value);
  d.evidence = std::string(xml);
  if (const std::string* app = r.Find("Application")) fact.process_image = *app;
  fact.time = r.time;
  fact.record_id = r.record_id;
  return fact;
}

bool IsSidText(std::string_view sid) {
  if (sid.size() < 4 || sid.substr(0, 2) != "S-") return false;
  for (const char c : sid.substr(2)) {
    if (!((c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

const std::string* WindowsEventRecord::Find(std::string_view name) const {
  for (const auto& d : data) {
    if (d.name == name) return &d.value;
  }
  return nullptr;
}

Expected<WindowsEventRecord> ParseWindowsEventXml(std::string_view xml) {
  XmlReader reader(xml);
  auto root = reader.Document();
  if (!root.ok()) return root.error();
  const XmlElement& event = **root;
  if (event.name != "Event") {
    return Error(ErrorCode::kInvalidArgument,
                 "event XML: the root element is <" + event.name + ">, expected <Event>");
  }
  const XmlElement* system = event.Child("System");
  if (system == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "event XML: no <System> element");
  }
  WindowsEventRecord record;
  const XmlElement* id = system->Child("EventID");
  if (id == nullptr || !ParseNumber(id->text, &record.event_id)) {
    return Error(ErrorCode::kInvalidArgument,
                 "event XML: no <System><EventID> holding a number" +
                     (id != nullptr ? " (got '" + id->text + "')" : std::string()));
  }
  if (const XmlElement* p = system->Child("Provider")) {
    if (const std::string* name = p->Attribute("Name")) record.provider = *name;
  }
  if (const XmlElement* k = system->Child("Keywords")) {
    if (!ParseNumber(k->text, &record.keywords)) {
      return Error(ErrorCode::kInvalidArgument,
                   "event XML: <Keywords> is not a number: '" + k->text + "'");
    }
  }
  if (const XmlElement* t = system->Child("TimeCreated")) {
    if (const std::string* st = t->Attribute("SystemTime")) {
      record.system_time = *st;
      auto parsed = ParseTime(*st);
      if (!parsed.ok()) return parsed.error().Wrap("event XML: <TimeCreated SystemTime>");
      record.time = *parsed;
    }
  }
  if (const XmlElement* rid = system->Child("EventRecordID")) {
    if (!ParseNumber(rid->text, &record.record_id)) {
      return Error(ErrorCode::kInvalidArgument,
                   "event XML: <EventRecordID> is not a number: '" + rid->text + "'");
    }
  }
  if (const XmlElement* c = system->Child("Channel")) record.channel = std::string(Trim(c->text));
  if (const XmlElement* c = system->Child("Computer")) {
    record.computer = std::string(Trim(c->text));
  }
  if (const XmlElement* s = system->Child("Security")) {
    if (const std::string* uid = s->Attribute("UserID")) record.user_sid = *uid;
  }
  if (const XmlElement* e = system->Child("Execution")) {
    if (const std::string* p = e->Attribute("ProcessID")) {
      std::uint64_t pid = 0;
      if (ParseNumber(*p, &pid)) record.logging_pid = static_cast<std::int64_t>(pid);
    }
  }
  if (const XmlElement* data = event.Child("EventData")) {
    for (const auto& child : data->children) {
      if (child->name != "Data") continue;
      WindowsEventDatum datum;
      if (const std::string* name = child->Attribute("Name")) datum.name = *name;
      datum.value = child->text;
      record.data.push_back(std::move(datum));
    }
  }
  return record;
}

Expected<WindowsDenialFact> DenialFromWindowsEvent(const WindowsEventRecord& record,
                                                   std::string_view xml) {
  if (record.event_id == kEventHandleRequested) return FileDenial(record, xml);
  if (record.event_id == kEventWfpBlocked) return NetworkDenial(record, xml);
  return Error(ErrorCode::kInvalidArgument,
               "event " + std::to_string(record.event_id) +
                   " is not a denial Stockade reads (4656 failure, 5157)");
}

Expected<WindowsDenialFact> ParseWindowsDenialXml(std::string_view xml) {
  auto record = ParseWindowsEventXml(xml);
  if (!record.ok()) return record.error();
  return DenialFromWindowsEvent(*record, xml);
}

std::string FileAccessNames(std::uint32_t mask) {
  std::string out;
  std::uint32_t named = 0;
  for (const auto& right : kFileRights) {
    if ((mask & right.bit) == 0) continue;
    if (!out.empty()) out += "|";
    out += right.name;
    named |= right.bit;
  }
  if (const std::uint32_t rest = mask & ~named; rest != 0 || out.empty()) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned>(rest));
    if (!out.empty()) out += "|";
    out += buf;
  }
  return out;
}

Expected<std::string> SecurityDenialXPath(const std::vector<std::string>& sids, TimeNs since,
                                          TimeNs until) {
  if (sids.empty()) {
    return Error(ErrorCode::kInvalidArgument, "Security log query: no sandbox SID given");
  }
  std::string subject;
  for (const std::string& sid : sids) {
    if (!IsSidText(sid)) {
      return Error(ErrorCode::kInvalidArgument,
                   "Security log query: '" + sid + "' is not a SID in S-1-... form");
    }
    if (!subject.empty()) subject += " or ";
    subject += "Data[@Name='SubjectUserSid']='" + sid + "'";
  }
  std::string query = "*[((System[EventID=4656 and band(Keywords," +
                      std::to_string(kKeywordAuditFailure) + ")] and EventData[" + subject +
                      "]) or System[EventID=5157])";
  if (since > 0) {
    // The query language compares SystemTime as text: FormatTime's fixed-width UTC form sorts
    // like the log's own.
    query += " and System[TimeCreated[@SystemTime>='" + FormatTime(since) + "']]";
  }
  if (until > 0) {
    query += " and System[TimeCreated[@SystemTime<='" + FormatTime(until) + "']]";
  }
  query += "]";
  return query;
}

}  // namespace stockade::audit
