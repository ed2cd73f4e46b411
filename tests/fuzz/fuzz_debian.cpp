// What `ingot patch` reads from archives and images, over arbitrary bytes. The first byte picks
// the parser; the rest is its input. Besides not crashing, properties: failures are
// ingot::Error; dpkg's version order is antisymmetric and reflexive; the status file's editable
// form serialises to text that parses back to the same text (what the unpack writes is what it
// read, plus its edits); every CVE id found is "CVE-" and digits.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "FuzzCheck.h"
#include "ingot/core/Error.h"
#include "ingot/debian/Changelog.h"
#include "ingot/debian/DpkgStatus.h"
#include "ingot/debian/PackagesIndex.h"
#include "ingot/debian/Release.h"
#include "ingot/debian/Version.h"
#include "ingot/patch/AptSources.h"
#include "ingot/patch/DpkgDatabase.h"

using namespace ingot;

namespace {

void statusRoundTrip(std::string_view text) {
    patch::DpkgStatusFile parsed;
    try {
        parsed = patch::DpkgStatusFile::parse(text, "fuzz status");
        debian::parseDpkgStatus(text, "fuzz status");
    } catch (const Error&) {
        return;
    }
    const std::string once = parsed.serialize();
    patch::DpkgStatusFile again;
    try {
        again = patch::DpkgStatusFile::parse(once, "fuzz status, serialised");
    } catch (const Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        FUZZ_CHECK(!"the serialised status file does not parse");
    }
    FUZZ_CHECK(again.serialize() == once);
    FUZZ_CHECK(again.stanzas().size() == parsed.stanzas().size());
}

void versions(std::string_view text) {
    const size_t split = text.find('\0');
    if (split == std::string_view::npos) return;
    std::optional<debian::Version> a, b;
    try {
        a = debian::Version::parse(text.substr(0, split));
        b = debian::Version::parse(text.substr(split + 1));
    } catch (const Error&) {
        return;
    }
    const int ab = debian::compareVersions(*a, *b), ba = debian::compareVersions(*b, *a);
    FUZZ_CHECK((ab < 0) == (ba > 0) && (ab == 0) == (ba == 0));
    FUZZ_CHECK(debian::compareVersions(*a, *a) == 0);
}

void changelog(std::string_view text) {
    for (const std::string& cve : debian::findCves(text)) {
        FUZZ_CHECK(cve.size() >= 13 && cve.compare(0, 4, "CVE-") == 0);
        for (size_t i = 4; i < cve.size(); ++i)
            FUZZ_CHECK(std::isdigit(static_cast<unsigned char>(cve[i])) || (i == 8 && cve[i] == '-'));
    }
    try {
        debian::fixesSince(text, "fuzz changelog", debian::Version::parse("1.0-1"));
    } catch (const Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        switch (data[0] % 6) {
            case 0:
                statusRoundTrip(text);
                break;
            case 1:
                versions(text);
                break;
            case 2:
                debian::parseRelease(text, "fuzz Release");
                break;
            case 3: {
                debian::PackagesIndex index;
                index.addText(text, "fuzz Packages", "main");
                break;
            }
            case 4:
                changelog(text);
                break;
            case 5:
                patch::parseOneLineSources(text, "fuzz sources.list");
                patch::parseDeb822Sources(text, "fuzz .sources");
                break;
        }
    } catch (const Error&) {
        // Refused with a message naming the input: what hostile bytes should get.
    }
    return 0;
}
