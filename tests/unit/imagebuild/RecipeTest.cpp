// Recipe schema v1: what parses into which model, and what every kind of mistake says.
#include "ingot/imagebuild/Recipe.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "ingot/core/Error.h"
#include "ingot/patcher/Operation.h"
#include "ingot/patcher/Recipe.h"

using namespace ingot::imagebuild;
using ingot::patcher::canonicalRecipe;
using ingot::patcher::loadRecipeText;
namespace fs = std::filesystem;

namespace {

class RecipeTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ingot-recipe-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& relative, const std::string& content) {
        fs::create_directories((fs::path(dir_) / relative).parent_path());
        std::ofstream(fs::path(dir_) / relative, std::ios::binary) << content;
    }

    Recipe parse(std::string_view text) { return loadRecipeText(text, "recipe.yaml", dir_); }

    // The message of the error `text` must raise.
    std::string error(std::string_view text) {
        try {
            parse(text);
        } catch (const ingot::Error& e) {
            EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage) << e.what();
            return e.what();
        }
        ADD_FAILURE() << "no error for:\n" << text;
        return "";
    }

    std::string dir_;
};

constexpr const char* kHead = R"(name: test
version: "1"
kernel: {tree: boot/vmlinuz}
)";

std::string withBase(std::string_view base) {
    return std::string(kHead) + std::string(base);
}

std::string withOps(std::string_view ops) {
    return withBase("base: {mmdebstrap: {suite: bookworm}}\noperations:\n") + std::string(ops);
}

#define EXPECT_CONTAINS(haystack, needle) \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

const std::string kSha = std::string(64, 'a');

}  // namespace

TEST_F(RecipeTest, TarballBaseFromPathAndUrl) {
    auto recipe =
        parse(withBase("base:\n  tarball:\n    path: rootfs.tar.zst\n    sha256: " + kSha + "\n"));
    EXPECT_EQ(recipe.name, "test");
    EXPECT_EQ(recipe.version, "1");
    ASSERT_TRUE(std::holds_alternative<TarballBase>(recipe.base));
    const auto& tarball = std::get<TarballBase>(recipe.base);
    EXPECT_EQ(tarball.path, (fs::path(dir_) / "rootfs.tar.zst").string());
    EXPECT_EQ(tarball.sha256, kSha);
    EXPECT_TRUE(tarball.url.empty());

    recipe = parse(
        withBase("base: {tarball: {url: 'https://example.org/r.tar.gz', sha256: " + kSha + "}}\n"));
    EXPECT_EQ(std::get<TarballBase>(recipe.base).url, "https://example.org/r.tar.gz");
    // Locators stay out of the canonical form: only the pinned digest decides the content.
    EXPECT_EQ(canonicalHeader(recipe)["base"], nlohmann::json({{"tarball", {{"sha256", kSha}}}}));
}

TEST_F(RecipeTest, PackagesBase) {
    auto recipe = parse(withBase("base:\n  packages:\n    names: [busybox-static, libc6:amd64]\n"));
    const auto& packages = std::get<PackagesBase>(recipe.base);
    EXPECT_EQ(packages.names, (std::vector<std::string>{"busybox-static", "libc6:amd64"}));
    EXPECT_EQ(packages.lock, "recipe.lock");
    recipe = parse(withBase("base: {packages: {names: [bash], lock: locks/min.lock}}\n"));
    EXPECT_EQ(std::get<PackagesBase>(recipe.base).lock, "locks/min.lock");
    EXPECT_CONTAINS(error(withBase("base: {packages: {names: []}}\n")), "at least one package");
    EXPECT_CONTAINS(error(withBase("base: {packages: {names: [Bash]}}\n")),
                    "no Debian package name");
    EXPECT_CONTAINS(error(withBase("base: {packages: {names: [bash, bash]}}\n")), "twice");
    EXPECT_CONTAINS(error(withBase("base: {packages: {names: [bash], lock: ../x.lock}}\n")),
                    "leaves the recipe's directory");
}

