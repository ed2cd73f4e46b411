// bench/run: `ingot run` of an image already in the store, from the command to the guest's
// userspace marker, split into the stages the user waits through, against QEMU microvm booting
// the same kernel, initrd and base disk through an overlay qemu-img makes, in the same run.
//
// Where each ingot stage's time comes from, all on the host's CLOCK_MONOTONIC:
//   verify:   the command's start to `ingot run`'s "verified" (process start, store, trust
//             policy, the signature checked again);
//   clone:    "verified" to "cloned" (Store::createVm: the qcow2 overlay);
//   monitor:  "cloned" to the firmware's first boot-progress write (supervisor, ingot-vmm's exec,
//             KVM and device setup, the vCPU's start), from --stats-json's monotonicStartNs;
//   firmware: firmware entry to the jump into the kernel (verifying kernel and initrd);
//   kernel:   the jump to the minimal image's "userspace up" write (kernel, initrd, root mount,
//             init's rc).
// The totals compare what a user sees: the console line "ingot-minimal: up" arriving.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/Process.h"
#include "ingot/image/ImageReader.h"
#include "ingot/oci/Layout.h"
#include "ingot/store/Store.h"
#include "support/Median.h"
#include "support/MonitorRun.h"

namespace {

namespace fs = std::filesystem;
using ingot::bench::Watch;

const std::string kImage = "bench.local/gold/minimal:12";

double nowSeconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct Setup {
    std::string ingot, qemu, qemuImg, layout, tag, publicKey, work, marker;
    unsigned runs = 5;
    double timeout = 600;
};

class Bench {
public:
    explicit Bench(const Setup& s) : s_(s) {
        fs::remove_all(s.work);
        fs::create_directories(s.work + "/config/ingot");
        storeRoot_ = s.work + "/data/ingot";
        env_ = {{"XDG_DATA_HOME", s.work + "/data"},
                {"XDG_CONFIG_HOME", s.work + "/config"},
                {"XDG_STATE_HOME", s.work + "/state"}};
        importImage();
        trustKey();
    }

    // One `ingot run` to the marker; the stage times in seconds by name.
    std::map<std::string, double> runIngot(const std::string& name) {
        const std::string stats = s_.work + "/" + name + ".stats.json";
        std::vector<std::string> argv = {"/usr/bin/env"};
        for (const auto& [k, v] : env_) argv.push_back(k + "=" + v);
        for (const std::string& a : {s_.ingot, std::string("run"), std::string("--name"), name,
                                     std::string("--stats-json"), stats, kImage})
            argv.push_back(a);
        double verified = 0, cloned = 0, line = 0;
        const double start = nowSeconds();
        auto r = ingot::bench::runMonitor(argv, s_.timeout, [&](pid_t, std::string_view l, double t) {
            if (l.rfind("ingot: stages", 0) == 0) {
                verified = field(l, "verified=");
                cloned = field(l, "cloned=");
            }
            if (l.find(s_.marker) != std::string_view::npos) {
                line = t;
                return Watch::Stop;
            }
            return Watch::Continue;
        });
        // The run was killed at the marker; its supervisor and monitor run on: stop the monitor
        // (which writes the stats) and remove the clone.
        ingotCommand({"stop", "-t", "0", name}, false);  // a guest that failed has stopped already
        ingotCommand({"rm", name});
        if (line == 0 || verified == 0)
            throw ingot::Error("ingot run " + name + " did not reach \"" + s_.marker +
                               "\":\n" + r.output);
        auto doc = nlohmann::json::parse(std::ifstream(stats), nullptr, false);
        if (!doc.is_object()) throw ingot::Error("no stats from the monitor in " + stats);
        const double monitorStart = doc.value("monotonicStartNs", 0.0) / 1e9;
        std::map<uint32_t, double> progress;
        for (const auto& e : doc["bootProgress"])
            progress.emplace(e.value("code", 0u), e.value("seconds", 0.0));
        for (uint32_t code : {0x01u, 0x03u, 0x10u})
            if (!progress.count(code))
                throw ingot::Error("boot progress code " + std::to_string(code) + " missing in " +
                                   stats);
        return {{"verify", verified - start},
                {"clone", cloned - verified},
                {"monitor", monitorStart + progress[0x01] - cloned},
                {"firmware", progress[0x03] - progress[0x01]},
                {"kernel", progress[0x10] - progress[0x03]},
                {"marker", monitorStart + progress[0x10] - start},
                {"total", line}};
    }

