// bench/firmware: what verified boot costs.
//   hash  the firmware's own SHA-256, BLAKE2b and Ed25519 against OpenSSL on this host
//   boot  one signed image booted N times, alternating: QEMU microvm with its own qboot loading
//         the kernel directly, QEMU microvm with ingot-fw verifying the image, and (with --vmm)
//         ingot-vmm with ingot-fw. Times come from the console (wall time since spawn to a
//         marker) and, under ingot-vmm, from the boot-progress port.
// Prints medians and ratios.
#include <openssl/evp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "ConsoleClock.h"
#include "ingot/fw/Blake2b.h"
#include "ingot/fw/Ed25519.h"
#include "ingot/fw/Sha256.h"
#include "ingot/image/DiskImage.h"
#include "ingot/sign/Minisign.h"

namespace {

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename F>
double medianSeconds(int reps, F f) {
    std::vector<double> s;
    for (int i = 0; i < reps; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        f();
        s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return median(s);
}

void hashBench() {
    std::vector<uint8_t> data(64 << 20);
    std::mt19937_64 rng(1);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    uint8_t digest[64];
    unsigned len = 0;
    double mib = data.size() / 1048576.0;
    double fwSha =
        medianSeconds(5, [&] { ingot::fw::Sha256::hash(data.data(), data.size(), digest); });
    double sslSha = medianSeconds(
        5, [&] { EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr); });
    double fwB2 = medianSeconds(
        5, [&] { (void)ingot::fw::Blake2b::hash(data.data(), data.size(), digest, 64); });
    double sslB2 = medianSeconds(
        5, [&] { EVP_Digest(data.data(), data.size(), digest, &len, EVP_blake2b512(), nullptr); });

    // Ed25519 verification of a 64-byte message (what minisign verifies: a BLAKE2b-512 prehash).
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    uint8_t pub[32], sig[64], msg[64] = {1, 2, 3};
    size_t n = 32;
    EVP_PKEY_get_raw_public_key(key, pub, &n);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    n = 64;
    EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key);
    EVP_DigestSign(ctx, sig, &n, msg, sizeof msg);
    constexpr int kVerifies = 200;
    double fwEd = medianSeconds(5, [&] {
        for (int i = 0; i < kVerifies; ++i)
            if (ingot::fw::ed25519_verify(sig, pub, ingot::fw::ByteView(msg, sizeof msg)) !=
                ingot::fw::Ed25519Status::kValid)
                std::abort();
    });
    double sslEd = medianSeconds(5, [&] {
        for (int i = 0; i < kVerifies; ++i) {
            EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key);
            if (EVP_DigestVerify(ctx, sig, 64, msg, sizeof msg) != 1) std::abort();
        }
    });
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);

    std::printf("| primitive (median of 5, 64 MiB) | ingot-fw | OpenSSL | ratio |\n");
    std::printf("|---|---|---|---|\n");
    std::printf("| SHA-256 MiB/s | %.0f | %.0f | %.2f |\n", mib / fwSha, mib / sslSha,
                sslSha / fwSha);
    std::printf("| BLAKE2b-512 MiB/s | %.0f | %.0f | %.2f |\n", mib / fwB2, mib / sslB2,
                sslB2 / fwB2);
    std::printf("| Ed25519 verify µs | %.0f | %.0f | %.2f |\n", fwEd / kVerifies * 1e6,
                sslEd / kVerifies * 1e6, sslEd / fwEd);
}

struct BootRow {
    std::string name;
    std::vector<double> toKernel;  // spawn → "Linux version"
    std::vector<double> firmware;  // firmware entry → kernel jump (or its console equivalent)
    int failures = 0;
};

