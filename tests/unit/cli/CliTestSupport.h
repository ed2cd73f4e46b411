// Helpers for the cli tests: temporary directories, files, test images, running `ingot`.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../../support/TempDir.h"
#include "ingot/core/Error.h"
#include "ingot/image/DiskImage.h"
#include "ingot/sign/Minisign.h"

namespace ingot::test {


inline std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeText(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

// Overwrites bytes of an existing file in place.
inline void patchFile(const std::string& path, uint64_t offset, std::string_view bytes) {
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(offset));
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file) throw std::runtime_error("cannot patch " + path);
}

inline char byteAt(const std::string& path, uint64_t offset) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    in.get(c);
    return c;
}

inline void flipByte(const std::string& path, uint64_t offset) {
    patchFile(path, offset, std::string(1, static_cast<char>(byteAt(path, offset) ^ 0x01)));
}

// Deterministic pseudo-random bytes, so a failure repeats.
inline std::string randomBytes(size_t size, uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(generator());
    return bytes;
}

// A signed image in `dir`: kernel, initrd and (optionally) a root partition.
inline image::DiskImage writeTestImage(const TempDir& dir, const sign::MinisignSecretKey& key,
                                       const std::string& name, bool withRoot = false) {
    writeText(dir.file("vmlinuz"), randomBytes(300001, 1));
    writeText(dir.file("initrd.img"), randomBytes(70001, 2));
    image::DiskImageInput input;
    input.name = "test/reader";
    input.version = "2026.1";
    input.created = 1700000000;
    input.cmdline = "console=ttyS0 quiet";
    input.kernelPath = dir.file("vmlinuz");
    input.initrdPath = dir.file("initrd.img");
    input.provenance = {{"recipe", "sha256:abc"}};
    if (withRoot) {
        writeText(dir.file("root.ext4"), randomBytes(1 << 20, 3));
        input.rootPath = dir.file("root.ext4");
    }
    return image::writeDiskImage(input, key, dir.file(name));
}

// Runs `body`, expects an ingot::Error with `status` whose message contains every one of `parts`.
template <typename Body>
void expectError(Body body, ExitStatus status, std::initializer_list<std::string_view> parts) {
    try {
        body();
        ADD_FAILURE() << "no error; expected one mentioning '" << *parts.begin() << "'";
    } catch (const ingot::Error& e) {
        std::string message = e.what();
        EXPECT_EQ(static_cast<int>(e.status()), static_cast<int>(status)) << message;
        for (std::string_view part : parts)
            EXPECT_NE(message.find(part), std::string::npos)
                << "message \"" << message << "\" lacks \"" << part << "\"";
    }
}

inline std::string shellQuote(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct CommandResult {
    int status;
    std::string out;  // stdout
    std::string err;  // stderr
};

// Runs a shell command line in `directory` with stdin from /dev/null.
inline CommandResult runCommand(const std::filesystem::path& directory,
                                const std::string& command) {
    std::string errPath = (directory / ".stderr").string();
    std::string shell = "cd " + shellQuote(directory.string()) + " && { " + command +
                        "; } </dev/null 2>" + shellQuote(errPath);
    FILE* pipe = ::popen(shell.c_str(), "r");
    if (!pipe) return {-1, "popen failed", ""};
    std::string out;
    char chunk[4096];
    while (size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) out.append(chunk, n);
    int status = ::pclose(pipe);
    std::string err = readText(errPath);
    std::filesystem::remove(errPath);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, err};
}

}  // namespace ingot::test
