// The checked YAML view behind recipe parsing: types, keys, locations and the limits that keep a
// hostile recipe from costing more than its size suggests.
#include <algorithm>
#include <filesystem>
#include <set>

#include "ingot/core/Size.h"
#include "ingot/imagebuild/Recipe.h"

namespace ingot::imagebuild {

namespace fs = std::filesystem;

std::string SourceLocation::str() const {
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace {

std::string shortened(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 40)) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    if (text.size() > 40) out += "…";
    return out;
}

// yaml-cpp marks a quoted scalar with the non-specific tag "!" and a plain one with "?".
bool isPlain(const YAML::Node& node) {
    return node.Tag() != "!";
}

size_t editDistance(std::string_view a, std::string_view b) {
    // Optimal string alignment: a swap of two neighbours ("contnet") counts as one edit.
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            char x = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i - 1])));
            char y = static_cast<char>(std::tolower(static_cast<unsigned char>(b[j - 1])));
            size_t cost = x == y ? (a[i - 1] == b[j - 1] ? 0 : 1) : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

constexpr int kMaxMergeDepth = 8;

}  // namespace

std::string closestMatch(std::string_view word, std::span<const std::string_view> candidates) {
    if (word.size() > 64) return "";
    std::string best;
    size_t bestDistance = SIZE_MAX;
    for (auto candidate : candidates) {
        size_t d = editDistance(word, candidate);
        if (d < bestDistance) {
            bestDistance = d;
            best = candidate;
        }
    }
    size_t shorter = std::min(word.size(), best.size());
    size_t allowed = std::max<size_t>(1, std::min<size_t>(3, shorter / 3));
    if (bestDistance == 0 || bestDistance > allowed || bestDistance >= shorter) return "";
    return best;
}

void RecipeParseState::spendVisit(const RecipeNode& node) {
    if (visits++ > kMaxVisits)
        node.fail("the recipe expands to too many values through aliases (more than " +
                  std::to_string(kMaxVisits) + ")");
}

void RecipeParseState::spendBytes(const RecipeNode& node, uint64_t bytes) {
    scalarBytes += bytes;
    if (scalarBytes > kMaxScalarBytes)
        node.fail("the recipe expands to more than " + formatSize(kMaxScalarBytes) +
                  " of text through aliases");
}

RecipeNode::RecipeNode(YAML::Node node, std::string context,
                       std::shared_ptr<RecipeParseState> state, SourceLocation fallback)
    : node_(std::move(node)),
      context_(std::move(context)),
      state_(std::move(state)),
      fallback_(std::move(fallback)) {}

SourceLocation RecipeNode::location() const {
    YAML::Mark mark = node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark();
    if (mark.is_null() || mark.line < 0) return fallback_;
    SourceLocation out;
    out.file = state_->file;
    out.line = mark.line + 1;
    out.column = mark.column + 1;
    return out;
}

const std::string& RecipeNode::recipeDirectory() const {
    return state_->directory;
}
const std::string& RecipeNode::recipeFile() const {
    return state_->file;
}

std::string_view RecipeNode::typeName() const {
    if (!node_.IsDefined() || node_.IsNull()) return "null";
    if (node_.IsMap()) return "a mapping";
    if (node_.IsSequence()) return "a list";
    return "a string";
}

Error RecipeNode::error(std::string_view message) const {
    std::string text = location().str() + ": ";
    if (!context_.empty()) text += context_ + ": ";
    text += message;
    return Error(text, ExitStatus::kUsage);
}

void RecipeNode::fail(std::string_view message) const {
    throw error(message);
}

namespace {

std::string found(const RecipeNode& node, const YAML::Node& raw) {
    if (raw.IsDefined() && raw.IsScalar()) return "found '" + shortened(raw.Scalar()) + "'";
    return "found " + std::string(node.typeName());
}

}  // namespace

std::string RecipeNode::asString() const {
    state_->spendVisit(*this);
    if (!node_.IsDefined() || !node_.IsScalar())
        fail("expected a string, found " + std::string(typeName()));
    state_->spendBytes(*this, node_.Scalar().size());
    return node_.Scalar();
}

std::string RecipeNode::asNonEmptyString() const {
    std::string text = asString();
    if (text.empty()) fail("expected a non-empty string");
    return text;
}

