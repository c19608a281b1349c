// `tierswap stats`: the statistics of a running backend, read from its [stats] listener.
//
// A backend opened with `[stats] listen = "127.0.0.1:9464"` (a C handle, the frontswap plugin,
// or `tierswap replay`) serves GET /stats.json (frontend/stats_service.h). This command fetches
// it and prints the totals, the tiers and the types as tables; --watch refreshes them every N
// seconds (on a terminal, in place) and adds rates since the last refresh; --json prints the
// document as served, once, for scripts. docs/stats.md explains every field.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "frontend/cli/commands.h"
#include "frontend/cli/json_value.h"
#include "frontend/cli/progress.h"
#include "frontend/http_client.h"
#include "frontend/replay.h"

namespace tierswap {
namespace {

struct StatsArgs {
  std::string connect;
  double watch = 0;
  bool json = false;
  double timeout = 5;
};

struct HostPort {
  std::string host;  // without IPv6 brackets
  int port = 0;
};

// "host:port", "[v6]:port", with or without "http://"; false when `addr` is not of that form.
bool ParseAddress(const std::string& addr, HostPort* out) {
  std::string rest = addr;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) return false;
  std::string host = rest.substr(0, colon);
  const std::string port = rest.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) == 0 || std::stoi(port) > 65535) {
    return false;
  }
  // A bare IPv6 address needs brackets to be told from its port.
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return false;
  }
  if (host.find_first_of("/?#@ ") != std::string::npos) return false;
  out->host = host;
  out->port = std::stoi(port);
  return true;
}

// The document a listener serves is a few hundred KiB at most; an answer beyond this is not one.
constexpr size_t kMaxStatsBytes = size_t{16} << 20;

Result<std::string> FetchStats(const std::string& addr, double timeout_s) {
  HostPort hp;
  if (!ParseAddress(addr, &hp)) {
    return MakeError(Status::kInvalidArgument,
                     "'" + addr +
                         "' is not an address: give HOST:PORT, e.g. 127.0.0.1:9464 or "
                         "[::1]:9464.");
  }
  HttpGetLimits limits;
  limits.timeout_ms = int(timeout_s * 1000);
  limits.max_bytes = kMaxStatsBytes;
  Result<HttpResponse> res = HttpGet(hp.host, hp.port, "/stats.json", limits);
  if (!res) {
    return MakeError(Status::kIoError, "cannot read statistics from http://" + addr +
                                           "/stats.json: " + res.error().message +
                                           ". Is a backend running there with [stats] listen = \"" +
                                           addr + "\" in its config?");
  }
  if (res->status != 200) {
    std::string body = res->body.substr(0, res->body.find('\n'));
    if (body.size() > 200) body.resize(200);
    return MakeError(Status::kIoError, "http://" + addr + "/stats.json answered HTTP " +
                                           std::to_string(res->status) +
                                           (body.empty() ? std::string(".") : ": " + body));
  }
  return std::move(res->body);
}

