#!/usr/bin/env python3
"""Writes the seed corpora in this directory. The seeds are committed; rerun this only to
change them. Needs python3; the cpio and minisign seeds also need the `cpio` and `minisign`
programs (Debian packages cpio and minisign)."""

import base64
import binascii
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def guid(text):
    raw = bytes.fromhex(text.replace("-", ""))
    return raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]


def gpt_disk(sector_size, sector_count, entry_count, partitions):
    """A complete small disk: protective MBR, primary and backup GPT."""
    entry_size = 128
    entries = bytearray(entry_count * entry_size)
    for i, (type_guid, uuid, first, last, name) in enumerate(partitions):
        entry = guid(type_guid) + guid(uuid) + struct.pack("<QQQ", first, last, 0)
        entry += name.encode("utf-16-le").ljust(72, b"\0")
        entries[i * entry_size:(i + 1) * entry_size] = entry
    entry_sectors = -(-len(entries) // sector_size)
    first_usable = 2 + entry_sectors
    last_usable = sector_count - 2 - entry_sectors
    entries_crc = binascii.crc32(entries)

    def header(my_lba, alternate_lba, entries_lba):
        fields = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, 0, 0, my_lba,
                             alternate_lba, first_usable, last_usable,
                             guid("01234567-89ab-cdef-0123-456789abcdef"), entries_lba,
                             entry_count, entry_size, entries_crc)
        crc = binascii.crc32(fields)
        fields = fields[:16] + struct.pack("<I", crc) + fields[20:]
        return fields.ljust(sector_size, b"\0")

    mbr = bytearray(sector_size)
    mbr[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1,
                               min(sector_count - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    disk = bytearray(sector_count * sector_size)
    disk[0:sector_size] = mbr
    disk[sector_size:2 * sector_size] = header(1, sector_count - 1, 2)
    disk[2 * sector_size:2 * sector_size + len(entries)] = entries
    backup_entries_lba = sector_count - 1 - entry_sectors
    disk[backup_entries_lba * sector_size:backup_entries_lba * sector_size + len(entries)] = entries
    disk[(sector_count - 1) * sector_size:] = header(sector_count - 1, 1, backup_entries_lba)
    return bytes(disk)


BOOT = "9cb833bb-c637-4cc9-8edc-f81d674c8551"
ROOT = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
VERITY = "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5"


def gpt_seeds():
    parts = [(BOOT, "11111111-2222-3333-4444-555555555555", 4, 10, "boot"),
             (ROOT, "66666666-7777-8888-9999-aaaaaaaaaaaa", 11, 30, "root"),
             (VERITY, "bbbbbbbb-cccc-dddd-eeee-ffffffffffff", 31, 37, "root-verity")]
    disk = gpt_disk(512, 40, 4, parts)
    write("gpt", "disk-512", disk)
    # fuzz_gpt's structured form: disk sectors (u64), sector-size choice, LBA 1, entry array.
    write("gpt", "structured-512", struct.pack("<Q", 40) + b"\0" + disk[512:1024] + disk[1024:1536])
    disk4k = gpt_disk(4096, 16, 4, [(p[0], p[1], p[2] // 4 + 3, p[2] // 4 + 3, p[4]) for p in parts[:1]])
    write("gpt", "structured-4096", struct.pack("<Q", 16) + b"\1" + disk4k[4096:8192] + disk4k[8192:8704])


def json_seeds():
    write("json", "manifest.json", """{
  "format": 1, "name": "debian", "version": "12.20240101", "created": 1704067200,
  "kernel": {"sha256": "ab12", "size": 8126464}, "initrd": null,
  "cmdline": "console=ttyS0 ro",
  "partitions": [{"role": "boot", "uuid": "11111111-2222-3333-4444-555555555555", "first_lba": 2048},
                 {"role": "root", "uuid": "66666666-7777-8888-9999-aaaaaaaaaaaa", "first_lba": 4096},
                 {"role": "root-verity", "uuid": "bbbbbbbb-cccc-dddd-eeee-ffffffffffff", "first_lba": 8192}],
  "verity": {"root_hash": "00ff", "data_block_size": 4096, "salt": ""},
  "defaults": {"cpus": 2, "memory_mib": 1024, "ballooning": false}
}
""")
    write("json", "escapes.json", r'["a\"b\\c\/", "\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "caf' + "\u00e9" + '"]')
    write("json", "numbers.json", "[0, -0, 1, -1, 18446744073709551615, -9223372036854775808, 123]")
    write("json", "literals.json", '{"t": true, "f": false, "n": null, "e": {}, "a": []}')
    write("json", "nested.json", "[[[[[[[[{\"k\": [[[1]]]}]]]]]]]]")


def base64_seeds():
    for name, text in [("empty", ""), ("one", "Zg=="), ("two", "Zm8="), ("three", "Zm9vYmFy"),
                       ("key", "RWRuIu0zOlYXVl/UFQJRL2f7OLGYC/i7piA06KICCIJHT0hwnPm6ZJ1H")]:
        write("base64", name, text)


def ed25519_seeds():
    # RFC 8032 section 7.1, TEST 2 and TEST 3: signature || public key || message.
    write("ed25519", "rfc8032-test2", bytes.fromhex(
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c72"))
    write("ed25519", "rfc8032-test3", bytes.fromhex(
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025af82"))


def tool_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "tree")
        os.makedirs(os.path.join(tree, "sub"))
        files = {"manifest.json": b'{"format": 1}\n', "manifest.json.minisig": b"sig\n",
                 "kernel": bytes(range(256)) * 3, "initrd": b"", "sub/x": b"xyz"}
        for name, data in files.items():
            with open(os.path.join(tree, name), "wb") as f:
                f.write(data)
        names = "\n".join(list(files) + ["sub"]) + "\n"
        archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=tree,
                                 input=names.encode(), capture_output=True, check=True).stdout
        write("cpio", "boot-pack.cpio", archive)
        empty = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=tree, input=b"",
                               capture_output=True, check=True).stdout
        write("cpio", "empty.cpio", empty)

        pub, sec = os.path.join(tmp, "k.pub"), os.path.join(tmp, "k.sec")
        subprocess.run(["minisign", "-G", "-W", "-p", pub, "-s", sec], check=True,
                       capture_output=True)
        with open(pub, "rb") as f:
            key_file = f.read()
        write("minisign_public_key", "key.pub", key_file)
        write("minisign_public_key", "key-line", key_file.splitlines()[1])
        message = os.path.join(tmp, "manifest.json")
        with open(message, "wb") as f:
            f.write(b'{"format": 1}\n')
        for name, extra in [("prehashed.minisig", []), ("legacy.minisig", ["-l"])]:
            subprocess.run(["minisign", "-S", *extra, "-s", sec, "-m", message, "-t",
                            "name=debian version=12"], check=True, capture_output=True)
            with open(message + ".minisig", "rb") as f:
                write("minisign_signature", name, f.read())


if __name__ == "__main__":
    gpt_seeds()
    json_seeds()
    base64_seeds()
    ed25519_seeds()
    tool_seeds()
