#!/usr/bin/env python3
"""Generates examples/traces/demo.trace.zst, the trace the README replays.

The trace (format: docs/trace-format.md) is deterministic for a given --seed and exercises
every behaviour the replayer checks:

  - three swap types: one sized (65536 slots), one of unknown size, one small (16384 slots);
  - about 60,000 operations in all;
  - a zipf-like hot set: a few slots are loaded and stored again and again, most rarely;
  - duplicate stores to occupied slots, invalidated pages, loads of slots never stored;
  - one area invalidation, with stores and loads while the type is down, then a re-init;
  - loads and stores past a type's nr_pages (the backend must refuse them);
  - about 21,000 distinct pages (82 MiB): a config with a small DRAM tier rejects stores;
  - about half the stores name a page of the bundled corpus (@k, k < 1024), the rest use
    generated contents.

Usage:
  python3 scripts/make-demo-trace.py | zstd -19 -q -o examples/traces/demo.trace.zst
  python3 scripts/make-demo-trace.py -o examples/traces/demo.trace.zst   # runs zstd itself
"""

import argparse
import random
import subprocess
import sys

CORPUS_PAGES = 1024  # corpus pages the trace names (@0 to @1023; the corpus holds 4096)


class Type:
    """One swap type: its size, and which slots hold pages as far as the trace knows."""

    def __init__(self, number, nr_pages, slots):
        self.number = number
        self.nr_pages = nr_pages
        self.slots = slots  # offsets this type's workload uses, hottest first
        self.stored = set()


def zipf_index(rng, n, skew=2.5):
    """An index in [0, n) where small indexes are much likelier (u ** skew)."""
    return min(n - 1, int(n * (rng.random() ** skew)))


def generate(seed):
    rng = random.Random(seed)
    out = []
    emit = out.append

    emit("# tierswap trace v1")
    emit("# demo trace: made by scripts/make-demo-trace.py --seed %d" % seed)
    emit("# types 0 (65536 slots), 1 (size unknown) and 2 (16384 slots)")
    types = []
    for number, nr_pages, used in ((0, 65536, 12000), (1, 0, 6000), (2, 16384, 3000)):
        space = nr_pages if nr_pages else 1 << 20
        slots = rng.sample(range(space), used)  # scattered offsets; slots[0] is the hottest
        types.append(Type(number, nr_pages, slots))
        emit("N %d %d" % (number, nr_pages))

    def store(t, offset, comment=""):
        ref = " @%d" % rng.randrange(CORPUS_PAGES) if rng.random() < 0.5 else ""
        emit("S %d %d%s%s" % (t.number, offset, ref, comment))
        t.stored.add(offset)

    def load(t, offset, comment=""):
        emit("L %d %d%s" % (t.number, offset, comment))

    # Phase 1: swap-out burst, every slot of the workload gets a page.
    emit("# phase 1: swap-out burst")
    for t in types:
        for offset in t.slots:
            store(t, offset)

    # Phase 2: steady state. Loads and stores follow the hot set; a store to a slot that holds
    # a page is a duplicate store (the page was swapped in, dirtied and swapped out again).
    emit("# phase 2: steady state with a hot set")
    weights = (0.55, 0.30, 0.15)  # share of operations per type
    steady_ops = 30000
    for i in range(steady_ops):
        t = rng.choices(types, weights)[0]
        offset = t.slots[zipf_index(rng, len(t.slots))]
        r = rng.random()
        if r < 0.45:
            load(t, offset)
        elif r < 0.85:
            store(t, offset)
        elif r < 0.93:
            emit("I %d %d" % (t.number, offset))
            t.stored.discard(offset)
        else:
            # A slot the workload never used: the load must miss.
            space = t.nr_pages if t.nr_pages else 1 << 20
            missing = rng.randrange(space)
            while missing in t.stored:
                missing = rng.randrange(space)
            load(t, missing, "  # never stored")
        if i == steady_ops // 2:
            emit("# loads past nr_pages: the backend must refuse them")
            load(types[2], types[2].nr_pages + 5)
            emit("S 2 %d" % (types[2].nr_pages + 7))

    # Phase 3: swapoff of type 2 while it holds pages, use while it is down, then swapon.
    emit("# phase 3: invalidate area 2, use it while down, re-init it")
    t2 = types[2]
    emit("A 2")
    was_stored = sorted(t2.stored)
    t2.stored.clear()
    for offset in rng.sample(was_stored, 20):
        load(t2, offset, "  # type 2 is not initialised")
    for offset in rng.sample(was_stored, 5):
        emit("S 2 %d  # refused: type 2 is not initialised" % offset)
    emit("N 2 16384")
    for offset in rng.sample(was_stored, 200):
        load(t2, offset, "  # must miss after re-init")
    for offset in t2.slots[:1500]:
        store(t2, offset)

    # Phase 4: swap-in of a working set, reloads of hot pages.
    emit("# phase 4: swap-in, hot pages reloaded")
    for _ in range(8000):
        t = rng.choices(types, weights)[0]
        offset = t.slots[zipf_index(rng, len(t.slots), skew=3.0)]
        load(t, offset)
    emit("# end")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20240611, help="random seed")
    parser.add_argument("-o", "--output", help="write here (.zst: compressed with zstd -19)")
    args = parser.parse_args()
    text = "\n".join(generate(args.seed)) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    elif args.output.endswith(".zst"):
        subprocess.run(["zstd", "-19", "-q", "-f", "-o", args.output], input=text.encode(),
                       check=True)
    else:
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
