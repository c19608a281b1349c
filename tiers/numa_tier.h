// NumaTier: pages kept raw in memory bound to one NUMA node (a CXL expander, a far socket,
// PMem onlined as RAM).
//
// Store and load are FrameTier's: a lock-free frame allocation plus one memcpy. What this tier
// adds is the guarantee that the frames really are on the node asked for: the arena is bound
// with mbind(MPOL_BIND), pre-faulted at open, and then every frame's placement is checked with
// move_pages; the result is exported as verified_frames / misplaced_frames. It never falls back
// to local memory: a node that does not exist, or has too little free memory, fails Open with a
// message that describes the machine's nodes.
//
// Thread-safety: as Tier. Verify() may run concurrently with stores and loads.
#ifndef TIERSWAP_TIERS_NUMA_TIER_H_
#define TIERSWAP_TIERS_NUMA_TIER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "tiers/frame_tier.h"
#include "tiers/result.h"

namespace tierswap {

struct NumaTierOptions {
  std::string name = "numa";
  // The NUMA node whose memory holds the frames (`numactl --hardware` lists them).
  int node = 0;
  // Bytes of page frames; rounded down to a multiple of 4 KiB. Must hold at least one page and
  // fit in the node's free memory at open. Always pre-faulted, so that placement is verified.
  uint64_t capacity_bytes = 256ull << 20;
};

class NumaTier final : public FrameTier {
 public:
  static Result<std::unique_ptr<NumaTier>> Open(const NumaTierOptions& options);

  int node() const { return node_; }
  int BoundNode() const override { return node_; }
  // Frames found on another node (or not present) by the last check: at open, or Verify().
  uint64_t misplaced_frames() const { return misplaced_frames_.load(std::memory_order_relaxed); }
  // Frames checked: all of the tier's frames.
  uint64_t verified_frames() const { return verified_frames_; }

  // Asks the kernel again where every frame is (move_pages) and updates misplaced_frames.
  // Returns the number misplaced. Cold path: one system call per 4096 frames.
  Result<uint64_t> Verify();

 protected:
  void DoExportStats(StatsSink& sink) const override;

 private:
  NumaTier(std::string name, int node, FrameArena arena, uint64_t misplaced);

  const int node_;
  const uint64_t verified_frames_;
  // Relaxed: a statistic, written by Verify and read by stats export; nothing is ordered by it.
  std::atomic<uint64_t> misplaced_frames_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_NUMA_TIER_H_
