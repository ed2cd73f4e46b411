#include "ingot/patch/UnpackPackages.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "ingot/core/Error.h"
#include "ingot/debian/Deb822.h"
#include "ingot/debian/DpkgStatus.h"
#include "ingot/debian/Text.h"
#include "ingot/imagebuild/ArchiveReader.h"
#include "ingot/patch/DpkgDatabase.h"

namespace ingot::patch {

namespace text = debian::text;
using imagebuild::Inode;
using imagebuild::NodeType;
using imagebuild::Tree;

std::string_view conffileOutcomeName(ConffileOutcome::Kind kind) {
    switch (kind) {
        case ConffileOutcome::Kind::kNew: return "new";
        case ConffileOutcome::Kind::kReplaced: return "replaced";
        case ConffileOutcome::Kind::kUnchanged: return "unchanged";
        case ConffileOutcome::Kind::kKeptLocal: return "kept-local";
        case ConffileOutcome::Kind::kKeptDeleted: return "kept-deleted";
    }
    return "?";
}

namespace {

// Control files dpkg keeps under info/ that it runs.
bool isScript(std::string_view name) {
    return name == "preinst" || name == "postinst" || name == "prerm" || name == "postrm" ||
           name == "config";
}

// The path `path` names once its directories are followed as the guest would follow them:
// "bin/ls" is "usr/bin/ls" on a merged-/usr system. The last component is not followed.
std::string placeThroughSymlinks(const Tree& tree, const std::string& path, std::string_view where) {
    const std::string parent = imagebuild::parentPath(path);
    const std::string resolvedParent = parent.empty() ? "" : tree.resolve(parent, where);
    const std::string base(imagebuild::baseName(path));
    return resolvedParent.empty() ? base : resolvedParent + "/" + base;
}

std::set<std::string> listPaths(const std::string& listText, const std::string& where) {
    std::set<std::string> out;
    for (std::string_view line : text::lines(listText)) {
        if (line.empty() || line == "/.") continue;
        out.insert(imagebuild::normalizePath(line, where));
    }
    return out;
}

struct OldConffile {
    std::string md5;
    bool obsolete = false;
};

std::map<std::string, OldConffile> parseConffilesField(const std::string& value,
                                                       const std::string& where) {
    std::map<std::string, OldConffile> out;
    for (const debian::Conffile& c : debian::parseConffiles(value, where))
        out[imagebuild::normalizePath(c.path, where)] = {c.md5, c.obsolete};
    return out;
}

// A control file's conffiles: "/etc/foo" lines, or "remove-on-upgrade /etc/foo" (dpkg 1.20.1),
// which this unpack leaves to the guest's dpkg by not listing it.
std::vector<std::string> parseConffilesControl(const std::string& content, const std::string& where) {
    std::vector<std::string> out;
    for (std::string_view line : text::lines(content)) {
        std::string_view path = text::trim(line);
        if (path.empty()) continue;
        if (path.starts_with("remove-on-upgrade ")) continue;
        if (path.front() != '/')
            throw Error(where + ": a conffiles line is an absolute path, not '" +
                            text::printable(line) + "'",
                        ExitStatus::kUsage);
        out.push_back(imagebuild::normalizePath(path, where));
    }
    return out;
}

std::string stateOf(const StatusStanza& stanza) {
    const std::string status = stanza.get("Status");
    auto words = text::words(status);
    return words.size() == 3 ? std::string(words[2]) : std::string();
}

class Unpacker {
public:
    Unpacker(Tree& tree, const UnpackOptions& options)
        : tree_(tree), options_(options), statusWhere_(std::string(kDpkgStatusPath)) {
        auto statusText = readTreeFile(tree_, statusWhere_, statusWhere_);
        if (!statusText)
            throw Error(statusWhere_ + ": not found in the image (is it a Debian system?)",
                        ExitStatus::kUsage);
        status_ = DpkgStatusFile::parse(*statusText, statusWhere_);
        if (auto inode = tree_.find(tree_.resolve(statusWhere_, statusWhere_))) statusMode_ = inode->mode;
        diversions_ = readDiversions(tree_);
        fileInterests_ = readFileTriggerInterests(tree_);
        const std::string info(kDpkgInfoDir);
        for (const std::string& child : tree_.children(tree_.resolve(info, info))) {
            if (!child.ends_with(".list")) continue;
            auto content = readTreeFile(tree_, child, child);
            if (!content) continue;
            for (const std::string& p : listPaths(*content, child)) ++owners_[p];
        }
    }

