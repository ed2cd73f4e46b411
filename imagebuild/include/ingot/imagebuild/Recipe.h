// Recipe schema v1: the YAML file `ingot build` reads, parsed into a model (docs/recipes.md).
//
// Every error names the recipe file, line and column, and the field it concerns:
//   recipes/debian-12.yaml:14:7: operations[2].file: unknown key 'contnet'; did you mean 'content'?
// and is an ingot::Error with ExitStatus::kUsage. Unknown keys, duplicate keys and values of the
// wrong type are all refused; anchors, aliases and "<<" merge keys work as YAML says.
//
// The operations themselves live in patcher/ (one file each), which links this library; the
// recipe parser hands each item of `operations:` to an OperationParser that patcher supplies
// (patcher::loadRecipe wires the two together), so this library never depends on patcher.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::patcher {
class Operation;
}

namespace ingot::imagebuild {

// A place in a recipe; line and column count from 1 (0 when unknown).
struct SourceLocation {
    std::string file;
    int line = 0;
    int column = 0;
    std::string str() const;  // "recipe.yaml:12:5", or just the file name
};

// ---- the model -------------------------------------------------------------------------------

// A root file system archive (tar, tar.gz, tar.xz, tar.zst), from a file or a URL.
struct TarballBase {
    std::string path;    // host path, relative to the recipe's directory unless absolute
    std::string url;     // http:// or https://; exactly one of path and url is set
    std::string sha256;  // 64 lower-case hex digits
};

// A set of Debian packages resolved through the host's apt configuration, pinned in a lock file.
struct PackagesBase {
    std::vector<std::string> names;  // "busybox-static", "libc6:amd64"
    std::string lock;                // host path of the lock file (default: RECIPE-STEM.lock)
};

// A root file system made by mmdebstrap.
struct MmdebstrapBase {
    std::string suite;                    // "bookworm"
    std::string variant = "minbase";      // one of mmdebstrap's variants
    std::vector<std::string> packages;    // extra packages (--include)
    std::vector<std::string> components;  // default {"main"}
    // An apt directory whose sources.list(.d) mmdebstrap uses instead of the host's /etc/apt
    // (relative to the recipe's directory unless absolute); "" = /etc/apt.
    std::string sources;
};

// Another ingot image (layered gold images).
struct ImageBase {
    std::string path;       // a local image, relative to the recipe's directory unless absolute
    std::string reference;  // "registry.example/gold/debian:12"; exactly one of path, reference
    std::string digest;     // "sha256:<hex>" pin, optional
};

using RecipeBase = std::variant<TarballBase, PackagesBase, MmdebstrapBase, ImageBase>;

std::string_view baseKindName(const RecipeBase& base);  // "tarball", "packages", …

// Where the kernel comes from.
struct KernelSource {
    enum class Kind { kPackage, kPath, kTree };
    Kind kind = Kind::kTree;
    // kPackage: a Debian package name; kPath: a host path relative to the recipe's directory;
    // kTree: a canonical tree path, looked up after the operations ran, whose last component
    // may hold the wildcards * and ? ("boot/vmlinuz-*"), which must then match exactly one entry.
    std::string value;
};

// Where the initrd comes from; kNone boots without one.
struct InitrdSource {
    enum class Kind { kNone, kGenerate, kPath, kTree };
    Kind kind = Kind::kNone;
    std::string value;                 // kPath and kTree, as in KernelSource
    std::vector<std::string> modules;  // kGenerate: kernel modules to load (with dependencies)
};

// `security:`: apply the pending Debian security updates as the build's last step (issue 8;
// patcher/apply). The archives come from an apt configuration, the host's by default.
struct SecuritySection {
    std::string sources = "/etc/apt";  // apt directory whose sources.list(.d) name the suites
    std::vector<std::string> suites;   // only these "-security" suites; empty: all it names
    std::string keyring;               // instead of each source's Signed-By; "" keeps those
};

inline constexpr uint32_t kDefaultCpus = 1;
inline constexpr uint64_t kDefaultMemory = 512ull << 20;
inline constexpr std::string_view kDefaultCmdline = "console=ttyS0";

struct Recipe {
    std::string file;       // the recipe's path as given
    std::string directory;  // its directory, absolute; `source:` paths are relative to it

    uint32_t schema = 1;
    std::string name;
    std::string version;
    RecipeBase base;
    // Absent only with an image base, which then provides them.
    std::optional<KernelSource> kernel;
    std::optional<InitrdSource> initrd;
    std::optional<std::string> cmdline;
    uint32_t cpus = kDefaultCpus;
    uint64_t memory = kDefaultMemory;  // bytes
    std::optional<uint64_t> diskSize;  // bytes; absent = as small as the content allows
    bool allowDevices = false;         // device nodes in bases and unpacked archives
    std::vector<std::shared_ptr<const patcher::Operation>> operations;
    std::optional<SecuritySection> security;
};

// The recipe without its operations, defaults filled in, in a stable form: what a build's step
// cache and provenance hash. patcher::canonicalRecipe adds the operations.
nlohmann::json canonicalHeader(const Recipe& recipe);

// ---- the YAML view shared with patcher/ ------------------------------------------------------

class RecipeNode;
class RecipeMap;

// What every node of one recipe shares: its file and directory, and the budgets that keep a
// small recipe from expanding, through aliases, into more work than its size suggests.
struct RecipeParseState {
    std::string file;
    std::string directory;
    uint64_t visits = 0;
    uint64_t scalarBytes = 0;

