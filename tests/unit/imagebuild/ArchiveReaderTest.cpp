#include "ingot/imagebuild/ArchiveReader.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ingot/core/Error.h"
#include "ingot/imagebuild/TarWriter.h"
#include "../../support/TempDir.h"

using namespace ingot::imagebuild;
namespace fs = std::filesystem;

namespace {

// One archive member for the libarchive writer. Fields are set one by one by the helpers below.
struct Member {
    std::string name;
    mode_t type = AE_IFREG;
    unsigned perm = 0644;
    int64_t uid = 0, gid = 0, mtime = 1'600'000'000;
    std::string content;
    std::string symlink;
    std::string hardlink;
    unsigned major = 0, minor = 0;
    int64_t ino = 0;
    unsigned nlink = 1;
    std::vector<std::pair<std::string, std::string>> xattrs;
};

Member file(std::string name, std::string content, unsigned perm = 0644) {
    Member m;
    m.name = std::move(name);
    m.content = std::move(content);
    m.perm = perm;
    return m;
}

Member dir(std::string name, unsigned perm = 0755) {
    Member m;
    m.name = std::move(name);
    m.type = AE_IFDIR;
    m.perm = perm;
    return m;
}

Member slink(std::string name, std::string target) {
    Member m;
    m.name = std::move(name);
    m.type = AE_IFLNK;
    m.perm = 0777;
    m.symlink = std::move(target);
    return m;
}

Member hlink(std::string name, std::string target) {
    Member m;
    m.name = std::move(name);
    m.hardlink = std::move(target);
    return m;
}

Member device(std::string name, mode_t type, unsigned major, unsigned minor) {
    Member m;
    m.name = std::move(name);
    m.type = type;
    m.perm = 0600;
    m.major = major;
    m.minor = minor;
    return m;
}

// Writes `members` with libarchive in `format` (an ARCHIVE_FORMAT_* code) and `filter`.
std::string makeArchive(const std::vector<Member>& members,
                        int format = ARCHIVE_FORMAT_TAR_PAX_RESTRICTED,
                        int filter = ARCHIVE_FILTER_NONE) {
    std::string out;
    archive* a = archive_write_new();
    if (format == ARCHIVE_FORMAT_AR_GNU)  // not in archive_write_set_format's table
        EXPECT_EQ(archive_write_set_format_ar_svr4(a), ARCHIVE_OK);
    else
        EXPECT_EQ(archive_write_set_format(a, format), ARCHIVE_OK) << archive_error_string(a);
    EXPECT_EQ(archive_write_add_filter(a, filter), ARCHIVE_OK) << archive_error_string(a);
    // Zero padding after a zstd frame is more than libarchive's zstd reader accepts (and more
    // than zstd(1) does); GNU tar does not pad compressed output either.
    EXPECT_EQ(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
    EXPECT_EQ(archive_write_open(
                  a, &out, nullptr,
                  [](archive*, void* client, const void* buffer, size_t length) -> la_ssize_t {
                      static_cast<std::string*>(client)->append(static_cast<const char*>(buffer),
                                                                length);
                      return static_cast<la_ssize_t>(length);
                  },
                  nullptr),
              ARCHIVE_OK);
    for (const auto& m : members) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, m.name.c_str());
        archive_entry_set_filetype(e, m.type);
        archive_entry_set_perm(e, m.perm);
        archive_entry_set_uid(e, m.uid);
        archive_entry_set_gid(e, m.gid);
        archive_entry_set_uname(e, "someone");  // must be ignored: owners are numeric
        archive_entry_set_mtime(e, m.mtime, 0);
        archive_entry_set_ino(e, m.ino);
        archive_entry_set_nlink(e, m.nlink);
        if (!m.symlink.empty()) archive_entry_set_symlink(e, m.symlink.c_str());
        if (!m.hardlink.empty()) archive_entry_set_hardlink(e, m.hardlink.c_str());
        archive_entry_set_rdevmajor(e, m.major);
        archive_entry_set_rdevminor(e, m.minor);
        for (const auto& [key, value] : m.xattrs)
            archive_entry_xattr_add_entry(e, key.c_str(), value.data(), value.size());
        archive_entry_set_size(e, static_cast<la_int64_t>(m.content.size()));
        EXPECT_GE(archive_write_header(a, e), ARCHIVE_WARN) << m.name << archive_error_string(a);
        if (!m.content.empty()) {
            EXPECT_EQ(archive_write_data(a, m.content.data(), m.content.size()),
                      static_cast<la_ssize_t>(m.content.size()));
        }
        archive_entry_free(e);
    }
    EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

// A raw ustar header, for what libarchive's writer would not produce.
std::string rawHeader(std::string_view name, char type, uint64_t size,
                      std::string_view linkname = "") {
    std::string h(512, '\0');
    std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(&h[100], 8, "%07o", 0644);
    std::snprintf(&h[108], 8, "%07o", 0);
    std::snprintf(&h[116], 8, "%07o", 0);
    std::snprintf(&h[124], 12, "%011llo", static_cast<unsigned long long>(size));
    std::snprintf(&h[136], 12, "%011o", 0);
    h[156] = type;
    std::memcpy(&h[157], linkname.data(), std::min<size_t>(linkname.size(), 100));
    std::memcpy(&h[257], "ustar", 6);
    std::memcpy(&h[263], "00", 2);
    std::memset(&h[148], ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(&h[148], 8, "%06o", sum);
    h[155] = ' ';
    return h;
}

std::string padded(std::string data) {
    data.resize((data.size() + 511) / 512 * 512, '\0');
    return data;
}

// A pax extended header holding `records` ("path=x"), each framed as "<len> key=value\n".
std::string paxHeader(const std::vector<std::string>& records) {
    std::string body;
    for (const auto& record : records) {
        size_t length = record.size() + 3;  // " " and "\n" and at least one digit
        while (std::to_string(length).size() + record.size() + 2 != length) ++length;
        body += std::to_string(length) + " " + record + "\n";
    }
    return rawHeader("PaxHeader/x", 'x', body.size()) + padded(body);
}

std::string endOfTar() {
    return std::string(1024, '\0');
}

ArchiveReadOptions defaults() {
    return ArchiveReadOptions{};
}

Tree read(std::string_view bytes, const ArchiveReadOptions& options = defaults()) {
    Tree tree;
    readArchiveMemory(bytes, "test.tar", tree, options);
    return tree;
}

// The ingot::Error message reading `bytes` gives (fails the test when there is none).
std::string readError(std::string_view bytes, const ArchiveReadOptions& options = defaults(),
                      std::string_view name = "base.tar.gz") {
    Tree tree;
    try {
        readArchiveMemory(bytes, name, tree, options);
    } catch (const ingot::Error& e) {
        EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

#define EXPECT_CONTAINS(haystack, needle)                            \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
        << "\"" << (haystack) << "\" lacks \"" << (needle) << "\""

std::string content(const Tree& tree, const std::string& path) {
    auto inode = tree.find(path);
    if (!inode) return "<missing>";
    return inode->content ? inode->content->bytes() : "";
}

std::string readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

void writeFile(const fs::path& path, std::string_view bytes, mode_t mode = 0644) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ::chmod(path.c_str(), mode);
}

std::string quote(const std::string& text) {
    return "'" + text + "'";
}

using ingot::test::TempDir;

bool haveProgram(const std::string& name) {
    return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace

// --- what survives -----------------------------------------------------------------------

TEST(ArchiveReader, KeepsOwnersModesTimesXattrsAndLinks) {
    Member tool = file("./usr/bin/tool", "binary", 04755);
    tool.uid = 1000;
    tool.gid = 2000;
    tool.mtime = 1'234'567'890;
    tool.xattrs.emplace_back("security.capability", std::string("\x01\x00\x00\x02\x00\x20", 6));
    tool.xattrs.emplace_back("user.note", "hello");
    Member gtool = file("usr/bin/gtool", "g", 02711);
    Member tmp = dir("./tmp", 01777);
    Member root = dir("./", 0700);
    root.uid = 5;
    std::string bytes = makeArchive(
        {root, dir("./usr"), dir("./usr/bin"), tool, gtool, tmp, slink("./usr/bin/t", "tool"),
         slink("./abs", "/etc/../../outside"), hlink("./usr/bin/tool2", "./usr/bin/tool")});
    Tree tree = read(bytes);

    auto t = tree.find("usr/bin/tool");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->type, NodeType::kFile);
    EXPECT_EQ(t->mode, 04755u);
    EXPECT_EQ(t->uid, 1000u);
    EXPECT_EQ(t->gid, 2000u);
    EXPECT_EQ(t->mtime, 1'234'567'890);
    EXPECT_EQ(content(tree, "usr/bin/tool"), "binary");
    ASSERT_EQ(t->xattrs.size(), 2u);
    EXPECT_EQ(t->xattrs.at("security.capability"), std::string("\x01\x00\x00\x02\x00\x20", 6));
    EXPECT_EQ(t->xattrs.at("user.note"), "hello");
    EXPECT_EQ(tree.find("usr/bin/gtool")->mode, 02711u);
    EXPECT_EQ(tree.find("tmp")->mode, 01777u);
    EXPECT_EQ(tree.find("tmp")->type, NodeType::kDirectory);
    EXPECT_EQ(tree.find("")->mode, 0700u);  // "./" carries the root's metadata
    EXPECT_EQ(tree.find("")->uid, 5u);
    EXPECT_EQ(tree.find("usr/bin/t")->symlinkTarget, "tool");
    EXPECT_EQ(tree.find("abs")->symlinkTarget, "/etc/../../outside");  // verbatim
    EXPECT_EQ(tree.find("usr/bin/tool2"), t);                          // the same inode
}

TEST(ArchiveReader, LongNamesInEveryTarDialect) {
    std::string longDir = std::string(120, 'd') + "/" + std::string(150, 'e');
    std::string longName = longDir + "/" + std::string(200, 'f');
    std::string longTarget = std::string(300, 't');
    for (int format : {ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE,
                       ARCHIVE_FORMAT_TAR_GNUTAR}) {
        std::string bytes = makeArchive({file(longName, "x"), slink(longDir + "/l", longTarget),
                                         hlink(longDir + "/h" + std::string(150, 'h'), longName)},
                                        format);
        Tree tree = read(bytes);
        EXPECT_EQ(content(tree, longName), "x") << format;
        EXPECT_EQ(tree.find(longDir + "/l")->symlinkTarget, longTarget);
        EXPECT_EQ(tree.find(longDir + "/h" + std::string(150, 'h')), tree.find(longName));
    }
}

TEST(ArchiveReader, EveryCompressionGivesTheSameTree) {
    std::vector<Member> members{dir("etc"), file("etc/hostname", "gold\n"),
                                file("etc/big", std::string(300000, 'z'))};
    Tree plain = read(makeArchive(members));
    for (auto [filter, name] :
         std::vector<std::pair<int, std::string>>{{ARCHIVE_FILTER_GZIP, "gzip"},
                                                  {ARCHIVE_FILTER_XZ, "xz"},
                                                  {ARCHIVE_FILTER_ZSTD, "zstd"},
                                                  {ARCHIVE_FILTER_BZIP2, "bzip2"}}) {
        std::string bytes = makeArchive(members, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, filter);
        Tree tree;
        ArchiveSummary summary = readArchiveMemory(bytes, "base.tar." + name, tree, defaults());
        EXPECT_EQ(summary.compression, name);
        EXPECT_EQ(summary.entries, 3u);
        EXPECT_EQ(summary.contentBytes, 300005u);
        EXPECT_EQ(tree.digest(), plain.digest()) << name;
    }
}

TEST(ArchiveReader, CpioNewc) {
    Member a = file("bin/busybox", "bb", 0755);
    a.ino = 7;
    std::string bytes = makeArchive(
        {dir("bin"), a, slink("bin/sh", "busybox"), device("dev/console", AE_IFCHR, 5, 1)},
        ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
    ArchiveReadOptions options;
    options.allowDevices = true;
    Tree tree;
    ArchiveSummary summary = readArchiveMemory(bytes, "initrd.cpio", tree, options);
    EXPECT_CONTAINS(summary.format, "SVR4");
    EXPECT_EQ(content(tree, "bin/busybox"), "bb");
    EXPECT_EQ(tree.find("bin/busybox")->mode, 0755u);
    EXPECT_EQ(tree.find("bin/sh")->symlinkTarget, "busybox");
    EXPECT_EQ(tree.find("dev/console")->type, NodeType::kCharDevice);
    EXPECT_EQ(tree.find("dev/console")->rdevMajor, 5u);
    EXPECT_EQ(tree.find("dev/console")->rdevMinor, 1u);
}

// GNU cpio writes a hard-linked file's data with its last name only; the inode must end up
// with it whichever name comes first.
TEST(ArchiveReader, CpioHardLinksFromGnuCpio) {
    if (!haveProgram("cpio")) GTEST_SKIP() << "cpio is not installed";
    TempDir temp;
    writeFile(temp.path() / "root/a", "shared");
    fs::create_hard_link(temp.path() / "root/a", temp.path() / "root/b");
    std::string command = "cd " + quote((temp.path() / "root").string()) +
                          " && printf 'a\\nb\\n' | cpio --quiet -o -H newc > ../out.cpio";
    ASSERT_EQ(std::system(command.c_str()), 0);
    Tree tree;
    readArchiveFile((temp.path() / "out.cpio").string(), tree, defaults());
    EXPECT_EQ(tree.find("a"), tree.find("b"));
    EXPECT_EQ(content(tree, "a"), "shared");
}

// GNU tar stores holes as a sparse map (old GNU headers, or pax GNU.sparse 1.0 records); the
// tree holds the file as it reads, holes as zeros, the trailing one included.
TEST(ArchiveReader, SparseFilesComeBackWithTheirHoles) {
    if (!haveProgram("tar")) GTEST_SKIP() << "tar is not installed";
    TempDir temp;
    fs::path sparse = temp.path() / "root/sparse";
    fs::create_directories(sparse.parent_path());
    {
        std::ofstream out(sparse, std::ios::binary);
        out.seekp(300000);
        out << "middle";
        out.seekp(900000);
        out << "late";
    }
    fs::resize_file(sparse, 1 << 20);
    std::string expected(1 << 20, '\0');
    expected.replace(300000, 6, "middle");
    expected.replace(900000, 4, "late");
    for (const char* format : {"gnu", "pax"}) {
        fs::path tar = temp.path() / (std::string(format) + ".tar");
        std::string command = "tar --sparse --format=" + std::string(format) + " -C " +
                              quote(sparse.parent_path().string()) + " -cf " + quote(tar.string()) +
                              " sparse";
        ASSERT_EQ(std::system(command.c_str()), 0);
        ASSERT_LT(fs::file_size(tar), 100000u) << "tar did not store holes";
        Tree tree;
        ArchiveSummary summary = readArchiveFile(tar.string(), tree, defaults());
        EXPECT_EQ(content(tree, "sparse") == expected, true) << format;
        EXPECT_EQ(summary.contentBytes, 1u << 20);
    }
}

TEST(ArchiveReader, LaterEntriesReplaceEarlierOnes) {
    Tree tree =
        read(makeArchive({dir("etc", 0700), file("etc/motd", "old"), file("etc/motd", "new"),
                          dir("etc", 0755), file("etc/issue", "x"), slink("etc/issue", "motd")}));
    EXPECT_EQ(content(tree, "etc/motd"), "new");
    EXPECT_EQ(tree.find("etc")->mode, 0755u);  // a directory again keeps its children
    EXPECT_EQ(tree.find("etc/issue")->type, NodeType::kSymlink);
}

TEST(ArchiveReader, ClampsMtimesAndPlacesUnderAPrefix) {
    Member late = file("late", "l");
    late.mtime = 2'000'000'000;
    Member early = file("early", "e");
    early.mtime = 100;
    ArchiveReadOptions options;
    options.clampMtime = 1'000'000;
    options.prefix = "/opt//base/";
    Tree tree = read(makeArchive({late, early, hlink("again", "late")}), options);
    EXPECT_EQ(tree.find("opt/base/late")->mtime, 1'000'000);
    EXPECT_EQ(tree.find("opt/base/early")->mtime, 100);
    EXPECT_EQ(tree.find("opt/base/again"), tree.find("opt/base/late"));
    EXPECT_EQ(tree.find("opt")->mtime, 1'000'000);  // created parents take the clamped time
    EXPECT_FALSE(tree.find("late"));
}

TEST(ArchiveReader, AbsolutePathsAreReadRelativeToTheRoot) {
    Tree tree = read(makeArchive({file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
                                  hlink("/etc/passwd-", "/etc/passwd")}));
    EXPECT_EQ(content(tree, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    EXPECT_EQ(tree.find("etc/passwd-"), tree.find("etc/passwd"));
}

TEST(ArchiveReader, UnconvertibleUtf8NamesKeepTheirBytes) {
    // The test runs in the C locale, where libarchive cannot convert pax's UTF-8 names and
    // warns; the bytes must still arrive unchanged.
    Tree tree = read(paxHeader({"path=caf\xc3\xa9"}) + rawHeader("ignored", '0', 1) + padded("c") +
                     endOfTar());
    EXPECT_EQ(content(tree, "caf\xc3\xa9"), "c");
}

TEST(ArchiveReader, SocketsAreSkipped) {
    Tree tree;
    ArchiveSummary summary =
        readArchiveMemory(makeArchive({device("run/sock", AE_IFSOCK, 0, 0), file("f", "x")},
                                      ARCHIVE_FORMAT_CPIO_SVR4_NOCRC),
                          "sockets.cpio", tree, defaults());
    EXPECT_EQ(summary.socketsSkipped, 1u);
    EXPECT_FALSE(tree.find("run/sock"));
    EXPECT_EQ(content(tree, "f"), "x");
}

// --- what is refused ---------------------------------------------------------------------

TEST(ArchiveReader, RefusesClimbingNames) {
    std::string message = readError(makeArchive({file("ok", "1"), file("../etc/passwd", "x")}));
    EXPECT_CONTAINS(message, "base.tar.gz: entry 2 \"../etc/passwd\"");
    EXPECT_CONTAINS(message, "'..'");
    for (const char* bad : {"a/../../b", "/../x", "a/..", ".."}) {
        message = readError(makeArchive({file(bad, "x")}));
        EXPECT_CONTAINS(message, "entry 1");
        EXPECT_CONTAINS(message, "..");
    }
    // The same with raw ustar and GNU long-name headers, past libarchive's writer.
    message = readError(rawHeader("../../root/.ssh/authorized_keys", '0', 0) + endOfTar());
    EXPECT_CONTAINS(message, "climbs");
    std::string longName = std::string(200, 'a') + "/../../../x";
    message = readError(rawHeader("././@LongLink", 'L', longName.size() + 1) +
                        padded(longName + '\0') + rawHeader("short", '0', 0) + endOfTar());
    EXPECT_CONTAINS(message, "climbs");
}

TEST(ArchiveReader, RefusesClimbingHardLinkTargets) {
    std::string message = readError(makeArchive({hlink("x", "../../etc/shadow")}));
    EXPECT_CONTAINS(message, "entry 1 \"x\" (hard-link target)");
    EXPECT_CONTAINS(message, "'..'");
}

TEST(ArchiveReader, RefusesWritesThroughSymlinks) {
    std::string message =
        readError(makeArchive({slink("link", "/etc"), file("link/passwd", "evil")}));
    EXPECT_CONTAINS(message, "entry 2 \"link/passwd\"");
    EXPECT_CONTAINS(message, "/link is a symlink");
    // A relative symlink, deeper, and a directory entry through it.
    message = readError(makeArchive({dir("a"), slink("a/up", "../.."), dir("a/up/etc")}));
    EXPECT_CONTAINS(message, "entry 3");
    // Through a regular file as well.
    message = readError(makeArchive({file("f", "x"), file("f/g", "y")}));
    EXPECT_CONTAINS(message, "/f is a file");
}

TEST(ArchiveReader, RefusesHardLinksToWhatIsNotThere) {
    std::string message = readError(makeArchive({hlink("etc/shadow", "nowhere")}));
    EXPECT_CONTAINS(message, "entry 1 \"etc/shadow\"");
    EXPECT_CONTAINS(message, "not in the tree");
    // Through a symlink: the target path is never resolved, so it is simply absent.
    message = readError(makeArchive({slink("link", "/etc"), hlink("x", "link/passwd")}));
    EXPECT_CONTAINS(message, "not in the tree");
    message = readError(makeArchive({dir("d"), hlink("x", "d")}));
    EXPECT_CONTAINS(message, "directory");
}

TEST(ArchiveReader, DevicesAndFifosOnlyWhenAllowed) {
    std::string bytes =
        makeArchive({device("dev/sda", AE_IFBLK, 8, 0), device("dev/null", AE_IFCHR, 1, 3),
                     device("run/fifo", AE_IFIFO, 0, 0)});
    std::string message = readError(bytes);
    EXPECT_CONTAINS(message, "entry 1 \"dev/sda\": is a block device");
    message = readError(makeArchive({device("run/fifo", AE_IFIFO, 0, 0)}));
    EXPECT_CONTAINS(message, "is a fifo");

    ArchiveReadOptions options;
    options.allowDevices = true;
    Tree tree = read(bytes, options);
    EXPECT_EQ(tree.find("dev/sda")->type, NodeType::kBlockDevice);
    EXPECT_EQ(tree.find("dev/sda")->rdevMajor, 8u);
    EXPECT_EQ(tree.find("dev/null")->type, NodeType::kCharDevice);
    EXPECT_EQ(tree.find("dev/null")->rdevMinor, 3u);
    EXPECT_EQ(tree.find("dev/null")->mode, 0600u);
    EXPECT_EQ(tree.find("run/fifo")->type, NodeType::kFifo);
}

TEST(ArchiveReader, NulInANameEndsIt) {
    // tar names are NUL-terminated and libarchive hands names over as C strings: whatever
    // follows a NUL never reaches the tree, so it cannot smuggle a ".." past normalizePath.
    Tree tree = read(rawHeader(std::string("ok\0/../../etc/passwd", 20), '0', 1) + padded("x") +
                     endOfTar());
    EXPECT_EQ(content(tree, "ok"), "x");
    EXPECT_EQ(tree.size(), 2u);
    tree = read(paxHeader({std::string("path=fine\0/../../x", 18)}) + rawHeader("y", '0', 0) +
                endOfTar());
    EXPECT_TRUE(tree.find("fine"));
    EXPECT_EQ(tree.size(), 2u);
}

TEST(ArchiveReader, EnforcesSizeLimits) {
    ArchiveReadOptions options;
    options.maxEntryBytes = 1000;
    std::string message = readError(makeArchive({file("big", std::string(1001, 'b'))}), options);
    EXPECT_CONTAINS(message, "entry 1 \"big\": declares 1001 bytes");

    options.maxEntryBytes = 1000;
    options.maxTotalBytes = 1500;
    message = readError(
        makeArchive({file("a", std::string(800, 'a')), file("b", std::string(800, 'b'))}), options);
    EXPECT_CONTAINS(message, "entry 2 \"b\"");
    EXPECT_CONTAINS(message, "1500");

    options.maxEntries = 2;
    message = readError(makeArchive({file("1", ""), file("2", ""), file("3", "")}), options);
    EXPECT_CONTAINS(message, "entry 3: more than 2 entries");

    // A header claiming 8 GiB with nothing behind it, in octal and in a pax record.
    message = readError(rawHeader("huge", '0', 077777777777ull) + endOfTar());
    EXPECT_CONTAINS(message, "declares 8589934591 bytes");
    message =
        readError(paxHeader({"size=999999999999999"}) + rawHeader("huge", '0', 0) + endOfTar());
    EXPECT_CONTAINS(message, "entry 1 \"huge\"");
}

TEST(ArchiveReader, TruncatedAndCorruptArchivesFailClearly) {
    std::string gz = makeArchive({file("a", std::string(200000, 'a')), file("b", "b")},
                                 ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_GZIP);
    for (size_t cut : {gz.size() / 2, gz.size() - 10, size_t{12}}) {
        std::string message = readError(gz.substr(0, cut));
        EXPECT_CONTAINS(message, "base.tar.gz: ");
    }
    std::string tar = makeArchive({file("a", std::string(5000, 'a')), file("b", "b")});
    EXPECT_CONTAINS(readError(tar.substr(0, 2048)), "entry 1 \"a\": cannot read its content");

    std::string garbage(4096, '\0');
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7919 % 251);
    EXPECT_CONTAINS(readError(garbage), "Unrecognized archive format (ingot reads tar, cpio");
    EXPECT_CONTAINS(readError(""), "base.tar.gz");

    // A header whose checksum does not match: no resynchronising past damage.
    std::string damaged = tar;
    damaged[512 + 5120] ^= 1;  // the second member's header: after a's header and data
    std::string message = readError(damaged);
    EXPECT_CONTAINS(message, "entry 2 (after \"a\")");

    // A malformed pax record would make libarchive fall back to the ustar name.
    message = readError(rawHeader("PaxHeader/x", 'x', 10) + padded("zz path=x\n") +
                        rawHeader("other", '0', 0) + endOfTar());
    EXPECT_CONTAINS(message, "pax");

    EXPECT_THROW(
        {
            Tree tree;
            readArchiveFile("/nonexistent/base.tar", tree, defaults());
        },
        ingot::Error);
}

TEST(ArchiveReader, RefusesAcls) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_pax(a);
    archive_write_open(
        a, &out, nullptr,
        [](archive*, void* client, const void* buffer, size_t length) -> la_ssize_t {
            static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
            return static_cast<la_ssize_t>(length);
        },
        nullptr);
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, "secret");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0640);
    archive_entry_acl_add_entry(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, ARCHIVE_ENTRY_ACL_READ,
                                ARCHIVE_ENTRY_ACL_USER, 1000, "u");
    archive_entry_acl_add_entry(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, ARCHIVE_ENTRY_ACL_READ,
                                ARCHIVE_ENTRY_ACL_MASK, -1, nullptr);
    archive_write_header(a, e);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    EXPECT_CONTAINS(readError(out), "entry 1 \"secret\": carries ACLs");
}

TEST(ArchiveReader, ControlBytesInNamesAreEscapedInMessages) {
    std::string message = readError(makeArchive({file("\x1b[2J/../x", "")}));
    EXPECT_CONTAINS(message, "\"\\x1b[2J/../x\"");
    EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
}

// --- Debian packages -----------------------------------------------------------------------

class DebPackage : public ::testing::Test {
protected:
    // Builds hello_1.0_all.deb with dpkg-deb, its data compressed with `compression`.
    fs::path build(const std::string& compression) {
        fs::path root = temp_.path() / ("pkg-" + compression);
        writeFile(root / "DEBIAN/control",
                  "Package: hello\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\n"
                  "Description: test package\n");
        writeFile(root / "DEBIAN/postinst", "#!/bin/sh\nexit 0\n", 0755);
        writeFile(root / "usr/bin/hello", "#!/bin/sh\necho hello\n", 0755);
        writeFile(root / "usr/sbin/helper", "x", 04755);
        writeFile(root / "etc/hello.conf", "greeting=hi\n");
        fs::create_directories(root / "usr/share/doc");
        fs::create_symlink("../bin/hello", root / "usr/sbin/hi");
        fs::path deb = temp_.path() / ("hello-" + compression + ".deb");
        std::string command = "SOURCE_DATE_EPOCH=1700000000 dpkg-deb --root-owner-group -Z" +
                              compression + " --build " + quote(root.string()) + " " +
                              quote(deb.string()) + " >/dev/null";
        EXPECT_EQ(std::system(command.c_str()), 0) << command;
        return deb;
    }

    void SetUp() override {
        if (!haveProgram("dpkg-deb")) GTEST_SKIP() << "dpkg-deb is not installed";
    }

    TempDir temp_;
};

TEST_F(DebPackage, ReadsDataAndControlInEveryCompression) {
    for (const char* compression : {"xz", "zstd", "gzip"}) {
        fs::path deb = build(compression);
        Tree tree;
        ArchiveSummary summary = readDebPackage(deb.string(), tree, defaults());
        EXPECT_EQ(summary.compression, compression);  // dpkg-deb and libarchive agree on names
        EXPECT_EQ(content(tree, "usr/bin/hello"), "#!/bin/sh\necho hello\n");
        EXPECT_EQ(tree.find("usr/bin/hello")->mode, 0755u);
        EXPECT_EQ(tree.find("usr/bin/hello")->uid, 0u);
        EXPECT_EQ(tree.find("usr/sbin/helper")->mode, 04755u);
        EXPECT_EQ(tree.find("usr/sbin/hi")->symlinkTarget, "../bin/hello");
        EXPECT_EQ(tree.find("etc/hello.conf")->mtime, 1'700'000'000);
        EXPECT_EQ(tree.find("usr/share/doc")->type, NodeType::kDirectory);
        EXPECT_FALSE(tree.find("DEBIAN"));

        EXPECT_CONTAINS(readDebControl(deb.string()), "Package: hello\nVersion: 1.0\n");
        auto files = readDebControlFiles(deb.string());
        EXPECT_EQ(files.at("postinst"), "#!/bin/sh\nexit 0\n");

        // The generic reader recognises a package too.
        Tree again;
        readArchiveFile(deb.string(), again, defaults());
        EXPECT_EQ(again.digest(), tree.digest());
    }
}

TEST_F(DebPackage, DataTarGivesTheSameTreeAsTheFsysTarfile) {
    fs::path deb = build("xz");
    fs::path tar = temp_.path() / "fsys.tar";
    std::string command =
        "dpkg-deb --fsys-tarfile " + quote(deb.string()) + " > " + quote(tar.string());
    ASSERT_EQ(std::system(command.c_str()), 0);
    Tree fromDeb, fromTar;
    readDebPackage(deb.string(), fromDeb, defaults());
    readArchiveFile(tar.string(), fromTar, defaults());
    EXPECT_EQ(fromDeb.digest(), fromTar.digest());
}

TEST_F(DebPackage, RefusesWhatIsNotAPackage) {
    fs::path tar = temp_.path() / "plain.tar";
    writeFile(tar, makeArchive({file("a", "b")}));
    Tree tree;
    try {
        readDebPackage(tar.string(), tree, defaults());
        FAIL();
    } catch (const ingot::Error& e) {
        EXPECT_CONTAINS(e.what(), "not a Debian package");
    }

    // An ar archive that is no package.
    std::string ar = makeArchive({file("hello.o", "obj")}, ARCHIVE_FORMAT_AR_GNU);
    EXPECT_CONTAINS(readError(ar, defaults(), "lib.a"), "not a Debian package");

    // A package whose data escapes: the message names the package, the member and the entry.
    std::string data = makeArchive({dir("./usr"), file("./../../etc/cron.d/x", "evil")},
                                   ARCHIVE_FORMAT_TAR_GNUTAR, ARCHIVE_FILTER_XZ);
    std::string control = makeArchive({file("./control", "Package: evil\n")},
                                      ARCHIVE_FORMAT_TAR_GNUTAR, ARCHIVE_FILTER_XZ);
    std::string deb = makeArchive({file("debian-binary", "2.0\n"), file("control.tar.xz", control),
                                   file("data.tar.xz", data)},
                                  ARCHIVE_FORMAT_AR_GNU);
    std::string message = readError(deb, defaults(), "evil.deb");
    EXPECT_CONTAINS(message, "evil.deb: data.tar.xz: entry 2 \"./../../etc/cron.d/x\"");

    // Truncated inside the data member.
    message = readError(deb.substr(0, deb.size() - data.size() / 2), defaults(), "cut.deb");
    EXPECT_CONTAINS(message, "cut.deb");

    std::string wrongVersion = makeArchive(
        {file("debian-binary", "3.0\n"), file("data.tar.xz", data)}, ARCHIVE_FORMAT_AR_GNU);
    EXPECT_CONTAINS(readError(wrongVersion, defaults(), "v3.deb"), "only format 2.x");

    std::string noData = makeArchive(
        {file("debian-binary", "2.0\n"), file("control.tar.xz", control)}, ARCHIVE_FORMAT_AR_GNU);
    EXPECT_CONTAINS(readError(noData, defaults(), "nodata.deb"), "no data.tar member");
    EXPECT_EQ(readDebControlFilesMemory(noData, "nodata.deb").at("control"), "Package: evil\n");

    // The data member must be a tar, not another package or a cpio.
    std::string nested =
        makeArchive({file("debian-binary", "2.0\n"), file("data.tar", deb)}, ARCHIVE_FORMAT_AR_GNU);
    EXPECT_CONTAINS(readError(nested, defaults(), "nested.deb"), "nested.deb: data.tar");
}

TEST(DebPackageFromApt, RealPackagesMatchDpkgDeb) {
    std::vector<fs::path> debs;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/var/cache/apt/archives", error))
        if (entry.path().extension() == ".deb" && entry.file_size() < (8u << 20))
            debs.push_back(entry.path());
    if (debs.empty() || !haveProgram("dpkg-deb")) GTEST_SKIP() << "no cached .deb files";
    std::sort(debs.begin(), debs.end());
    // A spread of packages, not just the first few alphabetically.
    std::vector<fs::path> picked;
    for (size_t i = 0; i < debs.size() && picked.size() < 6;
         i += std::max<size_t>(1, debs.size() / 6))
        picked.push_back(debs[i]);
    TempDir temp;
    for (const auto& deb : picked) {
        SCOPED_TRACE(deb.string());
        Tree fromDeb, fromTar;
        ArchiveSummary summary = readDebPackage(deb.string(), fromDeb, defaults());
        EXPECT_GT(summary.entries, 0u);
        fs::path tar = temp.path() / "fsys.tar";
        std::string command =
            "dpkg-deb --fsys-tarfile " + quote(deb.string()) + " > " + quote(tar.string());
        ASSERT_EQ(std::system(command.c_str()), 0);
        readArchiveFile(tar.string(), fromTar, defaults());
        EXPECT_EQ(fromDeb.digest(), fromTar.digest());
        std::string control = readDebControl(deb.string());
        EXPECT_EQ(control.rfind("Package: ", 0), 0u) << control.substr(0, 80);
    }
}

// --- the tar writer ------------------------------------------------------------------------

namespace {

Tree richTree() {
    Tree tree;
    auto root = std::make_shared<Inode>();
    root->type = NodeType::kDirectory;
    root->mode = 0755;
    root->mtime = 42;
    tree.put("", root, "t");
    auto add = [&](const std::string& path, NodeType type, uint32_t mode, std::string data = "") {
        auto inode = std::make_shared<Inode>();
        inode->type = type;
        inode->mode = mode;
        inode->uid = 1000;
        inode->gid = 100;
        inode->mtime = 1'700'000'000;
        if (type == NodeType::kFile && !data.empty()) inode->content = makeBlob(std::move(data));
        if (type == NodeType::kSymlink) inode->symlinkTarget = std::move(data);
        tree.put(path, inode, "t");
        return inode;
    };
    add("etc", NodeType::kDirectory, 0755);
    add("etc/empty", NodeType::kFile, 0600);
    auto ping = add("usr/bin/ping", NodeType::kFile, 04755, std::string(70000, 'p'));
    ping->xattrs["security.capability"] = std::string("\x01\x00\x00\x02\x00\x20\x00\x00", 8);
    ping->uid = 4'000'000'000u;  // past ustar's octal fields
    tree.link("usr/bin/ping6", "usr/bin/ping", "t");
    add("tmp", NodeType::kDirectory, 01777)->mtime = -5;
    add("usr/lib/x", NodeType::kSymlink, 0777, "/" + std::string(200, 'l'));
    add(std::string(90, 'n') + "/" + std::string(90, 'm') + "/" + std::string(90, 'o'),
        NodeType::kFile, 0644, "deep");
    add("caf\xc3\xa9/na\xefve", NodeType::kFile, 0644, "non-ASCII and not UTF-8");
    auto null = add("dev/null", NodeType::kCharDevice, 0666);
    null->rdevMajor = 1;
    null->rdevMinor = 3;
    add("dev/sda", NodeType::kBlockDevice, 0660)->rdevMajor = 8;
    add("run/initctl", NodeType::kFifo, 0600);
    return tree;
}

ArchiveReadOptions withDevices() {
    ArchiveReadOptions options;
    options.allowDevices = true;
    return options;
}

}  // namespace

TEST(TarWriter, RoundTripKeepsTheDigest) {
    Tree tree = richTree();
    for (auto compression : {TarCompression::kNone, TarCompression::kGzip, TarCompression::kZstd}) {
        TarWriteOptions options;
        options.compression = compression;
        std::string bytes = writeTarMemory(tree, options);
        Tree back;
        readArchiveMemory(bytes, "roundtrip.tar", back, withDevices());
        EXPECT_EQ(ingot::toHex(back.digest()), ingot::toHex(tree.digest()));
        EXPECT_EQ(back.find("usr/bin/ping6"), back.find("usr/bin/ping"));
        EXPECT_EQ(back.find("usr/bin/ping")->uid, 4'000'000'000u);
        EXPECT_EQ(back.find("tmp")->mtime, -5);
        EXPECT_EQ(bytes, writeTarMemory(tree, options));  // deterministic
    }
}

TEST(TarWriter, GnuTarReadsItWithNumericOwnersAndNoNames) {
    if (!haveProgram("tar")) GTEST_SKIP() << "tar is not installed";
    TempDir temp;
    fs::path path = temp.path() / "tree.tar";
    TarWriteOptions options;
    writeTarFile(richTree(), path.string(), options);
    std::string listing = temp.path() / "listing";
    std::string command = "LC_ALL=C tar --numeric-owner -tvf " + quote(path.string()) + " > " +
                          quote(listing) + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << readFile(listing);
    std::string text = readFile(listing);
    EXPECT_CONTAINS(text, "-rwsr-xr-x 4000000000/100 70000 2023-11-14 22:13 ./usr/bin/ping\n");
    EXPECT_CONTAINS(text, "./usr/bin/ping6 link to ./usr/bin/ping");
    EXPECT_CONTAINS(text, "drwxrwxrwt");
    EXPECT_EQ(text.find("someone"), std::string::npos);
}

TEST(TarWriter, RefusesSocketsAndLeavesNoPartialFile) {
    Tree tree;
    auto socket = std::make_shared<Inode>();
    socket->type = NodeType::kSocket;
    tree.put("run/sock", socket, "t");
    TempDir temp;
    fs::path path = temp.path() / "out.tar";
    TarWriteOptions options;
    EXPECT_THROW(writeTarFile(tree, path.string(), options), ingot::Error);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(std::distance(fs::directory_iterator(temp.path()), fs::directory_iterator()), 0);
}

// Archives cannot tell an empty blob from no content; the digest must not either, or an empty
// file would change a tree's digest on a round trip.
TEST(TarWriter, EmptyContentDigestsLikeNoContent) {
    Tree withBlob, without;
    auto a = std::make_shared<Inode>();
    a->content = makeBlob("");
    withBlob.put("empty", a, "t");
    without.put("empty", std::make_shared<Inode>(), "t");
    EXPECT_EQ(withBlob.digest(), without.digest());
    Tree back = read(writeTarMemory(withBlob, TarWriteOptions{}));
    EXPECT_EQ(back.digest(), withBlob.digest());
}
