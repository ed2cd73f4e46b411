// ingot's ACPI tables against ACPICA, the reference implementation whose interpreter Linux runs:
// `iasl -d` must disassemble them without complaint, `iasl` must compile the disassembly back to
// the very same bytes, and `acpiexec` must load them, decode every _CRS with the resource manager
// Linux uses and find the S5 sleep type.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "acpi/AcpiTables.h"

namespace ingot::vmm::acpi {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

std::string tool(const char* environmentVariable, const char* fallback) {
    const char* path = std::getenv(environmentVariable);
    return path && *path ? path : fallback;
}

struct CommandResult {
    int exitStatus;
    std::string output;  // stdout and stderr
};

CommandResult run(const fs::path& directory, const std::string& command) {
    std::string shell = "cd '" + directory.string() + "' && " + command + " 2>&1";
    FILE* pipe = popen(shell.c_str(), "r");
    if (!pipe) return {-1, "popen failed"};
    std::string output;
    char chunk[4096];
    while (size_t n = fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
    int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string readText(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Bytes readBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const fs::path& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

// iasl lays its output out in aligned columns with trailing "// ..." notes. Dropping the notes and
// collapsing every run of blanks lets the checks below say what they look for in one line each.
std::string normalized(const std::string& text) {
    std::string out;
    bool inComment = false, pendingSpace = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (inComment) {
            inComment = c != '\n';
            if (!inComment) pendingSpace = true;
            continue;
        }
        if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            inComment = true;
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(c))) {
            pendingSpace = true;
            continue;
        }
        if (pendingSpace && !out.empty()) out += ' ';
        pendingSpace = false;
        out += c;
    }
    return out;
}

void expectContains(const std::string& text, const std::string& part) {
    EXPECT_NE(text.find(part), std::string::npos) << "missing \"" << part << "\"";
}

void expectField(const std::string& text, const std::string& field, const std::string& value) {
    expectContains(text, field + " : " + value);
}

// The layout of DESIGN.md's QEMU microvm measurement plus a second device.
AcpiLayout interopLayout() {
    AcpiLayout layout;
    layout.cpuCount = 2;
    layout.virtioMmio = {{0xFEB0'0000, 0x200, 5}, {0xFEB0'2E00, 0x200, 23}};
    return layout;
}

class AcpicaInterop : public testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ingot-acpi-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        directory_ = pattern;
        tables_ = buildAcpiTables(interopLayout());
        writeBytes(directory_ / "dsdt.dat", tables_.dsdt.bytes);
        writeBytes(directory_ / "facp.dat", tables_.fadt.bytes);
        writeBytes(directory_ / "apic.dat", tables_.madt.bytes);

        iasl_ = tool("IASL", "iasl");
        acpiexec_ = tool("ACPIEXEC", "acpiexec");
        CommandResult version = run(directory_, "'" + iasl_ + "' -v");
        ASSERT_EQ(version.exitStatus, 0)
            << "cannot run " << iasl_ << " (install acpica-tools: scripts/setup)\n"
            << version.output;
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(directory_, ignored);
    }

    // `iasl -d` on the three tables; returns its output after checking it reported no problem.
    std::string disassemble() {
        CommandResult result = run(directory_, "'" + iasl_ + "' -d dsdt.dat facp.dat apic.dat");
        EXPECT_EQ(result.exitStatus, 0) << result.output;
        for (const char* complaint : {"Error", "Warning", "Invalid", "invalid", "does not contain"})
            EXPECT_EQ(result.output.find(complaint), std::string::npos)
                << "iasl says \"" << complaint << "\":\n"
                << result.output;
        return result.output;
    }

    fs::path directory_;
    AcpiTables tables_;
    std::string iasl_, acpiexec_;
};

TEST_F(AcpicaInterop, IaslDisassemblesTheDsdt) {
    disassemble();
    std::string dsl = normalized(readText(directory_ / "dsdt.dsl"));
    ASSERT_FALSE(dsl.empty());
    expectContains(dsl, "Scope (\\_SB) {");
    expectContains(dsl, "Device (COM1) { Name (_HID, EisaId (\"PNP0501\")");
    expectContains(dsl, "IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08, )");
    expectContains(dsl, "IRQNoFlags () {4}");
    expectContains(dsl, "Device (PS2K) { Name (_HID, EisaId (\"PNP0303\")");
    expectContains(dsl, "IO (Decode16, 0x0064, 0x0064, 0x01, 0x01, )");
    expectContains(dsl, "IRQNoFlags () {1}");
    const std::string virtio = "Name (_HID, \"LNRO0005\") Name (_UID, ";
    expectContains(dsl, "Device (VR00) { " + virtio + "Zero)");
    expectContains(dsl, "Device (VR01) { " + virtio + "One)");
    expectContains(dsl, "Memory32Fixed (ReadWrite, 0xFEB00000, 0x00000200, )");
    expectContains(dsl, "Memory32Fixed (ReadWrite, 0xFEB02E00, 0x00000200, )");
    const std::string interrupt = "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) ";
    expectContains(dsl, interrupt + "{ 0x00000005, }");
    expectContains(dsl, interrupt + "{ 0x00000017, }");
    expectContains(dsl, "Name (_S5, Package (0x04) { 0x05, Zero, Zero, Zero })");
}

