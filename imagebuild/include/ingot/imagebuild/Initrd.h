// Generates the small initrd a gold image boots through when its recipe says `initrd:
// {generate: …}`: busybox and the kernel modules that reach the root partition, taken from the
// image's own tree (so they match its kernel), plus imagebuild/initrd/init, which mounts the
// partition GPT-named "ingot-root" and switches to it. Debian's stock kernel has virtio_mmio,
// virtio_blk and ext4 as modules (DESIGN.md), so an image without an initrd cannot mount its root.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ingot/imagebuild/Tree.h"

namespace ingot::imagebuild {

struct InitrdOptions {
    // Module names (as `modinfo -F name` prints them, '-' and '_' alike); their `depends=`
    // closure is added, in an order where every module follows what it depends on.
    // Soft dependencies (ext4's `softdep=pre: crypto-crc32c`) come along when a module of that
    // name, or for a crypto alias "crypto-X" the module X or X_generic, is there.
    std::vector<std::string> modules{"virtio_mmio", "virtio_blk", "ext4"};
    // The kernel whose modules to take: "" means the only release under lib/modules.
    std::string kernelRelease;
    int64_t mtime = 0;  // SOURCE_DATE_EPOCH: every entry's time
};

struct GeneratedInitrd {
    std::string bytes;  // gzip-compressed cpio "newc", byte-for-byte reproducible
    std::string kernelRelease;
    std::vector<std::string> modules;  // load order, as in the initrd's etc/modules-load
};

// Throws ingot::Error naming what is missing (busybox, the release, a module).
GeneratedInitrd generateInitrd(const Tree& root, const InitrdOptions& options);

// The modules `names` and everything they depend on, dependencies first. Dependencies come from
// the `depends=` entry of each .ko's `.modinfo` ELF section (depmod's modules.dep is not in the
// kernel package: its postinst makes it). Modules are found by file name under
// lib/modules/<release>/, '-' and '_' alike, as modprobe does.
struct KernelModule {
    std::string name;  // "virtio_blk"
    std::string path;  // tree path of the .ko
    std::vector<std::string> depends;
};
std::vector<KernelModule> moduleClosure(const Tree& root, const std::string& release,
                                        const std::vector<std::string>& names);

// Serialises a tree as a cpio "newc" archive through libarchive: paths in tree order, numeric
// owners, the tree's times, hard links as newc expects them.
std::string writeCpioNewc(const Tree& tree);

}  // namespace ingot::imagebuild