TEST_F(RecipeTest, MmdebstrapBaseWithDefaults) {
    auto recipe = parse(withBase("base:\n  mmdebstrap:\n    suite: bookworm\n"));
    const auto& m = std::get<MmdebstrapBase>(recipe.base);
    EXPECT_EQ(m.suite, "bookworm");
    EXPECT_EQ(m.variant, "minbase");
    EXPECT_TRUE(m.packages.empty());
    EXPECT_EQ(m.components, std::vector<std::string>{"main"});
    recipe = parse(
        withBase("base: {mmdebstrap: {suite: bookworm, variant: apt, packages: [systemd-sysv, "
                 "linux-image-amd64], components: [main, contrib]}}\n"));
    const auto& full = std::get<MmdebstrapBase>(recipe.base);
    EXPECT_EQ(full.variant, "apt");
    EXPECT_EQ(full.packages.size(), 2u);
    EXPECT_EQ(full.components, (std::vector<std::string>{"main", "contrib"}));
    std::string message =
        error(withBase("base: {mmdebstrap: {suite: bookworm, variant: minbsae}}\n"));
    EXPECT_CONTAINS(message, "did you mean 'minbase'?");
}

TEST_F(RecipeTest, ImageBaseInheritsKernel) {
    auto recipe = parse(
        "name: gold/debian-app\nversion: '2024.1'\nbase:\n  image:\n    reference: "
        "registry.example/gold/debian:12\n    digest: sha256:" +
        kSha + "\n");
    const auto& image = std::get<ImageBase>(recipe.base);
    EXPECT_EQ(image.reference, "registry.example/gold/debian:12");
    EXPECT_EQ(image.digest, "sha256:" + kSha);
    EXPECT_FALSE(recipe.kernel);
    EXPECT_FALSE(recipe.initrd);
    EXPECT_FALSE(recipe.cmdline);
    EXPECT_EQ(canonicalHeader(recipe)["kernel"], "inherit");
    recipe = parse("name: x\nversion: '1'\nbase: {image: {path: ../out/debian}}\n");
    EXPECT_EQ(std::get<ImageBase>(recipe.base).path,
              (fs::path(dir_).parent_path() / "out/debian").string());
    EXPECT_CONTAINS(error("name: x\nversion: '1'\nbase: {image: {path: a, digest: sha256:12}}\n"),
                    "sha256:<64");
}

TEST_F(RecipeTest, KernelInitrdAndDefaults) {
    auto recipe = parse(
        "name: minimal\n"
        "version: 1.10\n"
        "base: {packages: {names: [busybox-static]}}\n"
        "kernel:\n  package: linux-image-amd64\n"
        "initrd:\n  generate: true\n  modules: [virtio_blk, ext4]\n"
        "cmdline: console=ttyS0 quiet\n"
        "defaults: {cpus: 2, memory: 1G}\n"
        "disk: {size: 2G}\n"
        "allow: {devices: true}\n");
    EXPECT_EQ(recipe.version, "1.10");  // verbatim, not the float 1.1
    EXPECT_EQ(recipe.kernel->kind, KernelSource::Kind::kPackage);
    EXPECT_EQ(recipe.kernel->value, "linux-image-amd64");
    EXPECT_EQ(recipe.initrd->kind, InitrdSource::Kind::kGenerate);
    EXPECT_EQ(recipe.initrd->modules, (std::vector<std::string>{"virtio_blk", "ext4"}));
    EXPECT_EQ(*recipe.cmdline, "console=ttyS0 quiet");
    EXPECT_EQ(recipe.cpus, 2u);
    EXPECT_EQ(recipe.memory, 1ull << 30);
    EXPECT_EQ(*recipe.diskSize, 2ull << 30);
    EXPECT_TRUE(recipe.allowDevices);

    recipe = parse(withBase("base: {mmdebstrap: {suite: bookworm}}\n"));
    EXPECT_EQ(recipe.kernel->kind, KernelSource::Kind::kTree);
    EXPECT_EQ(recipe.initrd->kind, InitrdSource::Kind::kNone);
    EXPECT_EQ(*recipe.cmdline, "console=ttyS0");
    EXPECT_EQ(recipe.cpus, 1u);
    EXPECT_EQ(recipe.memory, 512ull << 20);
    EXPECT_FALSE(recipe.diskSize);
    EXPECT_FALSE(recipe.allowDevices);
    EXPECT_TRUE(recipe.operations.empty());

    recipe = parse(
        "name: x\nversion: '1'\nbase: {mmdebstrap: {suite: bookworm}}\n"
        "kernel: {tree: /boot/vmlinuz-*}\ninitrd: {tree: boot/initrd.img-*}\ndisk: {size: auto}\n");
    EXPECT_EQ(recipe.kernel->value, "boot/vmlinuz-*");
    EXPECT_EQ(recipe.initrd->kind, InitrdSource::Kind::kTree);
    EXPECT_FALSE(recipe.diskSize);
    recipe = parse(
        "name: x\nversion: '1'\nbase: {mmdebstrap: {suite: bookworm}}\n"
        "kernel: {path: kernels/vmlinuz}\ninitrd: {generate: true}\n");
    EXPECT_EQ(recipe.kernel->kind, KernelSource::Kind::kPath);
    EXPECT_EQ(recipe.kernel->value, "kernels/vmlinuz");
    EXPECT_EQ(recipe.initrd->modules,
              (std::vector<std::string>{"virtio_mmio", "virtio_blk", "ext4"}));
    EXPECT_CONTAINS(error("name: x\nversion: '1'\nbase: {mmdebstrap: {suite: bookworm}}\n"
                          "kernel: {tree: boot/*/vmlinuz}\n"),
                    "only the last component");
    EXPECT_CONTAINS(error("name: x\nversion: '1'\nbase: {mmdebstrap: {suite: bookworm}}\n"
                          "kernel: {tree: boot/vmlinuz}\ninitrd: {generate: false}\n"),
                    "leave out the 'initrd' key");
}

