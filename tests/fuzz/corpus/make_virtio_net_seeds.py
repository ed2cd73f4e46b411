#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_virtio_net (input format in tests/fuzz/VirtioFuzzInput.h; flag
bit 0 picks the transmit queue): chains virtio-net accepts, so fuzzing starts inside the frame
handling. The ring layout comes from make_virtio_blk_seeds.py's Image. The seeds are committed;
rerun this only to change them."""

import os

import make_virtio_blk_seeds as blk

OUT = os.path.join(blk.HERE, "virtio_net")
TRANSMIT, EVENT_IDX, INDIRECT_DESC = 1, blk.EVENT_IDX, blk.INDIRECT_DESC
HEADER, DATA, TABLE = 0x400, 0x800, 0x600


def write(img, name):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(img.header + bytes(img.mem))


def main():
    img = blk.Image(3, TRANSMIT | EVENT_IDX)
    img.put(HEADER, bytes(12))
    img.put(DATA, bytes(range(60)))
    img.publish(img.chain([(HEADER, 12, False), (DATA, 60, False)]))
    img.publish(img.chain([(HEADER, 12, False), (DATA, 1500, False)]))
    write(img, "transmit")

    img = blk.Image(3, TRANSMIT | INDIRECT_DESC)
    img.desc(TABLE, 0, HEADER, 12, blk.NEXT, 1)
    img.desc(TABLE, 1, DATA, 100, 0, 0)
    img.desc(0, 0, TABLE, 32, blk.INDIRECT, 0)
    img.publish(0)
    write(img, "transmit-indirect")

    img = blk.Image(3, EVENT_IDX)
    img.publish(img.chain([(HEADER, 12, True), (DATA, 1600, True)]))
    img.publish(img.chain([(DATA + 0x700, 2048, True)]))
    write(img, "receive")

    img = blk.Image(3, INDIRECT_DESC)
    img.desc(TABLE, 0, HEADER, 12, blk.NEXT | blk.WRITE, 1)
    img.desc(TABLE, 1, DATA, 0x1000, blk.WRITE, 0)
    img.desc(0, 0, TABLE, 32, blk.INDIRECT, 0)
    img.publish(0)
    write(img, "receive-indirect")


if __name__ == "__main__":
    main()
