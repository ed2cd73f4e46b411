// bench/virtio: virtio-blk throughput of ingot-vmm against QEMU microvm, same KVM, same kernel and
// initramfs, same disk file, alternating boots. Each boot runs every workload once (see
// guest/ingot-diskbench.c): sequential read and write in 1 MiB requests, random read and write
// in 4 KiB requests from several guest threads. Throughput is what the guest measured with
// CLOCK_MONOTONIC; VM exits are KVM's per-VM debugfs counter sampled on the host the moment each
// workload's start line and result line arrive on the console, so they cover exactly one
// workload (plus its 0.25 s settle sleep and the result line's own console output) and need no
// idle-boot subtraction. Prints medians over the runs and ratios (ingot / QEMU).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "../support/Median.h"
#include "../support/MonitorRun.h"

namespace {

using ingot::bench::median;
using ingot::bench::Watch;

struct Phase {
    uint64_t bytes = 0, ops = 0;
    double seconds = 0;
    std::optional<uint64_t> exitsAtStart, exitsAtEnd;
    bool ok = false;
};

struct Boot {
    std::map<std::string, Phase> phases;
    bool done = false;
};

std::optional<uint64_t> field(std::string_view line, std::string_view key) {
    auto at = line.find(std::string(key) + "=");
    if (at == std::string_view::npos) return std::nullopt;
    return std::strtoull(std::string(line.substr(at + key.size() + 1)).c_str(), nullptr, 10);
}

std::string phaseName(std::string_view line) {
    auto at = line.find("phase=");
    if (at == std::string_view::npos) return {};
    auto rest = line.substr(at + 6);
    return std::string(rest.substr(0, rest.find(' ')));
}

Boot runOnce(const std::vector<std::string>& argv, double timeout) {
    Boot b;
    auto run = ingot::bench::runMonitor(argv, timeout, [&](pid_t pid, std::string_view line, double) {
        if (line.find("INGOT-BENCH-START ") != std::string_view::npos) {
            b.phases[phaseName(line)].exitsAtStart = ingot::bench::vmExits(pid);
        } else if (line.find("INGOT-BENCH phase=") != std::string_view::npos) {
            Phase& p = b.phases[phaseName(line)];
            p.exitsAtEnd = ingot::bench::vmExits(pid);
            p.bytes = field(line, "bytes").value_or(0);
            p.ops = field(line, "ops").value_or(0);
            auto at = line.find("seconds=");
            p.seconds = at == std::string_view::npos ? 0 : std::strtod(std::string(line.substr(at + 8)).c_str(), nullptr);
            p.ok = p.bytes > 0 && p.seconds > 0;
        } else if (line.find("INGOT-BENCH-DONE") != std::string_view::npos) {
            b.done = true;
            return Watch::Stop;
        }
        return Watch::Continue;
    });
    if (!b.done) std::fprintf(stderr, "run of %s did not finish; output:\n%s\n", argv[0].c_str(), run.output.c_str());
    return b;
}

// Non-zero, position-dependent contents: reads then move real page-cache pages on the host
// rather than a sparse file's holes.
bool makeDisk(const std::string& path, uint64_t mib) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    std::vector<uint64_t> chunk((1u << 20) / sizeof(uint64_t));
    for (uint64_t m = 0; m < mib; ++m) {
        for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = (m << 20) + i * 8 + 1;
        if (write(fd, chunk.data(), 1u << 20) != 1 << 20) {
            close(fd);
            return false;
        }
    }
    return close(fd) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench/virtio: virtio-blk throughput and exits, ingot-vmm vs QEMU microvm"};
    std::string vmm, qemu = "qemu-system-x86_64", kernel, initrd, disk = "/tmp/ingot-virtio-bench.raw";
    std::vector<std::string> phases{"seq-read", "seq-write", "rand-read", "rand-write"};
    unsigned runs = 3, cpus = 1, memoryMiB = 512, threads = 4;
    uint64_t diskMiB = 512;
    double seconds = 5, timeout = 900;
    app.add_option("--vmm", vmm, "ingot-vmm binary")->required();
    app.add_option("--qemu", qemu, "qemu-system-x86_64 binary")->capture_default_str();
    app.add_option("--kernel", kernel, "bzImage")->required();
    app.add_option("--initrd", initrd, "bench/virtio's initramfs (virtio modules, init, ingot-diskbench)")->required();
    app.add_option("--disk", disk, "raw disk file, created (filled) when --disk-mib is not 0")->capture_default_str();
    app.add_option("--disk-mib", diskMiB, "size of the disk file to create; 0 uses --disk as it is")->capture_default_str();
    app.add_option("--runs", runs, "boots per monitor")->capture_default_str();
    app.add_option("--phases", phases, "workloads, in order")->capture_default_str()->delimiter(',');
    app.add_option("--seconds", seconds, "length of each workload")->capture_default_str();
    app.add_option("--threads", threads, "guest threads of the random workloads")->capture_default_str();
    app.add_option("--cpus", cpus)->capture_default_str();
    app.add_option("--memory-mib", memoryMiB)->capture_default_str();
    app.add_option("--timeout", timeout, "seconds per boot")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    if (diskMiB && !makeDisk(disk, diskMiB)) {
        std::perror(("cannot create " + disk).c_str());
        return 2;
    }
    std::string joined;
    for (const auto& p : phases) joined += (joined.empty() ? "" : ",") + p;
    char tail[96];
    std::snprintf(tail, sizeof tail, " ingot.bench.seconds=%g ingot.bench.threads=%u", seconds, threads);
    std::string cmdline = "console=ttyS0 quiet ingot.bench=" + joined + tail;
    std::vector<std::string> ingot{vmm, "--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline,
                                   "--cpus", std::to_string(cpus), "--memory",
                                   std::to_string(memoryMiB) + "M", "--disk", disk};
    // QEMU's counterpart of ingot-vmm's RawFileBackend, which moves data with preadv/pwritev
    // through the host page cache and turns a guest FLUSH into fdatasync: cache=writeback (page
    // cache, write cache shown to the guest, flush = fdatasync) with aio=threads (a worker pool
    // doing preadv/pwritev). cache=none would add O_DIRECT on the host, which ingot-vmm does not
    // do, and which the rig's tmpfs /tmp refuses. force-legacy=false because microvm's
    // virtio-mmio defaults to the legacy (0.9) interface and ingot-vmm serves only virtio 1.x.
    // Both then have one 256-entry queue with seg_max 254, EVENT_IDX and ioeventfd/irqfd; QEMU
    // serves the queue from its main loop (no -object iothread), ingot-vmm from one thread per
    // disk.
    std::vector<std::string> qemuArgs{qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "host",
                                      "-smp", std::to_string(cpus), "-m", std::to_string(memoryMiB) + "M",
                                      "-nodefaults", "-no-user-config", "-display", "none",
                                      "-serial", "stdio", "-no-reboot", "-kernel", kernel,
                                      "-initrd", initrd, "-append", cmdline,
                                      "-global", "virtio-mmio.force-legacy=false",
                                      "-drive", "id=vda,if=none,format=raw,cache=writeback,aio=threads,file=" + disk,
                                      "-device", "virtio-blk-device,drive=vda"};
    std::vector<Boot> a, b;
    for (unsigned i = 0; i < runs; ++i) {
        a.push_back(runOnce(ingot, timeout));
        b.push_back(runOnce(qemuArgs, timeout));
        std::fprintf(stderr, "run %u:", i + 1);
        for (const auto& p : phases) {
            auto mibs = [&](const Boot& boot) {
                auto it = boot.phases.find(p);
                return it == boot.phases.end() || !it->second.ok ? 0.0
                                                                  : it->second.bytes / 1048576.0 / it->second.seconds;
            };
            std::fprintf(stderr, " %s %.1f/%.1f MiB/s", p.c_str(), mibs(a.back()), mibs(b.back()));
        }
        std::fprintf(stderr, " (ingot/qemu)\n");
    }
    if (diskMiB) unlink(disk.c_str());