TEST_F(RecipeTest, UnknownKeySaysWhereAndWhatWasMeant) {
    std::string message = error(withBase("base: {mmdebstrap: {suite: bookworm}}\nverison: 2\n"));
    EXPECT_CONTAINS(message, "recipe.yaml:5:1:");
    EXPECT_CONTAINS(message, "unknown key 'verison'");
    EXPECT_CONTAINS(message, "did you mean 'version'?");

    message = error(withOps("  - file:\n      path: /etc/motd\n      contnet: hi\n"));
    EXPECT_CONTAINS(message, "recipe.yaml:8:7: operations[0].file: unknown key 'contnet'");
    EXPECT_CONTAINS(message, "did you mean 'content'?");

    message = error(withOps("  - fiel: {path: /etc/motd, content: hi}\n"));
    EXPECT_CONTAINS(message, "recipe.yaml:6:5:");
    EXPECT_CONTAINS(message, "did you mean 'file'?");

    message = error(withOps("  - copy: {path: /a}\n"));
    EXPECT_CONTAINS(message, "recipe.yaml:6:5: operations[0]: unknown operation 'copy'");
    EXPECT_CONTAINS(message, "the operations are: file, remove, mkdir");
    // The common slip: the operation's fields beside its kind instead of under it.
    EXPECT_CONTAINS(error(withOps("  - file:\n    path: /etc/x\n")),
                    "recipe.yaml:7:11: operations[0].path: 'path' belongs under 'file:'");
    EXPECT_CONTAINS(error(withOps("  - path: /etc/x\n")), "an operation starts with its kind");

    // Nothing close: the valid keys are listed instead.
    message = error(withBase("base: {mmdebstrap: {suite: bookworm}}\nzzzzzzzz: 1\n"));
    EXPECT_CONTAINS(message, "expected one of: schema, name, version");
}

