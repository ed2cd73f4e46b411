// mkdir: create a directory, as mkdir(1) does: without `parents` its parent must exist and the
// directory must not; with `parents`, missing parents are made (0755, root:root) and an existing
// directory is left as it is, mode and owner included.
#include "OperationFields.h"
#include "TreeEdits.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::NodeType;
using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

class MkdirOperation final : public Operation {
public:
    explicit MkdirOperation(const RecipeMap& body) : Operation(body.node()) {
        path_ = readTreePath(body.required("path"));
        if (auto parents = body.optional("parents")) parents_ = parents->asBool();
        if (auto mode = body.optional("mode")) mode_ = readMode(*mode);
        if (auto owner = body.optional("owner")) owner_ = readOwner(*owner);
    }

    std::string_view name() const override { return "mkdir"; }

    nlohmann::json canonical() const override {
        return {{"op", "mkdir"},
                {"path", path_},
                {"parents", parents_},
                {"mode", formatMode(mode_)},
                {"owner", owner_.str()}};
    }

    void apply(Tree& tree, const OperationContext& context) const override {
        std::string target = entryPath(tree, path_, where());
        if (auto existing = tree.find(target)) {
            if (existing->type == NodeType::kDirectory && parents_) return;
            fail(shownPath(target) + " already exists (a " +
                 std::string(imagebuild::nodeTypeName(existing->type)) + ")" +
                 (existing->type == NodeType::kDirectory ? "; set parents: true to accept that"
                                                         : ""));
        }
        std::string parent = imagebuild::parentPath(target);
        auto parentInode = tree.find(parent);
        if (!parentInode && !parents_)
            fail("the parent " + shownPath(parent) +
                 " is not in the tree; set parents: true to create it");
        Ids ids = resolveOwner(tree, owner_, where());
        tree.put(target,
                 newInode(NodeType::kDirectory, mode_, ids.uid, ids.gid, context.sourceDateEpoch),
                 where());
    }

private:
    std::string path_;
    bool parents_ = false;
    uint32_t mode_ = 0755;
    Owner owner_;
};

}  // namespace

const OperationKind kMkdirOperation = {
    "mkdir",
    {"path", "parents", "mode", "owner"},
    "create a directory",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<MkdirOperation>(body);
    },
};

}  // namespace ingot::patcher
