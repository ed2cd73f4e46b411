// bench/accounting: what the monitor's always-on accounting (docs/vmm.md, "Accounting") costs,
// and how true its figures are.
//
// Cost: the PVH test payload run to its debug exit under ingot-vmm with the accounting, without
// its per-exit timing (--no-accounting) and under QEMU microvm, alternating, in three modes: `x`
// (65536 port writes, each an exit to the monitor), `c` (a register loop with no exits) and `e`
// (next to nothing: the start-up and tear-down both other modes also pay, subtracted from them).
// Each run is timed from spawn to exit by this process, the same way for all three columns.
//
// Accuracy: four spinning guests confined to host CPU 0, one interval sampled through their
// control sockets and reassembled by `ingot stats`'s own code (makeIntervalReport): each one's
// share of the CPU, its wait for it, the steal its guest kernel saw, and the four shares against
// the host CPU's busy time from /proc/stat.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/Median.h"
#include "../support/MonitorRun.h"
#include "IntervalReport.h"
#include "ingot/core/LineSocket.h"

namespace {

using Clock = std::chrono::steady_clock;
using ingot::bench::median;
using nlohmann::json;

constexpr double kExitsPerRun = 65536;          // pvh-payload.S, mode x
constexpr double kIterationsPerRun = 1073741824;  // 2^30, mode c

std::string readFile(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// ---- cost ---------------------------------------------------------------------------------

enum Variant { kOn, kOff, kQemu, kVariants };
const char* const kVariantNames[kVariants] = {"accounting on", "accounting off", "QEMU microvm"};

struct PayloadRun {
    double seconds = -1;  // spawn to exit; -1 when the run failed
    json stats;           // ingot-vmm's --stats-json, when it has one
};

struct Config {
    std::string vmm, qemu, payload, scratch;
    double timeout = 300;
};

std::vector<std::string> payloadArgv(const Config& c, Variant v, char mode, const std::string& stats) {
    const std::string cmdline(1, mode);
    if (v == kQemu)
        // bench/boot's microvm flags, plus the debug-exit device the payload ends with (microvm
        // has an ISA bus but no such device by default).
        return {c.qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "64M",
                "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                "-kernel", c.payload, "-append", cmdline};
    std::vector<std::string> argv{c.vmm, "--kernel", c.payload, "--cmdline", cmdline,
                                  "--memory", "64M", "--stats-json", stats};
    if (v == kOff) argv.push_back("--no-accounting");
    return argv;
}

PayloadRun runPayload(const Config& c, Variant v, char mode) {
    const std::string stats = c.scratch + "/stats.json";
    std::filesystem::remove(stats);
    const auto argv = payloadArgv(c, v, mode, stats);
    const auto start = Clock::now();
    auto r = ingot::bench::runMonitor(argv, c.timeout, [](pid_t, std::string_view, double) {
        return ingot::bench::Watch::Continue;
    });
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    // Both monitors turn the debug-exit value v into status (v << 1) | 1: 42 for `e`, 0 otherwise.
    const int expected = mode == 'e' ? 85 : 1;
    PayloadRun out;
    if (r.exitStatus != expected) {
        std::fprintf(stderr, "%s, mode %c: exit status %d (expected %d)%s; output:\n%s\n",
                     kVariantNames[v], mode, r.exitStatus, expected,
                     r.timedOut ? ", timed out" : "", r.output.c_str());
        return out;
    }
    if (v != kQemu) {
        try {
            out.stats = json::parse(readFile(stats));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s, mode %c: no stats document (%s)\n", kVariantNames[v], mode,
                         e.what());
            return out;
        }
    }
    out.seconds = seconds;
    return out;
}

// One round's runs of one variant.
struct Round {
    PayloadRun e, x, c;
    bool ok() const { return e.seconds >= 0 && x.seconds >= 0 && c.seconds >= 0; }
};

uint64_t number(const json& doc, const json::json_pointer& p) {
    return doc.contains(p) && doc.at(p).is_number_unsigned() ? doc.at(p).get<uint64_t>() : 0;
}

std::string fixed(double v, int decimals) {
    if (v <= 0) return "n/a";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

// Thousands separated, for rates that run to millions.
std::string grouped(double v) {
    if (v <= 0) return "n/a";
    std::string digits = std::to_string(static_cast<uint64_t>(v + 0.5)), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

bool costTable(const Config& c, unsigned runs) {
    std::vector<Round> rounds[kVariants];
    for (unsigned i = 0; i < runs; ++i) {
        Round r[kVariants];
        // Mode by mode, the three variants back to back: a drift in the host's speed over the
        // run then reaches every column alike.
        for (char mode : {'e', 'x', 'c'})
            for (int v = 0; v < kVariants; ++v) {
                PayloadRun run = runPayload(c, static_cast<Variant>(v), mode);
                std::fprintf(stderr, "round %u, %s, mode %c: %.3f s\n", i + 1, kVariantNames[v],
                             mode, run.seconds);
                (mode == 'e' ? r[v].e : mode == 'x' ? r[v].x : r[v].c) = std::move(run);
            }
        for (int v = 0; v < kVariants; ++v) rounds[v].push_back(std::move(r[v]));
    }

    // The difference of the medians, not the median of each round's difference: in the rig a
    // run's start-up alone varies by seconds, and pairing would carry one slow `e` run into its
    // round's figures.
    double exitSeconds[kVariants], loopSeconds[kVariants], baseline[kVariants];
    double ownExitSeconds[kVariants] = {};
    size_t ok[kVariants];
    for (int v = 0; v < kVariants; ++v) {
        std::vector<double> xs, cs, es, ownX, ownE;
        for (const auto& r : rounds[v])
            if (r.ok()) {
                xs.push_back(r.x.seconds);
                cs.push_back(r.c.seconds);
                es.push_back(r.e.seconds);
                if (v != kQemu) {
                    ownX.push_back(r.x.stats.value("wallSeconds", 0.0));
                    ownE.push_back(r.e.stats.value("wallSeconds", 0.0));
                }
            }
        ok[v] = xs.size();
        baseline[v] = median(es);
        exitSeconds[v] = median(xs) - baseline[v];
        loopSeconds[v] = median(cs) - baseline[v];
        if (v != kQemu) ownExitSeconds[v] = median(ownX) - median(ownE);
    }
    auto rate = [](double count, double seconds) { return seconds > 0 ? count / seconds : 0; };
    auto ratio = [](double a, double b) { return a > 0 && b > 0 ? fixed(a / b, 3) : "n/a"; };

    std::printf("\n### bench/accounting: cost (pvh-payload, 1 vCPU, 64 MiB)\n\n");
    std::printf("| metric (median of %u) | accounting on | accounting off | on/off | QEMU microvm |\n", runs);
    std::printf("|---|---:|---:|---:|---:|\n");
    double eps[kVariants], nsPerExit[kVariants], ips[kVariants], ownNsPerExit[kVariants];
    for (int v = 0; v < kVariants; ++v) {
        eps[v] = rate(kExitsPerRun, exitSeconds[v]);
        nsPerExit[v] = exitSeconds[v] > 0 ? exitSeconds[v] * 1e9 / kExitsPerRun : 0;
        ownNsPerExit[v] = ownExitSeconds[v] > 0 ? ownExitSeconds[v] * 1e9 / kExitsPerRun : 0;
        ips[v] = rate(kIterationsPerRun, loopSeconds[v]);
    }
    std::printf("| exits/s (x − e) | %s | %s | %s | %s |\n", grouped(eps[kOn]).c_str(),
                grouped(eps[kOff]).c_str(), ratio(eps[kOn], eps[kOff]).c_str(),
                grouped(eps[kQemu]).c_str());
    std::printf("| ns per exit (x − e) | %s | %s | %s | %s |\n", fixed(nsPerExit[kOn], 0).c_str(),
                fixed(nsPerExit[kOff], 0).c_str(), ratio(nsPerExit[kOn], nsPerExit[kOff]).c_str(),
                fixed(nsPerExit[kQemu], 0).c_str());
    std::printf("| ns per exit, monitor's own wallSeconds (x − e) | %s | %s | %s | n/a |\n",
                fixed(ownNsPerExit[kOn], 0).c_str(), fixed(ownNsPerExit[kOff], 0).c_str(),
                ratio(ownNsPerExit[kOn], ownNsPerExit[kOff]).c_str());
    std::printf("| CPU-bound loop, s (c − e) | %s | %s | %s | %s |\n",
                fixed(loopSeconds[kOn], 3).c_str(), fixed(loopSeconds[kOff], 3).c_str(),
                ratio(loopSeconds[kOn], loopSeconds[kOff]).c_str(),
                fixed(loopSeconds[kQemu], 3).c_str());
    std::printf("| iterations/s (c − e) | %s | %s | %s | %s |\n", grouped(ips[kOn]).c_str(),
                grouped(ips[kOff]).c_str(), ratio(ips[kOn], ips[kOff]).c_str(),
                grouped(ips[kQemu]).c_str());
    std::printf("| baseline run, s (e) | %s | %s | %s | %s |\n", fixed(baseline[kOn], 3).c_str(),
                fixed(baseline[kOff], 3).c_str(), ratio(baseline[kOn], baseline[kOff]).c_str(),
                fixed(baseline[kQemu], 3).c_str());
    std::printf("| complete rounds | %zu | %zu | | %zu |\n", ok[kOn], ok[kOff], ok[kQemu]);

    // What the monitor's own stats say about the x runs: that the exits did reach it, that
    // --no-accounting did turn the timing off, and what the accounting itself measured.
    std::vector<double> toMonitor, timedNs, timedCount;
    bool offUntimed = true;
    for (const auto& r : rounds[kOn])
        if (r.ok()) {
            const json& s = r.x.stats;
            toMonitor.push_back(static_cast<double>(number(s, "/exits/toMonitor/io"_json_pointer)));
            timedNs.push_back(static_cast<double>(number(s, "/accounting/total/monitorNs"_json_pointer)));
            timedCount.push_back(static_cast<double>(
                number(s, "/accounting/total/monitorExits/io/count"_json_pointer)));
        }
    const auto exitsTimed = "/accounting/exitsTimed"_json_pointer;
    for (const auto& r : rounds[kOff])
        if (r.ok())
            offUntimed = offUntimed && r.x.stats.contains(exitsTimed) &&
                         r.x.stats.at(exitsTimed) == false;
    const double count = median(timedCount);
    std::printf("\nx − e is the time of 65536 port writes to 0x510; c − e that of 2^30 iterations of "
                "add/rol/dec/jnz (median of the x or c runs minus median of the e runs). Runs are "
                "timed by the bench from spawn to exit, the same way for all three columns; "
                "wallSeconds is ingot-vmm's own, from its start to its exit, without exec and "
                "tear-down.\n");
    std::printf("ingot-vmm: median %.0f port-I/O exits reached the monitor in an x run; with the "
                "accounting on it timed them at %s ns each (monitorNs / count, its own view, "
                "handling only); --no-accounting runs %s.\n",
                median(toMonitor), count > 0 ? fixed(median(timedNs) / count, 0).c_str() : "n/a",
                offUntimed ? "reported exitsTimed: false" : "DID NOT all report exitsTimed: false");
    std::printf("QEMU: 0x510 is microvm's fw_cfg selector, and a byte write to it is refused by its "
                "access check, so each write is still a KVM_EXIT_IO handled in QEMU's userspace, "
                "but through its memory API rather than an unclaimed port: comparable, not "
                "identical work. QEMU's e run also boots its firmware (qboot) first.\n");
    std::printf("host clocksource: %s", readFile("/sys/devices/system/clocksource/clocksource0/current_clocksource").c_str());
    for (int v = 0; v < kVariants; ++v)
        if (ok[v] != runs) return false;
    return offUntimed;
}

// ---- accuracy -----------------------------------------------------------------------------

struct Guest {
    std::string name, socket, log;
    pid_t pid = -1;
    int console = -1;  // the guest's console input
};

// Console output goes to a file, not a pipe: with four guests booting at once, none stalls on a
// pipe nobody is reading. Returns the pid; *input is the console's input.
pid_t spawnToFile(const std::vector<std::string>& argv, const std::string& log, int* input) {
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0) _exit(127);
        dup2(in[0], 0);
        dup2(out, 1);
        dup2(out, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(in[0]);
    *input = in[1];
    return pid;
}

bool alive(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

bool waitForText(const Guest& g, const std::string& text, double seconds) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        if (readFile(g.log).find(text) != std::string::npos) return true;
        if (!alive(g.pid)) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
}

json ask(const Guest& g, const json& request) {
    try {
        int fd = ingot::connectUnixSocket(g.socket);
        const auto deadline = Clock::now() + std::chrono::seconds(30);
        std::string buffer;
        std::optional<std::string> line;
        try {
            ingot::writeAllBefore(fd, request.dump() + "\n", deadline);
            line = ingot::readLine(fd, buffer, 8 << 20, deadline);
        } catch (...) {
            close(fd);
            throw;
        }
        close(fd);
        if (!line) return json{{"error", "hung up"}};
        return json::parse(*line);
    } catch (const std::exception& e) {
        return json{{"error", e.what()}};
    }
}

// As KvmResourcesTest: the guest view is in the sample once the agent answers.
bool agentAnswers(const Guest& g, double seconds) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        json s = ask(g, {{"op", "stats"}});
        if (s.contains("guest") && s["guest"].contains("procStat")) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
}

// Busy and total jiffies of one host CPU (as KvmResourcesTest): busy is all but idle and iowait.
std::pair<uint64_t, uint64_t> hostCpuJiffies(unsigned cpu) {
    std::ifstream f("/proc/stat");
    std::string line;
    const std::string want = "cpu" + std::to_string(cpu) + " ";
    while (std::getline(f, line)) {
        if (line.rfind(want, 0) != 0) continue;
        std::istringstream in(line.substr(want.size()));
        std::vector<uint64_t> v;
        for (uint64_t x; in >> x;) v.push_back(x);
        if (v.size() < 5) break;
        uint64_t total = 0;
        for (size_t i = 0; i < v.size() && i < 8; ++i) total += v[i];
        return {total - v[3] - v[4], total};
    }
    return {0, 0};
}

void stopGuests(std::vector<Guest>& guests) {
    for (auto& g : guests)
        if (g.pid > 0) kill(g.pid, SIGTERM);
    const auto end = Clock::now() + std::chrono::seconds(60);
    for (auto& g : guests) {
        if (g.pid <= 0) continue;
        while (alive(g.pid) && Clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (alive(g.pid)) {
            std::fprintf(stderr, "%s did not stop on SIGTERM within 60 s; killed\n", g.name.c_str());
            kill(g.pid, SIGKILL);
            waitpid(g.pid, nullptr, 0);
        }
        g.pid = -1;
        close(g.console);
        g.console = -1;
    }
}

bool accuracyTable(const Config& c, const std::string& kernel, const std::string& initrd,
                   double seconds) {
    std::vector<Guest> guests;
    for (int i = 0; i < 4; ++i) {
        Guest g;
        g.name = "spin" + std::to_string(i);
        g.socket = "@ingot-bench-" + g.name + "-" + std::to_string(getpid());
        g.log = c.scratch + "/" + g.name + ".log";
        g.pid = spawnToFile({c.vmm, "--kernel", kernel, "--initrd", initrd, "--cmdline",
                             "console=ttyS0 quiet ingot.test=spin", "--cpus", "1", "--memory",
                             "256M", "--agent", "--control", g.socket, "--cpus-on", "0"},
                            g.log, &g.console);
        guests.push_back(std::move(g));
    }
    auto fail = [&](const Guest& g, const char* what) {
        std::fprintf(stderr, "%s %s; console:\n%s\n", g.name.c_str(), what, readFile(g.log).c_str());
        stopGuests(guests);
        return false;
    };
    std::fprintf(stderr, "four guests started; waiting for them to boot\n");
    // The guests' loops start only once all four are up (guest/init's spin action waits for a
    // line): a guest still booting on the shared CPU is not slowed by the others' loops.
    for (const auto& g : guests)
        if (!waitForText(g, "INGOT-READY", 400)) return fail(g, "never came up (INGOT-READY)");
    for (const auto& g : guests)
        if (write(g.console, "go\n", 3) != 3) return fail(g, "did not take its go line");
    for (const auto& g : guests) {
        if (!waitForText(g, "INGOT-SPINNING", 60)) return fail(g, "never spun (INGOT-SPINNING)");
        if (!agentAnswers(g, 120)) return fail(g, "spun, but its agent never answered");
    }
    std::fprintf(stderr, "all four spinning; sampling %.0f s\n", seconds);

    const auto cpuBefore = hostCpuJiffies(0);
    std::vector<json> before;
    for (const auto& g : guests) before.push_back(ask(g, {{"op", "stats"}}));
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    std::vector<json> after;
    for (const auto& g : guests) after.push_back(ask(g, {{"op", "stats"}}));
    const auto cpuAfter = hostCpuJiffies(0);
    stopGuests(guests);

    std::printf("\n### bench/accounting: four 1-vCPU guests spinning on host CPU 0 (%.0f s)\n\n", seconds);
    std::printf("| VM | ran %% | waited %% | guest steal %% | steal − wait (points) |\n");
    std::printf("|---|---:|---:|---:|---:|\n");
    double sumRan = 0;
    bool ok = true;
    std::vector<std::string> notes;
    for (size_t i = 0; i < guests.size(); ++i) {
        ingot::cli::IntervalReport r;
        try {
            r = ingot::cli::makeIntervalReport(before[i], after[i], guests[i].name);
        } catch (const std::exception& e) {
            std::printf("| %s | sample refused: %s | | | |\n", guests[i].name.c_str(), e.what());
            ok = false;
            continue;
        }
        const double whole = static_cast<double>(r.vcpuTimeNs);
        const double ran = whole > 0 ? 100.0 * static_cast<double>(r.host.cpuNs) / whole : 0;
        const std::optional<double> waited =
            r.host.runDelayNs && whole > 0
                ? std::optional(100.0 * static_cast<double>(*r.host.runDelayNs) / whole)
                : std::nullopt;
        std::optional<double> steal;
        if (!r.guest.unavailable && r.guest.total.stealNs && r.guest.total.wholeNs > 0)
            steal = 100.0 * static_cast<double>(*r.guest.total.stealNs) /
                    static_cast<double>(r.guest.total.wholeNs);
        sumRan += ran;
        auto cell = [](std::optional<double> v, const char* format) {
            if (!v) return std::string("n/a");
            char buf[32];
            std::snprintf(buf, sizeof buf, format, *v);
            return std::string(buf);
        };
        std::printf("| %s | %.1f | %s | %s | %s |\n", guests[i].name.c_str(), ran,
                    cell(waited, "%.1f").c_str(), cell(steal, "%.1f").c_str(),
                    cell(steal && waited ? std::optional(*steal - *waited) : std::nullopt, "%+.1f").c_str());
        if (r.guest.unavailable) notes.push_back(guests[i].name + ": no guest view: " + *r.guest.unavailable);
        if (!waited) notes.push_back(guests[i].name + ": no run delay on this host (CONFIG_SCHED_INFO)");
        if (!steal || !waited) ok = false;
    }
    const double busy = cpuAfter.second > cpuBefore.second
                            ? 100.0 * static_cast<double>(cpuAfter.first - cpuBefore.first) /
                                  static_cast<double>(cpuAfter.second - cpuBefore.second)
                            : 0;
    std::printf("\nΣ ran %% %.1f vs host CPU 0 busy %% %.1f (its /proc/stat over the same "
                "interval, in ticks): %+.1f points\n", sumRan, busy, sumRan - busy);
    std::printf("ran = the vCPU thread's CPU time, waited = its run delay, both of the interval's "
                "vCPU time; guest steal = the steal column of the guest's /proc/stat, of its "
                "uptime's advance (makeIntervalReport's wholeNs, as `ingot stats`).\n");
    for (const auto& n : notes) std::printf("%s\n", n.c_str());
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench/accounting: cost of the accounting (on, off, QEMU) and its accuracy"};
    Config c;
    c.qemu = "qemu-system-x86_64";
    std::string kernel, initrd;
    unsigned runs = 5;
    double interval = 10;
    bool skipCost = false, skipAccuracy = false;
    app.add_option("--vmm", c.vmm, "ingot-vmm binary")->required();
    app.add_option("--qemu", c.qemu, "qemu-system-x86_64 binary")->capture_default_str();
    app.add_option("--payload", c.payload, "pvh-payload (tests/kvm/guest/pvh-payload.S)");
    app.add_option("--kernel", kernel, "bzImage for the four spinning guests");
    app.add_option("--initrd", initrd, "tests/kvm/make-initramfs's initramfs, with the agent");
    app.add_option("--runs", runs, "rounds of the cost table")->capture_default_str();
    app.add_option("--interval", interval, "seconds the four guests are sampled over")
        ->capture_default_str();
    app.add_option("--timeout", c.timeout, "seconds per payload run")->capture_default_str();
    app.add_flag("--skip-cost", skipCost, "only the four-guest table");
    app.add_flag("--skip-accuracy", skipAccuracy, "only the cost table");
    CLI11_PARSE(app, argc, argv);
    // A guest that died before its go line must fail the bench, not kill it.
    signal(SIGPIPE, SIG_IGN);
    if (!skipCost && c.payload.empty()) {
        std::fprintf(stderr, "accounting_bench: --payload is needed for the cost table\n");
        return 2;
    }
    if (!skipAccuracy && (kernel.empty() || initrd.empty())) {
        std::fprintf(stderr, "accounting_bench: --kernel and --initrd are needed for the four-guest table\n");
        return 2;
    }

    std::string pattern = (std::filesystem::temp_directory_path() / "accounting-bench.XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
        std::perror(("mkdtemp " + pattern).c_str());
        return 2;
    }
    c.scratch = pattern;
    bool ok = true;
    if (!skipCost) ok = costTable(c, runs) && ok;
    if (!skipAccuracy) ok = accuracyTable(c, kernel, initrd, interval) && ok;
    std::error_code ignored;
    std::filesystem::remove_all(c.scratch, ignored);
    return ok ? 0 : 1;
}
