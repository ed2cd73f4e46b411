// ingot-vmm: one KVM virtual machine per process. See docs/vmm.md for flags and exit codes.
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "SmallStackThread.h"
#include "Vm.h"
#include "control/ControlServer.h"
#include "control/VmControl.h"
#include "resources/Cgroup.h"
#include "resources/MemoryEventsWatch.h"
#include "resources/ResourceLimits.h"
#include "devices/virtio/VirtioRng.h"
#include "ingot/core/Error.h"
#include "ingot/core/RawTerminal.h"
#include "ingot/core/File.h"
#include "ingot/core/Size.h"

using namespace ingot;
using namespace ingot::vmm;

namespace {

// Feeds stdin to the guest's UART until EOF or until the VM stops.
class ConsoleInput {
public:
    explicit ConsoleInput(Uart16550& uart) : uart_(uart), wake_(::eventfd(0, EFD_CLOEXEC)) {
        thread_ = SmallStackThread([this] { loop(); });
    }
    ~ConsoleInput() {
        uint64_t one = 1;
        if (::write(wake_, &one, sizeof one) < 0) {
        }
        uart_.close();
        thread_.join();
        ::close(wake_);
    }

private:
    void loop() {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_, POLLIN, 0}};
        uint8_t buf[256];
        for (;;) {
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                return;
            }
            if (fds[1].revents) return;
            if (fds[0].revents & (POLLIN | POLLHUP)) {
                ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
                if (n <= 0) return;
                if (!uart_.receive({buf, static_cast<size_t>(n)})) return;
            } else if (fds[0].revents) {
                return;
            }
        }
    }
    Uart16550& uart_;
    int wake_;
    SmallStackThread thread_;
};

// SIGUSR1: the accounting so far, replacing the file whole (a reader never sees half of it).
// A failure is reported and the VM runs on.
void writeAccounting(const Vm& vm, const std::string& path) {
    if (path.empty()) {
        std::cerr << "ingot-vmm: SIGUSR1 asks for the accounting, but no --stats-json was given\n";
        return;
    }
    try {
        writeFileAtomically(path, vm.accountingJson());
    } catch (const std::exception& e) {
        std::cerr << "ingot-vmm: accounting not written: " << e.what() << "\n";
    }
}