    // QEMU microvm on the same kernel, initrd and base disk through a fresh overlay.
    std::map<std::string, double> runQemu(unsigned i) {
        const std::string overlay = s_.work + "/qemu-" + std::to_string(i) + ".qcow2";
        const double start = nowSeconds();
        ingot::ProcessSpec create;
        create.argv = {s_.qemuImg, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base_, overlay};
        auto made = ingot::runProcess(create);
        if (made.exitStatus != 0) throw ingot::Error("qemu-img create failed: " + made.err);
        const double cloned = nowSeconds() - start;
        std::vector<std::string> argv = {
            s_.qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-smp", "1", "-m", "256M",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
            "-no-reboot", "-kernel", kernel_, "-initrd", initrd_, "-append", cmdline_,
            "-drive", "id=root,file=" + overlay + ",format=qcow2,if=none",
            "-device", "virtio-blk-device,drive=root", "-device", "virtio-rng-device"};
        double line = 0;
        auto r = ingot::bench::runMonitor(argv, s_.timeout, [&](pid_t, std::string_view l, double t) {
            if (l.find(s_.marker) == std::string_view::npos) return Watch::Continue;
            line = t;
            return Watch::Stop;
        });
        fs::remove(overlay);
        if (line == 0) throw ingot::Error("QEMU did not reach \"" + s_.marker + "\":\n" + r.output);
        return {{"clone", cloned}, {"boot", line}, {"total", cloned + line}};
    }

    // The kernel, initrd and command line QEMU gets, taken from the base disk the store
    // reassembled (the bytes ingot-fw verifies and loads).
    void extractBootFiles() {
        const std::string digest = ingot::oci::resolveTag(storeRoot_, kImage).digest;
        base_ = storeRoot_ + "/bases/" + digest.substr(7) + ".img";
        auto contents = ingot::image::readImage(base_);
        cmdline_ = ingot::image::parseImageManifest(contents).cmdline;
        kernel_ = s_.work + "/vmlinuz";
        initrd_ = s_.work + "/initrd";
        copyMember(contents, "kernel", kernel_);
        copyMember(contents, "initrd", initrd_);
    }

    void ingotCommand(const std::vector<std::string>& args, bool mustSucceed = true) {
        std::vector<std::string> argv = {s_.ingot};
        argv.insert(argv.end(), args.begin(), args.end());
        ingot::ProcessSpec spec;
        spec.argv = argv;
        spec.environment = env_;
        auto r = ingot::runProcess(spec);
        if (r.exitStatus != 0 && mustSucceed)
            throw ingot::Error("ingot " + args.front() + " failed: " + r.out + r.err);
    }

private:
    static double field(std::string_view line, std::string_view key) {
        auto at = line.find(key);
        if (at == std::string_view::npos) return 0;
        return std::stod(std::string(line.substr(at + key.size()))) / 1e9;
    }

    // The store as `ingot pull` leaves it: the build's layout under the whole reference, with
    // its signature tag.
    void importImage() {
        ingot::store::Store made(storeRoot_);
        for (const auto& blob : fs::directory_iterator(s_.layout + "/blobs/sha256"))
            fs::copy_file(blob.path(),
                          storeRoot_ + "/blobs/sha256/" + blob.path().filename().string());
        auto built = ingot::oci::resolveTag(s_.layout, s_.tag);
        auto signature = ingot::oci::resolveTag(s_.layout, ingot::oci::signatureTag(built.digest));
        ingot::oci::setTags(storeRoot_, {{kImage, built},
                                         {ingot::oci::signatureTag(built.digest), signature}});
    }

    void trustKey() {
        std::ifstream pub(s_.publicKey);
        std::string comment, key;
        std::getline(pub, comment);
        std::getline(pub, key);
        std::ofstream(s_.work + "/config/ingot/trust.yaml")
            << "trust:\n  - for: \"bench.local/gold/*\"\n    key: \"" << key << "\"\n";
    }

    static void copyMember(const ingot::image::ImageContents& contents, const char* name,
                           const std::string& to) {
        const auto* m = contents.member(name);
        if (!m) throw ingot::Error(std::string("the image has no ") + name);
        std::ifstream in(contents.path, std::ios::binary);
        in.seekg(static_cast<std::streamoff>(m->dataOffset));
        std::string bytes(m->size, '\0');
        in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        std::ofstream(to, std::ios::binary).write(bytes.data(),
                                                  static_cast<std::streamsize>(bytes.size()));
    }

    Setup s_;
    std::string storeRoot_, base_, kernel_, initrd_, cmdline_;
    std::vector<std::pair<std::string, std::string>> env_;
};

}  // namespace

