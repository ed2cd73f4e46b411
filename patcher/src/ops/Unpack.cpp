// unpack: read an archive (tar in any common dialect and compression, cpio) or a Debian
// package's data into the tree below `path`, through ArchiveReader: entries are checked as a
// base's are (no "..", nothing written through a symlink, device nodes only when the recipe's
// allow.devices says so), and mtimes later than SOURCE_DATE_EPOCH are clamped to it. A .deb's
// maintainer scripts are not run.
//
// The archive is read into a scratch tree first and merged only when all of it was read, so a
// defective archive leaves the tree as it was. Merging works as dpkg unpacks (and as
// `tar --keep-directory-symlink` in a chroot): directories that already exist, or symlinks to
// them (/bin → usr/bin on a merged-/usr tree), are kept as they are, metadata included, and
// entries below them land where the links lead; other entries replace what is there, except
// that a directory is never replaced by a non-directory.
#include "OperationFields.h"
#include "TreeEdits.h"
#include "ingot/core/Sha256.h"
#include "ingot/imagebuild/ArchiveReader.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::NodeType;
using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

class UnpackOperation final : public Operation {
public:
    explicit UnpackOperation(const RecipeMap& body) : Operation(body.node()) {
        source_ = readSourceFile(body.required("source"), 4ull << 30);
        if (auto path = body.optional("path")) {
            std::string text = path->asNonEmptyString();
            try {
                path_ = imagebuild::normalizePath(text,
                                                  path->location().str() + ": " + path->context());
            } catch (const Error& e) {
                throw Error(e.what(), ExitStatus::kUsage);
            }
        }
    }

    std::string_view name() const override { return "unpack"; }

    nlohmann::json canonical() const override {
        return {{"op", "unpack"},
                {"path", path_},
                {"sha256", toHex(source_.content->sha256())},
                {"size", source_.content->size()}};
    }

    void apply(Tree& tree, const OperationContext& context) const override {
        std::string destination = path_.empty() ? "" : tree.resolve(path_, where());
        if (auto existing = tree.find(destination);
            existing && existing->type != NodeType::kDirectory)
            fail(shownPath(destination) + " is a " +
                 std::string(imagebuild::nodeTypeName(existing->type)) +
                 ", not a directory to unpack into");
        imagebuild::ArchiveReadOptions options;
        options.allowDevices = context.allowDevices;
        options.clampMtime = context.sourceDateEpoch;
        Tree scratch;
        try {
            imagebuild::readArchiveMemory(source_.content->bytes(), source_.relative, scratch,
                                          options);
        } catch (const Error& e) {
            throw Error(where() + ": " + e.what(), e.status());
        }
        for (const auto& [path, inode] : scratch.entries()) {
            if (path.empty()) continue;  // the archive's "./" must not restyle the destination
            std::string wanted = destination.empty() ? path : destination + "/" + path;
            std::string target = entryPath(tree, wanted, where());
            auto existing = tree.find(target);
            if (existing && existing->type == NodeType::kSymlink)
                if (auto followed = tree.find(tree.resolve(target, where())))
                    if (followed->type == NodeType::kDirectory &&
                        inode->type == NodeType::kDirectory)
                        continue;
            if (existing && existing->type == NodeType::kDirectory) {
                if (inode->type == NodeType::kDirectory) continue;
                fail("the archive's " + shownPath(path) + " (a " +
                     std::string(imagebuild::nodeTypeName(inode->type)) +
                     ") would replace the directory " + shownPath(target));
            }
            tree.put(target, inode, where());  // hard links stay shared inodes
        }
    }

private:
    SourceFile source_;
    std::string path_;
};

}  // namespace

const OperationKind kUnpackOperation = {
    "unpack",
    {"source", "path"},
    "unpack an archive or a .deb into the tree",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<UnpackOperation>(body);
    },
};

}  // namespace ingot::patcher
