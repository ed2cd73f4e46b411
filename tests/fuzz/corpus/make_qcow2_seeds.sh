#!/usr/bin/env bash
# Seeds for fuzz_qcow2: small qcow2 v3 overlays (512-byte clusters, so data fits in a few KiB)
# written by qemu-img and qemu-io (Debian package qemu-utils): empty, with data, zero and
# discarded clusters, and with 1-, 16- and 64-bit refcounts. The seeds are committed; rerun this
# only to change them.
set -euo pipefail
out="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/qcow2"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$out"

# Writes happen without a backing file (qemu-io would open it); the name is set afterwards.
seed() {  # name, create options, qemu-io commands...
    local name="$1" options="$2"
    shift 2
    qemu-img create -q -f qcow2 -o "compat=1.1,cluster_size=512,$options" "$scratch/$name" 256K
    local commands=()
    for c in "$@"; do commands+=(-c "$c"); done
    if [ ${#commands[@]} -gt 0 ]; then qemu-io -f qcow2 "${commands[@]}" "$scratch/$name" >/dev/null; fi
    qemu-img rebase -u -f qcow2 -b /var/lib/ingot/base.raw -F raw "$scratch/$name"
    cp "$scratch/$name" "$out/$name"
}

seed empty refcount_bits=16
seed written refcount_bits=16 'write -P 0xab 512 4096' 'write -z 8192 1024' \
    'write -P 0xcd 65536 2048' 'discard 65536 512'
seed refcount-1 refcount_bits=1 'write -P 0x11 0 1536' 'write -z 4096 4096'
seed refcount-64 refcount_bits=64 'write -P 0x22 1024 3072' 'discard 1024 512'
qemu-img create -q -f qcow2 -o compat=1.1,cluster_size=4096 "$out/no-backing-4k" 64K
