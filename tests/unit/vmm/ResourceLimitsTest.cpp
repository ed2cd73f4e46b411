#include "resources/ResourceLimits.h"

#include <gtest/gtest.h>

#include "VmmTestSupport.h"

namespace ingot::vmm {
namespace {

using test::contains;
using test::errorFrom;

CpuMax cpuMax(uint64_t quota, uint64_t period = 100000) { return CpuMax{quota, period}; }

TEST(ResourceLimits, CpuMaxForms) {
    EXPECT_EQ(parseCpuMax("50%"), cpuMax(50000));
    EXPECT_EQ(parseCpuMax("12.5%"), cpuMax(12500));
    EXPECT_EQ(parseCpuMax("250%"), cpuMax(250000));
    EXPECT_EQ(parseCpuMax("1%"), cpuMax(1000));
    EXPECT_EQ(parseCpuMax("1.5"), cpuMax(150000));
    EXPECT_EQ(parseCpuMax("0.3"), cpuMax(30000));  // exact: not 29999 as a double would give
    EXPECT_EQ(parseCpuMax("2"), cpuMax(200000));
    EXPECT_EQ(parseCpuMax("0.01"), cpuMax(1000));
    EXPECT_EQ(parseCpuMax("max"), cpuMax(kUnlimited));
    EXPECT_EQ(parseCpuMax("50000/100000"), cpuMax(50000));
    EXPECT_EQ(parseCpuMax("50000 100000"), cpuMax(50000));  // cgroup's own form
    EXPECT_EQ(parseCpuMax("5000/10000"), cpuMax(5000, 10000));
    EXPECT_EQ(parseCpuMax("max/200000"), cpuMax(kUnlimited, 200000));
    EXPECT_EQ(parseCpuMax("8192"), cpuMax(819200000));
}

TEST(ResourceLimits, CpuMaxRefusals) {
    for (const char* text : {"", "abc", "-1", "+1", "1.", ".5", "50 %", "%", "1.1234567", "1e3",
                             "50000/", "/100000", "50000/100000/1", "50000  100000", "MAX"}) {
        auto e = errorFrom([&] { parseCpuMax(text); });
        ASSERT_TRUE(e) << text;
        EXPECT_EQ(e->status(), ExitStatus::kUsage) << text;
        EXPECT_TRUE(contains(e->what(), "--cpu-max '" + std::string(text) + "'")) << e->what();
        EXPECT_TRUE(contains(e->what(), "give a share of one CPU (50%)")) << e->what();
    }
    auto small = errorFrom([] { parseCpuMax("0.5%"); });
    ASSERT_TRUE(small);
    EXPECT_STREQ(small->what(),
                 "--cpu-max '0.5%': that is a quota of 500 µs per 100000 µs; the kernel's smallest "
                 "quota is 1000 µs (1% or 0.01 CPUs with the default period)");
    for (const char* text : {"0", "0%", "0.001", "999/100000"})
        EXPECT_TRUE(contains(errorFrom([&] { parseCpuMax(text); })->what(), "smallest quota"))
            << text;
    for (const char* text : {"50000/999", "50000/1000001"})
        EXPECT_TRUE(contains(errorFrom([&] { parseCpuMax(text); })->what(),
                             "the period must be 1000 to 1000000 µs"))
            << text;
    for (const char* text : {"8193", "819300%", "999999999999", "900000000/100000"})
        EXPECT_TRUE(contains(errorFrom([&] { parseCpuMax(text); })->what(),
                             "more than 8192 CPUs; write max for no cap"))
            << text;
}

TEST(ResourceLimits, CpuWeight) {
    EXPECT_EQ(parseCpuWeight("1"), 1u);
    EXPECT_EQ(parseCpuWeight("100"), 100u);
    EXPECT_EQ(parseCpuWeight("10000"), 10000u);
    for (const char* text : {"0", "10001", "", "x", "-5", "1.5", "max", " 100"}) {
        auto e = errorFrom([&] { parseCpuWeight(text); });
        ASSERT_TRUE(e);
        EXPECT_EQ(e->status(), ExitStatus::kUsage);
        EXPECT_EQ(std::string(e->what()),
                  "--cpu-weight '" + std::string(text) +
                      "': give a whole number from 1 to 10000 (the host's default share is 100)");
    }
}

TEST(ResourceLimits, CpuLists) {
    EXPECT_EQ(parseCpuList("2,3"), (std::vector<unsigned>{2, 3}));
    EXPECT_EQ(parseCpuList("0-3,6"), (std::vector<unsigned>{0, 1, 2, 3, 6}));
    EXPECT_EQ(parseCpuList("6,2"), (std::vector<unsigned>{6, 2}));  // pinning order kept
    EXPECT_EQ(parseCpuList("5-5"), (std::vector<unsigned>{5}));
    EXPECT_EQ(parseCpuList("1023"), (std::vector<unsigned>{1023}));
    EXPECT_EQ(parseCpuList("any"), (std::vector<unsigned>{}));

    auto why = [](const char* text) {
        auto e = errorFrom([&] { parseCpuList(text); });
        EXPECT_EQ(e->status(), ExitStatus::kUsage);
        return std::string(e->what());
    };
    EXPECT_EQ(why("3-1"),
              "--cpus-on '3-1': the range '3-1' runs backwards (give host CPU numbers and ranges, "
              "2,3 or 0-3,6, or any)");
    EXPECT_TRUE(contains(why("1,1"), "CPU 1 is listed twice"));
    EXPECT_TRUE(contains(why("0-2,2"), "CPU 2 is listed twice"));
    EXPECT_TRUE(contains(why("1024"), "CPU numbers go up to 1023"));
    EXPECT_TRUE(contains(why("0-4096"), "CPU numbers go up to 1023"));
    EXPECT_TRUE(contains(why(""), "the list is empty"));
    for (const char* text : {"a", "1,", ",1", "1-", "-1", "1--2", "1 ,2", "all", "0x1"})
        EXPECT_TRUE(contains(why(text), "is not a CPU number or range")) << text;
}

TEST(ResourceLimits, MemoryLimits) {
    EXPECT_EQ(parseMemoryLimit(kMemoryMaxFlag, "512M"), 512ull << 20);
    EXPECT_EQ(parseMemoryLimit(kMemoryHighFlag, "2G"), 2ull << 30);
    EXPECT_EQ(parseMemoryLimit(kMemoryMaxFlag, "16M"), 16ull << 20);
    EXPECT_EQ(parseMemoryLimit(kMemoryMaxFlag, "max"), kUnlimited);
    auto unitless = errorFrom([] { parseMemoryLimit(kMemoryMaxFlag, "512"); });
    ASSERT_TRUE(unitless);
    EXPECT_EQ(unitless->status(), ExitStatus::kUsage);
    EXPECT_STREQ(unitless->what(),
                 "--memory-max '512': that is 512 B; a limit must be 16 MiB to 1 PiB, or max (a "
                 "size without a unit is bytes: write 512M, not 512)");
    auto huge = errorFrom([] { parseMemoryLimit(kMemoryHighFlag, "2048T"); });
    EXPECT_TRUE(contains(huge->what(), "--memory-high '2048T': that is 2048 TiB"));
    auto garbage = errorFrom([] { parseMemoryLimit(kMemoryHighFlag, "lots"); });
    EXPECT_TRUE(contains(garbage->what(), "--memory-high 'lots': give a size (512M, 2G) or max"));
    EXPECT_EQ(garbage->status(), ExitStatus::kUsage);
}

TEST(ResourceLimits, FromFlags) {
    ResourceLimits limits;
    setLimitFromFlag(limits, "--cpu-max", "50%");
    setLimitFromFlag(limits, "--cpu-weight", "300");
    setLimitFromFlag(limits, "--cpus-on", "4-5");
    setLimitFromFlag(limits, "--memory-high", "1G");
    setLimitFromFlag(limits, "--memory-max", "max");
    EXPECT_EQ(limits.cpuMax, cpuMax(50000));
    EXPECT_EQ(limits.cpuWeight, 300u);
    EXPECT_EQ(limits.cpus, (std::vector<unsigned>{4, 5}));
    EXPECT_EQ(limits.memoryHigh, 1ull << 30);
    EXPECT_EQ(limits.memoryMax, kUnlimited);
    EXPECT_EQ(flagsOf(limits), "--cpu-max, --cpu-weight, --cpus-on, --memory-high, --memory-max");

    auto twice = errorFrom([&] { setLimitFromFlag(limits, "--cpu-weight", "200"); });
    EXPECT_STREQ(twice->what(), "--cpu-weight given twice");
    EXPECT_EQ(twice->status(), ExitStatus::kUsage);
    auto unknown = errorFrom([&] { setLimitFromFlag(limits, "--cpu-shares", "2"); });
    EXPECT_TRUE(contains(unknown->what(), "unknown resource limit --cpu-shares (limits: --cpu-max"));
}

TEST(ResourceLimits, MergeReplacesOnlyWhatTheUpdateGives) {
    ResourceLimits current;
    current.cpuMax = cpuMax(50000);
    current.cpus = std::vector<unsigned>{2, 3};
    current.memoryMax = 1ull << 30;
    ResourceLimits update;
    update.cpuMax = cpuMax(kUnlimited);
    update.cpus = std::vector<unsigned>{};
    update.cpuWeight = 50;
    ResourceLimits m = merged(current, update);
    EXPECT_EQ(m.cpuMax, cpuMax(kUnlimited));
    EXPECT_EQ(m.cpus, std::vector<unsigned>{});
    EXPECT_EQ(m.cpuWeight, 50u);
    EXPECT_EQ(m.memoryMax, 1ull << 30);
    EXPECT_EQ(m.memoryHigh, std::nullopt);
    EXPECT_EQ(merged(current, ResourceLimits{}), current);
    EXPECT_TRUE(ResourceLimits{}.empty());
    EXPECT_FALSE(m.empty());
}

TEST(ResourceLimits, CpuListFormat) {
    EXPECT_EQ(formatCpuList({6, 0, 1, 2, 3}), "0-3,6");
    EXPECT_EQ(formatCpuList({}), "");
    EXPECT_EQ(formatCpuList({5}), "5");
    EXPECT_EQ(formatCpuList({1, 3, 5}), "1,3,5");
    EXPECT_EQ(formatCpuList({3, 2}), "2-3");
    EXPECT_EQ(formatCpuList({0, 1, 3, 4, 5, 9}), "0-1,3-5,9");
}

TEST(ResourceLimits, CgroupFileValuesAndBack) {
    ResourceLimits limits;
    limits.cpuMax = cpuMax(150000);
    limits.cpuWeight = 200;
    limits.cpus = std::vector<unsigned>{3, 2, 6};
    limits.memoryHigh = 1ull << 30;
    limits.memoryMax = kUnlimited;
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"cpu.max", "150000 100000"},
        {"cpu.weight", "200"},
        {"cpuset.cpus", "2-3,6"},
        {"memory.high", "1073741824"},
        {"memory.max", "max"},
    };
    EXPECT_EQ(cgroupFileValues(limits), expected);