std::string Count(const JsonValue& obj, const char* key) {
  const JsonValue* v = obj.Find(key);
  if (v == nullptr || !v->is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", v->number());
  return buf;
}

std::string BytesOf(const JsonValue& obj, const char* key) {
  const JsonValue* v = obj.Find(key);
  if (v == nullptr || !v->is_number()) return "-";
  return FormatBytes(static_cast<uint64_t>(v->number()));
}

// "p50 / p99" of a latency histogram member ({"p50":..,"p99":..}), or of the flat fields
// <name>_p50 and <name>_p99 that sinks without histograms write.
std::string Percentiles(const JsonValue& tier, const std::string& name) {
  double p50 = -1, p99 = -1, count = -1;
  if (const JsonValue* h = tier.Find(name); h != nullptr && h->is_object()) {
    p50 = h->NumberOr("p50", -1);
    p99 = h->NumberOr("p99", -1);
    count = h->NumberOr("count", -1);
  } else {
    p50 = tier.NumberOr(name + "_p50", -1);
    p99 = tier.NumberOr(name + "_p99", -1);
    count = tier.NumberOr(name + "_count", -1);
  }
  if (p50 < 0 || count == 0) return "-";
  return FormatNanos(p50) + " / " + FormatNanos(p99);
}

struct Totals {
  double loads = 0, stores = 0;
  std::chrono::steady_clock::time_point when;
};

std::string Rate(double now, double before, double seconds) {
  if (seconds <= 0) return "";
  return "  (" + ShortCount((now - before) / seconds) + "/s)";
}

std::string RenderStats(const JsonValue& s, const std::string& addr, const Totals* last,
                        const Totals& now) {
  std::string out;
  char when[64] = "";
  const std::time_t t = std::time(nullptr);
  std::strftime(when, sizeof(when), "%H:%M:%S", std::localtime(&t));
  out += std::string("tierswap statistics from ") + addr + " at " + when + "\n";

  const double seconds =
      last == nullptr ? 0 : std::chrono::duration<double>(now.when - last->when).count();
  auto rate = [&](double cur, double prev) {
    return last == nullptr ? std::string() : Rate(cur, prev, seconds);
  };
  std::vector<std::vector<std::string>> totals = {
      {"stored pages", Count(s, "stored_pages") + " (" + Count(s, "same_filled_pages") +
                           " same-filled, metadata " + BytesOf(s, "metadata_bytes") + ")"},
      {"loads", Count(s, "loads") + rate(now.loads, last ? last->loads : 0) + ", " +
                    Count(s, "load_misses") + " misses, " + Count(s, "load_errors") + " errors"},
      {"stores", Count(s, "succ_stores") + " accepted" + rate(now.stores, last ? last->stores : 0) +
                     ", " + Count(s, "failed_stores") + " rejected (no space " +
                     Count(s, "reject_no_space") + ", quota " + Count(s, "reject_quota") +
                     ", frozen " + Count(s, "reject_frozen") + ", poor compression " +
                     Count(s, "reject_poor_compression") + ")"},
      {"mover", Count(s, "mover_promotions") + " promotions, " + Count(s, "mover_demotions") +
                    " demotions, " + Count(s, "mover_evacuations") + " evacuations (" +
                    s.StringOr("placement_policy", "?") + " policy)"},
  };
  out += RenderTextTable(totals, "  ");

  if (const JsonValue* tiers = s.Find("tiers"); tiers != nullptr && tiers->is_array()) {
    std::vector<std::vector<std::string>> rows = {
        {"tier", "kind", "rank", "load cost (from)", "online", "capacity", "used", "stored pages",
         "loads", "stores", "load p50 / p99", "store p50 / p99", "promoted in/out",
         "demoted in/out"}};
    for (const JsonValue& t : tiers->array()) {
      const double cap = t.NumberOr("capacity_bytes", 0);
      const double used = t.NumberOr("used_bytes", 0);
      char pct[16] = "";
      if (cap > 0) std::snprintf(pct, sizeof(pct), " (%.0f%%)", 100 * used / cap);
      const double live = t.NumberOr("live_load_ns", 0);
      const std::string cost = (live > 0 ? FormatNanos(live) : std::string("-")) + " (" +
                               t.StringOr("live_load_ns_source", "?") + ")";
      rows.push_back({t.StringOr("name", "?"), t.StringOr("kind", "?"), Count(t, "rank"), cost,
                      t.NumberOr("online", 1) != 0 ? "yes" : "no", BytesOf(t, "capacity_bytes"),
                      BytesOf(t, "used_bytes") + pct, Count(t, "stored_pages"), Count(t, "loads"),
                      Count(t, "stores"), Percentiles(t, "load_latency_ns"),
                      Percentiles(t, "store_latency_ns"),
                      Count(t, "promotions_in") + " / " + Count(t, "promotions_out"),
                      Count(t, "demotions_in") + " / " + Count(t, "demotions_out")});
    }
    out += "\ntiers\n" + RenderTextTable(rows, "  ");
  }

  if (const JsonValue* types = s.Find("types");
      types != nullptr && types->is_array() && !types->array().empty()) {
    std::vector<std::vector<std::string>> rows = {
        {"type", "initialised", "nr_pages", "stored pages", "stored", "quota"}};
    for (const JsonValue& t : types->array()) {
      const double quota = t.NumberOr("quota_bytes", 0);
      rows.push_back({Count(t, "type"), t.NumberOr("initialized", 0) != 0 ? "yes" : "no",
                      t.NumberOr("nr_pages", 0) == 0 ? "unknown" : Count(t, "nr_pages"),
                      Count(t, "stored_pages"), BytesOf(t, "stored_bytes"),
                      quota == 0 ? "none" : BytesOf(t, "quota_bytes")});
    }
    out += "\ntypes\n" + RenderTextTable(rows, "  ");
  }
  return out;
}

// Fetches, parses and renders once. `last` holds the previous totals (for rates) and is updated.
Result<std::string> Snapshot(const StatsArgs& args, std::unique_ptr<Totals>* last) {
  Result<std::string> body = FetchStats(args.connect, args.timeout);
  if (!body) return body.take_error();
  if (args.json) return std::move(*body);
  const std::string source =
      (args.connect.rfind("http://", 0) == 0 ? "" : "http://") + args.connect + "/stats.json";
  Result<JsonValue> doc = JsonValue::Parse(*body, source);
  if (!doc) return doc.take_error();
  if (!doc->is_object() || doc->Find("tiers") == nullptr) {
    return MakeError(Status::kInvalidArgument,
                     source + " is not tierswap statistics: the object has no \"tiers\" list.");
  }
  Totals now{doc->NumberOr("loads", 0), doc->NumberOr("succ_stores", 0),
             std::chrono::steady_clock::now()};
  std::string text = RenderStats(*doc, args.connect, last->get(), now);
  *last = std::make_unique<Totals>(now);
  return text;
}

int RunStats(const StatsArgs& args) {
  std::unique_ptr<Totals> last;
  Result<std::string> first = Snapshot(args, &last);
  if (!first) return FailCommand("stats", first.error());
  const bool tty = isatty(STDOUT_FILENO) == 1;
  auto show = [&](const std::string& text) {
    // On a terminal each refresh replaces the last (cursor home, clear screen); elsewhere
    // refreshes follow one another, a blank line apart.
    if (tty && args.watch > 0) std::fputs("\033[H\033[2J", stdout);
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
    std::fflush(stdout);
  };
  show(*first);
  if (args.watch <= 0 || args.json) return kExitOk;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::duration<double>(args.watch));
    Result<std::string> next = Snapshot(args, &last);
    if (!tty) std::fputc('\n', stdout);
    // A backend that went away may come back (a restart): say so and keep watching.
    show(next ? *next
              : "tierswap stats: " + next.error().message + " (retrying every " +
                    ShortCount(args.watch) + " s)\n");
  }
}

}  // namespace

