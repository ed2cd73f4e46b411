#include "ReleaseNews.h"

#include <iostream>
#include <set>

#include "Credentials.h"
#include "Reference.h"
#include "Verb.h"
#include "ingot/core/Error.h"

namespace ingot::cli {

namespace {
bool isLocalImage(const std::string& imageName) {
    return imageName.starts_with("local/");
}

// News is never worth failing a listing or a run for, so every way of not having it is a note.
void note(const std::string& text) {
    std::cerr << "ingot: " << printable(text) << "\n";
}
}  // namespace

Documents cachedDocuments() {
    try {
        registry::TimestampCache cache;
        Documents documents = cache.documents();
        if (!cache.problem().empty()) note(cache.problem());
        return documents;
    } catch (const Error& e) {  // no state directory ($XDG_STATE_HOME and $HOME unset)
        note(std::string("no news of newer releases: ") + e.what());
        return {};
    }
}

std::optional<registry::NewerRelease> newerReleaseOfStored(const Documents& documents,
                                                           const std::string& imageName,
                                                           const std::string& digest) {
    if (isLocalImage(imageName)) return std::nullopt;
    return registry::newerReleaseOf(documents, imageName, digest);
}

std::string newerColumn(const std::optional<registry::NewerRelease>& release) {
    if (!release) return "-";
    if (release->tags.empty()) return release->digest.substr(7, 12);
    std::string text;
    for (const std::string& tag : release->tags) text += (text.empty() ? "" : ",") + tag;
    return printable(text);
}

nlohmann::json newerJson(const std::optional<registry::NewerRelease>& release) {
    if (!release) return nullptr;
    return {{"digest", release->digest}, {"tags", release->tags}};
}

void refreshDocuments(const std::vector<std::string>& imageNames,
                      const registry::TrustPolicy& trust, const registry::FreshnessPolicy& policy) {
    std::set<std::string> done;
    std::string reported;  // the cache's problem, said once
    for (const std::string& name : imageNames) {
        if (isLocalImage(name)) continue;
        const std::optional<registry::Channel> channel = registry::channelOf(name);
        if (!channel || !done.insert(channel->repository).second) continue;
        std::string problem;
        try {
            registry::TimestampCache cache;
            registry::FreshnessState state;
            const registry::Reference ref = registry::parseReference(name);
            registry::refreshTimestamp(ref, trust, registry::Credentials().find(ref.registry),
                                       registry::quickSessionOptions(), policy, cache, state);
            problem = cache.problem();
        } catch (const Error& e) {
            note(channel->repository +
                 ": cannot check for newer releases (going by the document recorded last): " +
                 e.what());
        }
        if (!problem.empty() && problem != reported) note(reported = problem);
    }
}

}  // namespace ingot::cli