    ResourceLimits back = limitsFromCgroupValues(expected);
    EXPECT_EQ(back.cpuMax, limits.cpuMax);
    EXPECT_EQ(back.cpuWeight, 200u);
    EXPECT_EQ(back.cpus, (std::vector<unsigned>{2, 3, 6}));  // the kernel's order
    EXPECT_EQ(back.memoryHigh, 1ull << 30);
    EXPECT_EQ(back.memoryMax, kUnlimited);

    ResourceLimits remove;
    remove.cpuMax = cpuMax(kUnlimited);
    remove.cpus = std::vector<unsigned>{};
    EXPECT_EQ(cgroupFileValues(remove),
              (std::vector<std::pair<std::string, std::string>>{{"cpu.max", "max 100000"},
                                                                {"cpuset.cpus", ""}}));
}

TEST(ResourceLimits, ReadBackIgnoresWhatDoesNotParse) {
    ResourceLimits back = limitsFromCgroupValues({
        {"cpu.max", "max 100000\n"},
        {"cpu.weight", "abc\n"},
        {"cpuset.cpus", "\n"},
        {"memory.high", "-1\n"},
        {"memory.max", "4096\n"},
        {"unknown", "1"},
    });
    EXPECT_EQ(back.cpuMax, cpuMax(kUnlimited));
    EXPECT_EQ(back.cpuWeight, std::nullopt);
    EXPECT_EQ(back.cpus, std::nullopt);
    EXPECT_EQ(back.memoryHigh, std::nullopt);
    EXPECT_EQ(back.memoryMax, 4096u);  // the kernel's values are not range-checked

    for (const char* bad : {"", "100000", "max", "50000 0", "x y", "50000 100000 1", " 1 2"}) {
        EXPECT_EQ(limitsFromCgroupValues({{"cpu.max", bad}}).cpuMax, std::nullopt) << bad;
    }
    EXPECT_EQ(limitsFromCgroupValues({{"cpuset.cpus", "0-3,2"}}).cpus, std::nullopt);
    EXPECT_EQ(limitsFromCgroupValues({{"cpuset.cpus", std::string(100000, '1')}}).cpus,
              std::nullopt);
}

