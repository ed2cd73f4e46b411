#include "acpi/Aml.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ingot/core/Error.h"

namespace ingot::vmm::acpi::aml {
namespace {

using B = Bytes;

TEST(AcpiAmlPkgLength, OneByteFormUpTo63) {
    EXPECT_EQ(pkgLength(0), (B{0x00}));
    EXPECT_EQ(pkgLength(63), (B{0x3F}));
}

TEST(AcpiAmlPkgLength, TwoByteFormFrom64To4095) {
    EXPECT_EQ(pkgLength(64), (B{0x40, 0x04}));
    EXPECT_EQ(pkgLength(0x123), (B{0x43, 0x12}));
    EXPECT_EQ(pkgLength(4095), (B{0x4F, 0xFF}));
}

TEST(AcpiAmlPkgLength, ThreeByteFormFrom4096To1048575) {
    EXPECT_EQ(pkgLength(4096), (B{0x80, 0x00, 0x01}));
    EXPECT_EQ(pkgLength(1048575), (B{0x8F, 0xFF, 0xFF}));
}

TEST(AcpiAmlPkgLength, FourByteFormFrom1048576) {
    EXPECT_EQ(pkgLength(1048576), (B{0xC0, 0x00, 0x00, 0x01}));
    EXPECT_EQ(pkgLength(kMaxPkgLength), (B{0xCF, 0xFF, 0xFF, 0xFF}));
}

TEST(AcpiAmlPkgLength, RejectsValuesAbove28Bits) {
    EXPECT_THROW(pkgLength(kMaxPkgLength + 1), Error);
}

// The value counts the PkgLength's own bytes, so the form changes one body byte early.
TEST(AcpiAmlPkgLength, WithPkgLengthCountsItsOwnBytes) {
    auto prefix = [](size_t bodySize) {
        B body(bodySize, 0xAA);
        B encoded = withPkgLength(body);
        auto bodyStart = encoded.end() - static_cast<ptrdiff_t>(bodySize);
        EXPECT_TRUE(std::equal(body.begin(), body.end(), bodyStart));
        return B(encoded.begin(), bodyStart);
    };
    EXPECT_EQ(prefix(0), (B{0x01}));
    EXPECT_EQ(prefix(62), (B{0x3F}));                         // 62 + 1 = 63
    EXPECT_EQ(prefix(63), (B{0x41, 0x04}));                   // 63 + 2 = 65
    EXPECT_EQ(prefix(4093), (B{0x4F, 0xFF}));                 // 4093 + 2 = 4095
    EXPECT_EQ(prefix(4094), (B{0x81, 0x00, 0x01}));           // 4094 + 3 = 4097
    EXPECT_EQ(prefix(1048572), (B{0x8F, 0xFF, 0xFF}));        // + 3 = 1048575
    EXPECT_EQ(prefix(1048573), (B{0xC1, 0x00, 0x00, 0x01}));  // + 4 = 1048577
}

TEST(AcpiAmlInteger, ChoosesTheShortestEncoding) {
    EXPECT_EQ(integer(0), (B{0x00}));
    EXPECT_EQ(integer(1), (B{0x01}));
    EXPECT_EQ(integer(2), (B{0x0A, 0x02}));
    EXPECT_EQ(integer(0xFF), (B{0x0A, 0xFF}));
    EXPECT_EQ(integer(0x100), (B{0x0B, 0x00, 0x01}));
    EXPECT_EQ(integer(0xFFFF), (B{0x0B, 0xFF, 0xFF}));
    EXPECT_EQ(integer(0x10000), (B{0x0C, 0x00, 0x00, 0x01, 0x00}));
    EXPECT_EQ(integer(0xFEB0'0000), (B{0x0C, 0x00, 0x00, 0xB0, 0xFE}));
    EXPECT_EQ(integer(0xFFFF'FFFF), (B{0x0C, 0xFF, 0xFF, 0xFF, 0xFF}));
    EXPECT_EQ(integer(0x1'0000'0000), (B{0x0E, 0, 0, 0, 0, 1, 0, 0, 0}));
    EXPECT_EQ(integer(~uint64_t{0}), (B{0x0E, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST(AcpiAmlNameString, PadsSegmentsWithUnderscores) {
    EXPECT_EQ(nameString("_SB"), (B{'_', 'S', 'B', '_'}));
    EXPECT_EQ(nameString("_SB_"), (B{'_', 'S', 'B', '_'}));
    EXPECT_EQ(nameString("A"), (B{'A', '_', '_', '_'}));
}

TEST(AcpiAmlNameString, RootAndParentPrefixes) {
    EXPECT_EQ(nameString("\\_SB_"), (B{'\\', '_', 'S', 'B', '_'}));
    EXPECT_EQ(nameString("\\"), (B{'\\', 0x00}));
    EXPECT_EQ(nameString("^^FOO"), (B{'^', '^', 'F', 'O', 'O', '_'}));
}

TEST(AcpiAmlNameString, DualAndMultiSegmentPaths) {
    EXPECT_EQ(nameString("\\_SB.COM1"), (B{'\\', 0x2E, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'}));
    EXPECT_EQ(nameString("_SB_.PCI0.ISA"),
              (B{0x2F, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'I', 'S', 'A', '_'}));
}

TEST(AcpiAmlNameString, RejectsInvalidNames) {
    EXPECT_THROW(nameString(""), Error);
    EXPECT_THROW(nameString("TOOLONG"), Error);
    EXPECT_THROW(nameString("0ABC"), Error);  // digits may not lead
    EXPECT_THROW(nameString("ab"), Error);    // lower case is not a NameChar
    EXPECT_THROW(nameString("_SB..X"), Error);
    EXPECT_THROW(nameString("_SB."), Error);
    EXPECT_THROW(nameString("^\\FOO"), Error);
}

TEST(AcpiAmlString, IsNulTerminated) {
    EXPECT_EQ(string("LNRO0005"), (B{0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00}));
    EXPECT_EQ(string(""), (B{0x0D, 0x00}));
    EXPECT_THROW(string(std::string_view("a\0b", 3)), Error);
}

TEST(AcpiAmlEisaId, CompressesLikeAslEisaId) {
    // 0x0105D041 as a little-endian DWord.
    EXPECT_EQ(eisaId("PNP0501"), (B{0x0C, 0x41, 0xD0, 0x05, 0x01}));
    EXPECT_EQ(eisaId("PNP0A03"), (B{0x0C, 0x41, 0xD0, 0x0A, 0x03}));
    EXPECT_THROW(eisaId("PNP050"), Error);
    EXPECT_THROW(eisaId("pnp0501"), Error);
    EXPECT_THROW(eisaId("PNP05G1"), Error);
}

TEST(AcpiAmlPackage, CountsElements) {
    EXPECT_EQ(package({integer(5), integer(0), integer(0), integer(0)}),
              (B{0x12, 0x07, 0x04, 0x0A, 0x05, 0x00, 0x00, 0x00}));
    EXPECT_EQ(package({}), (B{0x12, 0x02, 0x00}));
    EXPECT_THROW(package(std::vector<B>(256, integer(0))), Error);
}

TEST(AcpiAmlBuffer, CarriesItsSize) {
    B contents{0x79, 0x00};
    EXPECT_EQ(buffer(contents), (B{0x11, 0x05, 0x0A, 0x02, 0x79, 0x00}));
    EXPECT_EQ(buffer({}), (B{0x11, 0x02, 0x00}));
}

TEST(AcpiAmlName, NamesAnObject) {
    EXPECT_EQ(name("_UID", integer(1)), (B{0x08, '_', 'U', 'I', 'D', 0x01}));
}

TEST(AcpiAmlScopeAndDevice, WrapTheirTermsInAPkgLength) {
    EXPECT_EQ(scope("\\_SB", {}), (B{0x10, 0x06, '\\', '_', 'S', 'B', '_'}));
    EXPECT_EQ(device("VR00", {name("_UID", integer(0))}),
              (B{0x5B, 0x82, 0x0B, 'V', 'R', '0', '0', 0x08, '_', 'U', 'I', 'D', 0x00}));
}

TEST(AcpiAmlScopeAndDevice, UseMultiBytePkgLengthForLargeBodies) {
    std::vector<B> terms(20, name("_UID", integer(0)));  // 20 * 6 + 4 = 124 body bytes
    B encoded = device("BIG0", terms);
    ASSERT_EQ(encoded.size(), 2u + 2u + 124u);
    EXPECT_EQ(encoded[2], 0x40 | ((124 + 2) & 0x0F));
    EXPECT_EQ(encoded[3], (124 + 2) >> 4);
}

TEST(AcpiAmlResourceTemplate, Memory32Fixed) {
    EXPECT_EQ(
        ResourceTemplate().memory32Fixed(0xFEB0'0000, 0x200).descriptors(),
        (B{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xB0, 0xFE, 0x00, 0x02, 0x00, 0x00, 0x79, 0x00}));
    EXPECT_EQ(ResourceTemplate().memory32Fixed(0x1000, 0x10, false).descriptors()[3], 0x00);
}

TEST(AcpiAmlResourceTemplate, ExtendedInterruptFlags) {
    auto flags = [](InterruptTrigger trigger, InterruptPolarity polarity,
                    InterruptSharing sharing) {
        B d = ResourceTemplate().extendedInterrupt(23, trigger, polarity, sharing).descriptors();
        EXPECT_EQ(d, (B{0x89, 0x06, 0x00, d[3], 0x01, 23, 0x00, 0x00, 0x00, 0x79, 0x00}));
        return d[3];
    };
    using T = InterruptTrigger;
    using P = InterruptPolarity;
    using S = InterruptSharing;
    EXPECT_EQ(flags(T::kEdge, P::kActiveHigh, S::kExclusive), 0x03);
    EXPECT_EQ(flags(T::kLevel, P::kActiveHigh, S::kExclusive), 0x01);
    EXPECT_EQ(flags(T::kLevel, P::kActiveLow, S::kShared), 0x0D);
    EXPECT_EQ(flags(T::kEdge, P::kActiveLow, S::kExclusive), 0x07);
}

TEST(AcpiAmlResourceTemplate, IoAndIrqNoFlags) {
    EXPECT_EQ(ResourceTemplate().io(0x3F8, 0x3F8, 1, 8).irqNoFlags(4).descriptors(),
              (B{0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00}));
    EXPECT_EQ(ResourceTemplate().irqNoFlags(15).descriptors(), (B{0x22, 0x00, 0x80, 0x79, 0x00}));
    EXPECT_THROW(ResourceTemplate().irqNoFlags(16), Error);
}

TEST(AcpiAmlResourceTemplate, EmptyTemplateIsJustTheEndTag) {
    EXPECT_EQ(ResourceTemplate().toBuffer(), (B{0x11, 0x05, 0x0A, 0x02, 0x79, 0x00}));
}

}  // namespace
}  // namespace ingot::vmm::acpi::aml