Command AddStatsCommand(CLI::App& app) {
  auto args = std::make_shared<StatsArgs>();
  CLI::App* stats = app.add_subcommand(
      "stats", "Show a running backend's statistics, read from its [stats] listener.");
  stats
      ->add_option("--connect", args->connect,
                   "The listener's address, as `listen` in the backend's [stats] section.")
      ->required()
      ->type_name("HOST:PORT");
  stats
      ->add_option("--watch", args->watch,
                   "Refresh every SECONDS (in place on a terminal), with rates; Ctrl-C stops.")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS");
  stats->add_flag("--json", args->json,
                  "Print /stats.json as the backend served it, once (docs/stats.md).");
  stats->add_option("--timeout", args->timeout, "Give up on a connection or answer after SECONDS.")
      ->default_val(5)
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS");
  stats->footer(
      "The backend must serve statistics: `listen = \"127.0.0.1:9464\"` in the [stats] section "
      "of its config (docs/config.md); `tierswap replay --config` with such a config does too.\n"
      "Exit status: 0, or 2 when the endpoint cannot be reached or does not answer with "
      "tierswap statistics.\n\n"
      "Examples:\n"
      "  tierswap stats --connect 127.0.0.1:9464\n"
      "  tierswap stats --connect 127.0.0.1:9464 --watch 2\n"
      "  tierswap stats --connect 127.0.0.1:9464 --json | python3 -m json.tool");
  return {stats, [args] {
            if (args->json && args->watch > 0) {
              return FailCommand("stats",
                                 "--json prints the document once; it does not "
                                 "combine with --watch.");
            }
            return RunStats(*args);
          }};
}

}  // namespace tierswap
