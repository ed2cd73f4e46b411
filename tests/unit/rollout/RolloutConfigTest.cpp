// The rollout file: every field read as written, the defaults, relative paths taken from the
// file's directory, a per-image smoke block layered over the top-level one, and each refusal
// naming the file, the line and the field.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "../../support/TempDir.h"
#include "Contains.h"
#include "ingot/core/Error.h"
#include "ingot/rollout/RolloutConfig.h"

namespace ingot::rollout {
namespace {

using namespace std::chrono_literals;

class RolloutConfigTest : public ::testing::Test {
protected:
    std::string path() const { return dir_ / "rollout.yaml"; }
    std::string at(const std::string& relative) const { return dir_ / relative; }

    RolloutConfig parse(const std::string& text) const { return parseRolloutConfig(text, path()); }

    // The message of the kUsage error parsing `text` throws; a test failure when none.
    std::string error(const std::string& text) const {
        try {
            parseRolloutConfig(text, path());
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), ExitStatus::kUsage) << e.what();
            EXPECT_CONTAINS(std::string(e.what()), path()) << "the file is not named";
            return e.what();
        }
        ADD_FAILURE() << "no error for:\n" << text;
        return {};
    }

    ingot::test::TempDir dir_;
};

// Everything but `images`, valid; a test appends its own images or breaks one field.
const std::string kHead =
    "registry: registry.example:5000\n"  // 1
    "keys:\n"                            // 2
    "  sign: keys/sign.key\n"            // 3
    "  public: keys/sign.pub\n";         // 4

const std::string kOneImage =
    "images:\n"                              // 5
    "  - repository: gold/debian\n"          // 6
    "    recipe: recipes/debian-12.yaml\n";  // 7

TEST_F(RolloutConfigTest, FullFileParsesToEveryValue) {
    const RolloutConfig c = parse(
        "registry: registry.example:5000\n"
        "plain-http: true\n"
        "insecure: true\n"
        "state: state\n"
        "cache: /var/cache/ingot-rollout\n"
        "keys:\n"
        "  sign: keys/sign.key\n"
        "  public: ./keys/../keys/sign.pub\n"
        "  timestamp: /etc/ingot/timestamp.key\n"
        "timestamp:\n"
        "  valid: 14d\n"
        "security:\n"
        "  sources: apt\n"
        "channel: nightly\n"
        "smoke:\n"
        "  deadline: 5m\n"
        "  expect: 'login: $'\n"
        "  commands:\n"
        "    - systemctl is-system-running --wait\n"
        "    - test -x /usr/bin/apt\n"
        "  command-timeout: 30s\n"
        "images:\n"
        "  - repository: gold/debian\n"
        "    recipe: recipes/debian-12.yaml\n"
        "  - repository: gold/minimal\n"
        "    recipe: /srv/recipes/minimal.yaml\n"
        "    channel: edge\n"
        "    smoke:\n"
        "      deadline: 90s\n"
        "      commands: ['true']\n");
    EXPECT_EQ(c.path, path());
    EXPECT_EQ(c.registry, "registry.example:5000");
    ASSERT_TRUE(c.plainHttp.has_value());
    EXPECT_TRUE(*c.plainHttp);
    EXPECT_TRUE(c.insecure);
    EXPECT_EQ(c.stateDir, at("state"));
    EXPECT_EQ(c.cacheDir, "/var/cache/ingot-rollout");
    EXPECT_EQ(c.signKey, at("keys/sign.key"));
    EXPECT_EQ(c.publicKey, at("keys/sign.pub"));
    EXPECT_EQ(c.timestampKey, "/etc/ingot/timestamp.key");
    EXPECT_EQ(c.timestampValidity, std::chrono::seconds(14 * 86400));
    EXPECT_EQ(c.securitySources, at("apt"));

    ASSERT_EQ(c.images.size(), 2u);
    const ImageSpec& debian = c.images[0];
    EXPECT_EQ(debian.repository, "gold/debian");
    EXPECT_EQ(debian.recipe, at("recipes/debian-12.yaml"));
    EXPECT_EQ(debian.channel, "nightly");
    EXPECT_EQ(debian.smoke.deadline, 5min);
    EXPECT_EQ(debian.smoke.expect, "login: $");
    EXPECT_EQ(debian.smoke.commands, (std::vector<std::string>{"systemctl is-system-running --wait",
                                                               "test -x /usr/bin/apt"}));
    EXPECT_EQ(debian.smoke.commandTimeout, 30s);

    const ImageSpec& minimal = c.images[1];
    EXPECT_EQ(minimal.repository, "gold/minimal");
    EXPECT_EQ(minimal.recipe, "/srv/recipes/minimal.yaml");
    EXPECT_EQ(minimal.channel, "edge");
    // The image's smoke block replaces only what it gives.
    EXPECT_EQ(minimal.smoke.deadline, 90s);
    EXPECT_EQ(minimal.smoke.commands, std::vector<std::string>{"true"});
    EXPECT_EQ(minimal.smoke.expect, "login: $");
    EXPECT_EQ(minimal.smoke.commandTimeout, 30s);
}

