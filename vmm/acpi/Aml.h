#pragma once

// A small ACPI Machine Language (AML) encoder: just the objects ingot's DSDT declares (ACPI 6.x
// section 20, "ACPI Machine Language Specification"). No Method() and no operators: everything
// the guest needs is static data, so there is no code for the guest's interpreter to run.
//
// Every function returns the complete encoding of one AML object; terms are concatenated by the
// caller (a TermList is nothing but encodings placed back to back). Invalid input — a name that is
// not a NameString, a package that is too large — throws ingot::Error: these are bugs in the
// monitor, not guest input.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ingot::vmm::acpi::aml {

using Bytes = std::vector<uint8_t>;

// The largest value a PkgLength can hold (28 bits in the 4-byte form).
constexpr uint32_t kMaxPkgLength = 0x0FFF'FFFF;

// The encoding of the PkgLength value `length` (1 to 4 bytes). The value of a PkgLength counts its
// own bytes too, so this is the low-level encoder: most callers want withPkgLength().
Bytes pkgLength(uint32_t length);

// `body` prefixed by the PkgLength that covers it (and itself).
Bytes withPkgLength(std::span<const uint8_t> body);

// A NameString: an optional root ('\') or parent ('^'...) prefix, then dot-separated NameSegs.
// Segments shorter than four characters are padded with '_' ("_SB" -> "_SB_"), so "\\_SB.COM1",
// "\\_SB_.COM1", "VR00" and "^^FOO" are all accepted; "\\" alone is the root itself.
Bytes nameString(std::string_view path);

// The shortest encoding of an integer constant: ZeroOp, OneOp, or the Byte/Word/DWord/QWord
// prefix that holds it. Ones (0xFF) is never used: its value depends on the DSDT revision.
Bytes integer(uint64_t value);

// A String object; `text` must be printable ASCII (it also may not hold the terminating NUL).
Bytes string(std::string_view text);

// A compressed EISA id such as "PNP0501" (three capitals and four hex digits) as the DWord
// ASL's EISAID() produces: 0x0105D041 for "PNP0501".
Bytes eisaId(std::string_view id);

// Package(){elements...}; each element is an encoded data object. At most 255 elements.
Bytes package(const std::vector<Bytes>& elements);

// Buffer(){bytes...}.
Bytes buffer(std::span<const uint8_t> contents);

// Name(path, object): `object` is an encoded data object (integer, string, package, buffer).
Bytes name(std::string_view path, std::span<const uint8_t> object);

// Scope(path){terms...} and Device(path){terms...}.
Bytes scope(std::string_view path, const std::vector<Bytes>& terms);
Bytes device(std::string_view path, const std::vector<Bytes>& terms);

enum class InterruptTrigger : uint8_t { kLevel, kEdge };
enum class InterruptPolarity : uint8_t { kActiveHigh, kActiveLow };
enum class InterruptSharing : uint8_t { kExclusive, kShared };

// The resource descriptors of a _CRS (ACPI 6.x section 6.4), ended by the End Tag when
// serialised. Every interrupt is described from the consumer's side: ingot's devices raise their
// interrupts, they never produce them for others.
class ResourceTemplate {
public:
    // Memory32Fixed (large item 0x86).
    ResourceTemplate& memory32Fixed(uint32_t base, uint32_t length, bool writable = true);
    // Extended Interrupt (large item 0x89) with one interrupt number (a GSI on x86).
    ResourceTemplate& extendedInterrupt(uint32_t interrupt, InterruptTrigger trigger,
                                        InterruptPolarity polarity, InterruptSharing sharing);
    // IO (small item 0x47) with 16-bit decode.
    ResourceTemplate& io(uint16_t minimum, uint16_t maximum, uint8_t alignment, uint8_t length);
    // IRQNoFlags (small item 0x22): an ISA IRQ 0..15, edge triggered, active high, exclusive.
    ResourceTemplate& irqNoFlags(uint8_t isaIrq);

    // The descriptors followed by the End Tag (0x79, checksum 0 = "treat as valid").
    Bytes descriptors() const;
    // The Buffer object holding descriptors(): what Name(_CRS, ...) takes.
    Bytes toBuffer() const;

private:
    Bytes descriptors_;
};

}  // namespace ingot::vmm::acpi::aml
