// NumaTier and NUMA topology discovery, on real memory.
//
// On a one-node machine the far-node tests skip; in the lab (scripts/lab-test.sh: memory-only
// nodes 1 and 2, and node 3 when the NVDIMM is onlined as RAM) they run, and
// TIERSWAP_FAIL_ON_SKIP=1 turns a skip into a failure so a lab run cannot pass without having
// checked placement on the far nodes.
#include "tiers/numa_tier.h"

#include <gtest/gtest.h>
#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/support/hardware.h"
#include "tests/support/recording_sink.h"
#include "tiers/numa_topology.h"
#include "tiers/page.h"

namespace tierswap {
namespace {

using ::tierswap::testing::FailOnSkip;

using PageBuf = std::array<unsigned char, kPageSize>;

// A page whose every word depends on `seed`, distinct per seed.
PageBuf SeededPage(uint64_t seed) {
  PageBuf p;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < kWordsPerPage; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(p.data() + i * sizeof(x), &x, sizeof(x));
  }
  return p;
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Fills every frame of `tier` with a distinct page, checks the tier is then full, and loads
// every page back. Returns the handles in store order.
std::vector<TierHandle> FillAndCheck(Tier& tier, uint64_t seed_base) {
  const uint64_t frames = tier.capacity_bytes() / kPageSize;
  std::vector<TierHandle> handles(frames);
  for (uint64_t i = 0; i < frames; ++i) {
    EXPECT_EQ(tier.Store(SeededPage(seed_base + i).data(), &handles[i]), Status::kOk) << i;
  }
  TierHandle extra;
  EXPECT_EQ(tier.Store(SeededPage(0).data(), &extra), Status::kNoSpace);
  for (uint64_t i = 0; i < frames; ++i) {
    PageBuf out{};
    EXPECT_EQ(tier.Load(handles[i], out.data()), Status::kOk) << i;
    EXPECT_EQ(out, SeededPage(seed_base + i)) << "frame " << i;
  }
  return handles;
}

class NumaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (numa_available() < 0) TIERSWAP_SKIP_OR_FAIL("needs NUMA support (numa_available() < 0)");
    auto nodes = DiscoverNumaNodes();
    ASSERT_TRUE(nodes) << nodes.error().message;
    nodes_ = std::move(nodes).value();
  }

  const NumaNode* FindNode(int id) const {
    for (const NumaNode& n : nodes_) {
      if (n.id == id) return &n;
    }
    return nullptr;
  }

  std::vector<NumaNode> nodes_;
};

TEST_F(NumaTest, DiscoversNodeZeroWithCpusAndConsistentSizes) {
  const NumaNode* zero = FindNode(0);
  ASSERT_NE(zero, nullptr) << DescribeNumaNodes(nodes_);
  EXPECT_TRUE(zero->has_cpus);
  EXPECT_GT(zero->total_bytes, 0u);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NumaNode& n = nodes_[i];
    SCOPED_TRACE("node " + std::to_string(n.id));
    if (i > 0) {
      EXPECT_LT(nodes_[i - 1].id, n.id);
    }
    EXPECT_LE(n.free_bytes, n.total_bytes);
    ASSERT_GT(n.distances.size(), static_cast<size_t>(n.id));
    EXPECT_EQ(n.distances[static_cast<size_t>(n.id)], 10);
    for (const NumaNode& other : nodes_) {
      if (other.id != n.id) {
        EXPECT_GT(n.distances[static_cast<size_t>(other.id)], 10);
      }
    }
  }
}

TEST(DescribeNumaNodesTest, SummarisesNodesLikeNumactlHardware) {
  const std::vector<NumaNode> nodes = {
      {0, 1970ull << 20, 1512ull << 20, true, {10, 20, 40}},
      {1, 1951ull << 20, 1940ull << 20, false, {20, 10, 45}},
      {2, 2014ull << 20, (2000ull << 20) + 12345, false, {40, 45, 10}},
  };
  EXPECT_EQ(DescribeNumaNodes(nodes),
            "available: 3 nodes (0-2); node 0: 1970 MiB, 1512 MiB free, cpus; "
            "node 1: 1951 MiB, 1940 MiB free, memory-only; "
            "node 2: 2014 MiB, 2000 MiB free, memory-only");
}

