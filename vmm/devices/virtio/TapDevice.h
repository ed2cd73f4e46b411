#pragma once

#include <memory>
#include <string>

#include "devices/virtio/NetBackend.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm::virtio {

// A Linux tap interface as virtio-net's backend: /dev/net/tun with IFF_TAP | IFF_NO_PI |
// IFF_VNET_HDR and a 12-byte header (TUNSETVNETHDRSZ), non-blocking. The interface may exist
// already (`ip tuntap add NAME mode tap`, possibly owned by the user running the monitor) or is
// created, which needs CAP_NET_ADMIN; either way its address, bridge and link state are the
// host's business.
class TapDevice : public NetBackend {
public:
    // Throws ingot::Error (configuration) naming the interface and what to do when it cannot
    // be opened: a bad name, no /dev/net/tun, no permission, a tun (not tap) interface.
    static std::unique_ptr<TapDevice> open(const std::string& name);

    int fd() const override { return fd_.get(); }
    std::string setReceiveOffloads(bool checksum, bool tso4, bool tso6) override;
    std::string describe() const override { return "tap " + name_; }
    const std::string& name() const { return name_; }

private:
    TapDevice(FileDescriptor fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}

    FileDescriptor fd_;
    std::string name_;
};

}  // namespace ingot::vmm::virtio
