#!/usr/bin/env python3
"""Records a page corpus: 4 KiB pages of real programs' anonymous memory, as a swap device would
be handed them, for the compressed tier's tests and benchmarks and for trace replay (--pages).

    scripts/record-pages.py [-o examples/pages/sample-pages.bin.zst] [--pages-per-program N]
                            [--programs gcc,python,sort,xz] [--seed S]

Each program runs as a child of this script on inputs taken from this repository (its sources
and documents), so the recording needs nothing from outside it. While it runs, the script takes
snapshots of the anonymous writable mappings of it and its descendants (heap, stack, anonymous mmap): /proc/PID/pagemap
says which pages are present (a page never touched is not read, so no zero page is invented),
and /proc/PID/mem gives their bytes. Every distinct (process, address, contents) seen is one page
version, as a page written again would be swapped again; N of them per program are kept by
reservoir sampling with a fixed seed. The output interleaves the programs (page k comes from
program k mod P), so any prefix of the corpus mixes them, and is zstd-compressed; `zstd -dc`
gives the raw pages back to back. The byte contents are not reproducible from run to run
(addresses, timing), the method is. Needs root or the right to read a child's memory (it
always has that under the default Yama ptrace scope, as the parent).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

PAGE = 4096
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def repo_files(exts: tuple[str, ...]) -> list[str]:
    out = []
    for d in ("tiers", "placement", "frontend", "bench", "tests", "docs", "scripts"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            out += [os.path.join(dirpath, f) for f in sorted(files) if f.endswith(exts)]
    return sorted(out)


# ---- the programs -------------------------------------------------------------------------------
# Each returns (description, argv) given a scratch folder; inputs come from the repository.

def gcc(tmp: str):
    src = os.path.join(ROOT, "placement", "backend.cc")
    return ("g++ -O2 -std=c++20 (cc1plus) compiling placement/backend.cc",
            ["g++", "-O2", "-std=c++20", "-march=x86-64-v2", f"-I{ROOT}", "-c", src, "-o",
             os.path.join(tmp, "backend.o")])


PYTHON_WORKLOAD = r"""
import collections, json, re, sys
texts = {path: open(path, errors="replace").read() for path in sys.argv[1:]}
words, bigrams, trigrams, lines = (collections.Counter(), collections.Counter(),
                                   collections.Counter(), {})
for path, text in texts.items():
    toks = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
    words.update(toks)
    bigrams.update(zip(toks, toks[1:]))
    low = [t.lower() for t in toks]
    trigrams.update(zip(low, low[1:], low[2:]))
    for n, line in enumerate(text.splitlines()):
        lines.setdefault(line.strip(), []).append((path, n))
index = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))
where = {w: [p for p, t in texts.items() if w in t] for w, _ in index[:2000]}
dump = json.dumps({"index": index, "where": where, "bigrams": bigrams.most_common(20000)})
dupes = sum(1 for v in lines.values() if len(v) > 1)
print(len(index), len(trigrams), len(dump), dupes)
"""


def python(tmp: str):
    files = repo_files((".cc", ".h", ".md", ".py", ".sh", ".toml"))
    return ("python3 indexing the repository's sources and documents (word, bigram and trigram "
            "counts, a JSON dump)", [sys.executable, "-c", PYTHON_WORKLOAD] + files)


def sort(tmp: str):
    # About 24 MB of lines: every source line of the repository, numbered and repeated with
    # varied prefixes, so sort holds the whole input in memory and orders it.
    data = os.path.join(tmp, "sort-input.txt")
    rng = random.Random(7)
    lines = []
    for f in repo_files((".cc", ".h", ".md")):
        lines += open(f, errors="replace").read().splitlines()
    with open(data, "w") as out:
        for rep in range(8):
            for i, line in enumerate(lines):
                out.write(f"{rng.randrange(1 << 30):09d} {rep}:{i} {line}\n")
    return ("GNU sort of 24 MB of numbered source lines, in memory (-S 256M)",
            ["sort", "-S", "256M", "-o", os.path.join(tmp, "sorted.txt"), data])


def xz(tmp: str):
    tar = os.path.join(tmp, "repo.tar")
    subprocess.run(["tar", "-cf", tar, "-C", ROOT, "tiers", "placement", "frontend", "docs",
                    "tests", "bench"], check=True)
    return ("xz -6 compressing a tar of the repository's sources and documents",
            ["xz", "-6", "-T1", "-k", "-c", tar])


PROGRAMS = {"gcc": gcc, "python": python, "sort": sort, "xz": xz}


# ---- reading a running process ------------------------------------------------------------------

def anonymous_ranges(pid: int) -> list[tuple[int, int]]:
    """Writable private mappings with no file behind them: heap, stack, anonymous mmap."""
    ranges = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                perms, path = parts[1], parts[5].strip() if len(parts) > 5 else ""
                if not perms.startswith("rw") or perms[3] != "p":
                    continue
                if path and path not in ("[heap]", "[stack]"):
                    continue
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                ranges.append((lo, hi))
    except OSError:
        pass
    return ranges


def family(pid: int) -> list[int]:
    """The process and its descendants (g++ does its work in a child, cc1plus)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def snapshot(pid: int, seen: set, reservoir: "Reservoir") -> int:
    """Adds every present page version not seen before; returns how many pages were read."""
    read = 0
    try:
        pagemap = open(f"/proc/{pid}/pagemap", "rb", buffering=0)
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    except OSError:
        return 0
    with pagemap, mem:
        for lo, hi in anonymous_ranges(pid):
            n = (hi - lo) // PAGE
            try:
                entries = os.pread(pagemap.fileno(), 8 * n, (lo // PAGE) * 8)
            except OSError:
                continue
            for i in range(len(entries) // 8):
                entry = int.from_bytes(entries[8 * i:8 * i + 8], "little")
                if not entry >> 63 & 1:  # not present (never touched, or swapped out)
                    continue
                addr = lo + i * PAGE
                try:
                    page = os.pread(mem.fileno(), PAGE, addr)
                except OSError:
                    continue
                if len(page) != PAGE:
                    continue
                read += 1
                key = (pid, addr, hashlib.blake2b(page, digest_size=16).digest())
                if key not in seen:
                    seen.add(key)
                    reservoir.offer(page)
    return read


class Reservoir:
    """Algorithm R: a uniform sample of `size` items from a stream of unknown length."""

    def __init__(self, size: int, rng: random.Random):
        self.size, self.rng, self.items, self.seen = size, rng, [], 0

    def offer(self, item: bytes) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        else:
            j = self.rng.randrange(self.seen)
            if j < self.size:
                self.items[j] = item


def record(name: str, per_program: int, seed: int, interval: float) -> tuple[str, list, dict]:
    with tempfile.TemporaryDirectory(prefix="record-pages.") as tmp:
        what, argv = PROGRAMS[name](tmp)
        rng = random.Random(f"{seed}:{name}")
        reservoir, seen = Reservoir(per_program, rng), set()
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        snapshots = pages_read = 0
        while proc.poll() is None:
            for pid in family(proc.pid):
                pages_read += snapshot(pid, seen, reservoir)
            snapshots += 1
            time.sleep(interval)
        err = proc.stderr.read().decode(errors="replace")
        if proc.returncode != 0:
            sys.exit(f"record-pages: {argv[0]} exited with {proc.returncode}: {err.strip()[-400:]}")
        elapsed = time.monotonic() - started
    if len(reservoir.items) < per_program:
        sys.exit(f"record-pages: {name} gave only {len(reservoir.items)} page versions "
                 f"(wanted {per_program}); it ran {elapsed:.1f} s")
    stats = {"seconds": elapsed, "snapshots": snapshots, "pages_read": pages_read,
             "versions": reservoir.seen}
    return what, reservoir.items, stats


def describe(pages: list[bytes]) -> dict:
    zero = sum(1 for p in pages if p.count(0) == PAGE)
    same = sum(1 for p in pages if p == p[:8] * (PAGE // 8))
    ratio = PAGE * len(pages) / sum(len(zlib.compress(p, 1)) for p in pages)
    return {"zero": zero, "same_filled": same, "zlib1_ratio": ratio}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="See examples/pages/README.md for the corpus this made.")
    p.add_argument("-o", "--output", default=os.path.join(ROOT, "examples", "pages",
                                                          "sample-pages.bin.zst"))
    p.add_argument("--pages-per-program", type=int, default=1024)
    p.add_argument("--programs", default=",".join(PROGRAMS))
    p.add_argument("--seed", type=int, default=20261207)
    p.add_argument("--interval-ms", type=float, default=20,
                   help="pause between snapshots (default %(default)g ms)")
    args = p.parse_args()
    names = args.programs.split(",")
    for n in names:
        if n not in PROGRAMS:
            p.error(f"unknown program '{n}' (known: {', '.join(PROGRAMS)})")
    if args.pages_per_program < 1:
        p.error("--pages-per-program must be at least 1")
    if shutil.which("zstd") is None:
        p.error("zstd is not installed (scripts/setup.sh installs it)")

    samples = {}
    print(f"{'program':<8} {'s':>5} {'snaps':>5} {'read':>8} {'versions':>8} {'kept':>5} "
          f"{'zero':>5} {'same':>5} {'zlib-1':>6}  what")
    for n in names:
        what, pages, st = record(n, args.pages_per_program, args.seed, args.interval_ms / 1000)
        d = describe(pages)
        samples[n] = pages
        print(f"{n:<8} {st['seconds']:5.1f} {st['snapshots']:5d} {st['pages_read']:8d} "
              f"{st['versions']:8d} {len(pages):5d} {d['zero']:5d} {d['same_filled']:5d} "
              f"{d['zlib1_ratio']:5.2f}x  {what}", flush=True)
    with tempfile.NamedTemporaryFile(suffix=".bin") as raw:
        for i in range(args.pages_per_program):
            for n in names:
                raw.write(samples[n][i])
        raw.flush()
        tmp_out = args.output + ".tmp"
        subprocess.run(["zstd", "-q", "-f", "-19", raw.name, "-o", tmp_out], check=True)
        os.replace(tmp_out, args.output)
    total = args.pages_per_program * len(names)
    print(f"wrote {args.output}: {total} pages ({total * PAGE >> 20} MiB raw, "
          f"{os.path.getsize(args.output) / (1 << 20):.2f} MiB compressed); page k is from "
          f"{', '.join(names)}[k mod {len(names)}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
