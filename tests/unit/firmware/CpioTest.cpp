// cpio newc reading: archives written by GNU cpio and by a writer in this file, then truncation
// at every length and each malformed header field.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "TestSupport.h"
#include "ingot/fw/Cpio.h"

namespace ingot::fw {
namespace {

using test::Bytes;

struct TestFile {
    std::string name;
    uint32_t mode;
    Bytes data;
};

void append_field(Bytes& out, uint32_t value) {
    char text[9];
    std::snprintf(text, sizeof text, "%08X", value);
    out.insert(out.end(), text, text + 8);
}

void pad4(Bytes& out) {
    while (out.size() % 4 != 0) out.push_back(0);
}

void append_entry(Bytes& out, const std::string& name, uint32_t mode, const Bytes& data,
                  uint32_t inode) {
    const std::string magic = "070701";
    out.insert(out.end(), magic.begin(), magic.end());
    const uint32_t fields[13] = {inode,
                                 mode,
                                 1000,
                                 1000,
                                 1,
                                 1700000000,
                                 static_cast<uint32_t>(data.size()),
                                 8,
                                 1,
                                 0,
                                 0,
                                 static_cast<uint32_t>(name.size() + 1),
                                 0};
    for (uint32_t field : fields) append_field(out, field);
    out.insert(out.end(), name.begin(), name.end());
    out.push_back(0);
    pad4(out);
    out.insert(out.end(), data.begin(), data.end());
    pad4(out);
}

Bytes write_newc(const std::vector<TestFile>& files, bool with_trailer = true) {
    Bytes out;
    uint32_t inode = 1;
    for (const auto& file : files) append_entry(out, file.name, file.mode, file.data, inode++);
    if (with_trailer) append_entry(out, "TRAILER!!!", 0, {}, 0);
    return out;
}

std::vector<TestFile> boot_pack_files() {
    return {
        {"manifest.json", 0100644, Bytes{'{', '}'}},
        {"manifest.json.minisig", 0100644, test::random_bytes(301)},
        {"kernel", 0100644, test::random_bytes(10003)},
        {"initrd", 0100600, {}},
        {"dir", 0040755, {}},
        {"dir/link", 0120777, Bytes{'.', '.'}},
    };
}

std::vector<CpioEntry> read_all(ByteView archive, CpioStatus* final_status) {
    std::vector<CpioEntry> entries;
    CpioReader reader(archive);
    CpioEntry entry;
    CpioStatus status;
    while ((status = reader.next(&entry)) == CpioStatus::kOk) entries.push_back(entry);
    *final_status = status;
    return entries;
}

TEST(CpioTest, ReadsWrittenArchive) {
    auto files = boot_pack_files();
    Bytes archive = write_newc(files);
    CpioStatus status;
    auto entries = read_all(test::view(archive), &status);
    EXPECT_EQ(status, CpioStatus::kEnd);
    ASSERT_EQ(entries.size(), files.size());
    for (size_t i = 0; i < files.size(); ++i) {
        EXPECT_EQ(test::as_string(entries[i].name), files[i].name);
        EXPECT_EQ(entries[i].mode, files[i].mode);
        EXPECT_EQ(Bytes(entries[i].data.begin(), entries[i].data.end()), files[i].data);
        EXPECT_EQ(entries[i].inode, i + 1);
        EXPECT_EQ(entries[i].uid, 1000u);
        EXPECT_EQ(entries[i].mtime, 1700000000u);
        EXPECT_EQ(entries[i].dev_major, 8u);
        EXPECT_EQ(entries[i].dev_minor, 1u);
    }
    EXPECT_TRUE(is_regular_file(entries[0]));
    EXPECT_FALSE(is_regular_file(entries[4]));

    CpioEntry kernel;
    ASSERT_EQ(cpio_find(test::view(archive), test::view("kernel"), &kernel), CpioStatus::kOk);
    EXPECT_EQ(kernel.data.size, 10003u);
    EXPECT_EQ(cpio_find(test::view(archive), test::view("kerne"), &kernel), CpioStatus::kNotFound);
    EXPECT_EQ(cpio_find(test::view(archive), test::view("TRAILER!!!"), &kernel),
              CpioStatus::kNotFound);
}

TEST(CpioTest, EmptyArchiveIsJustATrailer) {
    Bytes archive = write_newc({});
    CpioStatus status;
    EXPECT_TRUE(read_all(test::view(archive), &status).empty());
    EXPECT_EQ(status, CpioStatus::kEnd);
    // Block padding after the trailer, as `cpio -o` writes it, is ignored.
    archive.resize(512, 0);
    read_all(test::view(archive), &status);
    EXPECT_EQ(status, CpioStatus::kEnd);
}

TEST(CpioTest, EveryTruncationFails) {
    Bytes archive = write_newc(boot_pack_files());
    // Any prefix holding the trailer's header and name is complete; its padding is optional.
    CpioReader reader(test::view(archive));
    CpioEntry entry;
    while (reader.next(&entry) == CpioStatus::kOk) {
    }
    size_t complete = reader.offset();
    ASSERT_EQ(complete, archive.size() - 3);  // 110-byte header + "TRAILER!!!" + NUL, then 3 pad
    for (size_t size = 0; size < archive.size(); ++size) {
        CpioStatus status;
        read_all(ByteView(archive.data(), size), &status);
        if (size >= complete) {
            EXPECT_EQ(status, CpioStatus::kEnd) << "size " << size;
        } else {
            EXPECT_TRUE(status == CpioStatus::kTruncated || status == CpioStatus::kMissingTrailer)
                << "size " << size << " status " << to_string(status);
        }
    }
}

TEST(CpioTest, MalformedHeadersAreRejected) {
    const Bytes good = write_newc({{"a", 0100644, Bytes{'x'}}});
    auto status_of = [](const Bytes& archive) {
        CpioStatus status;
        read_all(test::view(archive), &status);
        return status;
    };
    auto with = [&](size_t offset, const std::string& text) {
        Bytes archive = good;
        std::copy(text.begin(), text.end(), archive.begin() + static_cast<ptrdiff_t>(offset));
        return archive;
    };
    constexpr size_t kFileSizeField = 6 + 6 * 8;
    constexpr size_t kNameSizeField = 6 + 11 * 8;
    EXPECT_EQ(status_of(good), CpioStatus::kEnd);
    EXPECT_EQ(status_of(with(0, "070702")), CpioStatus::kBadMagic);  // "crc" format
    EXPECT_EQ(status_of(with(0, "070707")), CpioStatus::kBadMagic);  // old portable format
    EXPECT_EQ(status_of(with(kFileSizeField, "0000000g")), CpioStatus::kBadHexField);
    EXPECT_EQ(status_of(with(kFileSizeField, " 0000001")), CpioStatus::kBadHexField);
    EXPECT_EQ(status_of(with(kFileSizeField, "FFFFFFFF")), CpioStatus::kTruncated);
    EXPECT_EQ(status_of(with(kNameSizeField, "00000000")), CpioStatus::kBadNameSize);
    EXPECT_EQ(status_of(with(kNameSizeField, "00000001")),
              CpioStatus::kBadNameSize);  // "a" w/o NUL
    EXPECT_EQ(status_of(with(kNameSizeField, "FFFFFFFF")), CpioStatus::kTruncated);
    EXPECT_EQ(status_of(write_newc({{std::string("a\0b", 3), 0100644, {}}})),
              CpioStatus::kBadNameSize);
    EXPECT_EQ(status_of(write_newc({{"a", 0100644, {}}}, false)), CpioStatus::kMissingTrailer);
    EXPECT_EQ(status_of(Bytes()), CpioStatus::kMissingTrailer);

    // Errors are sticky.
    Bytes bad = with(0, "070702");
    CpioReader reader(test::view(bad));
    CpioEntry entry;
    EXPECT_EQ(reader.next(&entry), CpioStatus::kBadMagic);
    EXPECT_EQ(reader.next(&entry), CpioStatus::kBadMagic);
}

TEST(CpioTest, DuplicateNamesMakeLookupFail) {
    Bytes archive = write_newc({{"manifest.json", 0100644, Bytes{'1'}},
                                {"kernel", 0100644, {}},
                                {"manifest.json", 0100644, Bytes{'2'}}});
    CpioEntry entry;
    EXPECT_EQ(cpio_find(test::view(archive), test::view("manifest.json"), &entry),
              CpioStatus::kDuplicateName);
    EXPECT_EQ(cpio_find(test::view(archive), test::view("kernel"), &entry), CpioStatus::kOk);
}

TEST(CpioTest, LookupFailsOnLaterCorruption) {
    // The entry looked for is fine, but the archive is broken after it: refuse, since the
    // archive as a whole is not what was signed.
    Bytes archive = write_newc({{"kernel", 0100644, Bytes{'k'}}, {"other", 0100644, {}}});
    ByteView cut(archive.data(), archive.size() - 8);
    CpioEntry entry;
    EXPECT_NE(cpio_find(cut, test::view("kernel"), &entry), CpioStatus::kOk);
}

TEST(CpioTest, ReadsArchiveWrittenByGnuCpio) {
    std::string cpio = test::find_program("cpio");
    if (cpio.empty()) GTEST_SKIP() << "cpio not installed";
    test::TempDir dir;
    std::filesystem::path tree = dir.path() / "tree";
    std::filesystem::create_directories(tree / "sub");
    std::vector<std::pair<std::string, Bytes>> files = {
        {"manifest.json", Bytes{'{', '"', 'a', '"', ':', '1', '}'}},
        {"kernel", test::random_bytes(40001)},
        {"initrd", {}},
        {"sub/a", Bytes{'1'}},
        {"sub/bb", Bytes{'2', '2'}},
        {"sub/ccc", Bytes{'3', '3', '3'}},
    };
    std::string list;
    for (const auto& [name, data] : files) {
        test::write_file(tree / name, data);
        list += name + "\n";
    }
    list += "sub\n";
    test::write_file(dir.path() / "list", list);
    std::string archive_path = (dir.path() / "archive.cpio").string();
    ASSERT_EQ(test::run_shell("cd " + test::shell_quote(tree.string()) + " && " +
                              test::shell_quote(cpio) + " -o -H newc --quiet < ../list > " +
                              test::shell_quote(archive_path)),
              0);
    Bytes archive = test::read_file(archive_path);
    EXPECT_EQ(archive.size() % 512, 0u);  // GNU cpio pads to its block size

    CpioStatus status;
    auto entries = read_all(test::view(archive), &status);
    EXPECT_EQ(status, CpioStatus::kEnd);
    ASSERT_EQ(entries.size(), files.size() + 1);
    for (size_t i = 0; i < files.size(); ++i) {
        EXPECT_EQ(test::as_string(entries[i].name), files[i].first);
        EXPECT_TRUE(is_regular_file(entries[i]));
        EXPECT_EQ(Bytes(entries[i].data.begin(), entries[i].data.end()), files[i].second);
    }
    EXPECT_EQ(test::as_string(entries.back().name), "sub");
    EXPECT_EQ(entries.back().mode & kCpioTypeMask, kCpioTypeDirectory);
}

}  // namespace
}  // namespace ingot::fw
