// file: add or replace a regular file, from inline content or a file beside the recipe.
// Like install(1), an existing file or symlink at the path is replaced, never written through.
#include "OperationFields.h"
#include "TreeEdits.h"
#include "ingot/core/Sha256.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::NodeType;
using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

class FileOperation final : public Operation {
public:
    explicit FileOperation(const RecipeMap& body) : Operation(body.node()) {
        path_ = readTreePath(body.required("path"));
        if (body.exactlyOne({"content", "source"}) == "content") {
            content_ = imagebuild::makeBlob(body.required("content").asString());
        } else {
            content_ = readSourceFile(body.required("source")).content;
        }
        if (auto mode = body.optional("mode")) mode_ = readMode(*mode);
        if (auto owner = body.optional("owner")) owner_ = readOwner(*owner);
    }

    std::string_view name() const override { return "file"; }

    nlohmann::json canonical() const override {
        return {{"op", "file"},
                {"path", path_},
                {"sha256", toHex(content_->sha256())},
                {"size", content_->size()},
                {"mode", formatMode(mode_)},
                {"owner", owner_.str()}};
    }

    void apply(Tree& tree, const OperationContext& context) const override {
        std::string target = entryPath(tree, path_, where());
        auto existing = tree.find(target);
        if (existing && existing->type == NodeType::kDirectory)
            fail(shownPath(target) + " is a directory; remove it first to put a file there");
        Ids ids = resolveOwner(tree, owner_, where());
        auto inode = newInode(NodeType::kFile, mode_, ids.uid, ids.gid, context.sourceDateEpoch);
        inode->content = content_;
        tree.put(target, inode, where());
    }

private:
    std::string path_;
    std::shared_ptr<const imagebuild::Blob> content_;
    uint32_t mode_ = 0644;
    Owner owner_;
};

}  // namespace

const OperationKind kFileOperation = {
    "file",
    {"path", "content", "source", "mode", "owner"},
    "add or replace a regular file",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<FileOperation>(body);
    },
};

}  // namespace ingot::patcher