TEST_F(RecipeTest, WrongTypesNameTheExpectedType) {
    auto base = std::string("base: {mmdebstrap: {suite: bookworm}}\n");
    EXPECT_CONTAINS(
        error(withBase(base + "defaults: {cpus: two}\n")),
        "recipe.yaml:5:18: defaults.cpus: expected an integer from 1 to 256, found 'two'");
    EXPECT_CONTAINS(error(withBase(base + "allow: {devices: yes}\n")),
                    "expected a boolean (true or false), found 'yes'");
    EXPECT_CONTAINS(error(withBase(base + "allow: {devices: 'true'}\n")), "expected a boolean");
    EXPECT_CONTAINS(error(withBase(base + "cmdline: [a, b]\n")), "expected a string, found a list");
    EXPECT_CONTAINS(error(withBase("base: [tarball]\n")), "base: expected a mapping, found a list");
    EXPECT_CONTAINS(error(withBase(base + "operations: {file: {}}\n")), "expected a list");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, content: x, mode: rwx}\n")),
                    "expected an octal mode");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, content: x, owner: 0}\n")),
                    "expected an owner as UID:GID");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, content: {x: 1}}\n")),
                    "expected a string, found a mapping");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, content: x}\n    remove: {path: /b}\n")),
                    "a mapping with one key");
    EXPECT_CONTAINS(error("- just\n- a list\n"),
                    "recipe.yaml:1:1: expected a mapping, found a list");
    EXPECT_CONTAINS(error("schema: 2\n"), "schema: expected an integer from 1 to 1");
}

TEST_F(RecipeTest, MissingRequiredFields) {
    EXPECT_CONTAINS(error("version: '1'\nbase: {mmdebstrap: {suite: bookworm}}\n"),
                    "recipe.yaml:1:1: missing required key 'name'");
    EXPECT_CONTAINS(error("name: x\nversion: '1'\nbase: {mmdebstrap: {suite: bookworm}}\n"),
                    "missing required key 'kernel'");
    EXPECT_CONTAINS(error(withBase("base: {}\n")),
                    "expected exactly one of: tarball, packages, mmdebstrap, image");
    EXPECT_CONTAINS(error(withBase("base: {tarball: {path: a.tar, url: 'https://x/a', sha256: " +
                                   kSha + "}}\n")),
                    "'path' and 'url' exclude each other");
    EXPECT_CONTAINS(error(withBase("base: {tarball: {path: a.tar}}\n")),
                    "missing required key 'sha256'");
    EXPECT_CONTAINS(error(withBase("base: {tarball: {path: a.tar, sha256: ABC}}\n")),
                    "64 lower-case hexadecimal digits");
    EXPECT_CONTAINS(error(withOps("  - file: {content: x}\n")), "missing required key 'path'");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a}\n")), "exactly one of: content, source");
    EXPECT_CONTAINS(error(withOps("  - symlink: {path: /a}\n")), "missing required key 'target'");
    EXPECT_CONTAINS(error(""), "the recipe is empty");
    EXPECT_CONTAINS(error("name: x\n---\nname: y\n"),
                    "recipe.yaml:2:1: a recipe is one YAML document");
}

TEST_F(RecipeTest, DuplicateKeysAreRefused) {
    std::string message = error(withBase("base: {mmdebstrap: {suite: bookworm}}\nname: again\n"));
    EXPECT_CONTAINS(message,
                    "recipe.yaml:5:1: duplicate key 'name' (first given at recipe.yaml:1:7)");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, content: x, path: /b}\n")),
                    "duplicate key 'path'");
}

TEST_F(RecipeTest, AnchorsAliasesAndMergeKeys) {
    auto recipe = parse(
        withOps("  - file: &motd {path: /etc/motd, content: &text \"hello\\n\", mode: '0600'}\n"
                "  - file:\n"
                "      <<: *motd\n"
                "      path: /etc/issue\n"
                "  - append: {path: /etc/issue, line: *text}\n"));
    ASSERT_EQ(recipe.operations.size(), 3u);
    auto first = recipe.operations[0]->canonical();
    auto second = recipe.operations[1]->canonical();
    EXPECT_EQ(second["path"], "etc/issue");
    EXPECT_EQ(second["mode"], "0600");
    EXPECT_EQ(first["sha256"], second["sha256"]);
    EXPECT_EQ(recipe.operations[2]->canonical()["line"], "hello");
    EXPECT_CONTAINS(error(withOps("  - file: *nowhere\n")), "not valid YAML");
}

