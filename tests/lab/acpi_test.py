"""Unit tests of the lab's ACPI table readers (scripts/lab/acpi.py), on tables built here byte by
byte after the ACPI 6.3 layouts.

    python3 tests/lab/acpi_test.py
"""
import os
import struct
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lab"))
import acpi  # noqa: E402


def header(signature: bytes, body: bytes, revision: int) -> bytes:
    length = acpi.HEADER + len(body)
    return (signature + struct.pack("<IBB", length, revision, 0) + b"OEMID " + b"OEMTABLE" +
            struct.pack("<I4sI", 1, b"TEST", 1) + body)


def slit(matrix):
    n = len(matrix)
    return header(b"SLIT", struct.pack("<Q", n) + bytes(v for row in matrix for v in row), 1)


def mpda(initiator, memory, valid=True):
    return struct.pack("<HHIHHIIIQQ", 0, 0, 40, 1 if valid else 0, 0, initiator, memory, 0, 0, 0)


def sllbi(data_type, base, inis, tgts, entries, flags=0):
    body = struct.pack("<BBBBIIIQ", flags, data_type, 0, 0, len(inis), len(tgts), 0, base)
    body += struct.pack(f"<{len(inis)}I", *inis) + struct.pack(f"<{len(tgts)}I", *tgts)
    body += struct.pack(f"<{len(entries)}H", *entries)
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<HHI", 1, 0, 8 + len(body)) + body


def hmat(*structures, revision=2):
    return header(b"HMAT", b"\0\0\0\0" + b"".join(structures), revision)


class SlitTest(unittest.TestCase):
    def test_matrix_round_trips(self):
        m = [[10, 20, 40], [21, 10, 45], [40, 45, 10]]
        self.assertEqual(acpi.parse_slit(slit(m)), m)

    def test_wrong_signature_or_short_table_is_refused(self):
        with self.assertRaises(acpi.AcpiError):
            acpi.parse_slit(hmat())
        t = slit([[10, 20], [20, 10]])
        with self.assertRaises(acpi.AcpiError):
            acpi.parse_slit(t[:-2])


class HmatTest(unittest.TestCase):
    def test_latency_in_picoseconds_becomes_ns_and_bandwidth_stays_mb_per_s(self):
        # Two initiators x two targets; latencies with a base unit of 1000 ps (entries in ns),
        # bandwidths with a base of 1 MB/s.
        t = hmat(mpda(0, 0), mpda(1, 1), mpda(0, 2, valid=False),
                 sllbi(acpi.READ_LATENCY, 1000, [0, 1], [0, 1], [100, 150, 155, 95]),
                 sllbi(acpi.WRITE_LATENCY, 500, [0, 1], [0, 1], [200, 320, 330, 190]),
                 sllbi(acpi.READ_BANDWIDTH, 1, [0, 1], [0, 1], [40960, 20480, 19456, 38912]),
                 sllbi(acpi.WRITE_BANDWIDTH, 1024, [0, 1], [0, 1], [40, 18, 17, 38]))
        local, fig = acpi.parse_hmat(t)
        self.assertEqual(local, {0: 0, 1: 1})  # node 2's initiator field is not valid
        self.assertEqual(fig[(0, 1)], {"read_latency": 150, "write_latency": 160,
                                       "read_bandwidth": 20480, "write_bandwidth": 18432})
        self.assertEqual(fig[(1, 0)]["write_latency"], 165)
        self.assertEqual(fig[(1, 1)]["read_bandwidth"], 38912)

    def test_picoseconds_round_up_as_linux_does(self):
        t = hmat(sllbi(acpi.READ_LATENCY, 1, [0], [0], [1500]))
        self.assertEqual(acpi.parse_hmat(t)[1][(0, 0)]["read_latency"], 2)

    def test_revision_1_latency_is_already_ns(self):
        t = hmat(sllbi(acpi.READ_LATENCY, 1, [0], [0], [250]), revision=1)
        self.assertEqual(acpi.parse_hmat(t)[1][(0, 0)]["read_latency"], 250)

    def test_no_information_entries_and_cache_levels_are_skipped(self):
        t = hmat(sllbi(acpi.READ_LATENCY, 1000, [0], [0, 1], [0, 0xFFFF]),
                 sllbi(acpi.READ_BANDWIDTH, 1, [0], [0], [7], flags=1))  # a memory-side cache
        self.assertEqual(acpi.parse_hmat(t)[1], {})

    def test_a_structure_running_past_the_table_is_refused(self):
        t = bytearray(hmat(mpda(0, 0)))
        struct.pack_into("<I", t, acpi.HEADER + 4 + 4, 400)
        with self.assertRaises(acpi.AcpiError):
            acpi.parse_hmat(bytes(t))


if __name__ == "__main__":
    unittest.main()
