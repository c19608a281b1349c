"""Readers for the two ACPI tables that carry a NUMA topology's figures, as a guest's firmware
hands them to Linux (/sys/firmware/acpi/tables/SLIT and HMAT). The lab's self-test reads them to
check every initiator/target pair, not only the local ones that Linux publishes in sysfs.

Layouts: ACPI 6.3, 5.2.17 (SLIT) and 5.2.27 (HMAT, revision 2).
"""
from __future__ import annotations

import struct

HEADER = 36  # the common ACPI table header

# HMAT System Locality Latency and Bandwidth Information: data types.
READ_LATENCY, WRITE_LATENCY, READ_BANDWIDTH, WRITE_BANDWIDTH = 1, 2, 4, 5
DATA_TYPE_NAMES = {0: "access_latency", 1: "read_latency", 2: "write_latency",
                   3: "access_bandwidth", 4: "read_bandwidth", 5: "write_bandwidth"}


class AcpiError(Exception):
    pass


def _check(table: bytes, signature: bytes) -> int:
    if len(table) < HEADER or table[:4] != signature:
        raise AcpiError(f"not an ACPI {signature.decode()} table")
    length, = struct.unpack_from("<I", table, 4)
    if length > len(table):
        raise AcpiError(f"{signature.decode()}: length {length} beyond the {len(table)} bytes read")
    return length


def parse_slit(table: bytes) -> list[list[int]]:
    """The distance matrix, row = from, column = to, indexed by proximity domain."""
    length = _check(table, b"SLIT")
    n, = struct.unpack_from("<Q", table, HEADER)
    if HEADER + 8 + n * n > length:
        raise AcpiError(f"SLIT: {n} localities do not fit in {length} bytes")
    start = HEADER + 8
    return [list(table[start + i * n:start + (i + 1) * n]) for i in range(n)]


def parse_hmat(table: bytes) -> tuple[dict[int, int], dict[tuple[int, int], dict[str, int]]]:
    """(local initiator per memory domain, {(initiator, target): {data type name: value}}).

    Latencies are returned in ns, bandwidths in MB/s, as Linux converts them (latency entries are
    picoseconds times the entry base unit in HMAT revision 2)."""
    length = _check(table, b"HMAT")
    revision = table[8]
    off = HEADER + 4  # 4 reserved bytes after the header
    local: dict[int, int] = {}
    figures: dict[tuple[int, int], dict[str, int]] = {}
    while off + 8 <= length:
        stype, _, slen = struct.unpack_from("<HHI", table, off)
        if slen < 8 or off + slen > length:
            raise AcpiError(f"HMAT: structure at offset {off} has length {slen}")
        if stype == 0:  # Memory Proximity Domain Attributes
            flags, _, initiator, memory = struct.unpack_from("<HHII", table, off + 8)
            if flags & 1:  # the initiator field is valid
                local[memory] = initiator
        elif stype == 1:  # System Locality Latency and Bandwidth Information
            flags, data_type, _, _, n_ini, n_tgt, _, base = struct.unpack_from(
                "<BBBBIIIQ", table, off + 8)
            p = off + 32
            inis = struct.unpack_from(f"<{n_ini}I", table, p)
            p += 4 * n_ini
            tgts = struct.unpack_from(f"<{n_tgt}I", table, p)
            p += 4 * n_tgt
            entries = struct.unpack_from(f"<{n_ini * n_tgt}H", table, p)
            if flags & 0x0F != 0:  # only the memory hierarchy, not memory-side caches
                off += slen
                continue
            name = DATA_TYPE_NAMES.get(data_type, f"type{data_type}")
            for i, ini in enumerate(inis):
                for j, tgt in enumerate(tgts):
                    e = entries[i * n_tgt + j]
                    if e in (0, 0xFFFF):  # no information / unreachable
                        continue
                    value = e * base
                    if data_type <= 2 and revision >= 2:
                        value = -(-value // 1000)  # picoseconds -> ns, rounded up as Linux does
                    figures.setdefault((ini, tgt), {})[name] = value
        off += slen
    return local, figures
