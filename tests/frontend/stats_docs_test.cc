// docs/stats.md against what a backend exports: every exported field is documented, every
// documented field is exported, and every field shows in both the JSON and the Prometheus text.
//
// The backend has one tier of every kind (examples/all-tiers.toml: dram, numa with emulated
// latency, compressed, pmem) and has seen stores, loads and invalidations, so the per-kind and
// probe fields are all there.
//
// How docs/stats.md is read:
//   - A field table is a Markdown table whose header's first cell is `field`. Tables with other
//     headers (the Exports section's) are not field lists.
//   - A table belongs to the `##` section above it: "## Backend" holds top-level fields, a
//     heading naming `tiers[]` or `types[]` holds that list's item fields. A field table under
//     any other heading fails the test.
//   - A row documents every backticked name in its first cell ("`a`, `b`" documents both).
//   - A `kind` column, when the table has one, must match how the field is exported (counter,
//     gauge (Gauge and Real), text, list, histogram).
//   - Text fields named `<figure>_source` are documented by the section's paragraph that
//     spells `<name>_source`, for every documented <figure> of that section; they have no rows.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/backend_factory.h"
#include "frontend/config.h"
#include "frontend/stats_export.h"
#include "frontend/stats_service.h"
#include "placement/backend.h"
#include "tests/support/recording_sink.h"
#include "tests/support/test_pages.h"

namespace tierswap {
namespace {

using testing::FilledPage;
using testing::PageBuf;
using testing::TextPage;

// A field's place: "" for the top level, or the list its item belongs to ("tiers").
struct Field {
  std::string scope;
  std::string name;
  bool operator<(const Field& o) const {
    return scope != o.scope ? scope < o.scope : name < o.name;
  }
};

std::string Describe(const Field& f) { return f.scope.empty() ? f.name : f.scope + "[]." + f.name; }

// Every field an export names, by scope ("" or the list's name) and name, with its kind as the
// docs' tables spell it (a real is a gauge there).
std::map<Field, std::string> ExportedFields(const testing::RecordingSink& sink) {
  std::map<Field, std::string> out;
  auto add = [&](const std::string& scope, const testing::RecordingSink::Item& item) {
    for (const auto& [name, v] : item)
      out[Field{scope, name}] = v.kind == "real" ? "gauge" : v.kind;
  };
  add("", sink.top());
  for (const auto& [list, items] : sink.lists()) {
    out[Field{"", list}] = "list";
    for (const auto& item : items) add(list, item);
  }
  return out;
}

struct Docs {
  std::map<Field, std::string> fields;  // kind, or "" when the table has no kind column
  std::set<std::string> source_rule;    // scopes whose section spells `<name>_source`
  std::vector<std::string> problems;
};

std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '|') {
      const size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return cells;
}

Docs ReadDocs(const std::string& path) {
  Docs docs;
  std::ifstream in(path);
  if (!in) {
    docs.problems.push_back("cannot read " + path);
    return docs;
  }
  const std::regex list_heading(R"(`([a-z_]+)\[\]`)");
  const std::regex backticked(R"(`([a-z0-9_]+)`)");
  std::string scope;           // current section's scope
  bool field_section = false;  // the section may hold field tables
  std::string heading;
  bool in_table = false, field_table = false;
  int kind_column = -1;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.rfind("## ", 0) == 0) {
      heading = line;
      std::smatch m;
      if (std::regex_search(line, m, list_heading)) {
        scope = m[1];
        field_section = true;
      } else {
        scope.clear();
        field_section = line == "## Backend";
      }
      continue;
    }
    if (field_section && line.find("`<name>_source`") != std::string::npos) {
      docs.source_rule.insert(scope);
    }
    if (line.empty() || line[0] != '|') {
      in_table = false;
      continue;
    }
    const std::vector<std::string> cells = Cells(line);
    if (!in_table) {  // the header row
      in_table = true;
      field_table = !cells.empty() && cells[0] == "field";
      kind_column = -1;
      for (size_t i = 0; i < cells.size(); ++i) {
        if (cells[i] == "kind") kind_column = static_cast<int>(i);
      }
      if (field_table && !field_section) {
        docs.problems.push_back(path + ":" + std::to_string(line_no) + ": a field table under '" +
                                heading +
                                "', which is neither \"## Backend\" nor a list's section");
      }
      continue;
    }
    if (!field_table || line.rfind("|---", 0) == 0 || cells.empty()) continue;
    const std::string kind =
        kind_column >= 0 && kind_column < int(cells.size()) ? cells[kind_column] : "";
    const std::string& first = cells[0];
    bool any = false;
    for (auto it = std::sregex_iterator(first.begin(), first.end(), backticked);
         it != std::sregex_iterator(); ++it) {
      docs.fields[Field{scope, (*it)[1]}] = kind;
      any = true;
    }
    if (!any) {
      docs.problems.push_back(path + ":" + std::to_string(line_no) +
                              ": a field row without a backticked name: " + line);
    }
  }
  return docs;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The Prometheus spelling of a field name (docs/stats.md, "Exports"): base units.
