#include "ingot/image/BootPack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <memory>
#include <set>

#include "ingot/core/Error.h"

namespace ingot::image {
namespace {

constexpr size_t kNewcHeaderSize = 110;
constexpr uint64_t kMaxMemberSize = 0xFFFFFFFF;  // the filesize field has 8 hex digits
constexpr size_t kChunkSize = 1 << 20;

uint64_t padTo4(uint64_t n) {
    return (n + 3) & ~uint64_t{3};
}

uint64_t entrySize(const std::string& name, uint64_t dataSize) {
    return padTo4(kNewcHeaderSize + name.size() + 1) + padTo4(dataSize);
}

void checkMembers(const std::vector<BootPackMember>& members) {
    std::set<std::string> seen;
    for (const BootPackMember& m : members) {
        std::string label = "boot pack member '" + m.name + "'";
        if (m.name.empty()) throw Error("boot pack member with an empty name");
        for (char c : m.name) {
            if (c <= 0x20 || c > 0x7e) throw Error(label + ": name is not printable ASCII");
        }
        if (m.name == "TRAILER!!!") throw Error(label + ": the name is reserved for the trailer");
        if (!seen.insert(m.name).second) throw Error(label + " appears twice");
        if (m.path.empty() && m.bytes.size() != m.size)
            throw Error(label + ": size does not match its bytes");
        if (m.size > kMaxMemberSize)
            throw Error(label + " is " + std::to_string(m.size) +
                        " bytes; a cpio newc member holds at most 4 GiB - 1");
    }
}

struct ArchiveDeleter {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// What the write callback needs; it must not let an exception cross libarchive's C frames, so
// it parks it here and the writer rethrows it.
struct SinkState {
    const ByteSink* sink;
    uint64_t written = 0;
    std::exception_ptr error;
};

la_ssize_t writeCallback(archive*, void* clientData, const void* buffer, size_t length) {
    auto* state = static_cast<SinkState*>(clientData);
    try {
        (*state->sink)(buffer, length);
        state->written += length;
        return static_cast<la_ssize_t>(length);
    } catch (...) {
        state->error = std::current_exception();
        return -1;
    }
}

class FileReader {
public:
    explicit FileReader(const BootPackMember& member) : member_(member) {
        fd_ = ::open(member.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throwSystemError(prefix(), errno, ExitStatus::kUsage);
    }
    ~FileReader() { ::close(fd_); }
    FileReader(const FileReader&) = delete;
    FileReader& operator=(const FileReader&) = delete;

    size_t read(char* buffer, size_t capacity) {
        for (;;) {
            ssize_t n = ::read(fd_, buffer, capacity);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throwSystemError(prefix(), errno, ExitStatus::kUsage);
            return static_cast<size_t>(n);
        }
    }
    std::string prefix() const { return "cannot read " + member_.name + " " + member_.path; }

private:
    const BootPackMember& member_;
    int fd_ = -1;
};

class PackWriter {
public:
    explicit PackWriter(const ByteSink& sink) : archive_(archive_write_new()) {
        state_.sink = &sink;
        if (!archive_) throw Error("libarchive: cannot allocate an archive writer");
        // Blocks are a tape-drive notion; with bytes_in_last_block = 1 the final block is not
        // padded, so the archive ends right after the trailer as the format requires.
        check(archive_write_set_format_cpio_newc(a()), "select the cpio newc format");
        check(archive_write_add_filter_none(a()), "select no compression");
        check(archive_write_set_bytes_per_block(a(), 64 * 1024), "set the block size");
        check(archive_write_set_bytes_in_last_block(a(), 1), "set the last block size");
        check(archive_write_open(a(), &state_, nullptr, writeCallback, nullptr), "open");
    }

    Sha256Digest add(const BootPackMember& member, uint32_t inode) {
        std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
        if (!entry) throw Error("libarchive: cannot allocate an entry");
        archive_entry_set_pathname(entry.get(), member.name.c_str());
        archive_entry_set_ino(entry.get(), inode);
        archive_entry_set_mode(entry.get(), AE_IFREG | 0644);
        archive_entry_set_uid(entry.get(), 0);
        archive_entry_set_gid(entry.get(), 0);
        archive_entry_set_nlink(entry.get(), 1);
        archive_entry_set_mtime(entry.get(), 0, 0);
        archive_entry_set_dev(entry.get(), 0);
        archive_entry_set_rdev(entry.get(), 0);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(member.size));
        check(archive_write_header(a(), entry.get()), "write the header of " + member.name);