    void unpack(const std::vector<PackageToUnpack>& debs) {
        for (const auto& d : debs) unpacking_.insert(d.package);
        for (const auto& d : debs) report_.packages.push_back(unpackOne(d));
        putTreeFile(tree_, statusWhere_, status_.serialize(), statusMode_, options_.sourceDateEpoch,
                statusWhere_);
        std::sort(report_.triggersActivated.begin(), report_.triggersActivated.end());
        report_.triggersActivated.erase(
            std::unique(report_.triggersActivated.begin(), report_.triggersActivated.end()),
            report_.triggersActivated.end());
    }

    UnpackReport report() && { return std::move(report_); }

private:
    struct DebControl {
        std::map<std::string, std::string> files;
        debian::Paragraph fields;
        std::string package, version, architecture;
    };

    // The .deb's control files, refused unless it is the package the plan said.
    static DebControl readControl(const PackageToUnpack& deb) {
        const std::string& label = deb.debPath;
        DebControl c;
        c.files = imagebuild::readDebControlFiles(deb.debPath);
        debian::Deb822Options o;
        o.source = label + ": control";
        auto paragraphs = debian::parseDeb822(c.files.at("control"), o);
        if (paragraphs.size() != 1)
            throw Error(label + ": the control file holds " + std::to_string(paragraphs.size()) +
                            " paragraphs, not one",
                        ExitStatus::kVerification);
        c.fields = paragraphs.front();
        c.package = c.fields.get("Package");
        c.version = c.fields.get("Version");
        c.architecture = c.fields.get("Architecture");
        if (c.package != deb.package || c.version != deb.version || c.architecture != deb.architecture)
            throw Error(label + ": the package is " + text::printable(c.package) + " " +
                            text::printable(c.version) + " (" + text::printable(c.architecture) +
                            "), but the archive's index said " + deb.package + " " + deb.version +
                            " (" + deb.architecture + ")",
                        ExitStatus::kVerification);
        return c;
    }

