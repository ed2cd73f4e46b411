// Booting a clone that is in the store, shared by `ingot run` (a new clone) and `ingot start`
// (a stopped one): the image's signature checked again against the trust policy, ingot-vmm
// through ingot-fw with the trusted key, under a supervisor (console/VmSupervisor.h), and this
// terminal attached to its console unless detached.
#pragma once

#include <string>
#include <vector>

#include "ResourceFlags.h"
#include "TrustPolicy.h"
#include "ingot/oci/Layout.h"
#include "ingot/sign/Minisign.h"
#include "ingot/store/Store.h"

namespace ingot::cli {

// Image `digest` in the store and the key that signed it, after checking that signature again
// against the trust policy: the store is a directory anyone with the user's rights can edit.
// `image` is the reference it was pulled as. Throws kVerification with the `ingot trust add`
// that fixes it.
struct TrustedImage {
    oci::LayoutImage image;
    sign::MinisignPublicKey key;
};
TrustedImage trustedImage(const store::Store& store, const std::string& digest,
                          const std::string& image, const registry::TrustPolicy& trust);

// $VARIABLE when set, else the first of `candidates` (relative to the directory of this
// executable: the install's bin/ and lib/ingot/, or the build tree) that exists. Throws kUsage
// naming the variable to set.
std::string findTool(const char* variable, const std::vector<std::string>& candidates);

// ingot-vmm, found as findTool finds it ($INGOT_VMM).
inline std::string findMonitor() {
    return findTool("INGOT_VMM", {"ingot-vmm", "../vmm/ingot-vmm"});
}

struct BootOptions {
    bool detach = false;  // print the name and return once the monitor runs
    bool remove = false;  // remove the clone when it stops
    std::string statsJson;  // the monitor's --stats-json, when not empty
    ResourceFlags resources;  // cgroup limits and the balloon's first target
};

// Boots `vm` with `key` as the firmware's trusted key; returns the exit status: the monitor's
// when attached until it stopped, 0 when detached.
int bootClone(store::Store& store, const store::Vm& vm, const sign::MinisignPublicKey& key,
              const BootOptions& options);

}  // namespace ingot::cli