void printBoot(const std::vector<BootRow>& rows, uint64_t verifiedBytes) {
    std::printf(
        "| path (median) | spawn → kernel's first line, s | firmware entry → kernel jump, s | "
        "verified MiB/s |\n");
    std::printf("|---|---|---|---|\n");
    for (const auto& r : rows) {
        double fw = median(r.firmware);
        std::printf("| %s | %.3f | %s | %s |%s\n", r.name.c_str(), median(r.toKernel),
                    r.firmware.empty() ? "—" : std::to_string(fw).substr(0, 5).c_str(),
                    r.firmware.empty()
                        ? "—"
                        : std::to_string(verifiedBytes / 1048576.0 / fw).substr(0, 6).c_str(),
                    r.failures ? (" " + std::to_string(r.failures) + " failed runs").c_str() : "");
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench/firmware"};
    app.require_subcommand(1);
    auto* hash = app.add_subcommand("hash", "firmware crypto vs OpenSSL");
    auto* boot = app.add_subcommand("boot", "boot paths compared");
    std::string firmware, kernel, initrd, vmm, scratch = "/tmp/ingot-firmware-bench";
    std::string cmdline =
        "console=ttyS0 earlyprintk=ttyS0 tsc_early_khz=2000000 ingot.test=poweroff";
    int runs = 5;
    bool noQemu = false;
    boot->add_flag("--no-qemu", noQemu,
                   "skip the QEMU rows (inside the rig they would be TCG in TCG)");
    boot->add_option("--firmware", firmware)->required();
    boot->add_option("--kernel", kernel)->required();
    boot->add_option("--initrd", initrd)->required();
    boot->add_option("--vmm", vmm, "also boot under this ingot-vmm (needs /dev/kvm)");
    boot->add_option("--scratch", scratch);
    boot->add_option("--runs", runs);
    CLI11_PARSE(app, argc, argv);
    if (hash->parsed()) {
        hashBench();
        return 0;
    }

    std::filesystem::create_directories(scratch);
    auto key = ingot::sign::generateMinisignKey();
    auto keys = scratch + "/trusted.pub";
    ingot::sign::writePublicKeyFile(keys, key.publicPart());
    ingot::image::DiskImageInput in;
    in.name = "bench/firmware";
    in.version = "1";
    in.cmdline = cmdline;
    in.kernelPath = kernel;
    in.initrdPath = initrd;
    auto disk = scratch + "/image.raw";
    auto image = ingot::image::writeDiskImage(in, key, disk);
    uint64_t verifiedBytes = image.manifest.kernel.size + image.manifest.initrd->size;

    const std::string kLinux = "Linux version", kStart = "ingot-fw: start",
                      kVerified = "ingot-fw: verified";
    std::vector<std::string> qemu{"qemu-system-x86_64",
                                  "-M",
                                  "microvm",
                                  "-accel",
                                  "tcg",
                                  "-m",
                                  "512",
                                  "-nodefaults",
                                  "-no-user-config",
                                  "-display",
                                  "none",
                                  "-serial",
                                  "stdio",
                                  "-no-reboot",
                                  "-device",
                                  "isa-debug-exit,iobase=0xf4,iosize=1"};
    auto qboot = qemu;
    qboot.insert(qboot.end(), {"-kernel", kernel, "-initrd", initrd, "-append", cmdline});
    auto qfw = qemu;
    qfw.insert(qfw.end(),
               {"-kernel", firmware, "-initrd", keys, "-append",
                "virtio_mmio.device=512@0xfeb02e00:23", "-global", "virtio-mmio.force-legacy=false",
                "-drive", "id=d0,file=" + disk + ",format=raw,if=none,readonly=on", "-device",
                "virtio-blk-device,drive=d0"});
    std::vector<BootRow> rows{{"QEMU microvm, qboot loads the kernel (TCG)", {}, {}, 0},
                              {"QEMU microvm, ingot-fw verifies the image (TCG)", {}, {}, 0},
                              {"ingot-vmm, ingot-fw verifies the image (KVM)", {}, {}, 0}};
    for (int i = 0; i < runs; ++i) {
        if (!noQemu) {
            auto a = ingot::bench::runWithMarkers(qboot, {kLinux}, 300);
            if (a.seconds.count(kLinux))
                rows[0].toKernel.push_back(a.seconds[kLinux]);
            else
                ++rows[0].failures;
            auto b = ingot::bench::runWithMarkers(qfw, {kStart, kVerified, kLinux}, 300);
            if (b.seconds.count(kLinux) && b.seconds.count(kStart)) {
                rows[1].toKernel.push_back(b.seconds[kLinux]);
                // The console shows the start line and the verified line; the jump follows at once.
                rows[1].firmware.push_back(b.seconds[kVerified] - b.seconds[kStart]);
            } else {
                ++rows[1].failures;
                std::fprintf(stderr, "%s\n", b.output.c_str());
            }
        }
        if (!vmm.empty()) {
            auto stats = scratch + "/stats.json";
            auto c = ingot::bench::runWithMarkers(
                {vmm, "--firmware", firmware, "--initrd", keys, "--disk", disk + ",readonly",
                 "--memory", "512M", "--stats-json", stats},
                {kLinux}, 300);
            std::ifstream f(stats);
            auto doc = nlohmann::json::parse(f, nullptr, false);
            double entry = -1, jump = -1;
            if (doc.is_object())
                for (const auto& e : doc["bootProgress"]) {
                    if (e["code"] == 1) entry = e["seconds"];
                    if (e["code"] == 3) jump = e["seconds"];
                }
            if (c.seconds.count(kLinux) && entry >= 0 && jump >= 0) {
                rows[2].toKernel.push_back(c.seconds[kLinux]);
                rows[2].firmware.push_back(jump - entry);
            } else {
                ++rows[2].failures;
                std::fprintf(stderr, "%s\n", c.output.c_str());
            }
        }
    }
    std::printf("image: kernel %.1f MiB + initrd %.1f MiB verified; ingot-fw.elf %ju bytes\n\n",
                image.manifest.kernel.size / 1048576.0, image.manifest.initrd->size / 1048576.0,
                static_cast<uintmax_t>(std::filesystem::file_size(firmware)));
    std::erase_if(rows, [](const BootRow& r) { return r.toKernel.empty() && r.failures == 0; });
    printBoot(rows, verifiedBytes);
    return 0;
}