TEST_F(RecipeTest, BadSizes) {
    auto base = std::string("base: {mmdebstrap: {suite: bookworm}}\n");
    EXPECT_CONTAINS(error(withBase(base + "defaults: {memory: 12Q}\n")),
                    "recipe.yaml:5:20: defaults.memory: invalid size '12Q'");
    EXPECT_CONTAINS(error(withBase(base + "defaults: {memory: 99999999999999999999T}\n")),
                    "too large");
    EXPECT_CONTAINS(error(withBase(base + "defaults: {memory: 1M}\n")), "from 16M to 1T");
    EXPECT_CONTAINS(error(withBase(base + "defaults: {memory: 1000000000}\n")),
                    "whole number of MiB");
    EXPECT_CONTAINS(error(withBase(base + "disk: {size: -1G}\n")), "invalid size");
    EXPECT_CONTAINS(error(withBase(base + "disk: {size: 0}\n")), "from 8M to 16T");
    EXPECT_EQ(*parse(withBase(base + "disk: {size: 1536MiB}\n")).diskSize, 1536ull << 20);
}

TEST_F(RecipeTest, NamesAndVersions) {
    auto recipe = [](std::string name, std::string version) {
        return "name: " + name + "\nversion: " + version +
               "\nbase: {mmdebstrap: {suite: bookworm}}\nkernel: {tree: boot/vmlinuz}\n";
    };
    EXPECT_EQ(parse(recipe("gold/debian-12", "12.5-1")).name, "gold/debian-12");
    EXPECT_CONTAINS(error(recipe("Debian", "1")), "is no image name");
    EXPECT_CONTAINS(error(recipe("a//b", "1")), "is no image name");
    EXPECT_CONTAINS(error(recipe("a", "'-1'")), "is no version");
    EXPECT_CONTAINS(error(recipe("a", "'1 2'")), "is no version");
}

TEST_F(RecipeTest, EveryOperationParsesToItsCanonicalForm) {
    write("files/motd", "welcome\n");
    write("files/fix.diff", "--- a\n+++ b\n@@ -1 +1 @@\n-a\n+b\n");
    write("files/app.tar", std::string(1024, '\0'));
    auto recipe =
        parse(withOps(R"(  - file: {path: /etc/motd, source: files/motd, owner: "root:root"}
  - remove: {path: /usr/share/doc, recursive: true}
  - mkdir: {path: /srv/app, parents: true, mode: 0750}
  - symlink: {path: /sbin/init, target: /bin/busybox}
  - chmod: {path: /etc/shadow, mode: 0640}
  - chown: {path: /srv/app, owner: "1000:1000", recursive: true}
  - patch: {path: /etc/a, source: files/fix.diff}
  - append: {path: /etc/modules, line: virtio_blk, unless-present: true}
  - unpack: {source: files/app.tar, path: /opt/app}
)"));
    ASSERT_EQ(recipe.operations.size(), 9u);
    std::vector<std::string> names;
    for (const auto& op : recipe.operations) names.emplace_back(op->name());
    EXPECT_EQ(names, (std::vector<std::string>{"file", "remove", "mkdir", "symlink", "chmod",
                                               "chown", "patch", "append", "unpack"}));
    auto canonical = canonicalRecipe(recipe);
    const auto& ops = canonical["operations"];
    EXPECT_EQ(ops[0]["op"], "file");
    EXPECT_EQ(ops[0]["path"], "etc/motd");
    EXPECT_EQ(ops[0]["size"], 8);
    EXPECT_EQ(ops[0]["mode"], "0644");
    EXPECT_EQ(ops[0]["owner"], "root:root");
    EXPECT_EQ(ops[0]["sha256"].get<std::string>().size(), 64u);
    EXPECT_EQ(ops[1],
              nlohmann::json::parse(
                  R"({"op":"remove","path":"usr/share/doc","recursive":true,"missing-ok":false})"));
    EXPECT_EQ(ops[2],
              nlohmann::json::parse(
                  R"({"op":"mkdir","path":"srv/app","parents":true,"mode":"0750","owner":"0:0"})"));
    EXPECT_EQ(ops[3],
              nlohmann::json::parse(
                  R"({"op":"symlink","path":"sbin/init","target":"/bin/busybox","owner":"0:0"})"));
    EXPECT_EQ(ops[4], nlohmann::json::parse(R"({"op":"chmod","path":"etc/shadow","mode":"0640"})"));
    EXPECT_EQ(ops[5],
              nlohmann::json::parse(
                  R"({"op":"chown","path":"srv/app","owner":"1000:1000","recursive":true})"));
    EXPECT_EQ(ops[6]["diff-sha256"].get<std::string>().size(), 64u);
    EXPECT_EQ(
        ops[7],
        nlohmann::json::parse(
            R"({"op":"append","path":"etc/modules","line":"virtio_blk","create":false,"unless-present":true})"));
    EXPECT_EQ(ops[8]["path"], "opt/app");
    EXPECT_EQ(ops[8]["size"], 1024);
    // The header is part of it, and the whole is stable from one parse to the next.
    EXPECT_EQ(canonical["name"], "test");
    EXPECT_EQ(
        canonicalRecipe(
            parse(withOps(R"(  - file: {path: /etc/motd, source: files/motd, owner: "root:root"}
  - remove: {path: usr/share//doc/, recursive: true}
  - mkdir: {path: /srv/app, parents: true, mode: "750"}
  - symlink: {path: /sbin/init, target: /bin/busybox}
  - chmod: {path: /etc/shadow, mode: 0o640}
  - chown: {path: /srv/app, owner: "1000:1000", recursive: true}
  - patch: {path: /etc/a, source: files/fix.diff}
  - append: {path: /etc/modules, line: "virtio_blk\n", unless-present: true}
  - unpack: {source: ./files/app.tar, path: /opt/app/}
)")))
            .dump(),
        canonical.dump());
}

TEST_F(RecipeTest, SourcesStayInsideTheRecipeDirectory) {
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, source: ../outside}\n")),
                    "leaves the recipe's directory");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, source: /etc/passwd}\n")), "is absolute");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, source: missing.txt}\n")),
                    "recipe.yaml:6:30: operations[0].file.source:");
    fs::create_symlink("/etc", fs::path(dir_) / "escape");
    EXPECT_CONTAINS(error(withOps("  - file: {path: /a, source: escape/hostname}\n")),
                    "leads out of the recipe's directory");
    EXPECT_CONTAINS(error(withOps("  - file: {path: ../a, content: x}\n")), "climbs with '..'");
    EXPECT_CONTAINS(error(withOps("  - remove: {path: /}\n")), "not the root itself");
}

