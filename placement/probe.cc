#include "placement/probe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>

#include "tiers/page.h"
#include "tiers/page_content.h"
#include "tiers/tsc.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace tierswap {
namespace {

constexpr size_t kCacheLine = 64;
// The chase uses one 64-byte slot per 128-byte pair of lines: the L2's adjacent-line
// prefetcher fetches a line's partner, which would turn every other step into a hit.
constexpr size_t kChaseStride = 128;
constexpr size_t kChaseSlotsPerPage = kPageSize / kChaseStride;
// Steps between two looks at the clock in the chase.
constexpr size_t kChaseChunk = 512;
// Rounds of the chase and of the copy; each reports its median round, which a preemption or
// a neighbour's burst of traffic during one round does not move.
constexpr int kMaxChaseRounds = 5;
constexpr int kMaxCopyRounds = 5;
// Shares of the budget, cumulative: a phase that ends early leaves its time to the next.
constexpr double kStoreShare = 0.20, kLoadShare = 0.55, kChaseShare = 0.80, kCopyShare = 0.95;

// Evicting a page from every cache level, so that the next access goes to the tier's memory as
// a get of a long-swapped-out page does. clflush executes one line at a time (about 10 us a page
// on a VM here); clflushopt, where the CPU has it, lets the 64 flushes overlap (~50x faster).
// The mfence orders both before the timed access. Elsewhere than x86 nothing is flushed and the
// access may hit the cache.
#if defined(__x86_64__) || defined(__i386__)
void FlushPageClflush(const unsigned char* page) {
  for (size_t i = 0; i < kPageSize; i += kCacheLine) _mm_clflush(page + i);
  _mm_mfence();
}

__attribute__((target("clflushopt"))) void FlushPageClflushopt(const unsigned char* page) {
  for (size_t i = 0; i < kPageSize; i += kCacheLine) {
    _mm_clflushopt(const_cast<unsigned char*>(page + i));
  }
  _mm_mfence();
}

bool HasClflushopt() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0 && (ebx & (1u << 23)) != 0;
}

void FlushPage(const unsigned char* page) {
  // Chosen once per process.
  static void (*const flush)(const unsigned char*) =
      HasClflushopt() ? FlushPageClflushopt : FlushPageClflush;
  flush(page);
}
#else
void FlushPage(const unsigned char*) {}
#endif

