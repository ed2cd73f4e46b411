#include "ingot/patch/PatchPlan.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "DebFiles.h"
#include "PlanText.h"
#include "Relations.h"
#include "ingot/core/Error.h"
#include "ingot/debian/Changelog.h"
#include "ingot/debian/Deb822.h"

namespace ingot::patch {

using debian::PackageRecord;
using debian::Version;

namespace {

// A .deb's changelog.Debian.gz is a few hundred KiB compressed even for the kernel.
constexpr uint64_t kMaxCompressedChangelogBytes = 16ull << 20;

// One PlanSource's index, loaded on first use, with its records by package name.
struct Catalog {
    explicit Catalog(const PlanSource* s) : source(s) {}
    const PlanSource* source;
    bool loaded = false;
    std::map<std::string, std::vector<const PackageRecord*>, std::less<>> byName;

    const std::vector<const PackageRecord*>& named(const std::string& name) {
        if (!loaded) {
            loaded = true;
            for (const PackageRecord& r : source->packages().records())
                byName[r.package].push_back(&r);
        }
        static const std::vector<const PackageRecord*> none;
        auto it = byName.find(name);
        return it == byName.end() ? none : it->second;
    }
};

enum class Kind { kInstalled, kUpdate, kNew };

// A package as the image will hold it once the plan is applied.
struct Present {
    std::string architecture;
    std::string multiArch;
    Version version;
    Kind kind;
    size_t index = 0;  // into the updates or new packages, for kUpdate and kNew
};

struct UpdateWork {
    PlannedUpdate update;
    const PackageRecord* record;
    const PlanSource* source;
    Version installedSource;  // the installed package's source version: changelogs list those
};

struct InstallWork {
    PlannedInstall install;
    const PackageRecord* record;
};

// A package whose dependencies are still to be judged.
struct Job {
    std::string package;
    std::string version;
    std::string architecture;  // native for "all"
    const PackageRecord* record;
};

void addOnce(std::vector<std::string>& list, const std::string& value) {
    if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

std::string shownName(const std::string& package, const std::string& architecture,
                      const std::string& native) {
    return architecture == native || architecture == "all" ? package : package + ":" + architecture;
}

std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ") {
    std::string out;
    for (const auto& s : items) {
        if (!out.empty()) out += separator;
        out += s;
    }
    return out;
}

class Planner {
public:
    explicit Planner(const PlanInput& input) : input_(input) {
        for (const PlanSource& s : input.security) security_.emplace_back(&s);
        for (const PlanSource& s : input.base) base_.emplace_back(&s);
        for (const InstalledProvide& p : input.provides) provides_[p.name].push_back(&p);
    }

    PatchPlan run(const PlanOptions& options) {
        chooseUpdates();
        resolveDependencies();
        if (options.readChangelogs) readChangelogs(options);
        PatchPlan plan;
        plan.architecture = input_.architecture;
        std::sort(updates_.begin(), updates_.end(), [](const UpdateWork& a, const UpdateWork& b) {
            return std::tie(a.update.package, a.update.architecture) <
                   std::tie(b.update.package, b.update.architecture);
        });
        for (UpdateWork& u : updates_) plan.updates.push_back(std::move(u.update));
        for (InstallWork& n : installs_) plan.newPackages.push_back(std::move(n.install));
        plan.unresolved = std::move(unresolved_);
        return plan;
    }

private:
    std::string native(const std::string& architecture) const {
        return architecture == "all" ? input_.architecture : architecture;
    }

    // Whether a version built for `candidate` replaces a package installed for `installed`:
    // packages move between "all" and the native architecture across versions.
    bool replaces(const std::string& candidate, const std::string& installed) const {
        return candidate == installed || candidate == "all" ||
               (installed == "all" && candidate == input_.architecture);
    }

