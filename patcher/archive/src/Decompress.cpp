#include "ingot/debian/Decompress.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "ingot/core/Error.h"

namespace ingot::debian {

std::string decompress(std::string_view bytes, Compression compression, std::string_view source,
                       uint64_t maxBytes) {
    const bool xz = compression == Compression::kXz;
    const std::string name = xz ? "xz" : "gzip";
    const std::string where(source);
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    if (!a) throw Error("cannot initialise libarchive");
    if (xz)
        archive_read_support_filter_xz(a.get());
    else
        archive_read_support_filter_gzip(a.get());
    archive_read_support_format_raw(a.get());
    // The raw format wants at least one byte; an index with nothing in it (a suite with no
    // packages for an architecture yet) is a compressed empty stream, which "empty" takes.
    archive_read_support_format_empty(a.get());
    auto fail = [&](const std::string& what) -> Error {
        const char* why = archive_error_string(a.get());
        return Error(where + ": " + what + (why ? std::string(": ") + why : std::string()),
                     ExitStatus::kUsage);
    };
    if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
        throw fail("cannot read the " + name + " stream");
    archive_entry* entry = nullptr;
    const int header = archive_read_next_header(a.get(), &entry);
    if (header != ARCHIVE_OK && header != ARCHIVE_EOF)
        throw fail("cannot read the " + name + " stream");
    if (archive_filter_count(a.get()) < 2 ||
        archive_filter_code(a.get(), 0) != (xz ? ARCHIVE_FILTER_XZ : ARCHIVE_FILTER_GZIP))
        throw Error(where + ": not " + name + "-compressed", ExitStatus::kUsage);
    std::string out;
    if (header == ARCHIVE_EOF) return out;
    char buffer[65536];
    for (;;) {
        const la_ssize_t n = archive_read_data(a.get(), buffer, sizeof buffer);
        if (n < 0) throw fail("corrupt " + name + " stream");
        if (n == 0) break;
        if (out.size() + static_cast<uint64_t>(n) > maxBytes)
            throw Error(
                where + ": decompresses to more than " + std::to_string(maxBytes) + " bytes",
                ExitStatus::kUsage);
        out.append(buffer, static_cast<size_t>(n));
    }
    return out;
}

}  // namespace ingot::debian
