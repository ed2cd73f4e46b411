#include "ingot/imagebuild/StepCache.h"

#include <cstdlib>
#include <system_error>

#include "ingot/core/Error.h"

namespace ingot::imagebuild {

StepKey::StepKey(std::string_view kind) { add("kind", kind); }

StepKey& StepKey::add(std::string_view label, std::string_view value) {
    // Length-prefixed, so no two different sequences of parts hash the same bytes.
    for (std::string_view part : {label, value}) {
        uint64_t n = part.size();
        hash_.update(&n, sizeof n);
        hash_.update(part);
    }
    return *this;
}

std::string StepKey::finish() { return toHex(hash_.finish()); }

StepCache::StepCache(std::filesystem::path root) : root_(std::move(root)) {
    if (!root_.empty()) std::filesystem::create_directories(root_);
}

std::optional<std::filesystem::path> StepCache::find(const std::string& key) const {
    if (!enabled()) return std::nullopt;
    auto dir = root_ / key;
    std::error_code ec;
    if (std::filesystem::exists(dir / ".complete", ec))
        return dir;
    return std::nullopt;
}

StepCache::Entry::Entry(std::filesystem::path temporary, std::filesystem::path final)
    : temporary_(std::move(temporary)), final_(std::move(final)) {}

StepCache::Entry::~Entry() {
    if (!committed_) {
        std::error_code ignored;
        std::filesystem::remove_all(temporary_, ignored);
    }
}

std::filesystem::path StepCache::Entry::commit() {
    FILE* marker = std::fopen((temporary_ / ".complete").c_str(), "w");
    if (!marker) throwSystemError("cannot write " + (temporary_ / ".complete").string(), errno);
    std::fclose(marker);
    std::error_code ec;
    std::filesystem::rename(temporary_, final_, ec);
    if (ec) {
        // Someone else published this key first; theirs is as good as ours.
        std::filesystem::remove_all(temporary_, ec);
    }
    committed_ = true;
    return final_;
}

std::unique_ptr<StepCache::Entry> StepCache::create(const std::string& key) const {
    if (!enabled()) throw Error("step cache: disabled");
    std::string pattern = (root_ / (key + ".tmp.XXXXXX")).string();
    if (!mkdtemp(pattern.data())) throwSystemError("cannot create a directory in " + root_.string(), errno);
    return std::make_unique<Entry>(pattern, root_ / key);
}

}  // namespace ingot::imagebuild
