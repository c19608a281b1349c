// Probe: what a synchronous get costs on each tier, measured when a backend opens.
//
// Placement ranks tiers by what a load will cost, and the configuration's word for it (a tier
// called "cxl") or the firmware's (HMAT) is not a measurement: in the lab (scripts/lab) every node
// is the same host RAM whatever the HMAT says, and emulation adds latency that only shows when a
// page is really loaded. So the probe stores a few hundred pages on the tier and times what a get
// does: 4 KiB loads from memory that is not in the CPU caches (median and p99), 4 KiB stores,
// dependent random 64-byte reads inside the tier's memory (pointer chase), and back-to-back
// loads (copy bandwidth). Next to these it keeps what the firmware states (HMAT, or a SLIT
// estimate; tiers/memory_attributes.h) and what emulation is configured, each figure with its
// source. Every measurement loop watches the clock, so a probe stays within its budget.
//
// Thread-safety: ProbeTier needs the tier to itself (call it before the tier is shared: it
// writes into the pages it stores); the other functions are pure.
#ifndef TIERSWAP_PLACEMENT_PROBE_H_
#define TIERSWAP_PLACEMENT_PROBE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tiers/memory_attributes.h"
#include "tiers/stats_sink.h"
#include "tiers/tier.h"

namespace tierswap {

struct TierProbe {
  // Timed through ProbeStore/ProbeLoad, so emulation is included; loads and stores of frame
  // and pmem tiers start with the page's cache lines flushed, as a swapped-out page's would be.
  Figure load_p50_ns, load_p99_ns, store_p50_ns;
  // Nanoseconds per dependent read of a random 64-byte slot of the tier's memory, lines flushed
  // first (median of a few rounds, each visiting every slot once). Frame and pmem tiers only
  // (kNone for a compressed tier). It reads memory directly,
  // so emulated latency is not in it: the emulated_* figures say what is configured.
  Figure chase_ns;
  // MB/s (10^6 bytes) of back-to-back 4 KiB loads (ProbeLoad) into one buffer, on one thread;
  // the median of a few rounds over the stored pages.
  Figure copy_bandwidth_mbps;
  // For the tier's bound node: the HMAT's figures, or a SLIT latency estimate, or kNone
  // (also for a tier not bound to a node).
  Figure hmat_read_latency_ns, hmat_write_latency_ns;
  Figure hmat_read_bandwidth_mbps, hmat_write_bandwidth_mbps;
  // The tier's configured emulation (source kEmulation), kNone for a setting left at 0.
  Figure emulated_read_latency_ns, emulated_write_latency_ns, emulated_bandwidth_mbps;
  // What ranking uses: the measured load median; without one (no page could be stored), the
  // configured emulation, else the HMAT/SLIT latency plus one page at the HMAT bandwidth.
  Figure expected_load_ns;
  double probe_ms = 0;        // wall time of the measurements (not of reading HMAT figures)
  int node = -1;              // the tier's BoundNode()
  uint32_t pages_stored = 0;  // pages the probe managed to store (fewer on a full tier)
  uint32_t load_samples = 0;  // timed loads behind load_p50_ns / load_p99_ns
  uint64_t chase_bytes = 0;   // memory the pointer chase ran through
};

struct ProbeOptions {
  // Wall time the measurements of one tier may take, in milliseconds. Each phase stops when its
  // share is used up; a tier that answers quickly finishes well before.
  double budget_ms = 100;
  // Pages stored for the probe: the chase runs through their memory, and the loads sample them.
  // 256 pages (1 MiB) fit in a server's L2/L3, which is why every timed pass starts by flushing
  // them from the caches rather than by touching more of the tier.
  size_t pages = 256;
  // Most timed loads taken for load_p50_ns / load_p99_ns (each first flushes its page from the
  // caches, which with clflush alone costs ~10 us a page on a VM).
  size_t max_load_samples = 1024;
  // Local DRAM latency for SLIT estimates (ReadNodeAttributes), e.g. the DRAM tier's chase_ns;
  // 0: the local node's HMAT latency, or a nominal 100 ns.
  double local_latency_ns = 0;
};

// Measures one tier. Uses only ProbeStore/ProbeLoad/ProbeFree, so the tier's statistics stay at
// zero, and frees every page it stored. A full or tiny tier yields what it can (fewer samples;
// figures it could not measure are kNone).
TierProbe ProbeTier(Tier& tier, const ProbeOptions& options = {});

// Indexes of `probes` ordered by expected_load_ns, fastest first. Tiers within 10% of the
// fastest of their group count as equal and keep their configuration order; tiers with no
// expected figure come last, in configuration order.
std::vector<unsigned> RankTiers(const std::vector<TierProbe>& probes);

// Writes the probe's figures, each as a Real followed by a Text "<name>_source" naming its
// source: probe_expected_load_ns, probe_load_p50_ns, probe_load_p99_ns, probe_store_p50_ns,
// probe_chase_ns, probe_copy_bandwidth_mbps, hmat_read_latency_ns, hmat_write_latency_ns,
// hmat_read_bandwidth_mbps, hmat_write_bandwidth_mbps, emulation_read_latency_ns,
// emulation_write_latency_ns, emulation_bandwidth_mbps, probe_ms; then the Gauges probe_pages,
// probe_load_samples, probe_chase_bytes. (emulation_*, not emulated_*: an emulated tier's own
// ExportStats already writes emulated_* into the same item.)
void ExportProbe(const TierProbe& probe, StatsSink& sink);

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_PROBE_H_
