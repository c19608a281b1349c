// NUMA topology: which memory nodes this machine has, and binding memory to one of them.
//
// A far-memory tier is only as good as its placement: a "CXL" tier whose pages quietly landed
// on local DRAM measures nothing. So tiers that own memory on a node bind it with mbind
// (BindToNode) and then check, page by page, where the kernel actually put it
// (CountMisplacedPages). DiscoverNumaNodes and DescribeNumaNodes give the picture that error
// messages show, so a wrong node number or an oversized tier explains itself.
//
// Used by NumaTier (numa_tier.h) and by any tier that wants its backing memory on a node.
// Thread-safety: all functions are thread-safe; they keep no state (libnuma's own state is
// initialised once by numa_available()).
#ifndef TIERSWAP_TIERS_NUMA_TOPOLOGY_H_
#define TIERSWAP_TIERS_NUMA_TOPOLOGY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tiers/result.h"

namespace tierswap {

struct NumaNode {
  int id = 0;
  uint64_t total_bytes = 0;  // memory the node has (MemTotal)
  uint64_t free_bytes = 0;   // memory free at discovery (MemFree; page cache not counted)
  bool has_cpus = false;     // false: a memory-only node (CXL expander, PMem as RAM, ...)
  // SLIT distance from this node to node j, indexed by node id 0..numa_max_node();
  // 10 for the node itself, 0 for ids that are not a node.
  std::vector<int> distances;
};

// The nodes of this machine, by increasing id. Fails when the kernel or libnuma offers no NUMA
// support (numa_available() < 0); a machine without NUMA hardware still has node 0.
Result<std::vector<NumaNode>> DiscoverNumaNodes();

// A one-line, `numactl --hardware`-style summary for messages, e.g.
// "available: 3 nodes (0-2); node 0: 1970 MiB, 1512 MiB free, cpus; node 1: 1951 MiB,
// 1940 MiB free, memory-only; node 2: ...".
std::string DescribeNumaNodes(const std::vector<NumaNode>& nodes);

// Binds [addr, addr + bytes) to `node` with mbind(MPOL_BIND, MPOL_MF_STRICT | MPOL_MF_MOVE):
// pages faulted later come from that node only, and pages already present are moved there
// (or the call fails). `addr` must be page-aligned. `what` names the owner in the message.
Result<void> BindToNode(void* addr, size_t bytes, int node, const std::string& what);

// Asks the kernel (move_pages in query mode) where each 4 KiB page of [addr, addr + bytes) is,
// and returns how many are not on `node`. A page that is not present (never touched, or
// swapped out) counts as misplaced. `addr` must be page-aligned. Cold path: one system call
// per 4096 pages.
Result<uint64_t> CountMisplacedPages(const void* addr, size_t bytes, int node);

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_NUMA_TOPOLOGY_H_
