// chown: set an entry's owner and group. The path's symlinks are followed, inside the tree, as
// chown(1) follows them; with `recursive`, everything below a directory changes too, links
// themselves included and never followed (chown -R). The mtime stays.
#include <map>

#include "OperationFields.h"
#include "TreeEdits.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::Inode;
using imagebuild::NodeType;
using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

class ChownOperation final : public Operation {
public:
    explicit ChownOperation(const RecipeMap& body) : Operation(body.node()) {
        path_ = readTreePath(body.required("path"));
        owner_ = readOwner(body.required("owner"));
        if (auto recursive = body.optional("recursive")) recursive_ = recursive->asBool();
    }

    std::string_view name() const override { return "chown"; }

    nlohmann::json canonical() const override {
        return {
            {"op", "chown"}, {"path", path_}, {"owner", owner_.str()}, {"recursive", recursive_}};
    }

    void apply(Tree& tree, const OperationContext&) const override {
        std::string target = tree.resolve(path_, where());
        auto existing = tree.find(target);
        if (!existing) fail(shownPath(target) + " is not in the tree");
        Ids ids = resolveOwner(tree, owner_, where());
        // Each inode once, so hard links inside the subtree stay one inode.
        std::map<std::shared_ptr<Inode>, std::shared_ptr<Inode>> changed;
        auto change = [&](const std::shared_ptr<Inode>& inode) {
            auto& replacement = changed[inode];
            if (!replacement) {
                replacement = std::make_shared<Inode>(*inode);
                replacement->uid = ids.uid;
                replacement->gid = ids.gid;
            }
        };
        change(existing);
        if (recursive_ && existing->type == NodeType::kDirectory) {
            std::string prefix = target.empty() ? "" : target + "/";
            for (auto it = tree.entries().lower_bound(prefix); it != tree.entries().end(); ++it) {
                if (it->first.compare(0, prefix.size(), prefix) != 0) break;
                change(it->second);
            }
        }
        for (const auto& [original, replacement] : changed)
            replaceInode(tree, original, replacement, where());
    }

private:
    std::string path_;
    Owner owner_;
    bool recursive_ = false;
};

}  // namespace

const OperationKind kChownOperation = {
    "chown",
    {"path", "owner", "recursive"},
    "set owner and group",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<ChownOperation>(body);
    },
};

}  // namespace ingot::patcher