bool RecipeNode::asBool() const {
    state_->spendVisit(*this);
    if (node_.IsDefined() && node_.IsScalar() && isPlain(node_)) {
        const std::string& s = node_.Scalar();
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    fail("expected a boolean (true or false), " + found(*this, node_));
}

uint64_t RecipeNode::asUnsigned(uint64_t min, uint64_t max) const {
    state_->spendVisit(*this);
    auto bad = [&] {
        fail("expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
             ", " + found(*this, node_));
    };
    if (!node_.IsDefined() || !node_.IsScalar() || !isPlain(node_)) bad();
    const std::string& s = node_.Scalar();
    if (s.empty() || s.size() > 20) bad();
    uint64_t value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') bad();
        unsigned digit = static_cast<unsigned>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) bad();
        value = value * 10 + digit;
    }
    if (value < min || value > max) bad();
    return value;
}

uint64_t RecipeNode::asSize() const {
    std::string text = asString();
    try {
        return parseSize(text);
    } catch (const Error& e) {
        fail(e.what());
    }
}

std::string RecipeNode::asRecipePath() const {
    std::string text = asNonEmptyString();
    if (text.find('\0') != std::string::npos) fail("the path contains a NUL byte");
    fs::path path(text);
    if (path.is_absolute())
        fail("'" + shortened(text) +
             "' is absolute; name a file relative to the recipe's directory, which a recipe "
             "never leaves");
    fs::path normal = path.lexically_normal();
    if (normal.empty() || normal == "." || *normal.begin() == "..")
        fail("'" + shortened(text) +
             "' leaves the recipe's directory; sources must live beside the recipe so that "
             "the recipe directory builds the same image anywhere");
    std::string out = normal.string();
    if (!out.empty() && out.back() == '/') fail("'" + shortened(text) + "' names a directory");
    return out;
}

std::string RecipeNode::asHostPath() const {
    std::string text = asNonEmptyString();
    if (text.find('\0') != std::string::npos) fail("the path contains a NUL byte");
    fs::path path(text);
    if (path.is_relative()) path = fs::path(state_->directory) / path;
    return path.lexically_normal().string();
}

std::vector<RecipeNode> RecipeNode::asList() const {
    state_->spendVisit(*this);
    if (!node_.IsDefined() || !node_.IsSequence())
        fail("expected a list, found " + std::string(typeName()));
    std::vector<RecipeNode> out;
    size_t index = 0;
    for (const auto& item : node_) {
        state_->spendVisit(*this);
        out.emplace_back(item, context_ + "[" + std::to_string(index++) + "]", state_, location());
    }
    return out;
}

std::vector<std::string> RecipeNode::asStringList() const {
    std::vector<std::string> out;
    for (const auto& item : asList()) out.push_back(item.asNonEmptyString());
    return out;
}

RecipeMap RecipeNode::asMap(std::initializer_list<std::string_view> allowed) const {
    return asMap(std::span<const std::string_view>(allowed.begin(), allowed.size()));
}

RecipeMap RecipeNode::asMap(std::span<const std::string_view> allowed) const {
    return mapping(allowed, true);
}

RecipeMap RecipeNode::asAnyMap() const {
    return mapping({}, false);
}

