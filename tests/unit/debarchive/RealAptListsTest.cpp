// Real data where the host has it: the InRelease files apt keeps in /var/lib/apt/lists are
// verified with the Debian archive keyring, and the Packages file beside each (which apt stores
// lz4-compressed) must match the sha256 its Release gives for the uncompressed Packages and
// parse completely. Skipped on hosts without apt lists, the keyring or lz4.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "ArchiveTestSupport.h"
#include "ingot/debian/PackagesIndex.h"
#include "ingot/debian/Release.h"

using namespace ingot::debian;
using namespace ingot::debian::test;

namespace {

const char* kListsDirectory = "/var/lib/apt/lists";
const char* kDebianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg";

std::vector<std::string> inReleaseFiles() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(kListsDirectory, ec))
        if (e.path().filename().string().ends_with("_InRelease")) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

TEST(DebianRealLists, VerifiesAptsInReleaseFilesAndTheirPackages) {
    const auto files = inReleaseFiles();
    if (files.empty() || !fs::exists(kDebianKeyring) || !haveTool("gpgv"))
        GTEST_SKIP() << "no apt lists or no Debian archive keyring on this host";
    int packagesChecked = 0;
    for (const std::string& path : files) {
        SCOPED_TRACE(path);
        // apt may not have updated for a while; expiry is tested elsewhere.
        const Release r = verifyInRelease(path, {kDebianKeyring, true, 0});
        EXPECT_FALSE(r.suite.empty());
        EXPECT_FALSE(r.codename.empty());
        EXPECT_GT(r.dateSeconds, 1500000000);
        EXPECT_FALSE(r.sha256.empty());
        const ReleaseFile* packages = r.find("main/binary-amd64/Packages");
        ASSERT_NE(packages, nullptr);
        EXPECT_NE(r.find("main/binary-amd64/Packages.xz"), nullptr);

        const std::string prefix = path.substr(0, path.size() - std::string("InRelease").size());
        const std::string lz4 = prefix + "main_binary-amd64_Packages.lz4";
        if (!fs::exists(lz4) || !haveTool("lz4")) continue;
        const std::string text = run({"lz4", "-d", "-c", lz4});
        checkAgainstRelease(text, *packages);
        PackagesIndex index;
        index.addText(text, lz4, "main");
        EXPECT_FALSE(index.records().empty());
        ++packagesChecked;
    }
    if (packagesChecked == 0)
        GTEST_SKIP() << "no lz4-compressed Packages beside the InRelease files";
}

}  // namespace
