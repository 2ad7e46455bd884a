// Exports: JSONL and CSV parse back to the same events; OCSF output carries the attributes of
// the class it claims, checked against the table transcribed from the OCSF 1.1 schema
// (tests/data/audit/ocsf_1.1_classes.json).
#include "audit/export.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "audit/query.h"
#include "audit/store.h"
#include "tests/audit/audit_test_support.h"

namespace stockade::audit {
namespace {

using Json = nlohmann::json;

// Events as the store returns them (seq, time and host assigned), of every kind.
std::vector<Event> StoredEvents(int count) {
  testing::TempDir dir;
  const std::string path = dir.Utf8("audit.db");
  {
    auto store = Store::Open(testing::TestStoreOptions(path));
    EXPECT_TRUE(store.ok());
    std::mt19937_64 rng(31);
    for (int i = 0; i < count; ++i) {
      EXPECT_TRUE((*store)
                      ->RecordAsync(testing::RandomEventAny(rng, "sess-" + std::to_string(i % 5)))
                      .ok());
    }
    EXPECT_TRUE((*store)->Close().ok());
  }
  auto reader = AuditReader::Open(path);
  EXPECT_TRUE(reader.ok());
  auto events = reader->Query({});
  EXPECT_TRUE(events.ok());
  return *events;
}

TEST(AuditExportTest, JsonLinesParseBackToTheSameEvents) {
  const auto events = StoredEvents(400);
  ASSERT_EQ(events.size(), 400u);
  std::string jsonl;
  for (const auto& e : events) jsonl += EventToJson(e) + "\n";
  std::istringstream in(jsonl);
  std::string line;
  std::size_t i = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(i, events.size());
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto back = EventFromJson(line);
    ASSERT_TRUE(back.ok()) << back.error().ToString() << "\n" << line;
    EXPECT_EQ(*back, events[i]) << line;
    ++i;
  }
  EXPECT_EQ(i, events.size());
}

TEST(AuditExportTest, CsvParsesBackToTheSameEvents) {
  const auto events = StoredEvents(400);
  std::string csv = CsvHeader() + "\r\n";
  for (const auto& e : events) csv += EventToCsv(e) + "\r\n";
  auto records = ParseCsv(csv);
  ASSERT_TRUE(records.ok()) << records.error().ToString();
  ASSERT_EQ(records->size(), events.size() + 1);
  auto header = ParseCsv(CsvHeader());
  ASSERT_TRUE(header.ok());
  EXPECT_EQ((*records)[0], (*header)[0]);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto back = EventFromCsv((*records)[i + 1]);
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(*back, events[i]) << EventToCsv(events[i]);
  }
}

TEST(AuditExportTest, CsvDefusesFormulasAndKeepsTheValue) {
  Event e;
  e.seq = 1;
  e.time = 1;
  e.host = "=HYPERLINK(\"http://evil\")";
  DenialEvent d;
  d.category = DenialCategory::kFileWrite;
  d.target = "'quoted";
  d.access = "-write";
  d.source = DenialSource::kLandlock;
  d.evidence = "@SUM(1)";
  e.body = d;
  const std::string row = EventToCsv(e);
  auto records = ParseCsv(row);
  ASSERT_TRUE(records.ok());
  for (const auto& cell : (*records)[0]) {
    ASSERT_FALSE(!cell.empty() &&
                 (cell[0] == '=' || cell[0] == '@' || (cell[0] == '-' && cell != "-1")))
        << cell;
  }
  auto back = EventFromCsv((*records)[0]);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, e);
}

TEST(AuditExportTest, InvalidUtf8BecomesReplacementCharacterInJson) {
  Event e;
  e.seq = 1;
  e.time = 1;
  ProcessEvent p;
  p.argv = {
      std::string("a\xff"
                  "b")};
  e.body = p;
  const std::string json = EventToJson(e);
  auto back = EventFromJson(json);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<ProcessEvent>(back->body).argv[0],
            "a\xEF\xBF\xBD"
            "b");
}

