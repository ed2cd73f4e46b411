// Recipe schema v1: from YAML text to the Recipe model. docs/recipes.md is the reference; keep
// the two in step.
#include "ingot/imagebuild/Recipe.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include "ingot/core/Size.h"
#include "ingot/imagebuild/Tree.h"

namespace ingot::imagebuild {

namespace fs = std::filesystem;

std::string_view baseKindName(const RecipeBase& base) {
    switch (base.index()) {
        case 0:
            return "tarball";
        case 1:
            return "packages";
        case 2:
            return "mmdebstrap";
        default:
            return "image";
    }
}

namespace {

bool isLowerAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool isAlnum(char c) {
    return isLowerAlnum(c) || (c >= 'A' && c <= 'Z');
}
bool isHex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
bool hasControl(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        unsigned char u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

// A host path in the recipe (relative to its directory unless absolute; the builder resolves it).
std::string nonEmptyPath(const RecipeNode& node) {
    std::string path = node.asString();
    if (path.empty() || hasControl(path)) node.fail("expected a file or directory path");
    return path;
}

// Image names become OCI repository names, so they follow that grammar's lower-case form.
std::string imageName(const RecipeNode& node) {
    std::string name = node.asNonEmptyString();
    bool ok = name.size() <= 128 && isLowerAlnum(name.front()) && isLowerAlnum(name.back());
    for (size_t i = 0; ok && i < name.size(); ++i) {
        char c = name[i];
        bool separator = c == '.' || c == '_' || c == '-' || c == '/';
        if (!isLowerAlnum(c) && !separator) ok = false;
        if (c == '/' && i + 1 < name.size() && !isLowerAlnum(name[i + 1])) ok = false;
    }
    if (!ok)
        node.fail("'" + name +
                  "' is no image name: use lower-case letters, digits and . _ - / (as an OCI "
                  "repository name), starting and ending with a letter or digit, at most 128");
    return name;
}

// Versions become OCI tags.
std::string imageVersion(const RecipeNode& node) {
    std::string version = node.asNonEmptyString();
    bool ok = version.size() <= 128 && (isAlnum(version[0]) || version[0] == '_');
    for (char c : version)
        if (!isAlnum(c) && c != '.' && c != '_' && c != '-') ok = false;
    if (!ok)
        node.fail("'" + version +
                  "' is no version: use letters, digits and . _ - (as an OCI tag), at most 128, "
                  "not starting with . or -");
    return version;
}

// Debian policy 5.6.1, with an optional architecture qualifier.
std::string packageName(const RecipeNode& node) {
    std::string name = node.asNonEmptyString();
    std::string_view base = name;
    auto colon = name.find(':');
    bool ok = true;
    if (colon != std::string::npos) {
        base = std::string_view(name).substr(0, colon);
        std::string_view arch = std::string_view(name).substr(colon + 1);
        ok = !arch.empty() && std::all_of(arch.begin(), arch.end(),
                                          [](char c) { return isLowerAlnum(c) || c == '-'; });
    }
    ok = ok && base.size() >= 2 && isLowerAlnum(base[0]) &&
         std::all_of(base.begin(), base.end(),
                     [](char c) { return isLowerAlnum(c) || c == '+' || c == '-' || c == '.'; });
    if (!ok)
        node.fail("'" + name +
                  "' is no Debian package name (lower-case letters, digits, + - ., at least two "
                  "characters, optionally :ARCH)");
    return name;
}

std::vector<std::string> packageNames(const RecipeNode& node, bool allowEmpty) {
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto& item : node.asList()) {
        std::string name = packageName(item);
        if (!seen.insert(name).second) item.fail("package '" + name + "' is listed twice");
        names.push_back(std::move(name));
    }
    if (names.empty() && !allowEmpty) node.fail("expected at least one package");
    return names;
}

std::string sha256Hex(const RecipeNode& node) {
    std::string text = node.asString();
    if (text.size() != 64 || !isHex(text))
        node.fail(
            "expected a sha256 digest: 64 lower-case hexadecimal digits (as sha256sum "
            "prints it)");
    return text;
}

// A tree path; `wildcards` lets the last component hold * and ?.
std::string treePath(const RecipeNode& node, bool wildcards) {
    std::string text = node.asNonEmptyString();
    std::string path;
    try {
        path = normalizePath(text, node.location().str() + ": " + node.context());
    } catch (const Error& e) {
        throw Error(e.what(), ExitStatus::kUsage);
    }
    if (path.empty()) node.fail("expected a path below the tree's root, not the root itself");
    std::string_view directory = std::string_view(path).substr(0, parentPath(path).size());
    if (directory.find_first_of("*?[") != std::string_view::npos ||
        (!wildcards && path.find_first_of("*?[") != std::string::npos) ||
        path.find('[') != std::string::npos)
        node.fail(wildcards ? "only the last component of the path may hold wildcards (* and ?)"
                            : "this path takes no wildcards");
    return path;
}

RecipeBase parseBase(const RecipeNode& node, const std::string& recipeFile) {
    auto map = node.asMap({"tarball", "packages", "mmdebstrap", "image"});
    std::string_view kind = map.exactlyOne({"tarball", "packages", "mmdebstrap", "image"});
    RecipeNode body = map.required(kind);
    if (kind == "tarball") {
        auto fields = body.asMap({"path", "url", "sha256"});
        TarballBase base;
        std::string_view source = fields.exactlyOne({"path", "url"});
        if (source == "path") {
            base.path = fields.required("path").asHostPath();
        } else {
            RecipeNode url = fields.required("url");
            base.url = url.asNonEmptyString();
            if ((base.url.rfind("https://", 0) != 0 && base.url.rfind("http://", 0) != 0) ||
                hasControl(base.url) || base.url.find(' ') != std::string::npos)
                url.fail("expected an http:// or https:// URL");
        }
        base.sha256 = sha256Hex(fields.required("sha256"));
        return base;
    }
    if (kind == "packages") {
        auto fields = body.asMap({"names", "lock"});
        PackagesBase base;
        base.names = packageNames(fields.required("names"), false);
        if (auto lock = fields.optional("lock")) {
            base.lock = lock->asRecipePath();
        } else {
            base.lock = fs::path(recipeFile).stem().string() + ".lock";
        }
        return base;
    }
    if (kind == "mmdebstrap") {
        auto fields = body.asMap({"suite", "variant", "packages", "components", "sources"});
        MmdebstrapBase base;
        RecipeNode suite = fields.required("suite");
        base.suite = suite.asNonEmptyString();
        if (!std::all_of(base.suite.begin(), base.suite.end(),
                         [](char c) { return isAlnum(c) || c == '-' || c == '.' || c == '_'; }))
            suite.fail("'" + base.suite + "' is no suite name (bookworm, stable, …)");
        if (auto variant = fields.optional("variant")) {
            static constexpr std::string_view kVariants[] = {
                "extract", "custom", "essential", "apt",         "required",
                "minbase", "buildd", "important", "debootstrap", "standard"};
            base.variant = variant->asNonEmptyString();
            if (std::find(std::begin(kVariants), std::end(kVariants), base.variant) ==
                std::end(kVariants)) {
                std::string message = "'" + base.variant + "' is no mmdebstrap variant";
                std::string suggestion = closestMatch(base.variant, kVariants);
                if (!suggestion.empty())
                    message += "; did you mean '" + suggestion + "'?";
                else
                    message += " (minbase, essential, apt, required, important, standard, …)";
                variant->fail(message);
            }
        }
        if (auto packages = fields.optional("packages"))
            base.packages = packageNames(*packages, true);
        if (auto components = fields.optional("components")) {
            for (const auto& item : components->asList()) {
                std::string component = item.asNonEmptyString();
                if (!std::all_of(component.begin(), component.end(),
                                 [](char c) { return isLowerAlnum(c) || c == '-' || c == '/'; }))
                    item.fail("'" + component + "' is no archive component (main, contrib, …)");
                base.components.push_back(component);
            }
            if (base.components.empty()) components->fail("expected at least one component");
        } else {
            base.components = {"main"};
        }
        if (auto sources = fields.optional("sources")) base.sources = nonEmptyPath(*sources);
        return base;
    }
    auto fields = body.asMap({"path", "reference", "digest"});
    ImageBase base;
    if (fields.exactlyOne({"path", "reference"}) == "path") {
        base.path = fields.required("path").asHostPath();
    } else {
        RecipeNode reference = fields.required("reference");
        base.reference = reference.asNonEmptyString();
        if (hasControl(base.reference) || base.reference.find(' ') != std::string::npos)
            reference.fail("expected an image reference such as registry.example/gold/debian:12");
    }
    if (auto digest = fields.optional("digest")) {
        base.digest = digest->asString();
        if (base.digest.rfind("sha256:", 0) != 0 || base.digest.size() != 71 ||
            !isHex(std::string_view(base.digest).substr(7)))
            digest->fail("expected sha256:<64 lower-case hexadecimal digits>");
    }
    return base;
}

KernelSource parseKernel(const RecipeNode& node) {
    auto fields = node.asMap({"package", "path", "tree"});
    KernelSource kernel;
    std::string_view kind = fields.exactlyOne({"package", "path", "tree"});
    RecipeNode value = fields.required(kind);
    if (kind == "package") {
        kernel.kind = KernelSource::Kind::kPackage;
        kernel.value = packageName(value);
    } else if (kind == "path") {
        kernel.kind = KernelSource::Kind::kPath;
        kernel.value = value.asRecipePath();
    } else {
        kernel.kind = KernelSource::Kind::kTree;
        kernel.value = treePath(value, true);
    }
    return kernel;
}

InitrdSource parseInitrd(const RecipeNode& node) {
    auto fields = node.asMap({"generate", "modules", "path", "tree"});
    InitrdSource initrd;
    std::string_view kind = fields.exactlyOne({"generate", "path", "tree"});
    RecipeNode value = fields.required(kind);
    if (kind != "generate" && fields.has("modules"))
        fields.required("modules").fail("'modules' only goes with 'generate: true'");
    if (kind == "generate") {
        if (!value.asBool())
            value.fail("'generate: false' means no initrd: leave out the 'initrd' key instead");
        initrd.kind = InitrdSource::Kind::kGenerate;
        if (auto modules = fields.optional("modules")) {
            for (const auto& item : modules->asList()) {
                std::string module = item.asNonEmptyString();
                if (module.size() > 64 || !std::all_of(module.begin(), module.end(), [](char c) {
                        return isAlnum(c) || c == '_' || c == '-';
                    }))
                    item.fail("'" + module + "' is no kernel module name (virtio_blk, ext4, …)");
                initrd.modules.push_back(module);
            }
        } else {
            initrd.modules = {"virtio_mmio", "virtio_blk", "ext4"};
        }
    } else if (kind == "path") {
        initrd.kind = InitrdSource::Kind::kPath;
        initrd.value = value.asRecipePath();
    } else {
        initrd.kind = InitrdSource::Kind::kTree;
        initrd.value = treePath(value, true);
    }
    return initrd;
}

// Sees where documents start, and nothing else.
struct DocumentCounter final : YAML::EventHandler {
    std::vector<YAML::Mark> starts;
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// Line and column of byte `offset`, for errors found before YAML parsing.
SourceLocation locate(const std::string& file, std::string_view text, size_t offset) {
    SourceLocation where;
    where.file = file;
    where.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + offset, '\n'));
    auto lineStart = text.rfind('\n', offset == 0 ? 0 : offset - 1);
    size_t start = (lineStart == std::string_view::npos || offset == 0) ? 0 : lineStart + 1;
    where.column = 1 + static_cast<int>(offset - start);
    return where;
}

// yaml-cpp reads bytes; saying "not UTF-8 at 3:7" beats whatever it makes of binary junk.
void checkText(const std::string& file, std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        size_t length = c < 0x80         ? 1
                        : (c >> 5) == 6  ? 2
                        : (c >> 4) == 14 ? 3
                        : (c >> 3) == 30 ? 4
                                         : 0;
        bool ok = length != 0 && i + length <= text.size();
        uint32_t codePoint = length == 1 ? c : c & (0x7f >> length);
        for (size_t k = 1; ok && k < length; ++k) {
            const unsigned char next = static_cast<unsigned char>(text[i + k]);
            ok = (next >> 6) == 2;
            codePoint = codePoint << 6 | (next & 0x3f);
        }
        // Strict, as the canonical JSON writer is: no overlong forms (0xC1 0xBC for '<'), no
        // UTF-16 surrogates, nothing past U+10FFFF.
        static constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
        if (ok && length > 1)
            ok = codePoint >= kShortest[length] && codePoint <= 0x10ffff &&
                 (codePoint < 0xd800 || codePoint > 0xdfff);
        if (ok && c == 0) {
            throw Error(locate(file, text, i).str() +
                            ": the recipe contains a NUL byte; a recipe "
                            "is UTF-8 text",
                        ExitStatus::kUsage);
        }
        if (!ok)
            throw Error(locate(file, text, i).str() + ": the recipe is not UTF-8 text (byte 0x" +
                            "0123456789abcdef"[c >> 4] + "0123456789abcdef"[c & 15] + ")",
                        ExitStatus::kUsage);
        i += length;
    }
}

}  // namespace

