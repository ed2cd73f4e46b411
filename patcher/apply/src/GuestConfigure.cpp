#include "ingot/patch/GuestConfigure.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "ingot/core/Error.h"
#include "ingot/core/Process.h"
#include "ingot/debian/Text.h"
#include "ingot/image/Gpt.h"
#include "ingot/imagebuild/Ext4Reader.h"
#include "ingot/imagebuild/Ext4Writer.h"
#include "ingot/patch/DpkgDatabase.h"

namespace ingot::patch {

namespace fs = std::filesystem;
namespace text = debian::text;
using imagebuild::Inode;
using imagebuild::NodeType;
using imagebuild::Tree;

namespace {

constexpr std::string_view kScriptPath = "var/lib/ingot-patch/run";
constexpr std::string_view kPolicyRcPath = "usr/sbin/policy-rc.d";
constexpr std::string_view kLinuxFilesystemType = "0fc63daf-8483-4772-8e79-3d69d8477de4";
// Beyond what the tree needs: dpkg rewrites its database and postinsts write caches.
constexpr uint64_t kGuestFreeBytes = 512ull << 20;

// Copies `length` bytes of `from` into `to` at `offset`, keeping holes where the source has
// them (the ext4 image is mostly unused blocks).
void copyInto(const std::string& from, const std::string& to, uint64_t offset) {
    int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throwSystemError("cannot open " + from, errno);
    int out = ::open(to.c_str(), O_WRONLY | O_CLOEXEC);
    if (out < 0) {
        int e = errno;
        ::close(in);
        throwSystemError("cannot open " + to, e);
    }
    struct Closer {
        int a, b;
        ~Closer() {
            ::close(a);
            ::close(b);
        }
    } closer{in, out};
    off_t end = ::lseek(in, 0, SEEK_END);
    off_t data = 0;
    while (data < end) {
        data = ::lseek(in, data, SEEK_DATA);
        if (data < 0) break;  // ENXIO: only a hole is left
        off_t hole = ::lseek(in, data, SEEK_HOLE);
        if (hole < 0) hole = end;
        loff_t src = data, dst = static_cast<loff_t>(offset) + data;
        size_t left = static_cast<size_t>(hole - data);
        while (left > 0) {
            ssize_t n = ::copy_file_range(in, &src, out, &dst, left, 0);
            if (n < 0) throwSystemError("cannot copy " + from + " into " + to, errno);
            if (n == 0) throw Error("copying " + from + " into " + to + ": the source got shorter");
            left -= static_cast<size_t>(n);
        }
        data = hole;
    }
    if (::fsync(out) < 0) throwSystemError("cannot flush " + to, errno);
}

// The last lines of the console, for an error message.
std::string consoleTail(const std::string& log, size_t lines = 30) {
    size_t at = log.size();
    for (size_t n = 0; n <= lines && at > 0; ++n) {
        at = log.rfind('\n', at - 1);
        if (at == std::string::npos) {
            at = 0;
            break;
        }
    }
    std::string tail;
    for (std::string_view line : text::lines(std::string_view(log).substr(at)))
        if (!line.empty()) tail += "  | " + text::printable(line, 200) + "\n";
    return tail;
}

// Everything under `prefix` in `to` becomes what `from` has there.
void restoreSubtree(Tree& to, const Tree& from, const std::string& prefix) {
    to.remove(prefix);
    for (const auto& [path, inode] : from.entries())
        if (path == prefix || path.starts_with(prefix + "/")) to.put(path, inode, "ingot patch");
}

}  // namespace

namespace {

// Single-quoted for sh; names and versions from Debian control files never hold a quote, but
// a hostile one stays one word.
std::string shellQuote(const std::string& word) {
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

std::string guestScript(const std::vector<MaintainerScriptCall>& calls, bool configure) {
    std::string script = R"(#!/bin/sh
# PID 1 of the build microVM `ingot patch` boots: the maintainer scripts and triggers of the
# updated packages run here, in the image, under its own shell and dpkg.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true LC_ALL=C.UTF-8 HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
echo "ingot-patch: running"
rc=0
# call PACKAGE ARCH NAME SCRIPT ARGS...: as dpkg calls a maintainer script
call() {
  [ "$rc" -eq 0 ] || return
  package=$1 arch=$2 name=$3 script=$4
  shift 4
  [ -e "$script" ] || return
  DPKG_MAINTSCRIPT_PACKAGE=$package DPKG_MAINTSCRIPT_ARCH=$arch DPKG_MAINTSCRIPT_NAME=$name \
    DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1 DPKG_ADMINDIR=/var/lib/dpkg "$script" "$@" < /dev/null
  rc=$?
  [ "$rc" -eq 0 ] || echo "ingot-patch: $package's $name $* failed with status $rc"
}
)";
    for (const MaintainerScriptCall& c : calls) {
        script += "call " + shellQuote(c.package) + " " + shellQuote(c.architecture) + " " +
                  shellQuote(c.name) + " " + shellQuote("/" + c.path);
        for (const std::string& a : c.arguments) script += " " + shellQuote(a);
        script += "\n";
    }
    if (configure)
        script += R"(if [ "$rc" -eq 0 ]; then
  dpkg --force-confdef --force-confold --configure --pending
  rc=$?
fi
if [ "$rc" -eq 0 ]; then
  dpkg --force-confdef --force-confold --triggers-only --pending
  rc=$?
fi
)";
    script += R"(echo "ingot-patch: exit $rc"
umount /tmp /run 2>/dev/null
sync
mount -o remount,ro / || echo "ingot-patch: cannot remount / read-only"
sync
echo "ingot-patch: done"
echo o > /proc/sysrq-trigger
sleep 60
)";
    return script;
}

