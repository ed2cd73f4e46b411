// The store: commits are whole or absent, uploads resume, crash leftovers are never content, and
// garbage collection keeps what a manifest names or what was touched recently.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "ingot/core/Sha256.h"
#include "server/GarbageCollector.h"
#include "server/RegistryError.h"
#include "server/Storage.h"
#include "server/Uploads.h"

namespace ingot::registry {
namespace {

namespace fs = std::filesystem;

std::string digestOf(const std::string& bytes) {
    return "sha256:" + toHex(sha256(bytes));
}

class RegistryStorage : public ::testing::Test {
protected:
    void SetUp() override {
        root = (fs::temp_directory_path() /
                ("ingot-registry-storage-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                   .string();
        fs::remove_all(root);
    }
    void TearDown() override { fs::remove_all(root); }
    std::string root;
};

TEST_F(RegistryStorage, UploadCommitsOnlyMatchingDigest) {
    Storage storage(root);
    Uploads uploads(storage);
    std::string id = uploads.start("a/b");
    uploads.append("a/b", id, 0)->write("hello", 5);
    EXPECT_THROW(uploads.append("a/b", id, 3), RegistryError);  // overlap
    EXPECT_THROW(uploads.append("a/b", id, 9), RegistryError);  // gap
    EXPECT_THROW(uploads.size("other", id), RegistryError);
    uploads.append("a/b", id, 5)->write(" world", 6);
    EXPECT_EQ(uploads.size("a/b", id), 11u);
    try {
        uploads.finish("a/b", id, digestOf("nope"));
        FAIL();
    } catch (const RegistryError& e) {
        EXPECT_EQ(e.code(), "DIGEST_INVALID");
    }
    EXPECT_FALSE(storage.blobSize(digestOf("hello world")));
    EXPECT_THROW(uploads.size("a/b", id), RegistryError);  // discarded

    id = uploads.start("a/b");
    uploads.append("a/b", id, 0)->write("hello world", 11);
    uploads.finish("a/b", id, digestOf("hello world"));
    EXPECT_EQ(storage.repositoryBlobSize("a/b", digestOf("hello world")), 11u);
    EXPECT_FALSE(storage.repositoryBlobSize("c", digestOf("hello world")));
    EXPECT_TRUE(storage.linkExistingBlob("c", digestOf("hello world")));
    EXPECT_EQ(storage.repositoryBlobSize("c", digestOf("hello world")), 11u);
}

TEST_F(RegistryStorage, UploadResumesAfterRestartByRehashing) {
    std::string id;
    {
        Storage storage(root);
        Uploads uploads(storage);
        id = uploads.start("r");
        uploads.append("r", id, 0)->write("abc", 3);
    }
    Storage storage(root);
    Uploads uploads(storage);
    EXPECT_EQ(uploads.size("r", id), 3u);
    uploads.append("r", id, 3)->write("def", 3);
    uploads.finish("r", id, digestOf("abcdef"));
    EXPECT_EQ(storage.blobSize(digestOf("abcdef")), 6u);
}

TEST_F(RegistryStorage, CrashLeftoversAreNeverContent) {
    {
        Storage storage(root);
        Uploads uploads(storage);
        std::string id = uploads.start("r");
        uploads.append("r", id, 0)->write("partial", 7);
    }
    // What a SIGKILL during a manifest write or a commit would leave behind.
    std::ofstream(root + "/tmp/0123").write("half", 4);
    Storage storage(root);
    EXPECT_FALSE(fs::exists(root + "/tmp/0123"));
    EXPECT_TRUE(fs::is_empty(root + "/blobs/sha256"));
    EXPECT_FALSE(storage.blobSize(digestOf("partial")));
}

TEST_F(RegistryStorage, ManifestsTagsAndReferrers) {
    Storage storage(root);
    std::string bytes = R"({"schemaVersion":2})";
    std::string digest = digestOf(bytes);
    storage.putManifest("r", digest, "application/vnd.oci.image.manifest.v1+json", bytes, "v1",
                        ReferrerLink{digestOf("subject"), R"({"digest":"x"})"});
    EXPECT_EQ(storage.resolve("r", "v1"), digest);
    EXPECT_EQ(storage.resolve("r", digest), digest);
    EXPECT_EQ(storage.readManifest("r", digest)->bytes, bytes);
    EXPECT_EQ(storage.tags("r"), std::vector<std::string>{"v1"});
    EXPECT_EQ(storage.referrers("r", digestOf("subject")).size(), 1u);
    EXPECT_EQ(storage.repositories(), std::vector<std::string>{"r"});
    EXPECT_TRUE(storage.deleteManifest("r", digest));
    EXPECT_FALSE(storage.resolve("r", "v1"));
    EXPECT_TRUE(storage.referrers("r", digestOf("subject")).empty());
}

TEST_F(RegistryStorage, GarbageCollectionKeepsReferencedAndRecentBlobs) {
    Storage storage(root);
    Uploads uploads(storage);
    auto push = [&](const std::string& bytes) {
        std::string id = uploads.start("r");
        uploads.append("r", id, 0)->write(bytes.data(), bytes.size());
        uploads.finish("r", id, digestOf(bytes));
        return digestOf(bytes);
    };
    std::string config = push("config"), layer = push("layer"), orphan = push("orphan");
    std::string manifest = R"({"schemaVersion":2,"config":{"digest":")" + config +
                           R"(","size":6},"layers":[{"digest":")" + layer + R"(","size":5}]})";
    storage.putManifest("r", digestOf(manifest), "application/vnd.oci.image.manifest.v1+json",
                        manifest, "t", std::nullopt);

    CollectionReport recent = collectGarbage(storage, uploads, 3600);
    EXPECT_EQ(recent.blobsDeleted, 0u);  // the orphan is within the grace period

    // Age every blob: only the unreferenced one goes.
    for (const auto& entry : fs::directory_iterator(root + "/blobs/sha256"))
        fs::last_write_time(entry.path(), fs::file_time_type::clock::now() - std::chrono::hours(2));
    CollectionReport old = collectGarbage(storage, uploads, 3600);
    EXPECT_EQ(old.blobsDeleted, 1u);
    EXPECT_FALSE(storage.blobSize(orphan));
    EXPECT_TRUE(storage.blobSize(config));
    EXPECT_TRUE(storage.blobSize(layer));
    EXPECT_TRUE(storage.blobSize(digestOf(manifest)));
    EXPECT_FALSE(storage.repositoryBlobSize("r", orphan));
}

}  // namespace
}  // namespace ingot::registry
