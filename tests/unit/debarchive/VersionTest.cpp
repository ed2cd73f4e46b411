// Debian version parsing and order. The cases come from dpkg's own tests (lib/dpkg/t/t-version.c
// and the comparison table of scripts/t/Dpkg_Version.t); the last test asks the host's dpkg
// about a few hundred generated versions chosen to sit close to each other.
#include "ingot/debian/Version.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ArchiveTestSupport.h"
#include "ingot/core/Error.h"

using namespace ingot::debian;

namespace {

int sign(int v) {
    return v < 0 ? -1 : (v > 0 ? 1 : 0);
}

struct Case {
    const char* a;
    const char* b;
    int expected;
};

// Dpkg_Version.t's comparison table.
const Case kDpkgTable[] = {
    {"1.0-1", "2.0-2", -1},
    {"2.2~rc-4", "2.2-1", -1},
    {"2.2-1", "2.2~rc-4", 1},
    {"1.0000-1", "1.0-1", 0},
    {"1", "0:1", 0},
    {"0", "0:0-0", 0},
    {"2:2.5", "1:7.5", 1},
    {"1:0foo", "0foo", 1},
    {"0:0foo", "0foo", 0},
    {"0foo", "0foo", 0},
    {"0foo-0", "0foo", 0},
    {"0foo", "0foo-0", 0},
    {"0foo", "0fo", 1},
    {"0foo-0", "0foo+", -1},
    {"0foo~1", "0foo", -1},
    {"0foo~foo+Bar", "0foo~foo+bar", -1},
    {"0foo~~", "0foo~", -1},
    {"1~", "1", -1},
    {"12345+that-really-is-some-ver-0", "12345+that-really-is-some-ver-10", -1},
    {"0foo-0", "0foo-01", -1},
    {"0foo.bar", "0foobar", 1},
    {"0foo.bar", "0foo1bar", 1},
    {"0foo.bar", "0foo0bar", 1},
    {"0foo1bar-1", "0foobar-1", -1},
    {"0foo2.0", "0foo2", 1},
    {"0foo2.0.0", "0foo2.10.0", -1},
    {"0foo2.0", "0foo2.0.0", -1},
    {"0foo2.0", "0foo2.10", -1},
    {"0foo2.1", "0foo2.10", -1},
    {"1.09", "1.9", 0},
    {"1.0.8+nmu1", "1.0.8", 1},
    {"3.11", "3.10+nmu1", 1},
    {"0.9j-20080306-4", "0.9i-20070324-2", 1},
    {"1.2.0~b7-1", "1.2.0~b6-1", 1},
    {"1.011-1", "1.06-2", 1},
    {"0.0.9+dfsg1-1", "0.0.8+dfsg1-3", 1},
    {"4.6.99+svn6582-1", "4.6.99+svn6496-1", 1},
    {"53", "52", 1},
    {"0.9.9~pre122-1", "0.9.9~pre111-1", 1},
    {"2:2.3.2-2+lenny2", "2:2.3.2-2", 1},
    {"1:3.8.1-1", "3.8.GA-1", 1},
    {"1.0.1+gpl-1", "1.0.1-2", 1},
    {"1a", "1000a", -1},
    // t-version.c's comparisons, written as strings.
    {"0-0", "0-0", 0},
    {"0-00", "00-0", 0},
    {"1:2-3", "1:2-3", 0},
    {"0-0", "1:0-0", -1},
    {"0a-0", "0b-0", -1},
    {"0-a", "0-b", -1},
    {"1-1", "2-1", -1},
    {"1-1", "1-2", -1},
};

TEST(DebianVersion, DpkgComparisonTable) {
    for (const Case& c : kDpkgTable) {
        EXPECT_EQ(sign(compareVersions(c.a, c.b)), c.expected) << c.a << " vs " << c.b;
        EXPECT_EQ(sign(compareVersions(c.b, c.a)), -c.expected) << c.b << " vs " << c.a;
    }
}

TEST(DebianVersion, DpkgSortOrders) {
    // Dpkg_Version.t sorts these lists with version_compare.
    std::vector<std::string> full = {"4:4-4",      "5.0abc",        "0.0-0.0alpha0",
                                     "10.100.1-1", "0~999.999zeta", "0:1.0-0"};
    std::vector<std::string> expected = {"0~999.999zeta", "0.0-0.0alpha0", "0:1.0-0",
                                         "5.0abc",        "10.100.1-1",    "4:4-4"};
    std::sort(full.begin(), full.end(),
              [](const std::string& a, const std::string& b) { return compareVersions(a, b) < 0; });
    EXPECT_EQ(full, expected);
}

TEST(DebianVersion, ParsesComponentsAsDpkgDoes) {
    struct Parsed {
        const char* text;
        uint32_t epoch;
        const char* upstream;
        const char* revision;
    };
    const Parsed cases[] = {
        {"0", 0, "0", ""},
        {"0:0", 0, "0", ""},
        {"0:0-0", 0, "0", "0"},
        {"0:0.0-0.0", 0, "0.0", "0.0"},
        {"1:0", 1, "0", ""},
        {"5:1", 5, "1", ""},
        {"0:0-0-0", 0, "0-0", "0"},
        {"0:0-0-0-0", 0, "0-0-0", "0"},
        {"0:0:0-0", 0, "0:0", "0"},
        {"0:0:0:0-0", 0, "0:0:0", "0"},
        {"0:0:0-0-0", 0, "0:0-0", "0"},
        {"0:0-0:0-0", 0, "0-0:0", "0"},
        {"0:09azAZ.-+~:-0", 0, "09azAZ.-+~:", "0"},
        {"0:0-azAZ09.+~", 0, "0", "azAZ09.+~"},
        {"  \t0:0-1", 0, "0", "1"},
        {"0:0-1\t  ", 0, "0", "1"},
        {"\t  0:0-1  \t", 0, "0", "1"},
        {"2147483647:1", 2147483647u, "1", ""},
    };
    for (const Parsed& c : cases) {
        const Version v = Version::parse(c.text);
        EXPECT_EQ(v.epoch(), c.epoch) << c.text;
        EXPECT_EQ(v.upstream(), c.upstream) << c.text;
        EXPECT_EQ(v.revision(), c.revision) << c.text;
    }
    EXPECT_EQ(Version::parse("  1:2.0-1 ").text(), "1:2.0-1");
}

TEST(DebianVersion, RefusesWhatDpkgRefusesNamingTheVersion) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "empty"},
        {"  ", "empty"},
        {"0:", "nothing follows"},
        {":1.0", "epoch"},
        {"1.0-", "revision"},
        {"0:0 0-1", "embedded blanks"},
        {"-1:0-1", "negative"},
        {"999999999999999999999999:0-1", "larger"},
        {"2147483648:1", "larger"},
        {"a:0-0", "not a number"},
        {"A:0-0", "not a number"},
        {"10a:5.2", "not a number"},
        {"-0", "upstream version is empty"},
        {"0:-0", "upstream version is empty"},
        {"0:abc3-0", "does not start with a digit"},
        {"foo5.2", "does not start with a digit"},
        {"5.2@3-2", "may only hold"},
        {"0:0-0:0", "revision may only hold"},
        {"1.0:2", "epoch"},  // a colon needs an epoch before it
        {"1\x01", "may only hold"},
        {"1.0\xc3\xa9", "may only hold"},
    };
    for (const auto& [text, why] : cases) {
        try {
            Version::parse(text);
            ADD_FAILURE() << "accepted '" << text << "'";
        } catch (const ingot::Error& e) {
            EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
            EXPECT_NE(std::string(e.what()).find("invalid Debian version"), std::string::npos);
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos)
                << text << ": " << e.what();
        }
    }
    for (const char* c = "!#@$%&/|\\<>()[]{};,_=*^'"; *c; ++c) {
        std::string upstream = "0:0a-0";
        upstream[3] = *c;
        EXPECT_THROW(Version::parse(upstream), ingot::Error) << upstream;
    }
    for (const char* c = "!#@$%&/|\\<>()[]{}:;,_=*^'"; *c; ++c) {
        std::string revision = "0:0-0";
        revision[4] = *c;
        EXPECT_THROW(Version::parse(revision), ingot::Error) << revision;
    }
    try {
        Version::parse("1.0_bad");
        FAIL();
    } catch (const ingot::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'1.0_bad'"), std::string::npos) << e.what();
    }
}

