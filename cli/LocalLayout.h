// A gold image given as a path instead of a registry reference: the OCI layout `ingot build -o
// OUT` writes (OUT/oci, or OUT itself), optionally with :TAG. `ingot run PATH` imports it into
// the store under local/NAME:TAG (NAME from the image's own manifest), and `ingot push` reads it.
#pragma once

#include <string>

#include "ingot/store/Store.h"

namespace ingot::cli {

struct LayoutPath {
    std::string dir;  // the layout directory (holding oci-layout)
    std::string tag;  // the image's tag in it
};

// Whether `text` names a local layout rather than a registry reference: it begins with '/' or
// '.', or (with or without :TAG) names a directory that is or holds (in oci/) an OCI layout.
bool isLayoutPath(const std::string& text);

// "DIR[:TAG]": DIR or DIR/oci must hold an OCI layout; without TAG, the layout's one image tag
// (signature tags aside). Throws kUsage naming what is missing or which tags there are.
LayoutPath parseLayoutPath(const std::string& text);

// Copies the image and its signature into the store, every blob checked against its digest on
// the way in, and tags them as local/NAME:TAG; returns that reference. The signature is checked
// against the trust policy at boot, as for a pulled image; a layout without one is refused here.
std::string importLayout(store::Store& store, const LayoutPath& path);

}  // namespace ingot::cli
