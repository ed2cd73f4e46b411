// Base ingestion over arbitrary bytes (a tarball, cpio archive or .deb a recipe names). Besides
// not crashing, properties: a failed read is an ingot::Error; every path in the tree is
// canonical and hangs below a directory; the limits hold; and a tree that was read survives a
// round trip through the tar writer with the same digest.
#include <cstdint>
#include <string_view>

#include "FuzzCheck.h"
#include "ingot/core/Error.h"
#include "ingot/imagebuild/ArchiveReader.h"
#include "ingot/imagebuild/TarWriter.h"

using namespace ingot::imagebuild;

namespace {

constexpr uint64_t kMaxEntryBytes = 1 << 20;
constexpr uint64_t kMaxTotalBytes = 8 << 20;

ArchiveReadOptions fuzzOptions() {
    ArchiveReadOptions options;
    options.allowDevices = true;  // more of the reader is reached; refusal is tested elsewhere
    options.maxEntryBytes = kMaxEntryBytes;
    options.maxTotalBytes = kMaxTotalBytes;
    options.maxEntries = 20'000;
    return options;
}

void checkTree(const Tree& tree) {
    FUZZ_CHECK(tree.find("") && tree.find("")->type == NodeType::kDirectory);
    for (const auto& [path, inode] : tree.entries()) {
        FUZZ_CHECK(normalizePath(path, "fuzz") == path);
        if (path.empty()) continue;
        auto parent = tree.find(parentPath(path));
        FUZZ_CHECK(parent && parent->type == NodeType::kDirectory);
        FUZZ_CHECK(inode->type != NodeType::kSocket);
        FUZZ_CHECK(inode->mode <= 07777);
        FUZZ_CHECK(inode->size() <= kMaxEntryBytes || inode->type == NodeType::kSymlink);
    }
    FUZZ_CHECK(tree.contentBytes() <= kMaxTotalBytes);
}

}  // namespace

// libarchive reserves a buffer as large as a header says a name or link target is before it
// reads a byte (a cpio namesize of 0xffffffff asks for 4 GiB, rounded up to 8 GiB), and the
// xz decoder allocates the dictionary a header asks for; on short input both then fail cleanly.
// Outside ASan that costs address space, not memory; under ASan it ends the run (libFuzzer's
// malloc limit) or crawls (ASan clears and poisons the shadow of the whole block). Nothing
// legitimate here needs 256 MiB at once (entries are limited to 1 MiB below), so larger
// allocations come back as NULL, which libarchive reports as an error: the same clean failure
// as when the kernel refuses such an allocation.
extern "C" const char* __asan_default_options() {
    return "allocator_may_return_null=1:max_allocation_size_mb=256";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    Tree tree;
    try {
        readArchiveMemory(bytes, "fuzz.tar", tree, fuzzOptions());
    } catch (const ingot::Error&) {
        checkTree(tree);  // what was placed before the error still obeys the rules
        return 0;
    }
    checkTree(tree);

    TarWriteOptions writeOptions;
    std::string tar = writeTarMemory(tree, writeOptions);
    Tree back;
    readArchiveMemory(tar, "round-trip.tar", back, fuzzOptions());
    FUZZ_CHECK(back.digest() == tree.digest());
    return 0;
}
