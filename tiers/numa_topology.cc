#include "tiers/numa_topology.h"

#include <numa.h>
#include <numaif.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "tiers/page.h"

namespace tierswap {
namespace {

// "0-2", "0,2-3": node ids as numactl prints them.
std::string FormatIdRanges(const std::vector<NumaNode>& nodes) {
  std::string out;
  for (size_t i = 0; i < nodes.size();) {
    size_t j = i;
    while (j + 1 < nodes.size() && nodes[j + 1].id == nodes[j].id + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(nodes[i].id);
    if (j > i) out += '-' + std::to_string(nodes[j].id);
    i = j + 1;
  }
  return out;
}

Status StatusOfErrno(int err) {
  switch (err) {
    case ENOMEM:
      return Status::kNoMemory;
    case EIO:
      return Status::kIoError;
    default:
      return Status::kInvalidArgument;
  }
}

}  // namespace

Result<std::vector<NumaNode>> DiscoverNumaNodes() {
  // numa_available() must come first: every other libnuma call is undefined without it.
  if (numa_available() < 0) {
    return MakeError(Status::kInvalidArgument,
                     "NUMA is not available: numa_available() failed (the kernel has no NUMA "
                     "support, or get_mempolicy is not permitted here)");
  }
  const int max_node = numa_max_node();
  bitmask* cpus = numa_allocate_cpumask();
  std::vector<NumaNode> nodes;
  for (int id = 0; id <= max_node; ++id) {
    if (numa_bitmask_isbitset(numa_nodes_ptr, id) == 0) continue;
    NumaNode node;
    node.id = id;
    long long free_bytes = 0;
    const long long total = numa_node_size64(id, &free_bytes);
    // -1: the node has no meminfo (no memory); report it as empty rather than fail discovery.
    if (total > 0) {
      node.total_bytes = static_cast<uint64_t>(total);
      node.free_bytes = static_cast<uint64_t>(std::max(free_bytes, 0LL));
    }
    numa_bitmask_clearall(cpus);
    node.has_cpus = numa_node_to_cpus(id, cpus) == 0 && numa_bitmask_weight(cpus) > 0;
    node.distances.assign(static_cast<size_t>(max_node) + 1, 0);
    for (int to = 0; to <= max_node; ++to) {
      if (numa_bitmask_isbitset(numa_nodes_ptr, to) != 0) {
        node.distances[static_cast<size_t>(to)] = numa_distance(id, to);
      }
    }
    nodes.push_back(std::move(node));
  }
  numa_free_cpumask(cpus);
  return nodes;
}

std::string DescribeNumaNodes(const std::vector<NumaNode>& nodes) {
  std::string out = "available: " + std::to_string(nodes.size()) +
                    (nodes.size() == 1 ? " node" : " nodes") + " (" + FormatIdRanges(nodes) + ")";
  for (const NumaNode& n : nodes) {
    out += "; node " + std::to_string(n.id) + ": " + std::to_string(n.total_bytes >> 20) +
           " MiB, " + std::to_string(n.free_bytes >> 20) + " MiB free, " +
           (n.has_cpus ? "cpus" : "memory-only");
  }
  return out;
}

Result<void> BindToNode(void* addr, size_t bytes, int node, const std::string& what) {
  const std::string prefix = what + ": cannot bind " + std::to_string(bytes) +
                             " bytes to NUMA node " + std::to_string(node);
  // Node ids above the kernel's limit would only make the nodemask huge before mbind refuses it.
  const int max_possible = numa_max_possible_node();
  if (node < 0 || node > max_possible) {
    return MakeError(Status::kInvalidArgument,
                     prefix + ": node ids run from 0 to " + std::to_string(max_possible));
  }
  constexpr size_t kBits = sizeof(unsigned long) * CHAR_BIT;
  const auto bit = static_cast<size_t>(node);
  std::vector<unsigned long> mask(bit / kBits + 1, 0);
  mask[bit / kBits] |= 1UL << (bit % kBits);
  // MPOL_BIND, not MPOL_PREFERRED: a fault that cannot be served from `node` must not be
  // served from local memory instead, or the tier would silently measure the wrong memory.
  // STRICT|MOVE: pages already present elsewhere are moved, and if one cannot be, mbind fails.
  // maxnode is the mask's bit count + 1: the kernel reads maxnode - 1 bits (libnuma does same).
  if (mbind(addr, bytes, MPOL_BIND, mask.data(), mask.size() * kBits + 1,
            MPOL_MF_STRICT | MPOL_MF_MOVE) != 0) {
    const int err = errno;
    return MakeError(StatusOfErrno(err), prefix + ": mbind failed: " + strerror(err));
  }
  return {};
}

Result<uint64_t> CountMisplacedPages(const void* addr, size_t bytes, int node) {
  // 4096 pages (16 MiB) per call bounds the two scratch arrays to 48 KiB.
  constexpr size_t kBatch = 4096;
  const size_t pages = (bytes + kPageSize - 1) / kPageSize;
  const auto* base = static_cast<const unsigned char*>(addr);
  std::vector<void*> page_addrs(std::min(kBatch, pages));
  std::vector<int> status(page_addrs.size());
  uint64_t misplaced = 0;
  for (size_t first = 0; first < pages; first += kBatch) {
    const size_t n = std::min(kBatch, pages - first);
    for (size_t i = 0; i < n; ++i) {
      // move_pages takes void** but only reads the addresses when `nodes` is null.
      page_addrs[i] = const_cast<unsigned char*>(base + (first + i) * kPageSize);
      // A status the kernel did not fill in must not read as "on the node".
      status[i] = INT_MIN;
    }
    // nodes == nullptr: query only; status[i] is the page's node or a negative errno
    // (-ENOENT: not present, -EFAULT: not mapped).
    if (move_pages(0, n, page_addrs.data(), nullptr, status.data(), 0) != 0) {
      const int err = errno;
      return MakeError(StatusOfErrno(err), "cannot query the NUMA placement of " +
                                               std::to_string(bytes) +
                                               " bytes: move_pages failed: " + strerror(err));
    }
    for (size_t i = 0; i < n; ++i) misplaced += status[i] != node;
  }
  return misplaced;
}

}  // namespace tierswap
