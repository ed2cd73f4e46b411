#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_imagebuild_archive: small archives in each dialect and
compression base ingestion reads (pax with xattrs and long names, GNU, ustar, cpio newc, a .deb),
so fuzzing starts inside the entry handling rather than at format detection. Python's tarfile,
gzip, bz2 and lzma modules write them; the zstd seed needs the zstd program. Every timestamp
is fixed, so reruns give the same bytes. The seeds are committed; rerun this only to change
them."""

import bz2
import gzip
import io
import lzma
import os
import shutil
import subprocess
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "imagebuild_archive")
MTIME = 1700000000


def write(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def tar(fmt, members):
    """members: (name, type, data, extra) tuples; extra holds TarInfo attributes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as t:
        for name, kind, data, extra in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mtime = MTIME
            info.mode = 0o644 if kind == tarfile.REGTYPE else 0o755
            for key, value in extra.items():
                setattr(info, key, value)
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    return out.getvalue()


def rootfs(fmt):
    return tar(fmt, [
        ("./", tarfile.DIRTYPE, b"", {}),
        ("./etc", tarfile.DIRTYPE, b"", {}),
        ("./etc/hostname", tarfile.REGTYPE, b"gold\n", {"uid": 0, "gid": 0}),
        ("./usr/bin/ping", tarfile.REGTYPE, b"\x7fELF", {"mode": 0o4755,
                                                          "pax_headers": {
                                                              "SCHILY.xattr.security.capability":
                                                              "\x01\x00\x00\x02"}}),
        ("./usr/bin/ping6", tarfile.LNKTYPE, b"", {"linkname": "./usr/bin/ping"}),
        ("./bin", tarfile.SYMTYPE, b"", {"linkname": "usr/bin", "mode": 0o777}),
        ("./tmp", tarfile.DIRTYPE, b"", {"mode": 0o1777}),
        ("./dev/null", tarfile.CHRTYPE, b"", {"devmajor": 1, "devminor": 3}),
        ("./" + "long/" * 30 + "name", tarfile.REGTYPE, b"deep", {"uid": 70000}),
    ])


def cpio_newc(members):
    """members: (name, mode, data, ino, nlink)."""
    out = b""
    for name, mode, data, ino, nlink in members + [("TRAILER!!!", 0, b"", 0, 1)]:
        encoded = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, nlink, MTIME, len(data), 0, 0, 0, 0, len(encoded), 0]
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += header + encoded
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return out


def ar(members):
    out = b"!<arch>\n"
    for name, data in members:
        out += b"%-16s%-12d%-6d%-6d%-8o%-10d`\n" % (name.encode(), 0, 0, 0, 0o100644, len(data))
        out += data + (b"\n" if len(data) % 2 else b"")
    return out


def gz(data):
    return gzip.compress(data, mtime=0)


def main():
    pax = rootfs(tarfile.PAX_FORMAT)
    write("rootfs-pax.tar", pax)
    write("rootfs-gnu.tar.gz", gz(rootfs(tarfile.GNU_FORMAT)))
    write("rootfs-ustar.tar.bz2", bz2.compress(tar(tarfile.USTAR_FORMAT, [
        ("etc/passwd", tarfile.REGTYPE, b"root:x:0:0::/root:/bin/sh\n", {})])))
    write("rootfs-pax.tar.xz", lzma.compress(pax))
    if shutil.which("zstd"):
        write("rootfs-pax.tar.zst",
              subprocess.run(["zstd", "-q", "-c", "-3"], input=pax, check=True,
                             stdout=subprocess.PIPE).stdout)
    write("initrd.cpio", cpio_newc([
        (".", 0o40755, b"", 1, 2),
        ("init", 0o100755, b"#!/bin/sh\n", 2, 1),
        ("a", 0o100644, b"", 3, 2),
        ("b", 0o100644, b"shared", 3, 2),
        ("bin/sh", 0o120777, b"busybox", 4, 1),
    ]))
    control = gz(tar(tarfile.GNU_FORMAT, [
        ("./control", tarfile.REGTYPE, b"Package: hello\nVersion: 1.0\nArchitecture: all\n", {})]))
    data = lzma.compress(tar(tarfile.GNU_FORMAT, [
        ("./usr/bin/hello", tarfile.REGTYPE, b"#!/bin/sh\necho hello\n", {"mode": 0o755})]))
    write("hello.deb", ar([("debian-binary", b"2.0\n"), ("control.tar.gz", control),
                           ("data.tar.xz", data)]))


if __name__ == "__main__":
    main()
