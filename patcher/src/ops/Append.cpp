// append: add one line to the end of a text file (a line in /etc/fstab, a module in
// /etc/modules). A file that does not end in a newline gets one first, so the line stays a line.
// With `unless-present` the operation does nothing when the file already holds that exact line,
// which keeps re-running a recipe over its own output harmless. The path's symlinks are
// followed inside the tree; hard links all see the change.
#include "OperationFields.h"
#include "TreeEdits.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

using imagebuild::NodeType;
using imagebuild::RecipeMap;
using imagebuild::Tree;

namespace {

bool holdsLine(std::string_view text, std::string_view line) {
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string_view::npos) end = text.size();
        if (text.substr(at, end - at) == line) return true;
        at = end + 1;
    }
    return false;
}

class AppendOperation final : public Operation {
public:
    explicit AppendOperation(const RecipeMap& body) : Operation(body.node()) {
        path_ = readTreePath(body.required("path"));
        auto line = body.required("line");
        line_ = line.asString();
        if (!line_.empty() && line_.back() == '\n') line_.pop_back();
        if (line_.find('\n') != std::string::npos)
            line.fail("append adds one line; this text holds several (use file or patch)");
        if (auto create = body.optional("create")) create_ = create->asBool();
        if (auto unless = body.optional("unless-present")) unlessPresent_ = unless->asBool();
    }

    std::string_view name() const override { return "append"; }

    nlohmann::json canonical() const override {
        return {{"op", "append"},
                {"path", path_},
                {"line", line_},
                {"create", create_},
                {"unless-present", unlessPresent_}};
    }

    void apply(Tree& tree, const OperationContext& context) const override {
        std::string target = tree.resolve(path_, where());
        auto existing = tree.find(target);
        if (!existing) {
            if (!create_)
                fail(shownPath(target) + " is not in the tree (set create: true to create it)");
            auto inode = newInode(NodeType::kFile, 0644, 0, 0, context.sourceDateEpoch);
            inode->content = imagebuild::makeBlob(line_ + "\n");
            tree.put(target, inode, where());
            return;
        }
        if (existing->type != NodeType::kFile)
            fail(shownPath(target) + " is a " +
                 std::string(imagebuild::nodeTypeName(existing->type)) +
                 "; append edits regular files");
        std::string text = existing->content ? existing->content->bytes() : std::string();
        if (unlessPresent_ && holdsLine(text, line_)) return;
        if (!text.empty() && text.back() != '\n') text += '\n';
        text += line_;
        text += '\n';
        auto changed = std::make_shared<imagebuild::Inode>(*existing);
        changed->content = imagebuild::makeBlob(std::move(text));
        changed->mtime = context.sourceDateEpoch;
        replaceInode(tree, existing, changed, where());
    }

private:
    std::string path_;
    std::string line_;
    bool create_ = false;
    bool unlessPresent_ = false;
};

}  // namespace

const OperationKind kAppendOperation = {
    "append",
    {"path", "line", "create", "unless-present"},
    "append a line to a text file",
    [](const RecipeMap& body) -> std::shared_ptr<const Operation> {
        return std::make_shared<AppendOperation>(body);
    },
};

}  // namespace ingot::patcher