TEST_F(RolloutConfigTest, DefaultsForWhatIsLeftOut) {
    const RolloutConfig c = parse(kHead + kOneImage);
    EXPECT_FALSE(c.plainHttp.has_value());
    EXPECT_FALSE(c.insecure);
    EXPECT_EQ(c.stateDir, "/var/lib/ingot/rollout");
    EXPECT_EQ(c.cacheDir, "");
    EXPECT_EQ(c.timestampKey, c.signKey);
    EXPECT_EQ(c.timestampKey, at("keys/sign.key"));
    EXPECT_EQ(c.timestampValidity, std::chrono::seconds(7 * 86400));
    EXPECT_EQ(c.securitySources, "/etc/apt");
    ASSERT_EQ(c.images.size(), 1u);
    EXPECT_EQ(c.images[0].channel, "stable");
    const SmokeSpec defaults;
    EXPECT_EQ(c.images[0].smoke.deadline, defaults.deadline);
    EXPECT_EQ(c.images[0].smoke.expect, defaults.expect);
    EXPECT_TRUE(c.images[0].smoke.commands.empty());
    EXPECT_EQ(c.images[0].smoke.commandTimeout, defaults.commandTimeout);
}

TEST_F(RolloutConfigTest, ImageSmokeStartsFromTheTopLevelSmoke) {
    const RolloutConfig c = parse(kHead +
                                  "smoke:\n"
                                  "  commands: [uname -a, 'test -d /etc']\n"
                                  "  command-timeout: 45s\n" +
                                  kOneImage +
                                  "    smoke:\n"
                                  "      expect: '[$] $'\n");
    const SmokeSpec& s = c.images[0].smoke;
    EXPECT_EQ(s.expect, "[$] $");
    EXPECT_EQ(s.commands, (std::vector<std::string>{"uname -a", "test -d /etc"}));
    EXPECT_EQ(s.commandTimeout, 45s);
    EXPECT_EQ(s.deadline, SmokeSpec{}.deadline);
}

TEST_F(RolloutConfigTest, LoadReadsTheFileAndResolvesPathsFromItsDirectory) {
    std::filesystem::create_directories(dir_.path() / "etc");
    const std::string file = dir_ / "etc/rollout.yaml";
    std::ofstream(file) << kHead + kOneImage;
    const RolloutConfig c = loadRolloutConfig(file);
    EXPECT_EQ(c.path, file);
    EXPECT_EQ(c.signKey, dir_ / "etc/keys/sign.key");
    EXPECT_EQ(c.images.at(0).recipe, dir_ / "etc/recipes/debian-12.yaml");
}

TEST_F(RolloutConfigTest, UnknownKeySuggestsTheKnownOne) {
    const std::string e = error(kHead + "registy: other.example\n" + kOneImage);
    EXPECT_CONTAINS(e, path() + ":5:");
    EXPECT_CONTAINS(e, "unknown key 'registy'; did you mean 'registry'?");

    const std::string nested = error(kHead + "smoke:\n  deadlin: 5m\n" + kOneImage);
    EXPECT_CONTAINS(nested, path() + ":6:");
    EXPECT_CONTAINS(nested, "smoke: unknown key 'deadlin'; did you mean 'deadline'?");
}

