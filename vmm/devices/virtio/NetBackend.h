#pragma once

#include <string>

namespace ingot::vmm::virtio {

// Where virtio-net's frames leave and arrive: a non-blocking descriptor that carries one frame
// per readv or writev, each preceded by the 12-byte virtio_net_hdr of virtio 1.x — a tap opened
// with IFF_VNET_HDR (TapDevice), or a datagram socket pair in tests. The header passes through
// untouched in both directions, so the host kernel, not the monitor, parses the guest's
// checksum and segmentation requests (it checks them: tun rejects a header that does not fit
// its frame).
class NetBackend {
public:
    virtual ~NetBackend() = default;

    virtual int fd() const = 0;
    // What the guest accepted on receive (VIRTIO_NET_F_GUEST_CSUM, _GUEST_TSO4, _GUEST_TSO6):
    // the backend may deliver frames with partial checksums, or TCP segments up to 64 KiB,
    // only when these say so. All false after a reset. Returns why not, empty on success; the
    // device runs on without the offloads (the guest then gets plain frames).
    virtual std::string setReceiveOffloads(bool checksum, bool tso4, bool tso6) = 0;
    // "tap ingot0": how messages name it.
    virtual std::string describe() const = 0;
};

}  // namespace ingot::vmm::virtio
