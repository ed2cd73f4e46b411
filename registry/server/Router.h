// Maps a request head to the distribution spec endpoint that handles it (docs/registry.md,
// "Endpoints"). The path is checked (Target.h) and every name, tag and digest matched against
// Grammar.h before Storage or Uploads see it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "Access.h"
#include "Exchange.h"
#include "RegistryError.h"
#include "Storage.h"
#include "Uploads.h"

namespace ingot::registry {

struct RouterLimits {
    uint64_t maxManifestBytes = 16ull << 20;
    uint64_t maxBlobBytes = 1ull << 40;
    uint64_t maxCatalogEntries = 1000;
    uint64_t maxDiscardedBody = 64ull << 10;  // bodies of requests that take none
};

class Router {
public:
    // `access` null: every request is allowed (the default on loopback).
    Router(Storage& storage, Uploads& uploads, RouterLimits limits = {}, Access* access = nullptr);

    // Never throws: a refused request gets a handler whose onEnd answers with the error.
    RequestHandler route(const RequestHead& head);

private:
    RequestHandler dispatch(const RequestHead& head);
    // The error answer, with the challenge a 401 needs.
    Response refusal(const RegistryError& e, const std::optional<std::string>& host) const;
    // Appends the request body to upload `id`; with `digest`, completes the upload after it.
    RequestHandler streamChunk(const std::string& name, const std::string& id,
                               std::optional<uint64_t> rangeStart,
                               std::optional<std::string> digest, bool cancelOnAbort);

    Storage& storage_;
    Uploads& uploads_;
    RouterLimits limits_;
    Access* access_;
};

}  // namespace ingot::registry