    void chooseUpdates() {
        std::vector<const debian::InstalledPackage*> installed;
        for (const auto& p : input_.installed) installed.push_back(&p);
        std::sort(installed.begin(), installed.end(), [](auto* a, auto* b) {
            return std::tie(a->package, a->architecture) < std::tie(b->package, b->architecture);
        });
        for (const debian::InstalledPackage* p : installed) {
            const PackageRecord* best = nullptr;
            const PlanSource* from = nullptr;
            for (Catalog& c : security_)
                for (const PackageRecord* r : c.named(p->package))
                    if (replaces(r->architecture, p->architecture) && r->version > p->version &&
                        (!best || r->version > best->version)) {
                        best = r;
                        from = c.source;
                    }
            if (!best) {
                present_[p->package].push_back(
                    Present{p->architecture, p->multiArch, p->version, Kind::kInstalled, 0});
                continue;
            }
            present_[p->package].push_back(Present{best->architecture, best->multiArch,
                                                   best->version, Kind::kUpdate, updates_.size()});
            updates_.push_back(UpdateWork{updateFor(*best, *from, p->version.text(), {}), best,
                                          from, p->sourceVersion});
        }
    }

    static PlannedUpdate updateFor(const PackageRecord& r, const PlanSource& from,
                                   const std::string& installedVersion,
                                   std::vector<std::string> neededBy) {
        PlannedUpdate u;
        u.package = r.package;
        u.architecture = r.architecture;
        u.installedVersion = installedVersion;
        u.newVersion = r.version.text();
        u.sourcePackage = r.source;
        u.sourceVersion = r.sourceVersion.text();
        u.origin = from.label;
        u.neededBy = std::move(neededBy);
        u.filename = r.filename;
        u.debSize = r.size;
        u.sha256 = r.sha256;
        return u;
    }

    bool archSatisfies(const Present& p, const Alternative& a, const std::string& depender) const {
        if (p.architecture == "all" || a.archQualifier == "any") return true;
        if (a.archQualifier == "native") return p.architecture == input_.architecture;
        if (!a.archQualifier.empty()) return p.architecture == a.archQualifier;
        return p.multiArch == "foreign" || p.architecture == depender;
    }

    // The package that satisfies `relation` once the plan is applied; `provided` when only a
    // Provides of an installed package does.
    const Present* satisfied(const Relation& relation, const std::string& depender,
                             bool& provided) const {
        provided = false;
        for (const Alternative& a : relation) {
            if (auto it = present_.find(a.name); it != present_.end())
                for (const Present& p : it->second)
                    if (archSatisfies(p, a, depender) && a.accepts(p.version)) return &p;
            if (auto it = provides_.find(a.name); it != provides_.end())
                for (const InstalledProvide* p : it->second)
                    // An unversioned Provides satisfies only unversioned dependencies.
                    if (!a.version || (p->version && a.accepts(*p->version))) {
                        provided = true;
                        return nullptr;
                    }
        }
        return nullptr;
    }

    std::vector<std::string> candidateArchitectures(const Alternative& a,
                                                    const std::string& depender) const {
        if (a.archQualifier.empty() || a.archQualifier == "any") return {depender, "all"};
        if (a.archQualifier == "native") return {input_.architecture, "all"};
        return {a.archQualifier, "all"};
    }

    // The newest version of `a` any of `catalogs` has for the right architectures; `newest`
    // learns the newest version of that name there, satisfying or not, for the message.
    std::pair<const PackageRecord*, const PlanSource*> find(
        std::vector<Catalog>& catalogs, const Alternative& a,
        const std::vector<std::string>& architectures, std::optional<Version>& newest) {
        const PackageRecord* best = nullptr;
        const PlanSource* from = nullptr;
        for (Catalog& c : catalogs)
            for (const PackageRecord* r : c.named(a.name)) {
                if (std::find(architectures.begin(), architectures.end(), r->architecture) ==
                    architectures.end())
                    continue;
                if (!newest || r->version > *newest) newest = r->version;
                if (a.accepts(r->version) && (!best || r->version > best->version)) {
                    best = r;
                    from = c.source;
                }
            }
        return {best, from};
    }

    void resolveDependencies() {
        std::deque<Job> jobs;
        for (const UpdateWork& u : updates_)
            jobs.push_back(Job{u.update.package, u.update.newVersion, native(u.update.architecture),
                               u.record});
        while (!jobs.empty()) {
            const Job job = jobs.front();
            jobs.pop_front();
            const std::pair<const char*, const std::string*> fields[] = {
                {"Pre-Depends", &job.record->preDepends}, {"Depends", &job.record->depends}};
            for (const auto& [field, value] : fields) {
                const std::string where =
                    std::string(field) + " of " + job.package + " " + job.version;
                // Group by group, so that one malformed relation hides nothing else.
                for (std::string_view group : splitRelations(*value)) {
                    std::vector<Relation> relations;
                    try {
                        relations = parseRelations(group, where);
                    } catch (const Error& e) {
                        unresolved_.push_back(UnresolvedDependency{
                            job.package, job.version, text::printable(group), e.what()});
                        continue;
                    }
                    for (const Relation& relation : relations) resolve(relation, job, jobs);
                }
            }
        }
    }

