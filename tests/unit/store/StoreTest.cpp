// The local store: images tagged by their reference, base disks reassembled once and read-only,
// clones as qcow2 overlays whose names are claimed atomically, and prune keeping exactly what an
// image or clone still references.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "../../support/TempDir.h"
#include "../oci/OciTestSupport.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/image/Qcow2.h"
#include "ingot/oci/Layout.h"
#include "ingot/store/Store.h"

namespace ingot::store {
namespace {

namespace fs = std::filesystem;

const std::string kName = "127.0.0.1:5000/gold/test:1";

class LocalStore : public ::testing::Test {
protected:
    void SetUp() override {
        root = dir.file("store");
        store = std::make_unique<Store>(root);
    }
    // Packs an image of `bytes` into the store as `name`; returns its digest.
    std::string addImage(const std::string& name, const std::string& bytes,
                         const std::string& version) {
        const std::string disk = dir.file("disk-" + version + ".img");
        test::writeFile(disk, bytes);
        return oci::writeImageToLayout(root, disk, test::testManifestJson(version),
                                       "untrusted comment: test\n", name)
            .digest;
    }
    size_t blobCount() const {
        size_t n = 0;
        for (auto& entry : fs::directory_iterator(root + "/blobs/sha256")) (void)entry, ++n;
        return n;
    }