namespace {

// `label` names the run in progress lines, `phase` in errors ("the build microVM that …").
GuestConfigureResult bootScript(Tree& tree, const std::string& script, const std::string& label,
                                const std::string& phase, const GuestConfigureOptions& options) {
    const auto say = [&](const std::string& line) {
        if (options.progress) options.progress(line);
    };
    // What the guest boots: the tree, with the script and a policy-rc.d that keeps
    // postinsts from starting services in a VM that is about to stop.
    Tree guest = tree;
    putTreeFile(guest, std::string(kScriptPath), script, 0755, options.sourceDateEpoch,
                "ingot patch");
    const bool addedPolicy = !tree.find(guest.resolve(std::string(kPolicyRcPath), "policy-rc.d"));
    if (addedPolicy)
        putTreeFile(guest, guest.resolve(std::string(kPolicyRcPath), "policy-rc.d"),
                    "#!/bin/sh\n# ingot patch: no service starts while packages are configured.\nexit 101\n",
                    0755, options.sourceDateEpoch, "ingot patch");

    fs::create_directories(options.workDirectory);
    const std::string ext4Path = (fs::path(options.workDirectory) / "configure-root.ext4").string();
    const std::string diskPath = (fs::path(options.workDirectory) / "configure-disk.img").string();
    struct Cleanup {
        std::vector<std::string> paths;
        ~Cleanup() {
            std::error_code ignored;
            for (const auto& p : paths) fs::remove(p, ignored);
        }
    } cleanup{{ext4Path, diskPath}};

    say(label + ": writing the tree to a scratch disk");
    auto ext4Options = imagebuild::deterministicExt4Options(options.imageName, options.sourceDateEpoch);
    ext4Options.extraFreeBytes = kGuestFreeBytes;
    const imagebuild::Ext4Result ext4 = imagebuild::writeExt4(guest, ext4Options, ext4Path);
    const image::GptLayout layout = image::layoutGptPartitions({ext4.sizeBytes});
    image::GptDisk disk;
    disk.sectorCount = layout.sectorCount;
    disk.diskGuid = image::deterministicGuid(options.imageName, "patch-disk");
    image::GptPartition root;
    root.type = image::Guid::parse(kLinuxFilesystemType);
    root.unique = image::deterministicGuid(options.imageName, "patch-root");
    root.firstLba = layout.extents[0].firstLba;
    root.lastLba = layout.extents[0].lastLba;
    root.name = "ingot-root";
    disk.partitions.push_back(root);
    {
        int fd = ::open(diskPath.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) throwSystemError("cannot create " + diskPath, errno);
        int rc = ::ftruncate(fd, static_cast<off_t>(disk.sectorCount * image::kSectorSize));
        int e = errno;
        if (rc == 0) {
            try {
                image::writeGpt(fd, disk, diskPath);
            } catch (...) {
                ::close(fd);
                throw;
            }
        }
        ::close(fd);
        if (rc != 0) throwSystemError("cannot size " + diskPath, e);
    }
    const uint64_t rootOffset = root.firstLba * image::kSectorSize;
    copyInto(ext4Path, diskPath, rootOffset);
    fs::remove(ext4Path);

    ProcessSpec spec;
    spec.argv = {options.vmmPath,
                 "--kernel", options.kernelPath,
                 "--cmdline", "console=ttyS0 rw quiet panic=-1 init=/" + std::string(kScriptPath),
                 "--memory", std::to_string(options.memoryBytes >> 20) + "M",
                 "--cpus", std::to_string(options.cpus),
                 "--disk", diskPath};
    if (!options.initrdPath.empty()) {
        spec.argv.insert(spec.argv.begin() + 3, options.initrdPath);
        spec.argv.insert(spec.argv.begin() + 3, "--initrd");
    }
    spec.timeoutSeconds = options.timeoutSeconds;
    say(label + ": booting the image");
    const auto start = std::chrono::steady_clock::now();
    ProcessOutput run = runProcess(spec);
    // A guest that stopped before the script started (a kernel that panicked and rebooted
    // with panic=-1, or a reset) changed nothing on the disk: one more boot is safe.
    if (!run.timedOut && run.exitStatus == 0 &&
        run.out.find("ingot-patch: running") == std::string::npos) {
        say(label + ": the guest stopped before the script ran; booting it once more");
        run = runProcess(spec);
    }
    GuestConfigureResult result;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.consoleLog = run.out;

    const std::string& log = run.out;
    // The script's own line, at the start of a console line (a package's output cannot fake
    // it mid-line; it runs before the line is printed anyway).
    std::string dpkgExit;
    static constexpr std::string_view kExitLine = "\ningot-patch: exit ";
    if (auto at = log.rfind(kExitLine); at != std::string::npos) {
        for (size_t i = at + kExitLine.size(); i < log.size() && text::isDigit(log[i]); ++i)
            dpkgExit += log[i];
    }
    const bool reported = !dpkgExit.empty();
    const bool done = log.find("ingot-patch: done") != std::string::npos;
    if (run.timedOut || !reported || !done || dpkgExit != "0") {
        std::string why;
        if (run.timedOut)
            why = "did not finish within " + std::to_string(options.timeoutSeconds) + " s";
        else if (!reported)
            why = "stopped before its script finished (monitor exit status " +
                  std::to_string(run.exitStatus) + ")";
        else if (dpkgExit != "0")
            why = "failed (status " + dpkgExit + ")";
        else
            why = "did not remount its root read-only and power off";
        std::string err = run.err;
        while (!err.empty() && err.back() == '\n') err.pop_back();
        throw Error("the build microVM that " + phase + " " + why +
                        (err.empty() ? "" : "\n  monitor: " + text::printable(err, 600)) +
                        "\n  console (last lines):\n" + consoleTail(log),
                    ExitStatus::kUsage);
    }

    say(label + ": reading the tree back");
    Tree configured;
    imagebuild::Ext4ReadOptions read;
    read.allowDevices = true;  // what the image's own packages made, as in its base
    imagebuild::readExt4(diskPath, rootOffset, ext4.sizeBytes, configured, read);
    configured.remove(std::string(kScriptPath));
    if (addedPolicy) configured.remove(configured.resolve(std::string(kPolicyRcPath), "policy-rc.d"));
    // A run's own traces: logs with the guest's clock in them and ldconfig's cache of inode
    // times. They go back to what the image had.
    for (const char* traces : {"var/log", "var/cache/ldconfig/aux-cache"}) {
        const std::string path = configured.resolve(traces, traces);
        restoreSubtree(configured, tree, path);
    }
    for (const auto& [path, inode] : configured.entries())
        if (inode->mtime > options.sourceDateEpoch) inode->mtime = options.sourceDateEpoch;

    tree = std::move(configured);
    return result;
}

}  // namespace

