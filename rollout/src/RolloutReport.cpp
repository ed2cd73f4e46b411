#include "ingot/rollout/RolloutReport.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

#include "ingot/core/Size.h"

namespace ingot::rollout {
namespace {

using nlohmann::json;

std::string utc(int64_t seconds) {
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    char text[32] = "?";
    if (::gmtime_r(&t, &tm)) std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::vector<std::string> allCves(const ImageOutcome& image) {
    std::set<std::string> cves;
    for (const PackageChange& c : image.changes) cves.insert(c.cves.begin(), c.cves.end());
    return {cves.begin(), cves.end()};
}

std::string shortDigest(const std::string& digest) {
    return digest.rfind("sha256:", 0) == 0 ? digest.substr(7, 12) : digest;
}

std::string seconds(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", s);
    return text;
}

// "12 → 12.20261124" / "(none) → 12" / "12" for an image that stayed.
std::string versions(const ImageOutcome& i) {
    const std::string from = i.previousVersion.empty() ? "(none)" : i.previousVersion;
    if (i.result == "unchanged" || i.version.empty()) return from;
    return from + " → " + i.version;
}

// Markdown cells hold text from images and archives: keep it from breaking the table.
std::string cell(std::string text) {
    std::string out;
    for (char c : text) {
        if (c == '|') out += "\\|";
        else if (c == '\n' || c == '\r') out += ' ';
        else out += c;
    }
    return out;
}

}  // namespace

bool RunReport::failed() const {
    return std::any_of(images.begin(), images.end(), [](const ImageOutcome& i) { return i.result == "failed"; }) ||
           std::any_of(timestamps.begin(), timestamps.end(),
                       [](const TimestampOutcome& t) { return !t.error.empty(); });
}

json reportToJson(const RunReport& report) {
    json images = json::array();
    for (const ImageOutcome& i : report.images) {
        json changes = json::array();
        for (const PackageChange& c : i.changes)
            changes.push_back({{"package", c.package}, {"from", c.from}, {"to", c.to}, {"cves", c.cves}});
        images.push_back({{"repository", i.repository},
                          {"channel", i.channel},
                          {"result", i.result},
                          {"previous", {{"version", i.previousVersion}, {"digest", i.previousDigest}}},
                          {"version", i.version},
                          {"digest", i.digest},
                          {"packages", changes},
                          {"cves", allCves(i)},
                          {"downloadBytes", i.downloadBytes},
                          {"imageBytes", i.imageBytes},
                          {"pushedBytes", i.pushedBytes},
                          {"smoke",
                           {{"result", i.smoke.result},
                            {"reason", i.smoke.reason},
                            {"seconds", i.smoke.seconds},
                            {"consoleLog", i.smoke.consoleLog}}},
                          {"candidate", i.candidate},
                          {"log", i.log},
                          {"error", i.error},
                          {"seconds", i.seconds}});
    }
    json timestamps = json::array();
    for (const TimestampOutcome& t : report.timestamps)
        timestamps.push_back({{"repository", t.repository},
                              {"version", t.version},
                              {"expires", t.expires},
                              {"error", t.error}});
    return {{"registry", report.registry},
            {"started", utc(report.started)},
            {"seconds", report.seconds},
            {"runDirectory", report.runDirectory},
            {"failed", report.failed()},
            {"images", images},
            {"timestamps", timestamps}};
}

std::string reportToText(const RunReport& report) {
    std::ostringstream out;
    out << "rollout " << utc(report.started) << " to " << report.registry << ": "
        << seconds(report.seconds) << (report.failed() ? ", FAILED" : "") << "\n";
    for (const ImageOutcome& i : report.images) {
        out << "  " << i.repository << ":" << i.channel << "  " << i.result << "  " << versions(i);
        if (!i.digest.empty() && i.result != "unchanged") out << " (" << shortDigest(i.digest) << ")";
        out << "\n";
        if (!i.changes.empty()) {
            const auto cves = allCves(i);
            out << "    " << i.changes.size() << " package(s), " << cves.size() << " CVE(s)";
            if (i.result == "published")
                out << "; clients download " << formatSize(i.downloadBytes) << " of "
                    << formatSize(i.imageBytes) << "; pushed " << formatSize(i.pushedBytes);
            out << "\n";
            for (const PackageChange& c : i.changes) {
                out << "    " << c.package << " " << (c.from.empty() ? "(new)" : c.from) << " → "
                    << c.to;
                if (!c.cves.empty()) {
                    out << " (";
                    for (size_t k = 0; k < c.cves.size(); ++k) out << (k ? ", " : "") << c.cves[k];
                    out << ")";
                }
                out << "\n";
            }
        }
        if (i.smoke.result != "skipped")
            out << "    smoke: " << i.smoke.result << " in " << seconds(i.smoke.seconds)
                << (i.smoke.reason.empty() ? "" : ": " + i.smoke.reason) << "\n";
        if (!i.error.empty()) out << "    error: " << i.error << "\n";
        if (i.result == "failed" && !i.candidate.empty())
            out << "    candidate kept: " << i.candidate << "\n";
    }
    for (const TimestampOutcome& t : report.timestamps) {
        if (t.error.empty())
            out << "  " << t.repository << "  freshness version " << t.version << ", expires "
                << utc(t.expires) << "\n";
        else
            out << "  " << t.repository << "  freshness NOT signed: " << t.error << "\n";
    }
    return out.str();
}

std::string reportToMarkdown(const RunReport& report) {
    std::ostringstream out;
    out << "# Rollout " << utc(report.started) << "\n\n"
        << "Registry `" << report.registry << "`, " << seconds(report.seconds) << ", "
        << (report.failed() ? "**failed**" : "succeeded") << ".\n\n"
        << "| image | result | version | packages | CVEs | download | smoke |\n"
        << "|---|---|---|---:|---:|---:|---|\n";
    for (const ImageOutcome& i : report.images) {
        const bool moved = i.result == "published";
        out << "| `" << i.repository << ":" << i.channel << "` | " << i.result << " | "
            << cell(versions(i)) << " | " << i.changes.size() << " | " << allCves(i).size()
            << " | " << (moved ? formatSize(i.downloadBytes) : "-") << " | " << i.smoke.result
            << " |\n";
    }
    for (const ImageOutcome& i : report.images) {
        if (i.changes.empty() && i.error.empty()) continue;
        out << "\n## " << i.repository << "\n\n";
        if (!i.error.empty()) out << "Error: " << cell(i.error) << "\n\n";
        if (!i.smoke.reason.empty()) {
            out << "Smoke " << i.smoke.result << ": " << cell(i.smoke.reason);
            if (!i.smoke.consoleLog.empty()) out << " (console: `" << i.smoke.consoleLog << "`)";
            out << "\n\n";
        }
        if (i.changes.empty()) continue;
        out << "| package | from | to | CVEs |\n|---|---|---|---|\n";
        for (const PackageChange& c : i.changes) {
            std::string cves;
            for (size_t k = 0; k < c.cves.size(); ++k) cves += (k ? ", " : "") + c.cves[k];
            out << "| " << cell(c.package) << " | " << cell(c.from.empty() ? "(new)" : c.from)
                << " | " << cell(c.to) << " | " << cell(cves) << " |\n";
        }
    }
    out << "\n## Freshness\n\n";
    for (const TimestampOutcome& t : report.timestamps)
        out << "- `" << t.repository << "`: "
            << (t.error.empty() ? "version " + std::to_string(t.version) + ", expires " + utc(t.expires)
                                : "**not signed**: " + cell(t.error))
            << "\n";
    return out.str();
}

}  // namespace ingot::rollout
