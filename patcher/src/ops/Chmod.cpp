// chmod: set an entry's permission bits. Symlinks are followed, inside the tree, as chmod(1)
// follows them (a link's own mode means nothing). The mtime stays: only content changes move it.
#include "OperationFields.h"
#include "TreeEdits.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

class ChmodOperation final : public Operation {
public:
    explicit ChmodOperation(const RecipeMap& body) : Operation(body.node()) {
        path_ = readTreePath(body.required("path"));
        mode_ = readMode(body.required("mode"));
    }

    std::string_view name() const override { return "chmod"; }

    nlohmann::json canonical() const override {
        return {{"op", "chmod"}, {"path", path_}, {"mode", formatMode(mode_)}};
    }

    void apply(Tree& tree, const OperationContext&) const override {
        std::string target = tree.resolve(path_, where());
        auto existing = tree.find(target);
        if (!existing) fail(shownPath(target) + " is not in the tree");
        auto changed = std::make_shared<imagebuild::Inode>(*existing);
        changed->mode = mode_;
        replaceInode(tree, existing, changed, where());
    }

private:
    std::string path_;
    uint32_t mode_ = 0;
};

}  // namespace

const OperationKind kChmodOperation = {
    "chmod",
    {"path", "mode"},
    "set permission bits",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<ChmodOperation>(body);
    },
};

}  // namespace ingot::patcher
