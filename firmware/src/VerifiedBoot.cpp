#include "VerifiedBoot.h"

#include "BootPackReader.h"
#include "DiskReader.h"
#include "LinuxBootParams.h"
#include "Measurement.h"
#include "ingot/fw/Gpt.h"
#include "ingot/fw/Sha256.h"

namespace ingot::fw {
namespace {

constexpr uint64_t kSector = BlockDevice::kSectorSize;
constexpr uint64_t kFourGiB = 0x1'0000'0000ull;
constexpr uint64_t kPage = 4096;
constexpr char kBootPartitionType[] = "9cb833bb-c637-4cc9-8edc-f81d674c8551";
constexpr char kUntrustedComment[] = "ingot image signature";
constexpr size_t kGptSectors = 34;

size_t length(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

bool read_gpt(DiskReader& reader, BootScratch& s, GptTable* table, BootError* error) {
    uint64_t sectors = reader.disk().sector_count();
    if (sectors < 2 * kGptSectors + 1) {
        error->set(Refusal::kBadGpt, "disk of ").dec(sectors).add(" sectors cannot hold a GPT");
        return false;
    }
    if (!reader.read(0, kGptSectors * kSector, s.gpt_sectors, nullptr, "the GPT", error))
        return false;
    // A header that places its backup beyond the end of the disk is the mark of a truncated
    // image: say so, rather than report the table malformed.
    const uint8_t* lba1 = s.gpt_sectors + kSector;
    uint64_t alternate = load_le64(lba1 + 32);
    if (bytes_equal(lba1, "EFI PART", 8) && alternate >= sectors) {
        error->set(Refusal::kDiskError, "disk is truncated: the backup GPT header belongs at LBA ")
            .dec(alternate)
            .add(" but the disk has ")
            .dec(sectors)
            .add(" sectors");
        return false;
    }
    GptStatus status = check_protective_mbr(ByteView(s.gpt_sectors, kSector));
    GptHeader header;
    if (status == GptStatus::kOk)
        status = parse_gpt_header(ByteView(s.gpt_sectors + kSector, kSector), kSector, sectors,
                                  &header);
    if (status == GptStatus::kOk && header.entries_byte_size > BootScratch::kGptEntriesMax) {
        error->set(Refusal::kBadGpt, "GPT entry array of ")
            .dec(header.entries_byte_size)
            .add(" bytes is larger than 16 KiB");
        return false;
    }
    if (status == GptStatus::kOk &&
        !reader.read(header.entries_lba * kSector, header.entries_byte_size, s.gpt_entries,
                     nullptr, "the GPT entries", error))
        return false;
    if (status == GptStatus::kOk)
        status = parse_gpt_table(header, ByteView(s.gpt_entries, header.entries_byte_size), table);
    if (status != GptStatus::kOk) {
        error->set(Refusal::kBadGpt, "partition table: ").add(to_string(status));
        return false;
    }
    return true;
}

// Every byte of the signature file is fixed by the format or covered by a signature: four lines,
// each ending in "\n", the fixed untrusted comment, and base64 that the strict decoder accepts
// in exactly one spelling.
bool check_signature_file(ByteView text, const MinisignSignature& sig, BootError* error) {
    size_t newlines = 0;
    for (size_t i = 0; i < text.size; ++i) {
        if (text[i] == '\n') ++newlines;
        if (text[i] == '\r') newlines = 99;
    }
    if (newlines != 4 || text.size == 0 || text[text.size - 1] != '\n' ||
        !(sig.untrusted_comment == ByteView(kUntrustedComment, length(kUntrustedComment)))) {
        error->set(Refusal::kBadSignatureFile,
                   "manifest.json.minisig is not in the canonical form of an ingot image");
        return false;
    }
    return true;
}

bool verify_signature(ByteView manifest, ByteView signature_text, const TrustedKeys& keys,
                      Measurement* measurement, BootError* error) {
    MinisignSignature sig;
    MinisignStatus status = parse_minisign_signature(signature_text, &sig);
    if (status != MinisignStatus::kOk) {
        error->set(Refusal::kBadSignatureFile, "manifest.json.minisig: ").add(to_string(status));
        return false;
    }
    if (!check_signature_file(signature_text, sig, error)) return false;
    size_t key_index = 0;
    status = verify_minisign_with_any(sig, keys.keys, keys.count, manifest, &key_index,
                                      MinisignLegacyPolicy::kReject);
    if (status == MinisignStatus::kKeyIdMismatch) {
        error->set(Refusal::kUnknownKey, "manifest signed by key ")
            .hex_bytes(sig.key_id, kMinisignKeyIdSize)
            .add(", which is not trusted");
        return false;
    }
    if (status != MinisignStatus::kOk) {
        error->set(Refusal::kBadSignature, "manifest.json does not match its signature: ")
            .add(to_string(status));
        return false;
    }
    measurement->extend(manifest);
    uint8_t key_record[2 + kMinisignKeyIdSize + 32] = {'E', 'd'};
    copy_bytes(key_record + 2, keys.keys[key_index].key_id, kMinisignKeyIdSize);
    copy_bytes(key_record + 2 + kMinisignKeyIdSize, keys.keys[key_index].key, 32);
    measurement->extend(ByteView(key_record, sizeof key_record));
    return true;
}

// The GPT must hold exactly the signed partitions, in order.
bool check_gpt_against_manifest(const GptTable& table, const Manifest& manifest,
                                BootError* error) {
    size_t used = 0;
    for (uint32_t i = 0; i < table.header.entry_count; ++i) {
        GptEntry e;
        if (gpt_entry(table, i, &e) != GptStatus::kOk || !is_used(e)) continue;
        if (used == manifest.partition_count) {
            error->set(Refusal::kGptMismatch, "GPT entry ").dec(i + 1).add(" is not in the manifest");
            return false;
        }
        const auto& p = manifest.partitions[used++];
        const char* field = nullptr;
        if (!(e.type == p.type)) field = "type";
        else if (!(e.unique == p.uuid)) field = "unique GUID";
        else if (e.first_lba != p.first_lba) field = "first LBA";
        else if (e.last_lba != p.last_lba) field = "last LBA";
        else if (!gpt_name_equals(e, ByteView(p.name, length(p.name)))) field = "name";
        if (field) {
            error->set(Refusal::kGptMismatch, "GPT entry ")
                .dec(i + 1)
                .add(" (")
                .add(p.role)
                .add("): ")
                .add(field)
                .add(" differs from the manifest");
            return false;
        }
    }
    if (used != manifest.partition_count) {
        error->set(Refusal::kGptMismatch, "GPT has ")
            .dec(used)
            .add(" partitions, the manifest ")
            .dec(manifest.partition_count);
        return false;
    }
    return true;
}

bool check_digest(Sha256& hash, const ManifestFile& expected, Refusal reason, const char* what,
                  uint8_t digest[32], BootError* error) {
    hash.finish(digest);
    if (!bytes_equal(digest, expected.sha256, 32)) {
        error->set(reason, what)
            .add(" sha256 ")
            .hex_bytes(digest, 32)
            .add(" differs from the manifest's ")
            .hex_bytes(expected.sha256, 32);
        return false;
    }
    return true;
}

bool expect_entry(BootPackReader& pack, const char* name, BootPackEntry* entry, BootError* error) {
    return pack.next(name, entry, error) == BootPackReader::Next::kEntry;
}

bool check_size(const BootPackEntry& entry, const ManifestFile& expected, Refusal reason,
                const char* what, BootError* error) {
    if (entry.size == expected.size) return true;
    error->set(reason, what)
        .add(" is ")
        .dec(entry.size)
        .add(" bytes, the manifest says ")
        .dec(expected.size);
    return false;
}

bool load_kernel(DiskReader& reader, BootPackReader& pack, const BootInputs& in,
                 const Manifest& manifest, KernelHeader* header, BootPlan* plan,
                 uint8_t digest[32], BootError* error) {
    BootPackEntry entry;
    if (!expect_entry(pack, "kernel", &entry, error)) return false;
    if (!check_size(entry, manifest.kernel, Refusal::kKernelDigest, "kernel", error)) return false;
    Sha256 hash;
    uint64_t first = entry.size < KernelHeader::kHeaderBytes ? entry.size : KernelHeader::kHeaderBytes;
    uint8_t head[KernelHeader::kHeaderBytes];
    if (!reader.read(entry.data_offset, first, head, &hash, "kernel", error)) return false;
    if (!read_kernel_header(ByteView(head, first), entry.size, header, error)) return false;
    if (header->setup_size < first) {
        error->set(Refusal::kBadKernel, "kernel setup is shorter than its header");
        return false;
    }
    if (!reader.read(entry.data_offset + first, header->setup_size - first, nullptr, &hash,
                     "kernel", error))
        return false;

    uint64_t load = header->pref_address;
    bool placed = load % header->alignment == 0 && in.memory->allocate_at(load, header->load_size);
    if (!placed && header->relocatable)
        placed = in.memory->allocate_top(header->load_size, header->alignment, kFourGiB, &load);
    uint8_t* destination = placed ? in.ram->at(load, header->payload_size) : nullptr;
    if (!destination) {
        error->set(Refusal::kNoMemory, "no room for the kernel (")
            .dec(header->load_size)
            .add(" bytes at ")
            .hex(header->pref_address)
            .add(")");
        return false;
    }
    if (!reader.read(entry.data_offset + header->setup_size, header->payload_size, destination,
                     &hash, "kernel", error))
        return false;
    if (!check_digest(hash, manifest.kernel, Refusal::kKernelDigest, "kernel", digest, error))
        return false;
    plan->kernel_paddr = load;
    plan->entry = load + kLinux64EntryOffset;
    return true;
}

bool load_initrd(DiskReader& reader, BootPackReader& pack, const BootInputs& in,
                 const Manifest& manifest, const KernelHeader& header, BootPlan* plan,
                 uint8_t digest[32], BootError* error) {
    plan->initrd_paddr = 0;
    plan->initrd_size = 0;
    if (!manifest.initrd.present) return true;
    BootPackEntry entry;
    if (!expect_entry(pack, "initrd", &entry, error)) return false;
    if (!check_size(entry, manifest.initrd, Refusal::kInitrdDigest, "initrd", error)) return false;
    uint64_t limit = header.initrd_limit < kFourGiB ? header.initrd_limit : kFourGiB;
    uint64_t at = 0;
    uint8_t* destination = nullptr;
    if (entry.size && in.memory->allocate_top(entry.size, kPage, limit, &at))
        destination = in.ram->at(at, entry.size);
    if (!destination) {
        error->set(Refusal::kNoMemory, "no room for the initrd (").dec(entry.size).add(" bytes)");
        return false;
    }
    Sha256 hash;
    if (!reader.read(entry.data_offset, entry.size, destination, &hash, "initrd", error))
        return false;
    if (!check_digest(hash, manifest.initrd, Refusal::kInitrdDigest, "initrd", digest, error))
        return false;
    plan->initrd_paddr = at;
    plan->initrd_size = entry.size;
    return true;
}

// The kernel's command line: the manifest's, the devices, the root partition; then measured.
bool build_cmdline(const BootInputs& in, const Manifest& manifest, const KernelHeader& header,
                   Measurement* measurement, size_t* size, BootError* error) {
    Text<BootScratch::kCmdlineMax> line;
    line.add(ByteView(manifest.cmdline, manifest.cmdline_size));
    if (!in.extra_cmdline.empty()) line.add(" ").add(in.extra_cmdline);
    if (const auto* root = manifest.find_role("root")) {
        char uuid[kGuidTextSize + 1];
        format_guid(root->uuid, uuid);
        uuid[kGuidTextSize] = '\0';
        line.add(" root=PARTUUID=").add(uuid);
    }
    measurement->extend(line.view());
    line.add(" ingot.measurement=").hex_bytes(measurement->value(), Measurement::kSize);
    if (line.overflowed() || line.size() > header.cmdline_max) {
        error->set(Refusal::kBadManifest, "kernel command line of ")
            .dec(line.size())
            .add(" bytes is longer than the kernel's limit of ")
            .dec(header.cmdline_max);
        return false;
    }
    copy_bytes(in.scratch->cmdline, line.c_str(), line.size() + 1);
    *size = line.size();
    return true;
}

}  // namespace

bool parse_trusted_keys(ByteView text, TrustedKeys* keys, BootError* error) {
    size_t i = 0;
    while (i < text.size) {
        size_t start = i;
        while (i < text.size && text[i] != '\n') ++i;
        ByteView line(text.data + start, i - start);
        ++i;
        if (line.size && line[line.size - 1] == '\r') --line.size;
        if (line.empty() || line.starts_with(literal_bytes("untrusted comment:"))) continue;
        if (keys->count == TrustedKeys::kMax) {
            error->set(Refusal::kNoTrustedKey, "more than ").dec(TrustedKeys::kMax).add(" trusted keys");
            return false;
        }
        MinisignStatus status = parse_minisign_public_key(line, &keys->keys[keys->count]);
        if (status != MinisignStatus::kOk) {
            error->set(Refusal::kNoTrustedKey, "trusted key ")
                .dec(keys->count + 1)
                .add(" is malformed: ")
                .add(to_string(status));
            return false;
        }
        ++keys->count;
    }
    return true;
}

bool verified_boot(const BootInputs& in, BootPlan* plan, BootError* error) {
    BootScratch& s = *in.scratch;
    if (in.keys->count == 0) {
        error->set(Refusal::kNoTrustedKey, "no trusted key: build one in or pass a keys module");
        return false;
    }
    DiskReader reader(*in.disk, in.bounce, in.bounce_size);
    GptTable table;
    if (!read_gpt(reader, s, &table, error)) return false;
    Guid boot_type;
    GptEntry boot;
    GptStatus found = GptStatus::kNotFound;
    if (parse_guid(ByteView(kBootPartitionType, length(kBootPartitionType)), &boot_type))
        found = gpt_find_partition(table, boot_type, &boot);
    if (found != GptStatus::kOk) {
        error->set(Refusal::kBadGpt, "no ingot boot partition: ").add(to_string(found));
        return false;
    }

    // Until the manifest verifies, the GPT only says where to look.
    BootPackReader pack(reader, boot.first_lba * kSector, (boot.last_lba - boot.first_lba + 1) * kSector);
    BootPackEntry manifest_entry, signature_entry;
    if (!expect_entry(pack, "manifest.json", &manifest_entry, error)) return false;
    if (manifest_entry.size > BootScratch::kManifestMax) {
        error->set(Refusal::kBadManifest, "manifest.json is ").dec(manifest_entry.size).add(" bytes");
        return false;
    }
    if (!reader.read(manifest_entry.data_offset, manifest_entry.size, s.manifest, nullptr,
                     "manifest.json", error))
        return false;
    switch (pack.next("manifest.json.minisig", &signature_entry, error)) {
        case BootPackReader::Next::kEntry: break;
        case BootPackReader::Next::kOtherName: {
            Text<200> detail;
            detail.add(error->message.c_str());
            error->set(Refusal::kUnsigned, "image is unsigned: ").add(detail.c_str());
            return false;
        }
        case BootPackReader::Next::kError: return false;
    }
    if (signature_entry.size > BootScratch::kSignatureMax) {
        error->set(Refusal::kBadSignatureFile, "manifest.json.minisig is ")
            .dec(signature_entry.size)
            .add(" bytes");
        return false;
    }
    if (!reader.read(signature_entry.data_offset, signature_entry.size, s.signature, nullptr,
                     "manifest.json.minisig", error))
        return false;

    Measurement measurement;
    ByteView manifest_bytes(s.manifest, manifest_entry.size);
    if (!verify_signature(manifest_bytes, ByteView(s.signature, signature_entry.size), *in.keys,
                          &measurement, error))
        return false;
    if (!read_manifest(manifest_bytes, &s.parsed, error)) return false;
    if (!check_gpt_against_manifest(table, s.parsed, error)) return false;

    KernelHeader header;
    uint8_t digest[32];
    if (!load_kernel(reader, pack, in, s.parsed, &header, plan, digest, error)) return false;
    measurement.extend_digest(digest);
    if (!load_initrd(reader, pack, in, s.parsed, header, plan, digest, error)) return false;
    if (s.parsed.initrd.present) measurement.extend_digest(digest);
    if (!pack.finish(error)) return false;

    size_t cmdline_size = 0;
    if (!build_cmdline(in, s.parsed, header, &measurement, &cmdline_size, error)) return false;
    uint64_t params = 0;
    uint64_t params_size = kPage + ((cmdline_size + 1 + kPage - 1) & ~(kPage - 1));
    uint8_t* zero_page = nullptr;
    if (in.memory->allocate_top(params_size, kPage, kFourGiB, &params))
        zero_page = in.ram->at(params, params_size);
    if (!zero_page) {
        error->set(Refusal::kNoMemory, "no room for the boot parameters");
        return false;
    }
    copy_bytes(zero_page + kPage, s.cmdline, cmdline_size + 1);
    write_boot_params(zero_page, header,
                      {params + kPage, plan->initrd_paddr, plan->initrd_size, in.rsdp_paddr, in.memory});
    plan->boot_params = params;
    copy_bytes(plan->measurement, measurement.value(), Measurement::kSize);
    return true;
}

}  // namespace ingot::fw
