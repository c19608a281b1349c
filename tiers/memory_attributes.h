// MemoryAttributes: what the platform says a NUMA node's memory costs to reach.
//
// The ACPI HMAT states latency and bandwidth per memory node as seen from its nearest
// initiator; hwloc publishes it as memory attributes and Linux copies it to
// /sys/devices/system/node/nodeN/access0/initiators/. Many machines have no HMAT (hwloc then
// answers -1/EINVAL); they still have a SLIT, whose relative distances give a rough latency
// estimate. The tier probe (placement/probe.h) keeps these figures next to what it measures,
// each with its source, because a firmware statement, a distance-derived guess, a measurement
// and a configured emulation are different kinds of truth and must not be mixed up silently.
//
// Thread-safety: all functions are thread-safe. The hwloc topology is loaded once per process,
// on first use, and kept; queries on it are serialised (hwloc refreshes its attribute caches
// lazily, so even a read may write).
#ifndef TIERSWAP_TIERS_MEMORY_ATTRIBUTES_H_
#define TIERSWAP_TIERS_MEMORY_ATTRIBUTES_H_

#include <cstdint>
#include <string>

namespace tierswap {

// Where a figure came from.
enum class FigureSource : uint8_t {
  kMeasured,   // timed by this process
  kHmat,       // stated by the firmware (ACPI HMAT, through hwloc or sysfs)
  kSlit,       // estimated from a SLIT distance
  kEmulation,  // configured emulation of slower media (TierEmulation)
  kNone,       // unknown: the value means nothing
};

// "measured", "hmat", "slit", "emulation", "none".
const char* FigureSourceName(FigureSource source);

// One number and where it came from.
struct Figure {
  double value = 0;
  FigureSource source = FigureSource::kNone;
  bool known() const { return source != FigureSource::kNone; }
};

// A node's memory as seen from its nearest CPU-bearing node (the initiator). Latency in
// nanoseconds; bandwidth in the firmware's unit, passed through unchanged (the HMAT says MB/s,
// the kernel and hwloc call the same number MiB/s).
struct NodeAttributes {
  Figure read_latency_ns;
  Figure write_latency_ns;
  Figure read_bandwidth_mbps;
  Figure write_bandwidth_mbps;
};

// Local DRAM latency assumed for a SLIT estimate when nothing better is known (ns).
inline constexpr double kNominalLocalLatencyNs = 100;

// Everything known about `node`'s memory, figure by figure: hwloc's HMAT attributes; where
// hwloc has none, the kernel's sysfs copy of the HMAT (both source kHmat); where neither has a
// latency, a SLIT estimate: local latency x distance / 10 (source kSlit), where the local
// latency is `local_latency_ns` if > 0 (a measured figure, say), else the nearest initiator's
// own HMAT read latency, else kNominalLocalLatencyNs. The SLIT gives no bandwidth. A node that
// does not exist gets all kNone. The first call loads the hwloc topology (milliseconds).
NodeAttributes ReadNodeAttributes(int node, double local_latency_ns = 0);

// The sources ReadNodeAttributes combines, each alone (figures it lacks are kNone).
// hwloc: the node's attributes from the CPUs local to it, else from hwloc's best initiator;
// ReadLatency/WriteLatency (and bandwidths) when stated, else the access Latency/Bandwidth.
NodeAttributes ReadHwlocNodeAttributes(int node);
// sysfs: `root`/nodeN/access0/initiators/{read,write}_{latency,bandwidth}.
NodeAttributes ReadSysfsNodeAttributes(int node,
                                       const std::string& root = "/sys/devices/system/node");
// SLIT: `local_latency_ns` x `distance` / 10 (10 is the SLIT's local distance); kNone for a
// distance below 10 (not a distance) or a non-positive local latency.
Figure SlitLatency(int distance, double local_latency_ns);

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_MEMORY_ATTRIBUTES_H_