TEST(ResourceLimits, Json) {
    ResourceLimits limits;
    limits.cpuMax = cpuMax(50000);
    limits.cpuWeight = 100;
    limits.cpus = std::vector<unsigned>{3, 2};
    limits.memoryHigh = kUnlimited;
    limits.memoryMax = 2ull << 30;
    EXPECT_EQ(toJson(limits).dump(),
              R"({"cpuMax":{"quotaUs":50000,"periodUs":100000},"cpuWeight":100,"cpus":[3,2],)"
              R"("memoryHighBytes":"max","memoryMaxBytes":2147483648})");
    ResourceLimits removal;
    removal.cpuMax = cpuMax(kUnlimited);
    removal.cpus = std::vector<unsigned>{};
    EXPECT_EQ(toJson(removal).dump(), R"({"cpuMax":"max","cpus":"any"})");
    EXPECT_EQ(toJson(ResourceLimits{}).dump(), "{}");
}

TEST(ResourceLimits, Warnings) {
    ResourceLimits limits;
    limits.memoryMax = 256ull << 20;
    limits.cpus = std::vector<unsigned>{2, 3};
    auto w = limitWarnings(limits, 4, 512ull << 20);
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0],
              "--memory-max 256 MiB is less than the guest's 512 MiB of RAM: the VM is killed "
              "(out of memory) once the guest has used that much");
    EXPECT_TRUE(contains(w[1], "--cpus-on gives 2 host CPUs to 4 vCPUs"));
    EXPECT_TRUE(limitWarnings(limits, 2, 256ull << 20).empty());
    limits.memoryMax = kUnlimited;
    limits.cpus = std::vector<unsigned>{};
    EXPECT_TRUE(limitWarnings(limits, 8, 1ull << 40).empty());
}

}  // namespace
}  // namespace ingot::vmm