// The value at nearest rank q (0 < q <= 1) of sorted `v`.
double Quantile(const std::vector<double>& sorted, double q) {
  const auto rank = static_cast<size_t>(std::ceil(q * double(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return Quantile(v, 0.5);
}

Figure Measured(double value) { return Figure{value, FigureSource::kMeasured}; }

Figure Emulated(double value) {
  return value == 0 ? Figure{} : Figure{value, FigureSource::kEmulation};
}

// Keeps the chase's final pointer observable, so the dependent loads cannot be optimised away.
void* volatile chase_sink;

// The pointer chase through `pages` (raw memory the probe owns): writes a random cyclic chain
// over their slots, then follows it, flushing the pages before each round so that every step
// misses the caches. Returns ns per step (the median round's), or kNone when the deadline left
// no step.
Figure Chase(const std::vector<unsigned char*>& pages, uint64_t deadline, uint64_t* seed) {
  const size_t slots = pages.size() * kChaseSlotsPerPage;
  if (slots < 2) return Figure{};
  std::vector<uint32_t> order(slots);
  std::iota(order.begin(), order.end(), 0u);
  for (size_t i = slots - 1; i > 0; --i) {  // Fisher-Yates
    std::swap(order[i], order[SplitMix64(seed) % (i + 1)]);
  }
  auto slot = [&](uint32_t s) {
    return pages[s / kChaseSlotsPerPage] + (s % kChaseSlotsPerPage) * kChaseStride;
  };
  for (size_t i = 0; i < slots; ++i) {
    void* next = slot(order[(i + 1) % slots]);
    std::memcpy(slot(order[i]), &next, sizeof(next));
  }

  std::vector<double> round_ns;
  void* p = slot(order[0]);
  for (int round = 0; round < kMaxChaseRounds && TscNow() < deadline; ++round) {
    for (unsigned char* page : pages) FlushPage(page);
    // One round visits every slot once, so each step is a miss: the chain starts where the
    // previous round ended and a full cycle returns there.
    const uint64_t start = TscNowAfter();
    size_t done = 0;
    while (done < slots) {
      const size_t chunk = std::min(kChaseChunk, slots - done);
      for (size_t i = 0; i < chunk; ++i) p = *static_cast<void**>(p);
      done += chunk;
      if (TscNow() >= deadline) break;
    }
    round_ns.push_back(TicksToNs(TscNowAfter() - start) / double(done));
  }
  chase_sink = p;
  if (round_ns.empty()) return Figure{};
  return Measured(Median(std::move(round_ns)));
}

// The figure ranking uses when no load could be measured.
Figure EstimatedLoad(const TierProbe& p) {
  const auto transfer_ns = [](const Figure& mbps) {
    return mbps.known() && mbps.value > 0 ? double(kPageSize) * 1000.0 / mbps.value : 0.0;
  };
  if (p.emulated_read_latency_ns.known() || p.emulated_bandwidth_mbps.known()) {
    return Figure{p.emulated_read_latency_ns.value + transfer_ns(p.emulated_bandwidth_mbps),
                  FigureSource::kEmulation};
  }
  if (p.hmat_read_latency_ns.known()) {
    return Figure{p.hmat_read_latency_ns.value + transfer_ns(p.hmat_read_bandwidth_mbps),
                  p.hmat_read_latency_ns.source};
  }
  return Figure{};
}

}  // namespace

TierProbe ProbeTier(Tier& tier, const ProbeOptions& options) {
  TierProbe out;
  out.node = tier.BoundNode();
  if (out.node >= 0) {
    const NodeAttributes a = ReadNodeAttributes(out.node, options.local_latency_ns);
    out.hmat_read_latency_ns = a.read_latency_ns;
    out.hmat_write_latency_ns = a.write_latency_ns;
    out.hmat_read_bandwidth_mbps = a.read_bandwidth_mbps;
    out.hmat_write_bandwidth_mbps = a.write_bandwidth_mbps;
  }
  const TierEmulation& emulation = tier.emulation();
  out.emulated_read_latency_ns = Emulated(emulation.read_latency_ns);
  out.emulated_write_latency_ns = Emulated(emulation.write_latency_ns);
  out.emulated_bandwidth_mbps = Emulated(double(emulation.bandwidth_mbps));

  // The first use of the TSC calibrates it (about 20 ms): not on the budget's clock.
  const double budget_ticks = double(NsToTicks(std::max(options.budget_ms, 0.0) * 1e6));
  const uint64_t start = TscNow();
  auto deadline = [&](double share) { return start + uint64_t(budget_ticks * share); };
  uint64_t seed = 0x7469657270726f62ull;  // fixed: probes of alike tiers do alike work

  // Stores: one source page, its first word made unique per store (a compressed tier must not
  // see the same page twice). At least one attempt, whatever the budget.
  auto page = std::make_unique<unsigned char[]>(kPageSize);
  FillTextPage(page.get(), SplitMix64(&seed));
  std::vector<TierHandle> handles;
  std::vector<unsigned char*> addresses;  // DirectAddress of each handle; all or none non-null
  std::vector<double> ns;
  handles.reserve(options.pages);
  ns.reserve(options.pages);
  const uint64_t store_deadline = deadline(kStoreShare);
  for (uint64_t i = 0; i < options.pages && (i == 0 || TscNow() < store_deadline); ++i) {
    std::memcpy(page.get(), &i, sizeof(i));
    TierHandle h;
    const uint64_t t0 = TscNowAfter();
    const Status s = tier.ProbeStore(page.get(), &h);
    const uint64_t t1 = TscNowAfter();
    if (s == Status::kRejected) continue;  // this page only; another may be accepted
    if (s != Status::kOk) break;           // full (kNoSpace), or failing
    ns.push_back(TicksToNs(t1 - t0));
    handles.push_back(h);
    addresses.push_back(tier.DirectAddress(h));
  }
  out.pages_stored = static_cast<uint32_t>(handles.size());
  if (!ns.empty()) {
    std::sort(ns.begin(), ns.end());
    out.store_p50_ns = Measured(Quantile(ns, 0.5));
  }
  const bool raw = !addresses.empty() && addresses.front() != nullptr;

  // Loads, in random order, each of a page flushed from the caches.
  ns.clear();
  if (!handles.empty()) {
    const uint64_t load_deadline = deadline(kLoadShare);
    ns.reserve(options.max_load_samples);
    size_t failures = 0;
    while (ns.size() < options.max_load_samples && failures <= handles.size() &&
           (ns.empty() || TscNow() < load_deadline)) {
      const size_t i = SplitMix64(&seed) % handles.size();
      if (raw) FlushPage(addresses[i]);
      const uint64_t t0 = TscNowAfter();
      const Status s = tier.ProbeLoad(handles[i], page.get());
      const uint64_t t1 = TscNowAfter();
      if (s != Status::kOk) {
        ++failures;
        continue;
      }
      ns.push_back(TicksToNs(t1 - t0));
    }
  }
  out.load_samples = static_cast<uint32_t>(ns.size());
  if (!ns.empty()) {
    std::sort(ns.begin(), ns.end());
    out.load_p50_ns = Measured(Quantile(ns, 0.5));
    out.load_p99_ns = Measured(Quantile(ns, 0.99));
  }

  // Pointer chase through the stored pages' own memory (the probe owns them until it frees
  // them, so it may overwrite their contents).
  if (raw) {
    out.chase_bytes = uint64_t{handles.size()} * kPageSize;
    out.chase_ns = Chase(addresses, deadline(kChaseShare), &seed);
  }

  // Copy bandwidth: the stored pages loaded back to back, from memory (flushed first).
  if (!handles.empty()) {
    const uint64_t copy_deadline = deadline(kCopyShare);
    std::vector<double> round_mbps;
    for (int round = 0; round < kMaxCopyRounds && TscNow() < copy_deadline; ++round) {
      if (raw) {
        for (unsigned char* a : addresses) FlushPage(a);
      }
      uint64_t bytes = 0;
      const uint64_t t0 = TscNowAfter();
      for (size_t i = 0; i < handles.size() && (i == 0 || TscNow() < copy_deadline); ++i) {
        if (tier.ProbeLoad(handles[i], page.get()) == Status::kOk) bytes += kPageSize;
      }
      const double ns = TicksToNs(TscNowAfter() - t0);
      if (bytes != 0 && ns > 0) round_mbps.push_back(double(bytes) * 1000.0 / ns);
    }
    if (!round_mbps.empty()) out.copy_bandwidth_mbps = Measured(Median(std::move(round_mbps)));
  }

  for (TierHandle h : handles) tier.ProbeFree(h);
  out.expected_load_ns = out.load_p50_ns.known() ? out.load_p50_ns : EstimatedLoad(out);
  out.probe_ms = TicksToNs(TscNow() - start) / 1e6;
  return out;
}

std::vector<unsigned> RankTiers(const std::vector<TierProbe>& probes) {
  std::vector<unsigned> known, unknown;
  for (unsigned i = 0; i < probes.size(); ++i) {
    (probes[i].expected_load_ns.known() ? known : unknown).push_back(i);
  }
  auto cost = [&](unsigned i) { return probes[i].expected_load_ns.value; };
  std::stable_sort(known.begin(), known.end(),
                   [&](unsigned a, unsigned b) { return cost(a) < cost(b); });
  // Groups: a tier joins the current group when within 10% of the group's fastest (its first),
  // which is a fixed reference, so the grouping does not drift along a chain of small steps.
  std::vector<unsigned> ranked;
  ranked.reserve(probes.size());
  for (size_t begin = 0; begin < known.size();) {
    size_t end = begin + 1;
    while (end < known.size() && cost(known[end]) <= cost(known[begin]) * 1.1) ++end;
    std::sort(known.begin() + long(begin), known.begin() + long(end));  // configuration order
    ranked.insert(ranked.end(), known.begin() + long(begin), known.begin() + long(end));
    begin = end;
  }
  ranked.insert(ranked.end(), unknown.begin(), unknown.end());
  return ranked;
}

void ExportProbe(const TierProbe& probe, StatsSink& sink) {
  auto figure = [&](const char* name, const Figure& f) {
    sink.Real(name, f.value);
    sink.Text(std::string(name) + "_source", FigureSourceName(f.source));
  };
  figure("probe_expected_load_ns", probe.expected_load_ns);
  figure("probe_load_p50_ns", probe.load_p50_ns);
  figure("probe_load_p99_ns", probe.load_p99_ns);
  figure("probe_store_p50_ns", probe.store_p50_ns);
  figure("probe_chase_ns", probe.chase_ns);
  figure("probe_copy_bandwidth_mbps", probe.copy_bandwidth_mbps);
  figure("hmat_read_latency_ns", probe.hmat_read_latency_ns);
  figure("hmat_write_latency_ns", probe.hmat_write_latency_ns);
  figure("hmat_read_bandwidth_mbps", probe.hmat_read_bandwidth_mbps);
  figure("hmat_write_bandwidth_mbps", probe.hmat_write_bandwidth_mbps);
  figure("emulation_read_latency_ns", probe.emulated_read_latency_ns);
  figure("emulation_write_latency_ns", probe.emulated_write_latency_ns);
  figure("emulation_bandwidth_mbps", probe.emulated_bandwidth_mbps);
  figure("probe_ms", Measured(probe.probe_ms));
  sink.Gauge("probe_pages", probe.pages_stored);
  sink.Gauge("probe_load_samples", probe.load_samples);
  sink.Gauge("probe_chase_bytes", probe.chase_bytes);
}

}  // namespace tierswap