    // The installed version a .deb replaces: its stanza, whether it is an upgrade (configured
    // before), and the version dpkg configures from.
    struct Installed {
        const StatusStanza* stanza = nullptr;
        bool upgrade = false;
        std::string version;        // "" unless an upgrade
        std::string configVersion;  // the upgrade's old version, or a config-files Config-Version
        std::string info;           // its info/ name
    };
    Installed installedFor(const std::string& package, const std::string& arch) const {
        Installed in;
        in.stanza = status_.find(package, arch);
        if (!in.stanza) return in;
        const std::string state = stateOf(*in.stanza);
        in.upgrade = state == "installed" || state == "triggers-pending" || state == "triggers-awaited";
        if (in.upgrade) in.version = in.stanza->get("Version");
        // A package whose configuration stayed behind (config-files) is configured from that
        // version, as dpkg keeps it.
        in.configVersion = in.upgrade ? in.version : in.stanza->get("Config-Version");
        in.info = infoName(package, in.stanza->get("Architecture"), in.stanza->get("Multi-Arch"));
        return in;
    }

public:
    std::vector<MaintainerScriptCall> stage(const std::vector<PackageToUnpack>& debs) {
        std::vector<MaintainerScriptCall> calls;
        const std::string info(kDpkgInfoDir);
        for (const PackageToUnpack& deb : debs) {
            const DebControl control = readControl(deb);
            const Installed old = installedFor(control.package, control.architecture);
            if (old.upgrade) {
                const std::string prerm = info + "/" + old.info + ".prerm";
                if (auto inode = tree_.find(tree_.resolve(prerm, prerm)); inode && inode->type == NodeType::kFile)
                    calls.push_back({control.package, old.stanza->get("Architecture"), "prerm", prerm,
                                     {"upgrade", control.version}});
            }
            if (auto preinst = control.files.find("preinst"); preinst != control.files.end()) {
                const std::string staged = std::string(kGuestStagingDir) + "/preinst/" +
                                           infoName(control.package, control.architecture,
                                                    control.fields.get("Multi-Arch"));
                putTreeFile(tree_, staged, preinst->second, 0755, options_.sourceDateEpoch, deb.debPath);
                std::vector<std::string> args = {old.upgrade ? "upgrade" : "install"};
                if (!old.configVersion.empty()) args.push_back(old.configVersion);
                calls.push_back({control.package, control.architecture, "preinst", staged, args});
            }
        }
        return calls;
    }

private:
    UnpackedPackage unpackOne(const PackageToUnpack& deb) {
        const std::string& label = deb.debPath;
        const DebControl debControl = readControl(deb);
        const auto& control = debControl.files;
        const debian::Paragraph& fields = debControl.fields;
        const std::string& package = debControl.package;
        const std::string& version = debControl.version;
        const std::string& arch = debControl.architecture;

        UnpackedPackage result;
        result.package = package;
        result.architecture = arch;
        result.newVersion = version;

        const Installed installed = installedFor(package, arch);
        const StatusStanza* old = installed.stanza;
        const bool upgrade = installed.upgrade;
        std::map<std::string, OldConffile> oldConffiles;
        std::set<std::string> oldList;
        const std::string oldInfo = installed.info;
        const std::string configVersion = installed.configVersion;
        result.oldVersion = installed.version;
        if (upgrade && control.count("preinst"))
            result.unpackScripts.insert(result.unpackScripts.begin(),
                                        "new preinst upgrade " + result.oldVersion);
        else if (control.count("preinst"))
            result.unpackScripts.push_back("new preinst install" +
                                           (configVersion.empty() ? "" : " " + configVersion));
        if (old) {
            oldConffiles = parseConffilesField(old->get("Conffiles"), statusWhere_ + ": " + package);
            const std::string listPath = std::string(kDpkgInfoDir) + "/" + oldInfo + ".list";
            if (auto content = readTreeFile(tree_, listPath, listPath)) {
                oldList = listPaths(*content, listPath);
                for (const std::string& p : oldList)
                    if (auto it = owners_.find(p); it != owners_.end() && --it->second == 0)
                        owners_.erase(it);
            }
        }

        Tree data;
        imagebuild::ArchiveReadOptions read;
        read.clampMtime = options_.sourceDateEpoch;
        imagebuild::readDebPackage(deb.debPath, data, read);

        std::vector<std::string> conffiles;
        if (auto it = control.find("conffiles"); it != control.end())
            conffiles = parseConffilesControl(it->second, label + ": conffiles");
        const std::set<std::string> conffileSet(conffiles.begin(), conffiles.end());

        // Decided before anything is placed: the current file is the one the recipe left.
        for (const std::string& c : conffiles) {
            auto newInode = data.find(c);
            if (!newInode || newInode->type != NodeType::kFile)
                throw Error(label + ": conffile /" + text::printable(c) +
                                " is not a regular file in the package's data",
                            ExitStatus::kVerification);
            const std::string newMd5 =
                md5Hex(newInode->content ? std::string_view(newInode->content->bytes()) : "");
            const auto current = readTreeFile(tree_, c, label);
            auto recorded = oldConffiles.find(c);
            ConffileOutcome outcome{"/" + c, ConffileOutcome::Kind::kNew};
            if (recorded == oldConffiles.end() || recorded->second.md5 == "newconffile") {
                if (current)
                    outcome.kind = md5Hex(*current) == newMd5 ? ConffileOutcome::Kind::kUnchanged
                                                              : ConffileOutcome::Kind::kKeptLocal;
            } else if (!current) {
                outcome.kind = ConffileOutcome::Kind::kKeptDeleted;
            } else {
                const std::string currentMd5 = md5Hex(*current);
                if (newMd5 == recorded->second.md5 || currentMd5 == newMd5)
                    outcome.kind = ConffileOutcome::Kind::kUnchanged;
                else if (currentMd5 == recorded->second.md5)
                    outcome.kind = ConffileOutcome::Kind::kReplaced;
                else
                    outcome.kind = ConffileOutcome::Kind::kKeptLocal;
            }
            result.conffiles.push_back(outcome);
        }

        // Place the data. Entries come parents first, so every directory exists (or is a
        // symlink to one) before its children are placed.
        std::set<std::string> newPaths;
        std::set<std::string> placed;  // where the new files landed, symlinked directories followed
        for (const auto& [path, inode] : data.entries()) {
            if (path.empty()) continue;
            newPaths.insert(path);
            std::string target = path;
            if (auto d = diversions_.find(path); d != diversions_.end() && d->second.package != package)
                target = d->second.to;
            if (conffileSet.count(path)) target += ".dpkg-new";
            const std::string where = label + ": /" + imagebuild::printablePath(path);
            const std::string dest = placeThroughSymlinks(tree_, target, where);
            auto existing = tree_.find(dest);
            placed.insert(dest);
            if (inode->type == NodeType::kDirectory) {
                // dpkg leaves a directory that exists alone (the recipe's mode and owner stay),
                // and so a symlink to a directory (merged /usr) stays a symlink.
                if (existing && existing->type == NodeType::kDirectory) continue;
                if (existing && existing->type == NodeType::kSymlink) {
                    auto pointed = tree_.find(tree_.resolve(dest, where));
                    if (pointed && pointed->type == NodeType::kDirectory) continue;
                }
            } else {
                ++result.filesUnpacked;
                if (existing && existing->type == NodeType::kDirectory)
                    throw Error(where + ": the package's " +
                                    std::string(imagebuild::nodeTypeName(inode->type)) +
                                    " would replace the directory /" +
                                    imagebuild::printablePath(dest) + " of the image",
                                ExitStatus::kUsage);
                activateFileTriggers(path, package);
            }
            tree_.put(dest, inode, where);
        }

        // What the old version shipped and the new one does not, unless another package
        // owns it too or it is a conffile (dpkg keeps those, marked obsolete).
        for (auto it = oldList.rbegin(); it != oldList.rend(); ++it) {
            const std::string& p = *it;
            if (newPaths.count(p) || owners_.count(p) || oldConffiles.count(p)) continue;
            const std::string where = label + ": obsolete /" + imagebuild::printablePath(p);
            std::string target = p;
            if (auto d = diversions_.find(p); d != diversions_.end() && d->second.package != package)
                target = d->second.to;
            const std::string dest = placeThroughSymlinks(tree_, target, where);
            // The same file under another name (bin/x and usr/bin/x on merged /usr): it is the
            // new version's now.
            if (placed.count(dest)) continue;
            auto existing = tree_.find(dest);
            if (!existing) continue;
            // A directory the old version listed may be a symlink to one in the image (bin →
            // usr/bin); dpkg's rmdir fails on it and leaves it, and so does this.
            if (existing->type == NodeType::kSymlink) {
                auto pointed = tree_.find(tree_.resolve(dest, where));
                if (pointed && pointed->type == NodeType::kDirectory) continue;
            }
            if (existing->type == NodeType::kDirectory) {
                if (tree_.children(dest).empty()) tree_.remove(dest);
                continue;
            }
            tree_.remove(dest);
            ++result.filesRemoved;
            activateFileTriggers(p, package);
        }
        for (const std::string& p : newPaths) ++owners_[p];

        // info/: the old version's files go, the new control files come.
        const std::string info(kDpkgInfoDir);
        const std::string infoDir = tree_.resolve(info, info);
        const std::string newInfo = infoName(package, arch, fields.get("Multi-Arch"));
        for (const std::string& name : {oldInfo, newInfo}) {
            if (name.empty()) continue;
            const std::string prefix = infoDir + "/" + name + ".";
            for (const std::string& child : tree_.children(infoDir))
                if (child.starts_with(prefix) &&
                    child.find('.', prefix.size()) == std::string::npos) {
                    if (upgrade && name == oldInfo) {
                        const std::string kind = child.substr(prefix.size());
                        if (kind == "prerm")
                            result.unpackScripts.insert(result.unpackScripts.begin(),
                                                        "old prerm upgrade " + version);
                        if (kind == "postrm") {
                            // Run after the unpack, so kept aside from the new version's info/.
                            const std::string staged =
                                std::string(kGuestStagingDir) + "/postrm/" + oldInfo;
                            tree_.put(staged, tree_.find(child), label);
                            report_.postrmCalls.push_back({package, old->get("Architecture"),
                                                           "postrm", staged, {"upgrade", version}});
                            result.unpackScripts.push_back("old postrm upgrade " + version);
                        }
                    }
                    tree_.remove(child);
                }
        }
        // Obsolete conffiles stay the package's, in its list as in its status.
        std::set<std::string> listed = newPaths;
        for (const auto& [path, c] : oldConffiles)
            if (!conffileSet.count(path)) listed.insert(path);
        std::string list = "/.\n";
        for (const std::string& p : listed) list += "/" + p + "\n";
        putTreeFile(tree_, infoDir + "/" + newInfo + ".list", std::move(list), 0644,
                options_.sourceDateEpoch, label);
        for (const auto& [name, content] : control) {
            if (name == "control" || name.find('/') != std::string::npos) continue;
            putTreeFile(tree_, infoDir + "/" + newInfo + "." + name, content,
                    isScript(name) ? 0755 : 0644, options_.sourceDateEpoch, label);
        }

        // Explicit triggers this package activates when its state changes.
        if (auto it = control.find("triggers"); it != control.end())
            for (std::string_view line : text::lines(it->second)) {
                auto words = text::words(line);
                if (words.size() == 2 && words[0].starts_with("activate"))
                    for (const std::string& interested : readTriggerInterests(tree_, words[1]))
                        activate(interested, std::string(words[1]));
            }

        // The status: the new control fields, "unpacked", the old conffile hashes.
        StatusStanza stanza;
        std::string conffilesValue;
        for (const std::string& c : conffiles) {
            auto recorded = oldConffiles.find(c);
            conffilesValue += "\n/" + c + " " +
                              (recorded == oldConffiles.end() ? "newconffile" : recorded->second.md5);
        }
        for (const auto& [path, c] : oldConffiles)
            if (!conffileSet.count(path)) conffilesValue += "\n/" + path + " " + c.md5 + " obsolete";
        bool conffilesPlaced = false;
        for (const debian::Field& f : fields.fields()) {
            if (text::iequals(f.name, "Description") && !conffilesValue.empty()) {
                stanza.fields.emplace_back("Conffiles", conffilesValue);
                conffilesPlaced = true;
            }
            if (text::iequals(f.name, "Status") || text::iequals(f.name, "Config-Version") ||
                text::iequals(f.name, "Conffiles"))
                continue;
            stanza.fields.emplace_back(f.name, f.value);
            if (text::iequals(f.name, "Package"))
                stanza.fields.emplace_back("Status", "install ok unpacked");
            if (text::iequals(f.name, "Version") && !configVersion.empty())
                stanza.fields.emplace_back("Config-Version", configVersion);
        }
        if (!conffilesPlaced && !conffilesValue.empty())
            stanza.fields.emplace_back("Conffiles", conffilesValue);
        status_.put(std::move(stanza));
        return result;
    }