    // One value per successful boot.
    auto column = [](const std::vector<Boot>& boots, const std::string& phase, auto metric) {
        std::vector<double> out;
        for (const auto& boot : boots) {
            auto it = boot.phases.find(phase);
            if (it == boot.phases.end() || !it->second.ok) continue;
            if (auto x = metric(it->second)) out.push_back(*x);
        }
        return out;
    };
    auto mibPerSecond = [](const Phase& p) -> std::optional<double> { return p.bytes / 1048576.0 / p.seconds; };
    auto iops = [](const Phase& p) -> std::optional<double> { return p.ops / p.seconds; };
    auto exitDelta = [](const Phase& p) -> std::optional<double> {
        if (!p.exitsAtStart || !p.exitsAtEnd) return std::nullopt;
        return static_cast<double>(*p.exitsAtEnd - *p.exitsAtStart);
    };
    auto exitsPerMiB = [&](const Phase& p) -> std::optional<double> {
        auto e = exitDelta(p);
        return e ? std::optional(*e / (p.bytes / 1048576.0)) : std::nullopt;
    };
    auto exitsPerRequest = [&](const Phase& p) -> std::optional<double> {
        auto e = exitDelta(p);
        return e && p.ops ? std::optional(*e / p.ops) : std::nullopt;
    };