    void resolve(const Relation& relation, const Job& job, std::deque<Job>& jobs) {
        bool provided = false;
        if (const Present* p = satisfied(relation, job.architecture, provided)) {
            if (p->kind == Kind::kNew) addOnce(installs_[p->index].install.neededBy, job.package);
            if (p->kind == Kind::kUpdate && !updates_[p->index].update.neededBy.empty())
                addOnce(updates_[p->index].update.neededBy, job.package);
            return;
        }
        if (provided) return;
        std::vector<std::string> reasons;
        bool absent = false;
        for (const Alternative& a : relation) {
            const auto architectures = candidateArchitectures(a, job.architecture);
            std::optional<Version> newest;
            auto [record, from] = find(security_, a, architectures, newest);
            if (!record) std::tie(record, from) = find(base_, a, architectures, newest);
            if (!record) {
                const std::string suites = base_.empty()
                                               ? "the security suites (no base suite was given)"
                                               : "the security and base suites";
                if (!newest) {
                    reasons.push_back("no package " + a.name + " for " + architectures[0] + " in " +
                                      suites);
                    absent = true;
                } else {
                    reasons.push_back(suites + " have " + a.name + " up to " + newest->text() +
                                      ", which does not satisfy " + a.text);
                }
                continue;
            }
            if (auto why = take(*record, *from, job, jobs)) {
                reasons.push_back(*why);
                continue;
            }
            return;
        }
        std::string reason = joined(reasons, "; ");
        if (absent)
            reason +=
                " (a virtual package? Provides of packages not yet installed are not "
                "resolved)";
        unresolved_.push_back(
            UnresolvedDependency{job.package, job.version, relationText(relation), reason});
    }

    // Adds `record` to the plan for `job`: a new package, or an upgrade of an installed one
    // that is too old. Returns why it cannot be taken.
    std::optional<std::string> take(const PackageRecord& record, const PlanSource& from,
                                    const Job& job, std::deque<Job>& jobs) {
        auto& entries = present_[record.package];
        for (Present& p : entries) {
            if (!replaces(record.architecture, p.architecture) &&
                !replaces(p.architecture, record.architecture))
                continue;
            if (p.kind != Kind::kInstalled)
                return record.package + " is already planned at " + p.version.text();
            if (record.version == p.version)
                return record.package + " " + p.version.text() + " is installed for " +
                       p.architecture + ", which cannot satisfy this dependency";
            if (record.version < p.version)
                return record.package + " " + p.version.text() +
                       " is installed and only the "
                       "older " +
                       record.version.text() + " would do (a downgrade)";
            const std::string installedVersion = p.version.text();
            Version installedSource = p.version;
            for (const auto& i : input_.installed)
                if (i.package == record.package && i.architecture == p.architecture)
                    installedSource = i.sourceVersion;
            p = Present{record.architecture, record.multiArch, record.version, Kind::kUpdate,
                        updates_.size()};
            updates_.push_back(UpdateWork{updateFor(record, from, installedVersion, {job.package}),
                                          &record, &from, installedSource});
            jobs.push_back(
                Job{record.package, record.version.text(), native(record.architecture), &record});
            return std::nullopt;
        }
        PlannedInstall n;
        n.package = record.package;
        n.architecture = record.architecture;
        n.version = record.version.text();
        n.sourcePackage = record.source;
        n.origin = from.label;
        n.neededBy = {job.package};
        n.filename = record.filename;
        n.debSize = record.size;
        n.sha256 = record.sha256;
        entries.push_back(Present{record.architecture, record.multiArch, record.version, Kind::kNew,
                                  installs_.size()});
        installs_.push_back(InstallWork{std::move(n), &record});
        jobs.push_back(
            Job{record.package, record.version.text(), native(record.architecture), &record});
        return std::nullopt;
    }

    struct Changelog {
        std::optional<std::string> text;
        std::string note;
    };

