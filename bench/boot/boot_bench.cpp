// bench/boot: ingot-vmm against QEMU microvm, booting the same kernel and initramfs to the same
// userspace marker under the same KVM, alternating runs. For each run it records, at the moment
// the marker appears on the console: wall time since the monitor was started, the VM's exits
// (KVM's per-VM debugfs counter), and the monitor's resident memory excluding guest RAM.
// Prints medians and ratios (ingot / QEMU).
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Sample {
    double seconds = 0;
    std::optional<uint64_t> exits;
    double rssMiB = 0;
    bool ok = false;
};

// Exits of the VM owned by `pid`, from KVM's debugfs directory "<pid>-<vmfd>".
std::optional<uint64_t> vmExits(pid_t pid) {
    DIR* d = opendir("/sys/kernel/debug/kvm");
    if (!d) return std::nullopt;
    std::optional<uint64_t> result;
    std::string prefix = std::to_string(pid) + "-";
    while (dirent* e = readdir(d)) {
        if (std::string(e->d_name).rfind(prefix, 0) != 0) continue;
        std::ifstream f(std::string("/sys/kernel/debug/kvm/") + e->d_name + "/exits");
        uint64_t v;
        if (f >> v) result = result.value_or(0) + v;
    }
    closedir(d);
    return result;
}

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
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) return {};
    auto start = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    Sample s;
    std::string output;
    char buf[4096];
    for (;;) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed > timeout) break;
        pollfd p{out[0], POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        output.append(buf, static_cast<size_t>(n));
        if (!s.ok && output.find(marker) != std::string::npos) {
            s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            s.exits = vmExits(pid);
            s.rssMiB = rssExcludingGuestMiB(pid, guestBytes);
            s.ok = true;
        }
    }
    close(out[0]);
    kill(pid, SIGKILL);  // no-op when the guest already powered off
    waitpid(pid, nullptr, 0);
    if (!s.ok) std::fprintf(stderr, "run of %s missed the marker; output:\n%s\n", argv[0].c_str(), output.c_str());
    return s;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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