TEST_F(RolloutConfigTest, MissingRegistry) {
    const std::string e = error("keys:\n  sign: s.key\n  public: s.pub\n" + kOneImage);
    EXPECT_CONTAINS(e, path() + ":1:");
    EXPECT_CONTAINS(e, "missing required key 'registry'");
}

TEST_F(RolloutConfigTest, MissingSignKey) {
    const std::string e = error("registry: r.example\nkeys:\n  public: s.pub\n" + kOneImage);
    EXPECT_CONTAINS(e, path() + ":3:");
    EXPECT_CONTAINS(e, "keys: missing required key 'sign'");
}

TEST_F(RolloutConfigTest, BadRepositoryNames) {
    for (const std::string name : {"Gold/Debian", "gold//x"}) {
        const std::string e =
            error(kHead + "images:\n  - repository: " + name + "\n    recipe: r.yaml\n");
        EXPECT_CONTAINS(e, path() + ":6:");
        EXPECT_CONTAINS(e, "images[0].repository: '" + name + "' is not a repository name");
    }
}

TEST_F(RolloutConfigTest, RepositoryListedTwice) {
    const std::string e = error(kHead + kOneImage +
                                "  - repository: gold/tools\n"   // 8
                                "    recipe: tools.yaml\n"       // 9
                                "  - repository: gold/debian\n"  // 10
                                "    recipe: other.yaml\n");
    EXPECT_CONTAINS(e, path() + ":10:");
    EXPECT_CONTAINS(e, "images[2].repository: repository gold/debian is listed twice");
}

TEST_F(RolloutConfigTest, ChannelsThatAreNoChannelTags) {
    const std::string signature = error(kHead + "channel: sha256-abc\n" + kOneImage);
    EXPECT_CONTAINS(signature, path() + ":5:");
    EXPECT_CONTAINS(signature, "channel: 'sha256-abc' cannot be a channel tag");

    const std::string freshness = error(kHead + kOneImage + "    channel: ingot.timestamp\n");
    EXPECT_CONTAINS(freshness, path() + ":8:");
    EXPECT_CONTAINS(freshness, "images[0].channel: 'ingot.timestamp' cannot be a channel tag");
}

TEST_F(RolloutConfigTest, SmokeCommandsAreOnePrintableLine) {
    for (const std::string command : {"\"ls\\nrm -rf /\"", "\"echo \\ttab\"", "\"echo \\e[0m\""}) {
        const std::string e =
            error(kHead + "smoke:\n  commands:\n    - true\n    - " + command + "\n" + kOneImage);
        EXPECT_CONTAINS(e, path() + ":8:") << command;
        EXPECT_CONTAINS(e, "smoke.commands[1]: a smoke command is one line") << command;
    }
}

TEST_F(RolloutConfigTest, SmokeCommandOver1024Bytes) {
    const std::string ok = std::string(1024, 'a');
    EXPECT_EQ(parse(kHead + "smoke:\n  commands: [" + ok + "]\n" + kOneImage)
                  .images[0]
                  .smoke.commands.at(0),
              ok);
    const std::string e =
        error(kHead + "smoke:\n  commands: [" + std::string(1025, 'a') + "]\n" + kOneImage);
    EXPECT_CONTAINS(e, path() + ":6:");
    EXPECT_CONTAINS(e, "smoke.commands[0]: a smoke command may be at most 1024 bytes");
}

TEST_F(RolloutConfigTest, ExpectMustBeARegularExpression) {
    const std::string e = error(kHead + "smoke:\n  expect: '('\n" + kOneImage);
    EXPECT_CONTAINS(e, path() + ":6:");
    EXPECT_CONTAINS(e, "smoke.expect: '(' is not a POSIX extended regular expression");

    const std::string perImage = error(kHead + kOneImage + "    smoke: {expect: 'a[b'}\n");
    EXPECT_CONTAINS(perImage, "images[0].smoke.expect: 'a[b' is not a POSIX");
}