    // The package's Debian changelog, decompressed; the note says why there is none.
    static Changelog readChangelog(const std::string& debPath, const PackageRecord& record,
                                   const PlanOptions& options) {
        const std::string doc = "usr/share/doc/" + record.package;
        const std::string debian = doc + "/changelog.Debian.gz";
        // A native package (no Debian revision) keeps its Debian changelog as changelog.gz; in
        // any other package that name is upstream's, in no format dpkg reads.
        const bool isNative = record.sourceVersion.revision().empty();
        const std::string nativeLog = doc + "/changelog.gz";
        std::map<std::string, DebEntry> entries;
        try {
            entries =
                readDebDataEntries(debPath, {doc, debian, nativeLog}, kMaxCompressedChangelogBytes);
        } catch (const Error& e) {
            return {std::nullopt, e.what()};
        }
        for (const std::string& path : {debian, nativeLog}) {
            if (path == nativeLog && !isNative) break;
            auto it = entries.find(path);
            if (it == entries.end()) continue;
            if (it->second.kind != DebEntry::Kind::kFile)
                return {std::nullopt, path + " in the package is not a regular file"};
            try {
                return {gunzip(it->second.bytes,
                               record.package + " " + record.version.text() + " " + path,
                               options.maxChangelogBytes),
                        ""};
            } catch (const Error& e) {
                return {std::nullopt, e.what()};
            }
        }
        if (auto it = entries.find(doc);
            it != entries.end() && it->second.kind == DebEntry::Kind::kSymlink)
            return {std::nullopt, doc + " is a symlink to " + text::printable(it->second.target) +
                                      ", another package's documentation"};
        return {std::nullopt, "the package has no " + debian};
    }

    void readChangelogs(const PlanOptions& options) {
        // Binary packages of one source version share one changelog: read it once, and take it
        // from a sibling when a package's doc directory points elsewhere.
        std::map<std::string, Changelog> bySource;
        std::vector<std::string> notes(updates_.size());
        auto key = [](const PackageRecord& r) { return r.source + " " + r.sourceVersion.text(); };
        for (size_t i = 0; i < updates_.size(); ++i) {
            UpdateWork& u = updates_[i];
            u.update.debPath = u.source->fetchDeb(*u.record);
            Changelog& shared = bySource[key(*u.record)];
            if (shared.text) continue;
            Changelog own = readChangelog(u.update.debPath, *u.record, options);
            if (own.text)
                shared = std::move(own);
            else
                notes[i] = own.note;
        }
        for (size_t i = 0; i < updates_.size(); ++i) {
            UpdateWork& u = updates_[i];
            const Changelog& shared = bySource[key(*u.record)];
            if (!shared.text) {
                u.update.changelogNote = notes[i];
                continue;
            }
            try {
                for (const auto& fix : debian::fixesSince(
                         *shared.text,
                         u.update.sourcePackage + " " + u.update.sourceVersion + " changelog",
                         u.installedSource))
                    for (const std::string& cve : fix.cves) addOnce(u.update.cves, cve);
            } catch (const Error& e) {
                u.update.changelogNote = e.what();
            }
        }
    }

