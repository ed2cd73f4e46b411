// bench/boot: ingot-vmm against QEMU microvm, booting the same kernel and initramfs to the same
// userspace marker under the same KVM, alternating runs. For each run it records, at the moment
// the marker appears on the console: wall time since the monitor was started, the VM's exits
// (KVM's per-VM debugfs counter), and the monitor's resident memory excluding guest RAM.
// Prints medians and ratios (ingot / QEMU).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "../support/Median.h"
#include "../support/MonitorRun.h"

namespace {

using ingot::bench::median;

struct Sample {
    double seconds = 0;
    std::optional<uint64_t> exits;
    double rssMiB = 0;
    bool ok = false;
};

// Resident KiB of every mapping smaller than guest RAM: the monitor's own footprint.
double rssExcludingGuestMiB(pid_t pid, uint64_t guestBytes) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/smaps");
    std::string line;
    uint64_t mappingBytes = 0, totalKb = 0;
    while (std::getline(f, line)) {
        unsigned long long lo, hi;
        if (std::sscanf(line.c_str(), "%llx-%llx ", &lo, &hi) == 2 && line.find(':') > 8) {
            mappingBytes = hi - lo;
            continue;
        }
        unsigned long long kb;
        if (std::sscanf(line.c_str(), "Rss: %llu kB", &kb) == 1 && mappingBytes < guestBytes)
            totalKb += kb;
    }
    return totalKb / 1024.0;
}

Sample runOnce(const std::vector<std::string>& argv, const std::string& marker, uint64_t guestBytes,
               double timeout) {
    Sample s;
    auto run = ingot::bench::runMonitor(argv, timeout, [&](pid_t pid, std::string_view line, double now) {
        if (line.find(marker) == std::string_view::npos) return ingot::bench::Watch::Continue;
        s.seconds = now;
        s.exits = ingot::bench::vmExits(pid);
        s.rssMiB = rssExcludingGuestMiB(pid, guestBytes);
        s.ok = true;
        return ingot::bench::Watch::Stop;
    });
    if (!s.ok) std::fprintf(stderr, "run of %s missed the marker; output:\n%s\n", argv[0].c_str(), run.output.c_str());
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench/boot: ingot-vmm vs QEMU microvm, boot to a userspace marker"};
    std::string vmm, qemu = "qemu-system-x86_64", kernel, initrd, marker = "INGOT-USERSPACE-UP";
    std::string action = "poweroff";
    unsigned runs = 5, cpus = 1;
    unsigned memoryMiB = 512;
    double timeout = 300;
    app.add_option("--vmm", vmm, "ingot-vmm binary")->required();
    app.add_option("--qemu", qemu, "qemu-system-x86_64 binary")->capture_default_str();
    app.add_option("--kernel", kernel, "bzImage")->required();
    app.add_option("--initrd", initrd, "initramfs printing the marker")->required();
    app.add_option("--runs", runs, "runs per monitor")->capture_default_str();
    app.add_option("--cpus", cpus)->capture_default_str();
    app.add_option("--memory-mib", memoryMiB)->capture_default_str();
    app.add_option("--marker", marker)->capture_default_str();
    app.add_option("--timeout", timeout, "seconds per run")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    std::string cmdline = "console=ttyS0 quiet ingot.test=" + action;
    std::vector<std::string> ingot{vmm, "--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline,
                                   "--cpus", std::to_string(cpus), "--memory",
                                   std::to_string(memoryMiB) + "M"};
    std::vector<std::string> qemuArgs{qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "host",
                                      "-smp", std::to_string(cpus), "-m", std::to_string(memoryMiB) + "M",
                                      "-nodefaults", "-no-user-config", "-display", "none",
                                      "-serial", "stdio", "-no-reboot", "-kernel", kernel,
                                      "-initrd", initrd, "-append", cmdline};
    uint64_t guestBytes = uint64_t{memoryMiB} << 20;
    std::vector<Sample> a, b;
    for (unsigned i = 0; i < runs; ++i) {
        a.push_back(runOnce(ingot, marker, guestBytes, timeout));
        b.push_back(runOnce(qemuArgs, marker, guestBytes, timeout));
        std::fprintf(stderr, "run %u: ingot %.2fs, qemu %.2fs\n", i + 1, a.back().seconds, b.back().seconds);
    }
    auto column = [](const std::vector<Sample>& v, auto field) {
        std::vector<double> out;
        for (const auto& s : v)
            if (s.ok) {
                auto x = field(s);
                if (x >= 0) out.push_back(x);
            }
        return out;
    };
    auto seconds = [](const Sample& s) { return s.seconds; };
    auto exits = [](const Sample& s) { return s.exits ? static_cast<double>(*s.exits) : -1.0; };
    auto rss = [](const Sample& s) { return s.rssMiB; };
    double as = median(column(a, seconds)), bs = median(column(b, seconds));
    double ae = median(column(a, exits)), be = median(column(b, exits));
    double ar = median(column(a, rss)), br = median(column(b, rss));
    size_t okA = column(a, seconds).size(), okB = column(b, seconds).size();

    std::printf("bench/boot: %u runs each, %u vCPU, %u MiB, kernel %s\n", runs, cpus, memoryMiB,
                kernel.c_str());
    std::printf("| metric (median)              | ingot-vmm | QEMU microvm | ratio |\n");
    std::printf("|------------------------------|-----------|--------------|-------|\n");
    std::printf("| wall time to marker (s)      | %9.2f | %12.2f | %5.2f |\n", as, bs, bs ? as / bs : 0);
    if (ae > 0 && be > 0)
        std::printf("| VM exits to marker           | %9.0f | %12.0f | %5.2f |\n", ae, be, ae / be);
    else
        std::printf("| VM exits to marker           |       n/a |          n/a |   n/a |\n");
    std::printf("| RSS excl. guest RAM (MiB)    | %9.1f | %12.1f | %5.2f |\n", ar, br, br ? ar / br : 0);
    std::printf("| successful runs              | %9zu | %12zu |       |\n", okA, okB);
    return okA == runs && okB == runs ? 0 : 1;
}
