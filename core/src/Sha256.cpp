#include "ingot/core/Sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot {

struct Sha256::Context {
    EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
    context_->md = EVP_MD_CTX_new();
    if (!context_->md || EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr) != 1) {
        EVP_MD_CTX_free(context_->md);
        throw Error("OpenSSL cannot start a SHA-256 computation");
    }
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(context_->md);
}

void Sha256::update(const void* data, size_t size) {
    if (EVP_DigestUpdate(context_->md, data, size) != 1) throw Error("OpenSSL SHA-256 failed");
}

Sha256Digest Sha256::finish() {
    Sha256Digest digest{};
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(context_->md, digest.data(), &size) != 1 || size != digest.size())
        throw Error("OpenSSL SHA-256 failed");
    return digest;
}

Sha256Digest sha256(std::string_view bytes) {
    Sha256 hash;
    hash.update(bytes);
    return hash.finish();
}

std::string toHex(const uint8_t* data, size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    text.reserve(2 * size);
    for (size_t i = 0; i < size; ++i) {
        text += kDigits[data[i] >> 4];
        text += kDigits[data[i] & 0xf];
    }
    return text;
}

FileDigest sha256File(const std::string& path, std::string_view what) {
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
    Sha256 hash;
    std::vector<char> buffer(1 << 20);
    uint64_t total = 0;
    for (;;) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            throwSystemError(prefix, err, ExitStatus::kUsage);
        }
        if (n == 0) break;
        hash.update(buffer.data(), static_cast<size_t>(n));
        total += static_cast<uint64_t>(n);
    }
    ::close(fd);
    return {hash.finish(), total};
}

}  // namespace ingot
