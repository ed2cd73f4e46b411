// symlink: create a symbolic link, or replace a file or link at the path (ln -sf). The target
// is stored verbatim: absolute targets mean the tree's root once the image runs, and nothing is
// ever written through a link, so a target may point anywhere.
#include "OperationFields.h"
#include "TreeEdits.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::NodeType;
using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

class SymlinkOperation final : public Operation {
public:
    explicit SymlinkOperation(const RecipeMap& body) : Operation(body.node()) {
        path_ = readTreePath(body.required("path"));
        auto target = body.required("target");
        target_ = target.asNonEmptyString();
        if (target_.find('\0') != std::string::npos) target.fail("the target contains a NUL byte");
        if (target_.size() > 4095) target.fail("the target is longer than 4095 bytes");
        if (auto owner = body.optional("owner")) owner_ = readOwner(*owner);
    }

    std::string_view name() const override { return "symlink"; }

    nlohmann::json canonical() const override {
        return {{"op", "symlink"}, {"path", path_}, {"target", target_}, {"owner", owner_.str()}};
    }

    void apply(Tree& tree, const OperationContext& context) const override {
        std::string entry = entryPath(tree, path_, where());
        auto existing = tree.find(entry);
        if (existing && existing->type == NodeType::kDirectory)
            fail(shownPath(entry) + " is a directory; remove it first to put a symlink there");
        Ids ids = resolveOwner(tree, owner_, where());
        auto inode = newInode(NodeType::kSymlink, 0777, ids.uid, ids.gid, context.sourceDateEpoch);
        inode->symlinkTarget = target_;
        tree.put(entry, inode, where());
    }

private:
    std::string path_;
    std::string target_;
    Owner owner_;
};

}  // namespace

const OperationKind kSymlinkOperation = {
    "symlink",
    {"path", "target", "owner"},
    "create a symbolic link",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<SymlinkOperation>(body);
    },
};

}  // namespace ingot::patcher