    void activateFileTriggers(const std::string& path, const std::string& activator) {
        for (const FileTriggerInterest& i : fileInterests_)
            if (i.package != activator &&
                (path == i.path || (path.size() > i.path.size() && path.starts_with(i.path) &&
                                    path[i.path.size()] == '/')))
                activate(i.package, "/" + i.path);
    }

    // Marks `trigger` pending on every installed architecture of `package`. A package being
    // unpacked in this run is configured anyway, which covers what its triggers would do.
    void activate(const std::string& package, const std::string& trigger) {
        if (unpacking_.count(package)) return;
        for (StatusStanza& s : status_.stanzas()) {
            if (s.get("Package") != package) continue;
            const std::string state = stateOf(s);
            if (state != "installed" && state != "triggers-pending" && state != "triggers-awaited")
                continue;
            const std::string status = s.get("Status");
            auto words = text::words(status);
            s.set("Status", std::string(words[0]) + " " + std::string(words[1]) +
                                (state == "installed" ? " triggers-pending" : " " + state));
            const std::string pendingText = s.get("Triggers-Pending");
            std::vector<std::string_view> pending = text::words(pendingText);
            std::set<std::string> names(pending.begin(), pending.end());
            names.insert(trigger);
            std::string value;
            for (const std::string& n : names) value += (value.empty() ? "" : " ") + n;
            s.set("Triggers-Pending", value);
            report_.triggersActivated.push_back(package + ": " + trigger);
        }
    }

