"""Unit tests of the lab's topology files (scripts/lab/topology.py): every shipped file loads,
bad files are refused with a message naming the key, and what QEMU is told and what the guest is
expected to show follow from the file. No guest is booted here (scripts/lab/selftest does that).

    python3 tests/lab/topology_test.py
"""
import os
import sys
import tomllib
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lab"))
import topology as topo  # noqa: E402

MINIMAL = """
[[node]]
id = 0
cpus = 2
memory = "1GiB"

[[node]]
id = 1
memory = "2GiB"
initiator = 0

[[hmat]]
initiator = 0
target = 0
latency_ns = { read = 100, write = 110 }
bandwidth_mbps = { read = 40000, write = 30000 }

[[hmat]]
initiator = 0
target = 1
latency_ns = { read = 250, write = 260 }
bandwidth_mbps = { read = 20000, write = 10000 }
"""


def parse(text: str) -> topo.Topology:
    return topo.parse(tomllib.loads(text), "t.toml")


class ShippedTopologiesTest(unittest.TestCase):
    def test_the_three_required_topologies_are_shipped_and_load(self):
        self.assertTrue({"three-node-nvdimm", "cxl-expander", "two-socket"} <= set(topo.shipped()))
        for name in topo.shipped():
            t = topo.load(name)
            self.assertEqual(t.name, name)
            self.assertTrue(t.description)

    def test_cxl_expander_has_one_cpu_less_node_at_2_to_3x_local_latency(self):
        t = topo.load("cxl-expander")
        far = [n for n in t.nodes if not n.cpus]
        self.assertEqual(len(far), 1)
        local = t.hmat[(0, 0)].read_latency_ns
        self.assertTrue(2 * local <= t.hmat[(0, far[0].id)].read_latency_ns <= 3 * local)

    def test_two_socket_gives_every_initiator_target_pair_its_own_figures(self):
        t = topo.load("two-socket")
        self.assertEqual(t.sockets, 2)
        self.assertEqual(set(t.hmat), {(0, 0), (0, 1), (1, 0), (1, 1)})
        # Each socket's local memory is what Linux shows in sysfs for it.
        exp = t.expected_sysfs_access0()
        self.assertEqual(exp[0], t.hmat[(0, 0)])
        self.assertEqual(exp[1], t.hmat[(1, 1)])

    def test_default_topology_has_an_nvdimm_on_a_node_of_its_own(self):
        t = topo.load(topo.DEFAULT_TOPOLOGY)
        self.assertIsNotNone(t.nvdimm)
        n = t.nodes[t.nvdimm.node]
        self.assertEqual((n.cpus, n.memory_mib), (0, 0))
        self.assertNotIn(t.nvdimm.node, t.online_nodes())  # offline unless kmem


class ParseTest(unittest.TestCase):
    def test_minimal_file(self):
        t = parse(MINIMAL)
        self.assertEqual(t.name, "t")
        self.assertEqual(t.cpu_count, 2)
        self.assertEqual(t.ram_mib, 3072)
        self.assertEqual(t.distances, ((10, 20), (20, 10)))  # the default SLIT
        self.assertEqual(t.nodes[1].initiator, 0)
        self.assertIsNone(t.nvdimm)

    def assertRefused(self, text: str, *words: str):
        with self.assertRaises(topo.TopologyError) as cm:
            parse(text)
        for w in words:
            self.assertIn(w, str(cm.exception))
        self.assertIn("t.toml", str(cm.exception))

    def test_unknown_keys_are_named(self):
        self.assertRefused(MINIMAL + "\ncolour = 1\n", "unknown key 'colour'")
        self.assertRefused(MINIMAL.replace("cpus = 2", "cpus = 2\nspeed = 3"),
                           "unknown key 'speed'", "node[0]")

    def test_sizes_need_a_unit_and_whole_memory_blocks(self):
        self.assertRefused(MINIMAL.replace('"1GiB"', '"1G"'), "node0.memory", "2GiB")
        self.assertRefused(MINIMAL.replace('"1GiB"', '"300MiB"'), "multiple of 128 MiB")

    def test_memory_only_node_needs_an_initiator_with_cpus(self):
        self.assertRefused(MINIMAL.replace("initiator = 0\n", "", 1), "node1", "initiator = N")
        self.assertRefused(MINIMAL.replace("initiator = 0\n", "initiator = 1\n", 1),
                           "node1.initiator", "must name a node with CPUs")

    def test_nodes_are_listed_in_order(self):
        self.assertRefused(MINIMAL.replace("id = 1", "id = 2"), "in order", "expected 1")

    def test_every_initiator_target_pair_needs_hmat_figures(self):
        text = MINIMAL[:MINIMAL.rindex("[[hmat]]")]
        self.assertRefused(text, "no [[hmat]] entry for initiator 0, target 1")

    def test_hmat_initiator_must_have_cpus(self):
        self.assertRefused(MINIMAL + """
[[hmat]]
initiator = 1
target = 0
latency_ns = { read = 1, write = 1 }
bandwidth_mbps = { read = 1, write = 1 }
""", "hmat[2].initiator = 1", "no CPUs")

    def test_slit_must_be_square_with_10_on_the_diagonal(self):
        self.assertRefused(MINIMAL + "[slit]\ndistances = [[10, 20]]\n", "2x2 matrix")
        self.assertRefused(MINIMAL + "[slit]\ndistances = [[10, 20], [20, 11]]\n",
                           "distances[1][1]", "itself is 10")
        self.assertRefused(MINIMAL + "[slit]\ndistances = [[10, 5], [20, 10]]\n",
                           "slit.distances[0][1]", "11 to 254")

    def test_nvdimm_needs_its_own_node_and_a_known_mode(self):
        with_node = MINIMAL + "\n[[node]]\nid = 2\ninitiator = 0\n"
        hmat2 = "".join(f"""
[[hmat]]
initiator = 0
target = {t}
latency_ns = {{ read = 300, write = 300 }}
bandwidth_mbps = {{ read = 1000, write = 1000 }}
""" for t in (2,))
        ok = with_node + hmat2 + '[nvdimm]\nsize = "1GiB"\nnode = 2\nmode = "kmem"\n'
        t = parse(ok)
        self.assertEqual(t.nvdimm, topo.Nvdimm(1024, 2, "kmem"))
        self.assertIn(2, t.online_nodes())  # kmem onlines it
        self.assertIn(2, t.expected_sysfs_access0())
        self.assertRefused(ok.replace('"kmem"', '"pmem"'), "nvdimm.mode", "fsdax")
        self.assertRefused(ok.replace("node = 2\nmode", "node = 1\nmode"),
                           "nvdimm.node = 1", "a node of its own")
        # A node with neither CPUs, memory nor the NVDIMM is a mistake.
        self.assertRefused(with_node + hmat2, "node2 has no CPUs, no memory and no NVDIMM")

    def test_sockets_must_match_the_nodes_with_cpus(self):
        self.assertRefused("[machine]\nsockets = 2\n" + MINIMAL, "machine.sockets = 2")


