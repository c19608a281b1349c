#!/usr/bin/env python3
"""Writes the committed seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/).

Seeds are small, meaningful inputs the fuzzer starts from; libFuzzer mutates them, so a seed that
reaches a code path makes its neighbourhood cheap to explore. Deterministic: running it again
rewrites the same files. Usage: tests/fuzz/make_seeds.py [--out tests/fuzz/corpus]

  api_ops_fuzzer  hand-made operation sequences in the encoding of api_ops_fuzzer.cc (keep the
                  two in step: the opcode table and argument bytes are defined there)
  config_fuzzer   every examples/*.toml, plus configs for each tier kind and table, and a few
                  refused ones (syntax error, unknown key, bad size)
  trace_fuzzer    examples/traces/malformed.trace, slices of the demo trace (page references
                  folded onto the fuzzer's four-page corpus), one line of each malformed class,
                  and a zstd-compressed trace

Files in the corpus directories that this script does not write (regression-* inputs of fixed
crashes) are left alone.
"""

import argparse
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]

# ---- api_ops_fuzzer encoding (tests/fuzz/api_ops_fuzzer.cc) -----------------------------------
# First index of each operation in the opcode table kOps.
STORE, LOAD, INIT, INVALIDATE, AREA = 0, 8, 14, 16, 19
CAPACITY, OFFLINE, ONLINE, FREEZE, UNFREEZE = 20, 22, 23, 25, 26
MAINTAIN, COMPACT, WRITEBACK, LOAD_NULL = 27, 29, 30, 31
# Type bytes: index into {0, 1, 2, 31}; 0xFC-0xFF are the invalid types 32, 33, 1000, UINT_MAX.
T0, T1, T2, T31, BAD_TYPE = 0, 1, 2, 3, 0xFC
# nr_pages bytes: index into {0, 1, 8, 40, 64, 65537, 2^32, 2^32 + 1}.
NR_UNKNOWN, NR_8, NR_40, NR_64, NR_65537, NR_2_32, NR_TOO_MANY = 0, 2, 3, 4, 5, 6, 7
# Content kinds; 0xFF stores a null page.
ZERO, SAME, TEXT, RANDOM, SPARSE, NULL_PAGE = 0, 1, 2, 3, 4, 0xFF
# Writeback modes.
WB_ACCEPT, WB_REFUSE, WB_EVEN, WB_NONE = 0, 1, 2, 3


class Ops:
    def __init__(self, h0=0, h1=0):
        self.b = bytearray([h0, h1])

    def init(self, t, nr):
        self.b += bytes([INIT, t, nr])
        return self

    def store(self, t, off, kind, seed=0):
        self.b += bytes([STORE, t, off, kind, seed & 0xFF])
        return self

    def load(self, t, off):
        self.b += bytes([LOAD, t, off])
        return self

    def load_null(self, t, off):
        self.b += bytes([LOAD_NULL, t, off])
        return self

    def invalidate(self, t, off):
        self.b += bytes([INVALIDATE, t, off])
        return self

    def area(self, t):
        self.b += bytes([AREA, t])
        return self

    def capacity(self, tier, amount):
        self.b += bytes([CAPACITY, tier, amount])
        return self

    def offline(self, tier):
        self.b += bytes([OFFLINE, tier])
        return self

    def online(self, tier):
        self.b += bytes([ONLINE, tier])
        return self

    def freeze(self):
        self.b += bytes([FREEZE])
        return self

    def unfreeze(self):
        self.b += bytes([UNFREEZE])
        return self

    def maintain(self, advance):
        self.b += bytes([MAINTAIN, advance])
        return self

    def compact(self):
        self.b += bytes([COMPACT])
        return self

    def writeback(self, mode):
        self.b += bytes([WRITEBACK, mode])
        return self

    def fill(self, t, offsets, kinds=(TEXT, RANDOM, SPARSE, ZERO, SAME)):
        for i, off in enumerate(offsets):
            self.store(t, off, kinds[i % len(kinds)], i)
        return self

    def load_all(self, t, offsets):
        for off in offsets:
            self.load(t, off)
        return self