std::string PrometheusName(std::string name) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"_ns", "_seconds"},
                                 {"_us", "_seconds"},
                                 {"_ms", "_seconds"},
                                 {"_mbps", "_bytes_per_second"}}) {
    if (EndsWith(name, from)) return name.substr(0, name.size() - from.size()) + to;
  }
  return name;
}

std::string Singular(const std::string& list) {
  return EndsWith(list, "s") ? list.substr(0, list.size() - 1) : list;
}

// One backend for all the cases (opening it probes four tiers).
class StatsDocsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* src = std::getenv("TIERSWAP_SOURCE_DIR");
    if (src == nullptr) {
      setup_error_ = new std::string("needs TIERSWAP_SOURCE_DIR (set by ctest)");
      return;
    }
    const std::string source_dir = src;
    auto config = Config::FromFile(source_dir + "/examples/all-tiers.toml");
    if (!config) {
      setup_error_ = new std::string(config.error().message);
      return;
    }
    auto backend = OpenBackend(*config);
    if (!backend) {
      setup_error_ = new std::string(backend.error().message);
      return;
    }
    backend_ = std::move(backend).value().release();
    // Traffic: more text pages than the first three tiers hold, reloads, a same-filled page,
    // invalidations, and a mover pass.
    std::string traffic = Traffic(*backend_);
    if (!traffic.empty()) {
      setup_error_ = new std::string(traffic);
      return;
    }
    testing::RecordingSink sink;
    backend_->ExportStats(sink);
    exported_ = new std::map<Field, std::string>(ExportedFields(sink));
    docs_ = new Docs(ReadDocs(source_dir + "/docs/stats.md"));
  }
  static void TearDownTestSuite() {
    delete backend_;
    delete exported_;
    delete docs_;
    delete setup_error_;
  }
  void SetUp() override {
    if (setup_error_ != nullptr) FAIL() << *setup_error_;
  }

  static std::string Traffic(Backend& b) {
    if (b.Init(0, 0) != Status::kOk || b.Init(3, 100000) != Status::kOk) return "init failed";
    for (uint64_t o = 0; o < 9000; ++o) {
      if (b.Store(0, o, TextPage(o).data()) != Status::kOk) {
        return "store " + std::to_string(o) + " was rejected";
      }
    }
    if (b.Store(3, 1, FilledPage(0).data()) != Status::kOk) return "same-filled store rejected";
    PageBuf out;
    for (uint64_t o = 0; o < 9000; o += 7) {
      if (b.Load(0, o, out.data()) != Status::kOk) return "load " + std::to_string(o) + " failed";
    }
    for (uint64_t o = 0; o < 100; ++o) b.InvalidatePage(0, o);
    b.Maintain();
    return "";
  }

  // Whether the exported `f` is documented: a row of its own, or the _source rule.
  static bool Documented(const Field& f) {
    if (docs_->fields.count(f) != 0) return true;
    const std::string suffix = "_source";
    if (!EndsWith(f.name, suffix) || docs_->source_rule.count(f.scope) == 0) return false;
    return docs_->fields.count(Field{f.scope, f.name.substr(0, f.name.size() - suffix.size())}) !=
           0;
  }

  static inline Backend* backend_ = nullptr;
  static inline std::map<Field, std::string>* exported_ = nullptr;
  static inline Docs* docs_ = nullptr;
  static inline std::string* setup_error_ = nullptr;
};

