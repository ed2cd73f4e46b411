#include "devices/virtio/TapDevice.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "ingot/core/Error.h"

namespace ingot::vmm::virtio {

namespace {
// virtio 1.x's virtio_net_hdr, num_buffers included.
constexpr int kVnetHeaderBytes = 12;

[[noreturn]] void fail(const std::string& name, const std::string& what, int err) {
    std::string hint;
    if (err == EPERM || err == EACCES)
        hint = " (opening a tap needs CAP_NET_ADMIN, or an interface made beforehand for this "
               "user: `ip tuntap add " + name + " mode tap user $USER`)";
    else if (err == EINVAL || err == EBUSY)
        hint = " (is " + name + " a tun interface, or a tap opened without a virtio-net "
               "header by another program?)";
    throw Error("--net tap=" + name + ": " + what + ": " + std::strerror(err) + hint,
                ExitStatus::kUsage);
}
}  // namespace

std::unique_ptr<TapDevice> TapDevice::open(const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos ||
        name == "." || name == "..")
        throw Error("--net tap=" + name + ": not an interface name (1 to " +
                        std::to_string(IFNAMSIZ - 1) + " characters, no '/')",
                    ExitStatus::kUsage);
    int raw = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (raw < 0) fail(name, "open /dev/net/tun", errno);
    FileDescriptor fd(raw);
    unsigned features = 0;
    if (::ioctl(fd.get(), TUNGETFEATURES, &features) < 0) fail(name, "TUNGETFEATURES", errno);
    if (!(features & IFF_VNET_HDR))
        throw Error("--net tap=" + name + ": this kernel's tun driver lacks IFF_VNET_HDR",
                    ExitStatus::kUsage);
    ifreq request{};
    std::memcpy(request.ifr_name, name.data(), name.size());
    request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (::ioctl(fd.get(), TUNSETIFF, &request) < 0) fail(name, "TUNSETIFF", errno);
    int headerBytes = kVnetHeaderBytes;
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &headerBytes) < 0) fail(name, "TUNSETVNETHDRSZ", errno);
    auto tap = std::unique_ptr<TapDevice>(new TapDevice(std::move(fd), name));
    if (auto why = tap->setReceiveOffloads(false, false, false); !why.empty())
        throw Error("--net tap=" + name + ": " + why, ExitStatus::kUsage);
    return tap;
}

std::string TapDevice::setReceiveOffloads(bool checksum, bool tso4, bool tso6) {
    // tun takes TSO only together with checksum offload.
    unsigned flags = 0;
    if (checksum) {
        flags |= TUN_F_CSUM;
        if (tso4) flags |= TUN_F_TSO4;
        if (tso6) flags |= TUN_F_TSO6;
    }
    if (::ioctl(fd_.get(), TUNSETOFFLOAD, flags) < 0)
        return "TUNSETOFFLOAD " + std::to_string(flags) + ": " + std::strerror(errno);
    return {};
}

}  // namespace ingot::vmm::virtio
