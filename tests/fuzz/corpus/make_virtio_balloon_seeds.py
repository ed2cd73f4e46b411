#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_virtio_balloon (input format in tests/fuzz/VirtioFuzzInput.h;
fuzz_virtio_balloon.cpp's header has what the flag bits pick): PFN buffers around the edges of
its 4.5 GiB of guest RAM (below the MMIO hole, in it, above 4 GiB, past the end, repeated) and
stats buffers. The ring layout comes from make_virtio_blk_seeds.py's Image. The seeds are
committed; rerun this only to change them."""

import os
import struct

import make_virtio_blk_seeds as blk

OUT = os.path.join(blk.HERE, "virtio_balloon")
STATS_VQ, REQUEST = 1, 0x20
INFLATE, DEFLATE, STATS, ALL = 0 << 3, 1 << 3, 2 << 3, 3 << 3
# Page 0 holds the rings: inflating it would zero them.
PFNS = [0x10, 0x12, 0x11, 0x11, 0xBFFFF, 0xC0000, 0xFFFFF, 0x100000, 0x15FFFF, 0x160000,
        0xFFFFFFFF]


def write(img, name):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(img.header + bytes(img.mem))


def pfns(img, at, values, tail=b""):
    data = struct.pack("<%dI" % len(values), *values) + tail
    img.put(at, data)
    img.publish(img.chain([(at, len(data), False)]))


def stats(img, at, figures):
    data = b"".join(struct.pack("<HQ", tag, value) for tag, value in figures)
    img.put(at, data)
    img.publish(img.chain([(at, len(data), False)]))


def main():
    img = blk.Image(3, INFLATE | blk.EVENT_IDX)
    pfns(img, 0x400, PFNS, b"\x01\x02")
    pfns(img, 0x600, [0x13, 0x14])
    write(img, "inflate")

    img = blk.Image(3, DEFLATE | blk.INDIRECT_DESC)
    pfns(img, 0x400, PFNS)
    write(img, "deflate")

    img = blk.Image(3, STATS_VQ | REQUEST | STATS)
    stats(img, 0x400, [(4, 1 << 30), (5, 2 << 30), (6, 3 << 29), (15, 7), (99, 1)])
    stats(img, 0x600, [(0, 1), (1, 2)])
    write(img, "stats")

    img = blk.Image(3, STATS_VQ | REQUEST | ALL)
    pfns(img, 0x400, PFNS)
    stats(img, 0x600, [(4, 1 << 30)])
    write(img, "all-queues")


if __name__ == "__main__":
    main()
