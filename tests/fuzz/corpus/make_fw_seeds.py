#!/usr/bin/env python3
"""Writes the seed corpora of the firmware boot-path fuzz targets (fuzz_fw_*). Deterministic:
rerunning it rewrites the same files."""
import json
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    os.makedirs(os.path.join(here, target), exist_ok=True)
    with open(os.path.join(here, target, name), "wb") as f:
        f.write(data)


put("fw_cmdline", "microvm", b"virtio_mmio.device=512@0xfeb02e00:23")
put("fw_cmdline", "ingot-vmm", b"console=ttyS0 virtio_mmio.device=512@0xd0000000:5 virtio_mmio.device=4K@0xd0000200:6:1")
put("fw_cmdline", "suffixes", b"virtio_mmio.device=1M@4096:12 virtio_mmio.device=2G@0x100000000:1")

manifest = {
    "boot": {"cmdline": "console=ttyS0 quiet", "protocol": "linux-x86_64"},
    "created": 0, "defaults": {"cpus": 1, "memoryMiB": 512}, "format": 1,
    "initrd": {"sha256": "ab" * 32, "size": 1234},
    "kernel": {"sha256": "cd" * 32, "size": 8000000},
    "name": "seed", "partitions": [
        {"firstLba": 2048, "lastLba": 4095, "name": "ingot-boot", "role": "boot",
         "type": "9cb833bb-c637-4cc9-8edc-f81d674c8551", "uuid": "00112233-4455-4677-8899-aabbccddeeff"},
        {"firstLba": 4096, "lastLba": 8191, "name": "ingot-root", "role": "root",
         "type": "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "uuid": "10112233-4455-4677-8899-aabbccddeeff"}],
    "provenance": {}, "verity": None, "version": "1"}
put("fw_manifest", "good", json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
manifest["initrd"] = None
put("fw_manifest", "no-initrd", json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())

head = bytearray(1024)
head[0x1f1] = 27
head[0x1fe:0x200] = b"\x55\xaa"
head[0x200:0x202] = b"\xeb\x6a"
head[0x202:0x206] = b"HdrS"
head[0x206:0x208] = struct.pack("<H", 0x020f)
head[0x211] = 1
head[0x22c:0x234] = struct.pack("<II", 0x7fffffff, 0x200000)
head[0x234] = 1
head[0x236:0x23c] = struct.pack("<HI", 3, 2047)
head[0x258:0x264] = struct.pack("<QI", 0x1000000, 0x3000000)
put("fw_kernel_header", "bzimage-6.1", struct.pack("<Q", 8000000) + bytes(head))


def entry(ino, mode, name, data, nlink=1):
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    b = b"070701" + b"".join(b"%08x" % v for v in fields) + name + b"\0"
    b += b"\0" * (-len(b) % 4)
    return b + data + b"\0" * (-len(data) % 4)


pack = (entry(1, 0o100644, b"manifest.json", b'{"format":1}') +
        entry(2, 0o100644, b"manifest.json.minisig", b"untrusted comment: ingot image signature\n") +
        entry(3, 0o100644, b"kernel", b"K" * 700) + entry(4, 0o100644, b"initrd", b"I" * 300) +
        entry(0, 0, b"TRAILER!!!", b""))
put("fw_boot_pack", "canonical", pack + b"\0" * (-len(pack) % 512))