TEST_F(RecipeTest, PatchDiffIsCheckedWhenTheRecipeIsRead) {
    EXPECT_CONTAINS(error(withOps("  - patch:\n      path: /etc/a\n      diff: |\n        @@ -1,2 "
                                  "+1,2 @@\n        -a\n")),
                    "recipe.yaml:8:13: operations[0].patch.diff: diff line 1: hunk 1");
    EXPECT_CONTAINS(error(withOps("  - patch: {path: /etc/a, diff: ''}\n")), "no hunks");
}

TEST_F(RecipeTest, HostileInput) {
    // Deep nesting: yaml-cpp's depth guard, reported as a YAML error.
    std::string deep = "name: " + std::string(100000, '[') + "\n";
    EXPECT_CONTAINS(error(deep), "recipe.yaml:");
    std::string deepMaps;
    for (int i = 0; i < 5000; ++i) deepMaps += "{a: ";
    EXPECT_CONTAINS(error(deepMaps), "recipe.yaml:");
    // A huge scalar: refused by size before YAML sees it.
    std::string huge = "name: " + std::string(kMaxRecipeBytes, 'x') + "\n";
    EXPECT_CONTAINS(error(huge), "more than the 16 MiB a recipe may be");
    // Binary junk.
    std::string junk;
    for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919) & 0xff);
    EXPECT_CONTAINS(error(junk), "recipe.yaml:");
    EXPECT_CONTAINS(error(std::string("name: a\0b\n", 10)),
                    "recipe.yaml:1:8: the recipe contains a NUL byte");
    EXPECT_CONTAINS(error("name: \xff\xfe\n"), "recipe.yaml:1:7: the recipe is not UTF-8");
    // Strict UTF-8, as the canonical JSON writer demands (fuzz_recipe found an overlong '<' in a
    // path): overlong forms, UTF-16 surrogates and code points past U+10FFFF are refused.
    for (const char* bad : {"name: a\xc1\xbc\n", "name: a\xe0\x80\xaf\n", "name: a\xed\xa0\x80\n",
                            "name: a\xf4\x90\x80\x80\n"})
        EXPECT_CONTAINS(error(bad), "recipe.yaml:1:8: the recipe is not UTF-8");
    EXPECT_CONTAINS(error("name: [unclosed\n"), "not valid YAML");
    EXPECT_CONTAINS(error("\t- tab\n"), "recipe.yaml:");
    // yaml-cpp 0.7's LoadAll finds documents here forever; found by fuzz_recipe.
    EXPECT_CONTAINS(error(",!"), "recipe.yaml:");
    // A billion laughs: aliases that multiply a string beyond any real recipe.
    std::string laughs = "x0: &a0 \"" + std::string(1000, 'l') + "\"\n";
    for (int i = 1; i < 10; ++i) {
        laughs += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) laughs += (k ? ", *a" : "*a") + std::to_string(i - 1);
        laughs += "]\n";
    }
    EXPECT_CONTAINS(error(laughs), "unknown key 'x0'");  // refused before any expansion
    std::string ops =
        withOps("  - file: {path: /a, content: &big \"" + std::string(1 << 20, 'x') + "\"}\n");
    for (int i = 0; i < 100; ++i) ops += "  - file: {path: /a, content: *big}\n";
    EXPECT_CONTAINS(error(ops), "through aliases");
}