int main(int argc, char** argv) {
    Setup s;
    s.qemu = "qemu-system-x86_64";
    s.qemuImg = "qemu-img";
    s.tag = "12";
    s.marker = "ingot-minimal: up";
    CLI::App app{"bench/run: ingot run to the userspace marker, by stage, vs QEMU microvm"};
    app.add_option("--ingot", s.ingot, "the ingot binary (ingot-vmm and ingot-fw.elf next to it "
                                       "or in its build tree)")->required();
    app.add_option("--layout", s.layout, "the OCI layout `ingot build` wrote")->required();
    app.add_option("--tag", s.tag, "the image's tag in it")->capture_default_str();
    app.add_option("--public-key", s.publicKey, "the key that signed it")->required();
    app.add_option("--work", s.work, "scratch directory (emptied)")->required();
    app.add_option("--runs", s.runs, "runs of each")->capture_default_str();
    app.add_option("--qemu", s.qemu)->capture_default_str();
    app.add_option("--qemu-img", s.qemuImg)->capture_default_str();
    app.add_option("--timeout", s.timeout, "seconds per boot")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        Bench bench(s);
        // The first run reassembles the base disk (once per image digest); it is not counted:
        // the bench measures an image already in the store.
        bench.runIngot("warm-up");
        bench.extractBootFiles();
        std::map<std::string, std::vector<double>> ingot, qemu;
        // The rig's nested SVM under TCG now and then resets a guest early in its boot (seen
        // with QEMU and with ingot-vmm alike); such a boot is run again, and counted.
        unsigned retriedIngot = 0, retriedQemu = 0;
        auto attempt = [](const char* who, unsigned& retried, auto&& boot) {
            for (unsigned tries = 1;; ++tries) {
                try {
                    return boot();
                } catch (const ingot::Error& e) {
                    if (tries == 3) throw;
                    ++retried;
                    std::string what = e.what();
                    std::fprintf(stderr, "bench/run: a %s boot failed; running it again: %s\n",
                                 who, what.substr(0, what.find('\n')).c_str());
                }
            }
        };
        for (unsigned i = 0; i < s.runs; ++i) {
            auto runQemu = [&] { return attempt("QEMU", retriedQemu, [&] { return bench.runQemu(i); }); };
            auto runIngot = [&] {
                return attempt("ingot", retriedIngot,
                               [&] { return bench.runIngot("run-" + std::to_string(i)); });
            };
            // Alternate which goes first, so neither always gets the warmer page cache.
            auto a = i % 2 ? std::map<std::string, double>{} : runQemu();
            auto b = runIngot();
            if (i % 2) a = runQemu();
            for (const auto& [k, v] : a) qemu[k].push_back(v);
            for (const auto& [k, v] : b) ingot[k].push_back(v);
            std::fprintf(stderr, "run %u: ingot %.3f s, qemu %.3f s\n", i + 1, b["total"],
                         a["total"]);
        }
        auto ms = [](const std::vector<double>& v) { return ingot::bench::median(v) * 1e3; };
        std::printf("bench/run: %u runs, medians in ms\n\n", s.runs);
        std::printf("| stage | ingot run | QEMU microvm |\n|---|---|---|\n");
        std::printf("| pull/verify (image in the store) | %.1f | — |\n", ms(ingot["verify"]));
        std::printf("| clone (overlay) | %.1f | %.1f (qemu-img create) |\n", ms(ingot["clone"]),
                    ms(qemu["clone"]));
        std::printf("| monitor start, to the first guest instruction | %.1f | — |\n",
                    ms(ingot["monitor"]));
        std::printf("| firmware (kernel and initrd verified) | %.1f | — |\n", ms(ingot["firmware"]));
        std::printf("| kernel, initrd, init to the marker | %.1f | — |\n", ms(ingot["kernel"]));
        std::printf("| QEMU start to the console line | — | %.1f |\n", ms(qemu["boot"]));
        std::printf("| command to the marker (port 0x440) | %.1f | — |\n", ms(ingot["marker"]));
        const double ingotTotal = ms(ingot["total"]), qemuTotal = ms(qemu["total"]);
        std::printf("| **command to the console line \"%s\"** | %.1f | %.1f |\n", s.marker.c_str(),
                    ingotTotal, qemuTotal);
        std::printf("\nratio ingot / QEMU (total): %.2f\n", ingotTotal / qemuTotal);
        std::printf("boots run again after an early guest reset: ingot %u, QEMU %u\n",
                    retriedIngot, retriedQemu);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench/run: %s\n", e.what());
        return 1;
    }
}
