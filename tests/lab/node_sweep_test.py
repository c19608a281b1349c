"""bench/node-sweep in the lab, on the two-socket topology: a row for every (CPU node, memory node)
pair, each with the HMAT figures the topology file gives that pair (the non-local ones too, read
from the ACPI table) and every measurement present. Short runs: this checks the sweep works, not
what it measures.

    python3 tests/lab/node_sweep_test.py BUILD_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lab"))
import topology as topo  # noqa: E402

BUILD = None


class NodeSweepInTheLabTest(unittest.TestCase):
    def test_two_socket_sweep_has_every_pair_with_its_firmware_figures(self):
        t = topo.load("two-socket")
        with tempfile.TemporaryDirectory(prefix="node_sweep_test.") as d:
            out = os.path.join(d, "sweep.json")
            r = subprocess.run(
                [os.path.join(ROOT, "scripts", "lab", "run-in-lab"), "-q", "-t", "two-socket",
                 "--share", d, "--", os.path.join(ROOT, "bench", "node-sweep"), "--build", BUILD,
                 "--cold-mib", "32", "--min-time", "0.05", "--json", out],
                cwd=d, capture_output=True, text=True)
            print(r.stdout, r.stderr[-3000:], sep="\n")
            self.assertEqual(r.returncode, 0)
            with open(out) as f:
                sweep = json.load(f)
        self.assertEqual(sweep["hmat_source"], "ACPI HMAT")
        pairs = {(row["from"], row["to"]): row for row in sweep["rows"]}
        self.assertEqual(set(pairs), {(0, 0), (0, 1), (1, 0), (1, 1)})
        for (c, n), row in pairs.items():
            with self.subTest(initiator=c, target=n):
                a = t.hmat[(c, n)]
                self.assertEqual(row["hmat"], {
                    "read_latency": a.read_latency_ns, "write_latency": a.write_latency_ns,
                    "read_bandwidth": a.read_bandwidth_mbps,
                    "write_bandwidth": a.write_bandwidth_mbps})
                self.assertEqual(row["slit"], t.distances[c][n])
                self.assertGreater(row["chase_ns"], 0)
                for kind in ("dram_tier", "numa_tier"):
                    for op in ("load", "store"):
                        m = row[kind][op]
                        self.assertGreater(m["tier_p50_ns"], 0, (kind, op))
                        self.assertGreater(m["memcpy_p50_ns"], 0, (kind, op))
        # The table itself names the pairs.
        self.assertIn("node1  node0", r.stdout)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: node_sweep_test.py BUILD_DIR")
    BUILD = os.path.abspath(sys.argv.pop())
    unittest.main()