TEST_F(StatsDocsTest, DocsAreReadable) {
  EXPECT_TRUE(docs_->problems.empty()) << ::testing::PrintToString(docs_->problems);
  EXPECT_GT(docs_->fields.size(), 50u) << "docs/stats.md's field tables were not found";
  EXPECT_GT(exported_->size(), 50u);
}

TEST_F(StatsDocsTest, EveryExportedFieldIsDocumented) {
  std::vector<std::string> missing;
  for (const auto& [f, kind] : *exported_) {
    if (!Documented(f)) missing.push_back(Describe(f) + " (" + kind + ")");
  }
  EXPECT_TRUE(missing.empty()) << "exported but not in docs/stats.md: "
                               << ::testing::PrintToString(missing);
}

TEST_F(StatsDocsTest, EveryDocumentedFieldIsExported) {
  std::vector<std::string> missing;
  for (const auto& [f, kind] : docs_->fields) {
    if (exported_->count(f) == 0) missing.push_back(Describe(f));
  }
  EXPECT_TRUE(missing.empty()) << "in docs/stats.md but not exported: "
                               << ::testing::PrintToString(missing);
}

TEST_F(StatsDocsTest, DocumentedKindsMatchTheExport) {
  for (const auto& [f, doc_kind] : docs_->fields) {
    const auto it = exported_->find(f);
    if (doc_kind.empty() || it == exported_->end()) continue;
    EXPECT_EQ(doc_kind, it->second) << Describe(f);
  }
}

TEST_F(StatsDocsTest, EveryExportedFieldIsInTheJson) {
  const std::string json = StatsJson(*backend_);
  for (const auto& [f, kind] : *exported_) {
    EXPECT_NE(json.find("\"" + f.name + "\":"), std::string::npos) << Describe(f);
  }
}

TEST_F(StatsDocsTest, EveryExportedFieldIsInThePrometheusText) {
  const std::string text = StatsPrometheus(*backend_);
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  // Some sample line starts with `metric` and carries label `label` (any label: "").
  auto has_sample = [&](const std::string& metric, const std::string& label) {
    for (const std::string& l : lines) {
      if (l.empty() || l[0] == '#' || l.rfind(metric, 0) != 0) continue;
      if (label.empty() || l.find("{" + label + "=\"") != std::string::npos ||
          l.find("," + label + "=\"") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  auto has_type = [&](const std::string& family, const std::string& type) {
    for (const std::string& l : lines) {
      if (l == "# TYPE " + family + " " + type) return true;
    }
    return false;
  };
  for (const auto& [f, kind] : *exported_) {
    const std::string prefix = "tierswap_" + (f.scope.empty() ? "" : Singular(f.scope) + "_");
    const std::string key = f.scope.empty() ? "" : Singular(f.scope);
    const std::string family = prefix + PrometheusName(f.name);
    if (kind == "counter") {
      EXPECT_TRUE(has_type(family + "_total", "counter")) << Describe(f);
    } else if (kind == "gauge" && f.name == key) {
      EXPECT_TRUE(has_sample(prefix, key)) << Describe(f) << " is the label " << key;
    } else if (kind == "gauge") {
      EXPECT_TRUE(has_type(family, "gauge")) << Describe(f);
    } else if (kind == "histogram") {
      EXPECT_TRUE(has_type(family, "histogram")) << Describe(f);
    } else if (kind == "list") {
      EXPECT_TRUE(has_sample("tierswap_" + Singular(f.name) + "_", Singular(f.name)))
          << Describe(f);
    } else if (EndsWith(f.name, "_source")) {
      const std::string figure = prefix + PrometheusName(f.name.substr(0, f.name.size() - 7));
      EXPECT_TRUE(has_sample(figure + "{", "source")) << Describe(f);
    } else if (f.scope.empty()) {
      EXPECT_TRUE(has_sample("tierswap_info{", f.name)) << Describe(f);
    } else {
      EXPECT_TRUE(has_sample(prefix, f.name == "name" ? key : f.name)) << Describe(f);
    }
  }
}

}  // namespace
}  // namespace tierswap
