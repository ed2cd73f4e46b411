// bench/build: the ext4 writer against its peer, `mke2fs -t ext4 -d DIR`, on the same generated
// content (files of mixed sizes, directories, symlinks). writeExt4 reads the in-memory tree;
// mke2fs reads the tree materialised in a temporary directory (materialising is not timed),
// freshly for every run as a build pipeline would. mke2fs gets every determinism knob it has
// (fixed -U, hash_seed, E2FSPROGS_FAKE_TIME) and the same file system size. Prints medians,
// the ratio, and whether each tool's runs gave one digest.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/imagebuild/ArchiveReader.h"
#include "ingot/imagebuild/Ext4Writer.h"

using namespace ingot::imagebuild;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kEpoch = 1700000000;

struct Rng {
    uint64_t s;
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

std::string bytes(size_t size, Rng& rng) {
    std::string out(size, '\0');
    for (size_t i = 0; i < size; i += 8) {
        uint64_t v = rng.next();
        std::memcpy(out.data() + i, &v, std::min<size_t>(8, size - i));
    }
    return out;
}

// `files` files in 1 + files/50 directories, sizes drawn so the total is near `totalBytes`:
// mostly small files, some medium, a few large, like a root file system.
Tree generate(int files, uint64_t totalBytes) {
    Rng rng{0x9e3779b97f4a7c15ull};
    std::vector<uint64_t> weights;
    uint64_t sum = 0;
    for (int i = 0; i < files; ++i) {
        uint64_t r = rng.next() % 100;
        uint64_t w = r < 70 ? 1 + rng.next() % 16 : r < 97 ? 16 + rng.next() % 240 : 1000 + rng.next() % 4000;
        weights.push_back(w);
        sum += w;
    }
    Tree tree;
    int dirs = 1 + files / 50;
    for (int i = 0; i < files; ++i) {
        auto inode = std::make_shared<Inode>();
        inode->type = NodeType::kFile;
        inode->mode = i % 10 == 0 ? 0755 : 0644;
        inode->mtime = kEpoch;
        inode->content = makeBlob(bytes(weights[i] * totalBytes / sum, rng));
        tree.put("usr/share/d" + std::to_string(i % dirs) + "/file-" + std::to_string(i), inode,
                 "bench");
        if (i % 100 == 0) {
            auto link = std::make_shared<Inode>();
            link->type = NodeType::kSymlink;
            link->mode = 0777;
            link->mtime = kEpoch;
            link->symlinkTarget = "../share/d" + std::to_string(i % dirs) + "/file-" + std::to_string(i);
            tree.put("usr/bin/link-" + std::to_string(i), link, "bench");
        }
    }
    for (const auto& [path, inode] : tree.entries())
        if (inode->type == NodeType::kDirectory) inode->mtime = kEpoch;
    return tree;
}

void materialise(const Tree& tree, const std::string& root) {
    fs::create_directories(root);
    for (const auto& [path, inode] : tree.entries()) {
        std::string at = root + "/" + path;
        switch (inode->type) {
            case NodeType::kDirectory:
                if (!path.empty()) fs::create_directory(at);
                break;
            case NodeType::kFile: {
                int fd = ::open(at.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd < 0) ingot::throwSystemError("cannot create " + at, errno);
                const std::string& b = inode->content->bytes();
                if (::write(fd, b.data(), b.size()) != static_cast<ssize_t>(b.size()))
                    ingot::throwSystemError("cannot write " + at, errno);
                ::close(fd);
                break;
            }
            case NodeType::kSymlink:
                if (::symlink(inode->symlinkTarget.c_str(), at.c_str()) < 0)
                    ingot::throwSystemError("cannot create " + at, errno);
                break;
            default: break;
        }
    }
    for (auto it = tree.entries().rbegin(); it != tree.entries().rend(); ++it) {
        std::string at = root + "/" + it->first;
        if (it->second->type != NodeType::kSymlink) ::chmod(at.c_str(), it->second->mode);
        timespec times[2] = {{it->second->mtime, 0}, {it->second->mtime, 0}};
        ::utimensat(AT_FDCWD, at.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
}

std::string uuidText(const std::array<uint8_t, 16>& id) {
    std::string hex = ingot::toHex(id.data(), id.size());
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string findTool(const char* name) {
    for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/"})
        if (::access((std::string(dir) + name).c_str(), X_OK) == 0) return std::string(dir) + name;
    return name;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ext4 writer benchmark: writeExt4 vs mke2fs -d"};
    int runs = 5, files = 5000;
    uint64_t megabytes = 100;
    std::string work = fs::temp_directory_path();
    app.add_option("--runs", runs, "runs per tool");
    app.add_option("--files", files, "files in the generated tree");
    app.add_option("--megabytes", megabytes, "total content");
    app.add_option("--workdir", work, "where images and materialised trees go");
    std::string treeTar;
    app.add_option("--tree-tar", treeTar, "use the tree in this tar (a build's cached base) instead of a generated one");
    CLI11_PARSE(app, argc, argv);

    try {
        Tree tree;
        if (treeTar.empty()) {
            tree = generate(files, megabytes << 20);
        } else {
            ingot::imagebuild::ArchiveReadOptions readOptions;
            readOptions.allowDevices = true;
            ingot::imagebuild::readArchiveFile(treeTar, tree, readOptions);
        }
        double contentMiB = static_cast<double>(tree.contentBytes()) / (1 << 20);
        std::printf("tree: %zu entries, %.1f MiB of content\n", tree.size(), contentMiB);
        std::string dir = work + "/ingot-ext4-bench." + std::to_string(::getpid());
        fs::create_directories(dir);
        Ext4Options options = deterministicExt4Options("bench", kEpoch);

        std::vector<double> ingotSeconds, mkfsSeconds;
        std::set<std::string> ingotDigests, mkfsDigests;
        uint64_t size = 0;
        for (int i = 0; i < runs; ++i) {
            std::string image = dir + "/ingot.ext4";
            auto t0 = std::chrono::steady_clock::now();
            Ext4Result r = writeExt4(tree, options, image);
            auto t1 = std::chrono::steady_clock::now();
            ingotSeconds.push_back(std::chrono::duration<double>(t1 - t0).count());
            ingotDigests.insert(ingot::toHex(ingot::sha256File(image, "image").sha256));
            size = r.sizeBytes;
            fs::remove(image);
        }
        std::string mkfs = findTool("mke2fs");
        std::string firstSource, firstDigest;
        for (int i = 0; i < runs; ++i) {
            std::string source = dir + "/src-" + std::to_string(i);
            materialise(tree, source);
            std::string image = dir + "/mkfs.ext4";
            std::string command = "E2FSPROGS_FAKE_TIME=" + std::to_string(kEpoch) + " " + mkfs +
                                  " -q -F -t ext4 -b 4096 -U " + uuidText(options.uuid) +
                                  " -E hash_seed=" + uuidText(options.hashSeed) + " -d " + source +
                                  " " + image + " " + std::to_string(size / 1024) + "k >/dev/null";
            auto t0 = std::chrono::steady_clock::now();
            int status = std::system(command.c_str());
            auto t1 = std::chrono::steady_clock::now();
            if (status != 0) throw ingot::Error("mke2fs failed: " + command);
            mkfsSeconds.push_back(std::chrono::duration<double>(t1 - t0).count());
            std::string digest = ingot::toHex(ingot::sha256File(image, "image").sha256);
            mkfsDigests.insert(digest);
            fs::remove(image);
            if (i == 0) firstSource = source, firstDigest = digest;
            else fs::remove_all(source);
        }
        // The same materialised directory once more: what differs between runs above is
        // the host's ctimes of freshly written files.
        std::string image = dir + "/mkfs.ext4";
        std::string again = "E2FSPROGS_FAKE_TIME=" + std::to_string(kEpoch) + " " + mkfs +
                            " -q -F -t ext4 -b 4096 -U " + uuidText(options.uuid) +
                            " -E hash_seed=" + uuidText(options.hashSeed) + " -d " + firstSource +
                            " " + image + " " + std::to_string(size / 1024) + "k >/dev/null";
        if (std::system(again.c_str()) != 0) throw ingot::Error("mke2fs failed: " + again);
        bool sameDirSame =
            ingot::toHex(ingot::sha256File(image, "image").sha256) == firstDigest;
        fs::remove_all(dir);

        double ingotMedian = median(ingotSeconds), mkfsMedian = median(mkfsSeconds);
        std::printf("image size %.0f MiB, %d runs each\n\n", static_cast<double>(size) / (1 << 20), runs);
        std::printf("| tool                 | median ms | MiB/s  | reproducible (runs -> digests) |\n");
        std::printf("|----------------------|-----------|--------|--------------------------------|\n");
        std::printf("| ingot writeExt4      | %9.1f | %6.1f | %-30s |\n", ingotMedian * 1e3,
                    contentMiB / ingotMedian,
                    (std::string(ingotDigests.size() == 1 ? "yes" : "NO") + " (" +
                     std::to_string(runs) + " -> " + std::to_string(ingotDigests.size()) + ")")
                        .c_str());
        std::printf("| mke2fs -t ext4 -d    | %9.1f | %6.1f | %-30s |\n", mkfsMedian * 1e3,
                    contentMiB / mkfsMedian,
                    (std::string(mkfsDigests.size() == 1 ? "yes" : "no") + " (" +
                     std::to_string(runs) + " -> " + std::to_string(mkfsDigests.size()) + ")")
                        .c_str());
        std::printf("\nratio ingot/mke2fs: %.2f (below 1: ingot is faster)\n", ingotMedian / mkfsMedian);
        std::printf("mke2fs -d on the same materialised directory twice: %s\n",
                    sameDirSame ? "same digest" : "different digests");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ext4_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