    Tree& tree_;
    const UnpackOptions& options_;
    std::string statusWhere_;
    DpkgStatusFile status_;
    uint32_t statusMode_ = 0644;
    std::map<std::string, Diversion> diversions_;
    std::vector<FileTriggerInterest> fileInterests_;
    std::map<std::string, int> owners_;  // path → how many packages' lists name it
    std::set<std::string> unpacking_;
    UnpackReport report_;
};

}  // namespace

std::vector<MaintainerScriptCall> stageUnpackScripts(Tree& tree,
                                                     const std::vector<PackageToUnpack>& debs,
                                                     const UnpackOptions& options) {
    if (tree.find(std::string(kGuestStagingDir)))
        throw Error("the image already has /" + std::string(kGuestStagingDir) +
                        ", where the packages' scripts would be staged",
                    ExitStatus::kUsage);
    Unpacker unpacker(tree, options);
    return unpacker.stage(debs);
}

std::string MaintainerScriptCall::describe() const {
    std::string out = name;
    for (const std::string& a : arguments) out += " " + a;
    return out;
}

UnpackReport unpackPackages(Tree& tree, const std::vector<PackageToUnpack>& debs,
                            const UnpackOptions& options) {
    Unpacker unpacker(tree, options);
    unpacker.unpack(debs);
    return std::move(unpacker).report();
}

nlohmann::json unpackReportToJson(const UnpackReport& report) {
    nlohmann::json packages = nlohmann::json::array();
    for (const UnpackedPackage& p : report.packages) {
        nlohmann::json conffiles = nlohmann::json::array();
        for (const ConffileOutcome& c : p.conffiles)
            conffiles.push_back({{"path", c.path}, {"outcome", conffileOutcomeName(c.kind)}});
        packages.push_back({{"package", p.package},
                            {"architecture", p.architecture},
                            {"oldVersion", p.oldVersion},
                            {"newVersion", p.newVersion},
                            {"filesUnpacked", p.filesUnpacked},
                            {"filesRemoved", p.filesRemoved},
                            {"conffiles", conffiles},
                            {"unpackScripts", p.unpackScripts}});
    }
    return {{"packages", packages}, {"triggersActivated", report.triggersActivated}};
}

}  // namespace ingot::patch
