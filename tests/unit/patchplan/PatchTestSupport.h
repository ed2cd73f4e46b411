// Two signed local archives for the plan tests, built with the archive tests' helpers (real
// .debs from dpkg-deb with gzipped changelogs, Packages from dpkg-scanpackages, InRelease
// clearsigned by a throwaway key) and served through file:// URLs: a security suite
// "ingot-security" and its base suite "ingot", and the dpkg status of an image that lacks
// the security suite's updates.
#pragma once

#include <string>
#include <vector>

#include "ArchiveTestSupport.h"
#include "ingot/core/Sha256.h"

namespace ingot::patch::test {

using debian::test::nowSeconds;
using debian::test::readFile;
using debian::test::releaseDate;
using debian::test::run;
using debian::test::writeFile;
namespace fs = std::filesystem;

struct DebSpec {
    std::string name;
    std::string version;
    std::string arch = "amd64";
    std::string control;    // more control fields, each line ending in "\n"
    std::string changelog;  // usr/share/doc/NAME/changelog.Debian.gz's text; "" for none
    std::string docLink;    // usr/share/doc/NAME is a symlink to this directory instead
};

// One changelog entry in dpkg-parsechangelog's format.
inline std::string changelogEntry(const std::string& package, const std::string& version,
                                  const std::string& distribution,
                                  const std::vector<std::string>& changes) {
    std::string out = package + " (" + version + ") " + distribution + "; urgency=high\n\n";
    for (const auto& c : changes) out += "  * " + c + "\n";
    return out + "\n -- ingot tests <tests@example.org>  Sat, 10 Aug 2024 09:13:09 +0000\n\n";
}

inline const std::string& helloChangelog() {
    static const std::string text =
        changelogEntry("hello", "1.1-1", "ingot-security",
                       {"Fix CVE-2024-1111: overflow in greeting.", "Also cve-2024-2222."}) +
        changelogEntry("hello", "1.0-2", "ingot-security", {"CVE-2023-0001."}) +
        changelogEntry("hello", "1.0-1", "ingot", {"CVE-2020-9999, fixed long ago."});
    return text;
}

// The security suite: updates for hello (with CVEs, new and upgraded dependencies), its
// binary libhello1 (whose doc directory points at hello's), common-data (Architecture: all),
// tool (dependencies nothing satisfies), and libold, which has nothing newer for amd64.
inline std::vector<DebSpec> securityDebs() {
    return {
        {"hello", "1.1-1", "amd64",
         "Depends: libc6 (>= 2.30), libhello1 (= 1.1-1), hello-data (>= 1.1), libbase (>= 1.5), "
         "libnew (>= 2.0)\n",
         helloChangelog(), ""},
        {"libhello1", "1.1-1", "amd64", "Source: hello\nMulti-Arch: same\n", "", "hello"},
        {"hello-data", "1.1-1", "all", "Source: hello\n", helloChangelog(), ""},
        {"common-data", "1.2-1", "all", "",
         changelogEntry("common-data", "1.2-1", "ingot-security", {"CVE-2024-3333."}) +
             changelogEntry("common-data", "1.1-1", "ingot", {"No security fix here."}),
         ""},
        {"libold", "1.0-1", "amd64", "", "", ""},
        {"libold", "3.0-1", "arm64", "", "", ""},
        {"tool", "2.0-1", "amd64",
         "Pre-Depends: libversioned (>= 5.0)\n"
         "Depends: libmissing (>= 3) | libalso-missing, mail-transport-agent\n",
         changelogEntry("tool", "2.0-1", "ingot-security", {"Hardening, no CVE id."}), ""},
    };
}

inline std::vector<DebSpec> baseDebs() {
    return {
        {"hello", "1.0-1", "amd64", "", "", ""},
        {"libbase", "1.5-1", "amd64", "",
         changelogEntry("libbase", "1.5-1", "ingot", {"CVE-2024-5555 in the point release."}), ""},
        {"libnew", "2.0-1", "amd64", "Depends: libnew-common\n", "", ""},
        {"libnew-common", "2.0-1", "all", "", "", ""},
        {"libversioned", "4.0-1", "amd64", "", "", ""},
    };
}

inline std::string statusParagraph(const std::string& package, const std::string& version,
                                   const std::string& arch, const std::string& extra = "",
                                   const std::string& status = "install ok installed") {
    return "Package: " + package + "\nStatus: " + status + "\nVersion: " + version +
           "\nArchitecture: " + arch + "\nMaintainer: ingot tests <tests@example.org>\n" + extra +
           "Description: test\n\n";
}

// What an image built before the security suite's updates has installed.
inline std::string imageStatus() {
    return statusParagraph("dpkg", "1.21.22", "amd64") +
           statusParagraph("base-files", "12.4", "amd64") +
           statusParagraph("libc6", "2.36-9", "amd64", "Multi-Arch: same\n") +
           statusParagraph("hello", "1.0-1", "amd64") +
           statusParagraph("libhello1", "1.0-1", "amd64", "Source: hello\nMulti-Arch: same\n") +
           statusParagraph("common-data", "1.0-1", "all") +
           statusParagraph("libold", "1.0-1", "amd64") + statusParagraph("tool", "1.0-1", "amd64") +
           statusParagraph("libbase", "1.0-1", "amd64") +
           statusParagraph("postfix", "3.7.11-0", "amd64", "Provides: mail-transport-agent\n") +
           statusParagraph("gone", "1.0-1", "amd64", "Provides: libmissing (= 9)\n",
                           "deinstall ok config-files");
}

// Builds .debs and signed archives under `dir`.
class TestArchives {
public:
    explicit TestArchives(const std::string& dir) : dir_(dir), gnupg_(dir + "/gnupg") {
        gnupg_.addKey("ingot plan key");
        gnupg_.exportKeyring("ingot plan key", keyring());
    }