TEST_F(AcpicaInterop, IaslDecodesTheFadtAndTheMadt) {
    disassemble();
    std::string facp = normalized(readText(directory_ / "facp.dsl"));
    ASSERT_FALSE(facp.empty());
    expectField(facp, "Revision", "06");
    expectField(facp, "Hardware Reduced (V5)", "1");
    expectField(facp, "Reset Register Supported (V2)", "1");
    expectField(facp, "Control Method Power Button (V1)", "1");
    expectField(facp, "8042 Present on ports 60/64 (V2)", "1");
    expectField(facp, "CMOS RTC Not Present (V5)", "1");
    expectField(facp, "Value to cause reset", "01");
    for (const char* port : {"0000000000000604", "0000000000000600", "0000000000000601"})
        expectField(facp, "Address", port);
    expectField(facp, "Hypervisor ID", "4D4D56544F474E49");  // "INGOTVMM", little-endian

    std::string apic = normalized(readText(directory_ / "apic.dsl"));
    ASSERT_FALSE(apic.empty());
    expectField(apic, "Local Apic Address", "FEE00000");
    expectField(apic, "Local Apic ID", "00");
    expectField(apic, "Local Apic ID", "01");
    expectField(apic, "I/O Apic ID", "02");
    expectField(apic, "Address", "FEC00000");
    expectField(apic, "Subtable Type", "02 [Interrupt Source Override]");
    expectField(apic, "Source", "00");
    expectField(apic, "Interrupt", "00000002");
}

// The strongest form of "iasl agrees": compile the disassembly again and get our bytes back.
// -on keeps \_SB as written (iasl would otherwise shorten it to _SB at the root, one byte less).
TEST_F(AcpicaInterop, RecompiledDisassemblyIsByteIdentical) {
    disassemble();
    CommandResult result = run(directory_, "'" + iasl_ + "' -on dsdt.dsl facp.dsl apic.dsl");
    ASSERT_EQ(result.exitStatus, 0) << result.output;
    expectContains(result.output, "0 Errors, 0 Warnings, 0 Remarks");
    // iasl writes its own compiler id and revision into the header, so compare what follows it.
    for (auto [file, table] :
         {std::pair{"dsdt.aml", &tables_.dsdt.bytes}, std::pair{"facp.aml", &tables_.fadt.bytes},
          std::pair{"apic.aml", &tables_.madt.bytes}}) {
        Bytes compiled = readBytes(directory_ / file);
        ASSERT_EQ(compiled.size(), table->size()) << file;
        EXPECT_TRUE(std::equal(table->begin() + 36, table->end(), compiled.begin() + 36)) << file;
    }
}

TEST_F(AcpicaInterop, AcpiexecLoadsTheTablesAndDecodesEveryResource) {
    CommandResult result = run(
        directory_, "timeout 60 '" + acpiexec_ +
                        "' -b 'resources \\_SB.COM1; resources \\_SB.PS2K; resources \\_SB.VR00; resources \\_SB.VR01; "
                        "sleep 5' dsdt.dat facp.dat apic.dat </dev/null");
    ASSERT_EQ(result.exitStatus, 0) << result.output;
    std::string out = normalized(result.output);
    for (const char* complaint : {"ACPI Error", "ACPI Exception", "ACPI Warning"})
        EXPECT_EQ(out.find(complaint), std::string::npos) << out;
    expectContains(out, "4 Devices");
    expectField(out, "Address Minimum", "03F8");
    expectField(out, "Address Length", "08");
    expectField(out, "Interrupt List", "4");
    expectField(out, "Address", "FEB00000");
    expectField(out, "Address", "FEB02E00");
    expectField(out, "Address Length", "00000200");
    expectField(out, "Dword00", "00000005");
    expectField(out, "Dword00", "00000017");
    expectField(out, "Triggering", "Edge");
    expectField(out, "Type", "ResourceConsumer");
    // The hardware-reduced sleep path (SLEEP_CONTROL_REG) with SLP_TYP from \_S5_.
    expectContains(out, "Sleep-A: 05");
    expectContains(out, "HwExtendedSleep");
}

}  // namespace
}  // namespace ingot::vmm::acpi
