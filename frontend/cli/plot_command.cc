// `tierswap plot`: pictures of what a backend did, drawn by gnuplot (gnuplot.h).
//
//   --cdf FILE.json        the load (or store) latency CDF of every tier, from the per-tier
//                          histograms of a statistics document: `tierswap stats --json`,
//                          `tierswap replay --json`/`--json-file`, or any JSON in which objects
//                          with a "name" carry a "load_latency_ns" histogram (docs/stats.md).
//   --occupancy FILE.csv   a replay timeline (`tierswap replay --timeline`): each tier's used
//                          memory stacked over the replay, the share of loads each tier
//                          answered with the hit rate, and the mover's promotions and demotions.
// The data goes into the script as datablocks, so gnuplot reads nothing but its stdin.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "frontend/cli/commands.h"
#include "frontend/cli/gnuplot.h"
#include "frontend/cli/json_value.h"
#include "frontend/replay.h"

namespace tierswap {
namespace {

struct PlotArgs {
  std::string cdf;
  std::string occupancy;
  std::string output;
  std::string op = "load";
  std::string x_axis = "ops";
  std::string title;
  std::string gnuplot = "gnuplot";
  int width = 1000, height = 640;
};

int Fail(const std::string& message) { return FailCommand("plot", message); }

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

// The part of a path after its last '/'.
std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Preamble(const PlotArgs& args) {
  // noenhanced: tier names such as "zram_like" must not turn into subscripts.
  return "set terminal pngcairo size " + std::to_string(args.width) + "," +
         std::to_string(args.height) + " noenhanced font 'DejaVu Sans,10'\n" + "set output " +
         GnuplotQuote(args.output) + "\n";
}

// ---- latency CDF ------------------------------------------------------------------------------

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> buckets;  // (upper bound ns, cumulative count)
  double count = 0, p50 = 0, p99 = 0;
};

// Every object with a "name" whose `member` is a histogram ({"count", "buckets"}), depth first.
void CollectSeries(const JsonValue& v, const std::string& member, std::vector<Series>* out) {
  if (v.is_object()) {
    const JsonValue* h = v.Find(member);
    const JsonValue* name = v.Find("name");
    if (h != nullptr && h->is_object() && name != nullptr && name->is_string()) {
      if (const JsonValue* b = h->Find("buckets"); b != nullptr && b->is_array()) {
        Series s;
        s.name = name->string();
        s.count = h->NumberOr("count", 0);
        s.p50 = h->NumberOr("p50", 0);
        s.p99 = h->NumberOr("p99", 0);
        for (const JsonValue& pair : b->array()) {
          if (pair.is_array() && pair.array().size() == 2 && pair.array()[0].is_number() &&
              pair.array()[1].is_number()) {
            s.buckets.emplace_back(pair.array()[0].number(), pair.array()[1].number());
          }
        }
        out->push_back(std::move(s));
      }
    }
    for (const auto& [key, child] : v.members()) CollectSeries(child, member, out);
  } else if (v.is_array()) {
    for (const JsonValue& child : v.array()) CollectSeries(child, member, out);
  }
}

Result<std::string> CdfScript(const PlotArgs& args) {
  Result<std::string> text = ReadWholeFile(args.cdf);
  if (!text) return text.take_error();
  Result<JsonValue> doc = JsonValue::Parse(*text, args.cdf);
  if (!doc) return doc.take_error();
  const std::string member = args.op + "_latency_ns";
  std::vector<Series> all;
  CollectSeries(*doc, member, &all);
  if (all.empty()) {
    return MakeError(Status::kInvalidArgument,
                     "'" + args.cdf + "' holds no per-tier \"" + member +
                         "\" histograms (tiers[]." + member +
                         ", docs/stats.md): write one with `tierswap replay --json-file FILE` "
                         "or `tierswap stats --json`, from a backend with [stats] "
                         "latency_histograms = true.");
  }

  std::string data, plot;
  int drawn = 0;
  for (const Series& s : all) {
    if (s.count <= 0 || s.buckets.empty()) {
      std::fprintf(stderr, "tierswap plot: tier '%s' has no %ss: not drawn.\n", s.name.c_str(),
                   args.op.c_str());
      continue;
    }
    const std::string block = "$t" + std::to_string(drawn);
    data += block + " << EOD\n";
    // Leading empty buckets collapse into one point at 0, where the curve starts.
    size_t first = 0;
    while (first + 1 < s.buckets.size() && s.buckets[first + 1].second == 0) ++first;
    for (size_t i = first; i < s.buckets.size(); ++i) {
      data += Fmt("%.0f", s.buckets[i].first) + " " +
              Fmt("%.6f", std::min(1.0, s.buckets[i].second / s.count)) + "\n";
    }
    data += "EOD\n";
    plot += std::string(drawn == 0 ? "plot " : ", \\\n     ") + block +
            " using 1:2 with lines lw 2 title " +
            GnuplotQuote(s.name + " (p50 " + FormatNanos(s.p50) + ", p99 " + FormatNanos(s.p99) +
                         ", " + Fmt("%.0f", s.count) + " " + args.op + "s)");
    ++drawn;
  }
  if (drawn == 0) {
    return MakeError(Status::kInvalidArgument,
                     "no tier in '" + args.cdf + "' has any " + args.op + "s to draw.");
  }
  const std::string title =
      !args.title.empty() ? args.title
                          : "4 KiB " + args.op + " latency by tier (" + BaseName(args.cdf) + ")";
  std::string script = Preamble(args) + data;
  script += "set title " + GnuplotQuote(title) + "\n";
  script += "set xlabel " + GnuplotQuote(args.op + " latency (ns, log scale)") + "\n";
  script += "set ylabel " + GnuplotQuote("fraction of " + args.op + "s at or below") + "\n";
  script +=
      "set logscale x 10\n"
      "set format x '%.0s%c'\n"
      "set yrange [0:1.02]\n"
      "set ytics 0.1\n"
      "set grid xtics mxtics ytics lc rgb '#d0d0d0'\n"
      "set key bottom right box opaque\n"
      "set arrow from graph 0, first 0.5 to graph 1, first 0.5 nohead dt 2 lc rgb '#808080'\n"
      "set arrow from graph 0, first 0.99 to graph 1, first 0.99 nohead dt 2 lc rgb '#808080'\n"
      "set label 'p50' at graph 0.01, first 0.52 tc rgb '#606060'\n"
      "set label 'p99' at graph 0.01, first 0.965 tc rgb '#606060'\n";
  script += plot + "\n";
  return script;
}

// ---- occupancy timeline -----------------------------------------------------------------------

struct Timeline {
  std::vector<std::string> columns;
  std::vector<std::string> rows;  // data lines, checked
  std::vector<std::string> tiers;
  std::vector<int> used_col, frac_col;  // 1-based gnuplot columns, per tier
  int hit_col = 0, promo_col = 0, demo_col = 0;
  double max_ops = 0, max_ms = 0;  // the x ranges
};

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

Result<Timeline> ReadTimeline(const std::string& path) {
  Result<std::string> text = ReadWholeFile(path);
  if (!text) return text.take_error();
  Timeline t;
  size_t line_no = 0, pos = 0;
  auto bad = [&](const std::string& what) {
    return MakeError(Status::kInvalidArgument, path + ":" + std::to_string(line_no) + ": " + what);
  };
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields = SplitCsv(line);
    if (t.columns.empty()) {
      t.columns = fields;
      static const char* kFirst[] = {"ops", "elapsed_ms", "loads", "hit_rate"};
      for (size_t i = 0; i < 4; ++i) {
        if (fields.size() <= i || fields[i] != kFirst[i]) {
          return bad(
              "this is not a tierswap timeline: the header must begin with "
              "'ops,elapsed_ms,loads,hit_rate' (tierswap replay --timeline writes one).");
        }
      }
      for (size_t i = 4; i < fields.size(); ++i) {
        const std::string& c = fields[i];
        auto ends_with = [&](const std::string& suffix) {
          return c.size() > suffix.size() &&
                 c.compare(c.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        if (ends_with("_used_bytes")) {
          t.tiers.push_back(c.substr(0, c.size() - 11));
          t.used_col.push_back(static_cast<int>(i) + 1);
        } else if (c == "promotions") {
          t.promo_col = static_cast<int>(i) + 1;
        } else if (c == "demotions") {
          t.demo_col = static_cast<int>(i) + 1;
        }
      }
      for (const std::string& tier : t.tiers) {
        const auto it = std::find(fields.begin(), fields.end(), tier + "_loads_frac");
        t.frac_col.push_back(it == fields.end() ? 0 : static_cast<int>(it - fields.begin()) + 1);
      }
      t.hit_col = 4;
      if (t.tiers.empty()) return bad("the header names no '<tier>_used_bytes' column.");
      continue;
    }
    if (fields.size() != t.columns.size()) {
      return bad("the row has " + std::to_string(fields.size()) + " fields, the header " +
                 std::to_string(t.columns.size()) + ".");
    }
    for (size_t i = 0; i < fields.size(); ++i) {
      const std::string& f = fields[i];
      if (f.empty() && (i == 3 || t.columns[i].find("_loads_frac") != std::string::npos)) {
        continue;  // no loads in that interval: no fraction
      }
      char* endp = nullptr;
      errno = 0;
      const double v = std::strtod(f.c_str(), &endp);
      if (f.empty() || endp != f.c_str() + f.size() || errno == ERANGE) {
        return bad("field '" + t.columns[i] + "' is not a number: '" + f + "'.");
      }
      if (i == 0) t.max_ops = std::max(t.max_ops, v);
      if (i == 1) t.max_ms = std::max(t.max_ms, v);
    }
    t.rows.push_back(std::move(line));
  }
  if (t.columns.empty()) {
    line_no = 1;
    return bad("the file is empty: no header, no rows.");
  }
  if (t.rows.empty()) return bad("the timeline has a header but no rows.");
  return t;
}

// ($a+$b+...)*scale as a gnuplot expression over the first `n` of `cols`; "(0)" for none.
std::string SumExpr(const std::vector<int>& cols, size_t n, const char* scale) {
  if (n == 0) return "(0)";
  std::string e = "((";
  for (size_t i = 0; i < n; ++i) e += (i ? "+$" : "$") + std::to_string(cols[i]);
  return e + ")" + scale + ")";
}

Result<std::string> OccupancyScript(const PlotArgs& args) {
  Result<Timeline> read = ReadTimeline(args.occupancy);
  if (!read) return read.take_error();
  const Timeline& t = *read;
  const bool seconds = args.x_axis == "seconds";
  const std::string x = seconds ? "($2/1000)" : "1";
  const std::string xlabel = seconds ? "replay time (s)" : "trace operations replayed";
  const std::string title = !args.title.empty() ? args.title
                                                : "Tier occupancy and loads over the replay (" +
                                                      BaseName(args.occupancy) + ")";

  std::string script = Preamble(args) + "set datafile separator comma\n$t << EOD\n";
  for (const std::string& row : t.rows) script += row + "\n";
  script += "EOD\n";
  script += "set multiplot title " + GnuplotQuote(title) +
            "\n"
            "set lmargin at screen 0.08\n"
            "set rmargin at screen 0.83\n"
            "set key outside right top\n"
            "set xrange [0:" +
            Fmt("%g", seconds ? t.max_ms / 1000 : t.max_ops) +
            "]\n"
            "set grid lc rgb '#d0d0d0'\n"
            "set style fill transparent solid 0.65 border\n";

  // Top: each tier's used memory, stacked (so the top edge is all memory in use).
  script +=
      "set tmargin at screen 0.93\n"
      "set bmargin at screen 0.53\n"
      "set ylabel 'used memory (MiB)'\n"
      "set yrange [0:*]\n"
      "set xlabel ''\n"
      "set format x ''\n";
  std::string plot = "plot ";
  for (size_t i = 0; i < t.tiers.size(); ++i) {
    if (i) plot += ", \\\n     ";
    plot += "$t using " + x + ":" + SumExpr(t.used_col, i + 1, "/1048576.0") + ":" +
            SumExpr(t.used_col, i, "/1048576.0") + " with filledcurves lc " +
            std::to_string(i + 1) + " title " + GnuplotQuote(t.tiers[i]);
  }
  script += plot + "\n";

  // Middle: the share of each interval's loads every tier answered, stacked, under the hit rate
  // (the rest of the hits are same-filled pages, answered from the index).
  script +=
      "set tmargin at screen 0.50\n"
      "set bmargin at screen 0.28\n"
      "set ylabel 'loads answered (%)'\n"
      "set yrange [0:100]\n"
      "set ytics 25\n";
  plot = "plot ";
  bool any_frac = false;
  std::vector<int> fracs;
  for (size_t i = 0; i < t.tiers.size(); ++i) {
    if (t.frac_col[i] == 0) continue;
    fracs.push_back(t.frac_col[i]);
    if (any_frac) plot += ", \\\n     ";
    plot += "$t using " + x + ":" + SumExpr(fracs, fracs.size(), "*100") + ":" +
            SumExpr(fracs, fracs.size() - 1, "*100") + " with filledcurves lc " +
            std::to_string(i + 1) + " notitle";
    any_frac = true;
  }
  plot += std::string(any_frac ? ", \\\n     " : "") + "$t using " + x + ":($" +
          std::to_string(t.hit_col) + "*100) with lines lw 2 lc rgb 'black' title 'hit rate'";
  script += plot + "\n";

  // Bottom: pages the mover moved in each interval.
  script +=
      "unset ytics\n"
      "set ytics autofreq\n"
      "set tmargin at screen 0.25\n"
      "set bmargin at screen 0.08\n"
      "set ylabel 'pages moved'\n"
      "set yrange [0:*]\n"
      "set format x " +
      GnuplotQuote(seconds ? "%g" : "%.0s%c") +  // 10k, 20k operations
      "\n"
      "set xlabel " +
      GnuplotQuote(xlabel) + "\n";
  if (t.promo_col != 0 && t.demo_col != 0) {
    script += "plot $t using " + x + ":" + std::to_string(t.promo_col) +
              " with steps lw 1.5 lc rgb '#1a9850' title 'promotions', \\\n     $t using " + x +
              ":" + std::to_string(t.demo_col) +
              " with steps lw 1.5 lc rgb '#d73027' title 'demotions'\n";
  } else {
    script += "plot $t using " + x + ":(0) with lines notitle\n";
  }
  script += "unset multiplot\n";
  return script;
}

int RunPlot(const PlotArgs& args) {
  // The output first: a missing directory is clearer from us than from gnuplot.
  if (std::FILE* f = std::fopen(args.output.c_str(), "wb")) {
    std::fclose(f);
  } else {
    return Fail("cannot create '" + args.output + "': " + std::strerror(errno) + ".");
  }
  Result<std::string> script = args.cdf.empty() ? OccupancyScript(args) : CdfScript(args);
  if (!script) {
    std::remove(args.output.c_str());
    return Fail(script.error().message);
  }
  if (std::getenv("TIERSWAP_PLOT_SCRIPT") != nullptr) {
    std::fputs(script->c_str(), stderr);  // for debugging a picture
  }
  Result<void> drawn = RunGnuplot(args.gnuplot, *script, args.output);
  if (!drawn) {
    std::remove(args.output.c_str());
    return Fail(drawn.error().message);
  }
  std::printf("%s\n", args.output.c_str());
  return kExitOk;
}

}  // namespace

Command AddPlotCommand(CLI::App& app) {
  auto args = std::make_shared<PlotArgs>();
  CLI::App* plot = app.add_subcommand(
      "plot", "Draw PNG pictures with gnuplot: latency CDF per tier, tier occupancy over time.");
  auto* cdf = plot->add_option("--cdf", args->cdf,
                               "Statistics JSON with per-tier latency histograms "
                               "(tierswap stats --json, tierswap replay --json-file).")
                  ->type_name("FILE.json");
  auto* occ = plot->add_option("--occupancy", args->occupancy,
                               "Replay timeline CSV (tierswap replay --timeline).")
                  ->type_name("FILE.csv");
  cdf->excludes(occ);
  occ->excludes(cdf);
  plot->add_option("-o,--output", args->output, "The PNG to write.")
      ->required()
      ->type_name("OUT.png");
  plot->add_option("--op", args->op, "With --cdf: which latency, of loads or of stores.")
      ->check(CLI::IsMember({"load", "store"}))
      ->default_val("load");
  plot->add_option("--x", args->x_axis,
                   "With --occupancy: the x axis, trace operations or replay seconds.")
      ->check(CLI::IsMember({"ops", "seconds"}))
      ->default_val("ops");
  plot->add_option("--title", args->title, "The picture's title.");
  plot->add_option("--size", args->width,
                   "Width in pixels; the height is 5/8 of it for --cdf, 4/5 for --occupancy.")
      ->default_val(1000)
      ->check(CLI::Range(320, 8000))
      ->type_name("PIXELS");
  plot->add_option("--gnuplot", args->gnuplot, "The gnuplot program to run.")
      ->default_val("gnuplot")
      ->type_name("PROGRAM");
  plot->footer(
      "gnuplot (Debian: gnuplot-nox) draws the picture; tierswap prints the PNG's path when it "
      "is written. TIERSWAP_PLOT_SCRIPT=1 also prints the gnuplot script on stderr.\n"
      "Exit status: 0, or 2 on unreadable input, a missing gnuplot or a failed drawing.\n\n"
      "Examples:\n"
      "  tierswap replay demo.trace.zst --config examples/all-tiers.toml --timeline t.csv "
      "--json-file r.json\n"
      "  tierswap plot --cdf r.json -o latency.png\n"
      "  tierswap plot --occupancy t.csv -o occupancy.png --x seconds");
  return {plot, [args, cdf, occ] {
            if (cdf->count() == 0 && occ->count() == 0) {
              return Fail("say what to draw: --cdf STATS.json or --occupancy TIMELINE.csv.");
            }
            // A CDF reads best wide and low, the three-panel timeline taller.
            args->height = args->cdf.empty() ? args->width * 4 / 5 : args->width * 5 / 8;
            return RunPlot(*args);
          }};
}

}  // namespace tierswap