    std::string keyring() const { return dir_ + "/archive.gpg"; }

    // A complete archive at DIR/NAME holding `debs` for suite `suite`; returns its root.
    std::string build(const std::string& name, const std::string& suite,
                      const std::vector<DebSpec>& debs) {
        const std::string root = dir_ + "/" + name;
        for (const DebSpec& d : debs) buildDeb(d, root + "/pool/main/" + d.name);
        const std::string packages =
            run({"dpkg-scanpackages", "--multiversion", "pool", "/dev/null"}, root);
        const std::string dists = root + "/dists/" + suite;
        const std::string index = dists + "/main/binary-amd64";
        writeFile(index + "/Packages", packages);
        run({"xz", "--keep", index + "/Packages"});
        std::string sums;
        for (const char* file : {"main/binary-amd64/Packages", "main/binary-amd64/Packages.xz"}) {
            const std::string bytes = readFile(dists + "/" + file);
            sums += " " + ingot::toHex(ingot::sha256(bytes)) + " " + std::to_string(bytes.size()) +
                    " " + file + "\n";
        }
        writeFile(dists + "/Release",
                  "Origin: ingot tests\nLabel: ingot tests\nSuite: " + suite +
                      "\nCodename: " + suite + "\nDate: " + releaseDate(nowSeconds() - 3600) +
                      "\nValid-Until: " + releaseDate(nowSeconds() + 7 * 86400) +
                      "\nArchitectures: amd64\nComponents: main\nSHA256:\n" + sums);
        gnupg_.clearsign({"ingot plan key"}, dists + "/Release", dists + "/InRelease");
        return root;
    }

private:
    void buildDeb(const DebSpec& d, const std::string& pool) {
        const std::string root = dir_ + "/build/" + d.name + "_" + d.version + "_" + d.arch;
        writeFile(root + "/DEBIAN/control",
                  "Package: " + d.name + "\nVersion: " + d.version + "\nArchitecture: " + d.arch +
                      "\nMaintainer: ingot tests <tests@example.org>\n" + d.control +
                      "Description: a package for the plan tests\n");
        const std::string doc = root + "/usr/share/doc/" + d.name;
        if (!d.docLink.empty()) {
            fs::create_directories(fs::path(doc).parent_path());
            fs::create_symlink(d.docLink, doc);
        } else {
            writeFile(doc + "/copyright", "public domain\n");
            if (!d.changelog.empty()) {
                writeFile(doc + "/changelog.Debian", d.changelog);
                run({"gzip", "-9n", doc + "/changelog.Debian"});
            }
        }
        fs::create_directories(pool);
        run({"dpkg-deb", "--root-owner-group", "-Zxz", "--build", root,
             pool + "/" + d.name + "_" + d.version + "_" + d.arch + ".deb"});
    }

    std::string dir_;
    debian::test::TestGnupg gnupg_;
};

inline bool haveArchiveTools(std::string& missing) {
    for (const char* tool :
         {"gpg", "gpgv", "gpgconf", "dpkg-deb", "dpkg-scanpackages", "xz", "gzip"})
        if (!debian::test::haveTool(tool)) {
            missing = tool;
            return false;
        }
    return true;
}

}  // namespace ingot::patch::test
