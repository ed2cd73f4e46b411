// remove: delete an entry; a directory with entries only when `recursive` says so. A symlink is
// removed itself, not what it points to.
#include "OperationFields.h"
#include "TreeEdits.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::NodeType;
using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

class RemoveOperation final : public Operation {
public:
    explicit RemoveOperation(const RecipeMap& body) : Operation(body.node()) {
        path_ = readTreePath(body.required("path"));
        if (auto recursive = body.optional("recursive")) recursive_ = recursive->asBool();
        if (auto missingOk = body.optional("missing-ok")) missingOk_ = missingOk->asBool();
    }

    std::string_view name() const override { return "remove"; }

    nlohmann::json canonical() const override {
        return {{"op", "remove"},
                {"path", path_},
                {"recursive", recursive_},
                {"missing-ok", missingOk_}};
    }

    void apply(Tree& tree, const OperationContext&) const override {
        std::string target = entryPath(tree, path_, where());
        auto existing = tree.find(target);
        if (!existing) {
            if (missingOk_) return;
            fail(shownPath(target) + " is not in the tree (set missing-ok: true if that is fine)");
        }
        if (existing->type == NodeType::kDirectory && !recursive_) {
            auto children = tree.children(target);
            if (!children.empty())
                fail(shownPath(target) + " is a directory with " + std::to_string(children.size()) +
                     " entries; set recursive: true to remove it with everything in it");
        }
        tree.remove(target);
    }

private:
    std::string path_;
    bool recursive_ = false;
    bool missingOk_ = false;
};

}  // namespace

const OperationKind kRemoveOperation = {
    "remove",
    {"path", "recursive", "missing-ok"},
    "remove a file, symlink or directory",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<RemoveOperation>(body);
    },
};

}  // namespace ingot::patcher
