#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_virtio_console (input format in tests/fuzz/VirtioFuzzInput.h;
fuzz_virtio_console.cpp's header has what the flag bits pick): control messages the device
accepts, receive buffers for its answers, and answer text for the agent port, so that fuzzing
starts inside the handshake and the answer parser. The ring layout comes from
make_virtio_blk_seeds.py's Image. The seeds are committed; rerun this only to change them."""

import os
import struct

import make_virtio_blk_seeds as blk

OUT = os.path.join(blk.HERE, "virtio_console")
EVENT_IDX, INDIRECT_DESC = blk.EVENT_IDX, blk.INDIRECT_DESC
HANDSHAKE, ASK, ALL = 0x40, 0x80, 6 << 3
CONTROL_RECEIVE, CONTROL_TRANSMIT, AGENT_RECEIVE, AGENT_TRANSMIT = 2, 3, 4, 5
DEVICE_READY, PORT_READY, PORT_OPEN = 0, 3, 6


def queue(index):
    return index << 3


def write(img, name):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(img.header + bytes(img.mem))


def control(img, at, port, event, value):
    img.put(at, struct.pack("<IHH", port, event, value))
    img.publish(img.chain([(at, 8, False)]))


def main():
    # The driver's side of the handshake, then a PORT_OPEN closing the port again.
    img = blk.Image(3, queue(CONTROL_TRANSMIT) | EVENT_IDX)
    control(img, 0x400, 0xFFFFFFFF, DEVICE_READY, 1)
    control(img, 0x408, 1, PORT_READY, 1)
    control(img, 0x410, 1, PORT_OPEN, 1)
    control(img, 0x418, 1, PORT_OPEN, 0)
    write(img, "handshake")

    # Buffers for PORT_ADD, PORT_NAME and PORT_OPEN after the harness's handshake.
    img = blk.Image(3, HANDSHAKE | queue(CONTROL_RECEIVE))
    for i in range(3):
        img.publish(img.chain([(0x400 + 0x40 * i, 0x40, True)]))
    write(img, "control-receive")

    # Answers on the agent's transmitq: one in two buffers, garbage, one over the size limit with
    # its payload, one to a request that timed out (ASK makes id 1 stale).
    img = blk.Image(3, HANDSHAKE | ASK | queue(AGENT_TRANSMIT) | INDIRECT_DESC)
    first = b"ingot-agent 1 1 ok 11\nhello"
    second = b" world\nnot a header\ningot-agent 1 7 ok 70000\n" + b"x" * 64
    img.put(0x400, first)
    img.put(0x500, second)
    img.publish(img.chain([(0x400, len(first), False), (0x500, len(second), False)]))
    third = b"ingot-agent 1 - error 6\nfailed"
    img.put(0x800, third)
    img.publish(img.chain([(0x800, len(third), False)]))
    write(img, "answers")

    # Every queue in turn: a request line goes out through the writable buffer while the
    # readable one carries an answer to it.
    img = blk.Image(3, HANDSHAKE | ASK | ALL | EVENT_IDX)
    img.publish(img.chain([(0x400, 0x100, True)]))
    answer = b"ingot-agent 1 1 ok 4\ncpu \n"
    img.put(0x800, answer)
    img.publish(img.chain([(0x800, len(answer), False)]))
    write(img, "all-queues")


if __name__ == "__main__":
    main()
