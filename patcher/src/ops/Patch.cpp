// patch: apply a unified diff of one file to a file in the tree, with no fuzz (UnifiedDiff.h).
// The diff is parsed when the recipe is, so a malformed one fails before any build work. The
// path's symlinks are followed inside the tree; the edited file keeps its mode and owner and
// every hard link sees the new content, as patch(1) editing in place would leave it.
#include "OperationFields.h"
#include "TreeEdits.h"
#include "ingot/core/Sha256.h"
#include "ingot/patcher/UnifiedDiff.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::NodeType;
using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

class PatchOperation final : public Operation {
public:
    explicit PatchOperation(const RecipeMap& body) : Operation(body.node()) {
        path_ = readTreePath(body.required("path"));
        std::string_view kind = body.exactlyOne({"diff", "source"});
        auto node = body.required(kind);
        std::string text =
            kind == "diff" ? node.asString() : readSourceFile(node, 64ull << 20).content->bytes();
        diffSha256_ = toHex(sha256(text));
        diff_ = parseUnifiedDiff(text, node.location().str() + ": " + node.context());
    }

    std::string_view name() const override { return "patch"; }

    nlohmann::json canonical() const override {
        return {{"op", "patch"}, {"path", path_}, {"diff-sha256", diffSha256_}};
    }

    void apply(Tree& tree, const OperationContext& context) const override {
        std::string target = tree.resolve(path_, where());
        auto existing = tree.find(target);
        if (!existing) fail(shownPath(target) + " is not in the tree");
        if (existing->type != NodeType::kFile)
            fail(shownPath(target) + " is a " +
                 std::string(imagebuild::nodeTypeName(existing->type)) +
                 "; patch edits regular files");
        std::string_view original =
            existing->content ? std::string_view(existing->content->bytes()) : std::string_view();
        auto changed = std::make_shared<imagebuild::Inode>(*existing);
        changed->content = imagebuild::makeBlob(
            applyUnifiedDiff(original, diff_, where() + ": " + shownPath(target)));
        changed->mtime = context.sourceDateEpoch;
        replaceInode(tree, existing, changed, where());
    }

private:
    std::string path_;
    std::string diffSha256_;
    UnifiedDiff diff_;
};

}  // namespace

const OperationKind kPatchOperation = {
    "patch",
    {"path", "diff", "source"},
    "apply a unified diff to a file",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<PatchOperation>(body);
    },
};

}  // namespace ingot::patcher
