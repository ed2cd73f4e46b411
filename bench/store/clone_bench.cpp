// clone_bench: how long `ingot run` spends making a clone of an image already in the store
// (Store::createVm: the qcow2 overlay over the read-only base disk and the clone's record),
// against the two ways a clone is made without ingot: `qemu-img create -b` (the same overlay,
// by QEMU's tool) and a full copy of the disk (`cp --sparse=always`, what importing a box or
// copying a gold image costs). The base disk is reassembled once before timing; each clone is
// removed again untimed. Prints one line of key=value medians in milliseconds.
//
//   clone_bench --store DIR --image NAME [--runs 15]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/Process.h"
#include "ingot/store/Store.h"
#include "support/Median.h"

namespace {

double millisecondsOf(const std::function<void()>& work) {
    auto start = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

void run(const std::vector<std::string>& argv) {
    ingot::ProcessSpec spec;
    spec.argv = argv;
    ingot::runProcessOrThrow(spec, argv[0]);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"clone_bench: clone creation in the store against qemu-img create and a full copy"};
    std::string root, image;
    unsigned runs = 15;
    app.add_option("--store", root, "the store")->required();
    app.add_option("--image", image, "an image in the store (its reference)")->required();
    app.add_option("--runs", runs, "clones per method")->capture_default_str()->check(CLI::Range(1u, 1000u));
    CLI11_PARSE(app, argc, argv);
    namespace fs = std::filesystem;
    try {
        ingot::store::Store store(root);
        const std::string digest = store.resolve(image);
        const std::string base = store.baseDisk(digest);
        const std::string scratch = root + "/clone-bench";
        fs::create_directories(scratch);
        std::vector<double> ours, qemu, copy;
        for (unsigned i = 0; i < runs; ++i) {
            const std::string name = "bench-" + std::to_string(i);
            ours.push_back(millisecondsOf([&] { store.createVm(name, image, 1, 256 << 20); }));
            store.removeVm(name);
            const std::string overlay = scratch + "/overlay.qcow2";
            qemu.push_back(millisecondsOf([&] {
                run({"/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw",
                     overlay});
            }));
            fs::remove(overlay);
            const std::string copied = scratch + "/copy.img";
            copy.push_back(millisecondsOf([&] {
                run({"/bin/cp", "--sparse=always", base, copied});
                run({"/bin/sync", "-f", copied});
            }));
            fs::remove(copied);
        }
        fs::remove_all(scratch);
        std::printf("disk_bytes=%" PRIu64 " ingot_ms=%.2f qemu_img_ms=%.2f copy_ms=%.2f\n",
                    static_cast<uint64_t>(fs::file_size(base)), ingot::bench::median(ours),
                    ingot::bench::median(qemu), ingot::bench::median(copy));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "clone_bench: %s\n", e.what());
        return 1;
    }
}
