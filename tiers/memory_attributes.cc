#include "tiers/memory_attributes.h"

#include <hwloc.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tiers/mutex.h"
#include "tiers/numa_topology.h"

namespace tierswap {
namespace {

// The process's hwloc topology, loaded on first use. Never destroyed: a static destructor
// could run while another thread, or another static's destructor, still reads it.
struct HwlocTopology {
  Mutex mu;
  hwloc_topology_t topology GUARDED_BY(mu) = nullptr;  // nullptr when hwloc could not load one

  static HwlocTopology& Get() {
    static HwlocTopology* const instance = new HwlocTopology;
    return *instance;
  }

 private:
  HwlocTopology() {
    if (hwloc_topology_init(&topology) != 0) {
      topology = nullptr;
      return;
    }
    // Nodes outside this process's cpuset/cgroup are still nodes a tier may be bound to.
    hwloc_topology_set_flags(topology, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    if (hwloc_topology_load(topology) != 0) {
      hwloc_topology_destroy(topology);
      topology = nullptr;
    }
  }
};

Figure Hmat(uint64_t value) {
  return value == 0 ? Figure{} : Figure{double(value), FigureSource::kHmat};
}

Figure FirstKnown(const Figure& a, const Figure& b) { return a.known() ? a : b; }

// One attribute of `node`: as seen from the CPUs local to the node (what the HMAT's local
// initiator describes), else from whichever initiator hwloc knows that does best. 0: none.
uint64_t HwlocValue(hwloc_topology_t topology, hwloc_memattr_id_t attribute, hwloc_obj_t node) {
  hwloc_uint64_t value = 0;
  if (node->cpuset != nullptr && !hwloc_bitmap_iszero(node->cpuset)) {
    hwloc_location initiator;
    initiator.type = HWLOC_LOCATION_TYPE_CPUSET;
    initiator.location.cpuset = node->cpuset;
    if (hwloc_memattr_get_value(topology, attribute, node, &initiator, 0, &value) == 0) {
      return value;
    }
  }
  hwloc_location best;
  if (hwloc_memattr_get_best_initiator(topology, attribute, node, 0, &best, &value) == 0) {
    return value;
  }
  return 0;
}

// An unsigned number from a one-line sysfs file; 0 when absent or unreadable.
uint64_t ReadSysfsNumber(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return 0;
  unsigned long long value = 0;
  if (std::fscanf(f, "%llu", &value) != 1) value = 0;
  std::fclose(f);
  return value;
}

// The HMAT's figures from either reader, hwloc first.
NodeAttributes ReadHmat(int node) {
  const NodeAttributes h = ReadHwlocNodeAttributes(node);
  const NodeAttributes s = ReadSysfsNodeAttributes(node);
  return NodeAttributes{FirstKnown(h.read_latency_ns, s.read_latency_ns),
                        FirstKnown(h.write_latency_ns, s.write_latency_ns),
                        FirstKnown(h.read_bandwidth_mbps, s.read_bandwidth_mbps),
                        FirstKnown(h.write_bandwidth_mbps, s.write_bandwidth_mbps)};
}

}  // namespace

const char* FigureSourceName(FigureSource source) {
  switch (source) {
    case FigureSource::kMeasured:
      return "measured";
    case FigureSource::kHmat:
      return "hmat";
    case FigureSource::kSlit:
      return "slit";
    case FigureSource::kEmulation:
      return "emulation";
    case FigureSource::kNone:
      return "none";
  }
  return "none";
}

NodeAttributes ReadHwlocNodeAttributes(int node) {
  NodeAttributes out;
  if (node < 0) return out;
  HwlocTopology& hw = HwlocTopology::Get();
  MutexLock lock(&hw.mu);
  if (hw.topology == nullptr) return out;
  hwloc_obj_t obj = hwloc_get_numanode_obj_by_os_index(hw.topology, unsigned(node));
  if (obj == nullptr) return out;
  // An HMAT may state read and write figures, or only one access figure for both.
  auto value = [&](hwloc_memattr_id_t specific, hwloc_memattr_id_t access) {
    hw.mu.AssertHeld();  // called only below, under the lock
    const uint64_t v = HwlocValue(hw.topology, specific, obj);
    return Hmat(v != 0 ? v : HwlocValue(hw.topology, access, obj));
  };
  out.read_latency_ns = value(HWLOC_MEMATTR_ID_READ_LATENCY, HWLOC_MEMATTR_ID_LATENCY);
  out.write_latency_ns = value(HWLOC_MEMATTR_ID_WRITE_LATENCY, HWLOC_MEMATTR_ID_LATENCY);
  out.read_bandwidth_mbps = value(HWLOC_MEMATTR_ID_READ_BANDWIDTH, HWLOC_MEMATTR_ID_BANDWIDTH);
  out.write_bandwidth_mbps = value(HWLOC_MEMATTR_ID_WRITE_BANDWIDTH, HWLOC_MEMATTR_ID_BANDWIDTH);
  return out;
}

NodeAttributes ReadSysfsNodeAttributes(int node, const std::string& root) {
  NodeAttributes out;
  if (node < 0) return out;
  // access0: the best initiator of any kind; the kernel writes 0, or no file, when unknown.
  const std::string dir = root + "/node" + std::to_string(node) + "/access0/initiators/";
  out.read_latency_ns = Hmat(ReadSysfsNumber(dir + "read_latency"));
  out.write_latency_ns = Hmat(ReadSysfsNumber(dir + "write_latency"));
  out.read_bandwidth_mbps = Hmat(ReadSysfsNumber(dir + "read_bandwidth"));
  out.write_bandwidth_mbps = Hmat(ReadSysfsNumber(dir + "write_bandwidth"));
  return out;
}

Figure SlitLatency(int distance, double local_latency_ns) {
  // 255 marks an unreachable node in the SLIT.
  if (distance < 10 || distance >= 255 || !(local_latency_ns > 0)) return Figure{};
  return Figure{local_latency_ns * distance / 10.0, FigureSource::kSlit};
}

NodeAttributes ReadNodeAttributes(int node, double local_latency_ns) {
  NodeAttributes out;
  if (node < 0) return out;
  out = ReadHmat(node);
  if (out.read_latency_ns.known() && out.write_latency_ns.known()) return out;

  Result<std::vector<NumaNode>> nodes = DiscoverNumaNodes();
  if (!nodes.ok()) return out;
  const auto target_index = static_cast<size_t>(node);
  // The initiator: the CPU-bearing node nearest to `node` (lowest id on a tie), as the HMAT's
  // local initiator would be.
  const NumaNode* initiator = nullptr;
  bool exists = false;
  for (const NumaNode& n : *nodes) {
    exists = exists || n.id == node;
    if (!n.has_cpus || target_index >= n.distances.size()) continue;
    if (initiator == nullptr || n.distances[target_index] < initiator->distances[target_index]) {
      initiator = &n;
    }
  }
  if (!exists || initiator == nullptr) return out;
  double local = local_latency_ns;
  if (!(local > 0)) {
    const Figure initiator_latency =
        initiator->id == node ? out.read_latency_ns : ReadHmat(initiator->id).read_latency_ns;
    local = initiator_latency.known() ? initiator_latency.value : kNominalLocalLatencyNs;
  }
  const Figure estimate = SlitLatency(initiator->distances[target_index], local);
  out.read_latency_ns = FirstKnown(out.read_latency_ns, estimate);
  out.write_latency_ns = FirstKnown(out.write_latency_ns, estimate);
  return out;
}

}  // namespace tierswap