    static constexpr uint64_t kMaxVisits = 1'000'000;
    static constexpr uint64_t kMaxScalarBytes = 64ull << 20;
    void spendVisit(const RecipeNode& node);
    void spendBytes(const RecipeNode& node, uint64_t bytes);
};

// One YAML node of a recipe, with the path of fields that leads to it ("operations[2].file")
// so that every error can say where it is. Reading a value of the wrong type throws.
class RecipeNode {
public:
    RecipeNode(YAML::Node node, std::string context, std::shared_ptr<RecipeParseState> state,
               SourceLocation fallback);

    const std::string& context() const { return context_; }
    SourceLocation location() const;
    const std::string& recipeDirectory() const;
    const std::string& recipeFile() const;
    // "a mapping", "a string", "null", …
    std::string_view typeName() const;
    bool isNull() const { return node_.IsNull(); }

    // "FILE:LINE:COL: CONTEXT: message", as an ingot::Error with ExitStatus::kUsage.
    [[noreturn]] void fail(std::string_view message) const;
    Error error(std::string_view message) const;

    // Any scalar, verbatim (so `version: 1.10` stays "1.10").
    std::string asString() const;
    // A string that must not be empty.
    std::string asNonEmptyString() const;
    // true or false (not yes/no/on/off: YAML 1.2 drops those, and "no" is Norway's country code).
    bool asBool() const;
    // A decimal integer in [min, max].
    uint64_t asUnsigned(uint64_t min, uint64_t max) const;
    // A size as ingot::parseSize reads it: "512M", "2G", "4096".
    uint64_t asSize() const;
    // A host path that stays inside the recipe's directory: relative, and not climbing out
    // with "..". Returned lexically normalised and still relative ("files/motd").
    std::string asRecipePath() const;
    // A host path anywhere: absolute, or relative to the recipe's directory. Returned absolute.
    std::string asHostPath() const;
    std::vector<RecipeNode> asList() const;
    std::vector<std::string> asStringList() const;
    // A mapping whose keys are all in `allowed`: an unknown key is an error with a
    // "did you mean" suggestion, a repeated key is an error, and "<<" merge keys are expanded.
    RecipeMap asMap(std::span<const std::string_view> allowed) const;
    RecipeMap asMap(std::initializer_list<std::string_view> allowed) const;
    // A mapping whose keys the caller checks itself (repeated keys are still refused).
    RecipeMap asAnyMap() const;

private:
    friend class RecipeMap;
    RecipeMap mapping(std::span<const std::string_view> allowed, bool checkKeys) const;
    YAML::Node node_;
    std::string context_;
    std::shared_ptr<RecipeParseState> state_;
    SourceLocation fallback_;  // for nodes yaml-cpp gives no mark
};

class RecipeMap {
public:
    const RecipeNode& node() const { return node_; }
    bool has(std::string_view key) const;
    // A missing required key is an error at the mapping's own location.
    RecipeNode required(std::string_view key) const;
    std::optional<RecipeNode> optional(std::string_view key) const;
    // Exactly one of `keys` is present; returns it.
    std::string_view exactlyOne(std::initializer_list<std::string_view> keys) const;
    // Keys in the order they appear.
    std::vector<std::string> keys() const;

private:
    friend class RecipeNode;
    explicit RecipeMap(RecipeNode node) : node_(std::move(node)) {}
    RecipeNode node_;
    std::vector<std::pair<std::string, RecipeNode>> fields_;
};

// Parses one item of `operations:`; patcher::parseOperation is the one ingot uses.
using OperationParser =
    std::function<std::shared_ptr<const patcher::Operation>(const RecipeNode& item)>;

// Reads and parses a recipe file (at most kMaxRecipeBytes).
Recipe parseRecipe(const std::string& path, const OperationParser& parseOperation);
// Parses recipe text; `file` names it in errors and `directory` is where `source:` paths start.
Recipe parseRecipeText(std::string_view text, const std::string& file, const std::string& directory,
                       const OperationParser& parseOperation);

// The host path of a file named by RecipeNode::asRecipePath, checked again on the real file
// system: a symlink inside the recipe's directory that leads out of it is refused, so a recipe
// directory stays self-contained (copied elsewhere, it builds the same image).
std::string recipeSourcePath(const std::string& directory, const std::string& relative,
                             std::string_view where);

inline constexpr uint64_t kMaxRecipeBytes = 16ull << 20;

// The closest of `candidates` to `word` by edit distance, or "" when none is close enough to be
// what the user meant.
std::string closestMatch(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace ingot::imagebuild
