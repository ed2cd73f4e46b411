// registry_bench_image: the signed ingot images bench/registry pushes and pulls, written with the
// library `ingot build` uses (writeDiskImage, then writeImageToLayout), so `ingot push`,
// `ingot pull` and `ingot verify` treat them as any built image. The root partition is seeded
// pseudo-random bytes rather than a file system: a bootstrap is minutes of work the bench does
// not measure, and random content neither compresses nor dedupes, so every chunk is a full-size
// blob on the wire. `--edit-offset` flips a few KiB of the root, which is what a small patch
// does to a disk: the second version shares every chunk but those around the edit (and the
// verity tree's and boot pack's changed blocks) with the first.
//
//   registry_bench_image --layout DIR --tag v1 --key bench.key --kernel vmlinuz --root-mib 1024
//                        [--version 1] [--seed 1] [--edit-offset BYTES --edit-bytes N]
//                        [--disk PATH]
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/image/DiskImage.h"
#include "ingot/oci/Layout.h"
#include "ingot/sign/Minisign.h"

namespace {

// splitmix64: fast enough that writing the root costs less than packing it, and the same seed
// gives the same bytes, so both versions differ only where the edit says.
struct SplitMix {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

void writeRoot(const std::string& path, uint64_t bytes, uint64_t seed, uint64_t editOffset,
               uint64_t editBytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) ingot::throwSystemError("cannot create " + path, errno);
    SplitMix random{seed};
    std::vector<uint64_t> buffer((1u << 20) / sizeof(uint64_t));
    for (uint64_t at = 0; at < bytes; at += 1u << 20) {
        for (auto& word : buffer) word = random.next();
        auto* raw = reinterpret_cast<unsigned char*>(buffer.data());
        size_t size = std::min<uint64_t>(1u << 20, bytes - at);
        for (uint64_t i = std::max(at, editOffset); i < std::min(at + size, editOffset + editBytes); ++i)
            raw[i - at] ^= 0x5a;
        for (size_t done = 0; done < size;) {
            ssize_t n = ::write(fd, raw + done, size - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                int err = errno;
                ::close(fd);
                ingot::throwSystemError("cannot write " + path, err);
            }
            done += static_cast<size_t>(n);
        }
    }
    if (::close(fd) < 0) ingot::throwSystemError("cannot write " + path, errno);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"registry_bench_image: a signed ingot image with a pseudo-random root, packed into an OCI layout"};
    std::string layout, tag, keyPath, kernel, disk, version = "1";
    uint64_t rootMiB = 1024, seed = 1, editOffset = 0, editBytes = 0;
    app.add_option("--layout", layout, "OCI layout to add the image to (created if needed)")->required();
    app.add_option("--tag", tag, "tag of the image in the layout")->required();
    app.add_option("--key", keyPath, "unencrypted minisign secret key (ingot key gen)")->required();
    app.add_option("--kernel", kernel, "kernel for the boot pack")->required();
    app.add_option("--root-mib", rootMiB, "size of the root partition")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app.add_option("--version", version, "image version (in the signed manifest)")->capture_default_str();
    app.add_option("--seed", seed, "seed of the root's bytes")->capture_default_str();
    app.add_option("--edit-offset", editOffset, "offset in the root of the region to change")->capture_default_str();
    app.add_option("--edit-bytes", editBytes, "bytes to change there (0: none)")->capture_default_str();
    app.add_option("--disk", disk, "keep the disk image here (default: removed once packed)");
    CLI11_PARSE(app, argc, argv);

    try {
        const uint64_t rootBytes = rootMiB << 20;
        if (editBytes && editOffset + editBytes > rootBytes)
            throw ingot::Error("the edit ends past the root's " + std::to_string(rootBytes) + " bytes",
                               ingot::ExitStatus::kUsage);
        const bool keepDisk = !disk.empty();
        if (!keepDisk) disk = layout + ".disk-" + tag + ".img";
        const std::string root = disk + ".root";
        writeRoot(root, rootBytes, seed, editOffset, editBytes);

        ingot::image::DiskImageInput input;
        input.name = "bench/registry";
        input.version = version;
        input.created = 1700000000;
        input.cmdline = "console=ttyS0";
        input.kernelPath = kernel;
        input.rootPath = root;
        ingot::sign::MinisignSecretKey key = ingot::sign::readSecretKeyFile(keyPath);
        ingot::image::DiskImage image = ingot::image::writeDiskImage(input, key, disk);
        ::unlink(root.c_str());
        ingot::oci::PackedImage packed =
            ingot::oci::writeImageToLayout(layout, disk, image.manifestText, image.signature, tag);
        if (!keepDisk) ::unlink(disk.c_str());
        // One line of key=value pairs: bench/registry/run reads it.
        std::printf("tag=%s digest=%s disk_bytes=%" PRIu64 " chunks=%" PRIu64 " holes=%" PRIu64
                    " stored_bytes=%" PRIu64 " new_blob_bytes=%" PRIu64 "\n",
                    tag.c_str(), packed.digest.c_str(), packed.diskSize, packed.chunks, packed.holes,
                    packed.storedBytes, packed.newBlobBytes);
        return 0;
    } catch (const ingot::Error& e) {
        std::fprintf(stderr, "registry_bench_image: %s\n", e.what());
        return static_cast<int>(e.status());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "registry_bench_image: internal error: %s\n", e.what());
        return static_cast<int>(ingot::ExitStatus::kInternal);
    }
}