TEST_F(RecipeTest, ParseRecipeReadsAFile) {
    write("debian.yaml", withBase("base: {packages: {names: [bash]}}\n"));
    auto recipe = ingot::patcher::loadRecipe((fs::path(dir_) / "debian.yaml").string());
    EXPECT_EQ(recipe.directory, fs::path(dir_).string());
    EXPECT_EQ(std::get<PackagesBase>(recipe.base).lock, "debian.lock");
    try {
        ingot::patcher::loadRecipe((fs::path(dir_) / "none.yaml").string());
        FAIL();
    } catch (const ingot::Error& e) {
        EXPECT_CONTAINS(e.what(), "none.yaml");
        EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
    }
}

TEST(ClosestMatch, SuggestsOnlyNearWords) {
    std::vector<std::string_view> keys = {"name", "version", "base", "kernel", "operations"};
    EXPECT_EQ(closestMatch("nmae", keys), "name");
    EXPECT_EQ(closestMatch("Version", keys), "version");
    EXPECT_EQ(closestMatch("opertions", keys), "operations");
    EXPECT_EQ(closestMatch("kernal", keys), "kernel");
    EXPECT_EQ(closestMatch("disk", keys), "");
    EXPECT_EQ(closestMatch("x", keys), "");
}

TEST_F(RecipeTest, SecuritySection) {
    const std::string base = withBase("base: {mmdebstrap: {suite: bookworm}}\n");
    EXPECT_FALSE(parse(base).security.has_value());
    auto recipe = parse(base + "security:\n");
    ASSERT_TRUE(recipe.security.has_value());
    EXPECT_EQ(recipe.security->sources, "/etc/apt");
    EXPECT_TRUE(recipe.security->suites.empty());
    EXPECT_EQ(recipe.security->keyring, "");
    recipe = parse(base +
                   "security: {sources: apt, suites: [bookworm-security], keyring: k.gpg}\n");
    EXPECT_EQ(recipe.security->sources, "apt");
    EXPECT_EQ(recipe.security->suites, std::vector<std::string>{"bookworm-security"});
    EXPECT_EQ(recipe.security->keyring, "k.gpg");
    // The section joins the canonical header, so a change to it changes the build's key.
    EXPECT_NE(canonicalHeader(parse(base)).dump(), canonicalHeader(recipe).dump());
    EXPECT_EQ(canonicalHeader(recipe)["security"]["suites"][0], "bookworm-security");

    EXPECT_CONTAINS(error(base + "security: {suites: [bookworm]}\n"), "ending in -security");
    EXPECT_CONTAINS(error(base + "security: {suites: [\"../x-security\"]}\n"), "ending in -security");
    EXPECT_CONTAINS(error(base + "security: {sources: \"\"}\n"), "security.sources");
    EXPECT_CONTAINS(error(base + "security: {suits: [bookworm-security]}\n"),
                    "did you mean 'suites'?");
}
