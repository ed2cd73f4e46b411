#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ingot::vmm {

// One --disk: a virtio-blk device. A plain raw file, or a gold image served through its
// signature and dm-verity tree (`verified`), optionally under a qcow2 overlay that takes the
// guest's writes (`overlay`, which implies `verified`).
struct DiskConfig {
    std::string path;
    bool readOnly = false;
    bool verified = false;
    std::string overlay;  // created when missing; its backing file is `path`
    // Rate limits (0: none): the guest's data bytes per second (IN and OUT) and requests per
    // second. Each is a token bucket holding one second's worth.
    uint64_t bytesPerSecond = 0;
    uint64_t opsPerSecond = 0;
};

// The smallest limits a disk takes: one 4 KiB block per second, one request per second.
constexpr uint64_t kMinDiskBytesPerSecond = 4096;
constexpr uint64_t kMinDiskOpsPerSecond = 1;
// The largest: far above any disk, low enough that the limiter's arithmetic cannot overflow.
constexpr uint64_t kMaxDiskBytesPerSecond = uint64_t{1} << 50;  // 1 PiB/s
constexpr uint64_t kMaxDiskOpsPerSecond = 1'000'000'000;

// Parses `--disk PATH[,readonly][,verified][,overlay=CLONE.qcow2][,bps=SIZE][,iops=N]`.
// Throws ingot::Error (usage) for an empty path, an unknown or repeated option, readonly with
// overlay, or a rate that is not a number (bps takes a size such as 50M: bytes per second,
// binary units) or is outside the limits above.
DiskConfig parseDiskSpec(const std::string& spec);

// One --net: a virtio-net device on a tap interface.
struct NetConfig {
    std::string tap;
    std::array<uint8_t, 6> mac{};  // a random locally administered address unless mac= is given
    bool macGiven = false;
    // Rate limits per direction (0: none), as for disks: bytes (frame headers included) and
    // frames per second, each a token bucket holding one second's worth. "Receive" is towards
    // the guest.
    uint64_t receiveBytesPerSecond = 0;
    uint64_t receiveFramesPerSecond = 0;
    uint64_t sendBytesPerSecond = 0;
    uint64_t sendFramesPerSecond = 0;
};

// Parses `--net tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,bps=SIZE][,pps=N][,rx-bps=SIZE][,rx-pps=N]
// [,tx-bps=SIZE][,tx-pps=N]`: bps and pps limit each direction, the rx- and tx- forms one.
// Throws ingot::Error (usage) for a missing tap, an unknown or repeated option, a MAC that is
// not six hex bytes or is multicast, or a rate outside the disk limits above.
NetConfig parseNetSpec(const std::string& spec);

// Everything ingot-vmm was asked to do, after the command line was checked.
struct VmConfig {
    std::string kernel;    // bzImage or PVH ELF; empty when booting firmware
    std::string initrd;    // optional
    std::string cmdline = "console=ttyS0";
    std::string firmware;  // PVH ELF (ingot-fw); optional
    unsigned cpus = 1;
    uint64_t memoryBytes = 512ull << 20;
    std::string statsJson;  // written at exit when set
    std::vector<DiskConfig> disks;  // virtio-blk devices, in --disk order
    std::vector<std::string> trustedKeys;  // minisign public key files for verified disks
    uint64_t rngBytesPerSecond = 0;        // virtio-rng when non-zero
    std::vector<NetConfig> nets;           // virtio-net devices, in --net order
    bool agent = false;    // virtio-console with the guest agent's port (docs/agent.md)
    bool balloon = false;  // virtio-balloon, sized through the control socket
    std::string controlSocket;  // a path or @NAME; empty: no control socket
    // False (`--no-accounting`): exits are not timed (bench/accounting compares the two).
    bool timeExits = true;
};

// Limits of the monitor, checked while parsing flags.
constexpr unsigned kMaxCpus = 64;

}  // namespace ingot::vmm
