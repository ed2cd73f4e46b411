// What `ingot images`, `ingot ps` and `ingot run` say about newer releases: the channel tag an
// image was pulled by (`stable`) now names another digest in its repository's latest verified
// freshness document (registry/client/ChannelNews.h). They only say it; nothing is replaced.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ChannelNews.h"
#include "Freshness.h"
#include "TrustPolicy.h"

namespace ingot::cli {

using Documents = std::map<std::string, registry::TimestampDocument>;

// The cached documents; a damaged cache file is one note on stderr and counts as empty.
Documents cachedDocuments();

// The newer release of the store's image `imageName` at `digest`; never for an image imported
// from a local layout (local/...), which has no registry to publish one.
std::optional<registry::NewerRelease> newerReleaseOfStored(const Documents& documents,
                                                           const std::string& imageName,
                                                           const std::string& digest);

// The NEWER column: the release's version tags joined by ',', else its first 12 hex digits
// when no other tag names it; "-" when there is none.
std::string newerColumn(const std::optional<registry::NewerRelease>& release);
// {"digest": …, "tags": […]}, or null.
nlohmann::json newerJson(const std::optional<registry::NewerRelease>& release);

// Fetches and records the freshness document of each repository the store images named
// `imageNames` come from (each once; local and digest-pinned ones have none), with the short
// timeouts of registry::quickSessionOptions. A repository that cannot be reached or whose
// document is refused is a one-line note on stderr, never an error.
void refreshDocuments(const std::vector<std::string>& imageNames,
                      const registry::TrustPolicy& trust, const registry::FreshnessPolicy& policy);

}  // namespace ingot::cli