TEST(DescribeNumaNodesTest, WritesGapsInNodeIdsAsRanges) {
  std::vector<NumaNode> nodes = {{0, 1ull << 30, 1ull << 29, true, {}},
                                 {2, 1ull << 30, 1ull << 30, false, {}},
                                 {3, 1ull << 30, 1ull << 30, false, {}}};
  EXPECT_EQ(DescribeNumaNodes(nodes).substr(0, 25), "available: 3 nodes (0,2-3");
  nodes.resize(1);
  EXPECT_EQ(DescribeNumaNodes(nodes),
            "available: 1 node (0); node 0: 1024 MiB, 512 MiB free, cpus");
}

TEST_F(NumaTest, NodeZeroTierRoundTripsPagesWithEveryFrameOnTheNode) {
  NumaTierOptions o;
  o.name = "near";
  o.node = 0;
  o.capacity_bytes = (16ull << 20) + 100;  // rounded down to whole frames
  auto tier = NumaTier::Open(o);
  ASSERT_TRUE(tier) << tier.error().message;
  NumaTier& t = **tier;
  EXPECT_EQ(t.kind(), TierKind::kNuma);
  EXPECT_EQ(t.node(), 0);
  EXPECT_EQ(t.capacity_bytes(), 16ull << 20);
  EXPECT_EQ(t.verified_frames(), (16ull << 20) / kPageSize);
  EXPECT_EQ(t.misplaced_frames(), 0u);

  FillAndCheck(t, 1000);
  auto again = t.Verify();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, 0u);

  testing::RecordingSink sink;
  t.ExportStats(sink);
  EXPECT_EQ(sink.TextOf("kind"), "numa");
  EXPECT_EQ(sink.Get("node"), 0u);
  EXPECT_EQ(sink.Get("verified_frames"), 4096u);
  EXPECT_EQ(sink.Get("misplaced_frames"), 0u);
  EXPECT_EQ(sink.Get("stored_pages"), 4096u);
}

