// The build's step cache, keyed by content as osbuild keys its stages: a step's key is the
// digest of its parent's key, its canonical options and the digests of every input it reads, so
// an unchanged step is found again and a changed one (or anything after it) never is. Each entry
// is a directory of files written under a temporary name and renamed into place whole.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ingot/core/Sha256.h"

namespace ingot::imagebuild {

// Builds a step key: feed the parts in a fixed order, then finish().
class StepKey {
public:
    explicit StepKey(std::string_view kind);
    StepKey& add(std::string_view label, std::string_view value);
    std::string finish();  // 64 hex digits

private:
    Sha256 hash_;
};

class StepCache {
public:
    // `root` is created when missing; an empty root disables the cache.
    explicit StepCache(std::filesystem::path root);

    bool enabled() const { return !root_.empty(); }
    // The entry's directory when it is complete, else nothing.
    std::optional<std::filesystem::path> find(const std::string& key) const;

    // A fresh directory to fill; commit() publishes it as the entry for `key` (a concurrent
    // build that published the same key first wins; its content is the same by construction).
    class Entry {
    public:
        Entry(std::filesystem::path temporary, std::filesystem::path final);
        ~Entry();
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;
        const std::filesystem::path& directory() const { return temporary_; }
        std::filesystem::path commit();

    private:
        std::filesystem::path temporary_, final_;
        bool committed_ = false;
    };
    std::unique_ptr<Entry> create(const std::string& key) const;

private:
    std::filesystem::path root_;
};

}  // namespace ingot::imagebuild