Recipe parseRecipeText(std::string_view text, const std::string& file, const std::string& directory,
                       const OperationParser& parseOperation) {
    if (text.size() > kMaxRecipeBytes)
        throw Error(file + ": the recipe is " + formatSize(text.size()) + ", more than the " +
                        formatSize(kMaxRecipeBytes) +
                        " a recipe may be; put large content in files next to it and name them "
                        "with 'source:'",
                    ExitStatus::kUsage);
    checkText(file, text);

    YAML::Node document;
    std::optional<YAML::Mark> secondDocument;
    try {
        // yaml-cpp 0.7's LoadAll never ends on some inputs (",!" yields documents forever), so
        // a first pass only looks for a second document, and Load reads the first.
        std::istringstream stream{std::string(text)};
        YAML::Parser parser(stream);
        DocumentCounter counter;
        for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
        }
        if (counter.starts.size() > 1) secondDocument = counter.starts[1];
        document = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        SourceLocation where;
        where.file = file;
        if (!e.mark.is_null()) {
            where.line = e.mark.line + 1;
            where.column = e.mark.column + 1;
        }
        // yaml-cpp's depth guard says only "bad file".
        if (dynamic_cast<const YAML::DeepRecursion*>(&e))
            throw Error(where.str() +
                            ": the YAML nests too deeply for yaml-cpp (a recipe needs a "
                            "handful of levels)",
                        ExitStatus::kUsage);
        throw Error(where.str() + ": not valid YAML: " + e.msg, ExitStatus::kUsage);
    }

    auto state = std::make_shared<RecipeParseState>();
    state->file = file;
    state->directory = directory;
    SourceLocation top;
    top.file = file;
    if (secondDocument) {
        SourceLocation where = top;
        where.line = secondDocument->line + 1;
        where.column = secondDocument->column + 1;
        throw Error(where.str() + ": a recipe is one YAML document; found a second one",
                    ExitStatus::kUsage);
    }
    if (!document.IsDefined() || document.IsNull())
        throw Error(file +
                        ": the recipe is empty; it needs at least name, version, base and "
                        "kernel (see docs/recipes.md)",
                    ExitStatus::kUsage);

    try {
        RecipeNode root(document, "", state, top);
        auto map = root.asMap({"schema", "name", "version", "base", "kernel", "initrd", "cmdline",
                               "defaults", "disk", "allow", "operations", "security"});
        Recipe recipe;
        recipe.file = file;
        recipe.directory = directory;
        if (auto schema = map.optional("schema"))
            recipe.schema = static_cast<uint32_t>(schema->asUnsigned(1, 1));
        recipe.name = imageName(map.required("name"));
        recipe.version = imageVersion(map.required("version"));
        recipe.base = parseBase(map.required("base"), file);
        bool layered = std::holds_alternative<ImageBase>(recipe.base);
        if (auto kernel = map.optional("kernel")) {
            recipe.kernel = parseKernel(*kernel);
        } else if (!layered) {
            map.required("kernel");  // throws: only an image base brings its own kernel
        }
        if (auto initrd = map.optional("initrd"))
            recipe.initrd = parseInitrd(*initrd);
        else if (!layered)
            recipe.initrd = InitrdSource{};
        if (auto cmdline = map.optional("cmdline")) {
            recipe.cmdline = cmdline->asString();
            if (recipe.cmdline->size() > 2047)
                cmdline->fail("the kernel command line is longer than 2047 bytes");
            if (hasControl(*recipe.cmdline))
                cmdline->fail("the kernel command line holds a control character (a newline?)");
        } else if (!layered) {
            recipe.cmdline = std::string(kDefaultCmdline);
        }
        if (auto defaults = map.optional("defaults")) {
            auto fields = defaults->asMap({"cpus", "memory"});
            if (auto cpus = fields.optional("cpus"))
                recipe.cpus = static_cast<uint32_t>(cpus->asUnsigned(1, 256));
            if (auto memory = fields.optional("memory")) {
                recipe.memory = memory->asSize();
                if (recipe.memory < (16ull << 20) || recipe.memory > (1ull << 40) ||
                    recipe.memory % (1ull << 20) != 0)
                    memory->fail("memory must be a whole number of MiB from 16M to 1T, not " +
                                 formatSize(recipe.memory));
            }
        }
        if (auto disk = map.optional("disk")) {
            auto fields = disk->asMap({"size"});
            if (auto size = fields.optional("size")) {
                if (size->asString() != "auto") {
                    uint64_t bytes = size->asSize();
                    if (bytes < (8ull << 20) || bytes > (16ull << 40) || bytes % (1ull << 20) != 0)
                        size->fail(
                            "the disk size must be 'auto' or a whole number of MiB from "
                            "8M to 16T, not " +
                            formatSize(bytes));
                    recipe.diskSize = bytes;
                }
            }
        }
        if (auto allow = map.optional("allow")) {
            auto fields = allow->asMap({"devices"});
            if (auto devices = fields.optional("devices")) recipe.allowDevices = devices->asBool();
        }
        if (auto security = map.optional("security")) {
            SecuritySection section;
            if (!security->isNull()) {
                auto fields = security->asMap({"sources", "suites", "keyring"});
                if (auto sources = fields.optional("sources"))
                    section.sources = nonEmptyPath(*sources);
                if (auto suites = fields.optional("suites"))
                    for (const auto& suite : suites->asList()) {
                        std::string name = suite.asString();
                        if (!name.ends_with("-security") || hasControl(name) ||
                            name.find_first_of(" /") != std::string::npos)
                            suite.fail("a security suite is a name ending in -security, not '" +
                                       name + "'");
                        section.suites.push_back(name);
                    }
                if (auto keyring = fields.optional("keyring"))
                    section.keyring = nonEmptyPath(*keyring);
            }
            recipe.security = section;
        }
        if (auto operations = map.optional("operations")) {
            if (!operations->isNull()) {
                if (!parseOperation)
                    operations->fail("no operation parser was given (use patcher::loadRecipe)");
                for (const auto& item : operations->asList())
                    recipe.operations.push_back(parseOperation(item));
            }
        }
        return recipe;
    } catch (const YAML::Exception& e) {
        // yaml-cpp's own conversions should never throw here; if one does, it still names a place.
        SourceLocation where;
        where.file = file;
        if (!e.mark.is_null()) {
            where.line = e.mark.line + 1;
            where.column = e.mark.column + 1;
        }
        throw Error(where.str() + ": " + e.msg, ExitStatus::kUsage);
    }
}

