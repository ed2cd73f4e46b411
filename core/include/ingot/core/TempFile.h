#pragma once

#include <string>

namespace ingot {

// A file written under a unique temporary name beside its destination and renamed over it only
// by commit(). Until then the destructor removes it, so a writer that fails (or throws) leaves
// no partial output behind. The temporary file is created with mode 0600, which keeps secrets
// private from the first byte on.
class TempFile {
public:
    explicit TempFile(std::string destination);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    int fd() const { return fd_; }
    const std::string& temporaryPath() const { return temporaryPath_; }
    const std::string& destination() const { return destination_; }

    // Writes all of `bytes` at the current offset; errors name the destination.
    void write(const void* bytes, size_t size);
    // Sets the final mode, syncs, closes and renames over the destination.
    void commit(unsigned mode);
    // As commit(), but fails with EEXIST (status kUsage) if the destination exists, with no
    // window in which a file created there by someone else could be replaced.
    void commitWithoutReplacing(unsigned mode);

private:
    void finish(unsigned mode, bool replace);

    std::string destination_;
    std::string temporaryPath_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace ingot