TEST(DebianVersion, OperatorsFollowDpkgEquivalence) {
    EXPECT_TRUE(Version::parse("1.0") == Version::parse("1.00"));
    EXPECT_TRUE(Version::parse("1.0~rc1") < Version::parse("1.0"));
    EXPECT_TRUE(Version::parse("1:0.1") > Version::parse("9.9"));
    EXPECT_TRUE(Version::parse("1.0-1+deb12u1") > Version::parse("1.0-1"));
    EXPECT_TRUE(Version::parse("1.0-1+deb12u1") < Version::parse("1.0-1+deb12u2"));
    EXPECT_TRUE(Version::parse("1.0-1~bpo12+1") < Version::parse("1.0-1"));
}

// Versions close to each other: the same stem with '~', '+', letters, leading zeros, epochs and
// revisions nudged, so that the pairs land on every branch of verrevcmp.
std::string randomPiece(std::mt19937& rng, bool upstream) {
    static const std::vector<std::string> pieces = {
        "0",  "1", "9", "10", "01",   "001", "a",  "b",    "Z",     "~",
        "~~", "+", ".", "rc", "~rc1", "+b1", ".0", "dfsg", "+dfsg", "~bpo1"};
    std::string out = pieces[rng() % pieces.size()];
    if (upstream && rng() % 4 == 0) out += "-";
    return out;
}

