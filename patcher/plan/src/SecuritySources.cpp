#include "ingot/patch/SecuritySources.h"

#include <algorithm>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/debian/DpkgStatus.h"

namespace ingot::patch {

namespace {

bool carries(const AptSource& source, const std::string& architecture) {
    return source.architectures.empty() ||
           std::find(source.architectures.begin(), source.architectures.end(), architecture) !=
               source.architectures.end();
}

std::shared_ptr<debian::ArchiveClient> clientFor(const AptSource& source,
                                                 const std::string& architecture,
                                                 const SecurityConfig& config) {
    debian::ArchiveOptions o;
    o.baseUrl = source.uri;
    o.suite = source.suite;
    o.components = source.components;
    o.architecture = architecture;
    o.keyring = config.keyring.empty() ? source.signedBy : config.keyring;
    o.cacheDirectory = config.cacheDirectory;
    o.offline = config.offline;
    return std::make_shared<debian::ArchiveClient>(std::move(o));
}

std::string labelOf(const AptSource& source, const std::string& architecture,
                    const std::string& native) {
    return source.uri + " " + source.suite +
           (architecture == native ? "" : " [" + architecture + "]");
}

}  // namespace

SecuritySources openSecuritySources(const SecurityConfig& config,
                                    const std::string& nativeArchitecture,
                                    const std::set<std::string>& foreignArchitectures,
                                    const std::function<void(const std::string&)>& progress) {
    // By value: the base suites' loaders keep it and run after this returns.
    const auto say = [progress](const std::string& line) {
        if (progress) progress(line);
    };
    const auto entries = readAptSources(config.aptDirectory);
    std::vector<AptSource> security;
    for (const auto& s : securitySources(entries)) {
        if (!carries(s, nativeArchitecture)) continue;
        if (!config.suites.empty() &&
            std::find(config.suites.begin(), config.suites.end(), s.suite) == config.suites.end())
            continue;
        security.push_back(s);
    }
    if (security.empty())
        throw Error("no `deb` entry for a -security suite" +
                        std::string(config.suites.empty() ? "" : " of those asked for") +
                        " and architecture " + nativeArchitecture + " in " + config.aptDirectory +
                        "/sources.list or " + config.aptDirectory + "/sources.list.d",
                    ExitStatus::kUsage);

    SecuritySources out;
    std::string digestInput;
    const std::string fetching = config.offline ? "reading the cached indexes of " : "fetching ";
    const auto open = [&](const AptSource& s, const std::string& arch) {
        say(fetching + s.uri + " " + s.suite + " (" + arch + ")");
        auto client = clientFor(s, arch, config);
        client->update();
        const debian::Release& release = client->release();
        digestInput += s.uri + "\n" + s.suite + "\n" + arch + "\n" + release.date + "\n";
        for (const auto& f : release.sha256) digestInput += f.path + " " + f.sha256 + "\n";
        out.newestReleaseDate = std::max(out.newestReleaseDate, release.dateSeconds);
        std::string label = labelOf(s, arch, nativeArchitecture);
        out.labels.push_back(label);
        out.security.push_back(archiveSource(client, std::move(label)));
        return client;
    };
    for (const AptSource& s : security) {
        auto client = open(s, nativeArchitecture);
        const auto& carried = client->release().architectures;
        for (const std::string& arch : foreignArchitectures) {
            if (!carries(s, arch)) continue;
            if (std::find(carried.begin(), carried.end(), arch) == carried.end()) {
                say("the image has packages for " + arch + ", which " + s.uri + " " + s.suite +
                    " does not carry; they are not checked");
                continue;
            }
            open(s, arch);
        }
    }
    // Fetched only if an update needs a package the security suites lack; native only, since
    // a dependency of a foreign-architecture update is rare enough to be reported instead.
    for (const AptSource& s : baseSources(entries, security)) {
        if (!carries(s, nativeArchitecture)) continue;
        PlanSource base = archiveSource(clientFor(s, nativeArchitecture, config),
                                        labelOf(s, nativeArchitecture, nativeArchitecture));
        base.packages = [say, fetching, label = base.label,
                         load = std::move(base.packages)]() -> const debian::PackagesIndex& {
            say(fetching + label + " (for dependencies the security suites lack)");
            return load();
        };
        out.base.push_back(std::move(base));
    }
    out.releaseDigest = toHex(sha256(digestInput));
    return out;
}

ImagePlanInput planInputForStatus(const std::string& statusText, const std::string& where,
                                  const SecurityConfig& config,
                                  const std::function<void(const std::string&)>& progress) {
    ImagePlanInput out;
    out.input.installed = debian::parseDpkgStatus(statusText, where);
    out.input.provides = parseInstalledProvides(statusText, where);
    out.input.architecture = nativeArchitecture(out.input.installed);
    std::set<std::string> foreign;
    for (const auto& p : out.input.installed)
        if (p.architecture != "all" && !p.architecture.empty() &&
            p.architecture != out.input.architecture)
            foreign.insert(p.architecture);
    out.sources = openSecuritySources(config, out.input.architecture, foreign, progress);
    out.input.security = out.sources.security;
    out.input.base = out.sources.base;
    return out;
}

std::string fetchPlannedInstall(const SecuritySources& sources, const PlannedInstall& install) {
    for (const auto* list : {&sources.security, &sources.base})
        for (const PlanSource& source : *list) {
            if (source.label != install.origin) continue;
            for (const debian::PackageRecord& r : source.packages().records())
                if (r.package == install.package && r.architecture == install.architecture &&
                    r.version.text() == install.version && r.sha256 == install.sha256)
                    return source.fetchDeb(r);
        }
    throw Error("the new package " + install.package + " " + install.version + " (" +
                    install.origin + ") is no longer in its index",
                ExitStatus::kUsage);
}

}  // namespace ingot::patch
