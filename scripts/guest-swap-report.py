#!/usr/bin/env python3
"""The report and acceptance checks of scripts/guest-swap-test.sh.

Reads the guest's log (the GUEST and WORKLOAD lines of scripts/guest-swap-guest.sh and
tests/guest/swap_workload.c), the statistics each tierswap nbdkit wrote at exit (stats=FILE) and
the number of pages of data in each backing file (SEEK_DATA); prints the comparison table
(Markdown, so it can go into docs/benchmarks.md as is), tierswap's statistics and every check,
and exits 1 if any check failed.

Checks (docs/guest-swap.md, "What the test checks"):
  every target    the workload exited 0, every page and the checksum right, no OOM kill
  tierswap        >= 50,000 pages swapped out and in; tierswap accepted >= pswpout pages and
                  loaded >= pswpin; the device saw no I/O error
  tierswap-low    the swapped volume is >= 4x tierswap's capacity; tierswap rejected pages;
                  the backing file holds exactly the pages the device placed there, and some
                  pages were read back from it
"""
import argparse
import json
import re
import sys

MIN_PAGES = 50_000


def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def parse_guest_log(path):
    """{target: {guest fields..., 'workload': {...}}} in the order the guest ran them."""
    runs = {}
    current = None
    workload = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"== target (\S+) ==", line)
            if m:
                current, workload = m.group(1), None
            elif line.startswith("WORKLOAD "):
                workload = parse_kv(line)
            elif line.startswith("GUEST "):
                fields = parse_kv(line)
                fields["workload"] = workload or {}
                runs[fields.get("target", current)] = fields
    return runs


