// Helpers for the archive tests: a scratch directory, host tools run without a shell, and a
// throwaway OpenPGP key in its own GnuPG home for clearsigning test InRelease files.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/Process.h"

namespace ingot::debian::test {

namespace fs = std::filesystem;

class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "ingot-debarchive-XXXXXX").string();
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// What `f` throws, checked to carry `status`; a failure when it throws nothing.
inline std::string errorOf(const std::function<void()>& f, ingot::ExitStatus status) {
    try {
        f();
    } catch (const ingot::Error& e) {
        EXPECT_EQ(e.status(), status) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

inline void writeFile(const std::string& path, const std::string& bytes) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A Release-style date ("Sat, 10 Aug 2024 09:13:09 UTC") for seconds since the epoch.
inline std::string releaseDate(int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d UTC", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buffer;
}

inline int64_t nowSeconds() {
    return static_cast<int64_t>(std::time(nullptr));
}

// Runs a host tool; a failure is a broken test setup, reported with its stderr.
inline std::string run(std::vector<std::string> argv, const std::string& directory = "") {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.directory = directory;
    spec.environment = {{"LC_ALL", "C"}};
    return runProcessOrThrow(spec, "test setup");
}

inline bool haveTool(const std::string& name) {
    ProcessSpec spec;
    spec.argv = {"sh", "-c", "command -v \"$0\"", name};
    try {
        return runProcess(spec).exitStatus == 0;
    } catch (const std::exception&) {
        return false;
    }
}

// A private GnuPG home holding throwaway ed25519 signing keys. The agent gpg starts for it is
// stopped in the destructor, so no test leaves a daemon behind.
class TestGnupg {
public:
    explicit TestGnupg(const std::string& home) : home_(home) {
        fs::create_directories(home_);
        fs::permissions(home_, fs::perms::owner_all, fs::perm_options::replace);
    }
    ~TestGnupg() {
        ProcessSpec spec;
        spec.argv = {"gpgconf", "--homedir", home_, "--kill", "gpg-agent"};
        try {
            runProcess(spec);
        } catch (const std::exception&) {
        }
    }
    TestGnupg(const TestGnupg&) = delete;
    TestGnupg& operator=(const TestGnupg&) = delete;

    void addKey(const std::string& name) {
        run({"gpg", "--batch", "--homedir", home_, "--pinentry-mode", "loopback", "--passphrase",
             "", "--quick-gen-key", name, "ed25519", "sign", "never"});
    }
    // A binary keyring with one key's public part, as gpgv reads it.
    void exportKeyring(const std::string& name, const std::string& path) const {
        run({"gpg", "--batch", "--homedir", home_, "--yes", "--output", path, "--export", name});
    }
    void clearsign(const std::vector<std::string>& signers, const std::string& input,
                   const std::string& output) const {
        std::vector<std::string> argv = {"gpg",      "--batch",      "--homedir",
                                         home_,      "--yes",        "--pinentry-mode",
                                         "loopback", "--passphrase", ""};
        for (const auto& s : signers) {
            argv.push_back("--local-user");
            argv.push_back(s);
        }
        for (const char* a : {"--digest-algo", "SHA256", "--clearsign", "--output"})
            argv.push_back(a);
        argv.push_back(output);
        argv.push_back(input);
        run(argv);
    }

private:
    std::string home_;
};

}  // namespace ingot::debian::test
