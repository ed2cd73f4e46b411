// `ingot run` end to end on the gold image `ingot build` made (the tests/build fixture), inside
// the rig: a foreground clone, then three detached clones of one image at once, each writing its
// own file through `ingot console` and seeing only its own, `ingot logs` and `ingot stop` (a clean
// shutdown by the guest); the base disk never changes, `ingot rm` leaves nothing behind, and an
// untrusted key or a tampered chunk in the store is refused before anything boots.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "VmmProcess.h"
#include "ingot/oci/Layout.h"
#include "ingot/store/Store.h"

using ingot::testing::requireEnv;
using ingot::testing::runProcess;

namespace {

namespace fs = std::filesystem;

const std::string kImage = "127.0.0.1:5000/gold/minimal:12";

std::string fileSha256(const std::string& path) {
    return runProcess({"/usr/bin/sha256sum", path}, {}).output.substr(0, 64);
}

class KvmRun : public ::testing::Test {
protected:
    void SetUp() override {
        image = requireEnv("INGOT_MINIMAL_IMAGE");
        scratch = ingot::testing::processScratchDir() + "/" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name();
        store = scratch + "/data/ingot";
        // The store as `ingot pull` leaves it: the build's layout copied in under the whole
        // reference, with its signature tag.
        ingot::store::Store made(store);
        const std::string layout = (fs::path(image) / "oci").string();
        for (const auto& blob : fs::directory_iterator(layout + "/blobs/sha256"))
            fs::copy_file(blob.path(), store + "/blobs/sha256/" + blob.path().filename().string());
        auto built = ingot::oci::resolveTag(layout, "12");
        auto signature = ingot::oci::resolveTag(layout, ingot::oci::signatureTag(built.digest));
        ingot::oci::setTags(store, {{kImage, built},
                                    {ingot::oci::signatureTag(built.digest), signature}});
        digest = built.digest;
        fs::create_directories(scratch + "/config/ingot");
    }
    void trustTheBuildKey() {
        std::ifstream pub(fs::path(image).parent_path() / "test.pub");
        std::string comment, key;
        std::getline(pub, comment);
        std::getline(pub, key);
        std::ofstream(scratch + "/config/ingot/trust.yaml")
            << "trust:\n  - for: \"127.0.0.1:5000/gold/*\"\n    key: \"" << key << "\"\n";
    }
    // `commands` go to the shell once the guest is up, then it powers off; `input` goes to
    // stdin as it is.
    ingot::testing::ProcessResult ingot(std::vector<std::string> arguments,
                                        const std::string& commands = "",
                                        const std::string& input = "") {
        std::vector<std::string> argv = {"/usr/bin/env", "XDG_DATA_HOME=" + scratch + "/data",
                                         "XDG_CONFIG_HOME=" + scratch + "/config",
                                         "XDG_STATE_HOME=" + scratch + "/state",
                                         requireEnv("INGOT")};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        ingot::testing::ProcessOptions options;
        options.timeoutSeconds = 240;
        if (!commands.empty()) {
            options.inputAfter = "ingot-minimal: up";
            options.input = commands + "; poweroff -f\n";
        }
        if (!input.empty()) options.input = input;
        return runProcess(argv, options);
    }
    std::string log(const std::string& name) {
        std::ifstream in(store + "/vms/" + name + "/console.log");
        return {std::istreambuf_iterator<char>(in), {}};
    }
    // Nested TCG boots three guests at once slowly; ten minutes is far more than it takes.
    bool waitForLog(const std::string& name, const std::string& text) {
        for (int i = 0; i < 6000; ++i) {
            if (log(name).find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }

    std::string image, scratch, store, digest;
};

TEST_F(KvmRun, ClonesOfOneImageSeeOnlyTheirOwnWrites) {
    trustTheBuildKey();
    auto one = ingot({"run", kImage, "--name", "one", "--memory", "256M"},
                     "mount -o remount,rw / && echo from-one > /marker && sync && "
                     "echo ONE-$(cat /marker)");
    ASSERT_FALSE(one.timedOut) << one.output;
    EXPECT_EQ(one.exitStatus, 0) << one.output;
    EXPECT_NE(one.output.find("ingot-fw: verified"), std::string::npos) << one.output;
    EXPECT_NE(one.output.find("ONE-from-one"), std::string::npos) << one.output;

    // Three clones of the same image at once, detached; each writes a file of its own through
    // its console and lists what it sees: its own file only, not one's /marker nor the others'.
    // (The quotes keep the shell's echo of the command from matching what it prints.)
    const std::string base = store + "/bases/" + digest.substr(7) + ".img";
    const std::string baseSum = fileSha256(base);
    const std::vector<std::string> three = {"two", "three", "four"};
    for (const auto& name : three) {
        auto started = ingot({"run", "-d", kImage, "--name", name, "--memory", "192M"});
        ASSERT_EQ(started.exitStatus, 0) << started.output;
        EXPECT_NE(started.output.find(name + "\n"), std::string::npos) << started.output;
    }
    for (const auto& name : three) {
        ASSERT_TRUE(waitForLog(name, "ingot-minimal: up")) << log(name);
        auto typed = ingot({"console", name}, {},
                           "mount -o remount,rw / && echo " + name + " > /marker-" + name +
                               " && sync && echo SEEN-$(ls / | grep marker | tr '\\n' ,)-E\"\"ND\n" +
                               std::string(1, '\x1d'));
        EXPECT_EQ(typed.exitStatus, 0) << typed.output;
        EXPECT_NE(typed.output.find("detached from " + name), std::string::npos) << typed.output;
    }
    auto running = ingot({"ps", "--json"});
    EXPECT_EQ(nlohmann::json::parse(running.output, nullptr, false).size(), 3u) << running.output;
    for (const auto& name : three) {
        ASSERT_TRUE(waitForLog(name, "-END")) << log(name);
        EXPECT_NE(log(name).find("SEEN-marker-" + name + ",-END"), std::string::npos) << log(name);
    }
    auto logs = ingot({"logs", "three"});
    EXPECT_NE(logs.output.find("ingot-fw: verified"), std::string::npos) << logs.output;
    // `ingot stop` asks each guest (Ctrl+Alt+Del), and the minimal image's init shuts down: no
    // clone needs its monitor stopped for it.
    auto stopped = ingot({"stop", "two", "three", "four"});
    EXPECT_EQ(stopped.exitStatus, 0) << stopped.output;
    EXPECT_EQ(stopped.output.find("did not shut down"), std::string::npos) << stopped.output;
    for (const auto& name : three)
        EXPECT_NE(log(name).find("ingot-minimal: shutting down"), std::string::npos) << log(name);
    EXPECT_EQ(fileSha256(base), baseSum);

    // A name in use is refused before anything boots.
    auto again = ingot({"run", kImage, "--name", "one"});
    EXPECT_EQ(again.exitStatus, 2) << again.output;
    EXPECT_NE(again.output.find("ingot rm one"), std::string::npos) << again.output;

    // All four are listed as stopped, with the image they came from.
    auto listed = ingot({"ps", "-a", "--json"});
    EXPECT_EQ(listed.exitStatus, 0) << listed.output;
    auto clones = nlohmann::json::parse(listed.output, nullptr, false);
    ASSERT_TRUE(clones.is_array()) << listed.output;
    ASSERT_EQ(clones.size(), 4u) << listed.output;
    for (const auto& clone : clones) {
        EXPECT_EQ(clone.value("state", ""), "stopped");
        EXPECT_EQ(clone.value("image", ""), kImage);
        EXPECT_EQ(clone.value("digest", ""), digest);
    }

    auto removed = ingot({"rm", "one", "two", "three", "four"});
    EXPECT_EQ(removed.exitStatus, 0) << removed.output;
    EXPECT_TRUE(fs::is_empty(store + "/vms"));
    EXPECT_EQ(fileSha256(base), baseSum);
}

// `ingot stats`, `ingot top` and `ingot update` on a running clone: the guest's own view comes
// through the minimal image's agent, the cgroup carries the limits given at run, and an update
// changes them (and the balloon) without a restart; a memory.max below what the VM holds is
// refused with the figures.
TEST_F(KvmRun, StatsTopAndUpdateReachARunningClone) {
    trustTheBuildKey();
    auto started = ingot({"run", "-d", kImage, "--name", "busy", "--memory", "256M",
                          "--cpu-weight", "200"});
    ASSERT_EQ(started.exitStatus, 0) << started.output;
    ASSERT_TRUE(waitForLog("busy", "ingot-minimal: up")) << log("busy");

    // The agent starts after rc; a first interval may end before it answers.
    nlohmann::json report;
    for (int attempt = 0; attempt < 30; ++attempt) {
        auto stats = ingot({"stats", "busy", "--interval", "1", "--json"});
        ASSERT_EQ(stats.exitStatus, 0) << stats.output;
        report = nlohmann::json::parse(stats.output, nullptr, false);
        ASSERT_TRUE(report.is_object()) << stats.output;
        if (report["guest"].value("available", false)) break;
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    ASSERT_TRUE(report["guest"].value("available", false)) << report.dump(2);
    EXPECT_EQ(report["vcpuCount"], 1) << report.dump(2);
    EXPECT_GT(report["intervalNs"].get<uint64_t>(), 900'000'000u) << report.dump(2);
    EXPECT_GT(report["guest"]["total"]["cpuTimeNs"].get<uint64_t>(), 0u) << report.dump(2);
    EXPECT_EQ(report["resources"]["limits"]["cpuWeight"], 200) << report.dump(2);

    auto text = ingot({"stats", "busy", "--interval", "1"});
    EXPECT_EQ(text.exitStatus, 0) << text.output;
    EXPECT_NE(text.output.find("wall (1 vCPU)"), std::string::npos) << text.output;

    auto updated = ingot({"update", "busy", "--cpu-max", "50%", "--balloon", "64M", "--json"});
    ASSERT_EQ(updated.exitStatus, 0) << updated.output;
    auto inForce = nlohmann::json::parse(updated.output, nullptr, false)["inForce"];
    EXPECT_EQ(inForce["cpuMax"]["quotaUs"], 50000) << updated.output;
    EXPECT_EQ(inForce["cpuWeight"], 200) << updated.output;
    EXPECT_EQ(inForce["balloonTargetBytes"], 64u << 20) << updated.output;

    auto top = ingot({"top", "--count", "1", "--interval", "1"});
    EXPECT_EQ(top.exitStatus, 0) << top.output;
    EXPECT_NE(top.output.find("busy"), std::string::npos) << top.output;
    EXPECT_NE(top.output.find("RUN%"), std::string::npos) << top.output;

    auto tooTight = ingot({"update", "busy", "--memory-max", "16M"});
    EXPECT_EQ(tooTight.exitStatus, 2) << tooTight.output;
    EXPECT_NE(tooTight.output.find("memory.max"), std::string::npos) << tooTight.output;
    auto nothing = ingot({"update", "busy"});
    EXPECT_EQ(nothing.exitStatus, 2) << nothing.output;

    auto stopped = ingot({"stop", "busy"});
    EXPECT_EQ(stopped.exitStatus, 0) << stopped.output;
    auto gone = ingot({"stats", "busy"});
    EXPECT_EQ(gone.exitStatus, 2) << gone.output;
    EXPECT_NE(gone.output.find("not running"), std::string::npos) << gone.output;
    // The monitor removed its cgroup (busy.HASH) on the way out.
    for (const auto& cgroup : fs::directory_iterator("/sys/fs/cgroup/ingot")) {
        if (!cgroup.is_directory()) continue;
        std::ifstream procs(cgroup.path() / "cgroup.procs");
        std::string pids((std::istreambuf_iterator<char>(procs)), {});
        EXPECT_NE(cgroup.path().filename().string().rfind("busy.", 0), 0u)
            << cgroup.path() << " holds [" << pids << "]\n" << stopped.output << "\n" << log("busy");
    }
    EXPECT_EQ(ingot({"rm", "busy"}).exitStatus, 0);
}

TEST_F(KvmRun, AnUntrustedKeyIsRefusedBeforeBoot) {
    auto r = ingot({"run", kImage, "--name", "untrusted"});
    EXPECT_EQ(r.exitStatus, 3) << r.output;
    EXPECT_NE(r.output.find("ingot trust add"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("ingot-fw"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(store + "/vms/untrusted"));
}

TEST_F(KvmRun, ATamperedChunkIsCaughtBeforeBoot) {
    trustTheBuildKey();
    // The largest blob is a disk chunk; one flipped byte in it must stop the run.
    fs::path largest;
    for (const auto& blob : fs::directory_iterator(store + "/blobs/sha256"))
        if (largest.empty() || fs::file_size(blob.path()) > fs::file_size(largest))
            largest = blob.path();
    fs::permissions(largest, fs::perms::owner_write, fs::perm_options::add);
    {
        std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(100);
        char byte = 0;
        f.get(byte);
        f.seekp(100);
        f.put(static_cast<char>(byte ^ 0xff));
    }
    auto r = ingot({"run", kImage, "--name", "tampered"});
    EXPECT_EQ(r.exitStatus, 3) << r.output;
    EXPECT_NE(r.output.find(largest.filename().string()), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("ingot-fw"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(store + "/vms/tampered"));
    EXPECT_FALSE(fs::exists(store + "/bases/" + digest.substr(7) + ".img"));
}

}  // namespace
