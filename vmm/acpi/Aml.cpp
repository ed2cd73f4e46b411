#include "acpi/Aml.h"

#include <string>

#include "ingot/core/Error.h"

namespace ingot::vmm::acpi::aml {

namespace {

// Opcodes and prefixes, ACPI 6.x section 20.3 ("AML Byte Stream Byte Values").
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0A;
constexpr uint8_t kWordPrefix = 0x0B;
constexpr uint8_t kDWordPrefix = 0x0C;
constexpr uint8_t kStringPrefix = 0x0D;
constexpr uint8_t kQWordPrefix = 0x0E;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kDualNamePrefix = 0x2E;
constexpr uint8_t kMultiNamePrefix = 0x2F;
constexpr uint8_t kExtOpPrefix = 0x5B;
constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
constexpr uint8_t kRootChar = '\\';
constexpr uint8_t kParentPrefixChar = '^';
constexpr uint8_t kNullName = 0x00;

// Resource descriptor tags, ACPI 6.x section 6.4.
constexpr uint8_t kIrqNoFlagsTag = 0x22;  // small item 0x04, length 2
constexpr uint8_t kIoTag = 0x47;          // small item 0x08, length 7
constexpr uint8_t kEndTag = 0x79;         // small item 0x0F, length 1
constexpr uint8_t kMemory32FixedTag = 0x86;
constexpr uint8_t kExtendedInterruptTag = 0x89;

[[noreturn]] void fail(const std::string& what) {
    throw Error("AML encoding: " + what);
}

void append(Bytes& out, std::span<const uint8_t> bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
}

void appendLittleEndian(Bytes& out, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

bool isLeadNameChar(char c) {
    return (c >= 'A' && c <= 'Z') || c == '_';
}
bool isNameChar(char c) {
    return isLeadNameChar(c) || (c >= '0' && c <= '9');
}

void appendNameSeg(Bytes& out, std::string_view segment, std::string_view path) {
    if (segment.empty() || segment.size() > 4)
        fail("name segment \"" + std::string(segment) + "\" in \"" + std::string(path) +
             "\" must have 1 to 4 characters");
    if (!isLeadNameChar(segment[0]))
        fail("name segment \"" + std::string(segment) + "\" in \"" + std::string(path) +
             "\" must start with A-Z or '_'");
    for (char c : segment)
        if (!isNameChar(c))
            fail("name segment \"" + std::string(segment) + "\" in \"" + std::string(path) +
                 "\" may only hold A-Z, 0-9 and '_'");
    for (char c : segment) out.push_back(static_cast<uint8_t>(c));
    for (size_t i = segment.size(); i < 4; ++i) out.push_back('_');
}

Bytes namedObject(std::span<const uint8_t> opcode, std::string_view path,
                  const std::vector<Bytes>& terms) {
    Bytes body = nameString(path);
    for (const auto& term : terms) append(body, term);
    Bytes out(opcode.begin(), opcode.end());
    append(out, withPkgLength(body));
    return out;
}

}  // namespace

Bytes pkgLength(uint32_t length) {
    // One byte holds 6 bits; the multi-byte forms keep 4 bits in the lead byte (whose top two
    // bits count the bytes that follow) and 8 bits in each following byte.
    if (length <= 0x3F) return {static_cast<uint8_t>(length)};
    if (length > kMaxPkgLength) fail("PkgLength " + std::to_string(length) + " exceeds 2^28 - 1");
    int following = length <= 0xFFF ? 1 : length <= 0xF'FFFF ? 2 : 3;
    Bytes out{static_cast<uint8_t>((following << 6) | (length & 0x0F))};
    appendLittleEndian(out, length >> 4, following);
    return out;
}

Bytes withPkgLength(std::span<const uint8_t> body) {
    // Pick the smallest form whose value, which includes the PkgLength bytes, still fits it.
    uint64_t size = body.size();
    uint64_t total = size + 1 <= 0x3F       ? size + 1
                     : size + 2 <= 0xFFF    ? size + 2
                     : size + 3 <= 0xF'FFFF ? size + 3
                                            : size + 4;
    if (total > kMaxPkgLength)
        fail("an object of " + std::to_string(size) + " bytes is too large for a PkgLength");
    Bytes out = pkgLength(static_cast<uint32_t>(total));
    append(out, body);
    return out;
}

Bytes nameString(std::string_view path) {
    Bytes out;
    std::string_view rest = path;
    if (!rest.empty() && rest.front() == kRootChar) {
        out.push_back(kRootChar);
        rest.remove_prefix(1);
    } else {
        while (!rest.empty() && rest.front() == kParentPrefixChar) {
            out.push_back(kParentPrefixChar);
            rest.remove_prefix(1);
        }
    }
    if (rest.empty()) {
        if (out.empty()) fail("empty name");
        out.push_back(kNullName);
        return out;
    }

    std::vector<std::string_view> segments;
    for (size_t start = 0;;) {
        size_t dot = rest.find('.', start);
        segments.push_back(rest.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (segments.size() > 255) fail("name \"" + std::string(path) + "\" has over 255 segments");
    if (segments.size() == 2) out.push_back(kDualNamePrefix);
    if (segments.size() > 2) {
        out.push_back(kMultiNamePrefix);
        out.push_back(static_cast<uint8_t>(segments.size()));
    }
    for (auto segment : segments) appendNameSeg(out, segment, path);
    return out;
}

Bytes integer(uint64_t value) {
    if (value == 0) return {kZeroOp};
    if (value == 1) return {kOneOp};
    Bytes out;
    if (value <= 0xFF) {
        out.push_back(kBytePrefix);
        appendLittleEndian(out, value, 1);
    } else if (value <= 0xFFFF) {
        out.push_back(kWordPrefix);
        appendLittleEndian(out, value, 2);
    } else if (value <= 0xFFFF'FFFF) {
        out.push_back(kDWordPrefix);
        appendLittleEndian(out, value, 4);
    } else {
        out.push_back(kQWordPrefix);
        appendLittleEndian(out, value, 8);
    }
    return out;
}

Bytes string(std::string_view text) {
    Bytes out{kStringPrefix};
    for (char c : text) {
        if (c < 0x20 || c > 0x7E)
            fail("string \"" + std::string(text) + "\" is not printable ASCII");
        out.push_back(static_cast<uint8_t>(c));
    }
    out.push_back(0);
    return out;
}

Bytes eisaId(std::string_view id) {
    auto isHex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
    bool valid = id.size() == 7;
    for (size_t i = 0; valid && i < 7; ++i)
        valid = i < 3 ? (id[i] >= 'A' && id[i] <= 'Z') : isHex(id[i]);
    if (!valid)
        fail("EISA id \"" + std::string(id) + "\" is not three capitals and four hex digits");

    // Three 5-bit letters ('A' = 1) then the 16-bit product number, both stored big-endian.
    uint16_t vendor =
        static_cast<uint16_t>(((id[0] - '@') << 10) | ((id[1] - '@') << 5) | (id[2] - '@'));
    uint16_t product = static_cast<uint16_t>(std::stoul(std::string(id.substr(3)), nullptr, 16));
    return {kDWordPrefix, static_cast<uint8_t>(vendor >> 8), static_cast<uint8_t>(vendor),
            static_cast<uint8_t>(product >> 8), static_cast<uint8_t>(product)};
}

Bytes package(const std::vector<Bytes>& elements) {
    if (elements.size() > 255)
        fail("Package of " + std::to_string(elements.size()) + " elements: at most 255 fit");
    Bytes body{static_cast<uint8_t>(elements.size())};
    for (const auto& element : elements) append(body, element);
    Bytes out{kPackageOp};
    append(out, withPkgLength(body));
    return out;
}

Bytes buffer(std::span<const uint8_t> contents) {
    Bytes body = integer(contents.size());
    append(body, contents);
    Bytes out{kBufferOp};
    append(out, withPkgLength(body));
    return out;
}

Bytes name(std::string_view path, std::span<const uint8_t> object) {
    Bytes out{kNameOp};
    append(out, nameString(path));
    append(out, object);
    return out;
}

Bytes scope(std::string_view path, const std::vector<Bytes>& terms) {
    const uint8_t opcode[] = {kScopeOp};
    return namedObject(opcode, path, terms);
}

Bytes device(std::string_view path, const std::vector<Bytes>& terms) {
    const uint8_t opcode[] = {kExtOpPrefix, kDeviceOp};
    return namedObject(opcode, path, terms);
}

ResourceTemplate& ResourceTemplate::memory32Fixed(uint32_t base, uint32_t length, bool writable) {
    descriptors_.push_back(kMemory32FixedTag);
    appendLittleEndian(descriptors_, 9, 2);  // bytes after the length field
    descriptors_.push_back(writable ? 0x01 : 0x00);
    appendLittleEndian(descriptors_, base, 4);
    appendLittleEndian(descriptors_, length, 4);
    return *this;
}

ResourceTemplate& ResourceTemplate::extendedInterrupt(uint32_t interrupt, InterruptTrigger trigger,
                                                      InterruptPolarity polarity,
                                                      InterruptSharing sharing) {
    uint8_t flags = 0x01;  // bit 0: consumer
    if (trigger == InterruptTrigger::kEdge) flags |= 0x02;
    if (polarity == InterruptPolarity::kActiveLow) flags |= 0x04;
    if (sharing == InterruptSharing::kShared) flags |= 0x08;
    descriptors_.push_back(kExtendedInterruptTag);
    appendLittleEndian(descriptors_, 2 + 4, 2);  // flags, count, one 32-bit interrupt number
    descriptors_.push_back(flags);
    descriptors_.push_back(1);
    appendLittleEndian(descriptors_, interrupt, 4);
    return *this;
}

ResourceTemplate& ResourceTemplate::io(uint16_t minimum, uint16_t maximum, uint8_t alignment,
                                       uint8_t length) {
    descriptors_.push_back(kIoTag);
    descriptors_.push_back(0x01);  // decodes all 16 address bits
    appendLittleEndian(descriptors_, minimum, 2);
    appendLittleEndian(descriptors_, maximum, 2);
    descriptors_.push_back(alignment);
    descriptors_.push_back(length);
    return *this;
}

ResourceTemplate& ResourceTemplate::irqNoFlags(uint8_t isaIrq) {
    if (isaIrq > 15) fail("ISA IRQ " + std::to_string(isaIrq) + " is not in 0..15");
    descriptors_.push_back(kIrqNoFlagsTag);
    appendLittleEndian(descriptors_, 1u << isaIrq, 2);
    return *this;
}

Bytes ResourceTemplate::descriptors() const {
    Bytes out = descriptors_;
    out.push_back(kEndTag);
    out.push_back(0);
    return out;
}

Bytes ResourceTemplate::toBuffer() const {
    return buffer(descriptors());
}

}  // namespace ingot::vmm::acpi::aml