        Sha256 hash;
        if (member.path.empty()) {
            writeData(member, member.bytes.data(), member.bytes.size());
            hash.update(member.bytes);
        } else {
            FileReader file(member);
            std::vector<char> buffer(kChunkSize);
            uint64_t done = 0;
            for (;;) {
                size_t n = file.read(buffer.data(), buffer.size());
                if (n == 0) break;
                if (done + n > member.size) break;
                writeData(member, buffer.data(), n);
                hash.update(buffer.data(), n);
                done += n;
            }
            if (done != member.size)
                throw Error(file.prefix() + ": the file changed size while the boot pack was " +
                                "written (expected " + std::to_string(member.size) + " bytes)",
                            ExitStatus::kUsage);
        }
        check(archive_write_finish_entry(a()), "finish " + member.name);
        return hash.finish();
    }

    uint64_t close() {
        check(archive_write_close(a()), "write the trailer");
        return state_.written;
    }

private:
    archive* a() { return archive_.get(); }

    void writeData(const BootPackMember& member, const char* data, size_t size) {
        while (size > 0) {
            la_ssize_t n = archive_write_data(a(), data, size);
            if (n <= 0) check(ARCHIVE_FATAL, "write the data of " + member.name);
            data += n;
            size -= static_cast<size_t>(n);
        }
    }

    void check(int status, const std::string& what) {
        if (state_.error) std::rethrow_exception(state_.error);
        if (status == ARCHIVE_OK) return;
        const char* message = archive_error_string(a());
        throw Error("libarchive cannot " + what +
                    " in the boot pack: " + (message ? message : "unknown error"));
    }

    std::unique_ptr<archive, ArchiveDeleter> archive_;
    SinkState state_;
};

}  // namespace

BootPackMember BootPackMember::fromBytes(std::string name, std::string bytes) {
    BootPackMember member;
    member.name = std::move(name);
    member.size = bytes.size();
    member.bytes = std::move(bytes);
    return member;
}

BootPackMember BootPackMember::fromFile(std::string name, std::string path, uint64_t size) {
    BootPackMember member;
    member.name = std::move(name);
    member.path = std::move(path);
    member.size = size;
    return member;
}

std::vector<BootPackMember> ingotBootPackMembers(std::string manifest, std::string signature,
                                                 const BootPackFile& kernel,
                                                 const std::optional<BootPackFile>& initrd) {
    std::vector<BootPackMember> members;
    members.push_back(BootPackMember::fromBytes(kBootPackManifestName, std::move(manifest)));
    members.push_back(BootPackMember::fromBytes(kBootPackSignatureName, std::move(signature)));
    members.push_back(BootPackMember::fromFile(kBootPackKernelName, kernel.path, kernel.size));
    if (initrd)
        members.push_back(
            BootPackMember::fromFile(kBootPackInitrdName, initrd->path, initrd->size));
    return members;
}

uint64_t bootPackSize(const std::vector<BootPackMember>& members) {
    uint64_t total = entrySize("TRAILER!!!", 0);
    for (const BootPackMember& m : members) total += entrySize(m.name, m.size);
    return total;
}

std::vector<Sha256Digest> writeBootPack(const std::vector<BootPackMember>& members,
                                        const ByteSink& sink) {
    checkMembers(members);
    if (members.size() >= 0xFFFFFFFF) throw Error("boot pack has too many members");
    PackWriter writer(sink);
    std::vector<Sha256Digest> digests;
    for (size_t i = 0; i < members.size(); ++i)
        digests.push_back(writer.add(members[i], static_cast<uint32_t>(i + 1)));
    uint64_t written = writer.close();
    uint64_t expected = bootPackSize(members);
    // The size is the one property of libarchive's output the layout depends on: the boot
    // partition was sized from bootPackSize() before anything was written.
    if (written != expected)
        throw Error("libarchive wrote a boot pack of " + std::to_string(written) +
                    " bytes where the canonical form has " + std::to_string(expected));
    return digests;
}

std::string canonicalEntryHeader(std::string_view name, uint64_t size, uint32_t inode) {
    bool trailer = inode == 0;
    char fields[kNewcHeaderSize + 1];
    std::snprintf(fields, sizeof fields,
                  "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", inode,
                  trailer ? 0u : 0100644u, 0u, 0u, 1u, 0u, static_cast<unsigned>(size), 0u, 0u, 0u,
                  0u, static_cast<unsigned>(name.size() + 1), 0u);
    std::string header(fields, kNewcHeaderSize);
    header += name;
    header.resize(padTo4(kNewcHeaderSize + name.size() + 1), '\0');
    return header;
}

std::vector<uint8_t> buildBootPack(const std::vector<BootPackMember>& members) {
    std::vector<uint8_t> bytes;
    writeBootPack(members, [&](const void* data, size_t size) {
        auto* p = static_cast<const uint8_t*>(data);
        bytes.insert(bytes.end(), p, p + size);
    });
    return bytes;
}

}  // namespace ingot::image
