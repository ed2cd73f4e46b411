// What one night did, per image and per repository: the model `ingot rollout` fills in, and
// its three renderings (the terminal's text, report.json for machines, report.md for a
// ticket or a mail). One place for the report's format.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ingot::rollout {

struct PackageChange {
    std::string package;
    std::string from;  // empty for a package new to the image
    std::string to;
    std::vector<std::string> cves;
};

struct SmokeOutcome {
    std::string result = "skipped";  // passed, failed, skipped
    std::string reason;              // why it failed
    double seconds = 0;
    std::string consoleLog;  // path
};

struct ImageOutcome {
    std::string repository;
    std::string channel;
    // published: the channel moved to a new version; unchanged: no security update, nothing
    // pushed; failed: something went wrong and the channel stayed where it was.
    std::string result = "failed";
    std::string previousVersion, previousDigest;  // what the channel named before (may be empty)
    std::string version, digest;                  // the new version, when there is one
    std::vector<PackageChange> changes;
    uint64_t downloadBytes = 0;  // chunks a client holding the previous version fetches
    uint64_t imageBytes = 0;     // all of the new version's blobs: what a first pull fetches
    uint64_t pushedBytes = 0;    // what this run uploaded
    SmokeOutcome smoke;
    std::string candidate;  // directory of the candidate build
    std::string log;        // the build's or patch's output
    std::string error;
    double seconds = 0;
};

struct TimestampOutcome {
    std::string repository;  // registry/repository
    uint64_t version = 0;
    int64_t expires = 0;
    std::string error;
};

struct RunReport {
    std::string registry;
    int64_t started = 0;  // Unix seconds
    double seconds = 0;
    std::string runDirectory;
    std::vector<ImageOutcome> images;
    std::vector<TimestampOutcome> timestamps;

    bool failed() const;
};

nlohmann::json reportToJson(const RunReport& report);
std::string reportToText(const RunReport& report);
std::string reportToMarkdown(const RunReport& report);

}  // namespace ingot::rollout