def api_ops_seeds():
    s = {}
    s["round-trip"] = (Ops().init(T0, NR_UNKNOWN).init(T1, NR_40).init(T2, NR_64)
                       .fill(T0, range(8)).fill(T1, range(8)).fill(T2, range(8))
                       .load_all(T0, range(10)).load_all(T1, range(8)).load_all(T2, range(8))
                       .invalidate(T0, 1).invalidate(T1, 2).load(T0, 1).load(T1, 2))
    s["capacity-pressure"] = (Ops().init(T0, NR_UNKNOWN).init(T31, NR_UNKNOWN)
                              .fill(T0, range(40), (RANDOM,)).fill(T31, range(20), (TEXT,))
                              .load_all(T0, range(40)).load_all(T31, range(20)))
    s["duplicate-stores"] = (Ops().init(T0, NR_8).fill(T0, [3] * 6 + [4] * 6)
                             .load(T0, 3).load(T0, 4).fill(T0, range(40), (RANDOM, TEXT))
                             .store(T0, 3, RANDOM, 9).load(T0, 3))
    s["shrink-and-offline"] = (Ops().init(T0, NR_UNKNOWN).fill(T0, range(36), (RANDOM, TEXT))
                               .capacity(0, 0).load_all(T0, range(36)).offline(1)
                               .load_all(T0, range(36)).online(1).online(0).capacity(2, 4)
                               .capacity(0, 0xFF).capacity(3, 0).offline(3).online(3)
                               .fill(T0, range(20)).load_all(T0, range(20)))
    s["writeback-modes"] = (Ops().init(T1, NR_UNKNOWN).init(T2, NR_UNKNOWN)
                            .fill(T1, range(20), (RANDOM,)).fill(T2, range(20), (TEXT, SPARSE))
                            .writeback(WB_REFUSE).offline(2).load_all(T1, range(20))
                            .writeback(WB_EVEN).offline(0).load_all(T2, range(20))
                            .writeback(WB_NONE).capacity(1, 3).online(0).online(2)
                            .writeback(WB_ACCEPT).offline(1).load_all(T1, range(20)))
    migrate = Ops(h0=0b00100000, h1=0b00000100).init(T0, NR_UNKNOWN).fill(T0, range(36))
    for _ in range(3):
        migrate.load_all(T0, range(20, 36)).maintain(50)
    s["migration"] = migrate.maintain(0).maintain(255).load_all(T0, range(36))
    s["compressed-first-zstd"] = (Ops(h0=0b00011000, h1=0b00010000).init(T0, NR_64)
                                  .fill(T0, range(30), (TEXT, SPARSE, RANDOM)).compact()
                                  .load_all(T0, range(30)).fill(T0, range(0, 30, 2), (SPARSE,))
                                  .invalidate(T0, 1).invalidate(T0, 5).invalidate(T0, 9)
                                  .compact().load_all(T0, range(30)))
    s["exclusive-loads"] = (Ops(h0=0b00000001).init(T0, NR_UNKNOWN).fill(T0, range(6))
                            .load_all(T0, range(6)).load_all(T0, range(6)))
    s["quota"] = (Ops(h0=0b00000100).init(T1, NR_UNKNOWN).fill(T1, range(10))
                  .fill(T1, range(4)).invalidate(T1, 0).store(T1, 12, RANDOM).load_all(T1, range(13)))
    s["freeze"] = (Ops().init(T0, NR_UNKNOWN).fill(T0, range(4)).freeze().store(T0, 1, RANDOM)
                   .store(T0, 9, TEXT).load(T0, 1).load(T0, 2).unfreeze().store(T0, 1, RANDOM)
                   .load(T0, 1))
    bad = Ops().init(BAD_TYPE, NR_8).init(T0, NR_TOO_MANY).init(T0, NR_8).init(T1, NR_2_32)
    bad.store(BAD_TYPE, 0, TEXT).store(T0, 0, NULL_PAGE).load(BAD_TYPE + 3, 0).load_null(T0, 0)
    for off in (0xE7, 0xE8, 0xF0, 0xF1, 0xF3, 0xF7):
        bad.store(T0, off, RANDOM).load(T0, off).store(T1, off, TEXT).load(T1, off)
        bad.store(T2, off, TEXT).invalidate(T0, off)
    s["bad-arguments"] = bad.invalidate(BAD_TYPE, 0).area(BAD_TYPE + 1).store(T2, 0, TEXT)
    s["area-and-reinit"] = (Ops().init(T0, NR_40).fill(T0, range(10)).area(T0).load(T0, 1)
                            .store(T0, 1, TEXT).init(T0, NR_65537).load(T0, 1)
                            .fill(T0, [0xEF, 0xF7]).load(T0, 0xEF).init(T0, NR_8).load(T0, 1))
    s["static-rate-limited"] = (Ops(h0=0b01000010, h1=0b00101011).init(T2, NR_UNKNOWN)
                                .fill(T2, range(40)).maintain(3).load_all(T2, range(40))
                                .maintain(200).capacity(0, 2).maintain(1).load_all(T2, range(40)))
    return {name: bytes(ops.b) for name, ops in s.items()}


# ---- config_fuzzer ---------------------------------------------------------------------------