def pair(text):
    name, _, value = text.partition("=")
    if not name or not value:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=VALUE")
    return name, value


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guest-log", required=True)
    ap.add_argument("--lab-status", type=int, default=0)
    ap.add_argument("--mib", type=int, required=True)
    ap.add_argument("--limit-mib", type=int, required=True)
    ap.add_argument("--stats", type=pair, action="append", default=[],
                    help="TARGET=FILE: the plugin's stats= file")
    ap.add_argument("--backing", type=pair, action="append", default=[],
                    help="TARGET=PAGES: pages of data in the target's backing file")
    ap.add_argument("--host-cpu", type=pair, action="append", default=[],
                    help="TARGET=SECONDS: CPU time of the target's nbdkit on the host")
    ap.add_argument("--targets", default="",
                    help="comma-separated targets that must appear (default: those in the log)")
    ap.add_argument("--json", help="also write the figures and checks to this file")
    args = ap.parse_args()

    runs = parse_guest_log(args.guest_log)
    stats = {}
    for name, path in args.stats:
        try:
            with open(path) as f:
                stats[name] = json.load(f)
        except (OSError, ValueError) as e:
            stats[name] = None
            print(f"guest-swap-report: cannot read the statistics of '{name}' from {path}: {e}")
    backing = {name: int(v) for name, v in args.backing}
    host_cpu = {name: float(v) for name, v in args.host_cpu}
    expected = [t for t in args.targets.split(",") if t] or list(runs)
    for name in stats:
        if name not in expected:
            expected.append(name)

    checks = []

    def check(ok, what):
        checks.append({"ok": bool(ok), "check": what})

    check(args.mib >= 4 * args.limit_mib,
          f"workload {args.mib} MiB is at least 4x its limit {args.limit_mib} MiB")
    if args.lab_status not in (0, 1):
        check(False, f"the guest ran to the end (lab exit status {args.lab_status}: "
                     "124 = timeout, 125 = the VM failed)")

    # ---- the table -------------------------------------------------------------------------
    def num(run, key, default=0.0):
        try:
            return float(run.get(key, default))
        except ValueError:
            return default

    base = runs.get("memory")
    base_s = num(base["workload"], "seconds") if base else 0
    print()
    print(f"Workload: {args.mib} MiB under memory.max = {args.limit_mib} MiB "
          f"({args.mib / args.limit_mib:.1f}x)")
    print()
    print("| target | workload s | x memory | pswpout | pswpin | nbdkit CPU s | result |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name in expected:
        run = runs.get(name)
        if run is None:
            print(f"| {name} | - | - | - | - | - | not run |")
            check(False, f"{name}: the guest reported the run")
            continue
        w = run["workload"]
        secs = num(w, "seconds")
        ratio = f"{secs / base_s:.2f}" if base_s > 0 and secs > 0 else "-"
        good = (run.get("rc") == "0" and w.get("bad_pages") == "0"
                and w.get("checksum_ok") == "1")
        cpu = f"{host_cpu[name]:.1f}" if name in host_cpu else "-"
        print(f"| {name} | {secs:.1f} | {ratio} | {int(num(run, 'pswpout'))} | "
              f"{int(num(run, 'pswpin'))} | {cpu} | {'every page right' if good else 'FAILED'} |")
        check(run.get("rc") == "0", f"{name}: workload exited 0 (rc={run.get('rc')})")
        check(w.get("bad_pages") == "0" and w.get("checksum_ok") == "1",
              f"{name}: every page and the checksum right "
              f"(bad_pages={w.get('bad_pages', '?')}, checksum_ok={w.get('checksum_ok', '?')})")
        check(run.get("oom_kills", "0") == "0", f"{name}: no OOM kill ({run.get('oom_kills')})")
    print()
    for name in expected:
        run = runs.get(name)
        if run:
            extra = " ".join(f"{k}={v}" for k, v in run.items()
                             if k.startswith("zram_") or k.endswith("_s"))
            print(f"  {name}: {extra}")

    # ---- tierswap's statistics ------------------------------------------------------------------
    for name in ("tierswap", "tierswap-low"):
        if name not in stats:
            continue
        s = stats[name]
        run = runs.get(name, {})
        if s is None:
            check(False, f"{name}: the plugin wrote its statistics at exit")
            continue
        d, t = s["device"], s["tierswap"]
        print()
        print(f"{name}: device {d['size_bytes'] >> 20} MiB; pages now in tierswap "
              f"{d['tierswap_pages']}, in the backing file {d['backing_pages']}")
        print(f"  device: stores accepted {d['stores_accepted']}, rejected {d['stores_rejected']}"
              f"; reads from tierswap {d['loads']}, from the backing file {d['backing_reads']}, "
              f"of empty pages {d['zero_reads']}; partial pages {d['partial_pages']}; "
              f"punches {d['backing_punches']}; I/O errors {d['io_errors']}")
        rejects = {k: v for k, v in t.items() if k.startswith("reject_") and v}
        print(f"  tierswap: succ_stores {t['succ_stores']}, failed_stores {t['failed_stores']} "
              f"{rejects or ''}, loads {t['loads']}, load_misses {t['load_misses']}, "
              f"stored_pages {t['stored_pages']}, policy {t.get('placement_policy')}, "
              f"promotions {t.get('mover_promotions')}, demotions {t.get('mover_demotions')}")
        for tier in t.get("tiers", []):
            line = (f"    tier {tier['name']} ({tier['kind']}, {tier['capacity_bytes'] >> 20} MiB): "
                    f"stored_pages {tier['stored_pages']}, stores {tier['stores']}, "
                    f"loads {tier['loads']}, load_fraction {tier.get('load_fraction', 0):.3f}")
            if "compression_ratio" in tier and tier["compression_ratio"]:
                line += f", compression_ratio {tier['compression_ratio']:.2f}"
            lat = tier.get("load_latency_ns")
            if lat and lat.get("count"):
                line += f", load p50 {lat['p50']:.0f} ns"
            print(line)

        out, inn = int(num(run, "pswpout", 0)), int(num(run, "pswpin", 0))
        check(d["io_errors"] == 0 and d["lost_pages"] == 0,
              f"{name}: no I/O error on the device (io_errors={d['io_errors']})")
        if name == "tierswap":
            check(out >= MIN_PAGES, f"tierswap: >= {MIN_PAGES} pages swapped out (pswpout={out})")
            check(inn >= MIN_PAGES, f"tierswap: >= {MIN_PAGES} pages swapped in (pswpin={inn})")
            check(t["succ_stores"] >= out,
                  f"tierswap: stores accepted >= pswpout ({t['succ_stores']} >= {out})")
            check(t["loads"] >= inn, f"tierswap: loads >= pswpin ({t['loads']} >= {inn})")
        else:
            capacity = sum(tier["capacity_bytes"] for tier in t.get("tiers", []))
            check(out * 4096 >= 4 * capacity,
                  f"{name}: swapped volume {out * 4096 >> 20} MiB is >= 4x tierswap's capacity "
                  f"{capacity >> 20} MiB")
            check(t["failed_stores"] > 0 and d["stores_rejected"] > 0,
                  f"{name}: the statistics show rejects (tierswap failed_stores="
                  f"{t['failed_stores']}, device stores_rejected={d['stores_rejected']})")
            held = backing.get(name)
            check(held is not None and held == d["backing_pages"] and held > 0,
                  f"{name}: the backing file holds the rejected pages that live there "
                  f"({held} pages of data, device backing_pages={d['backing_pages']})")
            check(d["backing_reads"] > 0,
                  f"{name}: pages came back from the backing file "
                  f"(backing_reads={d['backing_reads']})")

    print()
    for c in checks:
        print(f"{'PASS' if c['ok'] else 'FAIL'} {c['check']}")
    failed = sum(not c["ok"] for c in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mib": args.mib, "limit_mib": args.limit_mib, "runs": runs,
                       "host_cpu_s": host_cpu,
                       "stats": stats, "backing_pages": backing, "checks": checks}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