GuestConfigureResult runScriptsInGuest(Tree& tree, const std::vector<MaintainerScriptCall>& calls,
                                       const GuestConfigureOptions& options) {
    if (calls.empty()) return {};
    return bootScript(tree, guestScript(calls, false), "unpack scripts",
                      "runs the old prerms and the new preinsts", options);
}

GuestConfigureResult configureInGuest(Tree& tree, const std::vector<MaintainerScriptCall>& before,
                                      const GuestConfigureOptions& options) {
    Tree work = tree;
    GuestConfigureResult result =
        bootScript(work, guestScript(before, true), "configure",
                   "configures the updated packages", options);
    // Every package the host unpacked must now be installed.
    const std::string statusWhere = "the configured " + std::string(kDpkgStatusPath);
    auto statusText = readTreeFile(work, std::string(kDpkgStatusPath), statusWhere);
    if (!statusText) throw Error(statusWhere + " is missing", ExitStatus::kUsage);
    const DpkgStatusFile status = DpkgStatusFile::parse(*statusText, statusWhere);
    std::string unfinished;
    for (const std::string& name : options.packages) {
        auto colon = name.find(':');
        const StatusStanza* s = status.find(name.substr(0, colon),
                                            colon == std::string::npos ? "" : name.substr(colon + 1));
        const std::string state = s ? s->get("Status") : "missing";
        if (state != "install ok installed" && state != "hold ok installed")
            unfinished += "\n  " + name + ": " + text::printable(state);
    }
    if (!unfinished.empty())
        throw Error("after the configure run these packages are not installed:" + unfinished +
                        "\n  console (last lines):\n" + consoleTail(result.consoleLog),
                    ExitStatus::kUsage);
    work.remove(std::string(kGuestStagingDir));
    tree = std::move(work);
    return result;
}

}  // namespace ingot::patch
