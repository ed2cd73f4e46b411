// make-test-image: writes signed ingot images from a kernel (and optionally an initrd and a raw
// root filesystem) for firmware and monitor tests, through the same library `ingot build` uses.
//
//   make-test-image keygen --public key.pub --secret key.sec
//   make-test-image --kernel vmlinuz [--initrd initrd.img] [--cmdline "console=ttyS0"]
//                   --secret-key key.sec --out disk.img [--name test/image] [--version 0]
//                   [--root root.ext4] [--created EPOCH] [--cpus N] [--memory-mib M]
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "ingot/core/Error.h"
#include "ingot/image/DiskImage.h"
#include "ingot/sign/Minisign.h"

using namespace ingot;

namespace {

uint64_t sourceDateEpoch() {
    const char* text = std::getenv("SOURCE_DATE_EPOCH");
    if (!text || !*text) return 0;
    char* end = nullptr;
    errno = 0;
    unsigned long long value = std::strtoull(text, &end, 10);
    if (errno || *end || *text == '-')
        throw Error(std::string("SOURCE_DATE_EPOCH='") + text + "' is not a number of seconds",
                    ExitStatus::kUsage);
    return value;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"make-test-image: writes a signed ingot image (docs/image-format.md) for tests"};
    app.require_subcommand(0, 1);

    image::DiskImageInput input;
    input.name = "test/image";
    input.version = "0";
    input.cmdline = "console=ttyS0";
    std::string initrd, root, secretKey, out;
    std::optional<uint64_t> created;
    app.add_option("--kernel", input.kernelPath, "kernel to boot (bzImage)");
    app.add_option("--initrd", initrd, "initial ramdisk");
    app.add_option("--cmdline", input.cmdline, "kernel command line")->capture_default_str();
    app.add_option("--secret-key", secretKey, "unencrypted minisign secret key to sign with");
    app.add_option("--out", out, "disk image to write (replaced atomically)");
    app.add_option("--name", input.name, "image name")->capture_default_str();
    app.add_option("--version", input.version, "image version")->capture_default_str();
    app.add_option(
        "--root", root,
        "raw filesystem for the root partition (adds its dm-verity tree as root-verity)");
    app.add_option("--created", created, "creation time (default: SOURCE_DATE_EPOCH, else 0)");
    app.add_option("--cpus", input.defaults.cpus, "default vCPU count")
        ->capture_default_str()
        ->check(CLI::Range(1, 255));
    app.add_option("--memory-mib", input.defaults.memoryMiB, "default memory in MiB")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);

    std::string publicPath, secretPath;
    CLI::App* keygen = app.add_subcommand("keygen", "create an unencrypted minisign key pair");
    keygen->add_option("--public", publicPath, "public key file to write")->required();
    keygen->add_option("--secret", secretPath, "secret key file to write (mode 0600)")->required();

    app.footer("Exit status: 0 success; 2 usage or unreadable input; 5 internal error.");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : static_cast<int>(ExitStatus::kUsage);
    }

    try {
        if (keygen->parsed()) {
            sign::MinisignSecretKey key = sign::generateMinisignKey();
            sign::writeSecretKeyFile(secretPath, key);
            sign::writePublicKeyFile(publicPath, key.publicPart());
            std::cout << "key " << sign::formatKeyId(key.keyId) << ": " << publicPath << ", "
                      << secretPath << "\n";
            return 0;
        }
        for (auto [value, option] :
             {std::pair{&input.kernelPath, "--kernel"}, std::pair{&secretKey, "--secret-key"},
              std::pair{&out, "--out"}}) {
            if (value->empty()) {
                std::cerr << "make-test-image: " << option << " is required\n"
                          << "Run with --help for more information.\n";
                return static_cast<int>(ExitStatus::kUsage);
            }
        }
        if (!initrd.empty()) input.initrdPath = initrd;
        if (!root.empty()) input.rootPath = root;
        input.created = created ? *created : sourceDateEpoch();
        sign::MinisignSecretKey key = sign::readSecretKeyFile(secretKey);
        image::DiskImage written = image::writeDiskImage(input, key, out);
        std::cout << out << ": " << input.name << " " << input.version << ", "
                  << written.gpt.sectorCount * image::kSectorSize / (1024 * 1024) << " MiB, "
                  << written.manifest.partitions.size() << " partition(s), signed by key "
                  << sign::formatKeyId(key.keyId) << "\n";
        return 0;
    } catch (const Error& e) {
        std::cerr << "make-test-image: " << e.what() << "\n";
        return static_cast<int>(e.status());
    } catch (const std::exception& e) {
        std::cerr << "make-test-image: internal error: " << e.what() << "\n";
        return static_cast<int>(ExitStatus::kInternal);
    }
}
