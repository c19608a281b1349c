"""Runs inside a lab guest (scripts/lab/selftest): records what Linux shows of the machine's
topology, as JSON, for the host to compare with the topology file. It only reads and reports;
judging is the host's job, so that a failed check can print both sides.

    python3 collect_facts.py OUT.json
"""
import glob
import json
import mmap
import os
import re
import subprocess
import sys


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def cpulist(text):
    cpus = []
    for part in filter(None, (text or "").split(",")):
        a, _, b = part.partition("-")
        cpus += range(int(a), int(b or a) + 1)
    return cpus


def node_facts(n):
    base = f"/sys/devices/system/node/node{n}"
    meminfo = read(f"{base}/meminfo", "")
    m = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    access = {}
    for level in ("access0", "access1"):
        d = f"{base}/{level}/initiators"
        if os.path.isdir(d):
            access[level] = {
                "values": {k: int(read(f"{d}/{k}", "-1")) for k in
                           ("read_latency", "write_latency", "read_bandwidth", "write_bandwidth")
                           if os.path.exists(f"{d}/{k}")},
                "initiators": sorted(int(e[4:]) for e in os.listdir(d) if re.fullmatch(r"node\d+", e)),
            }
    return {
        "cpus": cpulist(read(f"{base}/cpulist")),
        "mem_total_kib": int(m.group(1)) if m else 0,
        "distance": [int(x) for x in (read(f"{base}/distance", "") or "").split()],
        "access": access,
    }


def placement(node):
    """Allocates 32 MiB under numactl --membind=node and counts where its pages landed."""
    code = ("import json, re\nb = bytearray(32 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
            "pages = {}\nfor line in open('/proc/self/numa_maps'):\n"
            "    if 'anon=' in line and int(re.search(r'anon=(\\d+)', line).group(1)) >= 8000:\n"
            "        for n, c in re.findall(r' N(\\d+)=(\\d+)', line): pages[n] = pages.get(n, 0) + int(c)\n"
            "print(json.dumps(pages))\n")
    r = subprocess.run(["numactl", f"--membind={node}", sys.executable, "-c", code],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout).strip()[-300:]}
    return {"pages": {int(k): v for k, v in json.loads(r.stdout).items()}}


def map_sync(directory):
    """mmap(MAP_SHARED_VALIDATE | MAP_SYNC) of a file: only a real DAX mapping accepts it."""
    path = os.path.join(directory, "map_sync_check")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.ftruncate(fd, 2 << 20)
        m = mmap.mmap(fd, 2 << 20, flags=0x03 | 0x80000)  # MAP_SHARED_VALIDATE | MAP_SYNC
        m[0:5] = b"hello"
        m.close()
        return "ok"
    except OSError as e:
        return f"error: {e}"
    finally:
        os.close(fd)
        os.unlink(path)


def main():
    online = cpulist(read("/sys/devices/system/node/online"))
    facts = {
        "online_nodes": online,
        "nodes": {n: node_facts(n) for n in online},
        "packages": {int(c[len("/sys/devices/system/cpu/cpu"):].split("/")[0]): int(read(c))
                     for c in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/topology/physical_package_id")},
        "tables": {},
        "numactl": subprocess.run(["numactl", "--hardware"], capture_output=True, text=True).stdout,
        "memory_tiers": {os.path.basename(t): cpulist(read(f"{t}/nodelist")) for t in
                         glob.glob("/sys/devices/virtual/memory_tiering/memory_tier*")},
        "placement": {n: placement(n) for n in online
                      if node_facts(n)["mem_total_kib"] > 0},
    }
    for name in ("SLIT", "HMAT", "SRAT", "NFIT"):
        try:
            with open(f"/sys/firmware/acpi/tables/{name}", "rb") as f:
                facts["tables"][name] = f.read().hex()
        except OSError:
            pass
    pmem = {"pmem0_block": os.path.exists("/sys/class/block/pmem0"),
            "dax0_char": os.path.exists("/dev/dax0.0")}
    if pmem["pmem0_block"]:
        pmem["pmem0_mib"] = int(read("/sys/class/block/pmem0/size", "0")) // 2048
    if os.path.exists("/sys/bus/dax/devices/dax0.0"):
        pmem["dax0_mib"] = int(read("/sys/bus/dax/devices/dax0.0/size", "0")) >> 20
        pmem["dax0_target_node"] = int(read("/sys/bus/dax/devices/dax0.0/target_node", "-1"))
        drv = "/sys/bus/dax/devices/dax0.0/driver"
        pmem["dax0_driver"] = os.path.basename(os.readlink(drv)) if os.path.islink(drv) else None
    mount_dir = os.environ.get("TIERSWAP_LAB_PMEM_DIR")
    for line in open("/proc/self/mounts"):
        dev, mnt, fstype, opts, *_ = line.split()
        if mount_dir and mnt == mount_dir:
            pmem["mount"] = {"device": dev, "fstype": fstype, "options": opts.split(",")}
            pmem["map_sync"] = map_sync(mount_dir)
    facts["pmem"] = pmem
    with open(sys.argv[1], "w") as f:
        json.dump(facts, f, indent=1)


if __name__ == "__main__":
    main()