TEST_F(NumaTest, OpenRejectsNodeThatDoesNotExistAndListsTheNodesThatDo) {
  for (int bad : {999, -1}) {
    NumaTierOptions o;
    o.name = "cxl";
    o.node = bad;
    o.capacity_bytes = 1 << 20;
    auto tier = NumaTier::Open(o);
    ASSERT_FALSE(tier) << "node " << bad;
    const std::string& msg = tier.error().message;
    EXPECT_EQ(tier.error().code, Status::kInvalidArgument);
    EXPECT_NE(msg.find("tier 'cxl'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("NUMA node " + std::to_string(bad) + " does not exist"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("node 0: "), std::string::npos) << msg;
  }
}

TEST_F(NumaTest, OpenRejectsCapacityBeyondNodeFreeMemoryBeforeMappingIt) {
  const NumaNode* zero = FindNode(0);
  ASSERT_NE(zero, nullptr);
  NumaTierOptions o;
  o.node = 0;
  // 1 GiB more than is free: large enough that mapping and touching it would show in RSS (or
  // summon the OOM killer), far beyond what free memory can grow by meanwhile.
  o.capacity_bytes = zero->free_bytes / kPageSize * kPageSize + (1ull << 30);
  const uint64_t rss_before = ResidentBytes();
  auto tier = NumaTier::Open(o);
  const uint64_t rss_after = ResidentBytes();
  ASSERT_FALSE(tier);
  const std::string& msg = tier.error().message;
  EXPECT_EQ(tier.error().code, Status::kNoMemory);
  EXPECT_NE(msg.find("NUMA node 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(o.capacity_bytes) + " bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("available: "), std::string::npos) << msg;
  EXPECT_LT(rss_after, rss_before + (16ull << 20))
      << "RSS grew from " << rss_before << " to " << rss_after << " bytes";
}

TEST_F(NumaTest, CountMisplacedPagesCountsAbsentPagesAndPagesOnOtherNodes) {
  constexpr size_t kPages = 64;
  const size_t bytes = kPages * kPageSize;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  // Never touched: no page is anywhere yet.
  auto absent = CountMisplacedPages(p, bytes, 0);
  ASSERT_TRUE(absent) << absent.error().message;
  EXPECT_EQ(*absent, kPages);

  auto bound = BindToNode(p, bytes, 0, "test buffer");
  ASSERT_TRUE(bound) << bound.error().message;
  std::memset(p, 0x5a, bytes);
  auto on_zero = CountMisplacedPages(p, bytes, 0);
  ASSERT_TRUE(on_zero) << on_zero.error().message;
  EXPECT_EQ(*on_zero, 0u);
  // Against any other node id, every page is misplaced.
  auto elsewhere = CountMisplacedPages(p, bytes, nodes_.back().id + 1);
  ASSERT_TRUE(elsewhere) << elsewhere.error().message;
  EXPECT_EQ(*elsewhere, kPages);
  munmap(p, bytes);
}

TEST_F(NumaTest, BindToNodeRejectsNodeThatDoesNotExistWithTheSystemsReason) {
  const size_t bytes = 16 * kPageSize;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  for (int bad : {999, -3, 1 << 20}) {
    auto bound = BindToNode(p, bytes, bad, "tier 'far'");
    ASSERT_FALSE(bound) << "node " << bad;
    const std::string& msg = bound.error().message;
    EXPECT_NE(msg.find("tier 'far': cannot bind 65536 bytes to NUMA node " + std::to_string(bad)),
              std::string::npos)
        << msg;
  }
  munmap(p, bytes);
}

TEST_F(NumaTest, FarNodeFramesLandOnTheirNode) {
  std::vector<const NumaNode*> far;
  for (const NumaNode& n : nodes_) {
    if (!n.has_cpus && n.total_bytes > 0) far.push_back(&n);
  }
  if (far.empty()) {
    TIERSWAP_SKIP_OR_FAIL("needs a memory-only NUMA node; runs in the lab, scripts/lab-test.sh (" +
                          DescribeNumaNodes(nodes_) + ")");
  }
  for (const NumaNode* n : far) {
    SCOPED_TRACE("node " + std::to_string(n->id));
    NumaTierOptions o;
    o.name = "far" + std::to_string(n->id);
    o.node = n->id;
    o.capacity_bytes = 32ull << 20;
    auto tier = NumaTier::Open(o);
    ASSERT_TRUE(tier) << tier.error().message;
    NumaTier& t = **tier;
    EXPECT_EQ(t.verified_frames(), (32ull << 20) / kPageSize);
    EXPECT_EQ(t.misplaced_frames(), 0u);
    FillAndCheck(t, uint64_t(n->id) << 32);
    auto again = t.Verify();
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, 0u);
    std::printf(
        "[ info     ] node %d (%llu MiB, memory-only): %llu frames verified, %llu misplaced "
        "at open, %llu after filling\n",
        n->id, static_cast<unsigned long long>(n->total_bytes >> 20),
        static_cast<unsigned long long>(t.verified_frames()),
        static_cast<unsigned long long>(t.misplaced_frames()),
        static_cast<unsigned long long>(*again));
  }
}

TEST_F(NumaTest, VerifyCountsFramesMovedToAnotherNode) {
  std::vector<const NumaNode*> with_memory;
  for (const NumaNode& n : nodes_) {
    if (n.free_bytes >= (64ull << 20)) with_memory.push_back(&n);
  }
  if (with_memory.size() < 2) {
    TIERSWAP_SKIP_OR_FAIL(
        "needs two NUMA nodes with memory; runs in the lab, scripts/lab-test.sh (" +
        DescribeNumaNodes(nodes_) + ")");
  }
  const int from = with_memory[with_memory.size() - 2]->id;
  const int to = with_memory.back()->id;
  NumaTierOptions o;
  o.node = from;
  o.capacity_bytes = 4ull << 20;
  auto tier = NumaTier::Open(o);
  ASSERT_TRUE(tier) << tier.error().message;
  NumaTier& t = **tier;
  ASSERT_EQ(t.misplaced_frames(), 0u);
  const std::vector<TierHandle> handles = FillAndCheck(t, 77);

  // Move every frame behind the tier's back, as a migration daemon or an operator might.
  std::vector<void*> pages;
  for (TierHandle h : handles) pages.push_back(t.FrameAddress(h));
  std::vector<int> nodes(pages.size(), to), status(pages.size(), 0);
  ASSERT_EQ(move_pages(0, pages.size(), pages.data(), nodes.data(), status.data(), MPOL_MF_MOVE), 0)
      << std::strerror(errno);

  auto moved = t.Verify();
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(*moved, t.verified_frames());
  EXPECT_EQ(t.misplaced_frames(), t.verified_frames());
  for (size_t i = 0; i < handles.size(); ++i) {
    PageBuf out{};
    ASSERT_EQ(t.Load(handles[i], out.data()), Status::kOk);
    ASSERT_EQ(out, SeededPage(77 + i)) << "frame " << i << " after moving";
  }
}

}  // namespace
}  // namespace tierswap