    const PlanInput& input_;
    std::vector<Catalog> security_, base_;
    std::map<std::string, std::vector<const InstalledProvide*>> provides_;
    std::map<std::string, std::vector<Present>> present_;
    std::vector<UpdateWork> updates_;
    std::vector<InstallWork> installs_;
    std::vector<UnresolvedDependency> unresolved_;
};

}  // namespace

std::vector<InstalledProvide> parseInstalledProvides(std::string_view statusText,
                                                     std::string_view source) {
    debian::Deb822Options options;
    options.source = std::string(source);
    std::vector<InstalledProvide> out;
    for (const debian::Paragraph& p : debian::parseDeb822(statusText, options)) {
        const std::string statusField = p.get("Status");
        const auto status = text::words(statusField);
        if (status.size() != 3 || status[1] != "ok" || status[2] != "installed") continue;
        const debian::Field* provides = p.find("Provides");
        if (!provides) continue;
        const std::string where = std::string(source) + " line " + std::to_string(provides->line) +
                                  ": Provides of " + p.get("Package");
        for (const Relation& r : parseRelations(provides->value, where)) {
            if (r.size() != 1 || !r[0].archQualifier.empty() || (r[0].version && r[0].op != "="))
                throw Error(where + ": '" + text::printable(relationText(r)) +
                                "' is not 'name' or 'name (= version)'",
                            ExitStatus::kUsage);
            out.push_back(
                InstalledProvide{r[0].name, r[0].version, p.get("Package"), p.get("Architecture")});
        }
    }
    return out;
}

std::string nativeArchitecture(const std::vector<debian::InstalledPackage>& installed) {
    for (const char* name : {"dpkg", "base-files"})
        for (const auto& p : installed)
            if (p.package == name && !p.architecture.empty() && p.architecture != "all")
                return p.architecture;
    throw Error(
        "the dpkg status lists neither dpkg nor base-files as installed, so the image's "
        "architecture is unknown",
        ExitStatus::kUsage);
}

PlanSource archiveSource(std::shared_ptr<debian::ArchiveClient> client, std::string label) {
    struct Lazy {
        std::shared_ptr<debian::ArchiveClient> client;
        bool updated = false;
    };
    auto lazy = std::make_shared<Lazy>(Lazy{std::move(client)});
    PlanSource source;
    source.label = std::move(label);
    source.packages = [lazy]() -> const debian::PackagesIndex& {
        if (!lazy->updated) {
            lazy->client->update();
            lazy->updated = true;
        }
        return lazy->client->packages();
    };
    source.fetchDeb = [lazy](const PackageRecord& r) { return lazy->client->fetchDeb(r); };
    return source;
}

PatchPlan computePatchPlan(const PlanInput& input, const PlanOptions& options) {
    if (input.architecture.empty() || input.architecture == "all")
        throw Error(
            "a patch plan needs the image's native architecture, not '" + input.architecture + "'",
            ExitStatus::kUsage);
    return Planner(input).run(options);
}

nlohmann::json planToJson(const PatchPlan& plan) {
    using nlohmann::json;
    json updates = json::array();
    for (const PlannedUpdate& u : plan.updates)
        updates.push_back(
            {{"package", u.package},
             {"architecture", u.architecture},
             {"installedVersion", u.installedVersion},
             {"newVersion", u.newVersion},
             {"sourcePackage", u.sourcePackage},
             {"sourceVersion", u.sourceVersion},
             {"origin", u.origin},
             {"neededBy", u.neededBy},
             {"cves", u.cves},
             {"changelogNote", u.changelogNote.empty() ? json(nullptr) : json(u.changelogNote)},
             {"filename", u.filename},
             {"size", u.debSize},
             {"sha256", u.sha256},
             {"debPath", u.debPath.empty() ? json(nullptr) : json(u.debPath)}});
    json installs = json::array();
    for (const PlannedInstall& n : plan.newPackages)
        installs.push_back({{"package", n.package},
                            {"architecture", n.architecture},
                            {"version", n.version},
                            {"sourcePackage", n.sourcePackage},
                            {"origin", n.origin},
                            {"neededBy", n.neededBy},
                            {"filename", n.filename},
                            {"size", n.debSize},
                            {"sha256", n.sha256}});
    json unresolved = json::array();
    for (const UnresolvedDependency& d : plan.unresolved)
        unresolved.push_back({{"package", d.package},
                              {"version", d.version},
                              {"relation", d.relation},
                              {"reason", d.reason}});
    return {{"architecture", plan.architecture},
            {"updates", updates},
            {"newPackages", installs},
            {"unresolved", unresolved}};
}

std::string formatPlanText(const PatchPlan& plan) {
    std::string out;
    for (const PlannedUpdate& u : plan.updates) {
        out += shownName(u.package, u.architecture, plan.architecture) + " " + u.installedVersion +
               " → " + u.newVersion;
        std::vector<std::string> notes;
        if (!u.cves.empty()) notes.push_back(joined(u.cves));
        if (!u.neededBy.empty()) notes.push_back("needed by " + joined(u.neededBy));
        if (!u.changelogNote.empty()) notes.push_back("changelog not read: " + u.changelogNote);
        if (!notes.empty()) out += " (" + joined(notes) + ")";
        out += "\n";
    }
    for (const PlannedInstall& n : plan.newPackages)
        out += shownName(n.package, n.architecture, plan.architecture) + " (new) → " + n.version +
               " (needed by " + joined(n.neededBy) + ")\n";
    for (const UnresolvedDependency& d : plan.unresolved)
        out += "unresolved: " + d.package + " " + d.version + " needs " + d.relation + ": " +
               d.reason + "\n";
    return out;
}

}  // namespace ingot::patch
