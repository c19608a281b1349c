"""Lab topologies: a small TOML file that describes a guest's NUMA nodes, their firmware tables
(ACPI SLIT distances, HMAT latency and bandwidth per initiator/target pair) and an NVDIMM.

One module answers every question about a topology, so that the lab (run-in-lab), its self-test
and the node sweep (bench/node-sweep) agree: Load() reads and checks a file, qemu_args() says how
QEMU is told, and the expected_*() functions say what a Linux guest must then show.

The format is documented in docs/emulation.md ("The topology file"); every error names the file,
the key and what to write instead.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib

# Where the shipped topologies live, and the one used when none is named.
TOPOLOGY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "topologies")
DEFAULT_TOPOLOGY = "three-node-nvdimm"

NVDIMM_MODES = ("fsdax", "devdax", "kmem")
PMEM_MOUNT = "/mnt/pmem"  # where an fsdax NVDIMM is mounted with -o dax

# Linux adds and onlines memory in 128 MiB blocks (x86-64 memory block size).
MEMORY_BLOCK_MIB = 128
MAX_NODES = 8  # enough for any lab machine; QEMU and ACPI allow more
MAX_CPUS = 16


class TopologyError(Exception):
    """A topology file that cannot be used; the message names the file, the key and the fix."""


@dataclasses.dataclass(frozen=True)
class Node:
    id: int
    cpus: int  # vCPUs on this node (0: memory-only, or the NVDIMM's own node)
    memory_mib: int  # boot RAM (0: none)
    initiator: int  # the node whose CPUs are closest (HMAT local initiator)
    what: str


@dataclasses.dataclass(frozen=True)
class Access:
    """HMAT figures for one initiator/target pair, in the units Linux shows in sysfs."""
    read_latency_ns: int
    write_latency_ns: int
    read_bandwidth_mbps: int
    write_bandwidth_mbps: int


@dataclasses.dataclass(frozen=True)
class Nvdimm:
    size_mib: int
    node: int
    mode: str  # fsdax | devdax | kmem


@dataclasses.dataclass(frozen=True)
class Topology:
    name: str
    path: str
    description: str
    sockets: int
    nodes: tuple[Node, ...]
    distances: tuple[tuple[int, ...], ...]  # SLIT, row = from, column = to
    hmat: dict[tuple[int, int], Access]  # (initiator, target) -> figures
    nvdimm: Nvdimm | None

    @property
    def cpu_count(self) -> int:
        return sum(n.cpus for n in self.nodes)

    @property
    def ram_mib(self) -> int:
        return sum(n.memory_mib for n in self.nodes)

    def cpu_ranges(self) -> dict[int, tuple[int, int]]:
        """vCPU indices of each node with CPUs, as (first, last), numbered in node order."""
        out, first = {}, 0
        for n in self.nodes:
            if n.cpus:
                out[n.id] = (first, first + n.cpus - 1)
                first += n.cpus
        return out

    def with_overrides(self, nvdimm_mode: str | None = None,
                       node_memory_mib: int | None = None) -> "Topology":
        """The same topology with the NVDIMM in another mode ("none" removes it) or every node
        that has boot RAM given node_memory_mib of it (run-in-lab --nvdimm-mode, --node-memory)."""
        t = self
        if nvdimm_mode is not None:
            if nvdimm_mode == "none":
                t = dataclasses.replace(t, nvdimm=None)
            elif t.nvdimm is None:
                raise TopologyError(f"{t.path}: has no [nvdimm] table, so its mode cannot be set "
                                    f"to '{nvdimm_mode}'")
            elif nvdimm_mode not in NVDIMM_MODES:
                raise TopologyError(f"NVDIMM mode '{nvdimm_mode}' is not one of "
                                    f"{', '.join(NVDIMM_MODES)} or none")
            else:
                t = dataclasses.replace(t, nvdimm=dataclasses.replace(t.nvdimm, mode=nvdimm_mode))
        if node_memory_mib is not None:
            _check_ram("--node-memory", node_memory_mib)
            nodes = tuple(dataclasses.replace(n, memory_mib=node_memory_mib) if n.memory_mib else n
                          for n in t.nodes)
            t = dataclasses.replace(t, nodes=nodes)
        return t

    # ---- what a guest must show -------------------------------------------------------------
    def expected_sysfs_access0(self) -> dict[int, Access]:
        """/sys/devices/system/node/nodeN/access0/initiators/*, per memory target N.

        Linux (drivers/acpi/numa/hmat.c) publishes for each memory node the figures of its local
        initiator only, the one the HMAT's Memory Proximity Domain Attributes name (QEMU's
        `-numa node,initiator=`; a node with CPUs is its own)."""
        out = {}
        for n in self.nodes:
            online = n.memory_mib > 0 or (self.nvdimm is not None and self.nvdimm.mode == "kmem"
                                          and self.nvdimm.node == n.id)
            if online and (n.initiator, n.id) in self.hmat:
                out[n.id] = self.hmat[(n.initiator, n.id)]
        return out

    def online_nodes(self) -> list[int]:
        """Nodes Linux brings online: those with CPUs or boot RAM, plus a kmem NVDIMM's node."""
        ids = [n.id for n in self.nodes if n.cpus or n.memory_mib]
        if self.nvdimm is not None and self.nvdimm.mode == "kmem" and self.nvdimm.node not in ids:
            ids.append(self.nvdimm.node)
        return sorted(ids)

    def describe(self) -> list[str]:
        """One line per node: what it is, its CPUs, memory, distance and HMAT figures."""
        lines = []
        ranges = self.cpu_ranges()
        for n in self.nodes:
            cpus = "-" if not n.cpus else (f"{ranges[n.id][0]}" if n.cpus == 1 else
                                           f"{ranges[n.id][0]}-{ranges[n.id][1]}")
            mem = f"{n.memory_mib} MiB" if n.memory_mib else (
                f"{self.nvdimm.size_mib} MiB NVDIMM ({self.nvdimm.mode})"
                if self.nvdimm is not None and self.nvdimm.node == n.id else "none")
            a = self.hmat.get((n.initiator, n.id))
            hmat = (f"from node{n.initiator}: {a.read_latency_ns}/{a.write_latency_ns} ns, "
                    f"{a.read_bandwidth_mbps}/{a.write_bandwidth_mbps} MB/s" if a else "no HMAT")
            dist = " ".join(str(d) for d in self.distances[n.id])
            lines.append(f"node{n.id}  {n.what:<28} cpus {cpus:<5} memory {mem:<24} "
                         f"SLIT [{dist}]  HMAT {hmat}")
        return lines


# ---- loading ------------------------------------------------------------------------------------

def find(name_or_path: str) -> str:
    """A shipped topology's name (three-node-nvdimm) or a path to a .toml file."""
    if os.sep in name_or_path or name_or_path.endswith(".toml"):
        if not os.path.isfile(name_or_path):
            raise TopologyError(f"topology file '{name_or_path}' does not exist")
        return name_or_path
    path = os.path.join(TOPOLOGY_DIR, name_or_path + ".toml")
    if not os.path.isfile(path):
        raise TopologyError(f"no shipped topology named '{name_or_path}' (shipped: "
                            f"{', '.join(shipped())}); give a path to use your own file")
    return path


def shipped() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(TOPOLOGY_DIR) if f.endswith(".toml"))


def load(name_or_path: str) -> Topology:
    path = find(name_or_path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise TopologyError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise TopologyError(f"{path}: cannot read: {e.strerror}") from None
    return parse(doc, path)


_SIZE = re.compile(r"^\s*(\d+)\s*(MiB|GiB)\s*$")


def _size_mib(path: str, key: str, v) -> int:
    if isinstance(v, str):
        m = _SIZE.match(v)
        if m:
            return int(m.group(1)) * (1024 if m.group(2) == "GiB" else 1)
    raise TopologyError(f"{path}: {key} = {v!r} is not a size: write it as \"512MiB\" or \"2GiB\"")


def _check_ram(where: str, mib: int) -> None:
    if mib < 256 or mib % MEMORY_BLOCK_MIB:
        raise TopologyError(f"{where}: {mib} MiB of memory: a node's RAM must be a multiple of "
                            f"{MEMORY_BLOCK_MIB} MiB (Linux's memory block) and at least 256 MiB")


def _int(path: str, key: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise TopologyError(f"{path}: {key} = {v!r}: expected an integer from {lo} to {hi}")
    return v


def _table(path: str, key: str, v) -> dict:
    if not isinstance(v, dict):
        raise TopologyError(f"{path}: {key} must be a table")
    return v


def _no_unknown(path: str, where: str, table: dict, known: set[str]) -> None:
    for k in table:
        if k not in known:
            raise TopologyError(f"{path}: unknown key '{k}' in {where} (known: "
                                f"{', '.join(sorted(known))})")


def parse(doc: dict, path: str = "<topology>") -> Topology:
    _no_unknown(path, "the top level", doc,
                {"name", "description", "machine", "node", "slit", "hmat", "nvdimm"})
    name = doc.get("name", os.path.basename(path).removesuffix(".toml"))
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name):
        raise TopologyError(f"{path}: name = {name!r}: use letters, digits, '.', '_' or '-'")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise TopologyError(f"{path}: description must be a string")

    machine = _table(path, "[machine]", doc.get("machine", {}))
    _no_unknown(path, "[machine]", machine, {"sockets"})
    sockets = _int(path, "machine.sockets", machine.get("sockets", 1), 1, MAX_NODES)

    raw_nodes = doc.get("node")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise TopologyError(f"{path}: no [[node]] tables: describe at least one node")
    if len(raw_nodes) > MAX_NODES:
        raise TopologyError(f"{path}: {len(raw_nodes)} nodes: at most {MAX_NODES}")
    nodes = []
    for i, rn in enumerate(raw_nodes):
        where = f"node[{i}]"
        rn = _table(path, where, rn)
        _no_unknown(path, where, rn, {"id", "cpus", "memory", "initiator", "what"})
        if "id" not in rn:
            raise TopologyError(f"{path}: {where} has no id")
        nid = _int(path, f"{where}.id", rn["id"], 0, MAX_NODES - 1)
        if nid != i:
            raise TopologyError(f"{path}: {where}.id = {nid}: nodes must be listed in order 0, 1, "
                                f"2, ... (expected {i})")
        cpus = _int(path, f"node{nid}.cpus", rn.get("cpus", 0), 0, MAX_CPUS)
        mem = _size_mib(path, f"node{nid}.memory", rn["memory"]) if "memory" in rn else 0
        if mem:
            _check_ram(f"{path}: node{nid}.memory", mem)
        if cpus and not mem:
            raise TopologyError(f"{path}: node{nid} has CPUs but no memory: give it memory "
                                f"(a CPU-only node cannot boot its CPUs' allocations)")
        initiator = rn.get("initiator", nid if cpus else None)
        what = rn.get("what", "")
        if not isinstance(what, str):
            raise TopologyError(f"{path}: node{nid}.what must be a string")
        nodes.append((nid, cpus, mem, initiator, what))
    cpu_nodes = {nid for nid, cpus, *_ in nodes if cpus}
    if not cpu_nodes:
        raise TopologyError(f"{path}: no node has CPUs: give one node `cpus = 1` or more")
    total_cpus = sum(c for _, c, *_ in nodes)
    if total_cpus > MAX_CPUS:
        raise TopologyError(f"{path}: {total_cpus} vCPUs in all: at most {MAX_CPUS}")
    final_nodes = []
    for nid, cpus, mem, initiator, what in nodes:
        if cpus and initiator != nid:
            raise TopologyError(f"{path}: node{nid}.initiator = {initiator}: a node with CPUs is "
                                f"its own initiator; remove the key")
        if initiator is None:
            raise TopologyError(f"{path}: node{nid} has no CPUs, so it needs `initiator = N`: the "
                                f"node whose CPUs are closest to its memory (HMAT)")
        if initiator not in cpu_nodes:
            raise TopologyError(f"{path}: node{nid}.initiator = {initiator!r}: must name a node "
                                f"with CPUs ({', '.join(str(c) for c in sorted(cpu_nodes))})")
        final_nodes.append(Node(nid, cpus, mem, initiator, what))
    if sockets > 1:
        counts = {n.cpus for n in final_nodes if n.cpus}
        if sockets != len(cpu_nodes) or len(counts) != 1:
            raise TopologyError(f"{path}: machine.sockets = {sockets}: every socket is one node "
                                f"with CPUs, so give {sockets} nodes the same number of CPUs")
    n = len(final_nodes)

    slit = _table(path, "[slit]", doc.get("slit", {}))
    _no_unknown(path, "[slit]", slit, {"distances"})
    dist = slit.get("distances")
    if dist is None:
        distances = tuple(tuple(10 if i == j else 20 for j in range(n)) for i in range(n))
    else:
        if not isinstance(dist, list) or len(dist) != n or any(
                not isinstance(r, list) or len(r) != n for r in dist):
            raise TopologyError(f"{path}: slit.distances must be a {n}x{n} matrix (one row per "
                                f"node, in id order)")
        for i in range(n):
            for j in range(n):
                d = dist[i][j]
                if i == j and d != 10:
                    raise TopologyError(f"{path}: slit.distances[{i}][{i}] = {d!r}: a node's "
                                        f"distance to itself is 10")
                if i != j:
                    _int(path, f"slit.distances[{i}][{j}]", d, 11, 254)
        distances = tuple(tuple(r) for r in dist)

    hmat: dict[tuple[int, int], Access] = {}
    raw_hmat = doc.get("hmat", [])
    if not isinstance(raw_hmat, list):
        raise TopologyError(f"{path}: hmat must be an array of tables ([[hmat]])")
    for i, rh in enumerate(raw_hmat):
        where = f"hmat[{i}]"
        rh = _table(path, where, rh)
        _no_unknown(path, where, rh, {"initiator", "target", "latency_ns", "bandwidth_mbps"})
        for k in ("initiator", "target", "latency_ns", "bandwidth_mbps"):
            if k not in rh:
                raise TopologyError(f"{path}: {where} has no {k}")
        ini = _int(path, f"{where}.initiator", rh["initiator"], 0, n - 1)
        tgt = _int(path, f"{where}.target", rh["target"], 0, n - 1)
        if ini not in cpu_nodes:
            raise TopologyError(f"{path}: {where}.initiator = {ini}: node{ini} has no CPUs")
        if (ini, tgt) in hmat:
            raise TopologyError(f"{path}: {where}: a second entry for initiator {ini}, "
                                f"target {tgt}")
        lat = _table(path, f"{where}.latency_ns", rh["latency_ns"])
        bw = _table(path, f"{where}.bandwidth_mbps", rh["bandwidth_mbps"])
        _no_unknown(path, f"{where}.latency_ns", lat, {"read", "write"})
        _no_unknown(path, f"{where}.bandwidth_mbps", bw, {"read", "write"})
        hmat[(ini, tgt)] = Access(
            _int(path, f"{where}.latency_ns.read", lat.get("read"), 1, 1_000_000),
            _int(path, f"{where}.latency_ns.write", lat.get("write"), 1, 1_000_000),
            _int(path, f"{where}.bandwidth_mbps.read", bw.get("read"), 1, 10_000_000),
            _int(path, f"{where}.bandwidth_mbps.write", bw.get("write"), 1, 10_000_000))
    if hmat:
        # QEMU builds one HMAT matrix per data type over every initiator and target: each pair
        # must have figures, or the guest would read "no information" for it.
        for ini in sorted(cpu_nodes):
            for t in final_nodes:
                if (ini, t.id) not in hmat:
                    raise TopologyError(f"{path}: no [[hmat]] entry for initiator {ini}, target "
                                        f"{t.id}: give every initiator/target pair its figures")

    nvdimm = None
    if "nvdimm" in doc:
        rv = _table(path, "[nvdimm]", doc["nvdimm"])
        _no_unknown(path, "[nvdimm]", rv, {"size", "node", "mode"})
        if "size" not in rv or "node" not in rv:
            raise TopologyError(f"{path}: [nvdimm] needs size and node")
        size = _size_mib(path, "nvdimm.size", rv["size"])
        if size < 256 or size % MEMORY_BLOCK_MIB:
            raise TopologyError(f"{path}: nvdimm.size = {rv['size']!r}: a multiple of "
                                f"{MEMORY_BLOCK_MIB} MiB, at least 256 MiB (kmem onlines it in "
                                f"memory blocks)")
        node = _int(path, "nvdimm.node", rv["node"], 0, n - 1)
        if final_nodes[node].memory_mib or final_nodes[node].cpus:
            raise TopologyError(f"{path}: nvdimm.node = {node}: node{node} has CPUs or RAM; the "
                                f"NVDIMM needs a node of its own (no cpus, no memory)")
        mode = rv.get("mode", "fsdax")
        if mode not in NVDIMM_MODES:
            raise TopologyError(f"{path}: nvdimm.mode = {mode!r}: one of "
                                f"{', '.join(NVDIMM_MODES)}")
        nvdimm = Nvdimm(size, node, mode)
    for nd in final_nodes:
        if not nd.cpus and not nd.memory_mib and (nvdimm is None or nvdimm.node != nd.id):
            raise TopologyError(f"{path}: node{nd.id} has no CPUs, no memory and no NVDIMM: "
                                f"give it memory or remove it")
    return Topology(name, path, description, sockets, tuple(final_nodes), distances, hmat, nvdimm)


# ---- QEMU ---------------------------------------------------------------------------------------

def qemu_args(t: Topology, nvdimm_image: str | None = None) -> list[str]:
    """The machine, CPUs, memory and NUMA options (SRAT, SLIT, HMAT, NFIT) for QEMU 7.2.

    nvdimm_image is the file behind the NVDIMM (required when the topology has one)."""
    def esc(s: str) -> str:  # QEMU option values are comma-separated: a comma is written ",,"
        return s.replace(",", ",,")

    machine = "pc"
    if t.nvdimm is not None:
        machine += ",nvdimm=on"
    if t.hmat:
        machine += ",hmat=on"
    cpus = t.cpu_count
    smp = f"{cpus},sockets={t.sockets},cores={cpus // t.sockets},threads=1"
    ram = t.ram_mib
    mem = f"{ram}M"
    if t.nvdimm is not None:
        # The NVDIMM sits in the memory hot-plug area above RAM.
        mem += f",slots=2,maxmem={ram + t.nvdimm.size_mib}M"
    args = ["-machine", machine, "-smp", smp, "-m", mem]
    ranges = t.cpu_ranges()
    for n in t.nodes:
        opt = f"node,nodeid={n.id}"
        if n.cpus:
            first, last = ranges[n.id]
            opt += f",cpus={first}-{last}"
        if n.memory_mib:
            args += ["-object", f"memory-backend-ram,id=ram{n.id},size={n.memory_mib}M"]
            opt += f",memdev=ram{n.id}"
        if t.hmat and not n.cpus:
            opt += f",initiator={n.initiator}"
        args += ["-numa", opt]
    for i in range(len(t.nodes)):
        for j in range(len(t.nodes)):
            if i != j:
                args += ["-numa", f"dist,src={i},dst={j},val={t.distances[i][j]}"]
    for (ini, tgt), a in sorted(t.hmat.items()):
        lb = f"hmat-lb,initiator={ini},target={tgt},hierarchy=memory"
        args += ["-numa", f"{lb},data-type=read-latency,latency={a.read_latency_ns}",
                 "-numa", f"{lb},data-type=write-latency,latency={a.write_latency_ns}",
                 "-numa", f"{lb},data-type=read-bandwidth,bandwidth={a.read_bandwidth_mbps}M",
                 "-numa", f"{lb},data-type=write-bandwidth,bandwidth={a.write_bandwidth_mbps}M"]
    if t.nvdimm is not None:
        if nvdimm_image is None:
            raise ValueError("the topology has an NVDIMM: give its image file")
        args += ["-object", f"memory-backend-file,id=nvmem,share=on,mem-path={esc(nvdimm_image)},"
                            f"size={t.nvdimm.size_mib}M",
                 "-device", f"nvdimm,id=nvdimm0,memdev=nvmem,node={t.nvdimm.node}"]
    return args


def guest_env(t: Topology) -> dict[str, str]:
    """What the guest's command finds in its environment about the topology."""
    env = {
        "TIERSWAP_LAB": "1",
        "TIERSWAP_LAB_TOPOLOGY": t.name,
        "TIERSWAP_LAB_TOPOLOGY_FILE": os.path.abspath(t.path),
        "TIERSWAP_LAB_NODES": ",".join(str(n) for n in t.online_nodes()),
        "TIERSWAP_LAB_MEMORY_ONLY_NODES": ",".join(
            str(n.id) for n in t.nodes if n.memory_mib and not n.cpus),
        # node=read_lat,write_lat,read_bw,write_bw: what sysfs must show (expected_sysfs_access0)
        "TIERSWAP_LAB_HMAT": " ".join(
            f"{nid}={a.read_latency_ns},{a.write_latency_ns},{a.read_bandwidth_mbps},"
            f"{a.write_bandwidth_mbps}" for nid, a in sorted(t.expected_sysfs_access0().items())),
    }
    if t.nvdimm is not None:
        env["TIERSWAP_LAB_NVDIMM_MODE"] = t.nvdimm.mode
        if t.nvdimm.mode == "fsdax":
            env["TIERSWAP_LAB_PMEM_DIR"] = PMEM_MOUNT
            env["TIERSWAP_LAB_PMEM_DEV"] = "/dev/pmem0"
        elif t.nvdimm.mode == "devdax":
            env["TIERSWAP_LAB_DAX_DEV"] = "/dev/dax0.0"
        else:
            env["TIERSWAP_LAB_PMEM_NODE"] = str(t.nvdimm.node)
    return env