class QemuArgsTest(unittest.TestCase):
    def test_every_pair_and_distance_reaches_qemu(self):
        t = topo.load("three-node-nvdimm")
        args = topo.qemu_args(t, "/tmp/nv,dimm.img")
        numa = [args[i + 1] for i, a in enumerate(args) if a == "-numa"]
        for (ini, tgt), a in t.hmat.items():
            lb = f"hmat-lb,initiator={ini},target={tgt},hierarchy=memory"
            self.assertIn(f"{lb},data-type=read-latency,latency={a.read_latency_ns}", numa)
            self.assertIn(f"{lb},data-type=write-latency,latency={a.write_latency_ns}", numa)
            self.assertIn(f"{lb},data-type=read-bandwidth,bandwidth={a.read_bandwidth_mbps}M",
                          numa)
            self.assertIn(f"{lb},data-type=write-bandwidth,bandwidth={a.write_bandwidth_mbps}M",
                          numa)
        for i in range(4):
            for j in range(4):
                if i != j:
                    self.assertIn(f"dist,src={i},dst={j},val={t.distances[i][j]}", numa)
        self.assertIn("node,nodeid=3,initiator=0", numa)  # the NVDIMM's node: no RAM
        self.assertIn("pc,nvdimm=on,hmat=on", args)
        # A comma in a path is doubled, as QEMU's option syntax wants.
        self.assertTrue(any("mem-path=/tmp/nv,,dimm.img," in a for a in args))
        self.assertIn("nvdimm,id=nvdimm0,memdev=nvmem,node=3", args)

    def test_sockets_and_cpus(self):
        args = topo.qemu_args(topo.load("two-socket"))
        self.assertIn("2,sockets=2,cores=1,threads=1", args)
        numa = [args[i + 1] for i, a in enumerate(args) if a == "-numa"]
        self.assertIn("node,nodeid=0,cpus=0-0,memdev=ram0", numa)
        self.assertIn("node,nodeid=1,cpus=1-1,memdev=ram1", numa)


class OverridesAndEnvTest(unittest.TestCase):
    def test_nvdimm_mode_and_node_memory_overrides(self):
        t = topo.load("three-node-nvdimm")
        self.assertEqual(t.with_overrides(nvdimm_mode="devdax").nvdimm.mode, "devdax")
        self.assertIsNone(t.with_overrides(nvdimm_mode="none").nvdimm)
        small = t.with_overrides(node_memory_mib=512)
        self.assertEqual([n.memory_mib for n in small.nodes], [512, 512, 512, 0])
        with self.assertRaises(topo.TopologyError):
            t.with_overrides(node_memory_mib=100)
        with self.assertRaises(topo.TopologyError):
            topo.load("cxl-expander").with_overrides(nvdimm_mode="fsdax")

    def test_guest_environment_names_what_the_tests_need(self):
        env = topo.guest_env(topo.load("three-node-nvdimm"))
        self.assertEqual(env["TIERSWAP_LAB"], "1")
        self.assertEqual(env["TIERSWAP_LAB_PMEM_DIR"], "/mnt/pmem")
        self.assertEqual(env["TIERSWAP_LAB_MEMORY_ONLY_NODES"], "1,2")
        self.assertEqual(env["TIERSWAP_LAB_HMAT"],
                         "0=100,100,40960,40960 1=250,250,20480,20480 2=500,1000,8192,3072")
        kmem = topo.guest_env(topo.load("three-node-nvdimm").with_overrides(nvdimm_mode="kmem"))
        self.assertEqual(kmem["TIERSWAP_LAB_PMEM_NODE"], "3")
        self.assertNotIn("TIERSWAP_LAB_PMEM_DIR", kmem)

    def test_unknown_topology_names_the_shipped_ones(self):
        with self.assertRaises(topo.TopologyError) as cm:
            topo.load("four-socket")
        self.assertIn("cxl-expander", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
