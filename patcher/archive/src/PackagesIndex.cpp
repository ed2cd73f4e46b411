#include "ingot/debian/PackagesIndex.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "ingot/debian/Text.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/debian/Deb822.h"

namespace ingot::debian {

namespace {

[[noreturn]] void bad(std::string_view source, size_t line, const std::string& why) {
    throw Error(std::string(source) + " line " + std::to_string(line) + ": " + why,
                ExitStatus::kUsage);
}

// Package and architecture names as Debian policy spells them; anything else in a hostile
// index would end up in file names and messages.
bool isPackageName(std::string_view s) {
    if (s.empty() || !(text::isDigit(s[0]) || (s[0] >= 'a' && s[0] <= 'z'))) return false;
    for (char c : s)
        if (!text::isDigit(c) && !(c >= 'a' && c <= 'z') && c != '+' && c != '-' && c != '.')
            return false;
    return true;
}

bool isArchitecture(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!text::isDigit(c) && !(c >= 'a' && c <= 'z') && c != '-') return false;
    return true;
}

}  // namespace

void checkAgainstRelease(std::string_view bytes, const ReleaseFile& entry) {
    if (bytes.size() != entry.size)
        throw Error(entry.path + " is " + std::to_string(bytes.size()) +
                        " bytes, but the signed Release says " + std::to_string(entry.size),
                    ExitStatus::kVerification);
    const std::string actual = toHex(sha256(bytes));
    if (actual != entry.sha256)
        throw Error(
            entry.path + " has sha256 " + actual + ", but the signed Release says " + entry.sha256,
            ExitStatus::kVerification);
}


void PackagesIndex::addCompressed(std::string_view xzBytes, const ReleaseFile& entry,
                                  std::string_view component, uint64_t maxBytes) {
    checkAgainstRelease(xzBytes, entry);
    addText(decompressXz(xzBytes, entry.path, maxBytes), entry.path, component, maxBytes);
}

void PackagesIndex::addText(std::string_view text, std::string_view source,
                            std::string_view component, uint64_t maxBytes) {
    Deb822Options options;
    options.source = std::string(source);
    options.maxBytes = maxBytes;
    const auto paragraphs = parseDeb822(text, options);
    const size_t first = records_.size();
    records_.reserve(records_.size() + paragraphs.size());
    for (const Paragraph& p : paragraphs) {
        auto required = [&](std::string_view name) -> const Field& {
            const Field* f = p.find(name);
            if (!f || f->value.empty())
                bad(source, p.line(),
                    "the paragraph " +
                        (p.has("Package") ? "for " + text::printable(p.get("Package"), 60) + " "
                                          : std::string()) +
                        "has no " + std::string(name) + " field");
            return *f;
        };
        const Field& package = required("Package");
        if (!isPackageName(package.value))
            bad(source, package.line,
                "'" + text::printable(package.value, 60) + "' is not a package name");
        const std::string who = "package " + package.value + ": ";
        auto version = [&](const Field& f, std::string_view text) {
            try {
                return Version::parse(text);
            } catch (const Error& e) {
                bad(source, f.line, who + e.what());
            }
        };
        const Field& versionField = required("Version");
        const Version v = version(versionField, versionField.value);
        const Field& arch = required("Architecture");
        if (!isArchitecture(arch.value))
            bad(source, arch.line,
                who + "'" + text::printable(arch.value, 60) + "' is not an architecture");
        const Field& filename = required("Filename");
        if (!text::isSafeRelativePath(filename.value))
            bad(source, filename.line,
                who + "Filename '" + text::printable(filename.value) +
                    "' is not a relative path inside the archive");
        const Field& sizeField = required("Size");
        const auto size = text::parseUnsigned(sizeField.value);
        if (!size) bad(source, sizeField.line, who + "Size is not a number");
        const Field& sha = required("SHA256");
        if (!text::isSha256Hex(sha.value))
            bad(source, sha.line, who + "SHA256 is not 64 lower-case hex digits");

        std::string sourceName = package.value;
        Version sourceVersion = v;
        if (const Field* src = p.find("Source"); src && !src->value.empty()) {
            // "name" or "name (version)" when the binary's version differs from the source's.
            const std::string_view value = src->value;
            const size_t paren = value.find('(');
            sourceName = std::string(text::trim(value.substr(0, paren)));
            if (!isPackageName(sourceName))
                bad(source, src->line,
                    who + "Source '" + text::printable(value) + "' is not a package name");
            if (paren != std::string_view::npos) {
                const std::string_view rest = text::trim(value.substr(paren + 1));
                if (!rest.ends_with(')'))
                    bad(source, src->line,
                        who + "Source '" + text::printable(value) + "' lacks its ')'");
                sourceVersion = version(*src, rest.substr(0, rest.size() - 1));
            }
        }
        records_.push_back(PackageRecord{package.value, v, arch.value, filename.value, *size,
                                         sha.value, p.get("Depends"), p.get("Pre-Depends"),
                                         sourceName, sourceVersion, p.get("Multi-Arch"),
                                         std::string(component)});
    }
    for (size_t i = first; i < records_.size(); ++i) {
        const PackageRecord& r = records_[i];
        auto [it, inserted] = newest_.try_emplace({r.package, r.architecture}, i);
        if (!inserted && compareVersions(r.version, records_[it->second].version) > 0)
            it->second = i;
    }
}

const PackageRecord* PackagesIndex::newest(std::string_view package,
                                           std::string_view architecture) const {
    auto it = newest_.find({std::string(package), std::string(architecture)});
    return it == newest_.end() ? nullptr : &records_[it->second];
}

const PackageRecord* PackagesIndex::newestFor(std::string_view package,
                                              std::string_view architecture) const {
    if (const PackageRecord* r = newest(package, architecture)) return r;
    return newest(package, "all");
}

}  // namespace ingot::debian
