// downloadFile against a real HTTP server (python3 -m http.server) on the loopback interface.
#include "ingot/imagebuild/Download.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "ingot/core/Error.h"

namespace fs = std::filesystem;
using ingot::imagebuild::downloadFile;

namespace {

class HttpServer : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ingot-download-" + std::to_string(getpid()));
        fs::create_directories(dir_ / "www");
        std::ofstream(dir_ / "www" / "base.tar", std::ios::binary) << std::string(100000, 'x');
        port_ = 20000 + getpid() % 20000;
        pid_ = fork();
        if (pid_ == 0) {
            std::string port = std::to_string(port_);
            std::string www = (dir_ / "www").string();
            execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                   www.c_str(), port.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        // Wait until it answers.
        for (int i = 0; i < 100; ++i) {
            try {
                downloadFile(url("base.tar"), (dir_ / "probe").string());
                return;
            } catch (const ingot::Error&) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        FAIL() << "python3 -m http.server did not start";
    }
    void TearDown() override {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        fs::remove_all(dir_);
    }
    std::string url(const std::string& name) const {
        return "http://127.0.0.1:" + std::to_string(port_) + "/" + name;
    }
    fs::path dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

std::string read(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

TEST_F(HttpServer, DownloadsTheBody) {
    auto out = dir_ / "got.tar";
    downloadFile(url("base.tar"), out.string());
    EXPECT_EQ(read(out), std::string(100000, 'x'));
}

TEST_F(HttpServer, MissingFileIsAnErrorAndLeavesNothing) {
    auto out = dir_ / "missing.tar";
    try {
        downloadFile(url("missing.tar"), out.string());
        FAIL();
    } catch (const ingot::Error& e) {
        EXPECT_NE(std::string(e.what()).find("missing.tar"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(dir_))
        EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(HttpServer, SizeLimitStopsTheTransfer) {
    auto out = dir_ / "big.tar";
    EXPECT_THROW(downloadFile(url("base.tar"), out.string(), 50000), ingot::Error);
    EXPECT_FALSE(fs::exists(out));
}

TEST_F(HttpServer, OtherSchemesAreRefused) {
    auto out = dir_ / "x";
    EXPECT_THROW(downloadFile("file:///etc/passwd", out.string()), ingot::Error);
    EXPECT_FALSE(fs::exists(out));
}