CONFIGS = {
    "every-key": """[backend]
exclusive_loads = false
scrub_on_free = true
checksum = true

[placement]
policy = "adaptive"
high_watermark = 0.9
low_watermark = 0.7
max_migration_mbps = 100
min_residency_ms = 10
promote_after_loads = 2
background = false
mover_interval_ms = 5
probe_budget_ms = 0
comment = "every key"

[stats]
latency_histograms = false
dump_interval_ms = 1000

[[quota]]
type = 3
max = "64KiB"

[[tier]]
name = "fast"
kind = "dram"
capacity = "64KiB"
prefault = false
read_latency_ns = 10
write_latency_ns = 20
bandwidth_mbps = 10000

[[tier]]
name = "zram"
kind = "compressed"
codec = "zstd"
level = 3
backing = "dram"
max_compressed_fraction = 0.5
capacity = 65536

[[tier]]
name = "far"
kind = "numa"
node = 0
capacity = "1 MiB"

[[tier]]
name = "pm"
kind = "pmem"
path = "anon"
persist = true
capacity = "128KiB"
""",
    "compressed-on-numa": """[[tier]]
name = "z"
kind = "compressed"
codec = "lz4"
level = 8
backing = "numa"
node = 0
capacity = "32KiB"
""",
    "static-two-tiers": """[placement]
policy = "static"

[[tier]]
name = "a"
kind = "dram"
capacity = "4KiB"

[[tier]]
name = "b.c-d_e"
kind = "dram"
capacity = "8192B"
""",
    "bad-syntax": """[[tier]]
name = "dram
kind = "dram"
""",
    "bad-unknown-key": """[[tier]]
name = "dram"
kind = "dram"
capacity = "1MiB"
capcity = "2MiB"
""",
    "bad-size": """[[tier]]
name = "dram"
kind = "dram"
capacity = "1.5GiB"
""",
    "bad-watermarks": """[placement]
low_watermark = 0.9
high_watermark = 0.5

[[tier]]
name = "dram"
kind = "dram"
capacity = "1MiB"
""",
}


def config_seeds():
    seeds = {}
    for path in sorted((ROOT / "examples").glob("*.toml")):
        seeds["example-" + path.stem] = path.read_bytes()
    for name, text in CONFIGS.items():
        seeds[name] = text.encode()
    return seeds


# ---- trace_fuzzer ------------------------------------------------------------------------------

TRACES = {
    "documented-example": """# tierswap trace v1
N 0 65536          # swapon: type 0 with 65536 slots
S 0 17             # store a generated page in slot 17
S 0 18 @2          # store page 2 of the corpus in slot 18
L 0 17
I 0 18
L 0 18
A 0
""",
    "every-op-and-edge": "N 1 0\r\nS 1 4294967295 @3\r\n\tL\t1   4294967295\r\nS 1 4294967296\n"
                         "N 31 4294967296\nS 31 0 @0\nS 31 0 @1\nL 31 0\nI 31 0\nL 31 0\n"
                         "L 2 0\nS 2 0\nN 2 1\nS 2 1\nL 2 1\nA 31\nL 31 0\n# end",
    "bad-unknown-op": "N 0 8\nX 0 1\n",
    "bad-missing-field": "N 0 8\nS 1\n",
    "bad-extra-field": "N 0 8\nL 0 1 2\n",
    "bad-not-a-number": "N 0 8\nL 0 0x10\n",
    "bad-negative": "N 0 8\nL 0 -1\n",
    "bad-overflow": "N 0 8\nL 0 18446744073709551616\n",
    "bad-type": "N 32 8\n",
    "bad-nr-pages": "N 0 4294967297\n",
    "bad-page-ref": "N 0 8\nS 0 1 @x\n",
    "bad-page-ref-on-load": "N 0 8\nL 0 1 @3\n",
    "bad-page-ref-past-corpus": "N 0 8\nS 0 1 @4\n",
    "binary-garbage": "N 0 8\n\x00\x01\x02\xff S 0 1\n",
}


def demo_trace_lines():
    out = subprocess.run(["zstd", "-dc", str(ROOT / "examples/traces/demo.trace.zst")],
                         check=True, capture_output=True).stdout.decode()
    lines = []
    for line in out.splitlines():
        fields = line.split()
        # Fold page references onto the fuzzer's four-page corpus (@0..@3).
        if len(fields) == 4 and fields[3].startswith("@"):
            line = " ".join(fields[:3] + ["@%d" % (int(fields[3][1:]) % 4)])
        lines.append(line)
    return lines


def trace_seeds():
    seeds = {"malformed": (ROOT / "examples/traces/malformed.trace").read_bytes()}
    lines = demo_trace_lines()
    header = [l for l in lines[:8] if l.startswith("N")]
    # The start (inits and the first stores), and two slices from later phases behind the inits.
    seeds["demo-start"] = ("\n".join(lines[:120]) + "\n").encode()
    for at in (20000, 45000):
        seeds["demo-slice-%d" % at] = ("\n".join(header + lines[at:at + 100]) + "\n").encode()
    for name, text in TRACES.items():
        seeds[name] = text.encode("latin-1")
    seeds["documented-example-zstd"] = subprocess.run(
        ["zstd", "-q", "-c", "-1"], input=TRACES["documented-example"].encode(), check=True,
        capture_output=True).stdout
    return seeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "tests/fuzz/corpus"))
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    for target, seeds in (("api_ops_fuzzer", api_ops_seeds()), ("config_fuzzer", config_seeds()),
                          ("trace_fuzzer", trace_seeds())):
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        # Only this script's seeds are rewritten: inputs committed by hand (regression-*, from
        # a fixed crash) stay.
        for name, data in seeds.items():
            (d / name).write_bytes(data)
        print("%s: %d seeds, %d bytes" % (target, len(seeds), sum(len(v) for v in seeds.values())))


if __name__ == "__main__":
    main()
