#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_virtio_blk (tests/fuzz/VirtioBlkHarness.h has the input format):
well-formed virtio-blk requests the device completes, so fuzzing starts deep inside the request
handling. The seeds are committed; rerun this only to change them."""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "virtio_blk")

NEXT, WRITE, INDIRECT = 1, 2, 4
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
UNMAP = 1
READ_ONLY, EVENT_IDX, INDIRECT_DESC = 1, 2, 4

HEADER, DATA, STATUS, TABLE = 0x400, 0x800, 0xC00, 0x600


class Image:
    def __init__(self, log2_size, flags):
        self.size = 1 << log2_size
        self.header = bytes([flags, log2_size])
        self.mem = bytearray(0xC10 if self.size <= 8 else 0x3000)
        self.avail = 16 * self.size
        self.used = (self.avail + 6 + 2 * self.size + 3) & ~3
        self.next_desc = 0
        self.avail_idx = 0

    def put(self, at, data):
        self.mem[at:at + len(data)] = data

    def desc(self, table, index, addr, length, flags, nxt):
        self.put(table + 16 * index, struct.pack("<QIHH", addr, length, flags, nxt))

    def chain(self, buffers):
        """buffers: (addr, len, writable); consecutive descriptors; returns the head."""
        head = self.next_desc
        for i, (addr, length, writable) in enumerate(buffers):
            flags = (WRITE if writable else 0) | (NEXT if i + 1 < len(buffers) else 0)
            self.desc(0, head + i, addr, length, flags, head + i + 1)
        self.next_desc += len(buffers)
        return head

    def publish(self, head):
        self.put(self.avail + 4 + 2 * (self.avail_idx % self.size), struct.pack("<H", head))
        self.avail_idx += 1
        self.put(self.avail + 2, struct.pack("<H", self.avail_idx))

    def request_header(self, at, kind, sector):
        self.put(at, struct.pack("<IIQ", kind, 0, sector))

    def write(self, name):
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(self.header + bytes(self.mem))


def main():
    img = Image(3, EVENT_IDX | INDIRECT_DESC)
    img.request_header(HEADER, T_IN, 2)
    img.publish(img.chain([(HEADER, 16, False), (DATA, 1024, True), (STATUS, 1, True)]))
    img.write("read")

    img = Image(3, 0)
    img.request_header(HEADER, T_OUT, 5)
    img.put(DATA, b"\x5a" * 512)
    img.publish(img.chain([(HEADER, 16, False), (DATA, 512, False), (STATUS, 1, True)]))
    img.write("write")

    img = Image(3, EVENT_IDX)
    img.request_header(HEADER, T_FLUSH, 0)
    img.publish(img.chain([(HEADER, 16, False), (STATUS, 1, True)]))
    img.request_header(HEADER + 16, T_GET_ID, 0)
    img.publish(img.chain([(HEADER + 16, 16, False), (DATA, 20, True), (STATUS + 1, 1, True)]))
    img.write("flush-get-id")

    img = Image(3, INDIRECT_DESC)
    img.request_header(HEADER, T_IN, 63)
    img.desc(TABLE, 0, HEADER, 16, NEXT, 1)
    img.desc(TABLE, 1, DATA, 512, WRITE | NEXT, 2)
    img.desc(TABLE, 2, STATUS, 1, WRITE, 0)
    img.desc(0, 0, TABLE, 48, INDIRECT, 0)
    img.publish(0)
    img.write("indirect-read")

    img = Image(3, READ_ONLY)
    img.request_header(HEADER, T_OUT, 0)
    img.publish(img.chain([(HEADER, 16, False), (DATA, 512, False), (STATUS, 1, True)]))
    img.write("readonly-write")

    # DISCARD of two ranges, then WRITE_ZEROES of one with unmap and one without.
    img = Image(3, EVENT_IDX)
    img.request_header(HEADER, T_DISCARD, 0)
    img.put(DATA, struct.pack("<QII", 8, 8, 0) + struct.pack("<QII", 32, 16, 0))
    img.publish(img.chain([(HEADER, 16, False), (DATA, 32, False), (STATUS, 1, True)]))
    img.request_header(HEADER + 16, T_WRITE_ZEROES, 0)
    img.put(DATA + 32, struct.pack("<QII", 3, 5, UNMAP) + struct.pack("<QII", 60, 4, 0))
    img.publish(img.chain([(HEADER + 16, 16, False), (DATA + 32, 32, False),
                           (STATUS + 1, 1, True)]))
    img.write("discard-write-zeroes")

    img = Image(8, EVENT_IDX | INDIRECT_DESC)
    for i in range(2):
        img.request_header(0x2000 + 16 * i, T_IN, 10 + i)
        img.publish(img.chain([(0x2000 + 16 * i, 16, False), (0x2400 + 512 * i, 512, True),
                               (0x2800 + i, 1, True)]))
    img.write("queue-256")


if __name__ == "__main__":
    main()
