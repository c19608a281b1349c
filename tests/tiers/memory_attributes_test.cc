// Memory attributes: HMAT figures through hwloc and sysfs, and the SLIT estimate without them.
//
// Outside the lab this machine may or may not have an HMAT, so node 0 is only checked for being
// described consistently. In the lab (scripts/lab/run-in-lab, run by scripts/lab-test.sh) the
// firmware's figures are those of the topology file, which the lab passes in TIERSWAP_LAB_HMAT
// ("node=read_latency,write_latency,read_bandwidth,write_bandwidth ..."), and
// TIERSWAP_FAIL_ON_SKIP=1 turns the skip elsewhere into a failure.
#include "tiers/memory_attributes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/hardware.h"
#include "tiers/numa_topology.h"

namespace tierswap {
namespace {

bool InLab() {
  const char* v = std::getenv("TIERSWAP_LAB");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

// What the lab's firmware states for each memory node (from its local initiator).
struct LabNode {
  int node;
  double read_latency, write_latency, read_bandwidth, write_bandwidth;
};

std::vector<LabNode> LabHmat() {
  std::vector<LabNode> out;
  const char* v = std::getenv("TIERSWAP_LAB_HMAT");
  std::istringstream in(v == nullptr ? "" : v);
  std::string item;
  while (in >> item) {
    LabNode n{};
    if (std::sscanf(item.c_str(), "%d=%lf,%lf,%lf,%lf", &n.node, &n.read_latency, &n.write_latency,
                    &n.read_bandwidth, &n.write_bandwidth) == 5) {
      out.push_back(n);
    } else {
      ADD_FAILURE() << "TIERSWAP_LAB_HMAT has an entry that is not node=rl,wl,rb,wb: " << item;
    }
  }
  return out;
}

void ExpectFigure(const Figure& f, FigureSource source, double value, const std::string& what) {
  EXPECT_EQ(FigureSourceName(f.source), std::string(FigureSourceName(source))) << what;
  EXPECT_EQ(f.value, value) << what;
}

void ExpectNone(const NodeAttributes& a, const std::string& what) {
  EXPECT_FALSE(a.read_latency_ns.known()) << what;
  EXPECT_FALSE(a.write_latency_ns.known()) << what;
  EXPECT_FALSE(a.read_bandwidth_mbps.known()) << what;
  EXPECT_FALSE(a.write_bandwidth_mbps.known()) << what;
}

// A private copy of the sysfs layout, removed at the end.
class FakeSysfs {
 public:
  FakeSysfs() {
    root_ = std::filesystem::temp_directory_path() /
            ("memory_attributes_test." + std::to_string(getpid()));
    std::filesystem::create_directories(root_);
  }
  ~FakeSysfs() { std::filesystem::remove_all(root_); }
  void Write(int node, const char* file, const char* text) {
    const auto dir = root_ / ("node" + std::to_string(node)) / "access0" / "initiators";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / file) << text;
  }
  std::string root() const { return root_.string(); }

 private:
  std::filesystem::path root_;
};

TEST(MemoryAttributesTest, SlitEstimateScalesTheLocalLatencyByDistance) {
  ExpectFigure(SlitLatency(20, 100), FigureSource::kSlit, 200, "distance 20");
  ExpectFigure(SlitLatency(10, 80), FigureSource::kSlit, 80, "distance 10");
  ExpectFigure(SlitLatency(45, 100), FigureSource::kSlit, 450, "distance 45");
}

TEST(MemoryAttributesTest, SlitEstimateNeedsADistanceAndALocalLatency) {
  EXPECT_FALSE(SlitLatency(0, 100).known());    // not a node
  EXPECT_FALSE(SlitLatency(255, 100).known());  // unreachable
  EXPECT_FALSE(SlitLatency(20, 0).known());
  EXPECT_FALSE(SlitLatency(20, -5).known());
}

TEST(MemoryAttributesTest, SysfsReaderTakesTheKernelsHmatCopy) {
  FakeSysfs sysfs;
  sysfs.Write(2, "read_latency", "500\n");
  sysfs.Write(2, "write_latency", "1000\n");
  sysfs.Write(2, "read_bandwidth", "8192\n");
  sysfs.Write(2, "write_bandwidth", "0\n");  // the kernel's "not stated"
  const NodeAttributes a = ReadSysfsNodeAttributes(2, sysfs.root());
  ExpectFigure(a.read_latency_ns, FigureSource::kHmat, 500, "read_latency");
  ExpectFigure(a.write_latency_ns, FigureSource::kHmat, 1000, "write_latency");
  ExpectFigure(a.read_bandwidth_mbps, FigureSource::kHmat, 8192, "read_bandwidth");
  EXPECT_FALSE(a.write_bandwidth_mbps.known());
}

TEST(MemoryAttributesTest, SysfsReaderWithoutFilesKnowsNothing) {
  FakeSysfs sysfs;
  sysfs.Write(1, "read_latency", "garbage\n");
  ExpectNone(ReadSysfsNodeAttributes(1, sysfs.root()), "node 1, unparsable file");
  ExpectNone(ReadSysfsNodeAttributes(3, sysfs.root()), "node 3, no directory");
}

TEST(MemoryAttributesTest, NodeZeroTakesTheFirmwaresFigureElseTheSlitEstimate) {
  // What this machine states decides what must come out: the kernel's copy of the HMAT when it
  // has one, else the SLIT estimate for a node with CPUs (its own initiator, at distance 10).
  const NodeAttributes sysfs = ReadSysfsNodeAttributes(0);
  const NodeAttributes a = ReadNodeAttributes(0);
  if (sysfs.read_latency_ns.known()) {
    ExpectFigure(a.read_latency_ns, FigureSource::kHmat, sysfs.read_latency_ns.value, "node 0");
    // A firmware figure is not replaced by a local latency given for estimates.
    EXPECT_EQ(ReadNodeAttributes(0, 80).read_latency_ns.value, sysfs.read_latency_ns.value);
  } else {
    auto nodes = DiscoverNumaNodes();
    ASSERT_TRUE(nodes) << nodes.error().message;
    bool zero_has_cpus = false;
    for (const NumaNode& n : *nodes) zero_has_cpus |= n.id == 0 && n.has_cpus;
    if (zero_has_cpus) {
      ExpectFigure(a.read_latency_ns, FigureSource::kSlit, kNominalLocalLatencyNs, "node 0");
      EXPECT_EQ(ReadNodeAttributes(0, 80).read_latency_ns.value, 80);
      // No HMAT: the SLIT says nothing about bandwidth.
      EXPECT_FALSE(a.read_bandwidth_mbps.known());
    } else {
      ExpectNone(a, "node 0 without CPUs or HMAT");
    }
  }
  // Whatever the source, hwloc agrees with the combination where it states a value.
  const NodeAttributes h = ReadHwlocNodeAttributes(0);
  if (h.read_latency_ns.known()) {
    EXPECT_EQ(a.read_latency_ns.value, h.read_latency_ns.value);
  }
}

TEST(MemoryAttributesTest, NodesThatDoNotExistHaveNoFigures) {
  ExpectNone(ReadNodeAttributes(-1), "node -1");
  ExpectNone(ReadNodeAttributes(4000), "node 4000");
  ExpectNone(ReadHwlocNodeAttributes(4000), "hwloc, node 4000");
}

TEST(MemoryAttributesTest, ConcurrentReadersSeeTheSameFigures) {
  const NodeAttributes first = ReadNodeAttributes(0);
  std::vector<std::thread> threads;
  std::vector<NodeAttributes> seen(4);
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&seen, t] {
      for (int i = 0; i < 20; ++i) seen[t] = ReadNodeAttributes(0);
    });
  }
  for (auto& th : threads) th.join();
  for (const NodeAttributes& a : seen) {
    EXPECT_EQ(a.read_latency_ns.source, first.read_latency_ns.source);
    EXPECT_EQ(a.read_latency_ns.value, first.read_latency_ns.value);
    EXPECT_EQ(a.read_bandwidth_mbps.value, first.read_bandwidth_mbps.value);
  }
}

