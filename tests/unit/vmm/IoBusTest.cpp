#include "devices/IoBus.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "devices/IoDevice.h"
#include "ingot/core/Error.h"

namespace ingot::vmm {
namespace {

// Remembers every access and answers reads with 0xA0 + offset in each byte.
class ProbeDevice : public IoDevice {
public:
    explicit ProbeDevice(std::string name) : name_(std::move(name)) {}
    std::string_view name() const override { return name_; }
    void read(uint64_t offset, std::span<uint8_t> data) override {
        reads.push_back(offset);
        for (auto& b : data) b = static_cast<uint8_t>(0xa0 + offset);
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        writes.push_back({offset, accessValue(data)});
    }

    std::vector<uint64_t> reads;
    std::vector<std::pair<uint64_t, uint64_t>> writes;

private:
    std::string name_;
};

class IoBusTest : public ::testing::Test {
protected:
    void SetUp() override {
        bus.add(0x3f8, 8, uart);
        bus.add(0x60, 5, kbd);
    }
    IoBus bus;
    std::shared_ptr<ProbeDevice> uart = std::make_shared<ProbeDevice>("uart");
    std::shared_ptr<ProbeDevice> kbd = std::make_shared<ProbeDevice>("kbd");
};

TEST_F(IoBusTest, FindsTheDeviceAtTheStartAndEndOfItsRange) {
    uint64_t offset = 99;
    EXPECT_EQ(bus.find(0x3f8, &offset), uart.get());
    EXPECT_EQ(offset, 0u);
    EXPECT_EQ(bus.find(0x3ff, &offset), uart.get());
    EXPECT_EQ(offset, 7u);
    EXPECT_EQ(bus.find(0x60, &offset), kbd.get());
    EXPECT_EQ(offset, 0u);
    EXPECT_EQ(bus.find(0x64, &offset), kbd.get());
    EXPECT_EQ(offset, 4u);
}

TEST_F(IoBusTest, FindsNothingOutsideTheRanges) {
    uint64_t offset = 99;
    for (uint64_t address : {0x0ull, 0x5full, 0x65ull, 0x3f7ull, 0x400ull, ~0ull})
        EXPECT_EQ(bus.find(address, &offset), nullptr) << std::hex << address;
    EXPECT_EQ(offset, 99u);  // untouched on a miss
}

TEST_F(IoBusTest, RoutesReadsAndWritesWithTheOffset) {
    uint8_t value = 0;
    EXPECT_TRUE(bus.read(0x3fd, {&value, 1}));
    EXPECT_EQ(value, 0xa5);
    EXPECT_EQ(uart->reads, std::vector<uint64_t>{5});
    uint8_t wide[2] = {0x34, 0x12};
    EXPECT_TRUE(bus.write(0x64, wide));
    ASSERT_EQ(kbd->writes.size(), 1u);
    EXPECT_EQ(kbd->writes[0].first, 4u);
    EXPECT_EQ(kbd->writes[0].second, 0x1234u);
    EXPECT_TRUE(uart->writes.empty());
}

TEST_F(IoBusTest, UnclaimedAccessesReturnFalse) {
    uint8_t value = 0x77;
    EXPECT_FALSE(bus.read(0x80, {&value, 1}));
    EXPECT_EQ(value, 0x77);
    EXPECT_FALSE(bus.write(0x80, {&value, 1}));
    EXPECT_TRUE(uart->reads.empty());
    EXPECT_TRUE(kbd->reads.empty());
}

TEST_F(IoBusTest, RejectsOverlappingRanges) {
    auto other = std::make_shared<ProbeDevice>("other");
    EXPECT_THROW(bus.add(0x3f8, 8, other), Error);      // same range
    EXPECT_THROW(bus.add(0x3ff, 1, other), Error);      // last byte
    EXPECT_THROW(bus.add(0x3f0, 9, other), Error);      // runs into it
    EXPECT_THROW(bus.add(0x3fa, 2, other), Error);      // inside
    EXPECT_THROW(bus.add(0x300, 0x200, other), Error);  // covers it
    EXPECT_THROW(bus.add(0x64, 0x3a0, other), Error);   // spans from one into the other
    // Adjacent ranges are fine.
    EXPECT_NO_THROW(bus.add(0x3f0, 8, other));
    EXPECT_NO_THROW(bus.add(0x400, 1, std::make_shared<ProbeDevice>("after")));
    EXPECT_NO_THROW(bus.add(0x65, 1, std::make_shared<ProbeDevice>("between")));
    uint64_t offset;
    EXPECT_EQ(bus.find(0x3f7, &offset), other.get());
    EXPECT_EQ(bus.find(0x3f8, &offset), uart.get());
}

TEST_F(IoBusTest, OverlapErrorNamesTheDevice) {
    try {
        bus.add(0x3fc, 4, std::make_shared<ProbeDevice>("second-uart"));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("second-uart"), std::string::npos) << e.what();
    }
}

TEST_F(IoBusTest, ClaimsNumberRangesInTheOrderTheyWereAdded) {
    auto uartClaim = bus.claim(0x3fb);
    ASSERT_TRUE(uartClaim);
    EXPECT_EQ(uartClaim->device, uart.get());
    EXPECT_EQ(uartClaim->offset, 3u);
    EXPECT_EQ(uartClaim->range, 0u);
    ASSERT_TRUE(bus.claim(0x60));
    EXPECT_EQ(bus.claim(0x60)->range, 1u);  // added second, though its address is lower
    EXPECT_FALSE(bus.claim(0x80));
    EXPECT_EQ(bus.rangeNames(), (std::vector<std::string>{"uart", "kbd"}));
    // A refused range takes no number.
    EXPECT_THROW(bus.add(0x3f8, 1, std::make_shared<ProbeDevice>("clash")), Error);
    bus.add(0x2f8, 8, uart);
    EXPECT_EQ(bus.claim(0x2f8)->range, 2u);
    EXPECT_EQ(bus.rangeNames(), (std::vector<std::string>{"uart", "kbd", "uart"}));
}

TEST(IoBus, RejectsEmptyAndWrappingRanges) {
    IoBus bus;
    auto dev = std::make_shared<ProbeDevice>("d");
    EXPECT_THROW(bus.add(0x100, 0, dev), Error);
    EXPECT_THROW(bus.add(~0ull - 3, 8, dev), Error);
}

TEST(IoBus, EmptyBusClaimsNothing) {
    IoBus bus;
    uint64_t offset;
    EXPECT_EQ(bus.find(0, &offset), nullptr);
    uint8_t b;
    EXPECT_FALSE(bus.read(0x3f8, {&b, 1}));
}

}  // namespace
}  // namespace ingot::vmm