// The VM's cgroup. Limits asked for must be applied, unless the user allowed running without
// a missing controller. Without limits the cgroup is still made where the host allows it, so
// its figures show in stats and a later update can set limits without a restart; where it
// cannot be made, the VM runs without one.
std::unique_ptr<VmCgroup> makeCgroup(const std::string& name, const ResourceLimits& limits,
                                     bool allowMissing, const CgroupPlace& place,
                                     const VmConfig& config) {
    std::unique_ptr<VmCgroup> cgroup;
    if (limits.empty()) {
        try {
            cgroup = std::make_unique<VmCgroup>(name, limits, true, place);
        } catch (const Error&) {
            return nullptr;
        }
    } else {
        cgroup = std::make_unique<VmCgroup>(name, limits, allowMissing, place);
        for (const std::string& warning : cgroup->warnings())
            std::cerr << "ingot-vmm: " << warning << "\n";
        for (const std::string& warning :
             limitWarnings(limits, config.cpus, config.memoryBytes))
            std::cerr << "ingot-vmm: " << warning << "\n";
    }
    if (!cgroup->active()) return nullptr;
    // The cpu and memory controllers on where the limits did not ask for them: their figures
    // (throttling, memory.current, memory.events) then cover the VM from its first page, and a
    // memory.max set later is checked against what it really holds (pages touched before the
    // memory controller is on are never charged to it). A host without one goes without.
    cgroup->enableForFigures({"cpu", "memory"});
    cgroup->enter(::getpid());
    return cgroup;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ingot-vmm: boots one virtual machine under KVM"};
    VmConfig config;
    std::string memory = "512M";
    app.add_option("--kernel", config.kernel, "Linux bzImage or PVH ELF to boot directly");
    app.add_option("--initrd", config.initrd, "initial ramdisk for --kernel (or module for --firmware)");
    app.add_option("--cmdline", config.cmdline, "kernel command line")->capture_default_str();
    app.add_option("--firmware", config.firmware, "PVH ELF firmware (ingot-fw) to boot");
    app.add_option("--cpus", config.cpus, "number of vCPUs")
        ->capture_default_str()
        ->check(CLI::Range(1u, kMaxCpus));
    app.add_option("--memory", memory, "guest memory, e.g. 512M or 2G")->capture_default_str();
    std::vector<std::string> disks;
    app.add_option("--disk", disks,
                   "disk as a virtio-blk device: PATH[,readonly] for a raw file; "
                   "IMAGE,verified for a gold image checked against its signature and dm-verity "
                   "tree; IMAGE,overlay=CLONE.qcow2 for a verified image under a copy-on-write "
                   "overlay (created when missing); ,bps=SIZE and ,iops=N limit its bandwidth "
                   "and requests per second; repeat for more (the first is /dev/vda)")
        ->type_size(1)
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("--trust", config.trustedKeys,
                   "minisign public key file trusted to sign verified disks (repeatable)")
        ->type_size(1)
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    std::string rngRate;
    bool rng = false;
    app.add_flag("--rng", rng, "attach a virtio-rng entropy device (1 MiB/s)");
    app.add_option("--rng-rate", rngRate,
                   "attach virtio-rng and let the guest take at most this many bytes per second "
                   "(e.g. 64K)");
    std::vector<std::string> nets;
    app.add_option("--net", nets,
                   "network card as a virtio-net device on a tap interface: tap=NAME[,mac=MAC]; "
                   ",bps=SIZE and ,pps=N limit bytes and frames per second in each direction "
                   "(rx-bps=, tx-bps=, rx-pps=, tx-pps= one direction; rx is towards the guest); "
                   "repeat for more (the first is eth0)")
        ->type_size(1)
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_flag("--agent", config.agent,
                 "attach a virtio-console with the guest agent's port, org.ingot.agent.0 "
                 "(docs/agent.md): the control socket's stats then include the guest's own view");
    app.add_flag("--balloon", config.balloon,
                 "attach a virtio-balloon; the control socket's update sets its target");
    std::string balloonTarget;
    app.add_option("--balloon-target", balloonTarget,
                   "memory the balloon takes from the guest once its driver is up, e.g. 256M "
                   "(implies --balloon)");
    app.add_option("--control", config.controlSocket,
                   "serve the control socket here (a path, or @NAME in the abstract namespace): "
                   "stats and live updates, one JSON request per line (docs/vmm.md)");
    bool noAccounting = false;
    app.add_flag("--no-accounting", noAccounting,
                 "do not time exits (the rest of the accounting stays): to measure its cost");
    // Resource control (vmm/resources/): each flag's text is parsed by the code that parses
    // the control socket's updates.
    std::vector<std::pair<std::string, std::string>> limitFlags;
    for (auto [flag, help] :
         {std::pair{kCpuMaxFlag, "hard CPU cap (cgroup cpu.max): 50% of one CPU, 1.5 CPUs, "
                                 "QUOTA/PERIOD in µs, or max"},
          std::pair{kCpuWeightFlag, "CPU share against other VMs (cgroup cpu.weight, 1-10000)"},
          std::pair{kCpusOnFlag, "dedicated host CPUs, e.g. 2,3 or 4-7 (cgroup cpuset); vCPU "
                                 "thread i is pinned to the i-th"},
          std::pair{kMemoryHighFlag, "memory high water mark (cgroup memory.high), e.g. 768M"},
          std::pair{kMemoryMaxFlag, "memory hard limit (cgroup memory.max), e.g. 1G"}}) {
        const std::string name(flag);
        app.add_option_function<std::string>(
            name, [&limitFlags, name](const std::string& v) { limitFlags.emplace_back(name, v); },
            help);
    }
    bool allowMissingControllers = false;
    app.add_flag(std::string(kAllowMissingControllersFlag), allowMissingControllers,
                 "run without a limit whose cgroup v2 controller the host lacks, instead of "
                 "refusing to start");
    CgroupPlace cgroupPlace;
    app.add_option("--cgroup-parent", cgroupPlace.parent,
                   "the cgroup, under /sys/fs/cgroup, in which the VM's own is made (created "
                   "when missing; without processes, and writable: root, or delegated)")
        ->capture_default_str();
    std::string vmName = "ingot-vmm-" + std::to_string(::getpid());
    app.add_option("--name", vmName,
                   "the VM's name: its cgroup's (default: ingot-vmm-PID)");
    app.add_option("--stats-json", config.statsJson,
                   "write exits, wall time, boot progress, vCPU CPU time and the accounting here "
                   "at exit, and the accounting so far on SIGUSR1");
    app.footer(
        "Exit status: 0 guest powered off or rebooted; odd values (v<<1)|1 from the debug-exit\n"
        "port 0xf4; 2 usage or configuration; 3 image verification failed; 4 no usable KVM;\n"
        "5 internal error; 6 the guest crashed (kernel panic via pvpanic, or triple fault).");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : static_cast<int>(ExitStatus::kUsage);
    }
    if (!config.kernel.empty() && !config.firmware.empty()) {
        std::cerr << "ingot-vmm: give --kernel or --firmware, not both\n";
        return static_cast<int>(ExitStatus::kUsage);
    }

    // SIGTERM, SIGINT and SIGHUP stop the VM through the lifecycle; SIGPWR asks the guest to shut
    // itself down (Ctrl+Alt+Del on its keyboard); SIGUSR1 writes the accounting so far to
    // --stats-json. All are handled on a thread of their own; every other thread inherits the
    // blocked mask.
    sigset_t blocked;
    sigemptyset(&blocked);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPWR, SIGUSR1}) sigaddset(&blocked, sig);
    sigaddset(&blocked, SIGUSR2);  // wakes the signal thread at exit
    pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    signal(SIGPIPE, SIG_IGN);

    try {
        config.memoryBytes = parseSize(memory);
        config.timeExits = !noAccounting;
        ResourceLimits limits;
        for (const auto& [flag, value] : limitFlags) setLimitFromFlag(limits, flag, value);
        uint64_t balloonBytes = 0;
        if (!balloonTarget.empty()) {
            balloonBytes = parseSize(balloonTarget);
            config.balloon = true;
        }
        if (!rngRate.empty()) {
            config.rngBytesPerSecond = parseSize(rngRate);
            if (config.rngBytesPerSecond == 0 ||
                config.rngBytesPerSecond > virtio::TokenBucket::kMaxSize)
                throw Error("--rng-rate " + rngRate + ": give a rate from 1 to " +
                                formatSize(virtio::TokenBucket::kMaxSize) + " per second",
                            ExitStatus::kUsage);
        } else if (rng) {
            config.rngBytesPerSecond = virtio::VirtioRng::kDefaultBytesPerSecond;
        }
        for (const auto& spec : disks) config.disks.push_back(parseDiskSpec(spec));
        for (const auto& spec : nets) config.nets.push_back(parseNetSpec(spec));
        // The cgroup comes first, and the monitor moves in before guest memory is touched:
        // pages are charged to the cgroup of the thread that faults them in, for good.
        std::unique_ptr<VmCgroup> cgroup = makeCgroup(vmName, limits, allowMissingControllers,
                                                      cgroupPlace, config);
        std::unique_ptr<MemoryEventsWatch> memoryEvents;
        if (cgroup) memoryEvents = std::make_unique<MemoryEventsWatch>(cgroup->path());
        std::unique_ptr<ControlServer> control;
        if (!config.controlSocket.empty())
            control = std::make_unique<ControlServer>(config.controlSocket);
        // The VM in a scope of its own: its cgroup can only be removed once KVM's kernel worker
        // for it (kvm-nx-lpage-recovery, which joins the VM owner's cgroups) has ended with it.
        const int status = [&] {
            Vm vm(config);
            VmControl vmControl(vm, cgroup.get());
            if (control)
                control->start([&](const nlohmann::json& request) { return vmControl.handle(request); });
            if (vm.balloon() && balloonBytes) vm.balloon()->setTarget(balloonBytes);
            SmallStackThread signalThread([&] {
                int sig = 0;
                while (sigwait(&blocked, &sig) == 0 && sig != SIGUSR2) {
                    if (sig == SIGUSR1) {
                        writeAccounting(vm, config.statsJson);
                        continue;
                    }
                    if (sig == SIGPWR && vm.requestGuestShutdown()) {
                        std::cerr << "ingot-vmm: asked the guest to shut down (Ctrl+Alt+Del)\n";
                        continue;
                    }
                    // A guest with no keyboard driver listening (still booting, or built without
                    // one) cannot be asked, so SIGPWR stops the VM as SIGTERM does.
                    vm.lifecycle().requestStop(
                        StopReason::kSignal, 0,
                        sig == SIGPWR ? "SIGPWR, and the guest's keyboard driver is not listening"
                                      : std::string("stopped by SIG") + sigabbrev_np(sig));
                    return;
                }
            });
            int exitStatus;
            {
                RawTerminal terminal;
                ConsoleInput input(vm.console());
                exitStatus = vm.run([&] { vmControl.pinVcpus(); });
            }
            pthread_kill(signalThread.nativeHandle(), SIGUSR2);
            signalThread.join();
            control.reset();
            if (vm.lifecycle().reason() == StopReason::kError)
                std::cerr << "ingot-vmm: " << vm.lifecycle().detail() << "\n";
            else if (vm.lifecycle().reason() == StopReason::kTripleFault ||
                     vm.lifecycle().reason() == StopReason::kGuestPanic)
                std::cerr << "ingot-vmm: guest crashed: " << vm.lifecycle().detail() << "\n";
            if (!config.statsJson.empty()) writeFileAtomically(config.statsJson, vm.statsJson());
            return exitStatus;
        }();
        memoryEvents.reset();
        if (cgroup)
            if (std::string problem = cgroup->remove(); !problem.empty())
                std::cerr << "ingot-vmm: " << problem << "\n";
        return status;
    } catch (const Error& e) {
        std::cerr << "ingot-vmm: " << e.what() << "\n";
        return static_cast<int>(e.status());
    } catch (const std::exception& e) {
        std::cerr << "ingot-vmm: internal error: " << e.what() << "\n";
        return static_cast<int>(ExitStatus::kInternal);
    }
}
