// Tests of StatsService: the HTTP listener scraped over loopback while stores and loads run
// (and its /metrics checked by promtool), the loopback rule, and the JSON-lines dump file.
#include "frontend/stats_service.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "frontend/backend_factory.h"
#include "frontend/config.h"
#include "frontend/http_client.h"
#include "frontend/prometheus_sink.h"
#include "tests/support/temp_file.h"
#include "tests/support/test_pages.h"

namespace tierswap {
namespace {

using testing::MakeDram;
using testing::PageBuf;
using testing::PatternPage;

std::unique_ptr<Backend> TwoTierBackend() {
  std::vector<std::unique_ptr<Tier>> tiers;
  tiers.push_back(MakeDram(64, "fast"));
  tiers.push_back(MakeDram(4096, "slow"));
  BackendOptions options;
  options.placement.probe_budget_ms = 0;
  auto b = Backend::Open(std::move(tiers), options);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return std::move(b).value();
}

// Sets an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

StatsConfig Listen(const std::string& address, bool allow_remote = false) {
  StatsConfig c;
  c.listen = address;
  c.allow_remote = allow_remote;
  return c;
}

// Runs `promtool check metrics` on `text`; returns its exit status and output.
struct PromtoolResult {
  int status = -1;
  std::string output;
};
PromtoolResult Promtool(const std::string& promtool, const std::string& text) {
  const auto input = testing::TempFile::Named("scrape");
  std::ofstream(input.path()) << text;
  const std::string cmd = "'" + promtool + "' check metrics < '" + input.path() + "' 2>&1";
  PromtoolResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) r.output.append(buf, n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string FindPromtool() {
  FILE* p = popen("command -v promtool", "r");
  if (p == nullptr) return "";
  char buf[512] = {};
  const size_t n = fread(buf, 1, sizeof(buf) - 1, p);
  pclose(p);
  std::string path(buf, n);
  while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
  return path;
}

// The value of an unlabelled sample `name` in exposition text; -1 when absent.
double SampleValue(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

// A backend with one tier of every kind, probed (so every label shape is in /metrics).
std::unique_ptr<Backend> AllTiersBackend() {
  const char* env = std::getenv("TIERSWAP_SOURCE_DIR");
  const std::string dir = env != nullptr && env[0] != '\0' ? env : TIERSWAP_TEST_SOURCE_DIR;
  auto config = Config::FromFile(dir + "/examples/all-tiers.toml");
  EXPECT_TRUE(config.ok()) << config.error().message;
  if (!config.ok()) return nullptr;
  auto b = OpenBackend(*config);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? std::move(b).value() : nullptr;
}

TEST(StatsServiceTest, ServesMetricsAndStatsJsonOverLoopbackWhileStoresAndLoadsRun) {
  const std::string promtool = FindPromtool();
  ASSERT_FALSE(promtool.empty())
      << "promtool (Debian package prometheus) is not installed; run scripts/setup.sh, which "
         "installs it";

  auto backend = AllTiersBackend();
  ASSERT_NE(backend, nullptr);
  ASSERT_EQ(backend->Init(0, 0), Status::kOk);
  ASSERT_EQ(backend->Init(1, 0), Status::kOk);
  auto service = StatsService::Start(*backend, Listen("127.0.0.1:0"));
  ASSERT_TRUE(service.ok()) << service.error().message;
  const int port = (*service)->port();
  ASSERT_GT(port, 0);

  // Two threads store and load (more pages than the fast tier holds) until the scrapes are done.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> mismatches{0};
  std::vector<std::thread> workers;
  for (unsigned type = 0; type < 2; ++type) {
    workers.emplace_back([&, type] {
      PageBuf out;
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const uint64_t offset = i % 200;
        const PageBuf page = PatternPage(offset * 2 + type);
        if (backend->Store(type, offset, page.data()) != Status::kOk) continue;
        if (backend->Load(type, offset, out.data()) != Status::kOk || out != page) ++mismatches;
        ops.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  while (ops.load() < 100) std::this_thread::yield();

  std::string metrics, json;
  for (int i = 0; i < 10; ++i) {
    auto m = HttpGet("127.0.0.1", port, "/metrics");
    ASSERT_TRUE(m) << "GET /metrics failed: " << m.error().message;
    EXPECT_EQ(m->status, 200);
    EXPECT_EQ(m->content_type, PrometheusSink::kContentType);
    metrics = m->body;
    auto j = HttpGet("127.0.0.1", port, "/stats.json");
    ASSERT_TRUE(j) << "GET /stats.json failed: " << j.error().message;
    EXPECT_EQ(j->status, 200);
    EXPECT_EQ(j->content_type, "application/json");
    json = j->body;
  }
  stop = true;
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(mismatches.load(), 0u);

  EXPECT_GT(SampleValue(metrics, "tierswap_succ_stores_total"), 0) << metrics;
  EXPECT_NE(metrics.find("tierswap_tier_stored_pages{tier=\"cxl\",kind=\"numa\"}"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("tierswap_tier_load_latency_seconds_bucket{tier=\"dram\",kind=\"dram\","
                         "le=\"+Inf\"}"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("tierswap_type_stored_pages{type=\"1\"}"), std::string::npos) << metrics;
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_NE(json.find("\"succ_stores\":"), std::string::npos) << json;

  const PromtoolResult lint = Promtool(promtool, metrics);
  std::printf("promtool check metrics: exit %d, %zu bytes of output%s%s\n", lint.status,
              lint.output.size(), lint.output.empty() ? "" : ":\n", lint.output.c_str());
  EXPECT_EQ(lint.status, 0) << lint.output << "\n--- scraped text ---\n" << metrics;
}

TEST(StatsServiceTest, OtherPathsAreNotFound) {
  auto backend = TwoTierBackend();
  auto service = StatsService::Start(*backend, Listen("127.0.0.1:0"));
  ASSERT_TRUE(service.ok()) << service.error().message;
  const int port = (*service)->port();
  auto r = HttpGet("127.0.0.1", port, "/");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("/metrics"), std::string::npos) << r->body;
  r = HttpGet("127.0.0.1", port, "/metrics/extra");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 404);
}

TEST(StatsServiceTest, RefusesNonLoopbackListenWithoutAllowRemote) {
  auto backend = TwoTierBackend();
  for (const char* address : {"0.0.0.0:9464", "192.0.2.7:9464", ":9464", "example.com:9464"}) {
    auto service = StatsService::Start(*backend, Listen(address));
    ASSERT_FALSE(service.ok()) << address;
    const std::string& m = service.error().message;
    EXPECT_NE(m.find(std::string("[stats]: key 'listen': \"") + address + "\""), std::string::npos)
        << m;
    EXPECT_NE(m.find("not a loopback address"), std::string::npos) << m;
    EXPECT_NE(m.find("allow_remote = true"), std::string::npos) << m;
  }
}

TEST(StatsServiceTest, AllowRemotePermitsAnyAddress) {
  auto backend = TwoTierBackend();
  auto service = StatsService::Start(*backend, Listen("0.0.0.0:0", /*allow_remote=*/true));
  ASSERT_TRUE(service.ok()) << service.error().message;
  auto r = HttpGet("127.0.0.1", (*service)->port(), "/metrics");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

TEST(StatsServiceTest, ListensOnIpv6LoopbackToo) {
  auto backend = TwoTierBackend();
  auto service = StatsService::Start(*backend, Listen("[::1]:0"));
  if (!service.ok() && service.error().message.find("cannot listen") != std::string::npos) {
    GTEST_SKIP() << "no IPv6 loopback here: " << service.error().message;
  }
  ASSERT_TRUE(service.ok()) << service.error().message;
  EXPECT_GT((*service)->port(), 0);
}

TEST(StatsServiceTest, LoopbackHostsAreRecognised) {
  for (const char* host :
       {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "10.0.0.1", "128.0.0.1", "", "::", "example.com",
                           "localhost.example.com", "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(StatsServiceTest, MalformedListenIsRefusedWithExample) {
  auto backend = TwoTierBackend();
  for (const char* address : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000"}) {
    auto service = StatsService::Start(*backend, Listen(address));
    ASSERT_FALSE(service.ok()) << address;
    EXPECT_NE(service.error().message.find("is not HOST:PORT (e.g. \"127.0.0.1:9464\")"),
              std::string::npos)
        << service.error().message;
  }
}

TEST(StatsServiceTest, PortInUseFailsWithReason) {
  auto backend = TwoTierBackend();
  auto first = StatsService::Start(*backend, Listen("127.0.0.1:0"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  const std::string address = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = StatsService::Start(*backend, Listen(address));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("key 'listen': \"" + address + "\": cannot listen there"),
            std::string::npos)
      << second.error().message;
}

TEST(StatsServiceTest, StartAndStopRightAwayReturns) {
  // A stop before the server's loop first polls must not be lost (the join would hang).
  auto backend = TwoTierBackend();
  for (int i = 0; i < 20; ++i) {
    auto service = StatsService::Start(*backend, Listen("127.0.0.1:0"));
    ASSERT_TRUE(service.ok()) << service.error().message;
  }
}

TEST(StatsServiceTest, NothingConfiguredStartsNothing) {
  auto backend = TwoTierBackend();
  auto service = StatsService::Start(*backend, StatsConfig{});
  ASSERT_TRUE(service.ok()) << service.error().message;
  EXPECT_EQ((*service)->port(), 0);
  EXPECT_EQ((*service)->dump_file(), "");
}

TEST(StatsServiceTest, DumpFileGetsTimestampedJsonLinesAndAFinalOneAtStop) {
  const auto file = testing::TempFile::Named("dump");
  auto backend = TwoTierBackend();
  ASSERT_EQ(backend->Init(0, 0), Status::kOk);
  StatsConfig config;
  config.dump_file = file.path();
  config.dump_interval_ms = 50;
  auto service = StatsService::Start(*backend, config);
  ASSERT_TRUE(service.ok()) << service.error().message;
  EXPECT_EQ((*service)->dump_interval_ms(), 50u);
  for (uint64_t o = 0; o < 10; ++o)
    ASSERT_EQ(backend->Store(0, o, PatternPage(o).data()), Status::kOk);
  // Wait for two interval lines (no bound on how long they take: a slow machine is slow).
  while (ReadLines(file.path()).size() < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (uint64_t o = 10; o < 15; ++o)
    ASSERT_EQ(backend->Store(0, o, PatternPage(o).data()), Status::kOk);
  (*service).reset();  // stops the service: one last line
  const std::vector<std::string> lines = ReadLines(file.path());
  ASSERT_GE(lines.size(), 3u);
  const std::regex shape(
      R"(^\{"ts":"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z","unix_ms":(\d+),"stats":\{.*\}\}$)");
  uint64_t previous = 0;
  for (const std::string& line : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, shape)) << line;
    const uint64_t unix_ms = std::stoull(m[8]);
    EXPECT_GE(unix_ms, previous);
    previous = unix_ms;
    EXPECT_EQ(std::stoull(m[7]), unix_ms % 1000) << "ts and unix_ms are the same instant";
    const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    EXPECT_EQ(std::stoi(m[1]), tm.tm_year + 1900) << line.substr(0, 40);
    EXPECT_EQ(std::stoi(m[6]), tm.tm_sec) << line.substr(0, 40);
  }
  EXPECT_NE(lines.back().find("\"succ_stores\":15,"), std::string::npos)
      << "the line written at stop has the final count: " << lines.back().substr(0, 200);
}

TEST(StatsServiceTest, EnvironmentOverridesDumpFileAndInterval) {
  const auto file = testing::TempFile::Named("env");
  ScopedEnv f("TIERSWAP_STATS_FILE", file.path().c_str());
  ScopedEnv i("TIERSWAP_STATS_INTERVAL", "0.05");
  auto backend = TwoTierBackend();
  StatsConfig config;
  config.dump_file = "/nonexistent-dir/never-opened.jsonl";
  config.dump_interval_ms = 60'000;
  auto service = StatsService::Start(*backend, config);
  ASSERT_TRUE(service.ok()) << service.error().message;
  EXPECT_EQ((*service)->dump_file(), file.path());
  EXPECT_EQ((*service)->dump_interval_ms(), 50u);
  while (ReadLines(file.path()).size() < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TEST(StatsServiceTest, BadIntervalInEnvironmentIsRefused) {
  const auto file = testing::TempFile::Named("bad-env");
  ScopedEnv f("TIERSWAP_STATS_FILE", file.path().c_str());
  auto backend = TwoTierBackend();
  for (const char* value : {"abc", "0", "0.001", "-1", "1e9", "2s", "nan"}) {
    ScopedEnv i("TIERSWAP_STATS_INTERVAL", value);
    auto service = StatsService::Start(*backend, StatsConfig{});
    ASSERT_FALSE(service.ok()) << value;
    EXPECT_NE(service.error().message.find(std::string("$TIERSWAP_STATS_INTERVAL = \"") + value +
                                           "\" is not a number of seconds from 0.01 to 86400"),
              std::string::npos)
        << service.error().message;
  }
}

TEST(StatsServiceTest, UnopenableDumpFileIsRefusedWithItsPath) {
  auto backend = TwoTierBackend();
  StatsConfig config;
  config.dump_file = "/nonexistent-dir/stats.jsonl";
  config.source = "my.toml";
  config.line = 12;
  config.dump_file_line = 14;
  auto service = StatsService::Start(*backend, config);
  ASSERT_FALSE(service.ok());
  EXPECT_EQ(service.error().message,
            "my.toml:14: [stats]: key 'dump_file': \"/nonexistent-dir/stats.jsonl\": cannot "
            "append statistics to it: its directory '/nonexistent-dir' is missing.");
}

// $TIERSWAP_STATS_FILE followed symlinks: a process run with it appended to whatever the link
// pointed at. The dump file is opened as tierswap's own, from the config and the environment.
TEST(StatsServiceTest, DumpFileThatIsASymlinkIsRefusedAndItsTargetUntouched) {
  const auto victim = testing::TempFile("precious\n", "victim", ".txt");
  const auto link = testing::TempFile::Named("dump-link");
  ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0) << std::strerror(errno);
  auto backend = TwoTierBackend();
  {
    ScopedEnv f("TIERSWAP_STATS_FILE", link.c_str());
    auto service = StatsService::Start(*backend, StatsConfig{});
    ASSERT_FALSE(service.ok());
    EXPECT_NE(service.error().message.find("$TIERSWAP_STATS_FILE = \"" + link.path() +
                                           "\": cannot append statistics to it: it is a "
                                           "symbolic link"),
              std::string::npos)
        << service.error().message;
  }
  StatsConfig config;
  config.dump_file = link.path();
  EXPECT_FALSE(StatsService::Start(*backend, config).ok());
  EXPECT_EQ(ReadLines(victim.path()), std::vector<std::string>{"precious"});
}

TEST(StatsServiceTest, DumpFileIsCreated0600AndLockedAndMustBeADump) {
  const auto file = testing::TempFile::Named("dump-owned");
  auto backend = TwoTierBackend();
  StatsConfig config;
  config.dump_file = file.path();
  config.dump_interval_ms = 86'400'000;
  {
    auto first = StatsService::Start(*backend, config);
    ASSERT_TRUE(first.ok()) << first.error().message;
    struct stat st;
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    auto second = StatsService::Start(*backend, config);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;
  }
  // Closed: its one line makes it a dump, which the next service appends to.
  ASSERT_EQ(ReadLines(file.path()).size(), 1u);
  { ASSERT_TRUE(StatsService::Start(*backend, config).ok()); }
  EXPECT_EQ(ReadLines(file.path()).size(), 2u);
  // A file that is not a dump is not appended to.
  const auto other = testing::TempFile("root:x:0:0::/root:/bin/sh\n", "not-a-dump", ".txt");
  ASSERT_EQ(chmod(other.c_str(), 0600), 0);
  config.dump_file = other.path();
  auto refused = StatsService::Start(*backend, config);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("do not start with"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(ReadLines(other.path()).size(), 1u);
}

TEST(StatsServiceTest, DumpIntervalOutOfRangeIsRefused) {
  const auto file = testing::TempFile::Named("interval");
  auto backend = TwoTierBackend();
  StatsConfig config;
  config.dump_file = file.path();
  config.dump_interval_ms = 0;
  auto service = StatsService::Start(*backend, config);
  ASSERT_FALSE(service.ok());
  EXPECT_NE(service.error().message.find("[stats]: key 'dump_interval_ms': 0 is out of range"),
            std::string::npos)
      << service.error().message;
}

}  // namespace
}  // namespace tierswap
