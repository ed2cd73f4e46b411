#include "ingot/core/TempFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "ingot/core/Error.h"

namespace ingot {

TempFile::TempFile(std::string destination) : destination_(std::move(destination)) {
    temporaryPath_ = destination_ + ".tmp.XXXXXX";
    fd_ = ::mkostemp(temporaryPath_.data(), O_CLOEXEC);
    if (fd_ < 0) throwSystemError("cannot create a temporary file beside " + destination_, errno);
}

TempFile::~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temporaryPath_.c_str());
}

void TempFile::write(const void* bytes, size_t size) {
    const char* p = static_cast<const char*>(bytes);
    while (size > 0) {
        ssize_t n = ::write(fd_, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throwSystemError("cannot write " + destination_, errno);
        p += n;
        size -= static_cast<size_t>(n);
    }
}

void TempFile::commit(unsigned mode) {
    finish(mode, true);
}

void TempFile::commitWithoutReplacing(unsigned mode) {
    finish(mode, false);
}

void TempFile::finish(unsigned mode, bool replace) {
    if (::fchmod(fd_, mode) < 0) throwSystemError("cannot set the mode of " + destination_, errno);
    if (::fsync(fd_) < 0) throwSystemError("cannot write " + destination_, errno);
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) < 0) throwSystemError("cannot write " + destination_, errno);
    if (replace) {
        if (::rename(temporaryPath_.c_str(), destination_.c_str()) < 0)
            throwSystemError("cannot rename " + temporaryPath_ + " to " + destination_, errno);
    } else if (::renameat2(AT_FDCWD, temporaryPath_.c_str(), AT_FDCWD, destination_.c_str(),
                           RENAME_NOREPLACE) < 0) {
        // Some filesystems lack RENAME_NOREPLACE; link() refuses an existing name just as well.
        if (errno != EINVAL && errno != ENOSYS) {
            if (errno == EEXIST) throw Error(destination_ + " already exists", ExitStatus::kUsage);
            throwSystemError("cannot rename " + temporaryPath_ + " to " + destination_, errno);
        }
        if (::link(temporaryPath_.c_str(), destination_.c_str()) < 0) {
            if (errno == EEXIST) throw Error(destination_ + " already exists", ExitStatus::kUsage);
            throwSystemError("cannot link " + temporaryPath_ + " to " + destination_, errno);
        }
        ::unlink(temporaryPath_.c_str());
    }
    committed_ = true;
}

}  // namespace ingot