RecipeMap RecipeNode::mapping(std::span<const std::string_view> allowed, bool checkKeys) const {
    state_->spendVisit(*this);
    if (!node_.IsDefined() || !node_.IsMap())
        fail("expected a mapping, found " + std::string(typeName()));
    RecipeMap map(*this);
    auto childContext = [&](const std::string& key) {
        return context_.empty() ? key : context_ + "." + key;
    };
    std::vector<std::pair<std::string, RecipeNode>> merged;
    std::set<std::string> explicitKeys;
    // Explicit keys win over merged ones, and earlier merges over later ones (YAML's "<<").
    auto collect = [&](auto& self, const YAML::Node& mapping, int depth, bool top,
                       const RecipeNode& holder) -> void {
        if (depth > kMaxMergeDepth) holder.fail("merge keys ('<<') nest too deeply");
        for (auto it = mapping.begin(); it != mapping.end(); ++it) {
            RecipeNode keyNode(it->first, context_, state_, holder.location());
            state_->spendVisit(keyNode);
            if (!it->first.IsScalar())
                keyNode.fail("a key must be a string, found " + std::string(keyNode.typeName()));
            const std::string& key = it->first.Scalar();
            RecipeNode value(it->second, childContext(key), state_, keyNode.location());
            if (key == "<<" && isPlain(it->first)) {
                if (it->second.IsMap()) {
                    self(self, it->second, depth + 1, false, value);
                } else if (it->second.IsSequence()) {
                    for (const auto& item : it->second) {
                        if (!item.IsMap())
                            value.fail("a merge key ('<<') takes a mapping or a list of mappings");
                        self(self, item, depth + 1, false, value);
                    }
                } else {
                    value.fail("a merge key ('<<') takes a mapping or a list of mappings");
                }
                continue;
            }
            if (checkKeys && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string message = "unknown key '" + shortened(key) + "'";
                std::string suggestion = closestMatch(key, allowed);
                if (!suggestion.empty()) {
                    message += "; did you mean '" + suggestion + "'?";
                } else if (allowed.empty()) {
                    message += "; this mapping takes no keys";
                } else {
                    message += "; expected one of:";
                    for (size_t i = 0; i < allowed.size(); ++i)
                        message += (i ? ", " : " ") + std::string(allowed[i]);
                }
                keyNode.fail(message);
            }
            if (top) {
                if (!explicitKeys.insert(key).second) {
                    std::string first;
                    for (const auto& [k, v] : map.fields_)
                        if (k == key) first = v.location().str();
                    keyNode.fail("duplicate key '" + key + "'" +
                                 (first.empty() ? "" : " (first given at " + first + ")"));
                }
                map.fields_.emplace_back(key, value);
            } else {
                bool seen = std::any_of(merged.begin(), merged.end(),
                                        [&](const auto& field) { return field.first == key; });
                if (!seen) merged.emplace_back(key, value);
            }
        }
    };
    collect(collect, node_, 0, true, *this);
    for (auto& field : merged)
        if (!explicitKeys.count(field.first)) map.fields_.push_back(std::move(field));
    return map;
}

bool RecipeMap::has(std::string_view key) const {
    return std::any_of(fields_.begin(), fields_.end(),
                       [&](const auto& field) { return field.first == key; });
}

std::optional<RecipeNode> RecipeMap::optional(std::string_view key) const {
    for (const auto& [k, v] : fields_)
        if (k == key) return v;
    return std::nullopt;
}

RecipeNode RecipeMap::required(std::string_view key) const {
    if (auto node = optional(key)) return *node;
    node_.fail("missing required key '" + std::string(key) + "'");
}

std::string_view RecipeMap::exactlyOne(std::initializer_list<std::string_view> keys) const {
    std::vector<std::string_view> present;
    for (auto key : keys)
        if (has(key)) present.push_back(key);
    if (present.size() == 1) return present.front();
    std::string list;
    for (auto key : keys) list += (list.empty() ? "" : ", ") + std::string(key);
    if (present.empty()) node_.fail("expected exactly one of: " + list);
    node_.fail("'" + std::string(present[0]) + "' and '" + std::string(present[1]) +
               "' exclude each other; give exactly one of: " + list);
}

std::vector<std::string> RecipeMap::keys() const {
    std::vector<std::string> out;
    for (const auto& field : fields_) out.push_back(field.first);
    return out;
}

std::string recipeSourcePath(const std::string& directory, const std::string& relative,
                             std::string_view where) {
    std::error_code ec;
    fs::path base = fs::weakly_canonical(directory, ec);
    if (ec) base = fs::path(directory).lexically_normal();
    fs::path full = fs::weakly_canonical(fs::path(directory) / relative, ec);
    if (ec)
        throw Error(std::string(where) + ": cannot resolve '" + relative + "': " + ec.message(),
                    ExitStatus::kUsage);
    auto rel = full.lexically_relative(base);
    if (rel.empty() || *rel.begin() == "..")
        throw Error(std::string(where) + ": '" + relative +
                        "' leads out of the recipe's directory " + base.string() + " (to " +
                        full.string() + "); sources must live beside the recipe",
                    ExitStatus::kUsage);
    return full.string();
}

}  // namespace ingot::imagebuild
