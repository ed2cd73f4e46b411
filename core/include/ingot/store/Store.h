// The local store (DESIGN.md "Local store and clones"; docs/store.md): one OCI image layout under
// $XDG_DATA_HOME/ingot that skopeo reads as `oci:ROOT:REF`, with images tagged by the reference
// they were pulled from; `bases/<hex>.img`, the reassembled read-only disk of each image digest a
// clone uses; and `vms/<name>/`, a clone: its qcow2 overlay (backing file = the base disk) and
// its record. Any number of `ingot` processes share a store: writers take store.lock shared and
// prune takes it exclusive, so prune never deletes what a pull or run is still putting in place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ingot::store {

// $XDG_DATA_HOME/ingot, else $HOME/.local/share/ingot. Throws ingot::Error (kUsage) when
// neither is an absolute path.
std::string defaultRoot();

// flock on ROOT/store.lock, released by the destructor.
class StoreLock {
public:
    enum class Mode { kShared, kExclusive };
    StoreLock(const std::string& root, Mode mode);
    ~StoreLock();
    StoreLock(const StoreLock&) = delete;
    StoreLock& operator=(const StoreLock&) = delete;

private:
    int fd_ = -1;
};

// Held by whatever runs clone `name` for as long as it runs (flock on vms/<name>/lock), so
// removing a running clone is refused rather than pulling its disk away.
class VmLease {
public:
    // Throws ingot::Error (kUsage) when another process holds the clone.
    VmLease(const std::string& vmDir, const std::string& name);
    ~VmLease();
    VmLease(const VmLease&) = delete;
    VmLease& operator=(const VmLease&) = delete;

private:
    int fd_ = -1;
};

struct StoredImage {
    std::string name;    // the layout tag: the reference it was pulled as
    std::string digest;  // of the image manifest
    uint64_t diskSize = 0;
    uint64_t chunkBytes = 0;  // compressed bytes of its chunks (shared chunks counted in each)
    bool baseDisk = false;    // its base disk is reassembled
    std::vector<std::string> vms;  // clones of it
};

struct Vm {
    std::string name;
    std::string image;   // the name it was run as
    std::string digest;  // of the image manifest: the base disk it stands on
    unsigned cpus = 1;
    uint64_t memoryBytes = 0;
    int64_t created = 0;  // Unix seconds
};

// What `ingot ps` shows of a clone: whether something holds its lease, and the monitor's pid
// while it runs (vms/<name>/monitor.pid, written by the process that holds the lease).
struct VmState {
    bool running = false;
    int monitorPid = 0;  // 0: unknown or not running
};

struct PruneReport {
    uint64_t imagesRemoved = 0;
    uint64_t blobsRemoved = 0;
    uint64_t baseDisksRemoved = 0;
    uint64_t bytesFreed = 0;
};

class Store {
public:
    // Opens the store at `root`, creating its layout and directories when missing.
    explicit Store(std::string root);

    const std::string& root() const { return root_; }
    std::string vmDir(const std::string& name) const;
    // Where a VM's overlay lives.
    std::string overlayPath(const std::string& name) const;

    // The images (signature tags are not images), in index.json's order.
    std::vector<StoredImage> images() const;
    // The digest `name` is tagged with; throws kUsage naming the store when it has none.
    std::string resolve(const std::string& name) const;

    // The read-only base disk of image `digest`, reassembled on first use (every chunk checked
    // against its digest) under a lock of its own, so concurrent runs make it once.
    std::string baseDisk(const std::string& digest);

    // Makes clone `name` of image `image` (a name images() lists): its base disk, then a qcow2
    // overlay over it, whose cost does not depend on the image's size, and its record. `name`
    // is [a-z0-9][a-z0-9_.-]{0,62}; one that exists already is refused (kUsage), whoever else
    // is creating clones at the same time.
    Vm createVm(const std::string& name, const std::string& image, unsigned cpus,
                uint64_t memoryBytes);
    std::vector<Vm> vms() const;
    // Throws kUsage naming the store when there is no such clone.
    Vm vm(const std::string& name) const;
    // Deletes the clone's directory, overlay and all; refused (kUsage) while it runs.
    void removeVm(const std::string& name);
    VmState state(const std::string& name) const;
    // Claims clone `name` for running it; see VmLease.
    VmLease lease(const std::string& name) const { return VmLease(vmDir(name), name); }

    // Removes blobs and base disks that no image or clone references; with `unusedImages`, first
    // untags images no clone uses (and their signatures).
    PruneReport prune(bool unusedImages);

private:
    std::string root_;
};

// Whether `name` is a valid clone name.
bool isValidVmName(const std::string& name);

}  // namespace ingot::store
