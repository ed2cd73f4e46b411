#include "ingot/core/File.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "ingot/core/Error.h"
#include "ingot/core/Size.h"

namespace ingot {

std::vector<uint8_t> readWholeFile(const std::string& path, std::string_view what,
                                   uint64_t maxBytes) {
    std::string prefix = "cannot read " + std::string(what) + " " + path;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throwSystemError(prefix, errno, ExitStatus::kUsage);
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
        int err = errno;
        ::close(fd);
        throwSystemError(prefix, err, ExitStatus::kUsage);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(prefix + ": not a regular file", ExitStatus::kUsage);
    }
    if (static_cast<uint64_t>(st.st_size) > maxBytes) {
        ::close(fd);
        throw Error(prefix + ": " + formatSize(st.st_size) + " is larger than the limit of " +
                        formatSize(maxBytes),
                    ExitStatus::kUsage);
    }
    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            ::close(fd);
            throwSystemError(prefix, err, ExitStatus::kUsage);
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    return bytes;
}

void writeFileAtomically(const std::string& path, std::string_view bytes, unsigned mode) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throwSystemError("cannot create " + tmp, errno);
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throwSystemError("cannot write " + tmp, err);
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) < 0 || ::close(fd) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throwSystemError("cannot write " + tmp, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throwSystemError("cannot rename " + tmp + " to " + path, err);
    }
}

std::string xdgDirectory(const char* variable, const char* homeRelative) {
    if (const char* xdg = std::getenv(variable); xdg && *xdg == '/') return std::string(xdg) + "/ingot";
    const char* home = std::getenv("HOME");
    if (!home || *home != '/')
        throw Error(std::string("neither ") + variable + " nor HOME is set to an absolute path",
                    ExitStatus::kUsage);
    return std::string(home) + "/" + homeRelative + "/ingot";
}

void makeDirectories(const std::string& dir, unsigned mode) {
    for (size_t at = dir.find('/', 1); at != std::string::npos; at = dir.find('/', at + 1))
        ::mkdir(dir.substr(0, at).c_str(), mode);
    if (::mkdir(dir.c_str(), mode) < 0 && errno != EEXIST)
        throwSystemError("cannot create " + dir, errno, ExitStatus::kUsage);
}

}  // namespace ingot