    std::printf("bench/virtio: %u runs each, %g s per workload, %u vCPU, %u MiB, random: 4 KiB x %u threads, "
                "disk %s (%" PRIu64 " MiB), kernel %s\n",
                runs, seconds, cpus, memoryMiB, threads, disk.c_str(), diskMiB, kernel.c_str());
    std::printf("| metric (median)                  | ingot-vmm | QEMU microvm | ratio |\n");
    std::printf("|----------------------------------|-----------|--------------|-------|\n");
    auto row = [&](const std::string& label, const std::string& phase, auto metric, int decimals) {
        auto ca = column(a, phase, metric), cb = column(b, phase, metric);
        char name[64], va[32] = "n/a", vb[32] = "n/a", ratio[16] = "n/a";
        std::snprintf(name, sizeof name, "%s %s", phase.c_str(), label.c_str());
        if (!ca.empty()) std::snprintf(va, sizeof va, "%.*f", decimals, median(ca));
        if (!cb.empty()) std::snprintf(vb, sizeof vb, "%.*f", decimals, median(cb));
        if (!ca.empty() && !cb.empty() && median(cb) > 0) std::snprintf(ratio, sizeof ratio, "%.2f", median(ca) / median(cb));
        std::printf("| %-32s | %9s | %12s | %5s |\n", name, va, vb, ratio);
    };
    for (const auto& p : phases) {
        bool random = p.rfind("rand-", 0) == 0;
        row("MiB/s", p, mibPerSecond, 1);
        if (random) row("IOPS", p, iops, 0);
        row("exits/MiB", p, exitsPerMiB, 1);
        if (random) row("exits/request", p, exitsPerRequest, 2);
    }
    auto complete = [&](const std::vector<Boot>& boots) {
        size_t n = 0;
        for (const auto& boot : boots) {
            bool all = boot.done;
            for (const auto& p : phases) all = all && boot.phases.count(p) && boot.phases.at(p).ok;
            n += all;
        }
        return n;
    };
    size_t okA = complete(a), okB = complete(b);
    std::printf("| %-32s | %9zu | %12zu |       |\n", "complete boots", okA, okB);
    std::printf("Ratios are ingot / QEMU: above 1 is better for MiB/s and IOPS, below 1 for exits.\n");
    return okA == runs && okB == runs ? 0 : 1;
}