    test::TempDir dir;
    std::string root;
    std::unique_ptr<Store> store;
};

TEST_F(LocalStore, ListsImagesByTheirReferenceAndResolvesThem) {
    EXPECT_TRUE(store->images().empty());  // a new store lists nothing, without an error
    EXPECT_EQ(store->prune(true).blobsRemoved, 0u);
    std::string digest = addImage(kName, test::diskLikeBytes(2 << 20, 1), "1");
    auto images = store->images();
    ASSERT_EQ(images.size(), 1u);  // the signature tag is not an image
    EXPECT_EQ(images[0].name, kName);
    EXPECT_EQ(images[0].digest, digest);
    EXPECT_EQ(images[0].diskSize, 2u << 20);
    EXPECT_GT(images[0].chunkBytes, 0u);
    EXPECT_FALSE(images[0].baseDisk);
    EXPECT_EQ(store->resolve(kName), digest);
    try {
        store->resolve("127.0.0.1:5000/gold/other:1");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("ingot pull 127.0.0.1:5000/gold/other:1"),
                  std::string::npos);
    }
}

TEST_F(LocalStore, ClonesAreOverlaysOnOneReadOnlyBaseDisk) {
    const std::string bytes = test::diskLikeBytes(3 << 20, 2);
    std::string digest = addImage(kName, bytes, "1");
    Vm a = store->createVm("a", kName, 2, 256 << 20);
    Vm b = store->createVm("b", kName, 1, 128 << 20);
    EXPECT_EQ(a.digest, digest);
    const std::string base = root + "/bases/" + digest.substr(7) + ".img";
    EXPECT_EQ(toHex(sha256File(base, "base").sha256), toHex(sha256(bytes)));
    struct stat st {};
    ASSERT_EQ(::stat(base.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0444u);
    for (const char* name : {"a", "b"}) {
        auto overlay = image::Qcow2Image::open(store->overlayPath(name), true);
        EXPECT_EQ(overlay->backingFile(), base);
        EXPECT_EQ(overlay->virtualSize(), bytes.size());
    }
    EXPECT_TRUE(store->images()[0].baseDisk);
    EXPECT_EQ(store->images()[0].vms, (std::vector<std::string>{"a", "b"}));
    Vm read = store->vm("a");
    EXPECT_EQ(read.image, kName);
    EXPECT_EQ(read.cpus, 2u);
    EXPECT_EQ(read.memoryBytes, 256u << 20);

    EXPECT_THROW(store->createVm("a", kName, 1, 128 << 20), Error);
    for (const char* bad : {"", "A", "-a", "a/b", "..", "a b"})
        EXPECT_THROW(store->createVm(bad, kName, 1, 128 << 20), Error) << bad;
}

TEST_F(LocalStore, OfRacingRunsWithOneNameExactlyOneGetsIt) {
    addImage(kName, test::diskLikeBytes(1 << 20, 3), "1");
    std::atomic<int> made{0}, refused{0};
    std::vector<std::thread> runs;
    for (int i = 0; i < 8; ++i)
        runs.emplace_back([&] {
            try {
                Store(root).createVm("same", kName, 1, 64 << 20);
                ++made;
            } catch (const Error&) {
                ++refused;
            }
        });
    for (auto& t : runs) t.join();
    EXPECT_EQ(made.load(), 1);
    EXPECT_EQ(refused.load(), 7);
    EXPECT_EQ(store->vms().size(), 1u);
}

TEST_F(LocalStore, ARunningCloneIsLeasedAndCannotBeRemoved) {
    addImage(kName, test::diskLikeBytes(1 << 20, 8), "1");
    store->createVm("busy", kName, 1, 64 << 20);
    EXPECT_FALSE(store->state("busy").running);
    {
        VmLease lease = store->lease("busy");
        test::writeFile(store->vmDir("busy") + "/monitor.pid", "4242\n");
        EXPECT_TRUE(store->state("busy").running);
        EXPECT_EQ(store->state("busy").monitorPid, 4242);
        EXPECT_THROW(store->lease("busy"), Error);
        try {
            store->removeVm("busy");
            FAIL() << "removed a running clone";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("ingot stop busy"), std::string::npos);
        }
    }
    EXPECT_FALSE(store->state("busy").running);
    store->removeVm("busy");
}

TEST_F(LocalStore, RemovingACloneLeavesNothingBehind) {
    addImage(kName, test::diskLikeBytes(1 << 20, 4), "1");
    store->createVm("gone", kName, 1, 64 << 20);
    store->removeVm("gone");
    EXPECT_TRUE(fs::is_empty(root + "/vms"));
    EXPECT_THROW(store->vm("gone"), Error);
    EXPECT_THROW(store->removeVm("gone"), Error);
}

TEST_F(LocalStore, ATamperedRecordIsNoVm) {
    addImage(kName, test::diskLikeBytes(1 << 20, 5), "1");
    store->createVm("x", kName, 1, 64 << 20);
    test::writeFile(root + "/vms/x/vm.json", R"({"name":"../../etc","image":"x"})");
    EXPECT_THROW(store->vm("x"), Error);
    EXPECT_TRUE(store->vms().empty());
}

TEST_F(LocalStore, PruneKeepsWhatImagesAndClonesReferenceAndReclaimsTheRest) {
    const std::string used = "127.0.0.1:5000/gold/used:1", unused = "127.0.0.1:5000/gold/unused:1";
    std::string usedDigest = addImage(used, test::diskLikeBytes(2 << 20, 6), "1");
    std::string unusedDigest = addImage(unused, test::diskLikeBytes(2 << 20, 7), "2");
    store->createVm("keep", used, 1, 64 << 20);
    store->baseDisk(unusedDigest);
    test::writeFile(root + "/blobs/sha256/." + std::string(64, 'a') + ".partial", "half");
    test::writeFile(root + "/blobs/sha256/" + std::string(64, 'b'), "stray");
    const size_t before = blobCount();

    PruneReport plain = store->prune(false);
    EXPECT_EQ(plain.imagesRemoved, 0u);
    EXPECT_EQ(plain.blobsRemoved, 2u);  // the stray blob and the partial download
    EXPECT_EQ(plain.baseDisksRemoved, 0u);
    EXPECT_EQ(blobCount(), before - 2);
    // Both images still reassemble: nothing they need went.
    oci::reassembleDisk(root, unused, dir.file("check.img"));

    PruneReport all = store->prune(true);
    EXPECT_EQ(all.imagesRemoved, 1u);
    EXPECT_GT(all.blobsRemoved, 0u);
    EXPECT_EQ(all.baseDisksRemoved, 1u);
    EXPECT_GT(all.bytesFreed, 0u);
    auto images = store->images();
    ASSERT_EQ(images.size(), 1u);
    EXPECT_EQ(images[0].name, used);
    EXPECT_FALSE(fs::exists(root + "/bases/" + unusedDigest.substr(7) + ".img"));
    EXPECT_TRUE(fs::exists(root + "/bases/" + usedDigest.substr(7) + ".img"));
    oci::reassembleDisk(root, used, dir.file("check2.img"));
    EXPECT_FALSE(oci::readSignature(root, usedDigest).empty());

    // The clone gone, the last image goes too and the store is empty again.
    store->removeVm("keep");
    PruneReport last = store->prune(true);
    EXPECT_EQ(last.imagesRemoved, 1u);
    EXPECT_TRUE(store->images().empty());
    EXPECT_EQ(blobCount(), 0u);
    EXPECT_TRUE(fs::is_empty(root + "/bases"));
}

}  // namespace
}  // namespace ingot::store