Recipe parseRecipe(const std::string& path, const OperationParser& parseOperation) {
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (ec || !fs::is_regular_file(status))
        throw Error("cannot read recipe " + path + ": " +
                        (ec ? ec.message() : std::string("not a regular file")),
                    ExitStatus::kUsage);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot open recipe " + path, ExitStatus::kUsage);
    std::string text;
    text.resize(kMaxRecipeBytes + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) throw Error("cannot read recipe " + path, ExitStatus::kUsage);
    text.resize(static_cast<size_t>(in.gcount()));
    std::string directory = fs::absolute(path).lexically_normal().parent_path().string();
    return parseRecipeText(text, path, directory, parseOperation);
}

nlohmann::json canonicalHeader(const Recipe& recipe) {
    using nlohmann::json;
    json out;
    out["schema"] = recipe.schema;
    out["name"] = recipe.name;
    out["version"] = recipe.version;
    // Only what decides a base's content: locators (paths, URLs, references) are left out,
    // so the same recipe in another directory or behind another mirror keeps its key.
    json base;
    std::visit(
        [&](const auto& b) {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, TarballBase>) {
                base["sha256"] = b.sha256;
            } else if constexpr (std::is_same_v<T, PackagesBase>) {
                auto names = b.names;
                std::sort(names.begin(), names.end());
                base["names"] = names;
            } else if constexpr (std::is_same_v<T, MmdebstrapBase>) {
                auto packages = b.packages;
                std::sort(packages.begin(), packages.end());
                base["suite"] = b.suite;
                base["variant"] = b.variant;
                base["packages"] = packages;
                base["components"] = b.components;
                if (!b.sources.empty()) base["sources"] = b.sources;
            } else {
                if (!b.digest.empty())
                    base["digest"] = b.digest;
                else if (!b.reference.empty())
                    base["reference"] = b.reference;
                else
                    base["path"] = b.path;
            }
        },
        recipe.base);
    out["base"] = json{{std::string(baseKindName(recipe.base)), base}};
    if (!recipe.kernel) {
        out["kernel"] = "inherit";
    } else {
        const char* key = recipe.kernel->kind == KernelSource::Kind::kPackage ? "package"
                          : recipe.kernel->kind == KernelSource::Kind::kPath  ? "path"
                                                                              : "tree";
        out["kernel"] = {{key, recipe.kernel->value}};
    }
    if (!recipe.initrd) {
        out["initrd"] = "inherit";
    } else {
        switch (recipe.initrd->kind) {
            case InitrdSource::Kind::kNone:
                out["initrd"] = nullptr;
                break;
            case InitrdSource::Kind::kGenerate:
                out["initrd"] = {{"generate", true}, {"modules", recipe.initrd->modules}};
                break;
            case InitrdSource::Kind::kPath:
                out["initrd"] = {{"path", recipe.initrd->value}};
                break;
            case InitrdSource::Kind::kTree:
                out["initrd"] = {{"tree", recipe.initrd->value}};
                break;
        }
    }
    out["cmdline"] = recipe.cmdline ? json(*recipe.cmdline) : json("inherit");
    out["defaults"] = {{"cpus", recipe.cpus}, {"memory", recipe.memory}};
    out["disk"] = {{"size", recipe.diskSize ? json(*recipe.diskSize) : json("auto")}};
    out["allow"] = {{"devices", recipe.allowDevices}};
    if (recipe.security)
        out["security"] = {{"sources", recipe.security->sources},
                           {"suites", recipe.security->suites},
                           {"keyring", recipe.security->keyring}};
    return out;
}

}  // namespace ingot::imagebuild