std::string randomVersion(std::mt19937& rng) {
    std::string v;
    const bool epoch = rng() % 3 == 0;
    if (epoch) v += std::to_string(rng() % 3) + ":";
    v += std::to_string(rng() % 12);
    const int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) v += randomPiece(rng, true);
    if (epoch && rng() % 5 == 0) v += ":1";
    if (rng() % 2 == 0) {
        std::string revision;
        const int m = 1 + static_cast<int>(rng() % 3);
        for (int i = 0; i < m; ++i) revision += randomPiece(rng, false);
        v += "-" + revision;
    } else if (v.find('-') != std::string::npos) {
        v += "-1";  // a '-' in the upstream part needs a revision after it
    }
    return v;
}

std::string nudge(std::mt19937& rng, std::string v) {
    switch (rng() % 8) {
        case 0:
            return v + "~";
        case 1:
            return v + "0";
        case 2:
            return v + "+b1";
        case 3:
            return v + "a";
        case 4:
            return "1:" + (v.find(':') != std::string::npos ? v.substr(v.find(':') + 1) : v);
        case 5: {
            for (char& c : v)
                if (c >= '1' && c <= '8') {
                    ++c;
                    break;
                }
            return v;
        }
        case 6: {
            const size_t dot = v.find('.');
            return dot == std::string::npos ? v + ".0" : v.insert(dot + 1, "0");
        }
        default:
            return randomVersion(rng);
    }
}

TEST(DebianVersion, AgreesWithHostDpkg) {
    if (!ingot::debian::test::haveTool("dpkg")) GTEST_SKIP() << "dpkg is not installed";
    std::mt19937 rng(20240810);
    int compared = 0;
    for (int i = 0; i < 300; ++i) {
        const std::string a = randomVersion(rng);
        std::string b = nudge(rng, a);
        // Only valid versions: what dpkg merely warns about is no comparison at all for us.
        try {
            Version::parse(a);
            Version::parse(b);
        } catch (const ingot::Error&) {
            continue;
        }
        auto dpkgSays = [](const std::string& x, const char* op, const std::string& y) {
            ingot::ProcessSpec spec;
            spec.argv = {"dpkg", "--compare-versions", "--", x, op, y};
            const auto out = ingot::runProcess(spec);
            EXPECT_TRUE(out.exitStatus == 0 || out.exitStatus == 1)
                << x << " " << op << " " << y << ": " << out.err;
            EXPECT_EQ(out.err, "") << x << " " << op << " " << y;
            return out.exitStatus == 0;
        };
        const int ours = sign(compareVersions(a, b));
        const int theirs = dpkgSays(a, "lt", b) ? -1 : (dpkgSays(a, "eq", b) ? 0 : 1);
        EXPECT_EQ(ours, theirs) << "'" << a << "' vs '" << b << "'";
        ++compared;
    }
    EXPECT_GT(compared, 250);
}

}  // namespace