TEST(AuditExportTest, ParseErrorsNameTheField) {
  auto r = EventFromJson(R"({"seq":1,"version":1,"time":"2026-01-01T00:00:00Z","host":"h",)"
                         R"("session_id":"s","kind":"denial","denial":{"category":"file_write"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context().find("denial.target"), std::string::npos) << r.error().context();
  EXPECT_FALSE(ParseCsv("a,\"b").ok());
}

// --- OCSF ------------------------------------------------------------------------------------

Json LoadTable() {
  std::ifstream in(std::string(STOCKADE_TEST_DATA_DIR) + "/audit/ocsf_1.1_classes.json");
  EXPECT_TRUE(in.good());
  return Json::parse(in);
}

// The OCSF type of a JSON value, as the table names it; integer_t only within 32 bits.
bool HasType(const Json& v, const std::string& type) {
  if (type == "string_t") return v.is_string();
  if (type == "object_t") return v.is_object();
  if (type == "boolean_t") return v.is_boolean();
  if (type == "integer_t") {
    return v.is_number_integer() && v.get<std::int64_t>() >= INT32_MIN &&
           v.get<std::int64_t>() <= INT32_MAX;
  }
  if (type == "long_t" || type == "timestamp_t") return v.is_number_integer();
  ADD_FAILURE() << "unknown type in the table: " << type;
  return false;
}

void CheckObject(const Json& table, const std::string& object_name, const Json& value,
                 const std::string& where) {
  ASSERT_TRUE(value.is_object()) << where;
  const Json& spec = table["objects"][object_name];
  ASSERT_TRUE(spec.is_object()) << "no table entry for object " << object_name;
  for (const auto& [attr, type] : spec["required"].items()) {
    ASSERT_TRUE(value.contains(attr)) << where << "." << attr << " is required";
    EXPECT_TRUE(HasType(value[attr], type)) << where << "." << attr << " is not " << type;
  }
  if (spec.contains("at_least_one")) {
    bool any = false;
    for (const auto& attr : spec["at_least_one"])
      any = any || value.contains(attr.get<std::string>());
    EXPECT_TRUE(any) << where << " has none of " << spec["at_least_one"].dump();
  }
  if (spec.contains("typed")) {
    for (const auto& [attr, type] : spec["typed"].items()) {
      if (value.contains(attr)) {
        EXPECT_TRUE(HasType(value[attr], type)) << where << "." << attr << " is not " << type;
      }
    }
  }
  if (spec.contains("objects")) {
    for (const auto& [attr, sub] : spec["objects"].items()) {
      if (value.contains(attr)) CheckObject(table, sub, value[attr], where + "." + attr);
    }
  }
}

TEST(AuditExportTest, OcsfEventsCarryTheRequiredAttributesOfTheirClass) {
  const Json table = LoadTable();
  const auto events = StoredEvents(600);
  std::map<int, int> per_class;
  int skipped = 0;
  for (const auto& e : events) {
    auto text = EventToOcsf(e);
    int expected_class = 0;
    if (std::holds_alternative<ProcessEvent>(e.body) ||
        std::holds_alternative<SessionEvent>(e.body)) {
      expected_class = 1007;
    } else if (const auto* d = std::get_if<DenialEvent>(&e.body)) {
      if (d->category == DenialCategory::kFileRead || d->category == DenialCategory::kFileWrite) {
        expected_class = 1001;
      } else if (d->category == DenialCategory::kNetwork) {
        expected_class = 4001;
      }
    }
    if (expected_class == 0) {
      EXPECT_FALSE(text.has_value()) << EventToJson(e);
      ++skipped;
      continue;
    }
    ASSERT_TRUE(text.has_value()) << EventToJson(e);
    EXPECT_EQ(text->find('\n'), std::string::npos);
    const Json j = Json::parse(*text);
    ASSERT_TRUE(j["class_uid"].is_number_integer());
    const int class_uid = j["class_uid"].get<int>();
    EXPECT_EQ(class_uid, expected_class);
    ++per_class[class_uid];
    const Json& spec = table["classes"][std::to_string(class_uid)];
    ASSERT_TRUE(spec.is_object());
    for (const auto& [attr, type] : table["base_required"].items()) {
      ASSERT_TRUE(j.contains(attr)) << attr << " missing: " << *text;
      EXPECT_TRUE(HasType(j[attr], type)) << attr << " is not " << type << ": " << *text;
    }
    for (const auto& [attr, type] : spec["required"].items()) {
      ASSERT_TRUE(j.contains(attr)) << attr << " missing: " << *text;
      EXPECT_TRUE(HasType(j[attr], type)) << attr << " is not " << type;
    }
    for (const auto& [attr, object] : spec["objects"].items()) {
      if (j.contains(attr)) CheckObject(table, object, j[attr], attr);
    }
    for (const auto& [attr, type] : table["class_typed"].items()) {
      if (j.contains(attr)) EXPECT_TRUE(HasType(j[attr], type)) << attr;
    }
    EXPECT_EQ(j["category_uid"], spec["category_uid"]);
    const int activity = j["activity_id"].get<int>();
    EXPECT_NE(std::find(spec["activity_ids"].begin(), spec["activity_ids"].end(), activity),
              spec["activity_ids"].end());
    EXPECT_EQ(j["type_uid"].get<std::int64_t>(), class_uid * 100LL + activity);
    const int severity = j["severity_id"].get<int>();
    EXPECT_NE(std::find(table["severity_ids"].begin(), table["severity_ids"].end(), severity),
              table["severity_ids"].end());
    EXPECT_EQ(j["metadata"]["version"], table["version"]);
    EXPECT_EQ(j["time"].get<std::int64_t>(), e.time / 1'000'000);
    EXPECT_EQ(j["unmapped"]["stockade_seq"].get<std::int64_t>(), e.seq);
  }
  EXPECT_GT(per_class[1007], 0);
  EXPECT_GT(per_class[1001], 0);
  EXPECT_GT(per_class[4001], 0);
  EXPECT_GT(skipped, 0);
}

TEST(AuditExportTest, OcsfNetworkDenialSplitsAddressAndPort) {
  Event e;
  e.seq = 9;
  e.time = 1'800'000'000'000'000'000LL;
  e.host = "h";
  DenialEvent d;
  d.category = DenialCategory::kNetwork;
  d.target = "[2001:db8::1]:8443";
  d.access = "connect tcp";
  d.source = DenialSource::kNflog;
  e.body = d;
  const Json j = Json::parse(*EventToOcsf(e));
  EXPECT_EQ(j["dst_endpoint"]["ip"], "2001:db8::1");
  EXPECT_EQ(j["dst_endpoint"]["port"], 8443);
  EXPECT_EQ(j["activity_id"], 5);
  EXPECT_EQ(j["status_id"], 2);
}

}  // namespace
}  // namespace stockade::audit