TEST_F(RolloutConfigTest, BadDurations) {
    for (const std::string bad : {"0s", "7x", "-1", "0", "1y", "s"}) {
        const std::string deadline =
            error(kHead + "smoke:\n  deadline: '" + bad + "'\n" + kOneImage);
        EXPECT_CONTAINS(deadline, path() + ":6:") << bad;
        EXPECT_CONTAINS(deadline, "smoke.deadline") << bad;
        EXPECT_CONTAINS(deadline, "'" + bad + "'") << bad;

        const std::string timeout =
            error(kHead + kOneImage + "    smoke:\n      command-timeout: " + bad + "\n");
        EXPECT_CONTAINS(timeout, path() + ":9:") << bad;
        EXPECT_CONTAINS(timeout, "images[0].smoke.command-timeout") << bad;

        const std::string valid = error(kHead + "timestamp: {valid: " + bad + "}\n" + kOneImage);
        EXPECT_CONTAINS(valid, path() + ":5:") << bad;
        EXPECT_CONTAINS(valid, "timestamp.valid") << bad;
    }
}

TEST_F(RolloutConfigTest, GoodDurations) {
    const RolloutConfig c =
        parse(kHead + "timestamp: {valid: 36h}\nsmoke: {deadline: 600, command-timeout: 2m}\n" +
              kOneImage);
    EXPECT_EQ(c.timestampValidity, 36h);
    EXPECT_EQ(c.images[0].smoke.deadline, 600s);
    EXPECT_EQ(c.images[0].smoke.commandTimeout, 2min);
}

TEST_F(RolloutConfigTest, RegistryIsHostAndPortOnly) {
    for (const std::string bad :
         {"https://registry.example", "registry.example/gold", "reg istry"}) {
        const std::string e =
            error("registry: " + bad + "\nkeys: {sign: s.key, public: s.pub}\n" + kOneImage);
        EXPECT_CONTAINS(e, path() + ":1:") << bad;
        EXPECT_CONTAINS(e, "registry: '" + bad + "' is not a registry host[:port]") << bad;
    }
    EXPECT_EQ(
        parse("registry: '[::1]:5000'\nkeys: {sign: s.key, public: s.pub}\n" + kOneImage).registry,
        "[::1]:5000");
}

TEST_F(RolloutConfigTest, EmptyImagesList) {
    const std::string e = error(kHead + "images: []\n");
    EXPECT_CONTAINS(e, path() + ":5:");
    EXPECT_CONTAINS(e, "images: no images");
}

TEST_F(RolloutConfigTest, NotYaml) {
    const std::string e = error(kHead + "images: [gold/debian, {repository: x\n");
    EXPECT_CONTAINS(e, path() + ":");
    EXPECT_CONTAINS(e, "not YAML");
}

TEST_F(RolloutConfigTest, EmptyFile) {
    EXPECT_CONTAINS(error(""), "the rollout file is empty");
}

TEST_F(RolloutConfigTest, FileOver1MiB) {
    std::string big = kHead + kOneImage + "# ";
    big.resize(kMaxRolloutConfigBytes + 1, 'x');
    EXPECT_CONTAINS(error(big), "rollout file");

    std::ofstream(path()) << big;
    try {
        loadRolloutConfig(path());
        ADD_FAILURE() << "a rollout file over 1 MiB was read";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), ExitStatus::kUsage);
        EXPECT_CONTAINS(std::string(e.what()), path());
    }
}

TEST_F(RolloutConfigTest, MissingFileIsAUsageError) {
    try {
        loadRolloutConfig(dir_ / "nowhere.yaml");
        ADD_FAILURE() << "no error for a missing rollout file";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), ExitStatus::kUsage);
        EXPECT_CONTAINS(std::string(e.what()), dir_ / "nowhere.yaml");
    }
}

TEST(RolloutRepositorySlug, SlashesBecomePlus) {
    EXPECT_EQ(repositorySlug("gold/debian"), "gold+debian");
    EXPECT_EQ(repositorySlug("a/b/c"), "a+b+c");
    EXPECT_EQ(repositorySlug("debian"), "debian");
}

}  // namespace
}  // namespace ingot::rollout
