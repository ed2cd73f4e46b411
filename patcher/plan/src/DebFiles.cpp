#include "DebFiles.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::patch {

namespace {

using ReadHandle = std::unique_ptr<archive, decltype(&archive_read_free)>;

ReadHandle newReader(const std::string& what) {
    ReadHandle a(archive_read_new(), archive_read_free);
    if (!a) throw Error("cannot initialise libarchive to read " + what);
    return a;
}

std::string reason(archive* a) {
    const char* why = archive_error_string(a);
    return why ? std::string(": ") + why : std::string();
}

// Tar member names as dpkg-deb writes them ("./usr/share/..."), in canonical form.
std::string canonical(std::string_view name) {
    while (name.starts_with("./") || name.starts_with('/'))
        name.remove_prefix(name.starts_with('/') ? 1 : 2);
    while (name.ends_with('/')) name.remove_suffix(1);
    return std::string(name);
}

// The inner tarball is read straight out of the outer ar member.
struct MemberSource {
    archive* outer;
    std::vector<char> buffer = std::vector<char>(64 * 1024);
};

la_ssize_t readMember(archive* inner, void* data, const void** block) {
    auto* source = static_cast<MemberSource*>(data);
    const la_ssize_t n =
        archive_read_data(source->outer, source->buffer.data(), source->buffer.size());
    if (n < 0) {
        const char* why = archive_error_string(source->outer);
        archive_set_error(inner, EIO, "%s", why ? why : "cannot read the member");
        return ARCHIVE_FATAL;
    }
    *block = source->buffer.data();
    return n;
}

}  // namespace

std::map<std::string, DebEntry> readDebDataEntries(const std::string& debPath,
                                                   const std::set<std::string>& paths,
                                                   uint64_t maxBytes) {
    auto fail = [&](const std::string& what) {
        throw Error(debPath + ": " + what, ExitStatus::kUsage);
    };
    ReadHandle outer = newReader(debPath);
    archive_read_support_format_ar(outer.get());
    if (archive_read_open_filename(outer.get(), debPath.c_str(), 64 * 1024) != ARCHIVE_OK)
        fail("cannot open the package" + reason(outer.get()));
    std::map<std::string, DebEntry> found;
    bool sawData = false;
    for (;;) {
        archive_entry* member = nullptr;
        const int status = archive_read_next_header(outer.get(), &member);
        if (status == ARCHIVE_EOF) break;
        if (status != ARCHIVE_OK) fail("not a readable Debian package" + reason(outer.get()));
        const char* memberName = archive_entry_pathname(member);
        if (!memberName || !std::string_view(memberName).starts_with("data.tar")) continue;
        if (sawData) fail("has two data members");
        sawData = true;

        ReadHandle inner = newReader(debPath);
        archive_read_support_format_tar(inner.get());
        for (auto add : {archive_read_support_filter_gzip, archive_read_support_filter_xz,
                         archive_read_support_filter_zstd, archive_read_support_filter_bzip2,
                         archive_read_support_filter_lzma})
            add(inner.get());
        MemberSource source{outer.get()};
        const std::string where = debPath + " (" + memberName + ")";
        if (archive_read_open(inner.get(), &source, nullptr, readMember, nullptr) != ARCHIVE_OK)
            throw Error(where + ": cannot read" + reason(inner.get()), ExitStatus::kUsage);
        for (;;) {
            archive_entry* entry = nullptr;
            const int s = archive_read_next_header(inner.get(), &entry);
            if (s == ARCHIVE_EOF) break;
            if (s != ARCHIVE_OK && s != ARCHIVE_WARN)
                throw Error(where + ": corrupt" + reason(inner.get()), ExitStatus::kUsage);
            const char* raw = archive_entry_pathname(entry);
            if (!raw) continue;
            const std::string name = canonical(raw);
            if (!paths.contains(name)) continue;
            DebEntry out;
            if (const char* link = archive_entry_hardlink(entry)) {
                out.kind = DebEntry::Kind::kHardlink;
                out.target = canonical(link);
            } else if (archive_entry_filetype(entry) == AE_IFLNK) {
                out.kind = DebEntry::Kind::kSymlink;
                const char* target = archive_entry_symlink(entry);
                out.target = target ? target : "";
            } else if (archive_entry_filetype(entry) == AE_IFREG) {
                out.kind = DebEntry::Kind::kFile;
                if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0 &&
                    static_cast<uint64_t>(archive_entry_size(entry)) > maxBytes)
                    throw Error(
                        where + ": " + name + " is over " + std::to_string(maxBytes) + " bytes",
                        ExitStatus::kUsage);
                char buffer[65536];
                for (;;) {
                    const la_ssize_t n = archive_read_data(inner.get(), buffer, sizeof buffer);
                    if (n < 0)
                        throw Error(where + ": corrupt at " + name + reason(inner.get()),
                                    ExitStatus::kUsage);
                    if (n == 0) break;
                    if (out.bytes.size() + static_cast<uint64_t>(n) > maxBytes)
                        throw Error(
                            where + ": " + name + " is over " + std::to_string(maxBytes) + " bytes",
                            ExitStatus::kUsage);
                    out.bytes.append(buffer, static_cast<size_t>(n));
                }
            }
            found[name] = std::move(out);
        }
    }
    if (!sawData) fail("not a Debian package: it has no data.tar member");
    return found;
}


}  // namespace ingot::patch
