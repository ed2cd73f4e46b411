#include "ingot/patch/DpkgDatabase.h"

#include <openssl/evp.h>

#include <memory>

#include "ingot/core/Error.h"
#include "ingot/debian/Deb822.h"
#include "ingot/debian/Text.h"

namespace ingot::patch {

namespace text = debian::text;

std::string StatusStanza::get(std::string_view name) const {
    for (const auto& [n, v] : fields)
        if (text::iequals(n, name)) return v;
    return {};
}

bool StatusStanza::has(std::string_view name) const {
    for (const auto& [n, v] : fields)
        if (text::iequals(n, name)) return true;
    return false;
}

void StatusStanza::set(std::string_view name, std::string value, std::string_view after) {
    for (auto& [n, v] : fields)
        if (text::iequals(n, name)) {
            v = std::move(value);
            return;
        }
    auto at = fields.end();
    if (!after.empty())
        for (auto it = fields.begin(); it != fields.end(); ++it)
            if (text::iequals(it->first, after)) {
                at = it + 1;
                break;
            }
    fields.insert(at, {std::string(name), std::move(value)});
}

void StatusStanza::erase(std::string_view name) {
    std::erase_if(fields, [&](const auto& f) { return text::iequals(f.first, name); });
}

DpkgStatusFile DpkgStatusFile::parse(std::string_view statusText, std::string_view where) {
    debian::Deb822Options options;
    options.source = std::string(where);
    DpkgStatusFile file;
    for (const debian::Paragraph& p : debian::parseDeb822(statusText, options)) {
        StatusStanza stanza;
        for (const debian::Field& f : p.fields()) stanza.fields.emplace_back(f.name, f.value);
        if (stanza.get("Package").empty())
            throw Error(std::string(where) + " line " + std::to_string(p.line()) +
                            ": a paragraph without a Package field",
                        ExitStatus::kUsage);
        file.stanzas_.push_back(std::move(stanza));
    }
    return file;
}

std::string DpkgStatusFile::serialize() const {
    std::string out;
    for (const StatusStanza& s : stanzas_) {
        for (const auto& [name, value] : s.fields) {
            out += name;
            out += ':';
            if (!value.empty() && value.front() != '\n') out += ' ';
            for (char c : value) {
                out += c;
                if (c == '\n') out += ' ';
            }
            out += '\n';
        }
        out += '\n';
    }
    return out;
}

StatusStanza* DpkgStatusFile::find(std::string_view name, std::string_view architecture) {
    StatusStanza* only = nullptr;
    size_t named = 0;
    for (StatusStanza& s : stanzas_) {
        if (s.get("Package") != name) continue;
        if (architecture.empty() || s.get("Architecture") == architecture) return &s;
        ++named;
        only = &s;
    }
    // An "all" package becoming native (or back) is still the same package, unless several
    // architectures of it are installed side by side.
    if (named == 1 && only->get("Multi-Arch") != "same") return only;
    return nullptr;
}

const StatusStanza* DpkgStatusFile::find(std::string_view name,
                                         std::string_view architecture) const {
    return const_cast<DpkgStatusFile*>(this)->find(name, architecture);
}

void DpkgStatusFile::put(StatusStanza stanza) {
    if (StatusStanza* existing = find(stanza.get("Package"), stanza.get("Architecture"))) {
        *existing = std::move(stanza);
        return;
    }
    stanzas_.push_back(std::move(stanza));
}

std::string infoName(std::string_view package, std::string_view architecture,
                     std::string_view multiArch) {
    if (multiArch == "same") return std::string(package) + ":" + std::string(architecture);
    return std::string(package);
}

std::optional<std::string> readTreeFile(const imagebuild::Tree& tree, const std::string& path,
                                        std::string_view where) {
    const std::string resolved = tree.resolve(path, where);
    auto inode = tree.find(resolved);
    if (!inode || inode->type != imagebuild::NodeType::kFile) return std::nullopt;
    return inode->content ? inode->content->bytes() : std::string();
}

void putTreeFile(imagebuild::Tree& tree, const std::string& path, std::string bytes, uint32_t mode,
                 int64_t mtime, std::string_view where) {
    auto inode = std::make_shared<imagebuild::Inode>();
    inode->type = imagebuild::NodeType::kFile;
    inode->mode = mode;
    inode->mtime = mtime;
    inode->content = imagebuild::makeBlob(std::move(bytes));
    tree.put(path, std::move(inode), where);
}

std::map<std::string, Diversion> readDiversions(const imagebuild::Tree& tree) {
    std::map<std::string, Diversion> out;
    const std::string where = "var/lib/dpkg/diversions";
    auto content = readTreeFile(tree, where, where);
    if (!content) return out;
    std::vector<std::string_view> lines = text::lines(*content);
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    if (lines.size() % 3 != 0)
        throw Error(where + ": " + std::to_string(lines.size()) +
                        " lines, not three per diversion (from, to, package)",
                    ExitStatus::kUsage);
    for (size_t i = 0; i < lines.size(); i += 3) {
        const std::string at = where + " line " + std::to_string(i + 1);
        std::string from = imagebuild::normalizePath(lines[i], at);
        std::string to = imagebuild::normalizePath(lines[i + 1], at);
        if (from.empty() || to.empty())
            throw Error(at + ": a diversion of the root directory", ExitStatus::kUsage);
        out[from] = {to, std::string(lines[i + 2])};
    }
    return out;
}

std::vector<FileTriggerInterest> readFileTriggerInterests(const imagebuild::Tree& tree) {
    std::vector<FileTriggerInterest> out;
    const std::string where = "var/lib/dpkg/triggers/File";
    auto content = readTreeFile(tree, where, where);
    if (!content) return out;
    size_t number = 0;
    for (std::string_view line : text::lines(*content)) {
        ++number;
        auto words = text::words(line);
        if (words.empty()) continue;
        const std::string at = where + " line " + std::to_string(number);
        if (words.size() != 2)
            throw Error(at + ": expected 'PATH PACKAGE', got '" + text::printable(line) + "'",
                        ExitStatus::kUsage);
        std::string package(words[1]);
        if (auto slash = package.find('/'); slash != std::string::npos) package.resize(slash);
        out.push_back({imagebuild::normalizePath(words[0], at), package});
    }
    return out;
}

std::vector<std::string> readTriggerInterests(const imagebuild::Tree& tree, std::string_view name) {
    std::vector<std::string> out;
    // Trigger names are words without '/'; anything else is not a file under triggers/.
    if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..")
        return out;
    const std::string where = "var/lib/dpkg/triggers/" + std::string(name);
    auto content = readTreeFile(tree, where, where);
    if (!content) return out;
    for (std::string_view line : text::lines(*content))
        for (std::string_view word : text::words(line)) {
            std::string package(word);
            if (auto slash = package.find('/'); slash != std::string::npos) package.resize(slash);
            out.push_back(package);
        }
    return out;
}

std::string md5Hex(std::string_view bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr) != 1)
        throw Error("md5: OpenSSL's digest failed");
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

}  // namespace ingot::patch