// The lab's firmware figures, from each reader alone (so that a broken hwloc path is not hidden
// by the sysfs one) and combined, for every memory node of the lab's topology.
class LabAttributesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!InLab()) {
      TIERSWAP_SKIP_OR_FAIL(
          "needs the lab's HMAT (TIERSWAP_LAB=1 is not set): run this binary under "
          "scripts/lab/run-in-lab (scripts/lab-test.sh)");
    }
    nodes_ = LabHmat();
    ASSERT_FALSE(nodes_.empty()) << "the lab states no HMAT figures (TIERSWAP_LAB_HMAT)";
  }
  std::vector<LabNode> nodes_;
};

void ExpectNode(const NodeAttributes& a, const LabNode& n, const std::string& who) {
  ExpectFigure(a.read_latency_ns, FigureSource::kHmat, n.read_latency, who + " read_latency_ns");
  ExpectFigure(a.write_latency_ns, FigureSource::kHmat, n.write_latency, who + " write_latency_ns");
  ExpectFigure(a.read_bandwidth_mbps, FigureSource::kHmat, n.read_bandwidth,
               who + " read_bandwidth_mbps");
  ExpectFigure(a.write_bandwidth_mbps, FigureSource::kHmat, n.write_bandwidth,
               who + " write_bandwidth_mbps");
}

TEST_F(LabAttributesTest, EveryNodeReportsTheFirmwaresLatencyAndBandwidth) {
  for (const LabNode& n : nodes_)
    ExpectNode(ReadNodeAttributes(n.node), n, "node " + std::to_string(n.node));
}

TEST_F(LabAttributesTest, HwlocReadsTheHmatOnItsOwn) {
  for (const LabNode& n : nodes_) {
    ExpectNode(ReadHwlocNodeAttributes(n.node), n, "hwloc node " + std::to_string(n.node));
  }
}

TEST_F(LabAttributesTest, SysfsReadsTheHmatOnItsOwn) {
  for (const LabNode& n : nodes_) {
    ExpectNode(ReadSysfsNodeAttributes(n.node), n, "sysfs node " + std::to_string(n.node));
  }
}

}  // namespace
}  // namespace tierswap
