// `tierswap probe`: what memory this machine has, and what each tier costs on it.
//
// Before writing a config, one wants `numactl --hardware` and a measurement in one place: the
// NUMA nodes (CPUs, size, free memory, SLIT distances, the firmware's HMAT figures), the DAX
// filesystems and pmem/dax devices, and then, per tier, what a 4 KiB load and store really cost
// (placement/probe.h). With --config it probes each configured tier, opened exactly as a backend
// would open it; without, one candidate of each kind: a numa tier per node with free memory, a
// pmem tier on anonymous memory and on each writable DAX mount, and a compressed (lz4) tier.
// Each tier is opened, probed and closed in turn, so only one holds memory at a time; a pmem
// pool file that did not exist before the probe is removed after it.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/backend_factory.h"
#include "frontend/cli/commands.h"
#include "frontend/config.h"
#include "frontend/json_writer.h"
#include "frontend/replay.h"
#include "placement/probe.h"
#include "tiers/memory_attributes.h"
#include "tiers/numa_topology.h"

namespace tierswap {
namespace {

constexpr uint64_t kCandidateBytes = 64ull << 20;
constexpr uint64_t kMinCandidateBytes = 1ull << 20;

struct ProbeArgs {
  std::string config;
  bool json = false;
  double budget_ms = 200;
};

// ---- what the machine has ---------------------------------------------------------------------

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) return "";
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

// "0-2", "0,2-3": the ids as ranges.
std::string RangeList(const std::vector<int>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(ids[i]);
    if (j > i) out += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

struct NodeInfo {
  NumaNode node;
  std::string cpus;  // the kernel's cpulist, "" for a memory-only node
  NodeAttributes attributes;
};

struct DaxMount {
  std::string device, mount, fstype, options;
  uint64_t size_bytes = 0, free_bytes = 0;
  bool writable = false;
};

struct DaxDevice {
  std::string path;
  uint64_t size_bytes = 0;
  std::string target_node;  // the NUMA node the memory belongs to, "" when unknown
};

struct Machine {
  std::vector<NodeInfo> nodes;
  std::string numa_error;  // why there are no nodes
  std::vector<DaxMount> mounts;
  std::vector<DaxDevice> devices;
  uint64_t mem_available = 0;  // /proc/meminfo MemAvailable
};

// A mount is DAX when its options say dax, dax=always or dax=inode (not dax=never).
bool HasDaxOption(const std::string& options) {
  std::stringstream ss(options);
  std::string opt;
  while (std::getline(ss, opt, ',')) {
    if (opt == "dax" || opt == "dax=always" || opt == "dax=inode") return true;
  }
  return false;
}

std::vector<DaxMount> FindDaxMounts() {
  std::vector<DaxMount> out;
  std::ifstream f("/proc/mounts");
  std::string line;
  while (std::getline(f, line)) {
    std::stringstream ss(line);
    DaxMount m;
    if (!(ss >> m.device >> m.mount >> m.fstype >> m.options)) continue;
    if (!HasDaxOption(m.options)) continue;
    struct statvfs vfs {};
    if (statvfs(m.mount.c_str(), &vfs) == 0) {
      m.size_bytes = uint64_t{vfs.f_blocks} * vfs.f_frsize;
      m.free_bytes = uint64_t{vfs.f_bavail} * vfs.f_frsize;
    }
    m.writable = access(m.mount.c_str(), W_OK) == 0;
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<DaxDevice> FindDaxDevices() {
  std::vector<DaxDevice> out;
  DIR* d = opendir("/dev");
  if (d == nullptr) return out;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.rfind("dax", 0) == 0 || n.rfind("pmem", 0) == 0) names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    DaxDevice dev;
    dev.path = "/dev/" + n;
    if (n.rfind("pmem", 0) == 0) {
      const std::string sys = "/sys/class/block/" + n;
      const std::string sectors = ReadFirstLine(sys + "/size");
      dev.size_bytes = std::strtoull(sectors.c_str(), nullptr, 10) * 512;
      // The namespace, then its region, may name the node the memory belongs to.
      dev.target_node = ReadFirstLine(sys + "/device/target_node");
      if (dev.target_node.empty()) dev.target_node = ReadFirstLine(sys + "/device/../target_node");
    } else {
      const std::string sys = "/sys/bus/dax/devices/" + n;
      const std::string size = ReadFirstLine(sys + "/size");
      dev.size_bytes = std::strtoull(size.c_str(), nullptr, 10);
      dev.target_node = ReadFirstLine(sys + "/target_node");
    }
    if (dev.target_node == "-1") dev.target_node.clear();
    out.push_back(std::move(dev));
  }
  return out;
}

uint64_t MemAvailable() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (f >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

Machine Discover() {
  Machine m;
  Result<std::vector<NumaNode>> nodes = DiscoverNumaNodes();
  if (nodes) {
    for (const NumaNode& n : *nodes) {
      NodeInfo info{
          n, ReadFirstLine("/sys/devices/system/node/node" + std::to_string(n.id) + "/cpulist"),
          ReadNodeAttributes(n.id)};
      m.nodes.push_back(std::move(info));
    }
  } else {
    m.numa_error = nodes.error().message;
  }
  m.mounts = FindDaxMounts();
  m.devices = FindDaxDevices();
  m.mem_available = MemAvailable();
  return m;
}

// ---- the tiers to probe -----------------------------------------------------------------------

struct Candidate {
  TierConfig config;
  uint64_t backing_free = 0;  // free memory (or filesystem space) where its memory comes from
  std::string remove_after;   // a pool file this probe created, deleted after probing
};

struct ProbedTier {
  Candidate candidate;
  int node = -1;
  TierProbe probe;
  std::string error;  // the tier could not be opened: why
};

uint64_t PageFloor(uint64_t bytes) { return bytes & ~uint64_t{4095}; }

uint64_t NodeFree(const Machine& m, int node) {
  for (const NodeInfo& n : m.nodes) {
    if (n.node.id == node) return n.node.free_bytes;
  }
  return 0;
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

uint64_t BackingFree(const Machine& m, const TierConfig& tc) {
  if (tc.kind == TierKind::kNuma || (tc.kind == TierKind::kCompressed && tc.backing == "numa")) {
    return NodeFree(m, tc.node);
  }
  if (tc.kind == TierKind::kPmem && tc.path != "anon") {
    struct stat st {};
    if (stat(tc.path.c_str(), &st) == 0 && S_ISCHR(st.st_mode)) return 0;  // device DAX
    struct statvfs vfs {};
    if (statvfs(ParentDir(tc.path).c_str(), &vfs) == 0) {
      return uint64_t{vfs.f_bavail} * vfs.f_frsize;
    }
    return 0;
  }
  return m.mem_available;
}

std::vector<Candidate> DefaultCandidates(const Machine& m) {
  std::vector<Candidate> out;
  auto add = [&](TierConfig tc, uint64_t free, std::string remove_after = "") {
    out.push_back({std::move(tc), free, std::move(remove_after)});
  };
  // Half of what is free at most: the probe must not push the machine into reclaim.
  auto size_for = [](uint64_t free) { return PageFloor(std::min(kCandidateBytes, free / 2)); };
  for (const NodeInfo& n : m.nodes) {
    const uint64_t bytes = size_for(n.node.free_bytes);
    if (bytes < kMinCandidateBytes) continue;
    TierConfig tc;
    tc.name = "node" + std::to_string(n.node.id);
    tc.kind = TierKind::kNuma;
    tc.node = n.node.id;
    tc.capacity_bytes = bytes;
    add(tc, n.node.free_bytes);
  }
  if (m.nodes.empty()) {  // no NUMA support: local memory is all there is
    TierConfig tc;
    tc.name = "dram";
    tc.kind = TierKind::kDram;
    tc.capacity_bytes = size_for(m.mem_available);
    add(tc, m.mem_available);
  }
  {
    TierConfig tc;
    tc.name = "pmem-anon";
    tc.kind = TierKind::kPmem;
    tc.path = "anon";
    tc.capacity_bytes = size_for(m.mem_available);
    add(tc, m.mem_available);
  }
  int dax = 0;
  for (const DaxMount& mount : m.mounts) {
    const uint64_t bytes = size_for(mount.free_bytes);
    if (!mount.writable || bytes < kMinCandidateBytes) continue;
    TierConfig tc;
    tc.name = "pmem-dax" + (dax == 0 ? std::string() : std::to_string(dax));
    ++dax;
    tc.kind = TierKind::kPmem;
    tc.path = mount.mount + "/.tierswap-probe-" + std::to_string(getpid()) + ".pool";
    tc.capacity_bytes = bytes;
    add(tc, mount.free_bytes, tc.path);
  }
  {
    TierConfig tc;
    tc.name = "compressed-lz4";
    tc.kind = TierKind::kCompressed;
    tc.codec = "lz4";
    tc.capacity_bytes = size_for(m.mem_available);
    add(tc, m.mem_available);
  }
  return out;
}

ProbedTier ProbeOne(const Candidate& c, const std::string& source, const ProbeArgs& args) {
  ProbedTier p;
  p.candidate = c;
  Result<std::unique_ptr<Tier>> tier = OpenTier(c.config, source);
  if (!tier) {
    p.error = tier.error().message;
  } else {
    ProbeOptions po;
    po.budget_ms = args.budget_ms;
    p.probe = ProbeTier(**tier, po);
    p.node = (*tier)->BoundNode();
    tier->reset();
  }
  if (!c.remove_after.empty()) unlink(c.remove_after.c_str());
  return p;
}

// ---- the readable report ----------------------------------------------------------------------

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

// "250 ns", or "-" for an unknown figure; `with_source` adds " (hmat)" and the like.
std::string Latency(const Figure& f, bool with_source) {
  if (!f.known()) return "-";
  std::string s = FormatNanos(f.value);
  if (with_source) s += std::string(" (") + FigureSourceName(f.source) + ")";
  return s;
}

std::string Bandwidth(const Figure& f, bool with_source) {
  if (!f.known()) return "-";
  std::string s = Fmt("%.0f MB/s", f.value);
  if (with_source) s += std::string(" (") + FigureSourceName(f.source) + ")";
  return s;
}

std::string NodeReport(const Machine& m) {
  std::string out;
  if (m.nodes.empty()) {
    return "NUMA nodes: none discovered (" + m.numa_error + ")\n";
  }
  std::vector<int> ids;
  for (const NodeInfo& n : m.nodes) ids.push_back(n.node.id);
  out += "available: " + std::to_string(m.nodes.size()) +
         (m.nodes.size() == 1 ? " node (" : " nodes (") + RangeList(ids) + ")\n";
  std::vector<std::vector<std::string>> rows = {{"node", "cpus", "size", "free", "read latency",
                                                 "write latency", "read bandwidth",
                                                 "write bandwidth"}};
  for (const NodeInfo& n : m.nodes) {
    rows.push_back({std::to_string(n.node.id), n.cpus.empty() ? "none" : n.cpus,
                    FormatBytes(n.node.total_bytes), FormatBytes(n.node.free_bytes),
                    Latency(n.attributes.read_latency_ns, true),
                    Latency(n.attributes.write_latency_ns, true),
                    Bandwidth(n.attributes.read_bandwidth_mbps, true),
                    Bandwidth(n.attributes.write_bandwidth_mbps, true)});
  }
  out += RenderTextTable(rows, "");
  out +=
      "(latency and bandwidth seen from the nearest CPUs, as the firmware states them:\n"
      " hmat = ACPI HMAT, slit = estimated from the NUMA distance)\n";
  out += "node distances:\n";
  std::vector<std::vector<std::string>> dist = {{"node"}};
  for (int id : ids) dist[0].push_back(std::to_string(id));
  for (const NodeInfo& n : m.nodes) {
    std::vector<std::string> row = {std::to_string(n.node.id) + ":"};
    for (int id : ids) {
      const auto& d = n.node.distances;
      row.push_back(id >= 0 && static_cast<size_t>(id) < d.size() && d[id] != 0
                        ? std::to_string(d[id])
                        : "-");
    }
    dist.push_back(std::move(row));
  }
  out += RenderTextTable(dist, "  ");
  return out;
}

std::string DaxReport(const Machine& m) {
  std::string out = "\nDAX mounts:";
  if (m.mounts.empty()) {
    out += " none\n";
  } else {
    out += "\n";
    std::vector<std::vector<std::string>> rows = {
        {"mount", "device", "type", "size", "free", "options"}};
    for (const DaxMount& d : m.mounts) {
      rows.push_back({d.mount, d.device, d.fstype, FormatBytes(d.size_bytes),
                      FormatBytes(d.free_bytes), d.options});
    }
    out += RenderTextTable(rows, "  ");
  }
  out += "pmem and DAX devices:";
  if (m.devices.empty()) {
    out += " none\n";
  } else {
    out += "\n";
    std::vector<std::vector<std::string>> rows = {{"device", "size", "target node"}};
    for (const DaxDevice& d : m.devices) {
      rows.push_back({d.path, d.size_bytes == 0 ? "-" : FormatBytes(d.size_bytes),
                      d.target_node.empty() ? "-" : d.target_node});
    }
    out += RenderTextTable(rows, "  ");
  }
  return out;
}

// Each tier's place in the order stores try them when a backend opens: by expected load for a
// policy that places by cost (ties within 10% keep file order, as the engine ranks), file order
// for the static policy. -1 for a tier that did not open.
std::vector<int> OpenRanks(const std::vector<ProbedTier>& tiers, bool by_cost) {
  std::vector<TierProbe> probes;
  std::vector<size_t> opened;
  for (size_t i = 0; i < tiers.size(); ++i) {
    if (!tiers[i].error.empty()) continue;
    probes.push_back(tiers[i].probe);
    opened.push_back(i);
  }
  std::vector<unsigned> order(probes.size());
  for (unsigned i = 0; i < order.size(); ++i) order[i] = i;
  if (by_cost) order = RankTiers(probes);
  std::vector<int> rank(tiers.size(), -1);
  for (size_t r = 0; r < order.size(); ++r) rank[opened[order[r]]] = static_cast<int>(r);
  return rank;
}

std::string TierReport(const std::vector<ProbedTier>& tiers, double budget_ms, bool by_cost) {
  std::string out = "\ntiers: measured with 4 KiB pages flushed from the CPU caches (" +
                    Fmt("%.0f", budget_ms) + " ms budget each)\n";
  std::vector<std::vector<std::string>> rows = {{"tier", "kind", "rank", "node", "capacity", "free",
                                                 "load p50", "load p99", "store p50", "chase",
                                                 "copy", "expected load", "probe"}};
  const std::vector<int> ranks = OpenRanks(tiers, by_cost);
  std::vector<std::string> errors;
  for (const ProbedTier& t : tiers) {
    const TierConfig& tc = t.candidate.config;
    const std::string free =
        t.candidate.backing_free == 0 ? "-" : FormatBytes(t.candidate.backing_free);
    if (!t.error.empty()) {
      rows.push_back({tc.name, TierKindName(tc.kind), "-", "-", FormatBytes(tc.capacity_bytes),
                      free, "not opened", "", "", "", "", "", ""});
      errors.push_back(tc.name + ": " + t.error);
      continue;
    }
    const TierProbe& p = t.probe;
    const size_t i = static_cast<size_t>(&t - tiers.data());
    rows.push_back({tc.name, TierKindName(tc.kind), std::to_string(ranks[i]),
                    t.node < 0 ? "-" : std::to_string(t.node), FormatBytes(tc.capacity_bytes), free,
                    Latency(p.load_p50_ns, false), Latency(p.load_p99_ns, false),
                    Latency(p.store_p50_ns, false), Latency(p.chase_ns, false),
                    Bandwidth(p.copy_bandwidth_mbps, false), Latency(p.expected_load_ns, true),
                    Fmt("%.0f ms", p.probe_ms)});
  }
  out += RenderTextTable(rows, "");
  out +=
      "(free: free memory where the tier's memory comes from: its node, the DAX filesystem or\n"
      " the machine; chase: dependent 64-byte reads; copy: back-to-back 4 KiB loads;\n" +
      std::string(by_cost ? " rank: the order stores try the tiers at open, by expected load; the "
                            "mover re-ranks\n by live cost)\n"
                          : " rank: the order stores try the tiers: file order, as the static "
                            "policy keeps it)\n");

  out += "\nfirmware figures and emulation per tier\n";
  std::vector<std::vector<std::string>> fw = {{"tier", "node", "read latency", "write latency",
                                               "read bandwidth", "write bandwidth", "emulated"}};
  for (const ProbedTier& t : tiers) {
    if (!t.error.empty()) continue;
    const TierProbe& p = t.probe;
    std::string emu = "-";
    if (p.emulated_read_latency_ns.known() || p.emulated_write_latency_ns.known() ||
        p.emulated_bandwidth_mbps.known()) {
      emu = "read " + Latency(p.emulated_read_latency_ns, false) + ", write " +
            Latency(p.emulated_write_latency_ns, false) + ", " +
            (p.emulated_bandwidth_mbps.known() ? Bandwidth(p.emulated_bandwidth_mbps, false)
                                               : std::string("unlimited"));
    }
    fw.push_back({t.candidate.config.name, t.node < 0 ? "-" : std::to_string(t.node),
                  Latency(p.hmat_read_latency_ns, true), Latency(p.hmat_write_latency_ns, true),
                  Bandwidth(p.hmat_read_bandwidth_mbps, true),
                  Bandwidth(p.hmat_write_bandwidth_mbps, true), emu});
  }
  out += RenderTextTable(fw, "");
  for (const std::string& e : errors) out += "not opened: " + e + "\n";
  return out;
}

// ---- JSON -------------------------------------------------------------------------------------

void FigureJson(JsonWriter& w, const std::string& name, const Figure& f) {
  w.Key(name).Double(f.value);
  w.Key(name + "_source").String(FigureSourceName(f.source));
}

std::string ProbeJson(const Machine& m, const std::vector<ProbedTier>& tiers, double budget_ms) {
  JsonWriter w(/*pretty=*/true);
  w.BeginObject();
  if (!m.numa_error.empty()) w.Key("numa_error").String(m.numa_error);
  w.Key("nodes").BeginArray();
  for (const NodeInfo& n : m.nodes) {
    w.BeginObject();
    w.Key("node").Int(n.node.id);
    w.Key("cpus").String(n.cpus);
    w.Key("has_cpus").Bool(n.node.has_cpus);
    w.Key("total_bytes").Uint(n.node.total_bytes);
    w.Key("free_bytes").Uint(n.node.free_bytes);
    w.Key("distances").BeginArray();
    for (const NodeInfo& to : m.nodes) {
      const auto& d = n.node.distances;
      const int id = to.node.id;
      w.Int(id >= 0 && static_cast<size_t>(id) < d.size() ? d[id] : 0);
    }
    w.EndArray();
    FigureJson(w, "read_latency_ns", n.attributes.read_latency_ns);
    FigureJson(w, "write_latency_ns", n.attributes.write_latency_ns);
    FigureJson(w, "read_bandwidth_mbps", n.attributes.read_bandwidth_mbps);
    FigureJson(w, "write_bandwidth_mbps", n.attributes.write_bandwidth_mbps);
    w.EndObject();
  }
  w.EndArray();
  w.Key("dax_mounts").BeginArray();
  for (const DaxMount& d : m.mounts) {
    w.BeginObject().Key("mount").String(d.mount).Key("device").String(d.device);
    w.Key("fstype").String(d.fstype).Key("options").String(d.options);
    w.Key("size_bytes").Uint(d.size_bytes).Key("free_bytes").Uint(d.free_bytes);
    w.Key("writable").Bool(d.writable).EndObject();
  }
  w.EndArray();
  w.Key("dax_devices").BeginArray();
  for (const DaxDevice& d : m.devices) {
    w.BeginObject().Key("path").String(d.path).Key("size_bytes").Uint(d.size_bytes);
    w.Key("target_node");
    if (d.target_node.empty()) {
      w.Null();
    } else {
      w.Int(std::atoi(d.target_node.c_str()));
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("budget_ms").Double(budget_ms);
  w.Key("tiers").BeginArray();
  for (const ProbedTier& t : tiers) {
    const TierConfig& tc = t.candidate.config;
    w.BeginObject();
    w.Key("name").String(tc.name);
    w.Key("kind").String(TierKindName(tc.kind));
    w.Key("capacity_bytes").Uint(tc.capacity_bytes);
    w.Key("backing_free_bytes").Uint(t.candidate.backing_free);
    if (!t.error.empty()) {
      w.Key("error").String(t.error);
    } else {
      w.Key("node").Int(t.node);
      JsonStatsSink sink(w);
      ExportProbe(t.probe, sink);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take() + "\n";
}

int RunProbe(const ProbeArgs& args) {
  std::vector<Candidate> candidates;
  std::string source = "<probe>";
  Config config;
  if (!args.config.empty()) {
    Result<Config> c = Config::FromFile(args.config);
    if (!c) return FailCommand("probe", c.error());
    config = std::move(*c);
    source = config.source;
  }

  const Machine machine = Discover();
  if (!args.json) {
    // The machine first: probing takes a moment per tier, and this part is already known.
    const std::string head = NodeReport(machine) + DaxReport(machine);
    std::fwrite(head.data(), 1, head.size(), stdout);
    std::fflush(stdout);
  }

  if (!args.config.empty()) {
    for (const TierConfig& tc : config.tiers) {
      // A pool file the probe brings into being is the probe's to remove; one that exists
      // already holds someone's pages (or will) and stays.
      struct stat st {};
      const bool new_pool = tc.kind == TierKind::kPmem && tc.path != "anon" &&
                            stat(tc.path.c_str(), &st) != 0 && errno == ENOENT;
      candidates.push_back({tc, BackingFree(machine, tc), new_pool ? tc.path : ""});
    }
  } else {
    candidates = DefaultCandidates(machine);
  }

  std::vector<ProbedTier> probed;
  bool failed = false;
  for (const Candidate& c : candidates) {
    probed.push_back(ProbeOne(c, source, args));
    failed |= !probed.back().error.empty();
  }

  const std::string out =
      args.json ? ProbeJson(machine, probed, args.budget_ms)
                : TierReport(probed, args.budget_ms,
                             args.config.empty() || config.placement.policy != "static");
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  // A configured tier that cannot be opened is the config's problem, and a backend would refuse
  // to open with it; a default candidate that cannot is only a fact about this machine.
  if (failed && !args.config.empty()) {
    return FailCommand("probe", "some configured tiers could not be opened (see above).");
  }
  return kExitOk;
}

}  // namespace

Command AddProbeCommand(CLI::App& app) {
  auto args = std::make_shared<ProbeArgs>();
  CLI::App* probe = app.add_subcommand(
      "probe",
      "Show the NUMA nodes, HMAT figures and DAX devices, and measure what each tier costs.");
  probe
      ->add_option("--config", args->config,
                   "Probe the tiers of this configuration (TOML, docs/config.md). Default: a "
                   "numa tier per node with free memory, pmem (anonymous, and on each DAX "
                   "mount) and compressed (lz4), 64 MiB each.")
      ->type_name("FILE");
  probe->add_flag("--json", args->json, "Print one JSON object instead of the tables.");
  probe
      ->add_option("--budget-ms", args->budget_ms,
                   "Wall time the measurements of one tier may take.")
      ->default_val(200)
      ->check(CLI::Range(1.0, 60'000.0))
      ->type_name("MS");
  probe->footer(
      "The node table is what `numactl --hardware` shows, with the firmware's latency and "
      "bandwidth (ACPI HMAT through hwloc or sysfs; a SLIT-based estimate where there is no "
      "HMAT). Each tier is then opened as a backend would open it, and timed: 4 KiB loads "
      "(p50, p99) and stores of pages flushed from the CPU caches, dependent 64-byte reads "
      "(chase), back-to-back page loads (copy). Every figure says where it came from.\n"
      "Exit status: 0, or 2 when the config cannot be read or one of its tiers cannot be "
      "opened.\n\n"
      "Examples:\n"
      "  tierswap probe\n"
      "  tierswap probe --config examples/all-tiers.toml\n"
      "  tierswap probe --json | python3 -m json.tool");
  return {probe, [args] { return RunProbe(*args); }};
}

}  // namespace tierswap
